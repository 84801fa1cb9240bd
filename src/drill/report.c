/* The reports of a drill: JSON (the stable record, also what the catalog
 * keeps), Markdown for a ticket or a wiki, and one self-contained HTML page
 * with an SVG timeline for people who were not there. Every renderer reads
 * only the drill_result, so a report re-rendered from the catalog years later
 * is the one written on the day. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "core/fs.h"
#include "drill/drill.h"
#include "drill/internal.h"

/* ------------------------------------------------------------------ JSON -- */

static json_t *str_or_null(const char *s) { return s ? json_string(s) : json_null(); }

static json_t *time_json(int64_t us)
{
    char t[40];
    drill_fmt_time_us(us, t, sizeof t);
    return json_string(t);
}

static json_t *seconds_or_null(double s) { return s >= 0 ? json_real(s) : json_null(); }

/* Offsets on the timeline count from the injection, where RTO and RPO start. */
static int64_t timeline_origin(const drill_result *r)
{
    for (size_t i = 0; i < r->n_events; i++)
        if (r->events[i].kind == DRILL_EV_INJECTION)
            return r->events[i].time_us;
    return r->started_us;
}

static json_t *metric_json(double v, int64_t target, int64_t maximum, enum drill_verdict verdict)
{
    return json_pack("{s:o,s:I,s:I,s:s}", "seconds", seconds_or_null(v), "target_seconds",
                     (json_int_t)target, "maximum_seconds", (json_int_t)maximum, "verdict",
                     drill_verdict_name(verdict));
}

int drill_report_json(const drill_result *r, json_t **out)
{
    int64_t origin = timeline_origin(r);
    json_t *timeline = json_array();
    for (size_t i = 0; i < r->n_events; i++) {
        const drill_event *e = &r->events[i];
        json_array_append_new(timeline, json_pack(
            "{s:s,s:o,s:f,s:s,s:o}", "kind", drill_event_kind_name(e->kind), "time",
            time_json(e->time_us), "offset_seconds", (double)(e->time_us - origin) / 1e6,
            "label", e->label ? e->label : "", "step", str_or_null(e->step)));
    }
    json_t *steps = json_array();
    for (size_t i = 0; i < r->n_steps; i++) {
        const drill_step *s = &r->steps[i];
        bool ended = s->end_us != 0;
        json_array_append_new(steps, json_pack(
            "{s:s,s:s,s:o,s:o,s:o,s:o}", "name", s->name, "status",
            drill_step_status_name(s->status), "start", time_json(s->start_us), "end",
            ended ? time_json(s->end_us) : json_null(), "duration_seconds",
            ended ? json_real((double)(s->end_us - s->start_us) / 1e6) : json_null(),
            "message", str_or_null(s->message)));
    }
    json_t *checklist = json_array();
    for (int c = 0; c < DRILL_CHECK_COUNT; c++)
        json_array_append_new(checklist, json_pack(
            "{s:s,s:b,s:o}", "item", drill_check_title((enum drill_check)c), "verified",
            r->checklist[c].verified, "note", str_or_null(r->checklist[c].note)));
    json_t *obs = json_array();
    for (size_t i = 0; i < r->n_observations; i++)
        json_array_append_new(obs, json_pack("{s:s,s:s}", "name", r->observations[i].name,
                                             "value", r->observations[i].value));
    json_t *doc = json_pack(
        "{s:s,s:s,s:I,s:b,s:o,s:o,s:f,s:s,s:o,s:b,s:o,s:o,s:o,s:{s:I,s:I,s:I,s:I},"
        "s:o,s:o,s:o,s:o}",
        "id", r->id, "scenario", r->scenario, "seed", (json_int_t)r->seed, "ephemeral",
        r->ephemeral, "started", time_json(r->started_us), "finished",
        time_json(r->finished_us), "duration_seconds",
        (double)(r->finished_us - r->started_us) / 1e6, "verdict",
        drill_verdict_name(r->verdict), "failure_reason", str_or_null(r->failure_reason),
        "recovered", r->recovered, "failure", str_or_null(r->failure), "rto",
        metric_json(r->rto_s, r->targets.rto_target_s, r->targets.rto_maximum_s,
                    r->rto_verdict),
        "rpo",
        metric_json(r->rpo_s, r->targets.rpo_target_s, r->targets.rpo_maximum_s,
                    r->rpo_verdict),
        "writes", "acknowledged", (json_int_t)r->writes_acknowledged, "lost",
        (json_int_t)r->writes_lost, "extra", (json_int_t)r->writes_extra,
        "integrity_mismatches", (json_int_t)r->integrity_mismatches, "timeline", timeline,
        "steps", steps, "checklist", checklist, "observations", obs);
    if (!doc)
        return rd_fail(RD_EINTERNAL, "drill %s: cannot build the JSON report (a text that is "
                       "not UTF-8?)", r->id);
    *out = doc;
    return 0;
}

