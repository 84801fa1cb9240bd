/* Wall clock with a test offset, monotonic clock, and ISO 8601 times. */
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
