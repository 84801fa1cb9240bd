"""`radiant runbook run database-recovery` on a real PostgreSQL 15 (dr-guide
"Database Recovery Runbook"): rows, a snapshot, more rows, a table dropped at
T; the runbook restores to T-1s into a new cluster that holds every row
committed before and accepts writes, each of its five steps ok and timed, the
endpoint printed. Then what an operator gets wrong: an unknown source (exit
4), a time outside the window (exit 11, both bounds), an unknown runbook and
a bad time (exit 2), each leaving no new cluster behind."""

import datetime
import json
import os
import subprocess
import time

import pytest

from pgfixture import RADIANT, PgEnv, free_port, wait_archived

STEPS = ["resolve", "restore-db-cluster-to-point-in-time", "wait db-cluster-available",
         "verify", "endpoint"]


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def parse_ms(text):
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def runbook(env, *args, output="json"):
    """The runbook as root (it becomes postgres); returns (exit, stdout, stderr)."""
    proc = subprocess.run([RADIANT, "--config", env.config, "--output", output, "runbook"]
                          + list(args), capture_output=True, text=True, timeout=300,
                          stdin=subprocess.DEVNULL, cwd=env.dir)
    if "--db-cluster-identifier" in args:
        env.clusters.add(args[args.index("--db-cluster-identifier") + 1])
    return proc.returncode, proc.stdout, proc.stderr


def last_error(stderr):
    return json.loads(stderr.strip().splitlines()[-1])["error"]


@pytest.fixture(scope="module")
def source():
    """A cluster "prod" with rows 1..30, a snapshot after row 10, table t
    dropped at T; yields (env, port, T-1s)."""
    env = PgEnv()
    port = free_port()
    env.run("db", "create-db-cluster", "--db-cluster-identifier", "prod", "--port", str(port))
    conn = env.connect(port)
    cur = conn.cursor()
    cur.execute("CREATE TABLE t (id int PRIMARY KEY, payload text)")
    conn.commit()
    for i in range(1, 11):
        cur.execute("INSERT INTO t VALUES (%s, %s)", (i, "row %d" % i))
        conn.commit()
    env.run("db", "create-db-cluster-snapshot", "--db-cluster-identifier", "prod",
            "--db-cluster-snapshot-identifier", "prod-snap")
    for i in range(11, 31):
        cur.execute("INSERT INTO t VALUES (%s, %s)", (i, "row %d" % i))
        conn.commit()
    time.sleep(1.6)
    before = time.time()                     # T-1s: no commit within 1.6 s of it
    time.sleep(1.6)
    cur.execute("DROP TABLE t")              # T
    conn.commit()
    wait_archived(conn)
    conn.close()
    yield env, port, before
    env.close()


def test_database_recovery(source):
    env, _port, before = source
    new_port = free_port()
    t0 = time.time()
    code, out, err = runbook(env, "run", "database-recovery",
                             "--source-db-cluster-identifier", "prod",
                             "--restore-to-time", iso(before),
                             "--db-cluster-identifier", "prod-dr", "--port", str(new_port))
    t1 = time.time()
    assert code == 0, err[-3000:]
    doc = json.loads(out)
    assert doc["Runbook"] == "database-recovery"
    assert doc["Status"] == "succeeded"
    assert "Error" not in doc
    assert [s["Name"] for s in doc["Steps"]] == STEPS
    prev_end = parse_ms(doc["Start"])
    for s in doc["Steps"]:
        assert s["Status"] == "ok", s
        assert s["Description"]
        start, end = parse_ms(s["Start"]), parse_ms(s["End"])
        assert t0 - 1 <= start <= end <= t1 + 1
        assert start >= prev_end - 0.002
        prev_end = end
        assert 0 <= s["Seconds"] <= end - start + 0.01
    assert doc["Steps"][1]["Seconds"] > 0.1   # the restore is the long one
    assert sum(s["Seconds"] for s in doc["Steps"]) <= doc["Seconds"] + 0.01
    outs = doc["Outputs"]
    assert outs["DBClusterIdentifier"] == "prod-dr"
    assert outs["SourceDBClusterIdentifier"] == "prod"
    assert outs["RestoreToTime"] == iso(before)
    assert outs["Endpoint"] == "127.0.0.1"
    assert outs["Port"] == new_port
    assert outs["EarliestRestorableTime"] <= iso(before) <= outs["LatestRestorableTime"]
    assert doc["Steps"][4]["Message"].startswith("Endpoint: 127.0.0.1:%d" % new_port)
    assert "txid_current" in doc["Steps"][3]["Message"]

    # every row committed before T-1s, and it takes writes
    with env.connect(new_port) as conn:
        cur = conn.cursor()
        cur.execute("SELECT id FROM t ORDER BY id")
        assert [r[0] for r in cur.fetchall()] == list(range(1, 31))
        cur.execute("INSERT INTO t VALUES (1000, 'after recovery')")
    desc = env.run("db", "describe-db-clusters", "--db-cluster-identifier", "prod-dr")
    assert desc["DBClusters"][0]["Status"] == "available"
    assert desc["DBClusters"][0]["RestoredFrom"] == "prod@" + iso(before)
    events = env.run("db", "describe-events", "--source-identifier", "prod-dr")["Events"]
    messages = [e["Message"] for e in events]
    assert any(m.startswith("runbook database-recovery started") for m in messages)
    assert any(m.startswith("runbook database-recovery succeeded") for m in messages)


