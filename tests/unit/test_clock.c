/* Unit tests for src/core/clock: the shiftable wall clock, durations and
 * ISO 8601 times (offsets, fractions, calendar validation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"

/* Must run first: the environment offset is read once, at the first clock read
 * of the process, and rd_clock_set_offset() overrides it from then on. */
static void test_env_offset_shifts_clock(void **state)
{
    (void)state;
    setenv("RADIANT_CLOCK_OFFSET", "-1d", 1);
    int64_t real = (int64_t)time(NULL);
    int64_t now = rd_clock_now();
    assert_true(now >= real - 86400 - 2 && now <= real - 86400 + 2);
    unsetenv("RADIANT_CLOCK_OFFSET");
    rd_clock_set_offset(0);
}

static void test_set_offset_moves_now(void **state)
{
    (void)state;
    rd_clock_set_offset(0);
    int64_t real = (int64_t)time(NULL);
    int64_t now = rd_clock_now();
    assert_true(now >= real - 2 && now <= real + 2);

    rd_clock_set_offset(35 * 86400);
    now = rd_clock_now();
    assert_true(now >= real + 35 * 86400 - 2 && now <= real + 35 * 86400 + 2);
    int64_t us = rd_clock_now_us();
    assert_true(us / 1000000 >= now - 1 && us / 1000000 <= now + 1);

    rd_clock_set_offset(-3600);
    now = rd_clock_now();
    assert_true(now >= real - 3600 - 2 && now <= real - 3600 + 2);

    rd_clock_set_offset(0);
}

static void test_mono_is_monotonic_and_unshifted(void **state)
{
    (void)state;
    int64_t a = rd_mono_ns();
    rd_clock_set_offset(-86400);
    int64_t b = rd_mono_ns();
    rd_clock_set_offset(0);
    assert_true(b >= a);
    assert_true(b - a < 10LL * 1000000000);
}

static void test_duration_parse_valid(void **state)
{
    (void)state;
    static const struct { const char *text; int64_t seconds; } cases[] = {
        { "0", 0 }, { "90", 90 }, { "90s", 90 }, { "5m", 300 }, { "15m", 900 },
        { "1h", 3600 }, { "4h", 14400 }, { "35d", 35 * 86400 }, { "007", 7 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t s = -1;
        assert_int_equal(rd_duration_parse(cases[i].text, &s), 0);
        assert_int_equal(s, cases[i].seconds);
    }
}

static void test_duration_parse_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "", "s", "m", "-5", "+5", " 5", "5 ", "5 m", "5x", "5mm", "5ms", "1.5h", "5M",
        "h1", "99999999999999999999", "9223372036854775807d",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t s = 12345;
        assert_int_equal(rd_duration_parse(bad[i], &s), -1);
        assert_int_equal(s, 12345);   /* untouched on failure */
    }
    int64_t s;
    assert_int_equal(rd_duration_parse(NULL, &s), -1);
}

static void test_time_format(void **state)
{
    (void)state;
    char out[32];
    rd_time_format(0, out, sizeof out);
    assert_string_equal(out, "1970-01-01T00:00:00Z");
    rd_time_format(1735036200, out, sizeof out);
    assert_string_equal(out, "2024-12-24T10:30:00Z");
    rd_time_format(2147483648LL, out, sizeof out);   /* past 2038 */
    assert_string_equal(out, "2038-01-19T03:14:08Z");
    rd_time_format(-1, out, sizeof out);
    assert_string_equal(out, "1969-12-31T23:59:59Z");
}

