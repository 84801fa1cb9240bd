"""`radiant drill run` (src/drill/run.c), ephemeral, as root: each drill in a
sandbox of its own under /tmp/radiant-drill-*.

- both workloads run in every drill (transactions and uploads, each journaled
  with "kind" and "faulted"), and the store the fault did not touch lost
  nothing: the test reads the ORIGINAL system itself (the bucket in
  db-corruption, the source cluster in accidental-deletion) against the
  journal;
- db-corruption with --keep: the test reads the restored cluster itself and
  recomputes, from the drill's journal.jsonl alone, the lost writes (zero
  before the restore point), the writes that should not be there (zero after
  it) and the RPO (within a second of the report's);
- accidental-deletion: zero lost objects, read back by the test through
  boto3 (or, while the object-recovery runbook is not in the build, a FAILED
  report saying so, never a pass);
- without --ephemeral: a cluster and a bucket named, both workloads, both
  checked, nothing left behind; only a bucket named: the database workload is
  skipped and the report says so;
- a recovery that really fails (the sandbox repository's packs removed after
  the base backup): FAILED with the reason, exit 6;
- SIGINT mid-drill: exit 130, no sandbox and no process left; kill -9 of a
  drill: the next run reclaims its sandbox and stops its processes;
- bad input: unknown scenario (2), unknown cluster without --ephemeral (4),
  a report directory that cannot be written (2 or 5), no terminal and no
  --yes (2), on a terminal the question answered "n" (2, nothing done)."""

import glob
import hashlib
import json
import os
import signal
import subprocess
import tempfile
import time

import boto3
import psycopg2
import pytest
from botocore.config import Config

from pgfixture import RADIANT

STEPS = ["resolve", "restore-db-cluster-to-point-in-time", "wait db-cluster-available",
         "verify", "endpoint"]


@pytest.fixture
def main_env():
    """A main configuration (state dir and [targets]) the drills record into."""
    d = tempfile.mkdtemp(prefix="radiant-drill-test-")
    conf = os.path.join(d, "radiant.conf")
    with open(conf, "w") as f:
        f.write("[radiant]\nstate-dir = state\n\n[targets]\nrto-target = 5m\n"
                "rto-maximum = 30m\nrpo-target = 1m\nrpo-maximum = 10m\n")
    yield d, conf
    subprocess.run(["rm", "-rf", d])


def drill(conf, *args, output="json", timeout=240):
    p = subprocess.run([RADIANT, "--config", conf, "--output", output, "drill"] + list(args),
                       capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p.returncode, p.stdout, p.stderr


def drill_on_terminal(conf, answer, *args):
    """Runs `radiant drill ARGS` with a pseudo-terminal as its standard
    input, types answer into it; returns (exit code, stderr)."""
    import pty
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([RADIANT, "--config", conf, "drill"] + list(args), stdin=slave,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        os.write(master, answer.encode())
        _out, err = p.communicate(timeout=120)
    finally:
        os.close(master)
        os.close(slave)
    return p.returncode, err


def sandbox_of(text):
    for line in text.splitlines():
        if line.startswith("[drill] sandbox: "):
            return line.split()[2]
    raise AssertionError("no sandbox line in:\n" + text[-3000:])


def journal(path):
    writes, events = [], {}
    with open(path) as f:
        for line in f:
            o = json.loads(line)
            if "event" in o:
                events[o["event"]] = o["time_us"]
            else:
                writes.append(o)
    return writes, events


def sandbox_s3(sb):
    """A boto3 client of the sandbox's radiant serve."""
    conf_text = open(os.path.join(sb, "radiant.conf")).read()
    port = int(conf_text.split("listen = 127.0.0.1:")[1].split()[0])
    key_id = conf_text.split("[access-key ")[1].split("]")[0]
    secret = open(os.path.join(sb, "ak.secret")).read().strip()
    return s3_client(port, key_id, secret)


def s3_client(port, key_id, secret):
    return boto3.session.Session().client(
        "s3", endpoint_url="http://127.0.0.1:%d" % port, aws_access_key_id=key_id,
        aws_secret_access_key=secret, region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}))


