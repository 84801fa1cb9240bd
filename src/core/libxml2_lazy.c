/* The libxml2 functions radiant calls, forwarding to libxml2.so.2 loaded on
 * first use (see lazylib.h). A function radiant starts to call must be
 * added here, or the link fails (radiant is not linked with -lxml2). */
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "core/lazylib.h"

/* xmlFree is a variable holding libxml2's free function, not a function:
 * its entry in the table is the variable's address (see below). */
#define LIBXML2_FUNCTIONS(X)                                                             \
    X(xmlFree) X(xmlDocGetRootElement) X(xmlFreeDoc) X(xmlInitParser)                  \
    X(xmlNodeGetContent) X(xmlReadMemory)

#define AS_INDEX(name) LIBXML2_##name,
#define AS_STRING(name) #name,
enum { LIBXML2_FUNCTIONS(AS_INDEX) LIBXML2_N };
static const char *const libxml2_symbols[] = { LIBXML2_FUNCTIONS(AS_STRING) NULL };
static void *libxml2_table[LIBXML2_N];
static rd_lazylib libxml2 = { "libxml2.so.2", "libxml2", libxml2_symbols, libxml2_table, 0 };

static void *libxml2_fn(int i)
{
    rd_lazylib_load(&libxml2);
    return libxml2_table[i];
}

/* The real function, with the type of the declaration in libxml2's headers. */
#define REAL(name) ((__typeof__(&name))libxml2_fn(LIBXML2_##name))

/* radiant's xmlFree: calls the one libxml2 holds at the time. */
static void lazy_xml_free(void *mem) { (*(xmlFreeFunc *)libxml2_fn(LIBXML2_xmlFree))(mem); }
xmlFreeFunc xmlFree = lazy_xml_free;

void xmlInitParser(void) { REAL(xmlInitParser)(); }
void xmlFreeDoc(xmlDocPtr cur) { REAL(xmlFreeDoc)(cur); }
xmlNodePtr xmlDocGetRootElement(const xmlDoc *doc) { return REAL(xmlDocGetRootElement)(doc); }
xmlChar *xmlNodeGetContent(const xmlNode *cur) { return REAL(xmlNodeGetContent)(cur); }

xmlDocPtr xmlReadMemory(const char *buffer, int size, const char *URL, const char *encoding,
                        int options)
{
    return REAL(xmlReadMemory)(buffer, size, URL, encoding, options);
}
