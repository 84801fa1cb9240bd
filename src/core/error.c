/* Thread-local error messages and the mapping from error codes to exit codes. */
#include "core/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char rd_error_msg[1024];

static int rd_vfail(int code, int with_errno, const char *fmt, va_list ap)
{
    int saved = errno;
    vsnprintf(rd_error_msg, sizeof rd_error_msg, fmt, ap);
    if (with_errno) {
        size_t n = strlen(rd_error_msg);
        snprintf(rd_error_msg + n, sizeof rd_error_msg - n, ": %s", strerror(saved));
    }
    errno = saved;
    return code > 0 ? -code : code;
}

int rd_fail(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = rd_vfail(code, 0, fmt, ap);
    va_end(ap);
    return rc;
}

int rd_fail_errno(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = rd_vfail(code, 1, fmt, ap);
    va_end(ap);
    return rc;
}

int rd_fail_wrap(int rc, const char *fmt, ...)
{
    char prefix[512];
    char old[sizeof rd_error_msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(old, sizeof old, "%s", rd_error_msg);
    snprintf(rd_error_msg, sizeof rd_error_msg, "%s: %s", prefix, old);
    return rc;
}

const char *rd_error(void)
{
    return rd_error_msg[0] ? rd_error_msg : "unknown error";
}

void rd_error_clear(void)
{
    rd_error_msg[0] = '\0';
}

/* Exit codes are part of the CLI contract (docs/cli.md); never renumber. */
int rd_exit_code(int rc)
{
    switch (-rc) {
    case RD_OK:       return 0;
    case RD_EUSAGE:   return 2;
    case RD_ECONFIG:  return 3;
    case RD_ENOENT:   return 4;
    case RD_EIO:      return 5;
    case RD_ECORRUPT: return 6;
    case RD_EPASS:    return 7;
    case RD_ELOCKED:  return 8;
    case RD_ENET:     return 9;
    case RD_EEXIST:   return 10;
    case RD_ERANGE:   return 11;
    default:          return 1;
    }
}

const char *rd_err_name(int rc)
{
    static const char *const names[RD_ECOUNT] = {
        [RD_OK] = "ok", [RD_EUSAGE] = "usage", [RD_ECONFIG] = "config",
        [RD_ENOENT] = "not-found", [RD_EIO] = "io", [RD_ECORRUPT] = "corrupt",
        [RD_EPASS] = "wrong-passphrase", [RD_ELOCKED] = "locked", [RD_ENET] = "network",
        [RD_EEXIST] = "exists", [RD_ERANGE] = "out-of-range",
        [RD_ENOMEM] = "out-of-memory", [RD_EINTERNAL] = "internal",
    };
    int code = -rc;
    if (code < 0 || code >= RD_ECOUNT)
        return "internal";
    return names[code];
}