static void test_time_parse_utc(void **state)
{
    (void)state;
    static const struct { const char *text; int64_t seconds; } cases[] = {
        { "1970-01-01T00:00:00Z", 0 },
        { "2024-12-24T10:30:00Z", 1735036200 },
        { "2024-12-24t10:30:00z", 1735036200 },
        { "2024-12-24 10:30:00Z", 1735036200 },
        { "2024-02-29T00:00:00Z", 1709164800 },      /* leap year */
        { "2000-02-29T12:00:00Z", 951825600 },       /* divisible by 400 */
        { "2038-01-19T03:14:08Z", 2147483648LL },
        { "2100-12-31T23:59:59Z", 4133980799LL },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t s = -1;
        assert_int_equal(rd_time_parse(cases[i].text, &s), 0);
        assert_int_equal(s, cases[i].seconds);
    }
}

static void test_time_parse_offsets(void **state)
{
    (void)state;
    static const struct { const char *text; int64_t seconds; } cases[] = {
        { "2024-12-24T12:30:00+02:00", 1735036200 },
        { "2024-12-24T12:30:00+0200", 1735036200 },
        { "2024-12-24T05:00:00-05:30", 1735036200 },
        { "2024-12-24T10:30:00+00:00", 1735036200 },
        { "2024-12-24T10:30:00-00:00", 1735036200 },
        /* An offset can move the instant across a day and a year boundary. */
        { "2025-01-01T01:00:00+14:00", 1735642800 },
        { "2024-12-31T23:00:00-12:00", 1735729200 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t s = -1;
        assert_int_equal(rd_time_parse(cases[i].text, &s), 0);
        assert_int_equal(s, cases[i].seconds);
    }
}

static void test_time_parse_fraction_truncates(void **state)
{
    (void)state;
    int64_t s = -1;
    assert_int_equal(rd_time_parse("2024-12-24T10:30:00.999999Z", &s), 0);
    assert_int_equal(s, 1735036200);
    assert_int_equal(rd_time_parse("2024-12-24T10:30:00,5Z", &s), 0);
    assert_int_equal(s, 1735036200);
    assert_int_equal(rd_time_parse("2024-12-24T12:30:00.123+02:00", &s), 0);
    assert_int_equal(s, 1735036200);
}

static void test_time_parse_round_trips_format(void **state)
{
    (void)state;
    char out[32];
    for (int64_t t = -86400LL * 365 * 70; t < 86400LL * 365 * 200; t += 86400LL * 97 + 3607) {
        int64_t back = 0;
        rd_time_format(t, out, sizeof out);
        assert_int_equal(rd_time_parse(out, &back), 0);
        assert_int_equal(back, t);
    }
}

static void test_time_parse_invalid(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        "2023-02-29T00:00:00Z",     /* not a leap year */
        "1900-02-29T00:00:00Z",     /* divisible by 100 but not 400 */
        "2023-04-31T00:00:00Z",
        "2023-13-01T00:00:00Z",
        "2023-00-10T00:00:00Z",
        "2023-01-00T00:00:00Z",
        "2023-01-32T00:00:00Z",
        "2023-01-01T24:00:00Z",
        "2023-01-01T00:60:00Z",
        "2023-01-01T00:00:61Z",
        "2023-01-01T00:00:00",      /* no zone */
        "2023-01-01",
        "2023-01-01T00:00Z",
        "2023-1-01T00:00:00Z",
        "23-01-01T00:00:00Z",
        "2023/01/01T00:00:00Z",
        "2023-01-01X00:00:00Z",
        "2023-01-01T00:00:00ZZ",
        "2023-01-01T00:00:00Z ",
        " 2023-01-01T00:00:00Z",
        "2023-01-01T00:00:00.Z",    /* a fraction needs a digit */
        "2023-01-01T00:00:00+24:00",
        "2023-01-01T00:00:00+05:60",
        "2023-01-01T00:00:00+5:00",
        "2023-01-01T00:00:00+05:0",
        "2023-01-01T00:00:00+05:00junk",
        "2023-01-01T0a:00:00Z",
        "yesterday",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t s = 12345;
        if (rd_time_parse(bad[i], &s) != -1)
            fail_msg("accepted invalid time '%s'", bad[i]);
        assert_int_equal(s, 12345);
    }
}

