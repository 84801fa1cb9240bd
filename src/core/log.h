/* Leveled logging to stderr. The level is process-wide configuration set once by
 * the CLI before any work starts. */
#ifndef RD_CORE_LOG_H
#define RD_CORE_LOG_H

enum rd_log_level { RD_LOG_DEBUG, RD_LOG_INFO, RD_LOG_WARN, RD_LOG_ERROR, RD_LOG_QUIET };

void rd_log_set_level(enum rd_log_level level);
enum rd_log_level rd_log_get_level(void);
/* Parses "debug", "info", "warn", "error", "quiet"; returns -1 when unknown. */
int rd_log_level_parse(const char *name);
void rd_log(enum rd_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define RD_DEBUG(...) rd_log(RD_LOG_DEBUG, __VA_ARGS__)
#define RD_INFO(...)  rd_log(RD_LOG_INFO, __VA_ARGS__)
#define RD_WARN(...)  rd_log(RD_LOG_WARN, __VA_ARGS__)
#define RD_ERROR(...) rd_log(RD_LOG_ERROR, __VA_ARGS__)

#endif
