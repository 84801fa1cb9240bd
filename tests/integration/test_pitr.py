"""Point-in-time restore on a real PostgreSQL 15 (dr-guide Scenario 2): rows
with known ids and commit times, a base backup, more writes, a table dropped
at time T; a restore to T-1s into a new cluster holds every row committed
before T-1s and none after, and the source cluster is untouched. The same
after deleting the source cluster and wiping its data directory, restores
between two base backups, and a time outside the restorable window refused
with both bounds."""

import datetime
import io
import json
import os
import re
import shutil
import signal
import subprocess
import tarfile
import time

import pytest

from pgfixture import PgEnv, free_port, wait_archived


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def insert_rows(conn, ids, pause=0.05):
    cur = conn.cursor()
    for i in ids:
        cur.execute("INSERT INTO t(id, payload) VALUES (%s, %s)", (i, "row %d" % i))
        conn.commit()
        time.sleep(pause)


def ids_in(env, port):
    with env.connect(port) as conn:
        cur = conn.cursor()
        cur.execute("SELECT id FROM t ORDER BY id")
        return [r[0] for r in cur.fetchall()]


def quiet_mark(seconds=1.6):
    """A moment with no commit within `seconds` either side of it."""
    time.sleep(seconds)
    mark = time.time()
    time.sleep(seconds)
    return mark


@pytest.fixture
def env():
    e = PgEnv()
    yield e
    e.close()


@pytest.mark.e2e
def test_restore_to_point_in_time(env):
    port = free_port()
    env.run("db", "create-db-cluster", "--db-cluster-identifier", "prod", "--port", str(port))
    conn = env.connect(port)
    conn.cursor().execute("CREATE TABLE t (id int PRIMARY KEY, payload text)")
    conn.commit()
    insert_rows(conn, range(1, 21))
    snap1 = env.run("db", "create-db-cluster-snapshot", "--db-cluster-identifier", "prod",
                    "--db-cluster-snapshot-identifier", "prod-first")["DBClusterSnapshot"]
    assert snap1["DBClusterSnapshotIdentifier"] == "prod-first"
    insert_rows(conn, range(21, 41))
    between = quiet_mark()                     # after 40 rows, before the second backup
    insert_rows(conn, range(41, 61))
    env.run("db", "create-db-cluster-snapshot", "--db-cluster-identifier", "prod",
            "--db-cluster-snapshot-identifier", "prod-second")
    insert_rows(conn, range(61, 81))
    before_drop = quiet_mark()                 # T-1s: rows 1..80 committed before it
    insert_rows(conn, range(81, 91))           # committed within the last second before T
    conn.cursor().execute("DROP TABLE t")
    conn.commit()
    wait_archived(conn)

    desc = env.run("db", "describe-db-clusters", "--db-cluster-identifier", "prod")
    cluster = desc["DBClusters"][0]
    assert cluster["EarliestRestorableTime"] <= iso(before_drop) <= cluster["LatestRestorableTime"]

    # to T-1s: everything before, nothing after; the source keeps running as it was
    new_port = free_port()
    out = env.run("db", "restore-db-cluster-to-point-in-time",
                  "--source-db-cluster-identifier", "prod",
                  "--db-cluster-identifier", "prod-restored", "--port", str(new_port),
                  "--restore-to-time", iso(before_drop))
    assert out["DBCluster"]["Status"] == "available"
    assert ids_in(env, new_port) == list(range(1, 81))
    with env.connect(new_port) as c2:          # it accepts writes
        c2.cursor().execute("INSERT INTO t VALUES (1000, 'after restore')")
    cur = conn.cursor()
    cur.execute("SELECT to_regclass('t')")
    assert cur.fetchone()[0] is None           # the source is untouched: still dropped

    # between the two base backups, and before the newest one
    port3 = free_port()
    env.run("db", "restore-db-cluster-to-point-in-time", "--source-db-cluster-identifier", "prod",
            "--db-cluster-identifier", "prod-between", "--port", str(port3),
            "--restore-to-time", iso(between))
    assert ids_in(env, port3) == list(range(1, 41))

    # outside the window: refused, both bounds named
    err = env.run("db", "restore-db-cluster-to-point-in-time",
                  "--source-db-cluster-identifier", "prod", "--db-cluster-identifier", "too-early",
                  "--restore-to-time", "2001-01-01T00:00:00Z", expect=11)
    assert "EarliestRestorableTime" in err["message"]
    assert "LatestRestorableTime" in err["message"]
    conn.close()

    # from the repository alone: the source deleted and its data directory wiped
    env.run("db", "delete-db-cluster", "--db-cluster-identifier", "prod", "--skip-final-snapshot")
    shutil.rmtree(os.path.join(env.state, "clusters", "prod"), ignore_errors=True)
    port4 = free_port()
    env.run("db", "restore-db-cluster-to-point-in-time", "--source-db-cluster-identifier", "prod",
            "--db-cluster-identifier", "prod-again", "--port", str(port4),
            "--restore-to-time", iso(before_drop))
    assert ids_in(env, port4) == list(range(1, 81))


