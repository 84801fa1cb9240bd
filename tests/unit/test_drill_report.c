/* Unit tests for src/drill: verdicts exactly at the target and the maximum,
 * [targets] defaults and overrides, failure reasons, the checklist of a
 * failed recovery, the JSON record and its round trip, the Markdown and HTML
 * reports (escaping of hostile labels, one SVG bar per step), writing the
 * report files, and the history in a temporary catalog. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/catalog.h"
#include "core/config.h"
#include "core/error.h"
#include "core/fs.h"
#include "drill/drill.h"

#define T0 1795000000000000LL   /* 2026-11-18T11:06:40Z, a fixed start for every drill */
#define S(x) ((int64_t)((x) * 1000000.0))

static int setup_dir(void **state)
{
    char *dir = rd_strdup("/tmp/radiant-test-drill-XXXXXX");
    if (!mkdtemp(dir)) {
        free(dir);
        return -1;
    }
    *state = dir;
    return 0;
}

static int teardown_dir(void **state)
{
    char *dir = *state;
    int rc = rd_fs_remove_tree(dir);
    free(dir);
    return rc;
}

/* A database-corruption drill that recovered in 4 min with 0.8 s of data
 * loss window, every write intact. */
static drill_result *good_drill(void)
{
    drill_result *r = drill_result_new("database-corruption", 42, true, T0);
    drill_result_add_event(r, DRILL_EV_OTHER, T0 + S(1), "workload started");
    drill_result_add_event(r, DRILL_EV_INJECTION, T0 + S(10), "DROP TABLE orders");
    drill_result_add_event(r, DRILL_EV_DETECTION, T0 + S(15), "health check failed");
    size_t a = drill_step_begin(r, "restore-db-cluster-to-point-in-time", T0 + S(16));
    drill_step_end(r, a, T0 + S(200), DRILL_STEP_OK, NULL);
    size_t b = drill_step_begin(r, "update-endpoint", T0 + S(201));
    drill_step_end(r, b, T0 + S(240), DRILL_STEP_OK, "endpoint now radiant-dr");
    drill_step_skip(r, "flush-cache", T0 + S(240), "no cache configured");
    drill_result_add_event(r, DRILL_EV_RECOVERED, T0 + S(250), "verified read and write");
    r->recovered = true;
    r->rto_s = 240.0;
    r->rpo_s = 0.8;
    r->writes_acknowledged = 1000;
    drill_result_check(r, DRILL_CHECK_PITR, "restored to the second before the DROP");
    drill_result_check(r, DRILL_CHECK_RECOVERY_TIME, "RTO 240 s recorded");
    drill_result_observe(r, "restore target", "2026-11-19T08:53:29Z");
    drill_targets t;
    drill_targets_default(&t);
    drill_evaluate(r, &t);
    return r;
}

static rd_config *parse_config(const char *text)
{
    rd_config *cfg = NULL;
    assert_int_equal(rd_config_parse(text, strlen(text), "drill.conf", &cfg), 0);
    return cfg;
}