/* --------------------------------------------------------- reading JSON -- */

struct reader {
    const char *id;
    const char *bad;     /* the first field that was missing or of the wrong type */
};

static const json_t *field(struct reader *rd, const json_t *obj, const char *name, int type)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, name) : NULL;
    bool ok = v && (type == JSON_REAL ? json_is_number(v) : json_typeof(v) == (json_type)type);
    if (!ok && !rd->bad)
        rd->bad = name;
    return ok ? v : NULL;
}

static char *opt_string(struct reader *rd, const json_t *obj, const char *name)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, name) : NULL;
    if (!v || json_is_null(v))
        return NULL;
    if (!json_is_string(v)) {
        if (!rd->bad)
            rd->bad = name;
        return NULL;
    }
    return rd_strdup(json_string_value(v));
}

static const char *req_string(struct reader *rd, const json_t *obj, const char *name)
{
    const json_t *v = field(rd, obj, name, JSON_STRING);
    return v ? json_string_value(v) : "";
}

static int64_t req_time(struct reader *rd, const json_t *obj, const char *name)
{
    int64_t us = 0;
    const json_t *v = field(rd, obj, name, JSON_STRING);
    if (v && drill_parse_time_us(json_string_value(v), &us) < 0 && !rd->bad)
        rd->bad = name;
    return us;
}

static uint64_t req_count(struct reader *rd, const json_t *obj, const char *name)
{
    const json_t *v = field(rd, obj, name, JSON_INTEGER);
    if (v && json_integer_value(v) < 0 && !rd->bad)
        rd->bad = name;
    return v && json_integer_value(v) > 0 ? (uint64_t)json_integer_value(v) : 0;
}

static double opt_seconds(struct reader *rd, const json_t *obj, const char *name)
{
    const json_t *v = json_is_object(obj) ? json_object_get(obj, name) : NULL;
    if (!v || json_is_null(v))
        return DRILL_UNMEASURED;
    if (!json_is_number(v) || json_number_value(v) < 0) {
        if (!rd->bad)
            rd->bad = name;
        return DRILL_UNMEASURED;
    }
    return json_number_value(v);
}

static const json_t *opt_array(struct reader *rd, const json_t *obj, const char *name)
{
    const json_t *v = json_object_get(obj, name);
    if (v && !json_is_array(v) && !rd->bad)
        rd->bad = name;
    return json_is_array(v) ? v : NULL;
}

