/* The libcurl functions radiant calls, forwarding to libcurl.so.4 loaded on
 * first use (see lazylib.h). A function radiant starts to call must be
 * added here, or the link fails (radiant is not linked with -lcurl). */

/* The type-checking macros of <curl/typecheck-gcc.h> would rename the
 * variadic functions defined here. */
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>
#include <stdarg.h>

#include "core/lazylib.h"

#define LIBCURL_FUNCTIONS(X)                                                            \
    X(curl_easy_cleanup) X(curl_easy_getinfo) X(curl_easy_init) X(curl_easy_perform)    \
    X(curl_easy_reset) X(curl_easy_setopt) X(curl_easy_strerror) X(curl_global_init)    \
    X(curl_slist_append) X(curl_slist_free_all)

RD_LAZYLIB_DEFINE("libcurl.so.4", "libcurl4", LIBCURL_FUNCTIONS)

#define REAL(name) RD_LAZY_REAL(name)

CURLcode curl_global_init(long flags) { return REAL(curl_global_init)(flags); }
CURL *curl_easy_init(void) { return REAL(curl_easy_init)(); }
CURLcode curl_easy_perform(CURL *curl) { return REAL(curl_easy_perform)(curl); }
void curl_easy_cleanup(CURL *curl) { REAL(curl_easy_cleanup)(curl); }
void curl_easy_reset(CURL *curl) { REAL(curl_easy_reset)(curl); }
const char *curl_easy_strerror(CURLcode code) { return REAL(curl_easy_strerror)(code); }

struct curl_slist *curl_slist_append(struct curl_slist *list, const char *string)
{
    return REAL(curl_slist_append)(list, string);
}

void curl_slist_free_all(struct curl_slist *list) { REAL(curl_slist_free_all)(list); }

/* The option's number says the type of its one argument, as libcurl itself
 * reads it (CURLOPTTYPE_* in <curl/curl.h>). */
CURLcode curl_easy_setopt(CURL *curl, CURLoption option, ...)
{
    va_list ap;
    va_start(ap, option);
    CURLcode rc;
    if (option < CURLOPTTYPE_OBJECTPOINT)
        rc = REAL(curl_easy_setopt)(curl, option, va_arg(ap, long));
    else if (option < CURLOPTTYPE_FUNCTIONPOINT)
        rc = REAL(curl_easy_setopt)(curl, option, va_arg(ap, void *));
    else if (option < CURLOPTTYPE_OFF_T)
        rc = REAL(curl_easy_setopt)(curl, option, va_arg(ap, void (*)(void)));
    else if (option < CURLOPTTYPE_BLOB)
        rc = REAL(curl_easy_setopt)(curl, option, va_arg(ap, curl_off_t));
    else
        rc = REAL(curl_easy_setopt)(curl, option, va_arg(ap, void *));
    va_end(ap);
    return rc;
}

/* Every CURLINFO_* takes a pointer to where the value goes. */
CURLcode curl_easy_getinfo(CURL *curl, CURLINFO info, ...)
{
    va_list ap;
    va_start(ap, info);
    CURLcode rc = REAL(curl_easy_getinfo)(curl, info, va_arg(ap, void *));
    va_end(ap);
    return rc;
}