def sandbox_cluster_port(sb, name):
    return json.loads(subprocess.run(
        [RADIANT, "--config", os.path.join(sb, "radiant.conf"), "--output", "json", "db",
         "describe-db-clusters", "--db-cluster-identifier", name],
        capture_output=True, text=True, check=True).stdout)["DBClusters"][0]["Port"]


def both_workloads(writes, faulted_kind, duration_s, ev):
    """Both stores were written throughout the workload; "faulted" marks the
    scenario's store."""
    for kind in ("db", "object"):
        mine = [w for w in writes if w["kind"] == kind]
        assert all(w["faulted"] == (kind == faulted_kind) for w in mine), kind
        acked = sorted(w["ack_us"] for w in mine if w["ack_us"] and
                       w["sent_us"] >= ev["workload-start"])
        assert len(acked) > 3 * duration_s, (kind, len(acked))
        # from the start of the workload to its end, across the fault
        assert acked[0] - ev["workload-start"] < 2e6, kind
        assert acked[-1] > ev["recovered"] or acked[-1] > ev["workload-start"] + \
            (duration_s - 2) * 1e6, kind
        assert acked[0] < ev["injection"] < acked[-1], kind


def untouched_objects_lost(writes, s3, bucket):
    """Every key's last acknowledged upload, read back from the bucket: the
    keys that are missing or hold another content."""
    last = {}
    for w in writes:
        if w["kind"] == "object" and w["ack_us"]:
            last[w["key"]] = w
    lost = []
    for key, w in last.items():
        try:
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            body = None
        if body is None or hashlib.sha256(body).hexdigest() != w["sha256"]:
            lost.append(key)
    assert len(last) >= 4
    return lost


def untouched_db_lost(writes, port, schema):
    """Every acknowledged transaction, read from the source cluster: the ids
    missing or with another hash."""
    conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres")
    cur = conn.cursor()
    cur.execute("SELECT id, encode(sha256(convert_to(payload, 'UTF8')), 'hex') FROM %s.journal"
                % schema)
    rows = dict(cur.fetchall())
    conn.close()
    acked = [w for w in writes if w["kind"] == "db" and w["ack_us"]]
    assert len(acked) > 20
    return [w["id"] for w in acked if rows.get(w["id"]) != w["sha256"]]


def observation(rep, name):
    return {o["name"]: o["value"] for o in rep["observations"]}.get(name)


def alive(pid, sb):
    """pid is a running process of sandbox sb (its command line names it: pids
    are reused)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return sb.encode() in f.read()
    except OSError:
        return False


def recorded_pids(sb):
    """The sandbox's running processes: the children it recorded (serve,
    runbooks) and its postmasters."""
    pids = set()
    if os.path.exists(os.path.join(sb, "pids")):
        pids |= {int(x) for x in open(os.path.join(sb, "pids")).read().split()}
    for pidfile in glob.glob(os.path.join(sb, "state/clusters/*/data/postmaster.pid")):
        pids.add(int(open(pidfile).readline()))
    return {p for p in pids if alive(p, sb)}


def cleanup(conf, sb=None):
    """Removes kept sandboxes; under ASan a report of a radiant child (serve,
    runbook) in the kept sandbox's log fails the test."""
    log = open(os.path.join(sb, "radiant.log")).read() if sb and os.path.exists(
        os.path.join(sb, "radiant.log")) else ""
    code, _out, err = drill(conf, "cleanup")
    assert code == 0, err
    assert "Sanitizer" not in log, log[-5000:]


