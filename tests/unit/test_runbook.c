/* Unit tests for the runbook engine (src/runbook/runbook.c) on a runbook
 * defined here and never registered: steps run in order with their times,
 * the first failure stops the run and skips the rest, the observer hears
 * every start and end in order, outputs and messages are recorded, the JSON
 * has the documented shape, and arguments are checked against parameters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/error.h"
#include "runbook/runbook.h"

/* ------------------------------------------------- the test runbook -- */

struct test_state {
    int calls;                         /* steps run, in this state */
    int finished;
};

static char trace[256];                /* step names in the order they ran */
static int finish_calls;

static void sleep_ms(long ms)
{
    nanosleep(&(struct timespec){ 0, ms * 1000000 }, NULL);
}

static int step_first(rb_context *ctx)
{
    struct test_state *st = ctx->state;
    st->calls++;
    strcat(trace, "first,");
    sleep_ms(20);
    rb_output_str(ctx, "Name", "%s", rb_args_get(ctx->args, "name"));
    rb_message(ctx, "hello\nworld");
    return 0;
}

static int step_second(rb_context *ctx)
{
    struct test_state *st = ctx->state;
    st->calls++;
    strcat(trace, "second,");
    rb_output_int(ctx, "Port", 5433);
    if (rb_args_get(ctx->args, "fail"))
        return rd_fail(RD_ERANGE, "out of the window: EarliestRestorableTime x");
    return 0;
}

static int step_third(rb_context *ctx)
{
    struct test_state *st = ctx->state;
    st->calls++;
    strcat(trace, "third,");
    rb_output_int(ctx, "Port", 5434);   /* replaces the earlier value */
    return 0;
}

static void test_finish(rb_context *ctx)
{
    struct test_state *st = ctx->state;
    assert_int_equal(st->finished, 0);
    st->finished = 1;
    finish_calls++;
    /* the record is complete when finish runs */
    assert_true(ctx->run->status == RB_OK || ctx->run->status == RB_FAILED);
}

static int test_check(const rb_args *args)
{
    const char *n = rb_args_get(args, "name");
    if (n && strcmp(n, "bad") == 0)
        return rd_fail(RD_EUSAGE, "--name must not be bad");
    return 0;
}

static const rb_param test_params[] = {
    { "name", "N", "a name", true },
    { "fail", NULL, "make the second step fail", false },
    { NULL, NULL, NULL, false },
};

static const rb_step test_steps[] = {
    { "first", "the first step", step_first },
    { "second", "the second step", step_second },
    { "third", "the third step", step_third },
};

static const rb_runbook test_runbook = {
    .name = "test-runbook",
    .summary = "a runbook for the unit tests",
    .params = test_params,
    .steps = test_steps,
    .n_steps = 3,
    .state_size = sizeof(struct test_state),
    .check = test_check,
    .finish = test_finish,
};

/* Observer: "S0 E0 S1 E1 ..." with checks that the record matches the event. */
struct seen {
    char log[256];
    int run_start, run_end;
};

static void observe(void *arg, enum rb_event ev, const rb_run *run, size_t i)
{
    struct seen *s = arg;
    char item[16];
    switch (ev) {
    case RB_EVENT_RUN_START:
        s->run_start++;
        assert_int_equal(run->steps[0].status, RB_PENDING);
        return;
    case RB_EVENT_RUN_END:
        s->run_end++;
        assert_true(run->end_us >= run->start_us);
        return;
    case RB_EVENT_STEP_START:
        assert_int_equal(run->steps[i].status, RB_RUNNING);
        assert_true(run->steps[i].start_us > 0);
        assert_int_equal(run->steps[i].end_us, 0);
        snprintf(item, sizeof item, "S%zu ", i);
        break;
    case RB_EVENT_STEP_END:
        assert_true(run->steps[i].status == RB_OK || run->steps[i].status == RB_FAILED);
        assert_true(run->steps[i].end_us >= run->steps[i].start_us);
        snprintf(item, sizeof item, "E%zu ", i);
        break;
    }
    strcat(s->log, item);
}

