"""`radiant wal push` / `radiant wal fetch` (archive_command / restore_command).

First without PostgreSQL, against two POSIX repositories (b encrypted) named
by a [cluster c1] section: durability in both, idempotent pushes, refusal of
different content, fetch round trips, exit 4 for missing files, history files,
an unwritable repository, a damaged copy, the prefetch spool, and kill -9 of
pushes. Then with a real PostgreSQL 15 archiving through `radiant wal push`:
segments land in both repositories, a repository that becomes unwritable
stops archiving (segments stay .ready) and archiving catches up without a gap
once it is writable again.

Commands run in text mode, as PostgreSQL runs them; permission tests run as
the postgres user (root ignores file modes).
"""
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import time

import pytest

from conftest import BIN, MiB, write_file

SEG = 16 * MiB
PG_BIN = "/usr/lib/postgresql/15/bin"
EXIT_USAGE, EXIT_CONFIG, EXIT_NOT_FOUND, EXIT_EXISTS = 2, 3, 4, 10


def seg_name(n, tli=1):
    return f"{tli:08X}{n // 256:08X}{n % 256:08X}"


def next_seg(name):
    tli, log, seg = int(name[:8], 16), int(name[8:16], 16), int(name[16:], 16)
    n = log * 256 + seg + 1
    return f"{tli:08X}{n // 256:08X}{n % 256:08X}"


def chown_tree(path, user="postgres"):
    subprocess.run(["chown", "-R", f"{user}:{user}", path], check=True)


def postgres_can_run(path):
    return subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", path]).returncode == 0


class Wal:
    """A work dir readable by postgres with repos a (plain) and b (encrypted),
    and [cluster c1] repos = a, b."""

    def __init__(self, workdir, extra="", repos="a, b", extra_repos=()):
        os.chmod(workdir, 0o755)
        self.dir = workdir
        self.state = os.path.join(workdir, "state")
        self.repo_a = os.path.join(workdir, "repo-a")
        self.repo_b = os.path.join(workdir, "repo-b")
        self.cfg = os.path.join(workdir, "radiant.conf")
        self.spool = os.path.join(self.state, "spool", "c1")
        passfile = os.path.join(workdir, "b.pass")
        write_file(passfile, b"wal passphrase\n", mode=0o600)
        write_file(self.cfg, (
            f"[radiant]\nstate-dir = {self.state}\n\n"
            f"[repo a]\ntype = posix\npath = {self.repo_a}\n\n"
            f"[repo b]\ntype = posix\npath = {self.repo_b}\npassphrase-file = {passfile}\n\n"
            f"[cluster c1]\nrepos = {repos}\n{extra}").encode())
        self.bin = BIN
        if not postgres_can_run(BIN):
            self.bin = os.path.join(workdir, "radiant")
            shutil.copy2(BIN, self.bin)
            os.chmod(self.bin, 0o755)
        for r in ("a", "b") + tuple(extra_repos):
            self.run(["repo", "init", "--repo", r], check=True)
        self.pgwal = os.path.join(workdir, "pg_wal")
        os.makedirs(self.pgwal)
        chown_tree(workdir)

    def argv(self, args):
        return [self.bin, "--config", self.cfg] + [str(a) for a in args]

    def run(self, args, as_postgres=False, check=False, env=None, timeout=120):
        full_env = dict(os.environ)
        full_env.pop("RADIANT_CONFIG", None)
        full_env.pop("RADIANT_CLUSTER", None)
        full_env.update(env or {})
        prefix = ["runuser", "-u", "postgres", "--"] if as_postgres else []
        p = subprocess.run(prefix + self.argv(args), stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, env=full_env, timeout=timeout)
        p.out = p.stdout.decode("utf-8", "replace")
        p.err = p.stderr.decode("utf-8", "replace")
        if check:
            assert p.returncode == 0, f"{args}: exit {p.returncode}\n{p.err}"
        assert p.returncode >= 0, f"{args}: killed by signal {-p.returncode}\n{p.err}"
        return p

    def push(self, path, *extra, **kw):
        return self.run(["wal", "push", "--db-cluster-identifier", "c1", *extra, path], **kw)

    def fetch(self, name, dest, *extra, **kw):
        return self.run(["wal", "fetch", "--db-cluster-identifier", "c1", *extra, name, dest],
                        **kw)

    def segment(self, name, size=SEG, data=None):
        path = os.path.join(self.pgwal, name)
        write_file(path, data if data is not None else os.urandom(size))
        return path

    def objects(self, repo_dir):
        d = os.path.join(repo_dir, "objects", "wal", "c1")
        if not os.path.isdir(d):
            return set()
        return {n for n in os.listdir(d) if not n.startswith(".") and ".tmp" not in n}

    def catalog(self, sql, *params):
        db = sqlite3.connect(os.path.join(self.state, "catalog.db"))
        try:
            return db.execute(sql, params).fetchall()
        finally:
            db.close()


