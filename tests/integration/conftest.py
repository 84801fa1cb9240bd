"""Shared fixtures for the integration tests of `radiant repo` (docs/cli.md).

Everything runs the real binary (RADIANT_BIN, default <repo>/build/radiant) on
real files in temporary directories that are removed afterwards; nothing is
mocked. Run with Debian's interpreter: /usr/bin/python3 -m pytest tests/integration
(add -m "not slow" for the quick pass).
"""
import hashlib
import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
BIN = os.path.abspath(os.environ.get("RADIANT_BIN", os.path.join(ROOT, "build", "radiant")))

MiB = 1 << 20
GiB = 1 << 30

# Exit codes of docs/cli.md.
EXIT_OK, EXIT_INTERNAL, EXIT_USAGE, EXIT_CONFIG, EXIT_NOT_FOUND, EXIT_IO = 0, 1, 2, 3, 4, 5
EXIT_CORRUPT, EXIT_PASSPHRASE, EXIT_LOCKED, EXIT_NETWORK, EXIT_EXISTS = 6, 7, 8, 9, 10
ERROR_CODES = {1: "internal", 2: "usage", 3: "config", 4: "not-found", 5: "io", 6: "corrupt",
               7: "wrong-passphrase", 8: "locked", 9: "network", 10: "exists"}

# Generous per-command limit: the slow tests move gigabytes, and under ASan
# everything is several times slower.
DEFAULT_TIMEOUT = 900


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: multi-gigabyte or long-running test; the ASan pass skips them")


def asan_env(env):
    """LD_PRELOAD next to an ASan runtime needs the link-order check off."""
    opts = env.get("ASAN_OPTIONS", os.environ.get("ASAN_OPTIONS", ""))
    if "verify_asan_link_order" not in opts:
        env["ASAN_OPTIONS"] = (opts + ":" if opts else "") + "verify_asan_link_order=0"
    return env


# ------------------------------------------------------------------ temp dirs --

def _rmtree(path):
    def onerror(func, p, exc):
        # chmod 000 files and dirs left by the permission tests
        try:
            os.chmod(os.path.dirname(p), 0o755)
            os.chmod(p, 0o755)
        except OSError:
            pass
        try:
            if os.path.isdir(p) and not os.path.islink(p):
                shutil.rmtree(p, ignore_errors=True)
            else:
                os.unlink(p)
        except OSError:
            pass
    shutil.rmtree(path, onerror=onerror)


# Unlinking is slow on this file system (mounted with discard): work dirs are
# removed by background threads while the next tests run, all joined at the
# end of the session.
_cleanups = []


def _remove_later(d):
    t = threading.Thread(target=_rmtree, args=(d,), daemon=True)
    t.start()
    _cleanups.append(t)


def pytest_sessionfinish(session, exitstatus):
    for t in _cleanups:
        t.join()


@pytest.fixture
def workdir():
    """A fresh directory under /tmp, removed after the test."""
    d = tempfile.mkdtemp(prefix="radiant-it-")
    try:
        yield d
    finally:
        _remove_later(d)


def require_free(path, nbytes):
    free = shutil.disk_usage(path).free
    if free < nbytes:
        pytest.skip(f"needs {nbytes >> 20} MiB free in {path}, has {free >> 20} MiB")


# --------------------------------------------------------------- processes --

