/* The runbook engine: arguments checked against a runbook's parameters, steps
 * run in order with their times, results and messages recorded, the first
 * failure stopping the run, and the record rendered as JSON. Knows nothing
 * of what any runbook does (see runbook.h). */
#include "runbook/runbook.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/clock.h"
#include "core/error.h"

/* ----------------------------------------------------------- arguments -- */

void rb_args_clear(rb_args *a)
{
    for (size_t i = 0; i < a->n; i++) {
        free(a->items[i].name);
        free(a->items[i].value);
    }
    free(a->items);
    a->items = NULL;
    a->n = 0;
}

const char *rb_args_get(const rb_args *a, const char *name)
{
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->items[i].name, name) == 0)
            return a->items[i].value;
    return NULL;
}

int rb_args_set(rb_args *a, const char *name, const char *value)
{
    if (rb_args_get(a, name))
        return rd_fail(RD_EUSAGE, "--%s is given twice", name);
    a->items = rd_realloc(a->items, (a->n + 1) * sizeof *a->items);
    a->items[a->n].name = rd_strdup(name);
    a->items[a->n].value = rd_strdup(value ? value : "");
    a->n++;
    return 0;
}

static const rb_param *param_find(const rb_runbook *rb, const char *name, size_t len)
{
    for (const rb_param *p = rb->params; p && p->name; p++)
        if (strlen(p->name) == len && strncmp(p->name, name, len) == 0)
            return p;
    return NULL;
}

/* "--a ID, --b" for messages that list what a runbook takes. */
static void param_names(const rb_runbook *rb, char *out, size_t len)
{
    size_t used = 0;
    out[0] = '\0';
    for (const rb_param *p = rb->params; p && p->name && used < len; p++)
        used += (size_t)snprintf(out + used, len - used, "%s--%s", used ? ", " : "", p->name);
    if (!out[0])
        snprintf(out, len, "none");
}

int rb_args_check(const rb_runbook *rb, const rb_args *args)
{
    char names[512];
    for (size_t i = 0; i < args->n; i++) {
        const rb_arg *a = &args->items[i];
        const rb_param *p = param_find(rb, a->name, strlen(a->name));
        if (!p) {
            param_names(rb, names, sizeof names);
            return rd_fail(RD_EUSAGE, "runbook %s takes no option --%s; its options: %s",
                           rb->name, a->name, names);
        }
        if (!p->value && a->value[0])
            return rd_fail(RD_EUSAGE, "--%s takes no value", p->name);
        if (p->value && !a->value[0] && !p->empty_ok)
            return rd_fail(RD_EUSAGE, "--%s needs a value (%s)", p->name, p->value);
    }
    for (const rb_param *p = rb->params; p && p->name; p++)
        if (p->required && !rb_args_get(args, p->name))
            return rd_fail(RD_EUSAGE, "runbook %s needs --%s %s", rb->name, p->name,
                           p->value ? p->value : "");
    return rb->check ? rb->check(args) : 0;
}

int rb_args_parse(const rb_runbook *rb, int argc, char *const argv[], rb_args *out)
{
    rb_args_clear(out);
    int rc = 0;
    for (int i = 0; rc == 0 && i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0 || !a[2]) {
            rc = rd_fail(RD_EUSAGE, "unexpected argument '%s'", a);
            break;
        }
        const char *name = a + 2;
        const char *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const rb_param *p = param_find(rb, name, len);
        if (!p) {
            char names[512];
            param_names(rb, names, sizeof names);
            rc = rd_fail(RD_EUSAGE, "runbook %s takes no option --%.*s; its options: %s",
                         rb->name, (int)len, name, names);
            break;
        }
        const char *value = NULL;
        if (eq)
            value = eq + 1;
        else if (p->value && i + 1 < argc)
            value = argv[++i];
        else if (p->value)
            rc = rd_fail(RD_EUSAGE, "--%s needs a value (%s)", p->name, p->value);
        if (rc == 0 && p->value && (!value || (!*value && !p->empty_ok)))
            rc = rd_fail(RD_EUSAGE, "--%s needs a value (%s)", p->name, p->value);
        if (rc == 0 && !p->value && value)
            rc = rd_fail(RD_EUSAGE, "--%s takes no value", p->name);
        if (rc == 0)
            rc = rb_args_set(out, p->name, value);
    }
    if (rc == 0)
        rc = rb_args_check(rb, out);
    if (rc < 0)
        rb_args_clear(out);
    return rc;
}

