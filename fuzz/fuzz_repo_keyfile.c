/* libFuzzer target: key files (JSON with scrypt parameters and the wrapped key). */
#include <stddef.h>
#include <stdint.h>

#include "repo/internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    repo_keyfile kf;
    repo_keyfile_parse(data, size, &kf);
    return 0;
}
