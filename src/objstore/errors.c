/* The table of S3 error codes, HTTP statuses and default messages ("Error
 * Responses", Amazon S3 API reference). */
#include "objstore/errors.h"

#include <string.h>

static const struct os3_error_info {
    const char *code;
    int status;
    const char *message;
} os3_errors[OS3_ERROR_COUNT] = {
    [OS3_OK] = { "OK", 200, "OK" },
    [OS3_ACCESS_DENIED] = { "AccessDenied", 403, "Access Denied" },
    [OS3_AUTHORIZATION_HEADER_MALFORMED] = { "AuthorizationHeaderMalformed", 400,
        "The authorization header you provided is invalid." },
    [OS3_AUTHORIZATION_QUERY_PARAMETERS_ERROR] = { "AuthorizationQueryParametersError", 400,
        "Error parsing the X-Amz-Credential parameter." },
    [OS3_BAD_DIGEST] = { "BadDigest", 400,
        "The Content-MD5 you specified did not match what we received." },
    [OS3_BUCKET_ALREADY_EXISTS] = { "BucketAlreadyExists", 409,
        "The requested bucket name is not available." },
    [OS3_BUCKET_ALREADY_OWNED_BY_YOU] = { "BucketAlreadyOwnedByYou", 409,
        "Your previous request to create the named bucket succeeded and you already own it." },
    [OS3_BUCKET_NOT_EMPTY] = { "BucketNotEmpty", 409,
        "The bucket you tried to delete is not empty." },
    [OS3_ENTITY_TOO_LARGE] = { "EntityTooLarge", 400,
        "Your proposed upload exceeds the maximum allowed object size." },
    [OS3_ENTITY_TOO_SMALL] = { "EntityTooSmall", 400,
        "Your proposed upload is smaller than the minimum allowed object size." },
    [OS3_INCOMPLETE_BODY] = { "IncompleteBody", 400,
        "You did not provide the number of bytes specified by the Content-Length HTTP header." },
    [OS3_INTERNAL_ERROR] = { "InternalError", 500,
        "We encountered an internal error. Please try again." },
    [OS3_INVALID_ACCESS_KEY_ID] = { "InvalidAccessKeyId", 403,
        "The AWS access key ID you provided does not exist in our records." },
    [OS3_INVALID_ARGUMENT] = { "InvalidArgument", 400, "Invalid Argument" },
    [OS3_INVALID_BUCKET_NAME] = { "InvalidBucketName", 400,
        "The specified bucket is not valid." },
    [OS3_INVALID_DIGEST] = { "InvalidDigest", 400,
        "The Content-MD5 you specified is not valid." },
    [OS3_INVALID_PART] = { "InvalidPart", 400,
        "One or more of the specified parts could not be found." },
    [OS3_INVALID_PART_ORDER] = { "InvalidPartOrder", 400,
        "The list of parts was not in ascending order." },
    [OS3_INVALID_RANGE] = { "InvalidRange", 416, "The requested range is not satisfiable" },
    [OS3_INVALID_REQUEST] = { "InvalidRequest", 400, "Invalid Request" },
    [OS3_KEY_TOO_LONG] = { "KeyTooLongError", 400, "Your key is too long" },
    [OS3_MALFORMED_XML] = { "MalformedXML", 400,
        "The XML you provided was not well-formed or did not validate against our "
        "published schema" },
    [OS3_METHOD_NOT_ALLOWED] = { "MethodNotAllowed", 405,
        "The specified method is not allowed against this resource." },
    [OS3_MISSING_CONTENT_LENGTH] = { "MissingContentLength", 411,
        "You must provide the Content-Length HTTP header." },
    [OS3_MISSING_SECURITY_HEADER] = { "MissingSecurityHeader", 400,
        "Your request is missing a required header." },
    [OS3_NO_SUCH_BUCKET] = { "NoSuchBucket", 404, "The specified bucket does not exist" },
    [OS3_NO_SUCH_KEY] = { "NoSuchKey", 404, "The specified key does not exist." },
    [OS3_NO_SUCH_LIFECYCLE_CONFIGURATION] = { "NoSuchLifecycleConfiguration", 404,
        "The lifecycle configuration does not exist" },
    [OS3_NO_SUCH_UPLOAD] = { "NoSuchUpload", 404,
        "The specified upload does not exist. The upload ID may be invalid, or the upload "
        "may have been aborted or completed." },
    [OS3_NO_SUCH_VERSION] = { "NoSuchVersion", 404,
        "The specified version does not exist." },
    [OS3_NOT_IMPLEMENTED] = { "NotImplemented", 501,
        "A header you provided implies functionality that is not implemented" },
    [OS3_NOT_MODIFIED] = { "NotModified", 304, "Not Modified" },
    [OS3_PRECONDITION_FAILED] = { "PreconditionFailed", 412,
        "At least one of the preconditions you specified did not hold" },
    [OS3_REQUEST_TIME_TOO_SKEWED] = { "RequestTimeTooSkewed", 403,
        "The difference between the request time and the current time is too large." },
    [OS3_SERVICE_UNAVAILABLE] = { "ServiceUnavailable", 503,
        "Please reduce your request rate." },
    [OS3_SIGNATURE_DOES_NOT_MATCH] = { "SignatureDoesNotMatch", 403,
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method." },
    [OS3_SLOW_DOWN] = { "SlowDown", 503, "Please reduce your request rate." },
    [OS3_X_AMZ_CONTENT_SHA256_MISMATCH] = { "XAmzContentSHA256Mismatch", 400,
        "The provided 'x-amz-content-sha256' header does not match what was computed." },
};

static const struct os3_error_info *info(enum os3_error e)
{
    if ((unsigned)e >= OS3_ERROR_COUNT || !os3_errors[e].code)
        return &os3_errors[OS3_INTERNAL_ERROR];
    return &os3_errors[e];
}

const char *os3_error_code(enum os3_error e)
{
    return info(e)->code;
}

int os3_error_status(enum os3_error e)
{
    return info(e)->status;
}

const char *os3_error_message(enum os3_error e)
{
    return info(e)->message;
}

enum os3_error os3_error_from_code(const char *code)
{
    for (int e = 0; code && e < OS3_ERROR_COUNT; e++)
        if (os3_errors[e].code && strcmp(os3_errors[e].code, code) == 0)
            return (enum os3_error)e;
    return OS3_INTERNAL_ERROR;
}
