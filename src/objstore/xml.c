/* S3 request-body parsers, the response writer and the error document.
 *
 * Design notes
 *  - Bodies are untrusted: libxml2 runs with XML_PARSE_NONET, without
 *    XML_PARSE_NOENT (entities are never substituted) and without DTD loading;
 *    a document carrying any DTD is refused outright, since no S3 client sends
 *    one, which also rules out entity-expansion bombs. Bodies over OS3_XML_MAX
 *    are refused before libxml2 sees them.
 *  - Validation follows what S3 answers, so SDK tests written against AWS see
 *    the same error codes: structure problems are MalformedXML, values out of
 *    range InvalidArgument ("PutBucketLifecycleConfiguration",
 *    "DeleteObjects", "CompleteMultipartUpload", "PutBucketVersioning",
 *    "CreateBucket" in the Amazon S3 API reference).
 *  - Text of keys and ETags is kept byte for byte; numbers, booleans and
 *    enumerations are trimmed of surrounding blanks first. */
#include "objstore/xml.h"

#include <ctype.h>
#include <inttypes.h>
#include <libxml/parser.h>
#include <libxml/tree.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/clock.h"
#include "core/error.h"

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

/* xmlInitParser is not thread-safe itself and must run before any thread
 * parses (s3client calls it too; it is idempotent). */
static void xml_init(void)
{
    xmlInitParser();
}

static int bad(enum os3_error *err, enum os3_error e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(enum os3_error *err, enum os3_error e, const char *fmt, ...)
{
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    *err = e;
    return rd_fail(RD_EUSAGE, "%s", msg);
}

#define MALFORMED(err, ...) bad(err, OS3_MALFORMED_XML, __VA_ARGS__)

/* ------------------------------------------------------------ tree access -- */

static bool ns_ok(xmlNodePtr n)
{
    return !n->ns || !n->ns->href || strcmp((const char *)n->ns->href, OS3_XML_NS) == 0;
}

static bool named(xmlNodePtr n, const char *name)
{
    return strcmp((const char *)n->name, name) == 0;
}

static bool blank(const xmlChar *s)
{
    for (; s && *s; s++)
        if (!isspace(*s))
            return false;
    return true;
}

/* The next child element of parent after prev (NULL: first). Non-blank text
 * between elements, entity references and foreign namespaces are malformed. */
static int next_elem(xmlNodePtr parent, xmlNodePtr prev, xmlNodePtr *out, enum os3_error *err)
{
    xmlNodePtr n = prev ? prev->next : parent->children;
    for (; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE) {
            if (!ns_ok(n))
                return MALFORMED(err, "element %s is in an unknown namespace", n->name);
            *out = n;
            return 1;
        }
        if (n->type == XML_COMMENT_NODE || n->type == XML_PI_NODE)
            continue;
        if ((n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) &&
            blank(n->content))
            continue;
        return MALFORMED(err, "unexpected content inside %s", parent->name);
    }
    *out = NULL;
    return 0;
}

/* The text of a leaf element (text and CDATA joined); an element inside is
 * malformed. Returns a malloc'd string. */
static int leaf_text(xmlNodePtr e, char **out, enum os3_error *err)
{
    rd_buf b = RD_BUF_INIT;
    *out = NULL;
    for (xmlNodePtr n = e->children; n; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content)
                rd_buf_append(&b, n->content, strlen((const char *)n->content));
        } else if (n->type != XML_COMMENT_NODE && n->type != XML_PI_NODE) {
            rd_buf_free(&b);
            return MALFORMED(err, "%s must contain only text", e->name);
        }
    }
    rd_buf_append_u8(&b, '\0');
    *out = (char *)b.data;
    return 0;
}

/* leaf_text with surrounding blanks removed, for numbers and enumerations. */
static int leaf_trimmed(xmlNodePtr e, char **out, enum os3_error *err)
{
    int rc = leaf_text(e, out, err);
    if (rc != 0)
        return rc;
    char *s = *out, *p = s;
    while (isspace((unsigned char)*p))
        p++;
    size_t n = strlen(p);
    while (n > 0 && isspace((unsigned char)p[n - 1]))
        n--;
    memmove(s, p, n);
    s[n] = '\0';
    return 0;
}