static char *buf_str(rd_buf *b)
{
    rd_buf_append_u8(b, 0);
    return (char *)b->data;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* --------------------------------------------------------------- verdicts -- */

static void test_verdict_boundaries(void **state)
{
    (void)state;
    assert_int_equal(drill_verdict(0, 3600, 14400), DRILL_WITHIN_TARGET);
    assert_int_equal(drill_verdict(3600, 3600, 14400), DRILL_WITHIN_TARGET);
    assert_int_equal(drill_verdict(3600.000001, 3600, 14400), DRILL_WITHIN_MAXIMUM);
    assert_int_equal(drill_verdict(14400, 3600, 14400), DRILL_WITHIN_MAXIMUM);
    assert_int_equal(drill_verdict(14400.000001, 3600, 14400), DRILL_FAILED);
    assert_int_equal(drill_verdict(DRILL_UNMEASURED, 3600, 14400), DRILL_FAILED);
    assert_int_equal(drill_verdict(NAN, 3600, 14400), DRILL_FAILED);
    assert_int_equal(drill_verdict(INFINITY, 3600, 14400), DRILL_FAILED);
    /* target == maximum: no "within maximum" band at all */
    assert_int_equal(drill_verdict(300, 300, 300), DRILL_WITHIN_TARGET);
    assert_int_equal(drill_verdict(301, 300, 300), DRILL_FAILED);
}

static void test_targets_defaults(void **state)
{
    (void)state;
    drill_targets t;
    assert_int_equal(drill_targets_from_config(NULL, &t), 0);
    assert_int_equal(t.rto_target_s, 3600);
    assert_int_equal(t.rto_maximum_s, 4 * 3600);
    assert_int_equal(t.rpo_target_s, 300);
    assert_int_equal(t.rpo_maximum_s, 3600);

    rd_config *cfg = parse_config("[radiant]\nstate-dir = /tmp/x\n");
    memset(&t, 0, sizeof t);
    assert_int_equal(drill_targets_from_config(cfg, &t), 0);
    assert_int_equal(t.rto_target_s, 3600);
    assert_int_equal(t.rpo_maximum_s, 3600);
    rd_config_free(cfg);

    /* [targets] present but a key absent: that key keeps the guide's value */
    cfg = parse_config("[targets]\nrto-target = 30m\n");
    assert_int_equal(drill_targets_from_config(cfg, &t), 0);
    assert_int_equal(t.rto_target_s, 1800);
    assert_int_equal(t.rto_maximum_s, 4 * 3600);
    assert_int_equal(t.rpo_target_s, 300);
    assert_int_equal(t.rpo_maximum_s, 3600);
    rd_config_free(cfg);
}

static void test_targets_overrides(void **state)
{
    (void)state;
    drill_targets t;
    rd_config *cfg = parse_config("[targets]\nrto-target = 10m\nrto-maximum = 30m\n"
                                  "rpo-target = 1s\nrpo-maximum = 90\n");
    assert_int_equal(drill_targets_from_config(cfg, &t), 0);
    assert_int_equal(t.rto_target_s, 600);
    assert_int_equal(t.rto_maximum_s, 1800);
    assert_int_equal(t.rpo_target_s, 1);
    assert_int_equal(t.rpo_maximum_s, 90);
    rd_config_free(cfg);

    /* a target beyond its maximum is a configuration error with file:line */
    cfg = parse_config("[targets]\nrto-target = 2h\nrto-maximum = 1h\n");
    assert_int_equal(drill_targets_from_config(cfg, &t), -RD_ECONFIG);
    assert_non_null(strstr(rd_error(), "drill.conf:2"));
    assert_non_null(strstr(rd_error(), "rto-target"));
    rd_config_free(cfg);

    /* ... also against the default maximum, which the message names */
    cfg = parse_config("[targets]\nrpo-target = 2h\n");
    assert_int_equal(drill_targets_from_config(cfg, &t), -RD_ECONFIG);
    assert_non_null(strstr(rd_error(), "rpo-maximum"));
    assert_non_null(strstr(rd_error(), "the default"));
    rd_config_free(cfg);
}

static void test_evaluate_pass(void **state)
{
    (void)state;
    drill_result *r = good_drill();
    assert_int_equal(r->rto_verdict, DRILL_WITHIN_TARGET);
    assert_int_equal(r->rpo_verdict, DRILL_WITHIN_TARGET);
    assert_int_equal(r->verdict, DRILL_WITHIN_TARGET);
    assert_null(r->failure_reason);
    assert_int_equal(drill_result_status(r), 0);
    assert_true(r->checklist[DRILL_CHECK_PITR].verified);
    assert_true(r->checklist[DRILL_CHECK_RECOVERY_TIME].verified);
    assert_false(r->checklist[DRILL_CHECK_POSTMORTEM].verified);

    /* overall is the worst metric */
    r->rto_s = 2 * 3600;
    drill_targets t;
    drill_targets_default(&t);
    drill_evaluate(r, &t);
    assert_int_equal(r->rto_verdict, DRILL_WITHIN_MAXIMUM);
    assert_int_equal(r->verdict, DRILL_WITHIN_MAXIMUM);
    assert_int_equal(drill_result_status(r), 0);

    /* RPO over its maximum fails the drill and says so */
    r->rpo_s = 3601;
    drill_evaluate(r, &t);
    assert_int_equal(r->rpo_verdict, DRILL_FAILED);
    assert_int_equal(r->verdict, DRILL_FAILED);
    assert_non_null(strstr(r->failure_reason, "RPO 1 h 00 min 01 s exceeds the maximum 1 h 00 min"));
    /* a slow recovery still recovered: its checklist stands */
    assert_true(r->checklist[DRILL_CHECK_PITR].verified);
    assert_int_equal(drill_result_status(r), -RD_ECORRUPT);
    assert_non_null(strstr(rd_error(), "FAILED"));
    assert_non_null(strstr(rd_error(), r->id));
    drill_result_free(r);
}

static void test_evaluate_data_failures(void **state)
{
    (void)state;
    drill_targets t;
    drill_targets_default(&t);
    static const struct { int which; const char *reason; } cases[] = {
        { 0, "1 acknowledged write lost" },
        { 1, "3 writes present with another content hash" },
        { 2, "2 writes present that should not be" },
    };
    for (size_t i = 0; i < 3; i++) {
        drill_result *r = good_drill();
        if (cases[i].which == 0) r->writes_lost = 1;
        if (cases[i].which == 1) r->integrity_mismatches = 3;
        if (cases[i].which == 2) r->writes_extra = 2;
        drill_evaluate(r, &t);
        /* times within target do not save a drill that lost or altered data */
        assert_int_equal(r->rto_verdict, DRILL_WITHIN_TARGET);
        assert_int_equal(r->verdict, DRILL_FAILED);
        assert_non_null(r->failure_reason);
        assert_non_null(strstr(r->failure_reason, cases[i].reason));
        assert_false(r->checklist[DRILL_CHECK_PITR].verified);
        assert_non_null(strstr(r->checklist[DRILL_CHECK_PITR].note, "not verified"));
        assert_true(r->checklist[DRILL_CHECK_RECOVERY_TIME].verified);
        drill_result_free(r);
    }
}

static void test_evaluate_failed_recovery(void **state)
{
    (void)state;
    drill_result *r = drill_result_new("database-corruption", 7, true, T0);
    drill_result_add_event(r, DRILL_EV_INJECTION, T0 + S(1), "corrupt pages");
    size_t a = drill_step_begin(r, "restore", T0 + S(2));
    drill_step_end(r, a, T0 + S(30), DRILL_STEP_FAILED, "pg_ctl start failed");
    drill_step_skip(r, "update-endpoint", T0 + S(30), "previous step failed");
    drill_result_fail(r, "the restored cluster never accepted connections");
    drill_result_fail(r, "a later consequence");   /* the first cause is kept */
    /* an orchestrator bug ticks everything: evaluation must not let it stand */
    for (int c = 0; c < DRILL_CHECK_COUNT; c++)
        drill_result_check(r, (enum drill_check)c, "claimed");
    drill_targets t;
    drill_targets_default(&t);
    drill_evaluate(r, &t);
    assert_int_equal(r->verdict, DRILL_FAILED);
    assert_int_equal(r->rto_verdict, DRILL_FAILED);
    assert_non_null(strstr(r->failure_reason, "the restored cluster never accepted connections"));
    assert_null(strstr(r->failure_reason, "a later consequence"));
    assert_non_null(strstr(r->failure_reason, "runbook step 'restore' failed: pg_ctl start failed"));
    assert_false(r->checklist[DRILL_CHECK_PITR].verified);
    assert_false(r->checklist[DRILL_CHECK_S3_RECOVERY].verified);
    assert_false(r->checklist[DRILL_CHECK_DNS_FAILOVER].verified);
    assert_false(r->checklist[DRILL_CHECK_LAMBDA_ROLLBACK].verified);
    assert_false(r->checklist[DRILL_CHECK_RECOVERY_TIME].verified);
    /* items a failed recovery does not invalidate stay as the drill set them */
    assert_true(r->checklist[DRILL_CHECK_COMMUNICATION].verified);
    assert_int_equal(drill_result_status(r), -RD_ECORRUPT);
    drill_result_free(r);

    /* not recovered without a reason given, and a step that never ended */
    r = drill_result_new("az-failure", 1, false, T0);
    drill_step_begin(r, "promote replica", T0 + S(1));
    r->rto_s = 10;   /* a time without a recovery is meaningless */
    r->rpo_s = 0;
    drill_targets_default(&t);
    drill_evaluate(r, &t);
    assert_int_equal(r->verdict, DRILL_FAILED);
    assert_non_null(strstr(r->failure_reason, "never answered a verified read"));
    assert_non_null(strstr(r->failure_reason, "'promote replica' never finished"));
    drill_result_free(r);

    /* recovered but a runbook step failed (notification, say): still FAILED */
    r = good_drill();
    r->steps[1].status = DRILL_STEP_FAILED;
    drill_evaluate(r, &t);
    assert_int_equal(r->verdict, DRILL_FAILED);
    assert_non_null(strstr(r->failure_reason, "update-endpoint"));
    drill_result_free(r);
}

static void test_id_and_trend(void **state)
{
    (void)state;
    drill_result *r = drill_result_new("region-failure", 0, true, T0 + 123456);
    regex_t re;
    assert_int_equal(regcomp(&re, "^drill-[0-9]{8}-[0-9]{6}-[0-9a-f]{4}$", REG_EXTENDED), 0);
    assert_int_equal(regexec(&re, r->id, 0, NULL, 0), 0);
    regfree(&re);
    assert_non_null(strstr(r->id, "drill-20261118-110640-"));
    drill_result_free(r);

    double improving[] = { 300, 280, 200 };
    double worsening[] = { 100, 100, 130 };
    double steady[] = { 100, 102 };
    double one[] = { 100 };
    double gaps[] = { 100, DRILL_UNMEASURED, 50, DRILL_UNMEASURED };
    assert_string_equal(drill_trend(improving, 3), "improving");
    assert_string_equal(drill_trend(worsening, 3), "worsening");
    assert_string_equal(drill_trend(steady, 2), "steady");
    assert_string_equal(drill_trend(one, 1), "unknown");
    assert_string_equal(drill_trend(gaps, 4), "improving");
    assert_string_equal(drill_trend(NULL, 0), "unknown");
}

static void test_evaluate_sorts_timeline(void **state)
{
    (void)state;
    drill_result *r = drill_result_new("az-failure", 0, true, T0);
    drill_result_add_event(r, DRILL_EV_DETECTION, T0 + S(5), "late report of an early event");
    drill_result_add_event(r, DRILL_EV_INJECTION, T0 + S(2), "kill primary");
    drill_result_add_event(r, DRILL_EV_OTHER, T0 + S(5), "same time, recorded after");
    drill_targets t;
    drill_targets_default(&t);
    drill_evaluate(r, &t);
    assert_int_equal(r->events[0].kind, DRILL_EV_INJECTION);
    assert_int_equal(r->events[1].kind, DRILL_EV_DETECTION);   /* stable for equal times */
    assert_int_equal(r->events[2].kind, DRILL_EV_OTHER);
    assert_true(r->finished_us == T0 + S(5));
    drill_result_free(r);
}

/* ---------------------------------------------------------------- reports -- */

static void test_json_fields(void **state)
{
    (void)state;
    drill_result *r = good_drill();
    json_t *doc;
    assert_int_equal(drill_report_json(r, &doc), 0);
    static const char *const keys[] = { "id", "scenario", "seed", "ephemeral", "started",
        "finished", "duration_seconds", "verdict", "failure_reason", "recovered", "failure",
        "rto", "rpo", "writes", "timeline", "steps", "checklist", "observations" };
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_non_null(json_object_get(doc, keys[i]));
    assert_string_equal(json_string_value(json_object_get(doc, "verdict")), "within-target");
    assert_true(json_is_null(json_object_get(doc, "failure_reason")));
    assert_int_equal(json_integer_value(json_object_get(doc, "seed")), 42);
    assert_string_equal(json_string_value(json_object_get(doc, "started")),
                        "2026-11-18T11:06:40.000000Z");
    json_t *rto = json_object_get(doc, "rto");
    assert_true(json_real_value(json_object_get(rto, "seconds")) == 240.0);
    assert_int_equal(json_integer_value(json_object_get(rto, "target_seconds")), 3600);
    assert_int_equal(json_integer_value(json_object_get(rto, "maximum_seconds")), 14400);
    assert_string_equal(json_string_value(json_object_get(rto, "verdict")), "within-target");
    json_t *w = json_object_get(doc, "writes");
    assert_int_equal(json_integer_value(json_object_get(w, "acknowledged")), 1000);
    assert_int_equal(json_integer_value(json_object_get(w, "lost")), 0);
    assert_non_null(json_object_get(w, "extra"));
    assert_non_null(json_object_get(w, "integrity_mismatches"));
    json_t *tl = json_object_get(doc, "timeline");
    assert_int_equal(json_array_size(tl), 8);   /* 4 events + 2 x (start, end); a skip adds none */
    json_t *inj = json_array_get(tl, 1);
    assert_string_equal(json_string_value(json_object_get(inj, "kind")), "injection");
    assert_true(json_real_value(json_object_get(inj, "offset_seconds")) == 0.0);
    json_t *steps = json_object_get(doc, "steps");
    assert_int_equal(json_array_size(steps), 3);
    json_t *s0 = json_array_get(steps, 0);
    assert_string_equal(json_string_value(json_object_get(s0, "status")), "ok");
    assert_true(json_real_value(json_object_get(s0, "duration_seconds")) == 184.0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(steps, 2), "status")),
                        "skipped");
    json_t *cl = json_object_get(doc, "checklist");
    assert_int_equal(json_array_size(cl), 8);
    assert_string_equal(json_string_value(json_object_get(json_array_get(cl, 0), "item")),
                        "Database point-in-time recovery tested");
    assert_true(json_is_true(json_object_get(json_array_get(cl, 0), "verified")));
    assert_true(json_is_false(json_object_get(json_array_get(cl, 7), "verified")));

    /* round trip: the same document comes back */
    drill_result *back;
    assert_int_equal(drill_result_from_json(doc, &back), 0);
    json_t *again;
    assert_int_equal(drill_report_json(back, &again), 0);
    assert_true(json_equal(doc, again));
    json_decref(again);
    drill_result_free(back);

    /* a stored report cannot claim a pass its own numbers contradict */
    json_object_set_new(w, "lost", json_integer(5));
    assert_int_equal(drill_result_from_json(doc, &back), 0);
    assert_int_equal(back->verdict, DRILL_FAILED);
    assert_non_null(strstr(back->failure_reason, "5 acknowledged writes lost"));
    drill_result_free(back);

    /* a missing field is named */
    json_object_del(doc, "writes");
    assert_int_equal(drill_result_from_json(doc, &back), -RD_ECORRUPT);
    assert_null(back);
    assert_non_null(strstr(rd_error(), "writes"));
    json_decref(doc);
    drill_result_free(r);
}