@pytest.fixture
def wal(workdir, radiant_bin):
    return Wal(workdir)


def read(path):
    with open(path, "rb") as f:
        return f.read()


def one_error_line(p):
    lines = [l for l in p.err.splitlines() if l.strip()]
    assert len(lines) == 1, f"expected one line on stderr, got:\n{p.err}"
    return lines[0]


# ------------------------------------------------------------------- push --

def test_push_is_durable_in_both_repos_and_idempotent(wal):
    name = seg_name(1)
    path = wal.segment(name)
    p = wal.push(path)
    assert p.returncode == 0, p.err
    assert p.out == "" and p.err == "", "archive_command must be quiet on success"
    assert name in wal.objects(wal.repo_a)
    assert name in wal.objects(wal.repo_b)
    # encrypted repository: the segment's bytes are not there in clear
    with open(path, "rb") as f:
        sample = f.read(4096)[1000:1064]
    assert sample not in read(os.path.join(wal.repo_b, "objects", "wal", "c1", name))
    rows = wal.catalog("SELECT size FROM wal_archive WHERE cluster_id='c1' AND name=?", name)
    assert rows == [(SEG,)]
    # the same segment again: success (PostgreSQL retries after a crash)
    assert wal.push(path).returncode == 0
    # the cluster id from the environment
    assert wal.run(["wal", "push", path], env={"RADIANT_CLUSTER": "c1"}).returncode == 0


