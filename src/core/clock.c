/* Wall clock with a test offset, monotonic clock, ISO 8601 and HTTP times. */
#include "core/clock.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* -1 means "not read from the environment yet". Written once, before threads. */
static int64_t rd_clock_offset = 0;
static int rd_clock_offset_loaded = 0;

void rd_clock_set_offset(int64_t seconds)
{
    rd_clock_offset = seconds;
    rd_clock_offset_loaded = 1;
}

static int64_t clock_offset(void)
{
    if (!rd_clock_offset_loaded) {
        const char *env = getenv("RADIANT_CLOCK_OFFSET");
        int64_t off = 0;
        if (env && *env) {
            int neg = env[0] == '-';
            if (rd_duration_parse(env + neg, &off) == 0)
                rd_clock_offset = neg ? -off : off;
        }
        rd_clock_offset_loaded = 1;
    }
    return rd_clock_offset;
}

int64_t rd_clock_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ((int64_t)ts.tv_sec + clock_offset()) * 1000000 + ts.tv_nsec / 1000;
}

int64_t rd_clock_now(void)
{
    return rd_clock_now_us() / 1000000;
}

int64_t rd_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int rd_duration_parse(const char *text, int64_t *seconds)
{
    if (!text || !isdigit((unsigned char)text[0]))
        return -1;
    char *end;
    long long v = strtoll(text, &end, 10);
    int64_t mult = 1;
    if (*end == 's') mult = 1, end++;
    else if (*end == 'm') mult = 60, end++;
    else if (*end == 'h') mult = 3600, end++;
    else if (*end == 'd') mult = 86400, end++;
    if (*end != '\0' || v < 0 || v > (long long)(INT64_MAX / 86400))
        return -1;
    *seconds = (int64_t)v * mult;
    return 0;
}

static bool parse_hhmm(const char *p, int *minutes)
{
    if (!isdigit((unsigned char)p[0]) || !isdigit((unsigned char)p[1]) || p[2] != ':' ||
        !isdigit((unsigned char)p[3]) || !isdigit((unsigned char)p[4]))
        return false;
    int h = (p[0] - '0') * 10 + p[1] - '0', m = (p[3] - '0') * 10 + p[4] - '0';
    *minutes = h * 60 + m;
    return h < 24 && m < 60;
}

int rd_window_parse(const char *text, int *start_min, int *end_min)
{
    int a, b;
    if (!text || strlen(text) != 11 || !parse_hhmm(text, &a) || text[5] != '-' ||
        !parse_hhmm(text + 6, &b) || a == b)
        return -1;
    *start_min = a;
    *end_min = b;
    return 0;
}

void rd_time_format(int64_t seconds, char *out, size_t outlen)
{
    time_t t = (time_t)seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int parse_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int rd_time_parse(const char *text, int64_t *seconds)
{
    const char *p = text;
    int y, mo, d, h, mi, s;
    if (parse_digits(&p, 4, &y) || *p++ != '-' || parse_digits(&p, 2, &mo) || *p++ != '-' ||
        parse_digits(&p, 2, &d) || (*p != 'T' && *p != ' ' && *p != 't'))
        return -1;
    p++;
    if (parse_digits(&p, 2, &h) || *p++ != ':' || parse_digits(&p, 2, &mi) || *p++ != ':' ||
        parse_digits(&p, 2, &s))
        return -1;
    if (*p == '.' || *p == ',') {
        p++;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p))
            p++;
    }
    int64_t tz = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, th, tm;
        if (parse_digits(&p, 2, &th))
            return -1;
        if (*p == ':')
            p++;
        if (parse_digits(&p, 2, &tm) || th > 23 || tm > 59)
            return -1;
        tz = sign * (th * 3600 + tm * 60);
    } else {
        return -1;
    }
    if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
        return -1;
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[mo - 1] + (mo == 2 && leap))
        return -1;
    struct tm tmv = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                      .tm_hour = h, .tm_min = mi, .tm_sec = s };
    *seconds = (int64_t)timegm(&tmv) - tz;
    return 0;
}

