"""`radiant db` cluster lifecycle against real PostgreSQL 15 (docs/cli.md, "radiant db").

Each test creates its own clusters in a fresh state directory and stops every
server it started by data directory (pg_ctl -D ... stop), never by name. radiant
runs both as root (it then runs PostgreSQL as the run-as user, postgres) and as
postgres itself (runuser), against the same state directory.

WAL push is not part of this file: archive_command may fail until `radiant wal
push` exists; PostgreSQL keeps the segments and retries, which these tests
tolerate.
"""
import json
import os
import pwd
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time

import psycopg2
import pytest

from conftest import (BIN, EXIT_CONFIG, EXIT_EXISTS, EXIT_IO, EXIT_NETWORK, EXIT_NOT_FOUND,
                      EXIT_USAGE, Radiant, _remove_later)

PG_BIN = "/usr/lib/postgresql/15/bin"
AS_POSTGRES = ("runuser", "-u", "postgres", "--")

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not os.path.exists(os.path.join(PG_BIN, "initdb")),
    reason="needs root (to act as postgres) and postgresql-15")


def free_port():
    """A port nothing listens on now (the kernel's pick for 127.0.0.1:0)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pg_stop(data_dir):
    """Stops the server of a data directory, if one runs, by its data directory."""
    if os.path.exists(os.path.join(data_dir, "postmaster.pid")):
        subprocess.run(AS_POSTGRES + (os.path.join(PG_BIN, "pg_ctl"), "-D", data_dir, "-w",
                                      "-t", "30", "stop", "-m", "immediate"),
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)


class Env:
    """A state directory and repository that both root and postgres can use."""

    def __init__(self, root):
        self.root = root
        os.chmod(root, 0o755)
        binary = BIN
        if subprocess.run(AS_POSTGRES + ("test", "-x", BIN)).returncode != 0:
            binary = os.path.join(root, "radiant")
            shutil.copy2(BIN, binary)
            os.chmod(binary, 0o755)
        self.rad = Radiant(root, binary=binary)
        self.rad.init()
        pw = pwd.getpwnam("postgres")
        for dirpath, dirnames, filenames in os.walk(root):
            for name in [dirpath] + [os.path.join(dirpath, f) for f in filenames]:
                os.lchown(name, pw.pw_uid, pw.pw_gid)
        self.state = self.rad.state_dir
        self.extra_data_dirs = []

    def db(self, *args, as_postgres=False, **kw):
        prefix = AS_POSTGRES if as_postgres else ()
        return self.rad.run(["db"] + [str(a) for a in args], prefix=prefix, **kw)

    def describe(self, ident, **kw):
        _, doc, _ = self.db("describe-db-clusters", "--db-cluster-identifier", ident, **kw)
        assert len(doc["DBClusters"]) == 1
        return doc["DBClusters"][0]

    def create(self, ident, *args, **kw):
        _, doc, _ = self.db("create-db-cluster", "--db-cluster-identifier", ident, *args, **kw)
        return doc["DBCluster"]

    def cleanup(self):
        clusters = os.path.join(self.state, "clusters")
        if os.path.isdir(clusters):
            for name in os.listdir(clusters):
                pg_stop(os.path.join(clusters, name, "data"))
        for d in self.extra_data_dirs:
            pg_stop(d)


@pytest.fixture
def env(radiant_bin):
    root = tempfile.mkdtemp(prefix="radiant-db-")
    e = None
    try:
        e = Env(root)
        yield e
    finally:
        if e:
            e.cleanup()
        _remove_later(root)


def connect(port):
    return psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname="postgres",
                            connect_timeout=5)


def show(port, name):
    with connect(port) as conn, conn.cursor() as cur:
        cur.execute(f"SHOW {name}")
        return cur.fetchone()[0]


def owner(path):
    return pwd.getpwuid(os.stat(path).st_uid).pw_name


def events(e, ident, *extra, **kw):
    _, doc, _ = e.db("describe-events", "--source-identifier", ident, "--source-type",
                       "db-cluster", *extra, **kw)
    return doc["Events"]


def assert_archives(e, port, ident):
    """archive_command reaches `radiant wal push`, which runs as postgres: a
    switched-out segment is archived and recorded in the catalog."""
    with connect(port) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_walfile_name(pg_switch_wal())")
        switched = cur.fetchone()[0]
    deadline = time.time() + 30
    while True:
        with connect(port) as conn, conn.cursor() as cur:
            cur.execute("SELECT archived_count, last_archived_wal, last_failed_wal "
                        "FROM pg_stat_archiver")
            archived, last, failed = cur.fetchone()
        if last and last >= switched:
            break
        assert time.time() < deadline, f"not archived: {archived} {last} failed {failed}"
        time.sleep(0.2)
    db = sqlite3.connect(os.path.join(e.state, "catalog.db"))
    names = [r[0] for r in db.execute("SELECT name FROM wal_archive WHERE cluster_id = ?",
                                      (ident,))]
    db.close()
    assert switched in names


# ---------------------------------------------------------------- create --

def test_create_as_postgres_describe_connect_archive_settings(env):
    port = free_port()
    created = env.create("alpha", "--port", port, as_postgres=True)
    assert created["DBClusterIdentifier"] == "alpha" and created["Status"] == "available"

    c = env.describe("alpha")
    assert c["Status"] == "available" and c["Reachable"] is True
    assert c["Engine"] == "postgres" and c["EngineVersion"].startswith("15")
    assert c["Endpoint"] == "127.0.0.1" and c["Port"] == port
    assert c["BackupRetentionPeriod"] == 35 and c["PreferredBackupWindow"] == "03:00-04:00"
    assert c["DeletionProtection"] is False and c["StorageEncrypted"] is False
    assert c["Managed"] is True and c["Repos"] == ["local"]
    assert c["DataDir"] == os.path.join(env.state, "clusters", "alpha", "data")
    assert time.strptime(c["ClusterCreateTime"], "%Y-%m-%dT%H:%M:%SZ")
    assert "RestoredFrom" not in c

    with connect(port) as conn, conn.cursor() as cur:
        cur.execute("CREATE TABLE t (id int PRIMARY KEY, v text)")
        cur.execute("INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 100) g")
        cur.execute("SELECT count(*) FROM t")
        assert cur.fetchone()[0] == 100

    assert_archives(env, port, "alpha")

    # through the archive module when it is built next to the binary (not
    # in sanitizer builds), else through archive_command
    module = os.path.join(os.path.dirname(env.rad.bin), "radiant_archive.so")
    archive = show(port, "archive_command")
    if os.path.exists(module):
        assert show(port, "archive_library") == module and archive == ""
        assert show(port, "radiant.config") == env.rad.cfg
        assert show(port, "radiant.cluster") == "alpha"
    else:
        assert show(port, "archive_library") == ""
        assert archive.startswith(f"'{env.rad.bin}' --config '{env.rad.cfg}' wal push")
        assert archive.endswith("--db-cluster-identifier alpha %p")
    assert show(port, "archive_mode") == "on"
    assert show(port, "wal_level") == "replica"
    assert show(port, "archive_timeout") == "1min"
    assert show(port, "data_checksums") == "on"
    assert show(port, "listen_addresses") == "127.0.0.1"
    assert show(port, "unix_socket_directories") == os.path.join(env.state, "clusters",
                                                                 "alpha", "run")

    # One table row per cluster in text mode.
    p = subprocess.run([env.rad.bin, "--config", env.rad.cfg, "db", "describe-db-clusters"],
                       stdout=subprocess.PIPE, text=True, check=True)
    lines = p.stdout.splitlines()
    assert lines[0].startswith("DB CLUSTER") and lines[1].split()[:3] == ["alpha", "available",
                                                                          "yes"]

    rc, _, err = env.db("create-db-cluster", "--db-cluster-identifier", "alpha",
                        expect_exit=EXIT_EXISTS)
    assert "DB cluster alpha already exists" in err
    rc, _, err = env.db("create-db-cluster", "--db-cluster-identifier", "other", "--port", port,
                        expect_exit=EXIT_EXISTS)
    assert f"port {port} is already used by DB cluster alpha" in err


def test_create_as_root_runs_postgres_as_run_as_user_then_delete(env):
    first = env.create("beta-1", "--port", free_port())
    auto = env.create("beta-2")          # first free port from 5432 up
    assert auto["Port"] >= 5432 and auto["Port"] != first["Port"]

    data = first["DataDir"]
    assert owner(data) == "postgres" and os.stat(data).st_mode & 0o777 == 0o700
    assert owner(os.path.join(env.state, "catalog.db")) == "postgres"
    with open(os.path.join(data, "postmaster.pid")) as f:
        pid = int(f.readline())
    with open(f"/proc/{pid}/status") as f:
        uid = next(int(l.split()[1]) for l in f if l.startswith("Uid:"))
    assert uid == pwd.getpwnam("postgres").pw_uid

    assert_archives(env, first["Port"], "beta-1")
    # The same state directory works for radiant run as postgres afterwards.
    assert env.describe("beta-1", as_postgres=True)["Reachable"] is True

    _, doc, _ = env.db("delete-db-cluster", "--db-cluster-identifier", "beta-1",
                       "--skip-final-snapshot")
    assert doc["DBCluster"]["Status"] == "deleting"
    assert not os.path.exists(os.path.join(env.state, "clusters", "beta-1"))
    env.db("describe-db-clusters", "--db-cluster-identifier", "beta-1",
           expect_exit=EXIT_NOT_FOUND)
    _, doc, _ = env.db("describe-db-clusters")
    assert [c["DBClusterIdentifier"] for c in doc["DBClusters"]] == ["beta-2"]
    with pytest.raises(psycopg2.OperationalError):
        connect(first["Port"]).close()
    # Deleted clusters keep their events.
    msgs = [e["Message"] for e in events(env, "beta-1")]
    assert msgs[-3:] == ["Deleting DB cluster", "DB cluster stopped", "DB cluster deleted"]

    # A cluster whose data directory is gone (a create killed before initdb
    # finished) can still be deleted.
    env.db("stop-db-cluster", "--db-cluster-identifier", "beta-2")
    shutil.rmtree(auto["DataDir"])
    env.db("delete-db-cluster", "--db-cluster-identifier", "beta-2", "--skip-final-snapshot")
    _, doc, _ = env.db("describe-db-clusters")
    assert doc["DBClusters"] == []


# ------------------------------------------------- stop, start, wait, events --

def test_stop_start_wait_and_events(env):
    port = free_port()
    env.create("gamma", "--port", port, as_postgres=True)

    _, doc, _ = env.db("stop-db-cluster", "--db-cluster-identifier", "gamma")
    assert doc["DBCluster"]["Status"] == "stopped"
    c = env.describe("gamma")
    assert c["Status"] == "stopped" and c["Reachable"] is False
    with pytest.raises(psycopg2.OperationalError):
        connect(port).close()
    # Stopping a stopped cluster is not an error (runbooks can be rerun).
    env.db("stop-db-cluster", "--db-cluster-identifier", "gamma", as_postgres=True)

    t0 = time.monotonic()
    rc, _, err = env.db("wait", "db-cluster-available", "--db-cluster-identifier", "gamma",
                        "--timeout", "2", expect_exit=EXIT_NETWORK)
    assert time.monotonic() - t0 < 10
    assert "not available after 2 s (status stopped" in err

    _, doc, _ = env.db("start-db-cluster", "--db-cluster-identifier", "gamma", as_postgres=True)
    assert doc["DBCluster"]["Status"] == "available" and doc["DBCluster"]["Reachable"] is True
    env.db("wait", "db-cluster-available", "--db-cluster-identifier", "gamma", "--timeout", "30")
    assert show(port, "archive_mode") == "on"

    evs = events(env, "gamma")
    assert [e["Message"] for e in evs] == [
        f"Creating DB cluster on port {port}", "DB cluster started", "DB cluster created",
        "DB cluster stopped", "DB cluster started"]
    for e in evs:
        assert e["SourceIdentifier"] == "gamma" and e["SourceType"] == "db-cluster"
        assert time.strptime(e["Date"], "%Y-%m-%dT%H:%M:%SZ")
        assert len(e["EventCategories"]) == 1
    assert [e["EventCategories"][0] for e in evs] == [
        "creation", "notification", "creation", "notification", "notification"]
    assert [e["Date"] for e in evs] == sorted(e["Date"] for e in evs)   # newest last
    # --duration counts back from radiant's clock: two hours later, the last
    # 60 minutes hold none of them, the last 180 all.
    later = {"RADIANT_CLOCK_OFFSET": "2h"}
    assert events(env, "gamma", env=later) == []
    assert len(events(env, "gamma", "--duration", "180", env=later)) == 5
    assert events(env, "no-such-cluster") == []


# ----------------------------------------------- modify, protection, delete --

def test_modify_port_and_deletion_protection(env):
    port, new_port = free_port(), free_port()
    env.create("delta", "--port", port, "--backup-retention-period", "14",
               "--deletion-protection")
    c = env.describe("delta")
    assert c["BackupRetentionPeriod"] == 14 and c["DeletionProtection"] is True

    _, doc, err = env.db("modify-db-cluster", "--db-cluster-identifier", "delta",
                         "--backup-retention-period", "7", "--preferred-backup-window",
                         "05:00-05:30", "--port", new_port, as_postgres=True)
    c = doc["DBCluster"]
    assert c["BackupRetentionPeriod"] == 7 and c["PreferredBackupWindow"] == "05:00-05:30"
    # A running server changes port at its next restart.
    assert c["Port"] == port and c["PendingModifiedValues"] == {"Port": new_port}
    assert "restart" in err
    env.db("stop-db-cluster", "--db-cluster-identifier", "delta")
    env.db("start-db-cluster", "--db-cluster-identifier", "delta")
    c = env.describe("delta")
    assert c["Port"] == new_port and "PendingModifiedValues" not in c and c["Reachable"]
    assert show(new_port, "port") == str(new_port)
    last_port = free_port()
    _, doc, _ = env.db("modify-db-cluster", "--db-cluster-identifier", "delta", "--port",
                       last_port, "--apply-immediately")
    assert doc["DBCluster"]["Port"] == last_port and doc["DBCluster"]["Reachable"] is True

    data = c["DataDir"]
    rc, _, err = env.db("delete-db-cluster", "--db-cluster-identifier", "delta",
                        "--skip-final-snapshot", expect_exit=EXIT_USAGE)
    assert "deletion protection on" in err and "--no-deletion-protection" in err
    assert os.path.isdir(data) and env.describe("delta")["Reachable"] is True

    _, doc, _ = env.db("modify-db-cluster", "--db-cluster-identifier", "delta",
                       "--no-deletion-protection")
    assert doc["DBCluster"]["DeletionProtection"] is False
    # One of the two final-snapshot flags is required, as in RDS.
    env.db("delete-db-cluster", "--db-cluster-identifier", "delta", expect_exit=EXIT_USAGE)
    env.db("delete-db-cluster", "--db-cluster-identifier", "delta", "--skip-final-snapshot",
           "--final-db-snapshot-identifier", "s1", expect_exit=EXIT_USAGE)
    env.db("delete-db-cluster", "--db-cluster-identifier", "delta", "--skip-final-snapshot",
           as_postgres=True)
    assert not os.path.exists(data)
    assert not os.path.exists(os.path.join(env.state, "clusters", "delta"))
    env.db("describe-db-clusters", "--db-cluster-identifier", "delta",
           expect_exit=EXIT_NOT_FOUND)
    cats = [e["EventCategories"][0] for e in events(env, "delta")]
    assert "configuration change" in cats and cats[-1] == "deletion"


# ------------------------------------------------------------- register --

def test_register_existing_cluster(env):
    data = os.path.join(env.root, "ext", "data")
    os.makedirs(os.path.dirname(data))
    shutil.chown(os.path.dirname(data), "postgres", "postgres")
    subprocess.run(AS_POSTGRES + (os.path.join(PG_BIN, "initdb"), "-D", data, "-U", "postgres",
                                  "--auth=trust"), check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    env.extra_data_dirs.append(data)
    subprocess.run(AS_POSTGRES + (os.path.join(PG_BIN, "pg_ctl"), "-D", data, "-l",
                                  os.path.join(os.path.dirname(data), "log"), "-w", "-o",
                                  f"-p {port} -c listen_addresses=127.0.0.1 "
                                  f"-k {os.path.dirname(data)}", "start"),
                   check=True, stdout=subprocess.DEVNULL)

    env.db("register-db-cluster", "--db-cluster-identifier", "ext", "--data-dir",
           os.path.join(env.root, "ext"), "--port", port, expect_exit=EXIT_USAGE)
    _, doc, err = env.db("register-db-cluster", "--db-cluster-identifier", "ext",
                         "--data-dir", data, "--port", port)
    c = doc["DBCluster"]
    assert c["Managed"] is False and c["Status"] == "available" and c["DataDir"] == data
    assert "restart the server" in err            # archive_mode was off
    with open(os.path.join(data, "postgresql.auto.conf")) as f:
        auto = f.read()
    assert "archive_mode = 'on'" in auto
    module = os.path.join(os.path.dirname(env.rad.bin), "radiant_archive.so")
    if os.path.exists(module):
        assert f"archive_library = '{module}'" in auto
        assert f"radiant.config = '{env.rad.cfg}'" in auto
        assert "radiant.cluster = 'ext'" in auto and "archive_command" not in auto
    else:
        assert f"--config ''{env.rad.cfg}'' wal push --db-cluster-identifier ext %p'" in auto
    with connect(port) as conn, conn.cursor() as cur:
        cur.execute("SELECT setting, pending_restart FROM pg_settings "
                    "WHERE name = 'archive_mode'")
        assert cur.fetchone() == ("off", True)

    # Forgetting a registered cluster leaves it running with its data.
    env.db("delete-db-cluster", "--db-cluster-identifier", "ext", "--skip-final-snapshot")
    assert os.path.exists(os.path.join(data, "PG_VERSION"))
    with open(os.path.join(data, "postgresql.auto.conf")) as f:
        auto = f.read()
    for name in ("archive_mode", "archive_command", "archive_library", "radiant."):
        assert name not in auto, auto
    assert show(port, "server_version").startswith("15")
    env.db("describe-db-clusters", "--db-cluster-identifier", "ext", expect_exit=EXIT_NOT_FOUND)


# ------------------------------------------------------------ bad input --

def test_bad_input(env):
    for bad in ("1abc", "a--b", "abc-", "a_b", "x" * 64):
        _, _, err = env.db("create-db-cluster", "--db-cluster-identifier", bad,
                           expect_exit=EXIT_USAGE)
        assert "--db-cluster-identifier" in err
    for cmd in ("create-db-cluster", "describe-events --duration 0", "stop-db-cluster",
                "start-db-cluster", "delete-db-cluster --skip-final-snapshot",
                "modify-db-cluster --backup-retention-period 3",
                "wait db-cluster-available", "create-db-cluster --db-cluster-identifier a --port x",
                "create-db-cluster --db-cluster-identifier a --preferred-backup-window 3-4",
                "create-db-cluster --db-cluster-identifier a --backup-retention-period 0",
                "create-db-cluster --db-cluster-identifier a --no-such-flag",
                "describe-db-clusters --skip-final-snapshot"):
        env.db(*cmd.split(), expect_exit=EXIT_USAGE)
    _, _, err = env.db("wait", "db-instance-available", "--db-cluster-identifier", "a",
                       expect_exit=EXIT_USAGE)
    assert "unknown waiter" in err
    for cmd in ("describe-db-clusters", "stop-db-cluster", "start-db-cluster",
                "delete-db-cluster --skip-final-snapshot",
                "modify-db-cluster --backup-retention-period 3", "wait db-cluster-available"):
        _, _, err = env.db(*cmd.split(), "--db-cluster-identifier", "nope",
                           expect_exit=EXIT_NOT_FOUND)
        assert "no DB cluster nope" in err
    _, _, err = env.db("create-db-cluster", "--db-cluster-identifier", "enc",
                       "--storage-encrypted", expect_exit=EXIT_USAGE)
    assert "repository local is not" in err
    env.db("create-db-cluster", "--db-cluster-identifier", "r", "--repos", "nope",
           expect_exit=EXIT_CONFIG)
    env.db("modify-db-cluster", "--db-cluster-identifier", "nope", expect_exit=EXIT_USAGE)

    with socket.socket() as s:                    # a port something else listens on
        s.bind(("127.0.0.1", 0))
        s.listen()
        _, _, err = env.db("create-db-cluster", "--db-cluster-identifier", "busy", "--port",
                           s.getsockname()[1], expect_exit=EXIT_EXISTS)
        assert "in use on 127.0.0.1" in err
    assert not os.path.exists(os.path.join(env.state, "clusters", "busy"))

    # Missing server binaries: one line naming the package; nothing is created.
    _, _, err = env.db("create-db-cluster", "--db-cluster-identifier", "nobin",
                       env={"RADIANT_PG_BINDIR": "/nonexistent"}, expect_exit=EXIT_CONFIG)
    assert "install postgresql-15" in err
    # A failed initdb leaves nothing behind, so the same command can be rerun.
    fake = os.path.join(env.root, "fakebin")
    os.mkdir(fake)
    with open(os.path.join(fake, "initdb"), "w") as f:
        f.write("#!/bin/sh\necho 'initdb: error: simulated failure' >&2\nexit 1\n")
    os.chmod(os.path.join(fake, "initdb"), 0o755)
    os.symlink(os.path.join(PG_BIN, "pg_ctl"), os.path.join(fake, "pg_ctl"))
    os.chmod(fake, 0o755)
    _, _, err = env.db("create-db-cluster", "--db-cluster-identifier", "failing", "--port",
                       free_port(), env={"RADIANT_PG_BINDIR": fake}, expect_exit=EXIT_IO)
    assert "initdb failed for DB cluster failing (exit 1): initdb: error: simulated" in err
    assert not os.path.exists(os.path.join(env.state, "clusters", "failing"))
    env.db("describe-db-clusters", "--db-cluster-identifier", "failing",
           expect_exit=EXIT_NOT_FOUND)
    assert events(env, "failing")[-1]["EventCategories"] == ["failure"]
    _, doc, _ = env.db("describe-db-clusters")
    assert doc["DBClusters"] == []