static void test_markdown(void **state)
{
    (void)state;
    drill_result *r = good_drill();
    drill_result_observe(r, "pipe|label", "<b>bold</b>");
    rd_buf b = RD_BUF_INIT;
    assert_int_equal(drill_report_markdown(r, &b), 0);
    const char *md = buf_str(&b);
    assert_non_null(strstr(md, "**Verdict: WITHIN TARGET**"));
    assert_non_null(strstr(md, "| Scenario | database-corruption |"));
    assert_non_null(strstr(md, "| Metric | Measured | Target | Maximum | Verdict |"));
    assert_non_null(strstr(md, "| RTO | 4 min 00 s | 1 h 00 min | 4 h 00 min | WITHIN TARGET |"));
    assert_non_null(strstr(md, "| RPO | 0.8 s | 5 min 00 s | 1 h 00 min | WITHIN TARGET |"));
    assert_non_null(strstr(md, "| 1 | restore-db-cluster-to-point-in-time | ok |"));
    assert_non_null(strstr(md, "| 3 | flush-cache | skipped |"));
    assert_non_null(strstr(md, "- [x] Database point-in-time recovery tested — restored"));
    assert_non_null(strstr(md, "- [ ] S3 object recovery tested"));
    assert_non_null(strstr(md, "- [x] Recovery time recorded"));
    assert_non_null(strstr(md, "- [ ] Post-mortem completed"));
    assert_non_null(strstr(md, "pipe\\|label"));
    assert_null(strstr(md, "<b>"));
    assert_int_equal(count(md, "- ["), 8);
    rd_buf_free(&b);

    /* a failed drill: the verdict and its reason come first */
    r->writes_lost = 2;
    drill_targets t;
    drill_targets_default(&t);
    drill_evaluate(r, &t);
    assert_int_equal(drill_report_markdown(r, &b), 0);
    md = buf_str(&b);
    assert_non_null(strstr(md, "**Verdict: FAILED** — 2 acknowledged writes lost"));
    assert_non_null(strstr(md, "- [ ] Database point-in-time recovery tested — not verified"));
    rd_buf_free(&b);
    drill_result_free(r);
}