def test_push_of_different_content_is_refused(wal):
    name = seg_name(1)
    original = os.urandom(SEG)
    wal.push(wal.segment(name, data=original), check=True)
    other_dir = os.path.join(wal.dir, "other")
    os.makedirs(other_dir)
    other = os.path.join(other_dir, name)
    write_file(other, original[:SEG // 2] + b"X" + original[SEG // 2 + 1:])
    p = wal.push(other)
    assert p.returncode == EXIT_EXISTS, p.err
    assert "different content" in p.err and "refusing to overwrite" in p.err
    assert p.err.strip().splitlines()[-1].startswith("radiant: ")
    events = wal.catalog("SELECT category, message FROM events WHERE source_type='db-cluster' "
                         "AND source_id='c1'")
    assert len(events) == 1 and events[0][0] == "failure" and name in events[0][1]
    dest = os.path.join(wal.dir, "RECOVERYXLOG")
    assert wal.fetch(name, dest, "--prefetch", "0").returncode == 0
    assert read(dest) == original, "the archived segment was overwritten"
    # refused means written nowhere: a repository lacking the name gets nothing
    os.unlink(os.path.join(wal.repo_b, "objects", "wal", "c1", name))
    assert wal.push(other).returncode == EXIT_EXISTS
    assert name not in wal.objects(wal.repo_b)
    # the original again completes the set
    assert wal.push(wal.segment(name, data=original)).returncode == 0
    os.unlink(dest)
    assert wal.fetch(name, dest, "--prefetch", "0", "--repo", "b").returncode == 0
    assert read(dest) == original


def test_push_refuses_bad_input(wal):
    # wrong size for a segment
    p = wal.push(wal.segment(seg_name(3), size=8 * MiB))
    assert p.returncode == EXIT_USAGE and "16 MiB" in one_error_line(p)
    # not a WAL file name
    p = wal.push(wal.segment("RECOVERYXLOG"))
    assert p.returncode == EXIT_USAGE and "not the name of a WAL file" in one_error_line(p)
    # missing file
    p = wal.push(os.path.join(wal.pgwal, seg_name(9)))
    assert p.returncode == EXIT_NOT_FOUND and "does not exist" in one_error_line(p)
    # no cluster id
    p = wal.run(["wal", "push", wal.segment(seg_name(4))])
    assert p.returncode == EXIT_USAGE
    assert "--db-cluster-identifier" in one_error_line(p) and "RADIANT_CLUSTER" in p.err
    # a cluster neither the catalog nor the configuration knows
    p = wal.run(["wal", "push", "--db-cluster-identifier", "c9", wal.segment(seg_name(5))])
    assert p.returncode == EXIT_CONFIG
    line = one_error_line(p)
    assert "catalog" in line and "[cluster c9]" in line
    # unknown option, missing argument
    assert wal.run(["wal", "push", "--db-cluster-identifier", "c1", "--prefetch", "2",
                    "x"]).returncode == EXIT_USAGE
    assert wal.run(["wal", "fetch", "--db-cluster-identifier", "c1",
                    seg_name(1)]).returncode == EXIT_USAGE
    assert wal.run(["wal", "fetch", "--db-cluster-identifier", "c1", "--prefetch", "x",
                    seg_name(1), "d"]).returncode == EXIT_USAGE
    assert wal.objects(wal.repo_a) == set() and wal.objects(wal.repo_b) == set()


def test_push_fails_when_one_repo_is_unwritable(wal):
    name = seg_name(1)
    path = wal.segment(name)
    objects_a = os.path.join(wal.repo_a, "objects")
    os.makedirs(objects_a, exist_ok=True)
    chown_tree(objects_a)
    os.chmod(objects_a, 0)
    try:
        p = wal.push(path, as_postgres=True)
        assert p.returncode != 0, "push succeeded although repository a is unwritable"
        assert "repository a" in p.err and "Permission denied" in p.err, p.err
        assert wal.catalog("SELECT count(*) FROM wal_archive") == [(0,)]
    finally:
        os.chmod(objects_a, 0o755)
    assert wal.push(path, as_postgres=True).returncode == 0
    assert name in wal.objects(wal.repo_a) and name in wal.objects(wal.repo_b)


# ------------------------------------------------------------------ fetch --

def test_fetch_round_trip_and_missing(wal):
    names = [seg_name(1), "00000002.history", seg_name(2) + ".00000028.backup",
             seg_name(3) + ".partial"]
    data = {}
    for n in names:
        data[n] = os.urandom(SEG if n.endswith(".partial") else 200)
        if n == seg_name(1):
            data[n] = os.urandom(SEG)
        wal.push(wal.segment(n, data=data[n]), check=True)
    for n in names:
        dest = os.path.join(wal.dir, "restore", "RECOVERYXLOG")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        # run as root, radiant wal works as the run-as user, as under PostgreSQL
        shutil.chown(os.path.dirname(dest), "postgres", "postgres")
        p = wal.fetch(n, dest)
        assert p.returncode == 0 and p.err == "" and p.out == "", p.err
        assert read(dest) == data[n], n
        assert [f for f in os.listdir(os.path.dirname(dest)) if f != "RECOVERYXLOG"] == []
        os.unlink(dest)
    # history and partial files are never prefetched
    assert not os.path.isdir(wal.spool) or not any(
        f.endswith((".history", ".partial")) for f in os.listdir(wal.spool))

    # not archived: exit 4, quiet, no file
    dest = os.path.join(wal.dir, "RECOVERYXLOG")
    for n in (seg_name(77), "00000003.history"):
        p = wal.fetch(n, dest)
        assert p.returncode == EXIT_NOT_FOUND, p.err
        assert p.err == "" and p.out == ""
        assert not os.path.exists(dest)
    p = wal.run(["--log-level", "info", "wal", "fetch", "--db-cluster-identifier", "c1",
                 "00000003.history", dest])
    assert p.returncode == EXIT_NOT_FOUND
    assert "not in any of its repositories" in one_error_line(p)
    assert [f for f in os.listdir(wal.dir) if f.startswith("RECOVERYXLOG")] == []
    # a bad name is a usage error, not "not found"
    assert wal.fetch("../etc/passwd", dest).returncode == EXIT_USAGE


def test_fetch_falls_back_to_the_next_repo(wal):
    name = seg_name(1)
    original = os.urandom(SEG)
    wal.push(wal.segment(name, data=original), check=True)
    obj = os.path.join(wal.repo_a, "objects", "wal", "c1", name)
    raw = bytearray(read(obj))
    raw[len(raw) // 2] ^= 0x40
    write_file(obj, bytes(raw))
    dest = os.path.join(wal.dir, "RECOVERYXLOG")
    p = wal.fetch(name, dest, "--prefetch", "0")
    assert p.returncode == 0, p.err
    assert "repository a" in p.err and "trying the next repository" in p.err
    assert read(dest) == original
    # the damaged copy blocks a push of different bytes too, and is not replaced
    assert wal.push(wal.segment(name, data=original)).returncode != 0
    # --repo: only the damaged one -> corrupt, never wrong bytes
    os.unlink(dest)
    p = wal.fetch(name, dest, "--prefetch", "0", "--repo", "a")
    assert p.returncode == 6 and not os.path.exists(dest), p.err


def wait_for(cond, timeout=10.0, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def spooled(wal):
    if not os.path.isdir(wal.spool):
        return set()
    return {f for f in os.listdir(wal.spool) if len(f) == 24}


def test_prefetch_spool(wal):
    data = {}
    for i in range(1, 11):
        data[i] = os.urandom(SEG)
        wal.push(wal.segment(seg_name(i), data=data[i]), check=True)
    dest = os.path.join(wal.dir, "RECOVERYXLOG")
    t0 = time.time()
    p = wal.fetch(seg_name(1), dest, "--prefetch", "4")
    assert p.returncode == 0 and p.err == "", p.err
    assert time.time() - t0 < 5, "the foreground fetch waited for the prefetcher"
    assert read(dest) == data[1]
    want = {seg_name(i) for i in range(2, 6)}
    wait_for(lambda: want <= spooled(wal), what=f"spool to hold {sorted(want)}")
    assert spooled(wal) == want
    for n in want:
        assert read(os.path.join(wal.spool, n)) == data[int(n, 16) & 0xFF]

    # One prefetcher runs at a time: a fetch while the previous one is still
    # exiting starts none (the next fetch would), which the test must not race.
    lock = os.path.join(wal.spool, ".lock")

    def prefetcher_done():
        return subprocess.run(["flock", "-n", lock, "true"]).returncode == 0
    wait_for(prefetcher_done, what="the prefetcher to exit")

    # segment 2 comes from the spool: the spooled copy is consumed
    os.unlink(dest)
    marker = os.stat(os.path.join(wal.spool, seg_name(2))).st_ino
    assert wal.fetch(seg_name(2), dest, "--prefetch", "4").returncode == 0
    assert os.stat(dest).st_ino == marker, "segment 2 was fetched again, not taken from the spool"
    assert read(dest) == data[2]
    assert seg_name(2) not in spooled(wal)
    wait_for(lambda: seg_name(6) in spooled(wal), what="the next prefetch batch")

    # a destination on another file system (tmpfs): copied, then removed from the spool
    if os.path.isdir("/dev/shm") and os.stat("/dev/shm").st_dev != os.stat(wal.spool).st_dev:
        shm = __import__("tempfile").mkdtemp(dir="/dev/shm")
        shutil.chown(shm, "postgres", "postgres")
        try:
            assert wal.fetch(seg_name(3), os.path.join(shm, "RECOVERYXLOG"),
                             "--prefetch", "0").returncode == 0
            assert read(os.path.join(shm, "RECOVERYXLOG")) == data[3]
            assert os.listdir(shm) == ["RECOVERYXLOG"]
            assert seg_name(3) not in spooled(wal)
        finally:
            shutil.rmtree(shm)

    # near the end of the archive: prefetch stops at the first missing segment
    wait_for(prefetcher_done, what="the prefetcher to exit")
    os.unlink(dest)
    assert wal.fetch(seg_name(9), dest, "--prefetch", "4").returncode == 0
    wait_for(lambda: seg_name(10) in spooled(wal), what="segment 10 in the spool")
    wait_for(prefetcher_done, what="the prefetcher to exit")
    # segments replay has gone past were removed; nothing past the archive exists
    assert spooled(wal) == {seg_name(10)}
    assert not [f for f in os.listdir(wal.spool) if f.endswith(".tmp")]
    # --prefetch 0 fetches without starting anything
    os.unlink(dest)
    assert wal.fetch(seg_name(10), dest, "--prefetch", "0").returncode == 0
    assert read(dest) == data[10] and spooled(wal) == set()


def test_spool_of_another_boot_is_not_trusted(wal):
    """Spooled segments are not fsynced: after a crash of the machine one may
    hold anything. The spool is trusted only in the boot that wrote it
    (spool/.boot holds the kernel's boot id): a spool from another boot is
    ignored by fetch and emptied by the next prefetcher."""
    data = {i: os.urandom(SEG) for i in (1, 2, 3)}
    for i in data:
        wal.push(wal.segment(seg_name(i), data=data[i]), check=True)
    os.makedirs(wal.spool, exist_ok=True)
    chown_tree(os.path.dirname(wal.spool))
    # what a crash could leave: a renamed segment whose data never reached the disk
    with open(os.path.join(wal.spool, seg_name(2)), "wb") as f:
        f.write(b"\0" * SEG)
    with open(os.path.join(wal.spool, ".boot"), "w") as f:
        f.write("00000000-0000-0000-0000-000000000000")
    chown_tree(wal.spool)
    dest = os.path.join(wal.dir, "RECOVERYXLOG")
    assert wal.fetch(seg_name(2), dest, "--prefetch", "0").returncode == 0
    assert read(dest) == data[2], "a segment of another boot was taken from the spool"
    # the next prefetcher empties it and marks it as this boot's
    os.unlink(dest)
    assert wal.fetch(seg_name(1), dest, "--prefetch", "2").returncode == 0
    with open("/proc/sys/kernel/random/boot_id") as f:
        boot = f.read().strip()
    wait_for(lambda: spooled(wal) == {seg_name(2), seg_name(3)}, what="the prefetch")
    with open(os.path.join(wal.spool, ".boot")) as f:
        assert f.read() == boot
    assert read(os.path.join(wal.spool, seg_name(2))) == data[2]


def test_replay_is_served_from_the_spool(wal):
    """PostgreSQL's pattern: fetch a segment, replay it (here 0.1 s), fetch the
    next. After the first, segments come from the spool, the running
    prefetcher continuing with what fetches ask for (.want)."""
    data = {}
    n = 12
    for i in range(1, n + 1):
        data[i] = os.urandom(SEG)
        wal.push(wal.segment(seg_name(i), data=data[i]), check=True)
    dest = os.path.join(wal.dir, "RECOVERYXLOG")
    from_spool = 0
    for i in range(1, n + 2):
        p = wal.run(["--log-level", "debug", "wal", "fetch", "--db-cluster-identifier", "c1",
                     "--prefetch", "4", seg_name(i), dest])
        if i == n + 1:
            assert p.returncode == EXIT_NOT_FOUND, p.err
            break
        assert p.returncode == 0, p.err
        assert read(dest) == data[i]
        from_spool += "from the spool" in p.err
        os.unlink(dest)
        time.sleep(0.1)
    # the first is fetched directly; allow two more on a loaded machine
    assert from_spool >= n - 3, f"only {from_spool} of {n} segments came from the spool"


def test_kill_during_push_leaves_no_half_object(wal):
    """SIGKILL at random moments of pushes: a fetch afterwards finds nothing
    or exactly the segment, in every repository."""
    rnd = __import__("random").Random(4)
    dest = os.path.join(wal.dir, "RECOVERYXLOG")
    killed = 0
    for i in range(1, 13):
        name = seg_name(100 + i)
        data = os.urandom(SEG)
        path = wal.segment(name, data=data)
        p = subprocess.Popen(wal.argv(["wal", "push", "--db-cluster-identifier", "c1", path]),
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rnd.uniform(0.0, 0.25))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        p.wait()
        for repo in ("a", "b"):
            if os.path.exists(dest):
                os.unlink(dest)
            f = wal.fetch(name, dest, "--prefetch", "0", "--repo", repo)
            assert f.returncode in (0, EXIT_NOT_FOUND), f.err
            if f.returncode == 0:
                assert read(dest) == data, f"half a segment {name} visible in repository {repo}"
            else:
                assert not os.path.exists(dest)
        # PostgreSQL retries: the push completes afterwards
        assert wal.push(path).returncode == 0
    assert killed > 0, "no push was killed midway; the delays are too long"


def test_s3_repository_and_an_unreachable_one(workdir, radiant_bin):
    """A cluster archiving to a POSIX and an S3 repository: both hold each
    segment; with the S3 endpoint down, push fails (exit 9) and fetch falls
    back to the other repository."""
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config
    from s3fixture import start_mini_s3
    endpoint, ak, sk, stop = start_mini_s3(workdir)
    try:
        client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak,
                              aws_secret_access_key=sk, region_name="us-west-2",
                              config=Config(s3={"addressing_style": "path"}))
        client.create_bucket(Bucket="wal")
        write_file(os.path.join(workdir, "s3.secret"), (sk + "\n").encode(), mode=0o600)
        wal = Wal(workdir, repos="s3, a", extra_repos=("s3",), extra=(
            f"\n[repo s3]\ntype = s3\nendpoint = {endpoint}\nregion = us-west-2\n"
            f"bucket = wal\nprefix = dr\naccess-key-id = {ak}\n"
            f"secret-access-key-file = {os.path.join(workdir, 's3.secret')}\n"))
        data = {}
        for i in (1, 2, 3):
            data[i] = os.urandom(SEG)
            wal.push(wal.segment(seg_name(i), data=data[i]), check=True)
            client.head_object(Bucket="wal", Key=f"dr/objects/wal/c1/{seg_name(i)}")
            assert seg_name(i) in wal.objects(wal.repo_a)
        dest = os.path.join(wal.dir, "RECOVERYXLOG")
        assert wal.fetch(seg_name(1), dest, "--repo", "s3", "--prefetch", "2").returncode == 0
        assert read(dest) == data[1]
        wait_for(lambda: spooled(wal) == {seg_name(2), seg_name(3)}, what="S3 prefetch")
    finally:
        stop()
    # the endpoint is gone
    p = wal.push(wal.segment(seg_name(4)))
    assert p.returncode == 9, p.err
    assert "repository s3" in p.err and "127.0.0.1" in p.err
    os.unlink(dest)
    p = wal.fetch(seg_name(3), dest, "--prefetch", "0")     # from the spool
    assert p.returncode == 0 and read(dest) == data[3], p.err
    os.unlink(dest)
    p = wal.fetch(seg_name(1), dest, "--prefetch", "0")     # s3 first: warning, then a
    assert p.returncode == 0 and read(dest) == data[1], p.err
    assert "repository s3" in p.err and "trying the next repository" in p.err
    os.unlink(dest)
    p = wal.fetch(seg_name(1), dest, "--prefetch", "0", "--repo", "s3")
    assert p.returncode == 9 and not os.path.exists(dest), p.err


# ------------------------------------------------------------ PostgreSQL --

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def as_postgres(args, **kw):
    return subprocess.run(["runuser", "-u", "postgres", "--"] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, **kw)


# radiant_archive.so (archive_library) is built next to the binary, except in
# sanitizer builds: an instrumented library cannot be loaded into postgres.
MODULE = os.path.join(os.path.dirname(BIN), "radiant_archive.so")


def module_for(wal):
    """The module next to the binary postgres runs (a copy when that binary
    is one)."""
    module = os.path.join(os.path.dirname(wal.bin), "radiant_archive.so")
    if not os.path.exists(module):
        shutil.copy2(MODULE, module)
    return module


def archive_settings(wal, way):
    if way == "command":
        return (f"archive_command = '{wal.bin} --config {wal.cfg} wal push "
                "--db-cluster-identifier c1 %p'\n")
    return (f"archive_library = '{module_for(wal)}'\nradiant.config = '{wal.cfg}'\n"
            "radiant.cluster = 'c1'\n")


def start_postgres(wal, settings):
    """initdb and start a server in wal.dir with archive_mode on and the given
    postgresql.conf lines; returns its data directory, port and log path."""
    data = os.path.join(wal.dir, "pgdata")
    port = free_port()
    r = as_postgres([os.path.join(PG_BIN, "initdb"), "-D", data, "-U", "postgres", "-A",
                     "trust", "--no-sync", "-E", "UTF8"])
    assert r.returncode == 0, r.stdout.decode()
    with open(os.path.join(data, "postgresql.conf"), "a") as f:
        f.write(f"\nport = {port}\nlisten_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{wal.dir}'\narchive_mode = on\n" + settings +
                "fsync = off\nshared_buffers = 16MB\n")
    log = os.path.join(wal.dir, "server.log")
    r = as_postgres([os.path.join(PG_BIN, "pg_ctl"), "start", "-w", "-t", "30", "-D", data,
                     "-l", log])
    assert r.returncode == 0, r.stdout.decode() + open(log).read()
    return data, port, log


@pytest.mark.skipif(not os.path.exists(os.path.join(PG_BIN, "initdb")),
                    reason="PostgreSQL 15 is not installed")
@pytest.mark.parametrize("way", ["command", "library"])
def test_postgres_archives_through_radiant(wal, way):
    """The same guarantees through archive_command and through the archive
    module: durable in both repositories, refused and logged when the name
    holds different content, stopped while a repository is unwritable, and
    caught up without a gap."""
    psycopg2 = pytest.importorskip("psycopg2")
    if way == "library" and not os.path.exists(MODULE):
        pytest.skip(f"{MODULE} is not built (sanitizer builds do not build it)")
    data, port, log = start_postgres(wal, archive_settings(wal, way))
    try:
        conn = psycopg2.connect(host=wal.dir, port=port, user="postgres", dbname="postgres")
        conn.autocommit = True
        cur = conn.cursor()

        def q(sql):
            cur.execute(sql)
            return cur.fetchone()

        def switch():
            cur.execute("INSERT INTO t SELECT g, md5(g::text) FROM generate_series(1, 1000) g")
            return q("SELECT pg_walfile_name(pg_switch_wal())")[0]

        def archived():
            return q("SELECT last_archived_wal, failed_count FROM pg_stat_archiver")

        cur.execute("CREATE TABLE t (id int, v text)")
        # a base backup whose WAL comes only from the archive (-X none)
        base = os.path.join(wal.dir, "base")
        r = as_postgres([os.path.join(PG_BIN, "pg_basebackup"), "-h", wal.dir, "-p", str(port),
                         "-U", "postgres", "-D", base, "-X", "none", "-c", "fast"])
        assert r.returncode == 0, r.stdout.decode()
        first = switch()
        wait_for(lambda: (archived()[0] or "") >= first, timeout=20,
                 what=f"{first} archived")
        assert first in wal.objects(wal.repo_a) and first in wal.objects(wal.repo_b)
        assert wal.catalog("SELECT count(*) FROM wal_archive WHERE name=?", first) == [(1,)]

        # repository a unwritable (postgres is not root): archiving stops there
        objects_a = os.path.join(wal.repo_a, "objects")
        failed_before = archived()[1]
        os.chmod(objects_a, 0)
        try:
            blocked = switch()
            wait_for(lambda: archived()[1] > failed_before, timeout=20,
                     what="pg_stat_archiver.failed_count to increase")
            ready = os.path.join(data, "pg_wal", "archive_status", blocked + ".ready")
            assert os.path.exists(ready), os.listdir(os.path.dirname(ready))
            assert (archived()[0] or "") < blocked
        finally:
            os.chmod(objects_a, 0o755)
        # writable again: the archiver, woken by the next switch, catches up
        last = switch()
        wait_for(lambda: (archived()[0] or "") >= last, timeout=30,
                 what=f"archiving to catch up to {last}")
        assert not os.path.exists(ready)

        # a different segment already stored under the next name: refused
        # and left in pg_wal, never overwritten
        clash = next_seg(last)
        wal.push(wal.segment(clash), check=True)
        stored = read(os.path.join(wal.repo_a, "objects", "wal", "c1", clash))
        failed_before = archived()[1]
        assert switch() == clash
        wait_for(lambda: archived()[1] > failed_before, timeout=20,
                 what="pg_stat_archiver.failed_count to increase")
        assert os.path.exists(os.path.join(data, "pg_wal", "archive_status", clash + ".ready"))
        assert read(os.path.join(wal.repo_a, "objects", "wal", "c1", clash)) == stored
        events = wal.catalog("SELECT message FROM events WHERE category='failure'")
        assert any(clash in m and "different content" in m for (m,) in events), events
        # the operator removes the stray copies: archiving goes on
        for repo in (wal.repo_a, wal.repo_b):
            os.unlink(os.path.join(repo, "objects", "wal", "c1", clash))
        last = switch()
        wait_for(lambda: (archived()[0] or "") >= last, timeout=30,
                 what=f"archiving to catch up to {last}")
        conn.close()
    finally:
        as_postgres([os.path.join(PG_BIN, "pg_ctl"), "stop", "-D", data, "-m", "fast", "-w"])

    with open(log) as f:
        server_log = f.read()
    if way == "command":
        assert "archive command failed" in server_log
    else:
        assert f'radiant: archiving "{blocked}" failed' in server_log, server_log[-3000:]
    assert "refusing to overwrite" in server_log, server_log[-3000:]
    check_no_gap(wal, first, last)

    # restore_command: the base backup replays every archived segment through
    # `radiant wal fetch` (prefetching), ends recovery when fetch answers 4,
    # and the new timeline's history file is archived and fetched back.
    port = free_port()
    with open(os.path.join(base, "postgresql.conf"), "a") as f:
        f.write(f"\nport = {port}\n"
                f"restore_command = '{wal.bin} --config {wal.cfg} wal fetch "
                "--db-cluster-identifier c1 %f %p'\n")
    write_file(os.path.join(base, "recovery.signal"), b"")
    chown_tree(base)
    os.chmod(base, 0o700)
    log2 = os.path.join(wal.dir, "restored.log")
    r = as_postgres([os.path.join(PG_BIN, "pg_ctl"), "start", "-w", "-t", "30", "-D", base,
                     "-l", log2])
    assert r.returncode == 0, r.stdout.decode() + open(log2).read()
    try:
        conn = psycopg2.connect(host=wal.dir, port=port, user="postgres", dbname="postgres")
        conn.autocommit = True
        cur = conn.cursor()
        wait_for(lambda: (cur.execute("SELECT pg_is_in_recovery()") or cur.fetchone())[0]
                 is False, timeout=30, what="recovery to end")
        cur.execute("SELECT count(*) FROM t")
        assert cur.fetchone()[0] == 5000      # five switches of 1000 rows
        conn.close()
        wait_for(lambda: "00000002.history" in wal.objects(wal.repo_b), timeout=20,
                 what="00000002.history archived")
    finally:
        as_postgres([os.path.join(PG_BIN, "pg_ctl"), "stop", "-D", base, "-m", "fast", "-w"])
    with open(log2) as f:
        restored_log = f.read()
    assert f'restored log file "{last}" from archive' in restored_log, restored_log[-3000:]
    assert "archive recovery complete" in restored_log
    assert "radiant:" not in restored_log, "fetch printed errors during recovery"
    assert "00000002.history" in wal.objects(wal.repo_a)
    dest = os.path.join(wal.dir, "history")
    assert wal.fetch("00000002.history", dest).returncode == 0
    assert read(dest) == read(os.path.join(base, "pg_wal", "00000002.history"))


def check_no_gap(wal, first, last):
    for repo in (wal.repo_a, wal.repo_b):
        segs = sorted(n for n in wal.objects(repo) if len(n) == 24)
        assert segs and segs[0] <= first and segs[-1] >= last, segs
        n = segs[0]
        while n < segs[-1]:
            n = next_seg(n)
            assert n in segs, f"gap in {repo}: {n} missing between {segs[0]} and {segs[-1]}"


@pytest.mark.skipif(not os.path.exists(os.path.join(PG_BIN, "initdb")),
                    reason="PostgreSQL 15 is not installed")
def test_archive_module_settings_errors(wal):
    """The archive module, misconfigured: unset radiant.cluster, a missing
    configuration file and an invalid identifier are each one clear WARNING
    in the server log, and the segment waits in pg_wal until the settings are
    fixed; then it is archived."""
    psycopg2 = pytest.importorskip("psycopg2")
    if not os.path.exists(MODULE):
        pytest.skip(f"{MODULE} is not built (sanitizer builds do not build it)")
    module = module_for(wal)
    data, port, log = start_postgres(wal, f"archive_library = '{module}'\n")

    def server_log():
        with open(log) as f:
            return f.read()

    try:
        conn = psycopg2.connect(host=wal.dir, port=port, user="postgres", dbname="postgres")
        conn.autocommit = True
        cur = conn.cursor()

        def settings(**values):
            cur.execute(f"LOAD '{module}'")
            for name, value in values.items():
                cur.execute(f"ALTER SYSTEM SET radiant.{name} = %s", (value,))
            cur.execute("SELECT pg_reload_conf()")

        cur.execute("SELECT pg_walfile_name(pg_switch_wal())")
        seg = cur.fetchone()[0]
        wait_for(lambda: "radiant.config and radiant.cluster must be set" in server_log(),
                 timeout=20, what="the not-configured warning")
        ready = os.path.join(data, "pg_wal", "archive_status", seg + ".ready")
        assert os.path.exists(ready)

        missing = os.path.join(wal.dir, "no-such.conf")
        settings(cluster="c1", config=missing)
        wait_for(lambda: f'archiving "{seg}" failed: radiant.config: cannot read {missing}'
                 in server_log(), timeout=20, what="the missing-configuration warning")
        settings(cluster="Not_An_Id", config=wal.cfg)
        wait_for(lambda: f'archiving "{seg}" failed: radiant.cluster \'Not_An_Id\' may '
                 "contain only" in server_log(), timeout=20, what="the bad-identifier warning")
        assert os.path.exists(ready) and seg not in wal.objects(wal.repo_a)

        settings(cluster="c1")
        wait_for(lambda: seg in wal.objects(wal.repo_a) and seg in wal.objects(wal.repo_b),
                 timeout=30, what=f"{seg} archived once the settings are right")
        wait_for(lambda: not os.path.exists(ready), what=f"{seg} marked done")
        conn.close()
    finally:
        as_postgres([os.path.join(PG_BIN, "pg_ctl"), "stop", "-D", data, "-m", "fast", "-w"])
    assert "radiant: archiving" in server_log()


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(os.path.join(PG_BIN, "initdb")),
                    reason="PostgreSQL 15 is not installed")
def test_kill_archiver_during_module_push(wal):
    """kill -9 of the archiver while the module pushes (PostgreSQL then
    restarts every process of the server): no half segment is ever visible,
    the catalog never records a segment the repositories lack, and after the
    restarts archiving completes without a gap."""
    import random
    psycopg2 = pytest.importorskip("psycopg2")
    if not os.path.exists(MODULE):
        pytest.skip(f"{MODULE} is not built (sanitizer builds do not build it)")
    data, port, log = start_postgres(wal, archive_settings(wal, "library"))
    rnd = random.Random(7)
    READY = "database system is ready to accept connections"

    def server_log():
        with open(log) as f:
            return f.read()

    def connect():
        conn = psycopg2.connect(host=wal.dir, port=port, user="postgres", dbname="postgres")
        conn.autocommit = True
        return conn

    def archiver_pid():
        # A new connection each time: it wakes the postmaster, which starts
        # an archiver only when woken, and at most every 10 s.
        with connect() as c, c.cursor() as cur:
            cur.execute("SELECT pid FROM pg_stat_activity WHERE backend_type = 'archiver'")
            row = cur.fetchone()
        c.close()
        return row[0] if row else None

    try:
        conn = connect()
        cur = conn.cursor()
        # incompressible rows, so that each push takes a while
        cur.execute("CREATE TABLE t (v bytea)")
        cur.execute("SELECT pg_walfile_name(pg_current_wal_lsn())")
        first = cur.fetchone()[0]
        killed = 0
        for _ in range(2):
            cur.execute("INSERT INTO t SELECT gen_random_uuid()::text::bytea || "
                        "decode(repeat(md5(random()::text), 64), 'hex') "
                        "FROM generate_series(1, 40000)")
            cur.execute("SELECT pg_switch_wal()")
            pid = None
            deadline = time.time() + 30
            while pid is None:
                assert time.time() < deadline, "no archiver within 30 s"
                time.sleep(0.2)
                pid = archiver_pid()
            time.sleep(rnd.uniform(0.0, 0.05))
            os.kill(pid, signal.SIGKILL)
            killed += 1
            conn.close()
            # the postmaster restarts the whole server after a crash
            wait_for(lambda: server_log().count(READY) == 1 + killed, timeout=60,
                     what="the server to restart")
            conn = connect()
            cur = conn.cursor()
            names = [n for (n,) in wal.catalog("SELECT name FROM wal_archive")]
            for name in names:
                for repo in (wal.repo_a, wal.repo_b):
                    assert name in wal.objects(repo), f"catalog claims {name}, {repo} lacks it"
        cur.execute("SELECT pg_walfile_name(pg_switch_wal())")
        last = cur.fetchone()[0]
        ready = os.path.join(data, "pg_wal", "archive_status")
        try:
            wait_for(lambda: archiver_pid() and
                     not any(f.endswith(".ready") for f in os.listdir(ready)),
                     timeout=60, what=f"archiving to catch up to {last}")
        except AssertionError as e:
            raise AssertionError(f"{e}; {sorted(os.listdir(ready))}\n{server_log()[-4000:]}")
        conn.close()
    finally:
        as_postgres([os.path.join(PG_BIN, "pg_ctl"), "stop", "-D", data, "-m", "fast", "-w"])
    assert killed == 2
    assert server_log().count("archiver process (PID") == 2
    check_no_gap(wal, first, last)
    dest = os.path.join(wal.dir, "fetched")
    for name in sorted(n for n in wal.objects(wal.repo_b) if len(n) == 24):
        p = wal.fetch(name, dest, "--prefetch", "0", "--repo", "b")
        assert p.returncode == 0, p.err          # whole and sound (checksums)
        assert os.path.getsize(dest) == SEG
        os.unlink(dest)