void rd_time_format_ms(int64_t us, char *out, size_t outlen)
{
    /* Floor division, so times before 1970 still count their milliseconds up. */
    int64_t sec = us >= 0 ? us / 1000000 : -((-us + 999999) / 1000000);
    int ms = (int)((us - sec * 1000000) / 1000);
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

static const char *const wdays[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char *const wdays_long[] = { "Sunday", "Monday", "Tuesday", "Wednesday",
                                          "Thursday", "Friday", "Saturday" };
static const char *const months[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

void rd_http_date_format(int64_t seconds, char *out, size_t outlen)
{
    time_t t = (time_t)seconds;
    struct tm tm;
    gmtime_r(&t, &tm);
    /* Not strftime: %a and %b follow the locale, HTTP dates are English. */
    snprintf(out, outlen, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday],
             tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
             tm.tm_sec);
}

static int parse_month(const char **p)
{
    for (int i = 0; i < 12; i++)
        if (strncmp(*p, months[i], 3) == 0) {
            *p += 3;
            return i + 1;
        }
    return -1;
}

static int parse_hms(const char **p, int *h, int *mi, int *s)
{
    if (parse_digits(p, 2, h) || *(*p)++ != ':' || parse_digits(p, 2, mi) ||
        *(*p)++ != ':' || parse_digits(p, 2, s))
        return -1;
    return 0;
}

int rd_http_date_parse(const char *text, int64_t *seconds)
{
    const char *p = text;
    int y, mo, d, h, mi, s, wday = -1;
    if (!p)
        return -1;
    for (int i = 0; i < 7 && wday < 0; i++) {
        size_t ll = strlen(wdays_long[i]);
        if (strncmp(p, wdays_long[i], ll) == 0 && p[ll] == ',') {
            wday = i;
            p += ll;
        } else if (strncmp(p, wdays[i], 3) == 0) {
            wday = i;
            p += 3;
        }
    }
    if (wday < 0)
        return -1;
    if (p[0] == ',' && p[1] == ' ' && isdigit((unsigned char)p[2]) && p[4] == ' ') {
        /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
        p += 2;
        if (parse_digits(&p, 2, &d) || *p++ != ' ' || (mo = parse_month(&p)) < 0 ||
            *p++ != ' ' || parse_digits(&p, 4, &y) || *p++ != ' ' ||
            parse_hms(&p, &h, &mi, &s) || strcmp(p, " GMT") != 0)
            return -1;
    } else if (p[0] == ',' && p[1] == ' ') {
        /* RFC 850: "Sunday, 06-Nov-94 08:49:37 GMT"; two-digit years within 50
         * years of now would need the clock, so they are read as 19xx/20xx by
         * the POSIX strptime rule (69-99: 19xx). */
        p += 2;
        if (parse_digits(&p, 2, &d) || *p++ != '-' || (mo = parse_month(&p)) < 0 ||
            *p++ != '-' || parse_digits(&p, 2, &y) || *p++ != ' ' ||
            parse_hms(&p, &h, &mi, &s) || strcmp(p, " GMT") != 0)
            return -1;
        y += y < 69 ? 2000 : 1900;
    } else if (p[0] == ' ') {
        /* asctime: "Sun Nov  6 08:49:37 1994" */
        p++;
        if ((mo = parse_month(&p)) < 0 || *p++ != ' ')
            return -1;
        if (*p == ' ')
            p++;
        d = 0;
        if (!isdigit((unsigned char)*p))
            return -1;
        while (isdigit((unsigned char)*p) && d < 100)
            d = d * 10 + (*p++ - '0');
        if (*p++ != ' ' || parse_hms(&p, &h, &mi, &s) || *p++ != ' ' ||
            parse_digits(&p, 4, &y) || *p != '\0')
            return -1;
    } else {
        return -1;
    }
    static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d < 1 || d > mdays[mo - 1] + (mo == 2 && leap) || h > 23 || mi > 59 || s > 60)
        return -1;
    struct tm tmv = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                      .tm_hour = h, .tm_min = mi, .tm_sec = s };
    *seconds = (int64_t)timegm(&tmv);
    return 0;
}
