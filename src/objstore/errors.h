/* S3 error codes of radiant's object store (private to src/objstore): one enum
 * that the protocol functions (SigV4 verification, aws-chunked decoding, XML
 * bodies) report and the HTTP front turns into a status line and an error
 * document. Names and statuses follow "Error Responses" / "List of error codes"
 * in the Amazon S3 API reference. */
#ifndef RD_OBJSTORE_ERRORS_H
#define RD_OBJSTORE_ERRORS_H

enum os3_error {
    OS3_OK = 0,
    OS3_ACCESS_DENIED,
    OS3_AUTHORIZATION_HEADER_MALFORMED,
    OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR,
    OS3_BAD_DIGEST,
    OS3_BUCKET_ALREADY_EXISTS,
    OS3_BUCKET_ALREADY_OWNED_BY_YOU,
    OS3_BUCKET_NOT_EMPTY,
    OS3_ENTITY_TOO_LARGE,
    OS3_ENTITY_TOO_SMALL,
    OS3_INCOMPLETE_BODY,
    OS3_INTERNAL_ERROR,
    OS3_INVALID_ACCESS_KEY_ID,
    OS3_INVALID_ARGUMENT,
    OS3_INVALID_BUCKET_NAME,
    OS3_INVALID_DIGEST,
    OS3_INVALID_PART,
    OS3_INVALID_PART_ORDER,
    OS3_INVALID_RANGE,
    OS3_INVALID_REQUEST,
    OS3_KEY_TOO_LONG,
    OS3_MALFORMED_XML,
    OS3_METHOD_NOT_ALLOWED,
    OS3_MISSING_CONTENT_LENGTH,
    OS3_MISSING_SECURITY_HEADER,
    OS3_NO_SUCH_BUCKET,
    OS3_NO_SUCH_KEY,
    OS3_NO_SUCH_LIFECYCLE_CONFIGURATION,
    OS3_NO_SUCH_UPLOAD,
    OS3_NO_SUCH_VERSION,
    OS3_NOT_IMPLEMENTED,
    OS3_NOT_MODIFIED,
    OS3_PRECONDITION_FAILED,
    OS3_REQUEST_TIME_TOO_SKEWED,
    OS3_SERVICE_UNAVAILABLE,
    OS3_SIGNATURE_DOES_NOT_MATCH,
    OS3_SLOW_DOWN,
    OS3_X_AMZ_CONTENT_SHA256_MISMATCH,
    OS3_ERROR_COUNT
};

/* The S3 Code ("NoSuchKey"); "InternalError" for an out-of-range value. */
const char *os3_error_code(enum os3_error e);
/* The HTTP status S3 answers with (404 for NoSuchKey); 500 when out of range. */
int os3_error_status(enum os3_error e);
/* The generic Message S3 uses when nothing more specific is known. */
const char *os3_error_message(enum os3_error e);
/* The enum for an S3 Code, case-sensitive; OS3_INTERNAL_ERROR when unknown. */
enum os3_error os3_error_from_code(const char *code);

#endif