static void args_of(rb_args *a, int argc, char **argv)
{
    assert_int_equal(rb_args_parse(&test_runbook, argc, argv, a), 0);
}

/* ---------------------------------------------------------------- tests -- */

static void test_success_order_and_times(void **state)
{
    (void)state;
    trace[0] = '\0';
    finish_calls = 0;
    rb_args a = { 0 };
    char *argv[] = { "--name", "db1" };
    args_of(&a, 2, argv);
    struct seen seen = { 0 };
    rb_env env = { .observer = observe, .observer_arg = &seen };
    rb_run run;
    int64_t before = rd_clock_now_us();
    assert_int_equal(rb_execute(&test_runbook, &a, &env, &run), 0);
    int64_t after = rd_clock_now_us();

    assert_string_equal(trace, "first,second,third,");
    assert_string_equal(seen.log, "S0 E0 S1 E1 S2 E2 ");
    assert_int_equal(seen.run_start, 1);
    assert_int_equal(seen.run_end, 1);
    assert_int_equal(finish_calls, 1);
    assert_int_equal(run.status, RB_OK);
    assert_int_equal(run.rc, 0);
    assert_int_equal(run.failed_step, -1);
    assert_null(run.error);
    assert_string_equal(run.runbook, "test-runbook");
    assert_int_equal(run.n_steps, 3);
    int64_t prev_end = run.start_us;
    for (size_t i = 0; i < 3; i++) {
        const rb_step_result *s = &run.steps[i];
        assert_string_equal(s->name, test_steps[i].name);
        assert_int_equal(s->status, RB_OK);
        assert_true(s->start_us >= prev_end);
        assert_true(s->end_us >= s->start_us);
        assert_true(s->duration_ns >= 0);
        prev_end = s->end_us;
    }
    assert_true(run.start_us >= before && run.end_us <= after);
    assert_true(run.steps[0].duration_ns >= 20 * 1000000);   /* it slept 20 ms */
    assert_true(run.duration_ns >= run.steps[0].duration_ns);
    assert_string_equal(run.steps[0].message, "hello world");  /* one line */
    assert_string_equal(rb_run_output(&run, "Name"), "db1");
    assert_string_equal(rb_run_output(&run, "Port"), "5434");
    assert_null(rb_run_output(&run, "Nothing"));
    assert_int_equal(run.n_outputs, 2);
    rb_run_clear(&run);
    rb_args_clear(&a);
}

