/* Error convention for all of radiant (DESIGN.md section 6): functions return 0
 * or a negative RD_E* code and leave a one-line, human-readable message in a
 * thread-local buffer that the CLI prints before exiting with rd_exit_code(). */
#ifndef RD_CORE_ERROR_H
#define RD_CORE_ERROR_H

enum rd_err {
    RD_OK = 0,
    RD_EUSAGE,     /* bad flag or argument */
    RD_ECONFIG,    /* missing or invalid configuration */
    RD_ENOENT,     /* named object does not exist (repository, backup, file) */
    RD_EIO,        /* operating system or storage failure */
    RD_ECORRUPT,   /* data read back failed verification */
    RD_EPASS,      /* wrong passphrase */
    RD_ELOCKED,    /* repository is locked by another process */
    RD_ENET,       /* remote endpoint unreachable or answered with an error */
    RD_EEXIST,     /* refusing to overwrite something that exists */
    RD_ERANGE,     /* a time outside what can be restored */
    RD_ENOMEM,
    RD_EINTERNAL,
    RD_ECOUNT
};

/* Sets the thread's error message and returns -code. */
int rd_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Like rd_fail, appending ": strerror(errno)". */
int rd_fail_errno(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prefixes the current message with more context: "context: old message". */
int rd_fail_wrap(int rc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *rd_error(void);
void rd_error_clear(void);

/* Process exit status for a (negative) return code; documented in docs/cli.md. */
int rd_exit_code(int rc);
/* Short stable name of an error code ("corrupt", "locked"), for JSON output. */
const char *rd_err_name(int rc);

#endif
