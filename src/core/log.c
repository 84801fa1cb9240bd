/* Leveled logging to stderr, one line per message with a UTC timestamp. */
#include "core/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static enum rd_log_level rd_log_level = RD_LOG_WARN;

void rd_log_set_level(enum rd_log_level level) { rd_log_level = level; }
enum rd_log_level rd_log_get_level(void) { return rd_log_level; }

int rd_log_level_parse(const char *name)
{
    static const char *const names[] = { "debug", "info", "warn", "error", "quiet" };
    for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

void rd_log(enum rd_log_level level, const char *fmt, ...)
{
    static const char *const tags[] = { "DEBUG", "INFO", "WARN", "ERROR" };
    if (level < rd_log_level || level >= RD_LOG_QUIET)
        return;
    char line[2048];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%dT%H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - (size_t)n, ".%03ldZ %s ", ts.tv_nsec / 1000000, tags[level]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
    va_end(ap);
    fprintf(stderr, "%s\n", line);
}