int drill_result_from_json(const json_t *doc, drill_result **out)
{
    *out = NULL;
    if (!json_is_object(doc))
        return rd_fail(RD_ECORRUPT, "drill report: not a JSON object");
    struct reader rd = { NULL, NULL };
    const json_t *seed = field(&rd, doc, "seed", JSON_INTEGER);
    const json_t *eph = json_object_get(doc, "ephemeral");
    const json_t *rec = json_object_get(doc, "recovered");
    drill_result *r = drill_result_new(req_string(&rd, doc, "scenario"),
                                       seed ? (uint64_t)json_integer_value(seed) : 0,
                                       json_is_true(eph), req_time(&rd, doc, "started"));
    free(r->id);
    r->id = rd_strdup(req_string(&rd, doc, "id"));
    rd.id = r->id;
    r->finished_us = req_time(&rd, doc, "finished");
    if (!json_is_boolean(rec) && !rd.bad)
        rd.bad = "recovered";
    r->recovered = json_is_true(rec);
    r->failure = opt_string(&rd, doc, "failure");

    const json_t *rto = field(&rd, doc, "rto", JSON_OBJECT);
    const json_t *rpo = field(&rd, doc, "rpo", JSON_OBJECT);
    const json_t *writes = field(&rd, doc, "writes", JSON_OBJECT);
    drill_targets t;
    r->rto_s = opt_seconds(&rd, rto, "seconds");
    r->rpo_s = opt_seconds(&rd, rpo, "seconds");
    t.rto_target_s = (int64_t)req_count(&rd, rto, "target_seconds");
    t.rto_maximum_s = (int64_t)req_count(&rd, rto, "maximum_seconds");
    t.rpo_target_s = (int64_t)req_count(&rd, rpo, "target_seconds");
    t.rpo_maximum_s = (int64_t)req_count(&rd, rpo, "maximum_seconds");
    r->writes_acknowledged = req_count(&rd, writes, "acknowledged");
    r->writes_lost = req_count(&rd, writes, "lost");
    r->writes_extra = req_count(&rd, writes, "extra");
    r->integrity_mismatches = req_count(&rd, writes, "integrity_mismatches");

    const json_t *arr = opt_array(&rd, doc, "timeline");
    for (size_t i = 0; arr && i < json_array_size(arr); i++) {
        const json_t *e = json_array_get(arr, i);
        int kind = drill_event_kind_parse(req_string(&rd, e, "kind"));
        if (kind < 0 && !rd.bad)
            rd.bad = "timeline kind";
        r->events = rd_realloc(r->events, (r->n_events + 1) * sizeof *r->events);
        r->events[r->n_events++] = (drill_event){
            kind < 0 ? DRILL_EV_OTHER : (enum drill_event_kind)kind,
            req_time(&rd, e, "time"), rd_strdup(req_string(&rd, e, "label")),
            opt_string(&rd, e, "step") };
    }
    arr = opt_array(&rd, doc, "steps");
    for (size_t i = 0; arr && i < json_array_size(arr); i++) {
        const json_t *s = json_array_get(arr, i);
        int status = drill_step_status_parse(req_string(&rd, s, "status"));
        if (status < 0 && !rd.bad)
            rd.bad = "steps status";
        const json_t *end = json_object_get(s, "end");
        r->steps = rd_realloc(r->steps, (r->n_steps + 1) * sizeof *r->steps);
        r->steps[r->n_steps++] = (drill_step){
            rd_strdup(req_string(&rd, s, "name")), req_time(&rd, s, "start"),
            json_is_string(end) ? req_time(&rd, s, "end") : 0,
            status < 0 ? DRILL_STEP_FAILED : (enum drill_step_status)status,
            opt_string(&rd, s, "message") };
    }
    arr = opt_array(&rd, doc, "checklist");
    for (size_t i = 0; arr && i < json_array_size(arr); i++) {
        const json_t *c = json_array_get(arr, i);
        const char *item = req_string(&rd, c, "item");
        int which = -1;
        for (int k = 0; k < DRILL_CHECK_COUNT; k++)
            if (strcmp(item, drill_check_title((enum drill_check)k)) == 0)
                which = k;
        if (which < 0) {
            if (!rd.bad)
                rd.bad = "checklist item";
            continue;
        }
        if (json_is_true(json_object_get(c, "verified"))) {
            char *note = opt_string(&rd, c, "note");
            drill_result_check(r, (enum drill_check)which, note);
            free(note);
        }
    }
    arr = opt_array(&rd, doc, "observations");
    for (size_t i = 0; arr && i < json_array_size(arr); i++) {
        const json_t *o = json_array_get(arr, i);
        drill_result_observe(r, req_string(&rd, o, "name"), req_string(&rd, o, "value"));
    }
    if (rd.bad) {
        int rc = rd_fail(RD_ECORRUPT, "drill report %s: field '%s' is missing or invalid",
                         rd.id && *rd.id ? rd.id : "(no id)", rd.bad);
        drill_result_free(r);
        return rc;
    }
    /* The verdict is judged again rather than read: what the report says
     * always follows from what it measured. */
    drill_evaluate(r, &t);
    *out = r;
    return 0;
}

/* -------------------------------------------------------------- Markdown -- */

/* Table cells: a '|' would end the cell and a newline the row; '<' and '&'
 * would let a label inject HTML into renderers that allow it. */
static void md_text(rd_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '|': rd_buf_puts(b, "\\|"); break;
        case '\\': rd_buf_puts(b, "\\\\"); break;
        case '<': rd_buf_puts(b, "&lt;"); break;
        case '>': rd_buf_puts(b, "&gt;"); break;
        case '&': rd_buf_puts(b, "&amp;"); break;
        case '*': case '_': case '`': case '[': case ']':
            rd_buf_printf(b, "\\%c", *s);
            break;
        case '\n': case '\r': rd_buf_puts(b, " "); break;
        default: rd_buf_putc(b, *s);
        }
    }
}

static void short_time(int64_t us, char *out, size_t len)
{
    char t[40];
    drill_fmt_time_us(us, t, sizeof t);
    /* 2026-11-26T02:15:00.123456Z -> 2026-11-26 02:15:00.123Z */
    t[10] = ' ';
    snprintf(out, len, "%.23sZ", t);
}

