"""Automated backups and retention through `radiant serve --once`, with the
clock moved instead of waiting (RADIANT_CLOCK_OFFSET): one automated backup
per preferred window; 40 days later the automated backups older than the
35-day window and their WAL are gone, the manual snapshot and everything the
window needs remain, and a restore to the earliest restorable time works."""

import os
import subprocess
import time

import pytest

from pgfixture import PgEnv, free_port, wait_archived
from test_pitr import ids_in, insert_rows


def window_around_now():
    start = time.gmtime(time.time() - 300)
    end = time.gmtime(time.time() + 3300)
    return "%02d:%02d-%02d:%02d" % (start.tm_hour, start.tm_min, end.tm_hour, end.tm_min)


def segno(name):
    return int(name[8:16], 16) * 256 + int(name[16:24], 16)


def lsn_segno(lsn):
    hi, lo = lsn.split("/")
    return ((int(hi, 16) << 32) | int(lo, 16)) // (16 * 1024 * 1024)


@pytest.fixture
def env():
    e = PgEnv()
    yield e
    e.close()


def test_automated_backups_and_retention(env):
    later = {"RADIANT_CLOCK_OFFSET": "40d"}
    port = free_port()
    env.run("db", "create-db-cluster", "--db-cluster-identifier", "ret", "--port", str(port),
            "--backup-retention-period", "35", "--preferred-backup-window", window_around_now())
    conn = env.connect(port)
    conn.cursor().execute("CREATE TABLE t (id int PRIMARY KEY, payload text)")
    conn.commit()
    insert_rows(conn, range(1, 11), pause=0)

    first = env.run("serve", "--once")["serve"]
    assert first["backups_taken"] == 1 and first["backups_expired"] == 0
    assert env.run("serve", "--once")["serve"]["backups_taken"] == 0   # one per window
    auto = env.run("db", "describe-db-cluster-snapshots", "--db-cluster-identifier", "ret",
                   "--snapshot-type", "automated")["DBClusterSnapshots"]
    assert len(auto) == 1 and auto[0]["DBClusterSnapshotIdentifier"].startswith("rds:ret-")

    manual = env.run("db", "create-db-cluster-snapshot", "--db-cluster-identifier", "ret",
                     "--db-cluster-snapshot-identifier", "ret-keep")["DBClusterSnapshot"]
    time.sleep(1.5)                          # nothing commits in the second it became consistent
    insert_rows(conn, range(11, 21), pause=0)
    wait_archived(conn)
    wal_dir = os.path.join(env.dir, "repo-local", "objects", "wal", "ret")
    before = sorted(os.listdir(wal_dir))

    # 40 days on: the old automated backup and its WAL expire, the manual one stays
    report = env.run("serve", "--once", env=later)["serve"]
    assert report["backups_taken"] == 1
    assert report["backups_expired"] == 1
    assert report["wal_expired"] >= 1
    snaps = env.run("db", "describe-db-cluster-snapshots", "--db-cluster-identifier", "ret",
                    env=later)["DBClusterSnapshots"]
    names = [s["DBClusterSnapshotIdentifier"] for s in snaps]
    assert auto[0]["DBClusterSnapshotIdentifier"] not in names
    assert "ret-keep" in names and len(names) == 2
    after = sorted(os.listdir(wal_dir))
    keep_from = lsn_segno(manual["StartLSN"])
    assert [f for f in before if segno(f) < keep_from and ".history" not in f]
    for f in after:
        assert ".history" in f or segno(f) >= keep_from, f
    events = env.run("db", "describe-events", "--source-identifier", "ret", "--duration", "120",
                     env=later)["Events"]
    assert any("expired" in e["Message"] for e in events)

    # every second of the window stays restorable: restore to its earliest point
    cluster = env.run("db", "describe-db-clusters", "--db-cluster-identifier", "ret",
                      env=later)["DBClusters"][0]
    assert cluster["EarliestRestorableTime"] == manual["ConsistentTime"]
    p2 = free_port()
    env.run("db", "restore-db-cluster-to-point-in-time", "--source-db-cluster-identifier", "ret",
            "--db-cluster-identifier", "ret-earliest", "--port", str(p2),
            "--restore-to-time", cluster["EarliestRestorableTime"], env=later)
    assert ids_in(env, p2) == list(range(1, 11))

    # a shorter retention period gives up restore points, and says so
    proc = subprocess.run(env._cmd(["db", "modify-db-cluster", "--db-cluster-identifier", "ret",
                                    "--backup-retention-period", "1"]),
                          capture_output=True, text=True, cwd=env.dir,
                          env=dict(os.environ, **later))
    assert proc.returncode == 0, proc.stderr
    assert "gives up restore points" in proc.stderr, proc.stderr
    conn.close()