/* Sets *slot from a leaf, refusing a second occurrence. */
static int leaf_once(xmlNodePtr e, char **slot, bool trim, enum os3_error *err)
{
    if (*slot)
        return MALFORMED(err, "%s appears twice", e->name);
    return trim ? leaf_trimmed(e, slot, err) : leaf_text(e, slot, err);
}

static int parse_long(const char *s, long *out)
{
    if (!*s || strlen(s) > 10)
        return -1;
    for (const char *p = s; *p; p++)
        if (!isdigit((unsigned char)*p) && !(p == s && *p == '-' && p[1]))
            return -1;
    *out = strtol(s, NULL, 10);
    return 0;
}

static int parse_bool(const char *s, bool *out)
{
    if (strcasecmp(s, "true") == 0)
        *out = true;
    else if (strcasecmp(s, "false") == 0)
        *out = false;
    else
        return -1;
    return 0;
}

/* Parses body and checks the root element's name. */
static int doc_open(const void *body, size_t len, const char *root, xmlDocPtr *doc,
                    xmlNodePtr *rootp, enum os3_error *err)
{
    pthread_once(&xml_once, xml_init);
    *doc = NULL;
    if (len == 0)
        return MALFORMED(err, "the request body is empty; %s expected", root);
    if (len > OS3_XML_MAX)
        return MALFORMED(err, "the XML body is larger than %d bytes", OS3_XML_MAX);
    xmlDocPtr d = xmlReadMemory(body, (int)len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!d)
        return MALFORMED(err, "The XML you provided was not well-formed or did not validate "
                              "against our published schema");
    if (d->intSubset || d->extSubset) {
        xmlFreeDoc(d);
        return MALFORMED(err, "a document type declaration is not allowed");
    }
    xmlNodePtr r = xmlDocGetRootElement(d);
    if (!r || !named(r, root) || !ns_ok(r)) {
        xmlFreeDoc(d);
        return MALFORMED(err, "the root element must be %s", root);
    }
    *doc = d;
    *rootp = r;
    return 0;
}

/* ------------------------------------------------------------- DeleteObjects -- */

void os3_delete_request_free(os3_delete_request *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_objects; i++) {
        free(r->objects[i].key);
        free(r->objects[i].version_id);
    }
    free(r->objects);
    free(r);
}

static int delete_object(xmlNodePtr obj, os3_delete_object *o, enum os3_error *err)
{
    xmlNodePtr e = NULL;
    int rc;
    while ((rc = next_elem(obj, e, &e, err)) == 1) {
        if (named(e, "Key")) {
            rc = leaf_once(e, &o->key, false, err);
        } else if (named(e, "VersionId")) {
            rc = leaf_once(e, &o->version_id, true, err);
        } else if (named(e, "ETag") || named(e, "LastModifiedTime") || named(e, "Size")) {
            continue;
        } else {
            rc = MALFORMED(err, "unknown element %s in Object", e->name);
        }
        if (rc != 0)
            return rc;
    }
    if (rc < 0)
        return rc;
    if (!o->key || !*o->key)
        return MALFORMED(err, "every Object needs a non-empty Key");
    if (strlen(o->key) > OS3_KEY_MAX)
        return bad(err, OS3_KEY_TOO_LONG, "Your key is too long");
    if (o->version_id && !*o->version_id) {
        free(o->version_id);
        o->version_id = NULL;
    }
    return 0;
}

