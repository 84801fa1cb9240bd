/* S3 XML for radiant's object store (private to src/objstore): parsers for the
 * request bodies S3 operations take (DeleteObjects, CompleteMultipartUpload,
 * PutBucketVersioning, PutBucketLifecycleConfiguration, CreateBucket) into
 * plain C structs, a small writer for responses, and the error document.
 * Parsing uses libxml2 without network access, entity substitution or DTDs,
 * on bodies of at most OS3_XML_MAX bytes. No I/O.
 *
 * Every parser returns 0, or -RD_EUSAGE with *err set to the S3 error
 * (MalformedXML unless stated) and rd_error() to a message naming what is
 * wrong. Elements may carry the S3 namespace or none. Unknown elements are
 * MalformedXML, as S3 answers, except those listed as ignored. */
#ifndef RD_OBJSTORE_XML_H
#define RD_OBJSTORE_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "objstore/errors.h"
#include "objstore/store.h"

#define OS3_XML_NS "http://s3.amazonaws.com/doc/2006-03-01/"
#define OS3_XML_MAX (1024 * 1024)
#define OS3_DELETE_MAX 1000           /* objects per DeleteObjects */
#define OS3_PARTS_MAX 10000           /* parts per multipart upload */

/* ------------------------------------------------------------- DeleteObjects -- */

typedef struct os3_delete_object {
    char *key;
    char *version_id;                 /* NULL when absent */
} os3_delete_object;

typedef struct os3_delete_request {
    os3_delete_object *objects;
    size_t n_objects;                 /* 1..OS3_DELETE_MAX */
    bool quiet;
} os3_delete_request;

/* <Delete><Quiet>true</Quiet><Object><Key>k</Key><VersionId>v</VersionId></Object>...
 * ETag, LastModifiedTime and Size in Object (conditional deletes) are
 * ignored. An empty Key is MalformedXML; one longer than OS3_KEY_MAX is
 * KeyTooLongError. */
int os3_xml_parse_delete(const void *body, size_t len, os3_delete_request **out,
                         enum os3_error *err);
void os3_delete_request_free(os3_delete_request *r);

/* ------------------------------------------------- CompleteMultipartUpload -- */

typedef struct os3_complete_part {
    int part_number;                  /* 1..10000 */
    char *etag;                       /* surrounding quotes removed */
} os3_complete_part;

typedef struct os3_complete_request {
    os3_complete_part *parts;
    size_t n_parts;                   /* >= 1, part numbers strictly ascending */
} os3_complete_request;

/* <CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"..."</ETag>
 * </Part>...; checksum elements of a Part are ignored. Part numbers out of
 * 1..10000 are InvalidArgument, not strictly ascending InvalidPartOrder. */
int os3_xml_parse_complete(const void *body, size_t len, os3_complete_request **out,
                           enum os3_error *err);
void os3_complete_request_free(os3_complete_request *r);

/* ---------------------------------------------------- PutBucketVersioning -- */


/* <VersioningConfiguration><Status>Enabled|Suspended</Status>; MfaDelete is
 * accepted and ignored (radiant has no MFA). No Status gives
 * OS3_VERSIONING_OFF, which means: leave the bucket as it is. */
int os3_xml_parse_versioning(const void *body, size_t len, enum os3_versioning *out,
                             enum os3_error *err);

/* ------------------------------------------ PutBucketLifecycleConfiguration -- */


/* <LifecycleConfiguration><Rule>... with S3's validation: Status required;
 * Filter and legacy Prefix exclusive; at least one action (InvalidRequest);
 * Days, NoncurrentDays, DaysAfterInitiation positive and a Date at midnight
 * UTC (InvalidArgument); ExpiredObjectDeleteMarker not with Days or Date
 * (InvalidArgument); NewerNoncurrentVersions 1..100 (InvalidArgument); IDs of
 * at most 255 characters and unique (InvalidArgument). Tag and object-size
 * filters and transitions are NotImplemented: radiant has neither tags nor
 * storage classes, and silently ignoring them would expire the wrong objects. */
/* The result is store.h's os3_lifecycle (expiration_date 0 when absent; a
 * rule without ID gets none, the caller names it), freed with
 * os3_lifecycle_free. */
int os3_xml_parse_lifecycle(const void *body, size_t len, os3_lifecycle **out,
                            enum os3_error *err);
void os3_lifecycle_free(os3_lifecycle *l);
/* Writes the configuration back as GetBucketLifecycleConfiguration answers. */
void os3_xml_write_lifecycle(const os3_lifecycle *l, rd_buf *out);

/* ------------------------------------------------------------ CreateBucket -- */

/* <CreateBucketConfiguration><LocationConstraint>eu-west-1</...>. An empty
 * body is allowed (us-east-1): *location is then NULL, as it is for an empty
 * LocationConstraint. The caller frees *location. */
int os3_xml_parse_create_bucket(const void *body, size_t len, char **location,
                                enum os3_error *err);

/* ------------------------------------------------------------------ writer -- */

/* Builds a response document in memory. The first element opened gets the S3
 * namespace. Text is escaped for XML 1.0: & < > " ' and CR, LF, TAB as
 * character references (so that parsers keep them), other control characters
 * as &#xN; as S3 does (clients that care ask for encoding-type=url). */
typedef struct os3_xmlw {
    rd_buf buf;
    const char *stack[16];            /* names of open elements (not copied) */
    int depth;
    bool rooted;                      /* the root element (with xmlns) is written */
} os3_xmlw;

void os3_xmlw_init(os3_xmlw *w);
/* name must outlive the element (string literals in practice). */
void os3_xmlw_begin(os3_xmlw *w, const char *name);
void os3_xmlw_end(os3_xmlw *w);
/* <name>escaped text</name> */
void os3_xmlw_text(os3_xmlw *w, const char *name, const char *text);
void os3_xmlw_int(os3_xmlw *w, const char *name, int64_t v);
void os3_xmlw_bool(os3_xmlw *w, const char *name, bool v);
/* <name>2024-12-24T10:30:00.000Z</name> from microseconds since the epoch. */
void os3_xmlw_time(os3_xmlw *w, const char *name, int64_t us);
/* Closes open elements and moves the document (NUL-terminated) into out. */
void os3_xmlw_finish(os3_xmlw *w, rd_buf *out);
void os3_xmlw_free(os3_xmlw *w);
/* Appends text escaped as above. */
void os3_xml_escape(const char *text, rd_buf *out);

/* The S3 error document (no namespace, as S3 sends it):
 * <Error><Code/><Message/><Resource/><RequestId/></Error>. message NULL uses
 * os3_error_message(e); resource and request_id may be NULL (omitted). */
void os3_xml_error(enum os3_error e, const char *message, const char *resource,
                   const char *request_id, rd_buf *out);

#endif