static void test_html(void **state)
{
    (void)state;
    drill_result *r = drill_result_new("<script>alert('s')</script>", 3, true, T0);
    drill_result_add_event(r, DRILL_EV_INJECTION, T0 + S(1), "<script>alert(1)</script>");
    drill_result_add_event(r, DRILL_EV_DETECTION, T0 + S(3), "a \"quoted\" & 'odd' label");
    size_t a = drill_step_begin(r, "<img src=x onerror=alert(2)>", T0 + S(4));
    drill_step_end(r, a, T0 + S(20), DRILL_STEP_OK, "</title><script>x</script>");
    size_t b2 = drill_step_begin(r, "second", T0 + S(21));
    drill_step_end(r, b2, T0 + S(22), DRILL_STEP_FAILED, "boom");
    drill_step_skip(r, "third", T0 + S(22), NULL);
    drill_result_add_event(r, DRILL_EV_RECOVERED, T0 + S(25), "ok");
    r->recovered = true;
    r->rto_s = 24;
    r->rpo_s = 0;
    drill_result_check(r, DRILL_CHECK_COMMUNICATION, "<script>note</script>");
    drill_targets t;
    drill_targets_default(&t);
    drill_evaluate(r, &t);

    rd_buf b = RD_BUF_INIT;
    assert_int_equal(drill_report_html(r, &b), 0);
    const char *html = buf_str(&b);
    assert_non_null(strstr(html, "<!DOCTYPE html>"));
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<img"));
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(html, "a &quot;quoted&quot; &amp; &#39;odd&#39; label"));
    assert_non_null(strstr(html, "&lt;/title&gt;&lt;script&gt;x&lt;/script&gt;"));
    /* self-contained: no external resource, no link, no script */
    assert_null(strstr(html, "src=\""));   /* escaped text may say src=x; no attribute does */
    assert_null(strstr(html, "href=\""));
    assert_null(strstr(html, "url("));
    assert_null(strstr(html, "@import"));
    assert_int_equal(count(html, "http"), 1);   /* the SVG namespace only */
    assert_non_null(strstr(html, "<style>"));
    /* verdict prominent, the failed step named */
    assert_non_null(strstr(html, "<div id=\"verdict\" class=\"v-failed\">FAILED</div>"));
    assert_non_null(strstr(html, "id=\"failure-reason\""));
    /* the timeline: one bar per step, a marker per injection/detection/recovered */
    assert_non_null(strstr(html, "<svg id=\"timeline\""));
    assert_int_equal(count(html, "<rect class=\"step "), 3);
    assert_int_equal(count(html, "class=\"step step-ok\""), 1);
    assert_int_equal(count(html, "class=\"step step-failed\""), 1);
    assert_int_equal(count(html, "class=\"step step-skipped\""), 1);
    assert_int_equal(count(html, "class=\"marker marker-injection\""), 1);
    assert_int_equal(count(html, "class=\"marker marker-detection\""), 1);
    assert_int_equal(count(html, "class=\"marker marker-recovered\""), 1);
    assert_int_equal(count(html, "</svg>"), 1);
    assert_int_equal(count(html, "<li class="), 8);
    rd_buf_free(&b);
    drill_result_free(r);

    /* no steps at all still renders a timeline */
    r = drill_result_new("security-breach", 0, false, T0);
    drill_evaluate(r, &t);
    assert_int_equal(drill_report_html(r, &b), 0);
    html = buf_str(&b);
    assert_non_null(strstr(html, "<svg id=\"timeline\""));
    assert_non_null(strstr(html, "id=\"verdict\""));
    rd_buf_free(&b);
    drill_result_free(r);
}

