/* The libmicrohttpd functions radiant calls, forwarding to
 * libmicrohttpd.so.12 loaded on first use (see lazylib.h). A function
 * radiant starts to call must be added here, or the link fails (radiant is
 * not linked with -lmicrohttpd). */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include <microhttpd.h>

#include "core/lazylib.h"

#define LIBMHD_FUNCTIONS(X)                                                              \
    X(MHD_add_response_header) X(MHD_create_response_from_buffer)                        \
    X(MHD_create_response_from_callback) X(MHD_create_response_from_fd_at_offset64)      \
    X(MHD_destroy_response)                                                              \
    X(MHD_get_connection_values) X(MHD_queue_response) X(MHD_start_daemon)               \
    X(MHD_stop_daemon)

RD_LAZYLIB_DEFINE("libmicrohttpd.so.12", "libmicrohttpd12", LIBMHD_FUNCTIONS)

#define REAL(name) RD_LAZY_REAL(name)

/* A variadic option list cannot be forwarded as it is, so radiant passes
 * its options as one MHD_OPTION_ARRAY (or none); anything else is a
 * programming error caught the first time the server starts. */
struct MHD_Daemon *MHD_start_daemon(unsigned int flags, uint16_t port,
                                    MHD_AcceptPolicyCallback apc, void *apc_cls,
                                    MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
    va_list ap;
    va_start(ap, dh_cls);
    enum MHD_OPTION option = va_arg(ap, enum MHD_OPTION);
    struct MHD_OptionItem *items = NULL;
    if (option == MHD_OPTION_ARRAY) {
        items = va_arg(ap, struct MHD_OptionItem *);
        option = va_arg(ap, enum MHD_OPTION);
    }
    va_end(ap);
    if (option != MHD_OPTION_END) {
        fprintf(stderr, "radiant: MHD_start_daemon takes its options as one "
                "MHD_OPTION_ARRAY here (src/core/libmicrohttpd_lazy.c)\n");
        _exit(70);
    }
    if (items)
        return REAL(MHD_start_daemon)(flags, port, apc, apc_cls, dh, dh_cls, MHD_OPTION_ARRAY,
                                      items, MHD_OPTION_END);
    return REAL(MHD_start_daemon)(flags, port, apc, apc_cls, dh, dh_cls, MHD_OPTION_END);
}

void MHD_stop_daemon(struct MHD_Daemon *daemon) { REAL(MHD_stop_daemon)(daemon); }

int MHD_get_connection_values(struct MHD_Connection *connection, enum MHD_ValueKind kind,
                              MHD_KeyValueIterator iterator, void *iterator_cls)
{
    return REAL(MHD_get_connection_values)(connection, kind, iterator, iterator_cls);
}

enum MHD_Result MHD_queue_response(struct MHD_Connection *connection, unsigned int status_code,
                                   struct MHD_Response *response)
{
    return REAL(MHD_queue_response)(connection, status_code, response);
}

struct MHD_Response *MHD_create_response_from_callback(uint64_t size, size_t block_size,
                                                       MHD_ContentReaderCallback crc,
                                                       void *crc_cls,
                                                       MHD_ContentReaderFreeCallback crfc)
{
    return REAL(MHD_create_response_from_callback)(size, block_size, crc, crc_cls, crfc);
}

struct MHD_Response *MHD_create_response_from_buffer(size_t size, void *buffer,
                                                     enum MHD_ResponseMemoryMode mode)
{
    return REAL(MHD_create_response_from_buffer)(size, buffer, mode);
}

struct MHD_Response *MHD_create_response_from_fd_at_offset64(uint64_t size, int fd,
                                                            uint64_t offset)
{
    return REAL(MHD_create_response_from_fd_at_offset64)(size, fd, offset);
}

void MHD_destroy_response(struct MHD_Response *response) { REAL(MHD_destroy_response)(response); }

enum MHD_Result MHD_add_response_header(struct MHD_Response *response, const char *header,
                                        const char *content)
{
    return REAL(MHD_add_response_header)(response, header, content);
}