int os3_xml_parse_delete(const void *body, size_t len, os3_delete_request **out,
                         enum os3_error *err)
{
    *out = NULL;
    *err = OS3_OK;
    xmlDocPtr doc;
    xmlNodePtr root, e = NULL;
    int rc = doc_open(body, len, "Delete", &doc, &root, err);
    if (rc != 0)
        return rc;
    os3_delete_request *r = rd_calloc(1, sizeof *r);
    bool quiet_seen = false;
    while ((rc = next_elem(root, e, &e, err)) == 1) {
        if (named(e, "Object")) {
            if (r->n_objects == OS3_DELETE_MAX) {
                rc = MALFORMED(err, "a Delete request may name at most %d objects",
                               OS3_DELETE_MAX);
                break;
            }
            r->objects = rd_realloc(r->objects, (r->n_objects + 1) * sizeof *r->objects);
            memset(&r->objects[r->n_objects], 0, sizeof *r->objects);
            rc = delete_object(e, &r->objects[r->n_objects++], err);
        } else if (named(e, "Quiet")) {
            char *v = NULL;
            rc = quiet_seen ? MALFORMED(err, "Quiet appears twice") : leaf_trimmed(e, &v, err);
            if (rc == 0 && parse_bool(v, &r->quiet) != 0)
                rc = MALFORMED(err, "Quiet must be true or false");
            quiet_seen = true;
            free(v);
        } else {
            rc = MALFORMED(err, "unknown element %s in Delete", e->name);
        }
        if (rc != 0)
            break;
    }
    if (rc == 0 && r->n_objects == 0)
        rc = MALFORMED(err, "a Delete request must name at least one Object");
    xmlFreeDoc(doc);
    if (rc < 0) {
        os3_delete_request_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* ------------------------------------------------- CompleteMultipartUpload -- */

void os3_complete_request_free(os3_complete_request *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n_parts; i++)
        free(r->parts[i].etag);
    free(r->parts);
    free(r);
}

static int complete_part(xmlNodePtr part, os3_complete_part *p, enum os3_error *err)
{
    xmlNodePtr e = NULL;
    char *num = NULL;
    int rc;
    while ((rc = next_elem(part, e, &e, err)) == 1) {
        if (named(e, "PartNumber"))
            rc = leaf_once(e, &num, true, err);
        else if (named(e, "ETag"))
            rc = leaf_once(e, &p->etag, true, err);
        else if (rd_str_starts_with((const char *)e->name, "Checksum"))
            continue;
        else
            rc = MALFORMED(err, "unknown element %s in Part", e->name);
        if (rc != 0)
            break;
    }
    long n = 0;
    if (rc == 0 && (!num || !p->etag))
        rc = MALFORMED(err, "every Part needs a PartNumber and an ETag");
    else if (rc == 0 && parse_long(num, &n) != 0)
        rc = MALFORMED(err, "PartNumber must be an integer");
    else if (rc == 0 && (n < 1 || n > OS3_PARTS_MAX))
        rc = bad(err, OS3_INVALID_ARGUMENT, "Part number must be an integer between 1 and "
                                            "10000, inclusive");
    free(num);
    if (rc != 0)
        return rc;
    p->part_number = (int)n;
    /* S3 ETags are quoted; clients send them with or without the quotes. */
    size_t l = strlen(p->etag);
    if (l >= 2 && p->etag[0] == '"' && p->etag[l - 1] == '"') {
        memmove(p->etag, p->etag + 1, l - 2);
        p->etag[l - 2] = '\0';
    }
    return 0;
}

int os3_xml_parse_complete(const void *body, size_t len, os3_complete_request **out,
                           enum os3_error *err)
{
    *out = NULL;
    *err = OS3_OK;
    xmlDocPtr doc;
    xmlNodePtr root, e = NULL;
    int rc = doc_open(body, len, "CompleteMultipartUpload", &doc, &root, err);
    if (rc != 0)
        return rc;
    os3_complete_request *r = rd_calloc(1, sizeof *r);
    while ((rc = next_elem(root, e, &e, err)) == 1) {
        if (!named(e, "Part")) {
            rc = MALFORMED(err, "unknown element %s in CompleteMultipartUpload", e->name);
            break;
        }
        if (r->n_parts == OS3_PARTS_MAX) {
            rc = MALFORMED(err, "more than %d parts", OS3_PARTS_MAX);
            break;
        }
        r->parts = rd_realloc(r->parts, (r->n_parts + 1) * sizeof *r->parts);
        memset(&r->parts[r->n_parts], 0, sizeof *r->parts);
        rc = complete_part(e, &r->parts[r->n_parts++], err);
        if (rc == 0 && r->n_parts > 1 &&
            r->parts[r->n_parts - 1].part_number <= r->parts[r->n_parts - 2].part_number)
            rc = bad(err, OS3_INVALID_PART_ORDER, "The list of parts was not in ascending "
                                                  "order. The parts list must be specified "
                                                  "in order by part number.");
        if (rc != 0)
            break;
    }
    if (rc == 0 && r->n_parts == 0)
        rc = MALFORMED(err, "CompleteMultipartUpload must list at least one Part");
    xmlFreeDoc(doc);
    if (rc < 0) {
        os3_complete_request_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

/* ---------------------------------------------------- PutBucketVersioning -- */

int os3_xml_parse_versioning(const void *body, size_t len, enum os3_versioning *out,
                             enum os3_error *err)
{
    *out = OS3_VERSIONING_OFF;
    *err = OS3_OK;
    xmlDocPtr doc;
    xmlNodePtr root, e = NULL;
    char *status = NULL, *mfa = NULL;
    int rc = doc_open(body, len, "VersioningConfiguration", &doc, &root, err);
    if (rc != 0)
        return rc;
    while ((rc = next_elem(root, e, &e, err)) == 1) {
        if (named(e, "Status"))
            rc = leaf_once(e, &status, true, err);
        else if (named(e, "MfaDelete"))
            rc = leaf_once(e, &mfa, true, err);
        else
            rc = MALFORMED(err, "unknown element %s in VersioningConfiguration", e->name);
        if (rc != 0)
            break;
    }
    if (rc == 0 && status) {
        if (strcmp(status, "Enabled") == 0)
            *out = OS3_VERSIONING_ENABLED;
        else if (strcmp(status, "Suspended") == 0)
            *out = OS3_VERSIONING_SUSPENDED;
        else
            rc = MALFORMED(err, "Status must be Enabled or Suspended");
    }
    if (rc == 0 && mfa && strcmp(mfa, "Enabled") != 0 && strcmp(mfa, "Disabled") != 0)
        rc = MALFORMED(err, "MfaDelete must be Enabled or Disabled");
    free(status);
    free(mfa);
    xmlFreeDoc(doc);
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------ PutBucketLifecycleConfiguration -- */

void os3_lifecycle_free(os3_lifecycle *l)
{
    os3_lifecycle_clear(l);
    free(l);
}

/* A positive day count of element e into *out. */
static int leaf_days(xmlNodePtr e, int *out, bool *seen, int max, enum os3_error *err)
{
    if (*seen)
        return MALFORMED(err, "%s appears twice", e->name);
    *seen = true;
    char *v = NULL;
    long n;
    int rc = leaf_trimmed(e, &v, err);
    if (rc == 0 && parse_long(v, &n) != 0)
        rc = MALFORMED(err, "%s must be an integer", e->name);
    else if (rc == 0 && (n < 1 || n > max))
        rc = bad(err, OS3_INVALID_ARGUMENT, "'%s' must be a positive integer%s", e->name,
                 n > max ? " not above its maximum" : "");
    free(v);
    if (rc == 0)
        *out = (int)n;
    return rc;
}

/* Filter: empty, Prefix, or And{Prefix}; tags and sizes are NotImplemented. */
static int rule_filter(xmlNodePtr f, os3_lifecycle_rule *r, enum os3_error *err, int depth)
{
    xmlNodePtr e = NULL;
    int rc, n = 0;
    while ((rc = next_elem(f, e, &e, err)) == 1) {
        n++;
        if (depth == 0 && n > 1)
            return MALFORMED(err, "Filter must have exactly one of Prefix, Tag, And");
        if (named(e, "Prefix")) {
            rc = leaf_once(e, &r->prefix, false, err);
        } else if (depth == 0 && named(e, "And")) {
            rc = rule_filter(e, r, err, 1);
        } else if (named(e, "Tag") || named(e, "ObjectSizeGreaterThan") ||
                   named(e, "ObjectSizeLessThan")) {
            rc = bad(err, OS3_NOT_IMPLEMENTED, "lifecycle filters on %s are not implemented",
                     e->name);
        } else {
            rc = MALFORMED(err, "unknown element %s in %s", e->name, f->name);
        }
        if (rc != 0)
            return rc;
    }
    return rc;
}

static int rule_expiration(xmlNodePtr x, os3_lifecycle_rule *r, enum os3_error *err)
{
    xmlNodePtr e = NULL;
    bool days_seen = false;
    char *date = NULL, *marker = NULL;
    int rc;
    while ((rc = next_elem(x, e, &e, err)) == 1) {
        if (named(e, "Days"))
            rc = leaf_days(e, &r->expiration_days, &days_seen, 1000000, err);
        else if (named(e, "Date"))
            rc = leaf_once(e, &date, true, err);
        else if (named(e, "ExpiredObjectDeleteMarker"))
            rc = leaf_once(e, &marker, true, err);
        else
            rc = MALFORMED(err, "unknown element %s in Expiration", e->name);
        if (rc != 0)
            goto out;
    }
    if (rc < 0)
        goto out;
    if (days_seen + (date != NULL) + (marker != NULL) == 0) {
        rc = MALFORMED(err, "Expiration needs Days, Date or ExpiredObjectDeleteMarker");
    } else if (days_seen && date) {
        rc = bad(err, OS3_INVALID_ARGUMENT, "Expiration may have Days or Date, not both");
    } else if (marker && (days_seen || date)) {
        rc = bad(err, OS3_INVALID_ARGUMENT, "ExpiredObjectDeleteMarker cannot be specified "
                                            "with Days or Date in a Lifecycle Expiration Policy");
    } else if (marker && parse_bool(marker, &r->expired_object_delete_marker) != 0) {
        rc = MALFORMED(err, "ExpiredObjectDeleteMarker must be true or false");
    } else if (date) {
        int64_t t;
        /* 1970-01-01 and before is no lifecycle date, and 0 means "no Date". */
        if (rd_time_parse(date, &t) != 0 || t <= 0)
            rc = bad(err, OS3_INVALID_ARGUMENT, "Invalid date '%.40s' in Expiration", date);
        else if (t % 86400 != 0)
            rc = bad(err, OS3_INVALID_ARGUMENT, "'Date' must be at midnight GMT");
        else
            r->expiration_date = t;
    }
out:
    free(date);
    free(marker);
    return rc;
}

static int rule_noncurrent(xmlNodePtr x, os3_lifecycle_rule *r, enum os3_error *err)
{
    xmlNodePtr e = NULL;
    bool days = false, newer = false;
    int rc;
    while ((rc = next_elem(x, e, &e, err)) == 1) {
        if (named(e, "NoncurrentDays"))
            rc = leaf_days(e, &r->noncurrent_days, &days, 1000000, err);
        else if (named(e, "NewerNoncurrentVersions"))
            rc = leaf_days(e, &r->newer_noncurrent_versions, &newer, 100, err);
        else
            rc = MALFORMED(err, "unknown element %s in NoncurrentVersionExpiration", e->name);
        if (rc != 0)
            return rc;
    }
    if (rc == 0 && !days)
        rc = MALFORMED(err, "NoncurrentVersionExpiration needs NoncurrentDays");
    return rc;
}

static int rule_abort(xmlNodePtr x, os3_lifecycle_rule *r, enum os3_error *err)
{
    xmlNodePtr e = NULL;
    bool days = false;
    int rc;
    while ((rc = next_elem(x, e, &e, err)) == 1) {
        if (named(e, "DaysAfterInitiation"))
            rc = leaf_days(e, &r->abort_incomplete_days, &days, 1000000, err);
        else
            rc = MALFORMED(err, "unknown element %s in AbortIncompleteMultipartUpload",
                           e->name);
        if (rc != 0)
            return rc;
    }
    if (rc == 0 && !days)
        rc = MALFORMED(err, "AbortIncompleteMultipartUpload needs DaysAfterInitiation");
    return rc;
}

static int lifecycle_rule(xmlNodePtr rule, os3_lifecycle_rule *r, enum os3_error *err)
{
    xmlNodePtr e = NULL;
    char *status = NULL;
    bool filter = false, legacy = false, exp = false, nc = false, ab = false;
    int rc;
    while ((rc = next_elem(rule, e, &e, err)) == 1) {
        if (named(e, "ID")) {
            rc = leaf_once(e, &r->id, false, err);
        } else if (named(e, "Status")) {
            rc = leaf_once(e, &status, true, err);
        } else if (named(e, "Filter")) {
            rc = filter ? MALFORMED(err, "Filter appears twice") : rule_filter(e, r, err, 0);
            filter = true;
        } else if (named(e, "Prefix")) {
            rc = leaf_once(e, &r->prefix, false, err);
            legacy = true;
        } else if (named(e, "Expiration")) {
            rc = exp ? MALFORMED(err, "Expiration appears twice") : rule_expiration(e, r, err);
            exp = true;
        } else if (named(e, "NoncurrentVersionExpiration")) {
            rc = nc ? MALFORMED(err, "NoncurrentVersionExpiration appears twice")
                    : rule_noncurrent(e, r, err);
            nc = true;
        } else if (named(e, "AbortIncompleteMultipartUpload")) {
            rc = ab ? MALFORMED(err, "AbortIncompleteMultipartUpload appears twice")
                    : rule_abort(e, r, err);
            ab = true;
        } else if (named(e, "Transition") || named(e, "NoncurrentVersionTransition")) {
            rc = bad(err, OS3_NOT_IMPLEMENTED, "%s is not implemented: radiant has one "
                                               "storage class", e->name);
        } else {
            rc = MALFORMED(err, "unknown element %s in Rule", e->name);
        }
        if (rc != 0)
            goto out;
    }
    if (rc < 0)
        goto out;
    if (!status)
        rc = MALFORMED(err, "every Rule needs a Status");
    else if (strcmp(status, "Enabled") != 0 && strcmp(status, "Disabled") != 0)
        rc = MALFORMED(err, "Status must be Enabled or Disabled");
    else if (filter && legacy)
        rc = MALFORMED(err, "a Rule may have a Filter or a Prefix, not both");
    else if (r->id && strlen(r->id) > 255)
        rc = bad(err, OS3_INVALID_ARGUMENT, "ID length should not exceed allowed limit of 255");
    else if (!exp && !nc && !ab)
        rc = bad(err, OS3_INVALID_REQUEST, "At least one action needs to be specified in a "
                                           "rule");
    if (rc == 0) {
        r->enabled = strcmp(status, "Enabled") == 0;
        if (!r->prefix)
            r->prefix = rd_strdup("");
    }
out:
    free(status);
    return rc;
}

int os3_xml_parse_lifecycle(const void *body, size_t len, os3_lifecycle **out,
                            enum os3_error *err)
{
    *out = NULL;
    *err = OS3_OK;
    xmlDocPtr doc;
    xmlNodePtr root, e = NULL;
    int rc = doc_open(body, len, "LifecycleConfiguration", &doc, &root, err);
    if (rc != 0)
        return rc;
    os3_lifecycle *l = rd_calloc(1, sizeof *l);
    while ((rc = next_elem(root, e, &e, err)) == 1) {
        if (!named(e, "Rule")) {
            rc = MALFORMED(err, "unknown element %s in LifecycleConfiguration", e->name);
            break;
        }
        if (l->n_rules == OS3_LIFECYCLE_RULES_MAX) {
            rc = MALFORMED(err, "more than %d lifecycle rules", OS3_LIFECYCLE_RULES_MAX);
            break;
        }
        l->rules = rd_realloc(l->rules, (l->n_rules + 1) * sizeof *l->rules);
        memset(&l->rules[l->n_rules], 0, sizeof *l->rules);
        rc = lifecycle_rule(e, &l->rules[l->n_rules++], err);
        if (rc != 0)
            break;
    }
    if (rc == 0 && l->n_rules == 0)
        rc = MALFORMED(err, "LifecycleConfiguration must have at least one Rule");
    for (size_t i = 0; rc == 0 && i < l->n_rules; i++)
        for (size_t j = 0; rc == 0 && j < i; j++)
            if (l->rules[i].id && l->rules[j].id && strcmp(l->rules[i].id, l->rules[j].id) == 0)
                rc = bad(err, OS3_INVALID_ARGUMENT, "Rule ID must be unique. Found same ID "
                                                    "for more than one rule");
    xmlFreeDoc(doc);
    if (rc < 0) {
        os3_lifecycle_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

void os3_xml_write_lifecycle(const os3_lifecycle *l, rd_buf *out)
{
    os3_xmlw w;
    os3_xmlw_init(&w);
    os3_xmlw_begin(&w, "LifecycleConfiguration");
    for (size_t i = 0; i < l->n_rules; i++) {
        const os3_lifecycle_rule *r = &l->rules[i];
        os3_xmlw_begin(&w, "Rule");
        if (r->id)
            os3_xmlw_text(&w, "ID", r->id);
        os3_xmlw_begin(&w, "Filter");
        os3_xmlw_text(&w, "Prefix", r->prefix ? r->prefix : "");
        os3_xmlw_end(&w);
        os3_xmlw_text(&w, "Status", r->enabled ? "Enabled" : "Disabled");
        if (r->expiration_days || r->expiration_date > 0 || r->expired_object_delete_marker) {
            os3_xmlw_begin(&w, "Expiration");
            if (r->expiration_days)
                os3_xmlw_int(&w, "Days", r->expiration_days);
            if (r->expiration_date > 0)
                os3_xmlw_time(&w, "Date", r->expiration_date * 1000000);
            if (r->expired_object_delete_marker)
                os3_xmlw_bool(&w, "ExpiredObjectDeleteMarker", true);
            os3_xmlw_end(&w);
        }
        if (r->noncurrent_days) {
            os3_xmlw_begin(&w, "NoncurrentVersionExpiration");
            os3_xmlw_int(&w, "NoncurrentDays", r->noncurrent_days);
            if (r->newer_noncurrent_versions)
                os3_xmlw_int(&w, "NewerNoncurrentVersions", r->newer_noncurrent_versions);
            os3_xmlw_end(&w);
        }
        if (r->abort_incomplete_days) {
            os3_xmlw_begin(&w, "AbortIncompleteMultipartUpload");
            os3_xmlw_int(&w, "DaysAfterInitiation", r->abort_incomplete_days);
            os3_xmlw_end(&w);
        }
        os3_xmlw_end(&w);
    }
    os3_xmlw_finish(&w, out);
}

/* ------------------------------------------------------------ CreateBucket -- */

int os3_xml_parse_create_bucket(const void *body, size_t len, char **location,
                                enum os3_error *err)
{
    *location = NULL;
    *err = OS3_OK;
    /* boto3 sends no body for us-east-1; a body of blanks is no body either. */
    size_t i = 0;
    while (i < len && isspace(((const unsigned char *)body)[i]))
        i++;
    if (i == len)
        return 0;
    xmlDocPtr doc;
    xmlNodePtr root, e = NULL;
    int rc = doc_open(body, len, "CreateBucketConfiguration", &doc, &root, err);
    if (rc != 0)
        return rc;
    char *loc = NULL;
    while ((rc = next_elem(root, e, &e, err)) == 1) {
        if (named(e, "LocationConstraint"))
            rc = leaf_once(e, &loc, true, err);
        else if (named(e, "Location") || named(e, "Bucket"))
            rc = bad(err, OS3_NOT_IMPLEMENTED, "%s in CreateBucketConfiguration is not "
                                               "implemented", e->name);
        else
            rc = MALFORMED(err, "unknown element %s in CreateBucketConfiguration", e->name);
        if (rc != 0)
            break;
    }
    xmlFreeDoc(doc);
    if (rc == 0 && loc && strlen(loc) > 64)
        rc = bad(err, OS3_INVALID_ARGUMENT, "LocationConstraint is too long");
    if (rc < 0 || (loc && !*loc)) {
        free(loc);
        loc = NULL;
    }
    *location = loc;
    return rc < 0 ? rc : 0;
}

/* ------------------------------------------------------------------ writer -- */

void os3_xml_escape(const char *text, rd_buf *out)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        const char *rep = NULL;
        char num[8];
        switch (*p) {
        case '&': rep = "&amp;"; break;
        case '<': rep = "&lt;"; break;
        case '>': rep = "&gt;"; break;
        case '"': rep = "&quot;"; break;
        case '\'': rep = "&apos;"; break;
        case '\r': rep = "&#13;"; break;
        case '\n': rep = "&#10;"; break;
        case '\t': rep = "&#9;"; break;
        default:
            if (*p < 0x20 || *p == 0x7f) {
                snprintf(num, sizeof num, "&#x%X;", *p);
                rep = num;
            }
        }
        if (rep)
            rd_buf_append(out, rep, strlen(rep));
        else
            rd_buf_append_u8(out, *p);
    }
}

void os3_xmlw_init(os3_xmlw *w)
{
    memset(w, 0, sizeof *w);
    static const char decl[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    rd_buf_append(&w->buf, decl, sizeof decl - 1);
}

void os3_xmlw_begin(os3_xmlw *w, const char *name)
{
    /* Nesting is fixed by the code that writes a document, never by input. */
    if (w->depth >= (int)(sizeof w->stack / sizeof w->stack[0]))
        abort();
    rd_buf_append_u8(&w->buf, '<');
    rd_buf_append(&w->buf, name, strlen(name));
    if (!w->rooted) {
        w->rooted = true;
        static const char ns[] = " xmlns=\"" OS3_XML_NS "\"";
        rd_buf_append(&w->buf, ns, sizeof ns - 1);
    }
    rd_buf_append_u8(&w->buf, '>');
    w->stack[w->depth++] = name;
}

void os3_xmlw_end(os3_xmlw *w)
{
    if (w->depth == 0)
        return;
    const char *name = w->stack[--w->depth];
    rd_buf_append(&w->buf, "</", 2);
    rd_buf_append(&w->buf, name, strlen(name));
    rd_buf_append_u8(&w->buf, '>');
}

void os3_xmlw_text(os3_xmlw *w, const char *name, const char *text)
{
    rd_buf_append_u8(&w->buf, '<');
    rd_buf_append(&w->buf, name, strlen(name));
    rd_buf_append_u8(&w->buf, '>');
    os3_xml_escape(text ? text : "", &w->buf);
    rd_buf_append(&w->buf, "</", 2);
    rd_buf_append(&w->buf, name, strlen(name));
    rd_buf_append_u8(&w->buf, '>');
}

void os3_xmlw_int(os3_xmlw *w, const char *name, int64_t v)
{
    char s[24];
    snprintf(s, sizeof s, "%" PRId64, v);
    os3_xmlw_text(w, name, s);
}

void os3_xmlw_bool(os3_xmlw *w, const char *name, bool v)
{
    os3_xmlw_text(w, name, v ? "true" : "false");
}

void os3_xmlw_time(os3_xmlw *w, const char *name, int64_t us)
{
    char s[40];
    rd_time_format_ms(us, s, sizeof s);
    os3_xmlw_text(w, name, s);
}

void os3_xmlw_finish(os3_xmlw *w, rd_buf *out)
{
    while (w->depth > 0)
        os3_xmlw_end(w);
    rd_buf_append_u8(&w->buf, '\0');
    w->buf.len--;
    rd_buf_free(out);
    *out = w->buf;
    memset(w, 0, sizeof *w);
}

void os3_xmlw_free(os3_xmlw *w)
{
    rd_buf_free(&w->buf);
    memset(w, 0, sizeof *w);
}

void os3_xml_error(enum os3_error e, const char *message, const char *resource,
                   const char *request_id, rd_buf *out)
{
    rd_buf_reset(out);
    static const char head[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>";
    rd_buf_append(out, head, sizeof head - 1);
    os3_xml_escape(os3_error_code(e), out);
    rd_buf_append(out, "</Code><Message>", 16);
    os3_xml_escape(message ? message : os3_error_message(e), out);
    rd_buf_append(out, "</Message>", 10);
    if (resource) {
        rd_buf_append(out, "<Resource>", 10);
        os3_xml_escape(resource, out);
        rd_buf_append(out, "</Resource>", 11);
    }
    if (request_id) {
        rd_buf_append(out, "<RequestId>", 11);
        os3_xml_escape(request_id, out);
        rd_buf_append(out, "</RequestId>", 12);
    }
    rd_buf_append(out, "</Error>", 8);
    rd_buf_append_u8(out, '\0');
    out->len--;
}
