/* Shared libraries loaded on first use instead of at exec.
 *
 * libpq, libcurl, libxml2 and libmicrohttpd bring some thirty-five
 * libraries with them (Kerberos, LDAP, GnuTLS, ICU, ...); mapping and
 * relocating them took 7 of the 9 ms every start of the binary cost: a
 * sixth of a `radiant wal push`, and a cost paid once per WAL segment by the
 * restore_command that replay waits on. The commands that need none of them
 * (wal push, wal fetch, repo) no longer pay it. The files lib*_lazy.c
 * define the functions radiant calls, each forwarding to the real one, so
 * callers include the libraries' own headers and call them as usual. */
#ifndef RD_CORE_LAZYLIB_H
#define RD_CORE_LAZYLIB_H

typedef struct rd_lazylib {
    const char *soname;          /* "libpq.so.5" */
    const char *package;         /* the Debian package that has it, for the error */
    const char *const *symbols;  /* NULL-terminated, in the order of table */
    void **table;                /* filled with the addresses of symbols */
    int loaded;                  /* set, atomically, once table is complete */
} rd_lazylib;

/* Loads lib and resolves all its symbols, once, from any thread; cheap
 * after the first call. A missing
 * library or symbol is reported on stderr and ends the process with status
 * 127, as the dynamic linker would have at start. */
void rd_lazylib_load(rd_lazylib *lib);

/* For the file that forwards a library's functions: LIST(X) names each
 * function once, X(name). Defines the library (loaded on first use) and
 * RD_LAZY_REAL(name), the real function with the type of its declaration
 * in the library's header. One library per file: the names are static. */
#define RD_LAZY_INDEX(name) RD_LAZY_##name,
#define RD_LAZY_STRING(name) #name,
#define RD_LAZYLIB_DEFINE(SONAME, PACKAGE, LIST)                                           \
    enum { LIST(RD_LAZY_INDEX) RD_LAZY_N };                                               \
    static const char *const rd_lazy_symbols[] = { LIST(RD_LAZY_STRING) NULL };           \
    static void *rd_lazy_table[RD_LAZY_N];                                                \
    static rd_lazylib rd_lazy_lib = { SONAME, PACKAGE, rd_lazy_symbols, rd_lazy_table, 0 }; \
    static void *rd_lazy_fn(int i)                                                        \
    {                                                                                     \
        rd_lazylib_load(&rd_lazy_lib);                                                    \
        return rd_lazy_table[i];                                                          \
    }
#define RD_LAZY_REAL(name) ((__typeof__(&name))rd_lazy_fn(RD_LAZY_##name))

#endif