/* --------------------------------------------------------------- steps -- */

/* Messages are one line in the text output and in JSON. */
static char *one_line(const char *text)
{
    char *s = rd_strdup(text);
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    return s;
}

void rb_message(rb_context *ctx, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    rb_step_result *s = &ctx->run->steps[ctx->step];
    free(s->message);
    s->message = one_line(msg);
}

static void output_set(rb_run *r, const char *name, const char *value, bool number)
{
    for (size_t i = 0; i < r->n_outputs; i++) {
        if (strcmp(r->outputs[i].name, name) == 0) {
            free(r->outputs[i].value);
            r->outputs[i].value = rd_strdup(value);
            r->outputs[i].number = number;
            return;
        }
    }
    r->outputs = rd_realloc(r->outputs, (r->n_outputs + 1) * sizeof *r->outputs);
    r->outputs[r->n_outputs++] = (rb_output){ rd_strdup(name), rd_strdup(value), number };
}

void rb_output_str(rb_context *ctx, const char *name, const char *fmt, ...)
{
    char value[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    output_set(ctx->run, name, value, false);
}

void rb_output_int(rb_context *ctx, const char *name, int64_t value)
{
    char text[32];
    snprintf(text, sizeof text, "%lld", (long long)value);
    output_set(ctx->run, name, text, true);
}

/* ---------------------------------------------------------------- runs -- */

void rb_run_clear(rb_run *r)
{
    for (size_t i = 0; i < r->n_steps; i++)
        free(r->steps[i].message);
    free(r->steps);
    for (size_t i = 0; i < r->n_outputs; i++) {
        free(r->outputs[i].name);
        free(r->outputs[i].value);
    }
    free(r->outputs);
    free(r->error);
    memset(r, 0, sizeof *r);
    r->failed_step = -1;
}

const char *rb_run_output(const rb_run *r, const char *name)
{
    for (size_t i = 0; i < r->n_outputs; i++)
        if (strcmp(r->outputs[i].name, name) == 0)
            return r->outputs[i].value;
    return NULL;
}

const char *rb_status_name(enum rb_status s)
{
    switch (s) {
    case RB_PENDING: return "pending";
    case RB_RUNNING: return "running";
    case RB_OK: return "ok";
    case RB_FAILED: return "failed";
    case RB_SKIPPED: return "skipped";
    }
    return "unknown";
}

static json_t *time_json(int64_t us)
{
    if (!us)
        return json_null();
    char text[40];
    rd_time_format_ms(us, text, sizeof text);
    return json_string(text);
}

json_t *rb_run_json(const rb_run *r)
{
    json_t *steps = json_array();
    for (size_t i = 0; i < r->n_steps; i++) {
        const rb_step_result *s = &r->steps[i];
        bool ran = s->status == RB_OK || s->status == RB_FAILED;
        json_array_append_new(steps, json_pack(
            "{s:s, s:s, s:o, s:o, s:o, s:s, s:s}", "Name", s->name, "Description",
            s->description ? s->description : "", "Start", time_json(s->start_us), "End",
            time_json(s->end_us), "Seconds",
            ran ? json_real((double)s->duration_ns / 1e9) : json_null(), "Status",
            rb_status_name(s->status), "Message", s->message ? s->message : ""));
    }
    json_t *outputs = json_object();
    for (size_t i = 0; i < r->n_outputs; i++) {
        const rb_output *o = &r->outputs[i];
        json_object_set_new(outputs, o->name, o->number ? json_integer(strtoll(o->value, NULL,
                                                                              10))
                                                        : json_string(o->value));
    }
    json_t *doc = json_pack("{s:s, s:s, s:o, s:o, s:f, s:o, s:o}", "Runbook",
                            r->runbook ? r->runbook : "", "Status",
                            r->status == RB_OK ? "succeeded" : r->status == RB_FAILED
                                                                   ? "failed" : "running",
                            "Start", time_json(r->start_us), "End", time_json(r->end_us),
                            "Seconds", (double)r->duration_ns / 1e9, "Steps", steps,
                            "Outputs", outputs);
    if (r->status == RB_FAILED && r->failed_step >= 0 && (size_t)r->failed_step < r->n_steps)
        json_object_set_new(doc, "Error", json_pack(
            "{s:s, s:s, s:s, s:i}", "Step", r->steps[r->failed_step].name, "Message",
            r->error ? r->error : "", "Code", rd_err_name(r->rc), "Exit",
            rd_exit_code(r->rc)));
    return doc;
}

static void notify(const rb_env *env, enum rb_event ev, const rb_run *run, size_t step)
{
    if (env && env->observer)
        env->observer(env->observer_arg, ev, run, step);
}

/* The run is an explicit state machine: each step goes pending -> running ->
 * ok | failed, or pending -> skipped once an earlier one failed; the run
 * itself goes RUN_STEPS -> RUN_SKIP (after a failure) -> RUN_FINISH. Every
 * transition is written to the record before the observer hears of it, so a
 * drill that timestamps the events never sees a step the record lacks. */
enum run_state { RUN_STEPS, RUN_SKIP, RUN_FINISH };

int rb_execute(const rb_runbook *rb, const rb_args *args, const rb_env *env, rb_run *out)
{
    memset(out, 0, sizeof *out);
    out->failed_step = -1;
    out->runbook = rb->name;
    out->status = RB_RUNNING;
    out->n_steps = rb->n_steps;
    out->steps = rd_calloc(rb->n_steps ? rb->n_steps : 1, sizeof *out->steps);
    for (size_t i = 0; i < rb->n_steps; i++) {
        out->steps[i].name = rb->steps[i].name;
        out->steps[i].description = rb->steps[i].description;
        out->steps[i].status = RB_PENDING;
    }
    if ((rb->flags & RB_NEEDS_CONFIG) && !(env && env->cfg)) {
        out->status = RB_FAILED;
        out->rc = rd_fail(RD_EINTERNAL, "runbook %s needs the configuration", rb->name);
        return out->rc;
    }
    rb_context ctx = {
        .runbook = rb, .cfg = env ? env->cfg : NULL,
        .config_path = env ? env->config_path : NULL, .args = args,
        .state = rd_calloc(1, rb->state_size ? rb->state_size : 1), .run = out,
    };
    out->start_us = rd_clock_now_us();
    int64_t run_t0 = rd_mono_ns();
    notify(env, RB_EVENT_RUN_START, out, 0);

    enum run_state state = RUN_STEPS;
    size_t i = 0;
    while (state != RUN_FINISH) {
        if (i == rb->n_steps) {
            state = RUN_FINISH;
            continue;
        }
        rb_step_result *s = &out->steps[i];
        if (state == RUN_SKIP) {
            s->status = RB_SKIPPED;
            s->message = rd_strdup("skipped: an earlier step failed");
            i++;
            continue;
        }
        s->status = RB_RUNNING;
        s->start_us = rd_clock_now_us();
        notify(env, RB_EVENT_STEP_START, out, i);
        ctx.step = i;
        rd_error_clear();
        int64_t t0 = rd_mono_ns();
        int rc = rb->steps[i].run(&ctx);
        s->duration_ns = rd_mono_ns() - t0;
        s->end_us = rd_clock_now_us();
        s->rc = rc < 0 ? rc : 0;
        if (rc < 0) {
            s->status = RB_FAILED;
            free(s->message);
            s->message = one_line(rd_error()[0] ? rd_error() : "failed");
            out->rc = rc;
            out->failed_step = (long)i;
            out->error = rd_strdup(s->message);
            state = RUN_SKIP;
        } else {
            s->status = RB_OK;
            if (!s->message)
                s->message = rd_strdup("");
        }
        notify(env, RB_EVENT_STEP_END, out, i);
        i++;
    }

    out->status = out->rc < 0 ? RB_FAILED : RB_OK;
    if (rb->finish)
        rb->finish(&ctx);
    free(ctx.state);
    out->duration_ns = rd_mono_ns() - run_t0;
    out->end_us = rd_clock_now_us();
    notify(env, RB_EVENT_RUN_END, out, 0);
    if (out->rc < 0)
        return rd_fail(-out->rc, "%s, step %s: %s", rb->name, out->steps[out->failed_step].name,
                       out->error);
    return 0;
}