static void test_time_format_ms(void **state)
{
    (void)state;
    char buf[32];
    rd_time_format_ms(1735036200LL * 1000000 + 123456, buf, sizeof buf);
    assert_string_equal(buf, "2024-12-24T10:30:00.123Z");
    rd_time_format_ms(1735036200LL * 1000000, buf, sizeof buf);
    assert_string_equal(buf, "2024-12-24T10:30:00.000Z");
    rd_time_format_ms(-1000, buf, sizeof buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
    int64_t t;
    assert_int_equal(rd_time_parse("2024-12-24T10:30:00.000Z", &t), 0);
    assert_int_equal(t, 1735036200);
}

static void test_http_date(void **state)
{
    (void)state;
    char buf[40];
    rd_http_date_format(1735036200, buf, sizeof buf);
    assert_string_equal(buf, "Tue, 24 Dec 2024 10:30:00 GMT");
    rd_http_date_format(784111777, buf, sizeof buf);
    assert_string_equal(buf, "Sun, 06 Nov 1994 08:49:37 GMT");
    int64_t t = 0;
    assert_int_equal(rd_http_date_parse("Tue, 24 Dec 2024 10:30:00 GMT", &t), 0);
    assert_int_equal(t, 1735036200);
    /* The three forms of RFC 9110 section 5.6.7. */
    assert_int_equal(rd_http_date_parse("Sun, 06 Nov 1994 08:49:37 GMT", &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(rd_http_date_parse("Sunday, 06-Nov-94 08:49:37 GMT", &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(rd_http_date_parse("Sun Nov  6 08:49:37 1994", &t), 0);
    assert_int_equal(t, 784111777);
    assert_int_equal(rd_http_date_parse("Thu, 29 Feb 2024 00:00:00 GMT", &t), 0);
    const char *bad[] = {
        "", "Tue", "Tue, 24 Dec 2024 10:30:00", "Tue, 24 Dec 2024 10:30:00 UTC",
        "Tue, 24 Foo 2024 10:30:00 GMT", "Tue, 32 Dec 2024 10:30:00 GMT",
        "Thu, 29 Feb 2023 00:00:00 GMT", "Tue, 24 Dec 2024 24:30:00 GMT",
        "Tue, 24 Dec 2024 10:30:00 GMT ", "Tue,24 Dec 2024 10:30:00 GMT",
        "2024-12-24T10:30:00Z", "Xyz, 24 Dec 2024 10:30:00 GMT",
        "Tuesday, 24-Dec-2024 10:30:00 GMT", "Sun Nov  6 08:49:37 94",
        "Sun Nov 123 08:49:37 1994",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (rd_http_date_parse(bad[i], &t) != -1)
            fail_msg("accepted '%s'", bad[i]);
    assert_int_equal(rd_http_date_parse(NULL, &t), -1);
    /* Round trip over a range of times. */
    for (int64_t s = 0; s < 4102444800LL; s += 86400 * 37 + 3601) {
        rd_http_date_format(s, buf, sizeof buf);
        assert_int_equal(rd_http_date_parse(buf, &t), 0);
        assert_int_equal(t, s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_env_offset_shifts_clock),
        cmocka_unit_test(test_set_offset_moves_now),
        cmocka_unit_test(test_mono_is_monotonic_and_unshifted),
        cmocka_unit_test(test_duration_parse_valid),
        cmocka_unit_test(test_duration_parse_invalid),
        cmocka_unit_test(test_time_format),
        cmocka_unit_test(test_time_parse_utc),
        cmocka_unit_test(test_time_parse_offsets),
        cmocka_unit_test(test_time_parse_fraction_truncates),
        cmocka_unit_test(test_time_parse_round_trips_format),
        cmocka_unit_test(test_time_parse_invalid),
        cmocka_unit_test(test_time_format_ms),
        cmocka_unit_test(test_http_date),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