static void test_failure_skips_the_rest(void **state)
{
    (void)state;
    trace[0] = '\0';
    finish_calls = 0;
    rb_args a = { 0 };
    char *argv[] = { "--name=x", "--fail" };
    args_of(&a, 2, argv);
    struct seen seen = { 0 };
    rb_env env = { .observer = observe, .observer_arg = &seen };
    rb_run run;
    int rc = rb_execute(&test_runbook, &a, &env, &run);
    assert_int_equal(rc, -RD_ERANGE);
    assert_string_equal(rd_error(), "test-runbook, step second: out of the window: "
                        "EarliestRestorableTime x");
    assert_string_equal(trace, "first,second,");        /* third never ran */
    assert_string_equal(seen.log, "S0 E0 S1 E1 ");
    assert_int_equal(seen.run_end, 1);
    assert_int_equal(finish_calls, 1);                   /* finish runs after a failure too */
    assert_int_equal(run.status, RB_FAILED);
    assert_int_equal(run.rc, -RD_ERANGE);
    assert_int_equal(run.failed_step, 1);
    assert_string_equal(run.error, "out of the window: EarliestRestorableTime x");
    assert_int_equal(run.steps[0].status, RB_OK);
    assert_int_equal(run.steps[1].status, RB_FAILED);
    assert_int_equal(run.steps[1].rc, -RD_ERANGE);
    assert_string_equal(run.steps[1].message, run.error);
    assert_int_equal(run.steps[2].status, RB_SKIPPED);
    assert_int_equal(run.steps[2].start_us, 0);
    assert_int_equal(run.steps[2].end_us, 0);
    assert_int_equal(run.steps[2].duration_ns, 0);
    assert_string_equal(rb_run_output(&run, "Port"), "5433");  /* set before failing */

    /* JSON: the documented shape */
    json_t *j = rb_run_json(&run);
    assert_string_equal(json_string_value(json_object_get(j, "Runbook")), "test-runbook");
    assert_string_equal(json_string_value(json_object_get(j, "Status")), "failed");
    assert_true(json_is_string(json_object_get(j, "Start")));
    assert_true(json_is_real(json_object_get(j, "Seconds")));
    json_t *steps = json_object_get(j, "Steps");
    assert_int_equal(json_array_size(steps), 3);
    const char *statuses[] = { "ok", "failed", "skipped" };
    for (size_t i = 0; i < 3; i++) {
        json_t *s = json_array_get(steps, i);
        assert_string_equal(json_string_value(json_object_get(s, "Name")), test_steps[i].name);
        assert_string_equal(json_string_value(json_object_get(s, "Description")),
                            test_steps[i].description);
        assert_string_equal(json_string_value(json_object_get(s, "Status")), statuses[i]);
        assert_true(json_is_string(json_object_get(s, "Message")));
        if (i < 2) {
            const char *start = json_string_value(json_object_get(s, "Start"));
            assert_non_null(start);
            assert_int_equal(strlen(start), 24);          /* 2024-12-24T10:30:00.000Z */
            assert_int_equal(start[23], 'Z');
            assert_true(json_is_string(json_object_get(s, "End")));
            assert_true(json_is_real(json_object_get(s, "Seconds")));
        } else {
            assert_true(json_is_null(json_object_get(s, "Start")));
            assert_true(json_is_null(json_object_get(s, "End")));
            assert_true(json_is_null(json_object_get(s, "Seconds")));
        }
    }
    json_t *outputs = json_object_get(j, "Outputs");
    assert_string_equal(json_string_value(json_object_get(outputs, "Name")), "x");
    assert_int_equal(json_integer_value(json_object_get(outputs, "Port")), 5433);
    json_t *err = json_object_get(j, "Error");
    assert_string_equal(json_string_value(json_object_get(err, "Step")), "second");
    assert_string_equal(json_string_value(json_object_get(err, "Code")), "out-of-range");
    assert_int_equal(json_integer_value(json_object_get(err, "Exit")), 11);
    json_decref(j);
    rb_run_clear(&run);
    rb_args_clear(&a);
}

static void test_json_success(void **state)
{
    (void)state;
    rb_args a = { 0 };
    char *argv[] = { "--name", "n" };
    args_of(&a, 2, argv);
    rb_run run;
    assert_int_equal(rb_execute(&test_runbook, &a, NULL, &run), 0);  /* no observer */
    json_t *j = rb_run_json(&run);
    assert_string_equal(json_string_value(json_object_get(j, "Status")), "succeeded");
    assert_null(json_object_get(j, "Error"));
    json_t *s0 = json_array_get(json_object_get(j, "Steps"), 0);
    assert_true(json_real_value(json_object_get(s0, "Seconds")) >= 0.02);
    json_decref(j);
    rb_run_clear(&run);
    rb_run_clear(&run);                                  /* clearing twice is harmless */
    rb_args_clear(&a);
}