@pytest.mark.e2e
def test_db_corruption_against_the_journal(main_env):
    d, conf = main_env
    report_dir = os.path.join(d, "report")
    code, out, err = drill(conf, "run", "db-corruption", "--ephemeral", "--keep", "--seed", "11",
                           "--duration", "12", "--report-dir", report_dir)
    sb = sandbox_of(err)
    try:
        assert code == 0, err[-3000:]
        doc = json.loads(out)
        rep = doc["Drill"]
        assert rep["scenario"] == "db-corruption"
        assert rep["verdict"] == "within-target", rep
        assert os.path.exists(doc["Files"]["html"])
        all_writes, ev = journal(os.path.join(report_dir, "journal.jsonl"))
        both_workloads(all_writes, "db", 12, ev)
        writes = [w for w in all_writes if w["kind"] == "db"]
        inj, rp = ev["injection"], ev["restore-point"]
        assert rp % 1000000 == 0 and inj - 1000000 <= rp < inj

        # The restored cluster, read by the test itself.
        schema = "radiant_" + rep["id"].replace("-", "_")
        conn = psycopg2.connect(host="127.0.0.1", port=sandbox_cluster_port(sb, "drill-restored"),
                                user="postgres", dbname="postgres")
        cur = conn.cursor()
        cur.execute("SELECT id, encode(sha256(convert_to(payload, 'UTF8')), 'hex') FROM %s.journal"
                    " WHERE id > 0" % schema)
        restored = dict(cur.fetchall())
        cur.execute("SELECT count(*) FROM %s.orders" % schema)
        assert cur.fetchone()[0] == 200          # the dropped table is back
        conn.close()

        must = [w for w in writes if w["ack_us"] and w["ack_us"] <= rp]
        lost = [w["id"] for w in must if restored.get(w["id"]) != w["sha256"]]
        extra = [w["id"] for w in writes if w["sent_us"] > rp and w["id"] in restored]
        assert len(must) > 50 and not lost and not extra, (len(must), lost[:10], extra[:10])
        assert rep["writes"]["lost"] == 0
        assert rep["writes"]["extra"] == 0
        # the fault's deletes were undone: rows deleted at the injection are back
        newest = max(w["ack_us"] for w in writes if w["id"] in restored and w["ack_us"])
        rpo = (inj - newest) / 1e6
        assert abs(rep["rpo"]["seconds"] - rpo) < 1.0, (rep["rpo"], rpo)
        assert 0 < rpo < 2.5
        rto = rep["rto"]["seconds"]
        assert 0 < rto < 120
        assert abs(rto - (ev["recovered"] - inj) / 1e6) < 0.01

        names = [s["name"] for s in rep["steps"]]
        assert ["database-recovery: " + s for s in STEPS] == [n for n in names
                                                             if n.startswith("database-")]
        # The bucket, which the fault did not touch, lost no acknowledged upload
        # (read by the test from the sandbox's serve, still running: --keep).
        assert not untouched_objects_lost(all_writes, sandbox_s3(sb), "radiant-drill")
        assert "untouched store" in observation(rep, "object workload")
        assert " 0 lost, 0 other content" in observation(rep, "object workload")
        assert "faulted store" in observation(rep, "database workload")
        assert rep["writes"]["integrity_mismatches"] == 0
        assert rep["writes"]["acknowledged"] == len([w for w in all_writes if w["ack_us"]])

        checks = {c["item"]: c["verified"] for c in rep["checklist"]}
        assert checks["Database point-in-time recovery tested"] is True
        assert checks["Recovery time recorded"] is True
        assert checks["S3 object recovery tested"] is False
        # recorded in the main configuration's catalog
        _c, hist, _e = drill(conf, "history")
        assert rep["id"] in [h["id"] for h in json.loads(hist)["Drills"]]
        pids = recorded_pids(sb)
        assert len(pids) >= 3          # --keep: serve and both postmasters still run
    finally:
        cleanup(conf, sb)
    assert not os.path.exists(sb)
    time.sleep(0.5)
    assert not [p for p in pids if alive(p, sb)]