static void offset_text(int64_t us, int64_t origin, char *out, size_t len)
{
    double s = (double)(us - origin) / 1e6;
    snprintf(out, len, "%s%.1f s", s < 0 ? "-" : "+", fabs(s));
}

static const char *mode_text(const drill_result *r)
{
    return r->ephemeral ? "ephemeral sandbox" : "existing deployment";
}

static void md_metric(rd_buf *b, const char *name, double v, int64_t target, int64_t maximum,
                      enum drill_verdict verdict)
{
    char got[48], t[48], m[48];
    drill_fmt_duration(v, got, sizeof got);
    drill_fmt_duration((double)target, t, sizeof t);
    drill_fmt_duration((double)maximum, m, sizeof m);
    rd_buf_printf(b, "| %s | %s | %s | %s | %s |\n", name, got, t, m,
                     drill_verdict_title(verdict));
}

int drill_report_markdown(const drill_result *r, rd_buf *b)
{
    char t1[48], t2[48];
    int64_t origin = timeline_origin(r);
    rd_buf_puts(b, "# DR drill ");
    md_text(b, r->id);
    rd_buf_puts(b, "\n\n");
    rd_buf_printf(b, "**Verdict: %s**", drill_verdict_title(r->verdict));
    if (r->failure_reason) {
        rd_buf_puts(b, " — ");
        md_text(b, r->failure_reason);
    }
    rd_buf_puts(b, "\n\n## Summary\n\n| | |\n|---|---|\n| Drill | ");
    md_text(b, r->id);
    rd_buf_puts(b, " |\n| Scenario | ");
    md_text(b, r->scenario);
    rd_buf_printf(b, " |\n| Seed | %llu |\n| Mode | %s |\n", (unsigned long long)r->seed,
                     mode_text(r));
    short_time(r->started_us, t1, sizeof t1);
    short_time(r->finished_us, t2, sizeof t2);
    rd_buf_printf(b, "| Started | %s |\n| Finished | %s |\n", t1, t2);
    rd_buf_printf(b, "| Recovered | %s |\n", r->recovered ? "yes" : "no");
    rd_buf_printf(b, "| Writes acknowledged | %llu |\n| Acknowledged writes lost | %llu |\n"
                     "| Writes present that should not be | %llu |\n"
                     "| Integrity mismatches | %llu |\n\n",
                     (unsigned long long)r->writes_acknowledged,
                     (unsigned long long)r->writes_lost, (unsigned long long)r->writes_extra,
                     (unsigned long long)r->integrity_mismatches);

    rd_buf_puts(b, "## Recovery objectives\n\n| Metric | Measured | Target | Maximum | "
                      "Verdict |\n|---|---|---|---|---|\n");
    md_metric(b, "RTO", r->rto_s, r->targets.rto_target_s, r->targets.rto_maximum_s,
              r->rto_verdict);
    md_metric(b, "RPO", r->rpo_s, r->targets.rpo_target_s, r->targets.rpo_maximum_s,
              r->rpo_verdict);

    rd_buf_puts(b, "\n## Runbook steps\n\n");
    if (!r->n_steps)
        rd_buf_puts(b, "No runbook step ran.\n");
    else
        rd_buf_puts(b, "| # | Step | Status | Start | Duration | Message |\n"
                          "|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < r->n_steps; i++) {
        const drill_step *s = &r->steps[i];
        char dur[48];
        if (s->end_us)
            drill_fmt_duration((double)(s->end_us - s->start_us) / 1e6, dur, sizeof dur);
        else
            snprintf(dur, sizeof dur, "never finished");
        offset_text(s->start_us, origin, t1, sizeof t1);
        rd_buf_printf(b, "| %zu | ", i + 1);
        md_text(b, s->name);
        rd_buf_printf(b, " | %s | %s | %s | ", drill_step_status_name(s->status), t1, dur);
        md_text(b, s->message);
        rd_buf_puts(b, " |\n");
    }

    rd_buf_puts(b, "\n## Timeline\n\n| Time | Offset | Event | Label |\n|---|---|---|---|\n");
    for (size_t i = 0; i < r->n_events; i++) {
        const drill_event *e = &r->events[i];
        short_time(e->time_us, t1, sizeof t1);
        offset_text(e->time_us, origin, t2, sizeof t2);
        rd_buf_printf(b, "| %s | %s | %s | ", t1, t2, drill_event_kind_name(e->kind));
        md_text(b, e->label);
        rd_buf_puts(b, " |\n");
    }

    if (r->n_observations) {
        rd_buf_puts(b, "\n## Observations\n\n| Observation | Value |\n|---|---|\n");
        for (size_t i = 0; i < r->n_observations; i++) {
            rd_buf_puts(b, "| ");
            md_text(b, r->observations[i].name);
            rd_buf_puts(b, " | ");
            md_text(b, r->observations[i].value);
            rd_buf_puts(b, " |\n");
        }
    }

    rd_buf_puts(b, "\n## DR test checklist\n\nAn item is ticked only when this drill "
                      "verified it.\n\n");
    for (int c = 0; c < DRILL_CHECK_COUNT; c++) {
        const drill_check_item *it = &r->checklist[c];
        rd_buf_printf(b, "- [%c] %s", it->verified ? 'x' : ' ',
                         drill_check_title((enum drill_check)c));
        if (it->note) {
            rd_buf_puts(b, " — ");
            md_text(b, it->note);
        }
        rd_buf_puts(b, "\n");
    }
    return 0;
}