static void test_report_write(void **state)
{
    const char *dir = *state;
    drill_result *r = good_drill();
    char *out = rd_asprintf("%s/reports/%s", dir, r->id);   /* created as needed */
    drill_report_paths p;
    assert_int_equal(drill_report_write(r, out, &p), 0);
    const char *names[] = { p.json, p.markdown, p.html };
    const char *suffix[] = { "/report.json", "/report.md", "/report.html" };
    for (int i = 0; i < 3; i++) {
        assert_non_null(strstr(names[i], suffix[i]));
        struct stat st;
        assert_int_equal(stat(names[i], &st), 0);
        assert_true(st.st_size > 100);
    }
    rd_buf b = RD_BUF_INIT;
    assert_int_equal(rd_fs_read_file(p.json, 1 << 20, &b), 0);
    json_t *doc = json_loadb((const char *)b.data, b.len, 0, NULL);
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "id")), r->id);
    json_decref(doc);
    rd_buf_free(&b);
    drill_report_paths_free(&p);

    /* a file where the directory should be: usage error naming it */
    char *file = rd_asprintf("%s/plain", dir);
    assert_int_equal(rd_fs_write_atomic(file, "x", 1, 0644), 0);
    assert_int_equal(drill_report_write(r, file, NULL), -RD_EUSAGE);
    assert_non_null(strstr(rd_error(), file));
    /* a directory that cannot be created: I/O error naming it */
    char *below = rd_asprintf("%s/sub", file);
    assert_int_equal(drill_report_write(r, below, NULL), -RD_EIO);
    assert_non_null(strstr(rd_error(), below));
    free(below);
    free(file);
    free(out);
    drill_result_free(r);
}