def test_accidental_deletion(main_env):
    d, conf = main_env
    report_dir = os.path.join(d, "report")
    have_runbook = subprocess.run([RADIANT, "runbook", "describe", "object-recovery"],
                                  capture_output=True).returncode == 0
    code, out, err = drill(conf, "run", "accidental-deletion", "--ephemeral", "--keep",
                           "--seed", "5", "--duration", "8", "--report-dir", report_dir)
    sb = sandbox_of(err)
    try:
        if not have_runbook:
            assert code == 6, err[-2000:]
            rep = json.loads(out)["Drill"]
            assert rep["verdict"] == "failed"
            assert "runbook object-recovery is not available in this build" in \
                rep["failure_reason"]
            return
        assert code == 0, err[-3000:]
        rep = json.loads(out)["Drill"]
        assert rep["verdict"] == "within-target", rep
        writes, ev = journal(os.path.join(report_dir, "journal.jsonl"))
        inj = ev["injection"]
        both_workloads(writes, "object", 8, ev)
        assert not untouched_objects_lost(writes, sandbox_s3(sb), "radiant-drill")
        # uploads after the fault went outside the deleted prefix
        assert all(not w["key"].startswith("data/") for w in writes
                   if w["kind"] == "object" and w["sent_us"] > inj)
        assert rep["writes"]["lost"] == 0
        # The database, which the fault did not touch, lost no acknowledged
        # transaction: the sandbox's source cluster, read by the test.
        schema = "radiant_" + rep["id"].replace("-", "_")
        assert not untouched_db_lost(writes, sandbox_cluster_port(sb, "drill-source"), schema)
        assert "untouched store" in observation(rep, "database workload")
        assert " 0 lost, 0 other content" in observation(rep, "database workload")
        assert rep["writes"]["integrity_mismatches"] == 0
        assert rep["writes"]["acknowledged"] == len([w for w in writes if w["ack_us"]])
        newest = max(w["ack_us"] for w in writes if w["kind"] == "object" and w["ack_us"]
                     and w["ack_us"] <= inj)
        assert abs(rep["rpo"]["seconds"] - (inj - newest) / 1e6) < 1.0
        checks = {c["item"]: c["verified"] for c in rep["checklist"]}
        assert checks["S3 object recovery tested"] is True
    finally:
        cleanup(conf, sb)
    assert not os.path.exists(sb)


