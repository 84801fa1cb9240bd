"""WAL streaming by `radiant serve` (src/pg/stream.c): with pgbench and a
journaled writer running, the PostgreSQL server is killed with SIGKILL and its
data directory wiped; the restorable window must then reach within 2 s of the
last acknowledged commit, and a restore to the latest restorable time must
hold every commit acknowledged up to it (with the synchronous option: every
acknowledged commit). Also a kill -9 of the receiver itself."""

import os
import shutil
import signal
import subprocess
import threading
import time

import psycopg2
import pytest

from pgfixture import PG_BIN, RADIANT, PgEnv, free_port


def iso_seconds(text):
    return time.mktime(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone


class Serve:
    """`radiant serve` in the background, stopped by pid."""

    def __init__(self, env):
        self.log = open(os.path.join(env.dir, "serve-%d.log" % time.time_ns()), "w+")
        self.proc = subprocess.Popen(
            [RADIANT, "--config", env.config, "--log-level", "debug", "serve", "--interval",
             "3600"], stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=env.dir)

    def output(self):
        self.log.seek(0)
        return self.log.read()

    def stop(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=30)
        self.log.close()
        return rc


def wait_for(what, predicate, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def slot_streaming(conn, sync=False):
    cur = conn.cursor()
    cur.execute("SELECT sync_state FROM pg_stat_replication WHERE application_name = 'radiant'"
                " AND state = 'streaming'")
    row = cur.fetchone()
    conn.commit()
    return row is not None and (not sync or row[0] == "sync")


def postmaster_pid(env, cluster):
    with open(os.path.join(env.data_dir(cluster), "postmaster.pid")) as f:
        return int(f.readline())


class Writer(threading.Thread):
    """Inserts rows one commit at a time and journals the time each commit
    was acknowledged, until the server goes away."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.conn = psycopg2.connect(host="127.0.0.1", port=port, user="postgres",
                                     dbname="postgres")
        self.conn.autocommit = True
        self.acked = []          # (id, ack time)
        self.stop = False

    def run(self):
        cur = self.conn.cursor()
        i = 0
        try:
            while not self.stop:
                i += 1
                cur.execute("INSERT INTO journal(id) VALUES (%s)", (i,))
                self.acked.append((i, time.time()))
        except psycopg2.Error:
            pass


def pgbench(port, *args):
    return subprocess.Popen(["runuser", "-u", "postgres", "--", PG_BIN + "/pgbench", "-h",
                             "127.0.0.1", "-p", str(port), "-U", "postgres"] + list(args) +
                            ["postgres"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.fixture
def env():
    e = PgEnv(encrypted=False)
    yield e
    e.close()


def crash_under_load(env, cluster, port, sync):
    """Runs pgbench and the journaled writer, kills the server with SIGKILL
    and wipes its data directory. Returns the writer's journal."""
    conn = env.connect(port)
    conn.cursor().execute("CREATE TABLE journal(id int PRIMARY KEY, at timestamptz DEFAULT "
                          "clock_timestamp())")
    conn.commit()
    conn.close()
    subprocess.run(["runuser", "-u", "postgres", "--", PG_BIN + "/pgbench", "-i", "-s", "2", "-q",
                    "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "postgres"],
                   check=True, capture_output=True)
    bench = pgbench(port, "-c", "2", "-T", "60")
    writer = Writer(port)
    writer.start()
    try:
        time.sleep(4)
        wait_for("acknowledged commits", lambda: len(writer.acked) > 50)
        os.kill(postmaster_pid(env, cluster), signal.SIGKILL)
        writer.join(timeout=30)
    finally:
        writer.stop = True
        bench.kill()
        bench.wait()
    # Children of the postmaster exit once it is gone; then wipe the data.
    time.sleep(1)
    shutil.rmtree(env.data_dir(cluster))
    return writer.acked


def restored_ids(env, port):
    conn = env.connect(port)
    cur = conn.cursor()
    cur.execute("SELECT id FROM journal")
    ids = {r[0] for r in cur.fetchall()}
    conn.close()
    return ids


@pytest.mark.parametrize("sync", [False, True], ids=["async", "synchronous"])
@pytest.mark.e2e
def test_crash_and_wipe_loses_at_most_two_seconds(env, sync):
    port = free_port()
    args = ["db", "create-db-cluster", "--db-cluster-identifier", "src", "--port", str(port)]
    serve = Serve(env)
    try:
        env.run(*(args + (["--synchronous-wal-streaming"] if sync else [])))
        described = env.run("db", "describe-db-clusters", "--db-cluster-identifier", "src")
        assert described["DBClusters"][0]["SynchronousWalStreaming"] is sync
        conn = env.connect(port)
        wait_for("the receiver", lambda: slot_streaming(conn, sync))
        conn.close()
        env.run("db", "create-db-cluster-snapshot", "--db-cluster-identifier", "src",
                "--db-cluster-snapshot-identifier", "base")
        acked = crash_under_load(env, "src", port, sync)
        last_ack = acked[-1][1]
        # The receiver records what it holds within 200 ms.
        time.sleep(1)
        cluster = env.run("db", "describe-db-clusters",
                          "--db-cluster-identifier", "src")["DBClusters"][0]
        latest = iso_seconds(cluster["LatestRestorableTime"])
        assert latest >= int(last_ack) - 2, (cluster, last_ack)
        assert latest <= last_ack + 1, (cluster, last_ack)
        new_port = free_port()
        env.run("db", "restore-db-cluster-to-point-in-time", "--source-db-cluster-identifier",
                "src", "--db-cluster-identifier", "dst", "--use-latest-restorable-time",
                "--port", str(new_port))
        ids = restored_ids(env, new_port)
        if sync:
            missing = [i for i, _ in acked if i not in ids]
        else:
            missing = [i for i, t in acked if t < latest and i not in ids]
        assert not missing, (len(missing), len(acked), latest, last_ack)
        assert "streaming WAL" in serve.output()
    finally:
        assert serve.stop() == 0, serve.output()[-3000:]


def test_receiver_killed_resumes_without_a_hole(env):
    """kill -9 of the receiver (radiant serve) while WAL flows: after a
    restart it resumes from what it holds, and the window never claims more
    than a restore delivers."""
    port = free_port()
    serve = Serve(env)
    env.run("db", "create-db-cluster", "--db-cluster-identifier", "src", "--port", str(port))
    conn = env.connect(port)
    conn.autocommit = True
    wait_for("the receiver", lambda: slot_streaming(conn))
    env.run("db", "create-db-cluster-snapshot", "--db-cluster-identifier", "src",
            "--db-cluster-snapshot-identifier", "base")
    cur = conn.cursor()
    cur.execute("CREATE TABLE journal(id int PRIMARY KEY, at timestamptz DEFAULT "
                "clock_timestamp())")
    acked = []
    for round_ in range(3):
        for i in range(200):
            n = round_ * 1000 + i
            cur.execute("INSERT INTO journal(id) VALUES (%s)", (n,))
            acked.append((n, time.time()))
            if i == 100:
                serve.stop(signal.SIGKILL)
                serve = Serve(env)
        wait_for("the receiver", lambda: slot_streaming(conn))
    time.sleep(1)
    os.kill(postmaster_pid(env, "src"), signal.SIGKILL)
    conn.close()
    time.sleep(1)
    assert serve.stop() == 0
    shutil.rmtree(env.data_dir("src"))
    latest = iso_seconds(env.run("db", "describe-db-clusters", "--db-cluster-identifier",
                                 "src")["DBClusters"][0]["LatestRestorableTime"])
    assert latest >= int(acked[-1][1]) - 2
    new_port = free_port()
    env.run("db", "restore-db-cluster-to-point-in-time", "--source-db-cluster-identifier", "src",
            "--db-cluster-identifier", "dst", "--use-latest-restorable-time",
            "--port", str(new_port))
    ids = restored_ids(env, new_port)
    missing = [i for i, t in acked if t < latest and i not in ids]
    assert not missing, (len(missing), len(acked))
