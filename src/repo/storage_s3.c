/* S3 storage driver (in progress). */
#include "core/error.h"
#include "repo/storage.h"

int repo_storage_s3_new(const rd_config_section *sec, repo_storage **out)
{
    (void)sec, (void)out;
    return rd_fail(RD_ECONFIG, "s3 repositories are not built yet");
}