/* ---------------------------------------------------------------- history -- */

static void test_history(void **state)
{
    const char *dir = *state;
    rd_catalog *cat;
    assert_int_equal(rd_catalog_open(dir, &cat), 0);
    assert_true(rd_catalog_schema_version(cat) >= 5);

    drill_targets t;
    drill_targets_default(&t);
    char *ids[4];
    for (int i = 0; i < 4; i++) {
        drill_result *r = drill_result_new(i == 2 ? "az-failure" : "database-corruption",
                                           (uint64_t)i, true, T0 + S(86400.0 * i));
        r->recovered = i != 3;
        r->rto_s = i == 3 ? DRILL_UNMEASURED : 300.0 - 50 * i;
        r->rpo_s = i == 3 ? DRILL_UNMEASURED : 1.0;
        r->writes_lost = i == 3 ? 7 : 0;
        drill_evaluate(r, &t);
        assert_int_equal(drill_save(cat, r), 0);
        if (i == 0) {
            assert_int_equal(drill_save(cat, r), -RD_EEXIST);
        }
        ids[i] = rd_strdup(r->id);
        drill_result_free(r);
    }

    drill_summary *list;
    size_t n;
    assert_int_equal(drill_list(cat, NULL, 0, &list, &n), 0);
    assert_int_equal(n, 4);
    assert_string_equal(list[0].id, ids[3]);   /* newest first */
    assert_string_equal(list[3].id, ids[0]);
    assert_int_equal(list[0].verdict, DRILL_FAILED);
    assert_true(list[0].rto_s < 0);            /* unmeasured stays unmeasured */
    assert_int_equal(list[0].lost, 7);
    assert_int_equal(list[3].verdict, DRILL_WITHIN_TARGET);
    assert_true(list[3].rto_s == 300.0);
    drill_summaries_free(list, n);

    assert_int_equal(drill_list(cat, "database-corruption", 2, &list, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, ids[3]);
    assert_string_equal(list[1].id, ids[1]);
    drill_summaries_free(list, n);
    assert_int_equal(drill_list(cat, "region-failure", 0, &list, &n), 0);
    assert_int_equal(n, 0);
    drill_summaries_free(list, n);

    char *json;
    assert_int_equal(drill_get(cat, ids[3], &json), 0);
    json_t *doc = json_loads(json, 0, NULL);
    drill_result *back;
    assert_int_equal(drill_result_from_json(doc, &back), 0);
    assert_string_equal(back->id, ids[3]);
    assert_int_equal(back->verdict, DRILL_FAILED);
    assert_int_equal(back->writes_lost, 7);
    drill_result_free(back);
    json_decref(doc);
    free(json);
    assert_int_equal(drill_get(cat, "drill-19700101-000000-0000", &json), -RD_ENOENT);
    assert_null(json);
    assert_non_null(strstr(rd_error(), "drill-19700101-000000-0000"));

    for (int i = 0; i < 4; i++)
        free(ids[i]);
    rd_catalog_close(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdict_boundaries),
        cmocka_unit_test(test_targets_defaults),
        cmocka_unit_test(test_targets_overrides),
        cmocka_unit_test(test_evaluate_pass),
        cmocka_unit_test(test_evaluate_data_failures),
        cmocka_unit_test(test_evaluate_failed_recovery),
        cmocka_unit_test(test_evaluate_sorts_timeline),
        cmocka_unit_test(test_id_and_trend),
        cmocka_unit_test(test_json_fields),
        cmocka_unit_test(test_markdown),
        cmocka_unit_test(test_html),
        cmocka_unit_test_setup_teardown(test_report_write, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_history, setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