/* ------------------------------------------------------------------ HTML -- */

static void html_text(rd_buf *b, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '&': rd_buf_puts(b, "&amp;"); break;
        case '<': rd_buf_puts(b, "&lt;"); break;
        case '>': rd_buf_puts(b, "&gt;"); break;
        case '"': rd_buf_puts(b, "&quot;"); break;
        case '\'': rd_buf_puts(b, "&#39;"); break;
        default: rd_buf_putc(b, *s);
        }
    }
}

static const char html_css[] =
    "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:2rem;"
    "color:#1f2328;background:#fff;max-width:1100px}"
    "h1{font-size:1.5rem;margin-bottom:.25rem}h2{font-size:1.15rem;margin-top:2rem}"
    ".sub{color:#59636e;margin-top:0}"
    "#verdict{font-size:2rem;font-weight:700;padding:.6rem 1rem;border-radius:8px;"
    "display:inline-block;margin:.5rem 0}"
    ".v-within-target{background:#dafbe1;color:#116329;border:2px solid #1a7f37}"
    ".v-within-maximum{background:#fff8c5;color:#7d4e00;border:2px solid #bf8700}"
    ".v-failed{background:#ffebe9;color:#a40e26;border:2px solid #cf222e}"
    "#failure-reason{color:#a40e26;font-weight:600}"
    "table{border-collapse:collapse;margin:.5rem 0}"
    "th,td{border:1px solid #d0d7de;padding:.3rem .6rem;text-align:left;vertical-align:top}"
    "th{background:#f6f8fa}"
    ".s-ok{color:#116329}.s-failed{color:#a40e26;font-weight:600}.s-skipped{color:#59636e}"
    "ul.checklist{list-style:none;padding-left:0}ul.checklist li{margin:.2rem 0}"
    ".note{color:#59636e}"
    "svg text{font-size:12px;font-family:inherit}"
    ".step-ok{fill:#2da44e}.step-failed{fill:#cf222e}.step-skipped{fill:#afb8c1}"
    ".marker-injection{stroke:#cf222e}.marker-detection{stroke:#bf8700}"
    ".marker-recovered{stroke:#1a7f37}.marker-other{stroke:#8c959f}"
    ".marker{stroke-width:2}.m-injection{fill:#cf222e}.m-detection{fill:#9a6700}"
    ".m-recovered{fill:#1a7f37}.m-other{fill:#59636e}"
    ".axis{stroke:#8c959f;stroke-width:1}.grid{stroke:#eaeef2;stroke-width:1}";

#define SVG_W 1000
#define SVG_LEFT 210
#define SVG_RIGHT 30
#define SVG_TOP 56
#define SVG_ROW 26
#define SVG_AXIS 36

struct span { int64_t t0, t1; };

static double svg_x(const struct span *sp, int64_t t)
{
    double w = SVG_W - SVG_LEFT - SVG_RIGHT;
    return SVG_LEFT + w * (double)(t - sp->t0) / (double)(sp->t1 - sp->t0);
}