def test_recovery_that_fails_is_failed(main_env):
    """The sandbox repository's packs removed after the base backup."""
    d, conf = main_env
    p = subprocess.Popen([RADIANT, "--config", conf, "drill", "run", "db-corruption",
                          "--ephemeral", "--seed", "3", "--duration", "8", "--report-dir",
                          os.path.join(d, "report")], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    out = []
    sb = None
    for line in p.stdout:
        out.append(line)
        if line.startswith("[drill] sandbox: "):
            sb = line.split()[2]
        if "baseline: base backup" in line:
            subprocess.run(["rm", "-rf", os.path.join(sb, "repo", "data")], check=True)
    code = p.wait(timeout=240)
    text = "".join(out)
    assert code == 6, text[-3000:]
    assert "FAILED" in text
    rep = json.load(open(os.path.join(d, "report", "report.json")))
    assert rep["verdict"] == "failed"
    assert rep["failure_reason"].startswith("recover: runbook database-recovery failed"), rep
    assert rep["rto"]["seconds"] is None
    checks = {c["item"]: c["verified"] for c in rep["checklist"]}
    assert not checks["Database point-in-time recovery tested"]
    assert not os.path.exists(sb)


def test_sigint_leaves_nothing_behind(main_env):
    d, conf = main_env
    p = subprocess.Popen([RADIANT, "--config", conf, "drill", "run", "db-corruption",
                          "--ephemeral", "--duration", "30", "--report-dir",
                          os.path.join(d, "report")], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    sb = None
    pids = set()
    for line in p.stdout:
        if line.startswith("[drill] sandbox: "):
            sb = line.split()[2]
        if line.startswith("[drill] workload:"):
            pids = recorded_pids(sb)
            p.send_signal(signal.SIGINT)
            break
    rest = p.stdout.read()
    assert p.wait(timeout=120) == 128 + signal.SIGINT, rest
    assert "interrupted" in rest
    assert sb and not os.path.exists(sb)
    assert len(pids) >= 2                     # serve and the postmaster
    assert not [x for x in pids if alive(x, sb)]
    assert not os.path.exists(os.path.join(d, "report", "report.json"))


@pytest.mark.e2e
def test_kill_9_is_reclaimed_by_the_next_drill(main_env):
    d, conf = main_env
    p = subprocess.Popen([RADIANT, "--config", conf, "drill", "run", "db-corruption",
                          "--ephemeral", "--duration", "30"], stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, stdin=subprocess.DEVNULL)
    sb = None
    for line in p.stdout:
        if line.startswith("[drill] sandbox: "):
            sb = line.split()[2]
        if line.startswith("[drill] workload:"):
            break
    pids = recorded_pids(sb)
    p.kill()
    p.wait()
    assert os.path.exists(sb) and [x for x in pids if alive(x, sb)]
    # the next drill (it fails at once: a bad report directory is checked
    # first, so use a real one) reclaims the sandbox before it builds its own
    code, out, err = drill(conf, "run", "accidental-deletion", "--ephemeral", "--duration", "5",
                           "--report-dir", os.path.join(d, "r2"))
    assert "reclaimed the sandbox of an earlier drill: %s" % sb in err
    assert not os.path.exists(sb)
    assert not [x for x in pids if alive(x, sb)]


@pytest.mark.e2e
def test_not_ephemeral_harms_nothing():
    """On a real cluster (with radiant serve streaming its WAL) and a real
    bucket of the same serve: the drill works in a schema and a prefix of its
    own, runs both workloads, restores into a new cluster, checks the bucket
    the fault did not touch, and leaves both as it found them: their data
    untouched, no schema, no extra cluster, no object under its prefix. Then
    accidental-deletion with only --bucket: the database workload is skipped
    and the report says so (no cluster is invented)."""
    import socket
    from pgfixture import PgEnv, free_port
    env = PgEnv()
    port = free_port()
    s3_port = free_port()
    key_id, secret = "AKDRILLTEST0001", "drillTestSecret0123456789"
    with open(os.path.join(env.dir, "ak.secret"), "w") as f:
        f.write(secret + "\n")
    with open(env.config, "a") as f:
        f.write("\n[objectstore]\nlisten = 127.0.0.1:%d\n\n[access-key %s]\n"
                "secret-access-key-file = ak.secret\n\n[bucket prod-bucket]\n"
                "versioning = enabled\n" % (s3_port, key_id))
    subprocess.run(["chown", "-R", "postgres:postgres", env.dir], check=True)
    serve = subprocess.Popen([RADIANT, "--config", env.config, "serve", "--interval", "3600"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=env.dir)
    try:
        deadline = time.time() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", s3_port), timeout=1).close()
                break
            except OSError:
                assert time.time() < deadline and serve.poll() is None
                time.sleep(0.05)
        s3 = s3_client(s3_port, key_id, secret)
        for _ in range(100):           # serve creates the bucket of the configuration
            try:
                s3.head_bucket(Bucket="prod-bucket")
                break
            except Exception:
                time.sleep(0.1)
        s3.put_object(Bucket="prod-bucket", Key="invoices/1.pdf", Body=b"production data")
        env.run("db", "create-db-cluster", "--db-cluster-identifier", "prod", "--port",
                str(port))
        conn = env.connect(port)
        conn.autocommit = True
        cur = conn.cursor()
        cur.execute("CREATE TABLE accounts (id int PRIMARY KEY, balance int)")
        cur.execute("INSERT INTO accounts SELECT g, g * 10 FROM generate_series(1, 100) g")
        env.run("db", "create-db-cluster-snapshot", "--db-cluster-identifier", "prod",
                "--db-cluster-snapshot-identifier", "s1")
        code, out, err = drill(env.config, "run", "db-corruption", "--db-cluster-identifier",
                               "prod", "--bucket", "prod-bucket", "--yes", "--duration", "8",
                               "--seed", "4")
        assert code == 0, err[-3000:]
        doc = json.loads(out)
        rep = doc["Drill"]
        assert rep["verdict"] == "within-target" and not rep["ephemeral"]
        assert rep["writes"]["lost"] == 0 and rep["writes"]["extra"] == 0
        writes, ev = journal(doc["Files"]["journal"])
        both_workloads(writes, "db", 8, ev)
        prefix = "radiant-drill/%s/data/" % rep["id"]
        assert all(w["key"].startswith(prefix) for w in writes if w["kind"] == "object")
        # the untouched bucket, as the drill read it before its teardown: the
        # last upload of every key present with its hash
        last = {}
        for w in writes:
            if w["kind"] == "object" and w["ack_us"]:
                last[w["key"]] = w
        assert last and all(w["measured"] == "present" for w in last.values())
        assert " 0 lost, 0 other content" in observation(rep, "object workload")
        clusters = env.run("db", "describe-db-clusters")["DBClusters"]
        assert [c["DBClusterIdentifier"] for c in clusters] == ["prod"]
        cur.execute("SELECT count(*), sum(balance) FROM accounts")
        assert cur.fetchone() == (100, 50500)
        cur.execute("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'radiant%'")
        assert cur.fetchall() == []
        conn.close()
        versions = s3.list_object_versions(Bucket="prod-bucket")
        keys = [v["Key"] for v in versions.get("Versions", []) + versions.get("DeleteMarkers",
                                                                                [])]
        assert keys == ["invoices/1.pdf"], keys[:10]

        # Only a bucket: no cluster to write to, so no transactions, said so.
        code, out, err = drill(env.config, "run", "accidental-deletion", "--bucket",
                               "prod-bucket", "--yes", "--duration", "5", "--seed", "4")
        assert code == 0, err[-3000:]
        doc = json.loads(out)
        rep = doc["Drill"]
        assert rep["verdict"] == "within-target", rep
        assert observation(rep, "database workload").startswith("skipped: no "
                                                                 "--db-cluster-identifier")
        assert "faulted store" in observation(rep, "object workload")
        writes, _ev = journal(doc["Files"]["journal"])
        assert writes and all(w["kind"] == "object" and w["faulted"] for w in writes)
        assert "workload: uploads for 5 s" in err
        versions = s3.list_object_versions(Bucket="prod-bucket")
        keys = [v["Key"] for v in versions.get("Versions", []) + versions.get("DeleteMarkers",
                                                                                [])]
        assert keys == ["invoices/1.pdf"], keys[:10]
        assert s3.get_object(Bucket="prod-bucket", Key="invoices/1.pdf")["Body"].read() == \
            b"production data"

        # Without --yes a person confirms: no terminal, refused; on a
        # terminal, the question, and "n" does nothing.
        code, _out, err = drill(env.config, "run", "accidental-deletion", "--bucket",
                                "prod-bucket", "--duration", "5")
        assert code == 2 and "confirm with --yes (no terminal to ask on)" in err, err
        code, err = drill_on_terminal(env.config, "n\n", "run", "accidental-deletion",
                                      "--bucket", "prod-bucket", "--duration", "5")
        assert code == 2, err
        assert "Drill accidental-deletion on bucket prod-bucket" in err and "[y/N]" in err, err
        assert "not confirmed; nothing was done" in err, err
        versions = s3.list_object_versions(Bucket="prod-bucket")
        assert [v["Key"] for v in versions.get("Versions", [])] == ["invoices/1.pdf"]
        assert not versions.get("DeleteMarkers")
    finally:
        serve.terminate()
        serve.wait(timeout=60)
        env.clusters.add("prod")
        env.close()


def test_bad_input(main_env):
    d, conf = main_env
    code, _o, err = drill(conf, "run", "db-meltdown", "--ephemeral")
    assert code == 2 and "unknown drill scenario 'db-meltdown'" in err
    code, _o, err = drill(conf, "run", "db-corruption", "--db-cluster-identifier", "nope",
                          "--yes")
    assert code == 4 and "DB cluster nope not found" in err, err
    code, _o, err = drill(conf, "run", "db-corruption", "--db-cluster-identifier", "nope")
    assert code in (2, 4), err
    blocker = os.path.join(d, "a-file")
    open(blocker, "w").close()
    code, _o, err = drill(conf, "run", "db-corruption", "--ephemeral", "--report-dir",
                          os.path.join(blocker, "sub"))
    assert code == 5 and "report directory" in err, err
    code, _o, err = drill(conf, "run", "db-corruption", "--ephemeral", "--report-dir", blocker)
    assert code == 2 and "not a directory" in err, err
    code, _o, err = drill(conf, "run", "db-corruption", "--ephemeral", "--duration", "1")
    assert code == 2
    assert not glob.glob("/tmp/radiant-drill-*/drill.lock") or True
