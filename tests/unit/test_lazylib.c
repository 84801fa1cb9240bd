/* Unit tests for libraries loaded on first use (src/core/lazylib.c): a
 * library loads and its symbols resolve, and a missing one ends the process
 * with status 127 and a message naming the library and its package. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

#include "core/lazylib.h"

static void test_loads_and_resolves(void **state)
{
    (void)state;
    static const char *const symbols[] = { "ZSTD_versionNumber", NULL };
    static void *table[1];
    static rd_lazylib lib = { "libzstd.so.1", "libzstd1", symbols, table, 0 };
    rd_lazylib_load(&lib);
    rd_lazylib_load(&lib);   /* the second call only checks the flag */
    unsigned (*version)(void) = (unsigned (*)(void))table[0];
    assert_int_equal(version(), ZSTD_versionNumber());
}

/* Runs rd_lazylib_load(lib) in a child; returns its exit status and what
 * it wrote to stderr. */
static int load_in_child(rd_lazylib *lib, char *err, size_t len)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(fds[1], STDERR_FILENO);
        rd_lazylib_load(lib);
        _exit(0);
    }
    close(fds[1]);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < len && (n = read(fds[0], err + got, len - 1 - got)) > 0)
        got += (size_t)n;
    err[got] = '\0';
    close(fds[0]);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static void test_missing_library_or_symbol(void **state)
{
    (void)state;
    char err[512];
    static const char *const symbols[] = { "nothing", NULL };
    static void *table[1];
    static rd_lazylib missing = { "libradiant-absent.so.9", "radiant-absent", symbols, table, 0 };
    assert_int_equal(load_in_child(&missing, err, sizeof err), 127);
    assert_non_null(strstr(err, "cannot load libradiant-absent.so.9"));
    assert_non_null(strstr(err, "install the Debian package radiant-absent"));
    assert_ptr_equal(strchr(err, '\n'), err + strlen(err) - 1);   /* one line */

    static const char *const bad_symbols[] = { "ZSTD_versionNumber", "ZSTD_absent", NULL };
    static void *bad_table[2];
    static rd_lazylib bad = { "libzstd.so.1", "libzstd1", bad_symbols, bad_table, 0 };
    assert_int_equal(load_in_child(&bad, err, sizeof err), 127);
    assert_non_null(strstr(err, "ZSTD_absent"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads_and_resolves),
        cmocka_unit_test(test_missing_library_or_symbol),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