def test_restore_from_snapshot_and_latest(env):
    port = free_port()
    env.run("db", "create-db-cluster", "--db-cluster-identifier", "app", "--port", str(port))
    conn = env.connect(port)
    conn.cursor().execute("CREATE TABLE t (id int PRIMARY KEY, payload text)")
    conn.commit()
    insert_rows(conn, range(1, 11), pause=0)
    # a table of several 512 KiB chunks (relation files are cut at fixed
    # offsets), and a temporary table, which a base backup leaves out
    cur = conn.cursor()
    cur.execute("CREATE TABLE big AS SELECT g, md5(g::text) AS h FROM generate_series(1, 40000) g")
    cur.execute("SELECT count(*), sum(g), string_agg(h, '' ORDER BY g) FROM big")
    big = cur.fetchone()
    cur.execute("SELECT pg_relation_filepath('big'), pg_relation_size('big')")
    big_path, big_size = cur.fetchone()
    assert big_size > 3 * 512 * 1024
    # an unlogged table: a base backup keeps only its init fork, and a restore
    # gives it back empty, as after a crash
    cur.execute("CREATE UNLOGGED TABLE scratchpad AS SELECT g FROM generate_series(1, 1000) g")
    cur.execute("SELECT pg_relation_filepath('scratchpad')")
    unlogged_path = cur.fetchone()[0]
    conn.commit()
    temp_conn = env.connect(port)
    temp_cur = temp_conn.cursor()
    temp_cur.execute("CREATE TEMP TABLE scratch AS SELECT g FROM generate_series(1, 1000) g")
    temp_cur.execute("SELECT pg_relation_filepath('scratch')")
    temp_path = temp_cur.fetchone()[0]
    temp_conn.commit()
    assert re.search(r"/t\d+_\d+$", temp_path), temp_path
    snap = env.run("db", "create-db-cluster-snapshot", "--db-cluster-identifier", "app",
                   "--db-cluster-snapshot-identifier", "app-snap")["DBClusterSnapshot"]
    temp_conn.close()
    dump = subprocess.run(env._cmd(["repo", "dump", "--repo", "local", "--backup",
                                    snap["BackupId"]]), capture_output=True, check=True)
    with tarfile.open(fileobj=io.BytesIO(dump.stdout)) as tar:
        sizes = {m.name: m.size for m in tar.getmembers()}
    assert sizes[big_path] == big_size
    assert temp_path not in sizes and not [n for n in sizes if re.search(r"/t\d+_\d+", n)]
    assert unlogged_path + "_init" in sizes
    forks = [n for n in sizes if re.fullmatch(re.escape(unlogged_path) + r"(_[a-z]+)?(\.\d+)?", n)]
    assert forks == [unlogged_path + "_init"]
    insert_rows(conn, range(11, 21), pause=0)
    # archive in a later second than the commits: LatestRestorableTime is whole
    # seconds, rounded down so that it never claims WAL the archive lacks
    time.sleep(1.2)
    wait_archived(conn)
    snaps = env.run("db", "describe-db-cluster-snapshots", "--db-cluster-identifier", "app")
    assert [s["DBClusterSnapshotIdentifier"] for s in snaps["DBClusterSnapshots"]] == ["app-snap"]

    p2 = free_port()
    env.run("db", "restore-db-cluster-from-snapshot", "--snapshot-identifier", "app-snap",
            "--db-cluster-identifier", "app-from-snap", "--port", str(p2))
    assert ids_in(env, p2) == list(range(1, 11))
    with env.connect(p2) as restored:
        rcur = restored.cursor()
        rcur.execute("SELECT count(*), sum(g), string_agg(h, '' ORDER BY g) FROM big")
        assert rcur.fetchone() == big
        rcur.execute("SELECT count(*) FROM scratchpad")
        assert rcur.fetchone()[0] == 0
    restored.close()

    p3 = free_port()
    env.run("db", "restore-db-cluster-to-point-in-time", "--source-db-cluster-identifier", "app",
            "--db-cluster-identifier", "app-latest", "--port", str(p3),
            "--use-latest-restorable-time")
    assert ids_in(env, p3) == list(range(1, 21))

    # a target after the last commit in the archive: PostgreSQL cannot "reach" it,
    # radiant recovers to the end of the archive, which is that state
    latest = env.run("db", "describe-db-clusters", "--db-cluster-identifier",
                     "app")["DBClusters"][0]["LatestRestorableTime"]
    p4 = free_port()
    env.run("db", "restore-db-cluster-to-point-in-time", "--source-db-cluster-identifier", "app",
            "--db-cluster-identifier", "app-at-latest", "--port", str(p4),
            "--restore-to-time", latest)
    assert ids_in(env, p4) == list(range(1, 21))

    env.run("db", "delete-db-cluster-snapshot", "--db-cluster-snapshot-identifier", "app-snap")
    err = env.run("db", "restore-db-cluster-from-snapshot", "--snapshot-identifier", "app-snap",
                  "--db-cluster-identifier", "app-gone", expect=4)
    assert "app-snap" in err["message"]
    conn.close()