static void svg_timeline(rd_buf *b, const drill_result *r)
{
    struct span sp = { INT64_MAX, INT64_MIN };
    for (size_t i = 0; i < r->n_events; i++) {
        if (r->events[i].time_us < sp.t0) sp.t0 = r->events[i].time_us;
        if (r->events[i].time_us > sp.t1) sp.t1 = r->events[i].time_us;
    }
    for (size_t i = 0; i < r->n_steps; i++) {
        const drill_step *s = &r->steps[i];
        if (s->start_us < sp.t0) sp.t0 = s->start_us;
        int64_t end = s->end_us ? s->end_us : s->start_us;
        if (end > sp.t1) sp.t1 = end;
    }
    if (sp.t0 > sp.t1) {
        sp.t0 = r->started_us;
        sp.t1 = r->finished_us;
    }
    if (sp.t1 <= sp.t0)
        sp.t1 = sp.t0 + 1000000;
    int64_t origin = timeline_origin(r);
    size_t rows = r->n_steps ? r->n_steps : 1;
    int height = SVG_TOP + (int)rows * SVG_ROW + SVG_AXIS;
    int bottom = SVG_TOP + (int)rows * SVG_ROW;

    rd_buf_printf(b, "<svg id=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" "
                        "width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\" "
                        "aria-label=\"Drill timeline\">\n", SVG_W, height, SVG_W, height);
    /* grid and time axis, offsets from the injection */
    rd_buf_printf(b, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
                     SVG_LEFT, bottom, SVG_W - SVG_RIGHT, bottom);
    for (int k = 0; k <= 5; k++) {
        int64_t t = sp.t0 + (sp.t1 - sp.t0) * k / 5;
        double x = svg_x(&sp, t);
        char off[48];
        offset_text(t, origin, off, sizeof off);
        rd_buf_printf(b, "<line class=\"grid\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
                            "y2=\"%d\"/>\n<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s"
                            "</text>\n", x, SVG_TOP - 6, x, bottom, x, bottom + 18, off);
    }
    /* one bar per runbook step */
    if (!r->n_steps)
        rd_buf_printf(b, "<text x=\"%d\" y=\"%d\">no runbook step ran</text>\n", 8,
                         SVG_TOP + 17);
    for (size_t i = 0; i < r->n_steps; i++) {
        const drill_step *s = &r->steps[i];
        int y = SVG_TOP + (int)i * SVG_ROW;
        double x0 = svg_x(&sp, s->start_us);
        double x1 = svg_x(&sp, s->end_us ? s->end_us : sp.t1);
        double w = x1 - x0 < 3 ? 3 : x1 - x0;
        /* Long names are cut on a character boundary that is not inside a
         * UTF-8 sequence. */
        char name[40];
        size_t n = strlen(s->name);
        if (n > 30) {
            n = 29;
            while (n > 0 && ((unsigned char)s->name[n] & 0xC0) == 0x80)
                n--;
            snprintf(name, sizeof name, "%.*s…", (int)n, s->name);
        } else {
            snprintf(name, sizeof name, "%s", s->name);
        }
        rd_buf_printf(b, "<text x=\"8\" y=\"%d\">", y + 17);
        html_text(b, name);
        rd_buf_printf(b, "</text>\n<rect class=\"step step-%s\" x=\"%.1f\" y=\"%d\" "
                            "width=\"%.1f\" height=\"%d\" rx=\"3\"><title>",
                         drill_step_status_name(s->status), x0, y + 4, w, SVG_ROW - 8);
        html_text(b, s->name);
        rd_buf_printf(b, " (%s)", drill_step_status_name(s->status));
        if (s->message) {
            rd_buf_puts(b, ": ");
            html_text(b, s->message);
        }
        rd_buf_puts(b, "</title></rect>\n");
    }
    /* markers: injection, detection, recovered and other events, their
     * labels staggered on two lines so neighbours do not overwrite each other */
    int nth = 0;
    for (size_t i = 0; i < r->n_events; i++) {
        const drill_event *e = &r->events[i];
        if (e->kind == DRILL_EV_STEP_START || e->kind == DRILL_EV_STEP_END)
            continue;
        const char *kind = drill_event_kind_name(e->kind);
        double x = svg_x(&sp, e->time_us);
        int ly = nth++ % 2 ? 34 : 16;
        rd_buf_printf(b, "<g class=\"event event-%s\"><line class=\"marker marker-%s\" "
                            "x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/><text class=\"m-%s\" "
                            "x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%s</text><title>",
                         kind, kind, x, ly + 4, x, bottom, kind, x, ly, kind);
        html_text(b, e->label);
        rd_buf_puts(b, "</title></g>\n");
    }
    rd_buf_puts(b, "</svg>\n");
}

static void html_row(rd_buf *b, const char *head, const char *value)
{
    rd_buf_puts(b, "<tr><th>");
    html_text(b, head);
    rd_buf_puts(b, "</th><td>");
    html_text(b, value);
    rd_buf_puts(b, "</td></tr>\n");
}

