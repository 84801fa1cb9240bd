"""A sandbox for tests that run real PostgreSQL 15 clusters through radiant:
a temporary directory the postgres user can use, a config with a state
directory and repositories, and helpers to run radiant (as root, which drops
to the run-as user for PostgreSQL work, or as postgres) and to stop every
cluster it created, by data directory, never by process name."""

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import psycopg2

HERE = os.path.dirname(os.path.abspath(__file__))
RADIANT = os.environ.get("RADIANT_BIN", os.path.join(HERE, "..", "..", "build", "radiant"))
PG_BIN = "/usr/lib/postgresql/15/bin"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgEnv:
    def __init__(self, repos=("local",), encrypted=True):
        self.dir = tempfile.mkdtemp(prefix="radiant-pg-")
        os.chmod(self.dir, 0o755)
        self.state = os.path.join(self.dir, "state")
        self.config = os.path.join(self.dir, "radiant.conf")
        with open(os.path.join(self.dir, "pass"), "w") as f:
            f.write("pg tests passphrase\n")
        lines = ["[radiant]", "state-dir = state", "run-as = postgres", ""]
        for name in repos:
            lines += ["[repo %s]" % name, "path = repo-%s" % name]
            if encrypted:
                lines.append("passphrase-file = pass")
            lines.append("")
        with open(self.config, "w") as f:
            f.write("\n".join(lines))
        subprocess.run(["chown", "-R", "postgres:postgres", self.dir], check=True)
        for name in repos:
            self.run_as_postgres("repo", "init", "--repo", name)
        self.clusters = set()

    def _cmd(self, args):
        return [RADIANT, "--config", self.config, "--output", "json"] + list(args)

    def _finish(self, proc, args, expect):
        assert proc.returncode == expect, (args, proc.returncode, proc.stderr[-3000:])
        if expect != 0:
            return json.loads(proc.stderr.strip().splitlines()[-1])["error"]
        return json.loads(proc.stdout) if proc.stdout.strip() else None

    def run(self, *args, expect=0, timeout=600, env=None):
        """radiant as root (it becomes postgres for db and wal commands)."""
        full_env = dict(os.environ, **(env or {}))
        proc = subprocess.run(self._cmd(args), capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, cwd=self.dir, env=full_env)
        if args[:1] == ("db",) and args[1:2] in (("create-db-cluster",),
                                                 ("restore-db-cluster-to-point-in-time",),
                                                 ("restore-db-cluster-from-snapshot",)):
            self.clusters.add(args[args.index("--db-cluster-identifier") + 1])
        return self._finish(proc, args, expect)

    def run_as_postgres(self, *args, expect=0, timeout=600):
        proc = subprocess.run(["runuser", "-u", "postgres", "--"] + self._cmd(args),
                              capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, cwd=self.dir)
        return self._finish(proc, args, expect)

    def data_dir(self, cluster):
        return os.path.join(self.state, "clusters", cluster, "data")

    def connect(self, port, dbname="postgres"):
        return psycopg2.connect(host="127.0.0.1", port=port, user="postgres", dbname=dbname)

    def stop_cluster(self, cluster):
        data = self.data_dir(cluster)
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            subprocess.run(["runuser", "-u", "postgres", "--", PG_BIN + "/pg_ctl", "-D", data,
                            "-m", "immediate", "-w", "stop"], capture_output=True)

    def close(self):
        for c in self.clusters:
            self.stop_cluster(c)
        if not os.environ.get("RADIANT_KEEP_TEST_DIRS"):
            shutil.rmtree(self.dir, ignore_errors=True)


def wait_archived(conn, timeout=60):
    """Switches WAL and waits until the archiver has archived it."""
    cur = conn.cursor()
    cur.execute("SELECT pg_walfile_name(pg_switch_wal())")
    want = cur.fetchone()[0]
    deadline = time.time() + timeout
    conn.commit()
    while time.time() < deadline:
        # statistics are a snapshot per transaction (stats_fetch_consistency)
        cur.execute("SELECT pg_stat_clear_snapshot()")
        cur.execute("SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver")
        last, _failed = cur.fetchone()
        if last and last >= want:
            conn.commit()
            return want
        time.sleep(0.2)
    raise AssertionError("segment %s was not archived within %d s" % (want, timeout))
