/* radiant repo: create, back up to, restore from, verify and prune backup
 * repositories. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/error.h"
#include "repo/repo.h"

static const cli_command repo_commands[] = {
    { NULL, NULL, NULL, NULL },
};

const cli_group cli_repo_group = {
    "repo", "backup repositories: init, backup-dir, restore-dir, list, check, prune",
    repo_commands,
};