static void html_metric(rd_buf *b, const char *name, double v, int64_t target, int64_t maximum,
                        enum drill_verdict verdict)
{
    char got[48], t[48], m[48];
    drill_fmt_duration(v, got, sizeof got);
    drill_fmt_duration((double)target, t, sizeof t);
    drill_fmt_duration((double)maximum, m, sizeof m);
    rd_buf_printf(b, "<tr id=\"metric-%s\"><th>%s</th><td>%s</td><td>%s</td><td>%s</td>"
                        "<td class=\"v-%s\">%s</td></tr>\n", name, name, got, t, m,
                     drill_verdict_name(verdict), drill_verdict_title(verdict));
}

int drill_report_html(const drill_result *r, rd_buf *b)
{
    char t1[48], t2[48], num[32];
    int64_t origin = timeline_origin(r);
    rd_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                      "<title>DR drill ");
    html_text(b, r->id);
    rd_buf_printf(b, " — %s</title>\n<style>%s</style>\n</head>\n<body>\n<h1>DR drill ",
                     drill_verdict_title(r->verdict), html_css);
    html_text(b, r->id);
    rd_buf_puts(b, "</h1>\n<p class=\"sub\">Scenario <strong>");
    html_text(b, r->scenario);
    short_time(r->started_us, t1, sizeof t1);
    rd_buf_printf(b, "</strong>, started %s</p>\n", t1);
    rd_buf_printf(b, "<div id=\"verdict\" class=\"v-%s\">%s</div>\n",
                     drill_verdict_name(r->verdict), drill_verdict_title(r->verdict));
    if (r->failure_reason) {
        rd_buf_puts(b, "<p id=\"failure-reason\">");
        html_text(b, r->failure_reason);
        rd_buf_puts(b, "</p>\n");
    }

    rd_buf_puts(b, "<h2>Recovery objectives</h2>\n<table id=\"objectives\"><tr><th>Metric"
                      "</th><th>Measured</th><th>Target</th><th>Maximum</th><th>Verdict</th>"
                      "</tr>\n");
    html_metric(b, "RTO", r->rto_s, r->targets.rto_target_s, r->targets.rto_maximum_s,
                r->rto_verdict);
    html_metric(b, "RPO", r->rpo_s, r->targets.rpo_target_s, r->targets.rpo_maximum_s,
                r->rpo_verdict);
    rd_buf_puts(b, "</table>\n<h2>Timeline</h2>\n");
    svg_timeline(b, r);

    rd_buf_puts(b, "<h2>Summary</h2>\n<table id=\"summary\">\n");
    html_row(b, "Drill", r->id);
    html_row(b, "Scenario", r->scenario);
    snprintf(num, sizeof num, "%llu", (unsigned long long)r->seed);
    html_row(b, "Seed", num);
    html_row(b, "Mode", mode_text(r));
    short_time(r->finished_us, t2, sizeof t2);
    html_row(b, "Started", t1);
    html_row(b, "Finished", t2);
    html_row(b, "Recovered", r->recovered ? "yes" : "no");
    snprintf(num, sizeof num, "%llu", (unsigned long long)r->writes_acknowledged);
    html_row(b, "Writes acknowledged", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)r->writes_lost);
    html_row(b, "Acknowledged writes lost", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)r->writes_extra);
    html_row(b, "Writes present that should not be", num);
    snprintf(num, sizeof num, "%llu", (unsigned long long)r->integrity_mismatches);
    html_row(b, "Integrity mismatches", num);
    rd_buf_puts(b, "</table>\n");

    rd_buf_puts(b, "<h2>Runbook steps</h2>\n");
    if (!r->n_steps)
        rd_buf_puts(b, "<p>No runbook step ran.</p>\n");
    else
        rd_buf_puts(b, "<table id=\"steps\"><tr><th>#</th><th>Step</th><th>Status</th>"
                          "<th>Start</th><th>Duration</th><th>Message</th></tr>\n");
    for (size_t i = 0; i < r->n_steps; i++) {
        const drill_step *s = &r->steps[i];
        char dur[48];
        if (s->end_us)
            drill_fmt_duration((double)(s->end_us - s->start_us) / 1e6, dur, sizeof dur);
        else
            snprintf(dur, sizeof dur, "never finished");
        offset_text(s->start_us, origin, t2, sizeof t2);
        rd_buf_printf(b, "<tr><td>%zu</td><td>", i + 1);
        html_text(b, s->name);
        rd_buf_printf(b, "</td><td class=\"s-%s\">%s</td><td>%s</td><td>%s</td><td>",
                         drill_step_status_name(s->status), drill_step_status_name(s->status),
                         t2, dur);
        html_text(b, s->message);
        rd_buf_puts(b, "</td></tr>\n");
    }
    if (r->n_steps)
        rd_buf_puts(b, "</table>\n");

    rd_buf_puts(b, "<h2>Events</h2>\n<table id=\"events\"><tr><th>Time</th><th>Offset"
                      "</th><th>Event</th><th>Label</th></tr>\n");
    for (size_t i = 0; i < r->n_events; i++) {
        const drill_event *e = &r->events[i];
        short_time(e->time_us, t1, sizeof t1);
        offset_text(e->time_us, origin, t2, sizeof t2);
        rd_buf_printf(b, "<tr><td>%s</td><td>%s</td><td>%s</td><td>", t1, t2,
                         drill_event_kind_name(e->kind));
        html_text(b, e->label);
        rd_buf_puts(b, "</td></tr>\n");
    }
    rd_buf_puts(b, "</table>\n");

    if (r->n_observations) {
        rd_buf_puts(b, "<h2>Observations</h2>\n<table id=\"observations\">\n");
        for (size_t i = 0; i < r->n_observations; i++)
            html_row(b, r->observations[i].name, r->observations[i].value);
        rd_buf_puts(b, "</table>\n");
    }

    rd_buf_puts(b, "<h2>DR test checklist</h2>\n<p class=\"note\">An item is ticked only "
                      "when this drill verified it.</p>\n<ul id=\"checklist\" "
                      "class=\"checklist\">\n");
    for (int c = 0; c < DRILL_CHECK_COUNT; c++) {
        const drill_check_item *it = &r->checklist[c];
        rd_buf_printf(b, "<li class=\"%s\">%s %s", it->verified ? "done" : "open",
                         it->verified ? "&#9745;" : "&#9744;",
                         drill_check_title((enum drill_check)c));
        if (it->note) {
            rd_buf_puts(b, " <span class=\"note\">— ");
            html_text(b, it->note);
            rd_buf_puts(b, "</span>");
        }
        rd_buf_puts(b, "</li>\n");
    }
    rd_buf_puts(b, "</ul>\n</body>\n</html>\n");
    return 0;
}

