/* libFuzzer target for the S3 XML body parsers: every input goes to each of
 * the five parsers. Whatever parses is used (lifecycle rules are written back
 * and must parse again to as many rules; delete keys are escaped and the
 * escape must not contain a raw '<' or '&'), and a failure must name an S3
 * error. Catches leaks on every error path as well. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "objstore/xml.h"

static void check_err(int rc, enum os3_error err)
{
    if ((rc == 0) != (err == OS3_OK))
        __builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    enum os3_error err;
    os3_delete_request *d;
    int rc = os3_xml_parse_delete(data, size, &d, &err);
    check_err(rc, err);
    if (rc == 0) {
        if (d->n_objects == 0 || d->n_objects > OS3_DELETE_MAX)
            __builtin_trap();
        rd_buf b = RD_BUF_INIT;
        for (size_t i = 0; i < d->n_objects; i++) {
            rd_buf_reset(&b);
            os3_xml_escape(d->objects[i].key, &b);
            if (memchr(b.data, '<', b.len))
                __builtin_trap();
        }
        rd_buf_free(&b);
        os3_delete_request_free(d);
    }

    os3_complete_request *c;
    rc = os3_xml_parse_complete(data, size, &c, &err);
    check_err(rc, err);
    if (rc == 0) {
        for (size_t i = 1; i < c->n_parts; i++)
            if (c->parts[i].part_number <= c->parts[i - 1].part_number)
                __builtin_trap();
        os3_complete_request_free(c);
    }

    enum os3_versioning v;
    check_err(os3_xml_parse_versioning(data, size, &v, &err), err);

    os3_lifecycle *l;
    rc = os3_xml_parse_lifecycle(data, size, &l, &err);
    check_err(rc, err);
    if (rc == 0) {
        rd_buf out = RD_BUF_INIT;
        os3_xml_write_lifecycle(l, &out);
        os3_lifecycle *l2;
        if (os3_xml_parse_lifecycle(out.data, out.len, &l2, &err) != 0 ||
            l2->n_rules != l->n_rules)
            __builtin_trap();
        os3_lifecycle_free(l2);
        rd_buf_free(&out);
        os3_lifecycle_free(l);
    }

    char *loc;
    rc = os3_xml_parse_create_bucket(data, size, &loc, &err);
    check_err(rc, err);
    free(loc);
    return 0;
}