static void test_args(void **state)
{
    (void)state;
    rb_args a = { 0 };
    char *missing[] = { "--fail" };
    assert_int_equal(rb_args_parse(&test_runbook, 1, missing, &a), -RD_EUSAGE);
    assert_non_null(strstr(rd_error(), "needs --name"));
    char *unknown[] = { "--name", "x", "--port", "1" };
    assert_int_equal(rb_args_parse(&test_runbook, 4, unknown, &a), -RD_EUSAGE);
    assert_non_null(strstr(rd_error(), "--port"));
    assert_non_null(strstr(rd_error(), "its options: --name, --fail"));
    char *twice[] = { "--name", "x", "--name", "y" };
    assert_int_equal(rb_args_parse(&test_runbook, 4, twice, &a), -RD_EUSAGE);
    char *novalue[] = { "--name" };
    assert_int_equal(rb_args_parse(&test_runbook, 1, novalue, &a), -RD_EUSAGE);
    char *flagvalue[] = { "--name", "x", "--fail=yes" };
    assert_int_equal(rb_args_parse(&test_runbook, 3, flagvalue, &a), -RD_EUSAGE);
    char *positional[] = { "x" };
    assert_int_equal(rb_args_parse(&test_runbook, 1, positional, &a), -RD_EUSAGE);
    char *checked[] = { "--name", "bad" };
    assert_int_equal(rb_args_parse(&test_runbook, 2, checked, &a), -RD_EUSAGE);
    assert_string_equal(rd_error(), "--name must not be bad");
    assert_int_equal(a.n, 0);                            /* nothing kept after an error */
    char *good[] = { "--name", "ok", "--fail" };
    assert_int_equal(rb_args_parse(&test_runbook, 3, good, &a), 0);
    assert_string_equal(rb_args_get(&a, "name"), "ok");
    assert_string_equal(rb_args_get(&a, "fail"), "");
    assert_null(rb_args_get(&a, "other"));
    rb_args_clear(&a);
}

static void test_registry(void **state)
{
    (void)state;
    size_t n = 0;
    const rb_runbook *const *all = rb_list(&n);
    assert_true(n >= 1);
    for (size_t i = 0; i < n; i++) {
        assert_ptr_equal(rb_find(all[i]->name), all[i]);
        assert_true(all[i]->n_steps > 0);
        assert_non_null(all[i]->summary);
    }
    const rb_runbook *db = rb_find("database-recovery");
    assert_non_null(db);
    const char *expect[] = { "resolve", "restore-db-cluster-to-point-in-time",
                             "wait db-cluster-available", "verify", "endpoint" };
    assert_int_equal(db->n_steps, 5);
    for (size_t i = 0; i < 5; i++)
        assert_string_equal(db->steps[i].name, expect[i]);
    assert_null(rb_find("test-runbook"));                /* the test's own is not shipped */
    assert_null(rb_find("nope"));

    /* database-recovery's argument checks are usage errors before anything runs */
    rb_args a = { 0 };
    char *bad_time[] = { "--source-db-cluster-identifier", "prod", "--restore-to-time", "x" };
    assert_int_equal(rb_args_parse(db, 4, bad_time, &a), -RD_EUSAGE);
    char *both[] = { "--source-db-cluster-identifier", "prod", "--restore-to-time",
                     "2024-12-24T09:00:00Z", "--use-latest-restorable-time" };
    assert_int_equal(rb_args_parse(db, 5, both, &a), -RD_EUSAGE);
    char *bad_id[] = { "--source-db-cluster-identifier", "prod", "--db-cluster-identifier",
                       "9bad" };
    assert_int_equal(rb_args_parse(db, 4, bad_id, &a), -RD_EUSAGE);
    char *bad_port[] = { "--source-db-cluster-identifier", "prod", "--port", "70000" };
    assert_int_equal(rb_args_parse(db, 4, bad_port, &a), -RD_EUSAGE);
    char *ok[] = { "--source-db-cluster-identifier", "prod", "--restore-to-time",
                   "2024-12-24T09:00:00Z", "--port", "5440" };
    assert_int_equal(rb_args_parse(db, 6, ok, &a), 0);
    rb_args_clear(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_success_order_and_times),
        cmocka_unit_test(test_failure_skips_the_rest),
        cmocka_unit_test(test_json_success),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
