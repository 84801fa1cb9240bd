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

RD_LAZYLIB_DEFINE("libxml2.so.2", "libxml2", LIBXML2_FUNCTIONS)

#define REAL(name) RD_LAZY_REAL(name)

/* radiant's xmlFree: calls the one libxml2 holds at the time. */
static void lazy_xml_free(void *mem) { (*(xmlFreeFunc *)rd_lazy_fn(RD_LAZY_xmlFree))(mem); }
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
