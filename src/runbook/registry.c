/* The runbooks radiant ships, in the order `radiant runbook list` shows them.
 * A new runbook is one file defining its `const rb_runbook` and one line
 * here; neither the engine (runbook.c) nor the CLI changes. A runbook that is
 * not listed here (the unit tests' own) can still be run with rb_execute. */
#include <string.h>

#include "runbook/runbook.h"

extern const rb_runbook rb_database_recovery;   /* database.c */
extern const rb_runbook rb_object_recovery;     /* object.c */

static const rb_runbook *const runbooks[] = {
    &rb_database_recovery,
    &rb_object_recovery,
};

const rb_runbook *const *rb_list(size_t *n)
{
    *n = sizeof runbooks / sizeof runbooks[0];
    return runbooks;
}

const rb_runbook *rb_find(const char *name)
{
    for (size_t i = 0; i < sizeof runbooks / sizeof runbooks[0]; i++)
        if (strcmp(runbooks[i]->name, name) == 0)
            return runbooks[i];
    return NULL;
}