def test_text_output(source):
    env, _port, _before = source
    new_port = free_port()
    code, out, err = runbook(env, "run", "database-recovery",
                             "--source-db-cluster-identifier", "prod",
                             "--use-latest-restorable-time",
                             "--db-cluster-identifier", "prod-latest", "--port", str(new_port),
                             output="text")
    assert code == 0, err[-3000:]
    lines = out.splitlines()
    for i, name in enumerate(STEPS, 1):
        starts = [n for n, l in enumerate(lines) if l.startswith("[%d/5] %s: " % (i, name))]
        assert len(starts) == 2, (name, out)             # a line as it starts, one as it ends
        assert " ok in " in lines[starts[1]]
    assert "Endpoint: 127.0.0.1:%d" % new_port in out
    assert lines[-1].strip() == "Status: available"
    with env.connect(new_port) as conn:                   # latest: the table is dropped
        cur = conn.cursor()
        cur.execute("SELECT to_regclass('t')")
        assert cur.fetchone()[0] is None


def test_unknown_source(source):
    env, _port, _before = source
    code, out, err = runbook(env, "run", "database-recovery",
                             "--source-db-cluster-identifier", "nosuch",
                             "--db-cluster-identifier", "nosuch-dr")
    assert code == 4, err
    assert "nosuch" in last_error(err)["message"]
    doc = json.loads(out)                                  # the record of what ran
    assert doc["Status"] == "failed"
    assert [s["Status"] for s in doc["Steps"]] == ["failed"] + ["skipped"] * 4
    assert doc["Error"]["Step"] == "resolve"
    assert doc["Error"]["Exit"] == 4
    assert not os.path.exists(os.path.join(env.state, "clusters", "nosuch-dr"))


def test_outside_window(source):
    env, _port, _before = source
    code, out, err = runbook(env, "run", "database-recovery",
                             "--source-db-cluster-identifier", "prod",
                             "--restore-to-time", "2001-01-01T00:00:00Z",
                             "--db-cluster-identifier", "too-early")
    assert code == 11, err
    msg = last_error(err)["message"]
    assert "EarliestRestorableTime" in msg and "LatestRestorableTime" in msg
    assert json.loads(out)["Steps"][0]["Status"] == "failed"
    # the default (1 hour ago) is before this source's first backup: the same refusal,
    # saying it was the default
    code, _out, err = runbook(env, "run", "database-recovery",
                              "--source-db-cluster-identifier", "prod")
    assert code == 11, err
    assert "1 hour ago" in last_error(err)["message"]
    assert env.run("db", "describe-db-clusters", "--db-cluster-identifier", "too-early",
                   expect=4)


def test_usage_errors(source):
    env, _port, _before = source
    code, out, err = runbook(env, "run", "no-such-runbook")
    assert code == 2 and out == ""
    assert "database-recovery" in last_error(err)["message"]      # lists the known ones
    code, out, err = runbook(env, "run", "database-recovery",
                             "--source-db-cluster-identifier", "prod",
                             "--restore-to-time", "yesterday")
    assert code == 2 and out == ""
    assert "--restore-to-time" in last_error(err)["message"]
    code, out, err = runbook(env, "run", "database-recovery")
    assert code == 2 and out == ""
    code, out, _err = runbook(env, "list")
    assert code == 0
    names = [r["Name"] for r in json.loads(out)["Runbooks"]]
    assert "database-recovery" in names
