"""kill -9 of a base backup (create-db-cluster-snapshot) at several moments:
no snapshot is claimed that cannot be restored, the restorable window claims
nothing new, PostgreSQL is not left in backup mode (the next snapshot
succeeds), and the repository stays sound."""

import signal
import subprocess
import time

import pytest

from pgfixture import PgEnv, free_port


@pytest.fixture
def env():
    e = PgEnv()
    yield e
    e.close()


@pytest.mark.e2e
def test_kill_during_snapshot_claims_nothing(env):
    port = free_port()
    env.run("db", "create-db-cluster", "--db-cluster-identifier", "crashy", "--port", str(port))
    with env.connect(port) as conn:
        cur = conn.cursor()
        cur.execute("CREATE TABLE big AS SELECT g AS id, md5(g::text) || repeat('x', 400) AS pad "
                    "FROM generate_series(1, 150000) g")
    env.run("db", "create-db-cluster-snapshot", "--db-cluster-identifier", "crashy",
            "--db-cluster-snapshot-identifier", "base")
    window = env.run("db", "describe-db-clusters",
                     "--db-cluster-identifier", "crashy")["DBClusters"][0]

    for n, delay in enumerate((0.05, 0.3, 0.8, 1.5)):
        name = "killed-%d" % n
        proc = subprocess.Popen(env._cmd(["db", "create-db-cluster-snapshot",
                                          "--db-cluster-identifier", "crashy",
                                          "--db-cluster-snapshot-identifier", name]),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                stdin=subprocess.DEVNULL, cwd=env.dir)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        snaps = env.run("db", "describe-db-cluster-snapshots",
                        "--db-cluster-identifier", "crashy")["DBClusterSnapshots"]
        names = [s["DBClusterSnapshotIdentifier"] for s in snaps]
        assert "base" in names
        after = env.run("db", "describe-db-clusters",
                        "--db-cluster-identifier", "crashy")["DBClusters"][0]
        assert after["EarliestRestorableTime"] == window["EarliestRestorableTime"]
        if name in names:
            continue                      # it finished before the kill: it must be whole
        # nothing claims the killed backup, and PostgreSQL is not stuck in backup mode
        env.run("db", "create-db-cluster-snapshot", "--db-cluster-identifier", "crashy",
                "--db-cluster-snapshot-identifier", name + "-again")

    check = env.run_as_postgres("repo", "check", "--repo", "local", "--read-data")["check"]
    assert check["ok"], check
    # the newest snapshot restores
    newest = env.run("db", "describe-db-cluster-snapshots",
                     "--db-cluster-identifier", "crashy")["DBClusterSnapshots"][-1]
    p2 = free_port()
    env.run("db", "restore-db-cluster-from-snapshot", "--snapshot-identifier",
            newest["DBClusterSnapshotIdentifier"], "--db-cluster-identifier", "crashy-restored",
            "--port", str(p2))
    with env.connect(p2) as conn:
        cur = conn.cursor()
        cur.execute("SELECT count(*) FROM big")
        assert cur.fetchone()[0] == 150000