/* ----------------------------------------------------------------- files -- */

void drill_report_paths_free(drill_report_paths *p)
{
    if (!p)
        return;
    free(p->json);
    free(p->markdown);
    free(p->html);
    p->json = p->markdown = p->html = NULL;
}

static int write_one(const char *dir, const char *name, const void *data, size_t len,
                     char **path_out)
{
    char *path = rd_path_join(dir, name);
    int rc = rd_fs_write_atomic(path, data, len, 0644);
    if (rc < 0) {
        rd_fail_wrap(rc, "cannot write the drill report into %s", dir);
        free(path);
        return rc;
    }
    *path_out = path;
    return 0;
}

int drill_report_write(const drill_result *r, const char *dir, drill_report_paths *paths)
{
    drill_report_paths p = { NULL, NULL, NULL };
    if (!dir || !*dir)
        return rd_fail(RD_EUSAGE, "the drill report needs a directory");
    struct stat st;
    if (stat(dir, &st) == 0 && !S_ISDIR(st.st_mode))
        return rd_fail(RD_EUSAGE, "cannot write the drill report into %s: not a directory",
                       dir);
    int rc = rd_fs_mkdir_p(dir, 0755);
    if (rc < 0)
        return rd_fail_wrap(rc, "cannot write the drill report into %s", dir);

    json_t *doc = NULL;
    rd_buf md = RD_BUF_INIT, html = RD_BUF_INIT;
    rc = drill_report_json(r, &doc);
    char *text = rc == 0 ? json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (rc == 0 && !text)
        rc = rd_fail(RD_EINTERNAL, "drill %s: cannot serialise the JSON report", r->id);
    if (rc == 0) {
        rd_buf js = RD_BUF_INIT;
        rd_buf_puts(&js, text);
        rd_buf_puts(&js, "\n");
        rc = write_one(dir, "report.json", js.data, js.len, &p.json);
        rd_buf_free(&js);
    }
    if (rc == 0)
        rc = drill_report_markdown(r, &md);
    if (rc == 0)
        rc = write_one(dir, "report.md", md.data, md.len, &p.markdown);
    if (rc == 0)
        rc = drill_report_html(r, &html);
    if (rc == 0)
        rc = write_one(dir, "report.html", html.data, html.len, &p.html);
    free(text);
    json_decref(doc);
    rd_buf_free(&md);
    rd_buf_free(&html);
    if (rc == 0 && paths)
        *paths = p;
    else
        drill_report_paths_free(&p);
    return rc;
}
