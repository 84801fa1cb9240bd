"""`radiant drill history` and `radiant drill report` (docs/cli.md, "radiant drill").

The drill orchestrator does not exist yet, so drills are recorded the way any
other tool may record them: rows in the catalog's `drills` table (migration 5),
whose columns and JSON report are the documented contract. The binary under
test carries no test-only way to create drills. The HTML report is rendered in
headless Chromium, screenshotted, and its DOM checked for the timeline and the
verdict.
"""
import json
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import zlib

import pytest

from conftest import ERROR_CODES, Radiant, parse_error_line

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
T0 = 1795000000 * 1000000          # 2026-11-18T11:06:40Z
DAY = 86400 * 1000000
CHECKLIST = ["Database point-in-time recovery tested", "S3 object recovery tested",
             "Secret rotation tested", "Lambda rollback tested", "DNS failover tested",
             "Communication plan executed", "Recovery time recorded", "Post-mortem completed"]


def iso_us(us):
    import datetime
    dt = datetime.datetime.fromtimestamp(us // 1000000, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%06dZ" % (us % 1000000)


def verdict_of(seconds, target, maximum):
    if seconds is None or seconds > maximum:
        return "failed"
    return "within-target" if seconds <= target else "within-maximum"


def make_report(drill_id, scenario, started_us, rto, rpo, lost=0, recovered=True,
                failure=None, steps=None, label="DROP TABLE orders"):
    """A report as docs/cli.md describes it; the verdict fields are what the
    rules give, though radiant re-judges them anyway."""
    inj = started_us + 10 * 1000000
    steps = steps if steps is not None else [("restore-db-cluster-to-point-in-time", 1, 150, "ok"),
                                             ("update-endpoint", 151, 170, "ok"),
                                             ("flush-cache", 170, 170, "skipped")]
    timeline = [{"kind": "injection", "time": iso_us(inj), "offset_seconds": 0.0,
                 "label": label, "step": None},
                {"kind": "detection", "time": iso_us(inj + 4000000), "offset_seconds": 4.0,
                 "label": "health check failed", "step": None}]
    step_docs = []
    for name, a, b, status in steps:
        s, e = inj + a * 1000000, inj + b * 1000000
        if status != "skipped":
            timeline.append({"kind": "step-start", "time": iso_us(s), "offset_seconds": float(a),
                             "label": f"{name} started", "step": name})
            timeline.append({"kind": "step-end", "time": iso_us(e), "offset_seconds": float(b),
                             "label": f"{name} {status}", "step": name})
        step_docs.append({"name": name, "status": status, "start": iso_us(s), "end": iso_us(e),
                          "duration_seconds": float(b - a),
                          "message": "pg_ctl start failed" if status == "failed" else None})
    if recovered:
        timeline.append({"kind": "recovered", "time": iso_us(inj + int(rto * 1000000)),
                         "offset_seconds": float(rto), "label": "verified read and write",
                         "step": None})
    rto_v, rpo_v = verdict_of(rto, 3600, 14400), verdict_of(rpo, 300, 3600)
    overall = max((rto_v, rpo_v), key=["within-target", "within-maximum", "failed"].index)
    if lost or not recovered or failure:
        overall = "failed"
    checklist = [{"item": item, "verified": False, "note": None} for item in CHECKLIST]
    if recovered and not lost:
        checklist[0] = {"item": CHECKLIST[0], "verified": True,
                        "note": "restored to the second before the DROP"}
    if recovered:
        checklist[6] = {"item": CHECKLIST[6], "verified": True, "note": "RTO recorded"}
    return {
        "id": drill_id, "scenario": scenario, "seed": 42, "ephemeral": True,
        "started": iso_us(started_us), "finished": iso_us(inj + 200 * 1000000),
        "duration_seconds": 210.0, "verdict": overall,
        "failure_reason": None if overall != "failed" else "see the rules",
        "recovered": recovered, "failure": failure,
        "rto": {"seconds": rto, "target_seconds": 3600, "maximum_seconds": 14400,
                "verdict": rto_v},
        "rpo": {"seconds": rpo, "target_seconds": 300, "maximum_seconds": 3600,
                "verdict": rpo_v},
        "writes": {"acknowledged": 1000, "lost": lost, "extra": 0, "integrity_mismatches": 0},
        "timeline": timeline, "steps": step_docs, "checklist": checklist,
        "observations": [{"name": "restore target", "value": "2026-11-18T11:06:49Z"}],
    }


def insert(rad, report):
    """Records a drill as drill_save does: the columns, then the whole report."""
    db = sqlite3.connect(os.path.join(rad.state_dir, "catalog.db"))
    with db:
        started = report["started"]
        import datetime
        dt = datetime.datetime.strptime(started[:19], "%Y-%m-%dT%H:%M:%S").replace(
            tzinfo=datetime.timezone.utc)
        started_us = int(dt.timestamp()) * 1000000 + int(started[20:26])
        db.execute("INSERT INTO drills (id, scenario, started_us, finished_us, verdict, rto_s, "
                   "rpo_s, lost, json) VALUES (?,?,?,?,?,?,?,?,?)",
                   (report["id"], report["scenario"], started_us, started_us + 210 * 1000000,
                    report["verdict"], report["rto"]["seconds"], report["rpo"]["seconds"],
                    report["writes"]["lost"], json.dumps(report)))
    db.close()


@pytest.fixture
def drills(workdir, radiant_bin):
    """A state directory with five recorded drills: four database-corruption
    runs whose RTO improves (the newest FAILED: it lost writes) and one AZ
    failure whose recovery never completed."""
    rad = Radiant(workdir)
    # The first command creates the catalog and applies the migrations.
    _, doc, _ = rad.run(["drill", "history"])
    assert doc == {"Drills": [], "Trends": []}
    reports = [
        make_report("drill-20261118-110640-0001", "database-corruption", T0, 600.0, 2.0),
        make_report("drill-20261119-110640-0002", "database-corruption", T0 + DAY, 500.0, 1.5),
        make_report("drill-20261120-110640-0003", "az-failure", T0 + 2 * DAY, None, None,
                    recovered=False, failure="the replica was never promoted",
                    steps=[("promote-replica", 1, 30, "failed"),
                           ("update-endpoint", 30, 30, "skipped")]),
        make_report("drill-20261121-110640-0004", "database-corruption", T0 + 3 * DAY, 7200.0,
                    30.0),
        make_report("drill-20261122-110640-0005", "database-corruption", T0 + 4 * DAY, 240.0,
                    0.8, lost=3, label="<script>alert('drill')</script>"),
    ]
    for r in reports:
        insert(rad, r)
    return rad, reports


# ------------------------------------------------------------------ history --

def test_history_json(drills):
    rad, reports = drills
    _, doc, _ = rad.run(["drill", "history"])
    ids = [d["id"] for d in doc["Drills"]]
    assert ids == [r["id"] for r in reversed(reports)]          # newest first
    for d in doc["Drills"]:
        assert set(d) >= {"id", "scenario", "started", "finished", "verdict", "rto_seconds",
                          "rpo_seconds", "lost_writes"}, d
        assert ISO.match(d["started"]) and ISO.match(d["finished"])
    by_id = {d["id"]: d for d in doc["Drills"]}
    assert by_id["drill-20261122-110640-0005"]["verdict"] == "failed"
    assert by_id["drill-20261122-110640-0005"]["lost_writes"] == 3
    assert by_id["drill-20261121-110640-0004"]["verdict"] == "within-maximum"
    assert by_id["drill-20261118-110640-0001"]["verdict"] == "within-target"
    assert by_id["drill-20261118-110640-0001"]["started"] == "2026-11-18T11:06:40Z"
    az = by_id["drill-20261120-110640-0003"]
    assert az["verdict"] == "failed" and az["rto_seconds"] is None and az["rpo_seconds"] is None

    trends = {t["scenario"]: t for t in doc["Trends"]}
    assert set(trends) == {"database-corruption", "az-failure"}
    db = trends["database-corruption"]
    assert db["runs"] == 4
    assert db["rto_seconds"] == [600.0, 500.0, 7200.0, 240.0]   # oldest first
    assert db["rto_trend"] == "improving"                       # 240 against their mean
    assert db["rpo_trend"] == "improving"
    assert trends["az-failure"]["rto_trend"] == "unknown"


def test_history_filters_and_text(drills):
    rad, _ = drills
    _, doc, _ = rad.run(["drill", "history", "--scenario", "az-failure"])
    assert [d["id"] for d in doc["Drills"]] == ["drill-20261120-110640-0003"]
    _, doc, _ = rad.run(["drill", "history", "--limit", "2"])
    assert [d["id"] for d in doc["Drills"]] == ["drill-20261122-110640-0005",
                                                "drill-20261121-110640-0004"]
    _, doc, _ = rad.run(["drill", "history", "--scenario", "region-failure"])
    assert doc == {"Drills": [], "Trends": []}

    p = subprocess.run([rad.bin, "--config", rad.cfg, "drill", "history"], capture_output=True,
                       text=True, check=True)
    lines = p.stdout.splitlines()
    assert lines[0].split() == ["ID", "SCENARIO", "DATE", "RTO", "RPO", "LOST", "VERDICT"]
    row = next(l for l in lines if l.startswith("drill-20261122-110640-0005"))
    assert "database-corruption" in row and "2026-11-22T11:06:40Z" in row
    assert row.rstrip().endswith("FAILED") and " 3 " in row
    assert any(l.startswith("drill-20261121") and l.rstrip().endswith("WITHIN MAXIMUM")
               for l in lines)
    trend = next(l for l in lines if l.strip().startswith("database-corruption:"))
    assert "RTO 10m00s -> 8m20s -> 2h00m -> 4m00s (improving)" in trend, trend


# ------------------------------------------------------------------- report --

def test_report_formats(drills):
    rad, reports = drills
    _, doc, _ = rad.run(["drill", "report", "drill-20261118-110640-0001"])
    rep = doc["Drill"]
    assert rep["id"] == "drill-20261118-110640-0001"
    assert rep["verdict"] == "within-target" and rep["failure_reason"] is None
    assert rep["rto"] == {"seconds": 600.0, "target_seconds": 3600, "maximum_seconds": 14400,
                          "verdict": "within-target"}
    assert [c["item"] for c in rep["checklist"]] == CHECKLIST

    md = subprocess.run([rad.bin, "--config", rad.cfg, "drill", "report",
                         "drill-20261120-110640-0003"], capture_output=True, text=True,
                        check=True).stdout
    assert "**Verdict: FAILED** — the replica was never promoted" in md
    assert "runbook step 'promote-replica' failed: pg\\_ctl start failed" in md
    assert "- [ ] Database point-in-time recovery tested" in md
    assert "- [ ] Recovery time recorded" in md

    bare = subprocess.run([rad.bin, "--config", rad.cfg, "drill", "report", "--format", "json",
                           "drill-20261118-110640-0001"], capture_output=True, text=True,
                          check=True).stdout
    assert json.loads(bare) == rep

    html = subprocess.run([rad.bin, "--config", rad.cfg, "drill", "report",
                           "drill-20261122-110640-0005", "--format", "html"],
                          capture_output=True, text=True, check=True).stdout
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#39;drill&#39;)&lt;/script&gt;" in html
    assert '<div id="verdict" class="v-failed">FAILED</div>' in html


def test_report_rejudges_stored_verdict(drills):
    """A row that claims a pass its measurements contradict is reported FAILED."""
    rad, _ = drills
    forged = make_report("drill-20261123-110640-0006", "database-corruption", T0 + 5 * DAY,
                         60.0, 1.0)
    forged["writes"]["lost"] = 12
    forged["verdict"] = "within-target"
    insert(rad, forged)
    _, doc, _ = rad.run(["drill", "report", forged["id"]])
    assert doc["Drill"]["verdict"] == "failed"
    assert "12 acknowledged writes lost" in doc["Drill"]["failure_reason"]
    assert doc["Drill"]["checklist"][0]["verified"] is False


def test_report_dir(drills, workdir):
    rad, _ = drills
    out = os.path.join(workdir, "out", "nested")
    _, doc, _ = rad.run(["drill", "report", "drill-20261122-110640-0005", "--report-dir", out])
    files = doc["DrillReport"]
    assert files["id"] == "drill-20261122-110640-0005"
    for key, name in (("json", "report.json"), ("markdown", "report.md"),
                      ("html", "report.html")):
        assert files[key] == os.path.join(out, name)
        assert os.path.getsize(files[key]) > 200
    with open(files["json"]) as f:
        assert json.load(f)["verdict"] == "failed"

    blocker = os.path.join(workdir, "blocker")
    with open(blocker, "w") as f:
        f.write("x")
    rc, _, err = rad.run(["drill", "report", "drill-20261122-110640-0005", "--report-dir",
                          blocker], expect_exit=2)
    assert blocker in parse_error_line(err, rc)["message"]
    rc, _, err = rad.run(["drill", "report", "drill-20261122-110640-0005", "--report-dir",
                          os.path.join(blocker, "sub")], expect_exit=5)
    assert blocker in parse_error_line(err, rc)["message"]


def test_errors(drills):
    rad, _ = drills
    rc, _, err = rad.run(["drill", "report", "drill-19700101-000000-dead"], expect_exit=4)
    assert "drill-19700101-000000-dead" in parse_error_line(err, rc)["message"]
    rad.run(["drill", "report"], expect_exit=2)
    rad.run(["drill", "report", "x", "--format", "pdf"], expect_exit=2)
    rad.run(["drill", "report", "x", "--format", "markdown"], expect_exit=2)   # not JSON
    rad.run(["drill", "history", "--limit", "0"], expect_exit=2)
    rad.run(["drill", "history", "--format", "json"], expect_exit=2)
    # `drill run` without a scenario names them (tests/integration/test_drill_run.py)
    rc, _, err = rad.run(["drill", "run"], expect_exit=2)
    assert "db-corruption or accidental-deletion" in parse_error_line(err, rc)["message"]

    db = sqlite3.connect(os.path.join(rad.state_dir, "catalog.db"))
    with db:
        db.execute("INSERT INTO drills VALUES ('drill-bad', 's', 0, 0, 'failed', NULL, NULL, 0,"
                   " '{not json')")
    db.close()
    rc, _, err = rad.run(["drill", "report", "drill-bad"], expect_exit=6)
    assert ERROR_CODES[rc] == "corrupt"

    p = subprocess.run([rad.bin, "help", "drill"], capture_output=True, text=True, check=True)
    assert all(c in p.stdout.split() for c in ("history", "report", "run", "cleanup"))


# ----------------------------------------------------------------- chromium --

def find_chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is not installed (scripts/install-deps) and CI must run this test")
    pytest.skip("chromium is not installed")


def png_pixels(path):
    """Decodes an 8-bit RGB/RGBA non-interlaced PNG (what Chromium writes)."""
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, ctype, _, _, interlace = header
    assert depth == 8 and ctype in (2, 6) and interlace == 0, header
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev, i = [], bytearray(stride), 0
    for _ in range(height):
        ftype, line = raw[i], bytearray(raw[i + 1:i + 1 + stride])
        i += 1 + stride
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 0xff
            elif ftype == 2:
                line[x] = (line[x] + b) & 0xff
            elif ftype == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xff
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[x] = (line[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xff
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def count_color(rows, bpp, rgb, tol=12):
    n = 0
    for row in rows:
        for x in range(0, len(row), bpp):
            if all(abs(row[x + k] - rgb[k]) <= tol for k in range(3)):
                n += 1
    return n


def chromium_argv(chromium, profile):
    return [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
            f"--user-data-dir={profile}", "--no-first-run", "--disable-extensions"]


def test_html_renders_in_chromium(drills, workdir):
    chromium = find_chromium()
    rad, _ = drills
    out = os.path.join(workdir, "report")
    _, doc, _ = rad.run(["drill", "report", "drill-20261122-110640-0005", "--report-dir", out])
    html = doc["DrillReport"]["html"]
    url = "file://" + html
    env = dict(os.environ, HOME=workdir)

    shot = os.path.join(workdir, "report.png")
    p = subprocess.run(chromium_argv(chromium, os.path.join(workdir, "profile1")) +
                       [f"--screenshot={shot}", "--window-size=1200,900", url],
                       capture_output=True, text=True, timeout=180, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    assert os.path.getsize(shot) > 10000, "screenshot is suspiciously small"
    width, height, bpp, rows = png_pixels(shot)
    assert (width, height) == (1200, 900)
    # the FAILED verdict box (background #ffebe9) and the green step bars
    # (#2da44e) of the timeline are really painted
    assert count_color(rows, bpp, (0xff, 0xeb, 0xe9), tol=4) > 2000
    assert count_color(rows, bpp, (0x2d, 0xa4, 0x4e)) > 500
    assert count_color(rows, bpp, (0xcf, 0x22, 0x2e), tol=20) > 100   # injection, border

    p = subprocess.run(chromium_argv(chromium, os.path.join(workdir, "profile2")) +
                       ["--dump-dom", url], capture_output=True, text=True, timeout=180, env=env)
    assert p.returncode == 0, p.stderr[-3000:]
    dom = p.stdout
    assert re.search(r'<svg[^>]*id="timeline"', dom), dom[:2000]
    assert re.search(r'<div id="verdict"[^>]*>FAILED</div>', dom)
    assert len(re.findall(r'<rect class="step step-', dom)) == 3
    # the hostile label stayed text: the parser built no script element
    assert "<script" not in dom
    assert "&lt;script&gt;alert('drill')&lt;/script&gt;" in dom
