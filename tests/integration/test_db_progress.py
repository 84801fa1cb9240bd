"""A snapshot and a point-in-time restore show progress on a terminal (bytes,
rate and ETA of the base backup; the replay position and the history left to
the target), and print nothing of it when stderr is not a terminal."""

import os
import subprocess
import time

import pytest

from pgfixture import PG_BIN, RADIANT, PgEnv, free_port


@pytest.fixture
def env():
    # Two encrypted repositories: the snapshot is written twice, so that it
    # lasts well past the first progress update (a quarter of a second) even
    # on a fast machine.
    e = PgEnv(repos=("local", "dr"))
    yield e
    e.close()


def on_terminal(env, *args):
    """radiant ARGS with stderr on a terminal (script(1)); returns its output."""
    cmd = " ".join([RADIANT, "--config", env.config] + list(args))
    clean = {k: v for k, v in os.environ.items() if k != "CI"}
    proc = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True,
                          env=clean, timeout=300, cwd=env.dir)
    assert proc.returncode == 0, proc.stdout[-3000:]
    return proc.stdout


@pytest.mark.e2e
def test_snapshot_and_restore_progress(env):
    port = free_port()
    env.run("db", "create-db-cluster", "--db-cluster-identifier", "src", "--port", str(port))
    subprocess.run(["runuser", "-u", "postgres", "--", PG_BIN + "/pgbench", "-i", "-s", "8", "-q",
                    "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "postgres"],
                   check=True, capture_output=True)
    out = on_terminal(env, "db", "create-db-cluster-snapshot", "--db-cluster-identifier", "src",
                      "--db-cluster-snapshot-identifier", "s1")
    assert "snapshot: " in out and "MB/s" in out and "ETA" in out, out

    conn = env.connect(port)
    cur = conn.cursor()
    for _ in range(6):
        cur.execute("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid % 7 = 0")
        conn.commit()
        time.sleep(0.5)
    target = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 1))
    cur.execute("SELECT pg_switch_wal()")
    conn.commit()
    conn.close()
    # the archiver records the segment; then the target lies in the window
    deadline = time.time() + 30
    while time.time() < deadline:
        window = env.run("db", "describe-db-clusters", "--db-cluster-identifier",
                         "src")["DBClusters"][0]
        if window.get("LatestRestorableTime", "") >= target:
            break
        time.sleep(0.2)
    out = on_terminal(env, "db", "restore-db-cluster-to-point-in-time",
                      "--source-db-cluster-identifier", "src", "--db-cluster-identifier", "dst",
                      "--restore-to-time", target, "--port", str(free_port()))
    env.clusters.add("dst")
    assert "restoring the base backup: " in out, out

    plain = subprocess.run([RADIANT, "--config", env.config, "db", "create-db-cluster-snapshot",
                            "--db-cluster-identifier", "src", "--db-cluster-snapshot-identifier",
                            "s2"], capture_output=True, text=True, timeout=300, cwd=env.dir,
                           stdin=subprocess.DEVNULL)
    assert plain.returncode == 0 and "snapshot: " not in plain.stderr, plain.stderr
