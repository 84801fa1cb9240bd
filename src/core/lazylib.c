/* dlopen() of a library and its symbols on first use (see lazylib.h). */
#include "core/lazylib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static pthread_mutex_t lazylib_mu = PTHREAD_MUTEX_INITIALIZER;

static _Noreturn void lazylib_fail(const rd_lazylib *lib, const char *what)
{
    fprintf(stderr, "radiant: cannot load %s (%s); install the Debian package %s "
            "(scripts/install-deps does)\n", lib->soname, what, lib->package);
    _exit(127);
}

static void lazylib_open(rd_lazylib *lib)
{
    void *handle = dlopen(lib->soname, RTLD_NOW | RTLD_LOCAL);
    if (!handle)
        lazylib_fail(lib, dlerror());
    for (size_t i = 0; lib->symbols[i]; i++) {
        void *sym = dlsym(handle, lib->symbols[i]);
        if (!sym)
            lazylib_fail(lib, dlerror());
        lib->table[i] = sym;
    }
}

void rd_lazylib_load(rd_lazylib *lib)
{
    /* Double-checked: the acquire pairs with the release below, so a thread
     * that sees loaded also sees the whole table. */
    if (__atomic_load_n(&lib->loaded, __ATOMIC_ACQUIRE))
        return;
    pthread_mutex_lock(&lazylib_mu);
    if (!lib->loaded) {
        lazylib_open(lib);
        __atomic_store_n(&lib->loaded, 1, __ATOMIC_RELEASE);
    }
    pthread_mutex_unlock(&lazylib_mu);
}
