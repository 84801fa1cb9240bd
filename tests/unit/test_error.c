/* Unit tests for src/core/error: thread-local messages, wrapping, and the
 * error-code to exit-code mapping that docs/cli.md makes part of the CLI contract. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

static void test_fail_sets_message_and_returns_negative(void **state)
{
    (void)state;
    rd_error_clear();
    int rc = rd_fail(RD_ENOENT, "repository %s does not exist", "dr");
    assert_int_equal(rc, -RD_ENOENT);
    assert_string_equal(rd_error(), "repository dr does not exist");

    /* An already negative code is passed through unchanged. */
    assert_int_equal(rd_fail(-RD_EIO, "x"), -RD_EIO);
    assert_string_equal(rd_error(), "x");
}

static void test_clear_gives_unknown(void **state)
{
    (void)state;
    rd_fail(RD_EIO, "something");
    rd_error_clear();
    assert_string_equal(rd_error(), "unknown error");
}

static void test_fail_errno_appends_strerror_and_keeps_errno(void **state)
{
    (void)state;
    errno = ENOENT;
    int rc = rd_fail_errno(RD_EIO, "cannot open %s", "/x");
    assert_int_equal(rc, -RD_EIO);
    assert_int_equal(errno, ENOENT);
    char expect[256];
    snprintf(expect, sizeof expect, "cannot open /x: %s", strerror(ENOENT));
    assert_string_equal(rd_error(), expect);
}

static void test_wrap_prefixes_context(void **state)
{
    (void)state;
    int rc = rd_fail(RD_ECORRUPT, "pack 17 is damaged");
    rc = rd_fail_wrap(rc, "repository %s", "local");
    assert_int_equal(rc, -RD_ECORRUPT);
    assert_string_equal(rd_error(), "repository local: pack 17 is damaged");
    rc = rd_fail_wrap(rc, "backup");
    assert_string_equal(rd_error(), "backup: repository local: pack 17 is damaged");
}

static void test_long_message_is_truncated_not_overflowed(void **state)
{
    (void)state;
    char big[4096];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    rd_fail(RD_EIO, "%s", big);
    size_t n = strlen(rd_error());
    assert_true(n > 0 && n < sizeof big - 1);
    rd_fail_wrap(-RD_EIO, "%s", big);
    assert_true(strlen(rd_error()) < sizeof big - 1);
    errno = EACCES;
    rd_fail_errno(RD_EIO, "%s", big);
    assert_true(strlen(rd_error()) < sizeof big - 1);
}

static void test_exit_codes_match_cli_contract(void **state)
{
    (void)state;
    /* docs/cli.md: never renumber. */
    assert_int_equal(rd_exit_code(0), 0);
    assert_int_equal(rd_exit_code(-RD_EUSAGE), 2);
    assert_int_equal(rd_exit_code(-RD_ECONFIG), 3);
    assert_int_equal(rd_exit_code(-RD_ENOENT), 4);
    assert_int_equal(rd_exit_code(-RD_EIO), 5);
    assert_int_equal(rd_exit_code(-RD_ECORRUPT), 6);
    assert_int_equal(rd_exit_code(-RD_EPASS), 7);
    assert_int_equal(rd_exit_code(-RD_ELOCKED), 8);
    assert_int_equal(rd_exit_code(-RD_ENET), 9);
    assert_int_equal(rd_exit_code(-RD_EEXIST), 10);
    assert_int_equal(rd_exit_code(-RD_ERANGE), 11);
    /* Out of memory and internal errors are both "internal" (exit 1). */
    assert_int_equal(rd_exit_code(-RD_ENOMEM), 1);
    assert_int_equal(rd_exit_code(-RD_EINTERNAL), 1);
    assert_int_equal(rd_exit_code(-RD_ECOUNT), 1);
    assert_int_equal(rd_exit_code(-9999), 1);
}

static void test_exit_codes_distinct_per_user_error(void **state)
{
    (void)state;
    /* Every error a user can cause has its own non-zero exit code. */
    int seen[256] = { 0 };
    for (int code = RD_EUSAGE; code <= RD_ERANGE; code++) {
        int ex = rd_exit_code(-code);
        assert_true(ex > 1 && ex < 256);
        assert_int_equal(seen[ex], 0);
        seen[ex] = code;
    }
}

static void test_err_names_are_distinct_and_stable(void **state)
{
    (void)state;
    assert_string_equal(rd_err_name(0), "ok");
    assert_string_equal(rd_err_name(-RD_ECONFIG), "config");
    assert_string_equal(rd_err_name(-RD_ECORRUPT), "corrupt");
    assert_string_equal(rd_err_name(-RD_ELOCKED), "locked");
    assert_string_equal(rd_err_name(-RD_ENOENT), "not-found");
    assert_string_equal(rd_err_name(-RD_EPASS), "wrong-passphrase");
    for (int a = 0; a < RD_ECOUNT; a++) {
        assert_non_null(rd_err_name(-a));
        for (int b = a + 1; b < RD_ECOUNT; b++)
            assert_string_not_equal(rd_err_name(-a), rd_err_name(-b));
    }
    /* Out-of-range codes never index past the table. */
    assert_string_equal(rd_err_name(-RD_ECOUNT), "internal");
    assert_string_equal(rd_err_name(5), "internal");
    assert_string_equal(rd_err_name(-100000), "internal");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_sets_message_and_returns_negative),
        cmocka_unit_test(test_clear_gives_unknown),
        cmocka_unit_test(test_fail_errno_appends_strerror_and_keeps_errno),
        cmocka_unit_test(test_wrap_prefixes_context),
        cmocka_unit_test(test_long_message_is_truncated_not_overflowed),
        cmocka_unit_test(test_exit_codes_match_cli_contract),
        cmocka_unit_test(test_exit_codes_distinct_per_user_error),
        cmocka_unit_test(test_err_names_are_distinct_and_stable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