class Procs:
    """Processes a test started; every one still alive is killed by pid."""

    def __init__(self):
        self.procs = []

    def add(self, p):
        self.procs.append(p)
        return p

    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.kill(p.pid, signal.SIGCONT)
                    os.kill(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass
            for f in (p.stdout, p.stderr, p.stdin):
                if f:
                    f.close()


@pytest.fixture
def procs():
    ps = Procs()
    try:
        yield ps
    finally:
        ps.cleanup()


def wait_stopped(pid, timeout=60):
    """Waits until a process is stopped (state T) or gone; True when stopped."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                data = f.read()
        except FileNotFoundError:
            return False
        state = data.rsplit(")", 1)[1].split()[0]
        if state in ("T", "t"):
            return True
        if state in ("Z", "X"):
            return False
        time.sleep(0.02)
    raise AssertionError(f"process {pid} did not stop within {timeout}s")


# ------------------------------------------------------------------ radiant --

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z (DEBUG|INFO|WARN|ERROR) ")


def parse_error_line(stderr, rc, allow_log=False):
    """The contract: on failure stderr is one line, a JSON error object.
    allow_log: log lines before it are tolerated (see the test using it)."""
    lines = [l for l in stderr.splitlines() if l.strip()]
    if allow_log:
        assert lines and all(LOG_LINE.match(l) for l in lines[:-1]), stderr[-3000:]
        lines = lines[-1:]
    assert len(lines) == 1, f"expected one stderr line on failure (exit {rc}), got:\n{stderr}"
    try:
        doc = json.loads(lines[0])
    except ValueError:
        raise AssertionError(f"stderr error line is not JSON: {lines[0]!r}")
    err = doc.get("error")
    assert isinstance(err, dict), f"no 'error' object in {lines[0]!r}"
    assert err.get("exit") == rc, f"error.exit {err.get('exit')} != exit status {rc}"
    assert isinstance(err.get("message"), str) and err["message"], lines[0]
    if rc in ERROR_CODES:
        assert err.get("code") == ERROR_CODES[rc], f"code for exit {rc}: {lines[0]!r}"
    return err


class Radiant:
    """One radiant configuration: a state dir and a [repo NAME] in a work dir."""

    def __init__(self, workdir, name="local", encrypted=False, passphrase="correct horse",
                 repo_path=None, extra_repo_keys=None, binary=None):
        self.workdir = workdir
        self.name = name
        self.bin = binary or BIN
        self.repo_path = repo_path or os.path.join(workdir, "repo")
        self.state_dir = os.path.join(workdir, "state")
        self.cfg = os.path.join(workdir, "radiant.conf")
        self.passfile = os.path.join(workdir, "repo.pass") if encrypted else None
        self.encrypted = encrypted
        if encrypted:
            write_file(self.passfile, passphrase.encode() + b"\n", mode=0o600)
        lines = ["[radiant]", f"state-dir = {self.state_dir}", "",
                 f"[repo {name}]", "type = posix", f"path = {self.repo_path}"]
        if encrypted:
            lines.append(f"passphrase-file = {self.passfile}")
        for k, v in (extra_repo_keys or {}).items():
            lines.append(f"{k} = {v}")
        write_file(self.cfg, ("\n".join(lines) + "\n").encode())

    # -- running ---------------------------------------------------------------
    def argv(self, args):
        return [self.bin, "--config", self.cfg, "--output", "json"] + list(args)

    def run(self, args, ok=True, expect_exit=None, input=None, env=None, timeout=DEFAULT_TIMEOUT,
            prefix=(), json_on_failure=False, allow_log=False):
        """Runs radiant; returns (exit code, parsed JSON stdout or None, stderr).

        ok=True requires exit 0, ok=False a failure, ok=None anything;
        expect_exit requires that exit code. Any
        failure must print nothing on stdout and one JSON error line on stderr,
        except with json_on_failure (repo check documents its JSON report
        together with exit 6): then stdout is the report and stderr is empty or
        the one error line."""
        full_env = dict(os.environ)
        full_env.pop("RADIANT_CONFIG", None)
        if env:
            full_env.update(env)
        cmd = list(prefix) + self.argv(args)
        p = subprocess.run(cmd, input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=full_env, timeout=timeout)
        rc = p.returncode
        out = p.stdout.decode("utf-8", "replace")
        err = p.stderr.decode("utf-8", "replace")
        what = f"radiant {' '.join(map(str, args))}"
        if expect_exit is not None:
            assert rc == expect_exit, f"{what}: exit {rc}, expected {expect_exit}\n" \
                                      f"stdout: {out[:2000]}\nstderr: {err[:2000]}"
        elif ok:
            assert rc == 0, f"{what}: exit {rc}\nstdout: {out[:2000]}\nstderr: {err[:2000]}"
        elif ok is False:
            assert rc != 0, f"{what}: succeeded but should have failed\nstdout: {out[:2000]}"
        assert rc >= 0, f"{what}: killed by signal {-rc}\nstderr: {err[-3000:]}"
        doc = None
        if rc == 0:
            if out.strip():
                try:
                    doc = json.loads(out)
                except ValueError:
                    raise AssertionError(f"{what}: stdout is not one JSON document:\n{out[:2000]}")
        elif json_on_failure:
            try:
                doc = json.loads(out)
            except ValueError:
                raise AssertionError(f"{what}: exit {rc} without a JSON report on stdout:\n"
                                     f"stdout: {out[:2000]}\nstderr: {err[:2000]}")
            if err.strip():
                parse_error_line(err, rc)
        else:
            assert out == "", f"{what}: failed (exit {rc}) but printed on stdout:\n{out[:2000]}"
            parse_error_line(err, rc, allow_log)
        return rc, doc, err

    def repo(self, command, *args, **kw):
        return self.run(["repo", command, "--repo", self.name] + [str(a) for a in args], **kw)

    def popen(self, args, env=None, preload=None, **kw):
        full_env = dict(os.environ)
        full_env.pop("RADIANT_CONFIG", None)
        if env:
            full_env.update(env)
        if preload:
            full_env["LD_PRELOAD"] = preload
            asan_env(full_env)
        return subprocess.Popen(self.argv(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=full_env, **kw)

    def repo_popen(self, command, *args, **kw):
        return self.popen(["repo", command, "--repo", self.name] + [str(a) for a in args], **kw)

    # -- shortcuts ----------------------------------------------------------------
    def init(self):
        _, doc, _ = self.repo("init")
        return doc["repo"]

    def backup(self, path, *extra, **kw):
        _, doc, _ = self.repo("backup-dir", "--path", path, *extra, **kw)
        return doc["backup"]

    def restore(self, backup_id, target, *extra, **kw):
        rc, doc, err = self.repo("restore-dir", "--backup", backup_id, "--target", target,
                                 *extra, **kw)
        return doc["restore"] if doc else None

    def list(self):
        return self.repo("list")[1]["backups"]

    def check(self, *extra, **kw):
        kw.setdefault("json_on_failure", True)
        return self.repo("check", *extra, **kw)

    def stats(self):
        return self.repo("stats")[1]["stats"]


@pytest.fixture(scope="session")
def radiant_bin():
    if not os.access(BIN, os.X_OK):
        pytest.fail(f"radiant binary {BIN} not found; build it or set RADIANT_BIN")
    return BIN


@pytest.fixture
def rad(workdir, radiant_bin):
    """A configuration with an initialised, unencrypted repository."""
    r = Radiant(workdir)
    r.init()
    return r


@pytest.fixture
def rad_enc(workdir, radiant_bin):
    """A configuration with an initialised repository encrypted by a passphrase file."""
    r = Radiant(workdir, encrypted=True)
    r.init()
    return r


@pytest.fixture
def run(rad):
    """run(args, ok=True, expect_exit=None, input=None) against the `rad` config."""
    return rad.run


# ---------------------------------------------------------------- crash shim --

@pytest.fixture(scope="session")
def crashshim():
    """Compiles tests/integration/crashshim.c into a temp dir; returns the .so path."""
    d = tempfile.mkdtemp(prefix="radiant-shim-")
    so = os.path.join(d, "crashshim.so")
    cc = shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler for the crash shim")
    subprocess.run([cc, "-O1", "-Wall", "-shared", "-fPIC", "-o", so,
                    os.path.join(HERE, "crashshim.c"), "-ldl"], check=True)
    try:
        yield so
    finally:
        shutil.rmtree(d, ignore_errors=True)


def read_call_log(path):
    """Parses a CRASH_COUNT_FILE: list of (kind, n, path) in call order."""
    calls = []
    if not os.path.exists(path):
        return calls
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            kind, n, p = line.split(" ", 2)
            calls.append((kind, int(n), p))
    return calls


# -------------------------------------------------------------------- files --

def unique_prefix(backup_id, all_ids):
    """The shortest prefix of backup_id that no other id starts with."""
    for n in range(1, len(backup_id) + 1):
        p = backup_id[:n]
        if not any(o != backup_id and o.startswith(p) for o in all_ids):
            return p
    return backup_id


def write_file(path, data, mode=None, mtime=None):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    if mode is not None:
        os.chmod(path, mode)
    if mtime is not None:
        os.utime(path, (mtime, mtime))


def write_random_file(path, size, block=8 * MiB):
    """Incompressible content, written in blocks (memory stays bounded)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left > 0:
            n = min(block, left)
            f.write(os.urandom(n))
            left -= n


def write_big_file(path, size, block=64 * MiB):
    """A large file generated fast: one random block written repeatedly, each
    copy perturbed at a few random places (so the content is not all one
    chunk repeated, yet cheap to produce)."""
    base = bytearray(os.urandom(block))
    rnd = random.Random(size)
    with open(path, "wb") as f:
        left = size
        i = 0
        while left > 0:
            n = min(block, left)
            buf = bytearray(base[:n])
            # a fresh 64 KiB random region every 1 MiB: every chunk is unique
            for off in range(0, n, MiB):
                pos = off + rnd.randrange(0, max(1, min(MiB, n - off) - 65536))
                buf[pos:pos + 65536] = os.urandom(min(65536, n - pos))
            buf[:16] = i.to_bytes(16, "little")
            f.write(buf)
            left -= n
            i += 1


def make_small_files(root, count, min_size=0, max_size=4096, seed=1, per_dir=100):
    """`count` small random files spread over directories of `per_dir` files."""
    rnd = random.Random(seed)
    total = 0
    for i in range(count):
        d = os.path.join(root, f"d{i // per_dir:04d}")
        if i % per_dir == 0:
            os.makedirs(d, exist_ok=True)
        size = rnd.randint(min_size, max_size)
        with open(os.path.join(d, f"f{i:06d}.bin"), "wb") as f:
            f.write(rnd.randbytes(size))
        total += size
    return total


def overwrite_regions(paths, count, region=MiB, seed=7):
    """Overwrites `count` random regions of `region` bytes in random files."""
    rnd = random.Random(seed)
    for _ in range(count):
        p = rnd.choice(paths)
        size = os.path.getsize(p)
        off = rnd.randrange(0, max(1, size - region))
        with open(p, "r+b") as f:
            f.seek(off)
            f.write(os.urandom(min(region, size)))


# ------------------------------------------------------------------- digests --

def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(4 * MiB)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def tree_digest(root, mtimes=True):
    """Every entry under root (root itself excluded), keyed by relative path:
    (type, mode bits, size, sha256, symlink target, mtime in seconds).
    Directory sizes are filesystem details and are left out."""
    out = {}
    root = os.fspath(root)
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, root)
            st = os.lstat(full)
            mode = stat.S_IMODE(st.st_mode)
            mt = int(st.st_mtime) if mtimes else None
            if stat.S_ISLNK(st.st_mode):
                out[rel] = ("symlink", mode, None, None, os.readlink(full), mt)
            elif stat.S_ISDIR(st.st_mode):
                out[rel] = ("dir", mode, None, None, None, mt)
            elif stat.S_ISREG(st.st_mode):
                out[rel] = ("file", mode, st.st_size, file_sha256(full), None, mt)
            else:
                out[rel] = ("other", mode, None, None, None, mt)
        # os.walk lists symlinks to directories among dirnames; don't descend
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))]
    return out