@pytest.mark.e2e
def test_restore_is_durable_with_normal_settings(env):
    """The recovery run replays with fsync = off (and other speed settings);
    before the restore returns "available" the cluster is stopped, synced
    (syncfs) and started with its own settings again. It then runs with fsync
    on, and survives a kill -9 right after the restore returns."""
    port = free_port()
    env.run("db", "create-db-cluster", "--db-cluster-identifier", "dur", "--port", str(port))
    conn = env.connect(port)
    conn.cursor().execute("CREATE TABLE t (id int PRIMARY KEY, payload text)")
    conn.commit()
    # the backup's own value of a setting the recovery run overrides comes back
    conn.autocommit = True
    conn.cursor().execute("ALTER SYSTEM SET maintenance_io_concurrency = 7")
    conn.autocommit = False
    env.run("db", "create-db-cluster-snapshot", "--db-cluster-identifier", "dur",
            "--db-cluster-snapshot-identifier", "dur-snap")
    insert_rows(conn, range(1, 31), pause=0)
    time.sleep(1.2)
    wait_archived(conn)
    conn.close()

    p2 = free_port()
    out = env.run("db", "restore-db-cluster-to-point-in-time", "--source-db-cluster-identifier",
                  "dur", "--db-cluster-identifier", "dur-new", "--port", str(p2),
                  "--use-latest-restorable-time")
    assert out["DBCluster"]["Status"] == "available"
    data = env.data_dir("dur-new")
    with open(os.path.join(data, "postgresql.auto.conf")) as f:
        auto = f.read()
    for name in ("fsync", "synchronous_commit", "recovery_prefetch", "wal_decode_buffer_size"):
        assert not any(line.split("=")[0].strip() == name for line in auto.splitlines()), auto
    assert "maintenance_io_concurrency = '7'" in auto, auto
    with env.connect(p2) as c:
        cur = c.cursor()
        cur.execute("SELECT name, setting FROM pg_settings WHERE name IN ('fsync', "
                    "'synchronous_commit', 'maintenance_io_concurrency', 'full_page_writes')")
        settings = dict(cur.fetchall())
        cur.execute("SELECT count(*) FROM pg_settings WHERE pending_restart")
        pending = cur.fetchone()[0]
    assert settings == {"fsync": "on", "synchronous_commit": "on",
                        "maintenance_io_concurrency": "7", "full_page_writes": "on"}, settings
    assert pending == 0
    events = env.run("db", "describe-events", "--source-identifier", "dur-new")["Events"]
    assert any("accepting writes" in e["Message"] for e in events)

    # kill -9 right after the restore returned: the server recovers with what
    # is on disk and holds every restored row
    with env.connect(p2) as c:
        c.cursor().execute("INSERT INTO t VALUES (1000, 'after restore')")
    with open(os.path.join(data, "postmaster.pid")) as f:
        pid = int(f.readline())
    os.kill(pid, signal.SIGKILL)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
            time.sleep(0.1)
        except ProcessLookupError:
            break
    # the children go with the postmaster; remove its pid file's claim by starting
    subprocess.run(["runuser", "-u", "postgres", "--", "/usr/lib/postgresql/15/bin/pg_ctl",
                    "-D", data, "-l", os.path.join(data, "..", "server.log"), "-w", "-t", "60",
                    "start"], check=True, capture_output=True)
    assert ids_in(env, p2) == list(range(1, 31)) + [1000]


def describe(env, cluster):
    """describe-db-clusters of one cluster: (its JSON, stderr)."""
    proc = subprocess.run(env._cmd(["db", "describe-db-clusters", "--db-cluster-identifier",
                                    cluster]), capture_output=True, text=True, cwd=env.dir)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)["DBClusters"][0], proc.stderr


def modify_repos(env, cluster, repos, expect=0):
    """modify-db-cluster --repos: (exit code, stderr)."""
    proc = subprocess.run(env._cmd(["db", "modify-db-cluster", "--db-cluster-identifier", cluster,
                                    "--repos", repos]), capture_output=True, text=True,
                          cwd=env.dir)
    assert proc.returncode == expect, proc.stderr
    return proc.stderr