FIELDS = ("type", "mode", "size", "sha256", "link", "mtime")


def diff_digests(a, b, limit=20):
    """Human-readable differences between two tree digests ([] when equal)."""
    diffs = []
    for rel in sorted(set(a) | set(b)):
        if rel not in b:
            diffs.append(f"missing in restore: {rel!r}")
        elif rel not in a:
            diffs.append(f"extra in restore: {rel!r}")
        elif a[rel] != b[rel]:
            parts = [f"{f}: {x!r} != {y!r}" for f, x, y in zip(FIELDS, a[rel], b[rel]) if x != y]
            diffs.append(f"{rel!r}: " + ", ".join(parts))
        if len(diffs) >= limit:
            diffs.append("...")
            break
    return diffs


def assert_same_tree(expected, actual_root_or_digest):
    actual = actual_root_or_digest
    if not isinstance(actual, dict):
        actual = tree_digest(actual)
    diffs = diff_digests(expected, actual)
    assert not diffs, "restored tree differs:\n  " + "\n  ".join(diffs)


def dir_listing(root, with_dirs=True, with_hash=False):
    """relpath -> (type, size, mtime_ns[, sha256]) of everything under root."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        names = (dirnames if with_dirs else []) + filenames
        for name in names:
            full = os.path.join(dirpath, name)
            st = os.lstat(full)
            kind = "dir" if stat.S_ISDIR(st.st_mode) else "file"
            size = None if kind == "dir" else st.st_size
            entry = (kind, size, st.st_mtime_ns)
            if with_hash and kind == "file":
                entry += (file_sha256(full),)
            out[os.path.relpath(full, root)] = entry
    if with_dirs:
        out["."] = ("dir", None, os.lstat(root).st_mtime_ns)
    return out


def repo_files(repo, sub):
    """Relative paths of the regular files under repo/sub (no temp files)."""
    base = os.path.join(repo, sub)
    out = []
    for dirpath, _, filenames in os.walk(base):
        for n in filenames:
            out.append(os.path.relpath(os.path.join(dirpath, n), repo))
    return sorted(out)


def check_restore_partial_ok(expected_root, restored_root):
    """After a failed restore: every file present must be identical to the
    original or a strict prefix of it (partial); nothing may have wrong bytes."""
    bad = []
    for dirpath, _, filenames in os.walk(restored_root):
        for n in filenames:
            full = os.path.join(dirpath, n)
            rel = os.path.relpath(full, restored_root)
            orig = os.path.join(expected_root, rel)
            if os.path.islink(full):
                continue
            if not os.path.exists(orig):
                # a temporary file of the restore is fine if it holds no wrong data
                # under a real name; names not in the source are reported
                bad.append(f"{rel!r}: not in the source")
                continue
            with open(full, "rb") as f1, open(orig, "rb") as f2:
                got = f1.read()
                want = f2.read(len(got) + 1)
            if got != want[:len(got)] or len(got) > len(want):
                bad.append(f"{rel!r}: content differs from the source ({len(got)} bytes)")
    return bad


# ------------------------------------------------------------- special tree --

OLD = 1_000_000_000          # 2001-09-09, a fixed mtime restores must reproduce


def make_special_tree(root, marker=b""):
    """Names with spaces, newlines and UTF-8; unusual modes; symlinks (relative,
    absolute, to a directory, dangling); empty files and empty directories;
    explicit old mtimes. Returns root."""
    os.makedirs(root, exist_ok=True)
    j = lambda *p: os.path.join(root, *p)
    write_file(j("plain.txt"), b"hello radiant\n" + marker)
    write_file(j("with space", "file name with spaces.txt"), b"spaces\n" * 100)
    write_file(j("new\nline"), b"a name with a newline\n")
    write_file(j("tab\tand\\backslash"), b"tab\n")
    write_file(j("ünïcödé", "日本語ファイル.txt"), "こんにちは\n".encode() * 50)
    write_file(j("emoji-😀.bin"), os.urandom(3000))
    write_file(j("empty.bin"), b"")
    write_file(j("-leading-dash"), b"dash\n")
    write_file(j(".hidden"), b"hidden\n")
    write_file(j("random-1m.bin"), os.urandom(MiB) + marker)
    os.makedirs(j("empty-dir"))
    os.makedirs(j("nested", "empty", "deeper"))
    write_file(j("modes", "secret-0600"), b"secret\n", mode=0o600)
    write_file(j("modes", "script-0755"), b"#!/bin/sh\necho hi\n", mode=0o755)
    write_file(j("modes", "readonly-0444"), b"ro\n", mode=0o444)
    write_file(j("modes", "none-0000"), b"none\n", mode=0o000)
    write_file(j("modes", "setuid-4755"), b"suid\n", mode=0o4755)
    os.makedirs(j("modes", "setgid-dir"))
    write_file(j("modes", "setgid-dir", "inside"), b"inside a setgid dir\n")
    os.chmod(j("modes", "setgid-dir"), 0o2775)
    os.makedirs(j("modes", "sticky-dir"))
    os.chmod(j("modes", "sticky-dir"), 0o1777)
    os.makedirs(j("modes", "private-0700"))
    os.chmod(j("modes", "private-0700"), 0o700)
    os.symlink("plain.txt", j("link-to-plain"))
    os.symlink("with space", j("link-to-dir"))
    os.symlink("/etc/hostname", j("link-absolute"))
    os.symlink("does/not/exist", j("dangling"))
    os.symlink("ünïcödé/日本語ファイル.txt", j("link with space → ü"))
    os.symlink("../plain.txt", j("nested", "link-up"))
    # mtimes last, deepest first, so creating children does not change them
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            entries.append(os.path.join(dirpath, n))
    for i, p in enumerate(sorted(entries, key=lambda p: -p.count(os.sep))):
        t = OLD + i * 3600
        os.utime(p, (t, t), follow_symlinks=False)
    return root