def test_a_lost_repository_leaves_the_others_restorable():
    """A cluster backed up into two repositories: when one is lost, its
    backups drop out of the window with a warning, restores come from the
    other, and modify-db-cluster --repos takes the lost one out so that
    archiving goes on; a change that leaves no backup says so; when every
    repository is lost, describe says so and a restore is refused."""
    env = PgEnv(repos=("local", "dr", "spare"))
    try:
        port = free_port()
        env.run("db", "create-db-cluster", "--db-cluster-identifier", "two", "--port", str(port),
                "--repos", "local,dr")
        conn = env.connect(port)
        conn.cursor().execute("CREATE TABLE t (id int PRIMARY KEY, payload text)")
        conn.commit()
        insert_rows(conn, range(1, 11), pause=0)
        env.run("db", "create-db-cluster-snapshot", "--db-cluster-identifier", "two",
                "--db-cluster-snapshot-identifier", "two-snap")
        insert_rows(conn, range(11, 21), pause=0)
        time.sleep(1.2)
        wait_archived(conn)
        before, _ = describe(env, "two")

        # the first repository, the one WAL is read from first, is lost
        shutil.rmtree(os.path.join(env.dir, "repo-local"))
        after, err = describe(env, "two")
        assert "repository local cannot be read" in err, err
        assert "create it with 'radiant repo init --repo local'" in err
        for k in ("EarliestRestorableTime", "LatestRestorableTime"):
            assert after[k] == before[k]
        snaps = env.run("db", "describe-db-cluster-snapshots", "--db-cluster-identifier", "two")
        assert [s["DBClusterSnapshotIdentifier"] for s in snaps["DBClusterSnapshots"]] == \
            ["two-snap"]
        p2 = free_port()
        env.clusters.add("two-latest")
        proc = subprocess.run(env._cmd(["db", "restore-db-cluster-to-point-in-time",
                                        "--source-db-cluster-identifier", "two",
                                        "--db-cluster-identifier", "two-latest", "--port",
                                        str(p2), "--use-latest-restorable-time"]),
                              capture_output=True, text=True, cwd=env.dir)
        assert proc.returncode == 0, proc.stderr
        assert ids_in(env, p2) == list(range(1, 21))
        # the new cluster archives where its source did, and is told how to go on
        assert ("'radiant db modify-db-cluster --db-cluster-identifier two-latest --repos dr'"
                in proc.stderr), proc.stderr
        env.stop_cluster("two-latest")

        # archiving needs every repository: taking the lost one out lets it go on
        err = modify_repos(env, "two", "local", expect=4)
        assert "repository local (from --repos) of DB cluster two" in err, err
        err = modify_repos(env, "two", " , ", expect=2)
        assert "--repos names no repository" in err
        assert describe(env, "two")[0]["Repos"] == ["local", "dr"]
        err = modify_repos(env, "two", "dr")   # dr holds the same backups: no loss to tell
        assert "EarliestRestorableTime moves" not in err and "no backup is left" not in err, err
        insert_rows(conn, range(21, 31), pause=0)
        wait_archived(conn)
        assert modify_repos(env, "two", "dr,spare") == ""
        assert describe(env, "two")[0]["Repos"] == ["dr", "spare"]
        # a set without any backup: nothing is restorable, and that is said
        err = modify_repos(env, "two", "spare")
        assert "no backup is left in repositories spare, so nothing is restorable" in err, err
        assert "EarliestRestorableTime" not in describe(env, "two")[0]
        # a set without the oldest backups: the window shrinks, and that is said
        assert modify_repos(env, "two", "dr,spare") == ""
        later = env.run("db", "create-db-cluster-snapshot", "--db-cluster-identifier", "two",
                        "--db-cluster-snapshot-identifier", "two-later")["DBClusterSnapshot"]
        err = modify_repos(env, "two", "spare")
        assert "EarliestRestorableTime moves from %s to %s" % (
            before["EarliestRestorableTime"], later["ConsistentTime"]) in err, err
        assert describe(env, "two")[0]["EarliestRestorableTime"] == later["ConsistentTime"]
        conn.close()

        # every repository lost: nothing claims to be restorable, a restore says why
        for name in ("dr", "spare"):
            shutil.rmtree(os.path.join(env.dir, "repo-" + name))
        gone, err = describe(env, "two")
        assert "EarliestRestorableTime" not in gone and "LatestRestorableTime" not in gone
        assert "no repository of DB cluster two can be read" in err, err
        err = env.run("db", "restore-db-cluster-from-snapshot", "--snapshot-identifier",
                      "two-snap", "--db-cluster-identifier", "two-none", expect=5)
        assert "no repository of the configuration can be read" in err["message"]
        assert not os.path.exists(env.data_dir("two-none"))
    finally:
        env.close()
