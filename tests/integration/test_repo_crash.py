"""Crash safety (DESIGN.md section 3: "a crash at any point leaves a consistent
repository"). radiant is killed with SIGKILL at exact I/O calls (through the
LD_PRELOAD shim crashshim.c: the Nth write, fsync, rename or unlink under the
repository) during `repo backup-dir` and `repo prune`, and at random moments
of a larger backup. After every kill: `repo check` passes, every earlier backup
restores byte-identical, a backup that shows up in `repo list` is complete, and
the next backup (or prune) succeeds."""
import json
import os
import random
import shutil
import signal
import time

import pytest

from conftest import (MiB, assert_same_tree, asan_env, make_small_files, make_special_tree,
                      read_call_log, tree_digest, write_file, write_random_file)

CATEGORIES = ("data", "index", "snapshots")
KINDS = ("write", "fsync", "rename", "unlink")


class Template:
    """A saved copy of the repository and state dir that every crash point
    starts from, so each point sees exactly the same repository."""

    def __init__(self, rad, workdir):
        self.rad = rad
        self.dir = os.path.join(workdir, "template")

    def save(self):
        shutil.rmtree(self.dir, ignore_errors=True)
        os.makedirs(self.dir)
        shutil.copytree(self.rad.repo_path, os.path.join(self.dir, "repo"), symlinks=True)
        if os.path.isdir(self.rad.state_dir):
            shutil.copytree(self.rad.state_dir, os.path.join(self.dir, "state"), symlinks=True)

    def reset(self):
        for live, saved in ((self.rad.repo_path, "repo"), (self.rad.state_dir, "state")):
            shutil.rmtree(live, ignore_errors=True)
            if os.path.isdir(os.path.join(self.dir, saved)):
                shutil.copytree(os.path.join(self.dir, saved), live, symlinks=True)


def category(repo, path):
    real = os.path.realpath(repo)
    rel = os.path.relpath(path, real)
    return rel.split(os.sep, 1)[0]


def shim_env(rad, so, log, crash_at=None, partial=False):
    env = {"LD_PRELOAD": so, "CRASH_PREFIX": os.path.realpath(rad.repo_path) + "/",
           "CRASH_COUNT_FILE": log}
    if crash_at:
        env["CRASH_AT"] = crash_at
    if partial:
        env["CRASH_PARTIAL"] = "1"
    return asan_env(env)


def run_with_shim(rad, procs, args, env, timeout=600):
    p = procs.add(rad.popen(args, env=env))
    try:
        out, err = p.communicate(timeout=timeout)
    except Exception:
        os.kill(p.pid, signal.SIGKILL)
        raise
    return p.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def choose_points(repo, calls, target):
    """Crash points spread over the whole run: for every file kind the
    repository writes (packs, indexes, manifests) and every call kind, the
    first and last such call, then evenly spaced calls over the whole
    sequence until `target` points. Returns [(kind, n, path)]; every call
    when there are not many more than `target`."""
    if len(calls) <= target * 3 // 2:
        return list(calls)
    chosen = {}
    for cat in CATEGORIES:
        for kind in KINDS:
            sel = [c for c in calls if c[0] == kind and category(repo, c[2]) == cat]
            mid = sel[len(sel) // 2:len(sel) // 2 + 1] if cat == "data" else []
            for c in sel[:1] + mid + sel[-1:]:
                chosen[(c[0], c[1])] = c
    step = max(1, len(calls) // max(1, target - len(chosen)))
    i = 0
    while len(chosen) < target and i < len(calls):
        c = calls[i]
        chosen.setdefault((c[0], c[1]), c)
        i += step
    order = {(c[0], c[1]): i for i, c in enumerate(calls)}
    return sorted(chosen.values(), key=lambda c: order[(c[0], c[1])])


def restore_and_compare(rad, workdir, backup_id, digest, name="verify"):
    target = os.path.join(workdir, name)
    shutil.rmtree(target, ignore_errors=True)
    rad.restore(backup_id, target)
    assert_same_tree(digest, target)
    shutil.rmtree(target)


def verify_after_crash(rad, workdir, earlier, new_digest, what):
    """earlier: {backup id: digest}. The crashed operation's backup, if listed,
    must be complete (restore equal to new_digest)."""
    rc, doc, err = rad.check()
    assert doc["check"]["ok"] is True, f"{what}: check not ok: {doc}"
    ids = [b["id"] for b in rad.list()]
    for bid, digest in earlier.items():
        assert bid in ids, f"{what}: earlier backup {bid} vanished from repo list"
        restore_and_compare(rad, workdir, bid, digest)
    extra = [i for i in ids if i not in earlier]
    for bid in extra:
        assert new_digest is not None, f"{what}: unexpected backup {bid} after the crash"
        restore_and_compare(rad, workdir, bid, new_digest)
    return extra


# ------------------------------------------------------------------ backup --

def _backup_crash(rad, workdir, procs, crashshim, target_points, scale):
    src0 = os.path.join(workdir, "src0")
    make_small_files(os.path.join(src0, "small"), 60 * scale, max_size=2000, seed=3)
    write_random_file(os.path.join(src0, "a.bin"), 1 * MiB * scale)
    src1 = os.path.join(workdir, "src1")
    make_special_tree(src1)
    write_random_file(os.path.join(src1, "b.bin"), 2 * MiB * scale)
    d0, d1 = tree_digest(src0), tree_digest(src1)
    b0 = rad.backup(src0)
    b1 = rad.backup(src1)
    earlier = {b0["id"]: d0, b1["id"]: d1}

    # the backup that gets killed: partly known data, partly new
    src2 = os.path.join(workdir, "src2")
    shutil.copytree(src0, os.path.join(src2, "old"), symlinks=True)
    make_small_files(os.path.join(src2, "small-new"), 40 * scale, max_size=3000, seed=4)
    # more than one pack's worth of new data (packs are about 16 MiB)
    for i in range(2):
        write_random_file(os.path.join(src2, f"new{i}.bin"), 9 * MiB * scale + i * 12345)
    d2 = tree_digest(src2)

    tpl = Template(rad, workdir)
    tpl.save()
    log = os.path.join(workdir, "calls.log")
    args = ["repo", "backup-dir", "--repo", rad.name, "--path", src2, "--threads", "1"]
    rc, out, err = run_with_shim(rad, procs, args, shim_env(rad, crashshim, log))
    assert rc == 0, f"counting run failed: {err}"
    calls = read_call_log(log)
    cats = {category(rad.repo_path, c[2]) for c in calls}
    for cat in CATEGORIES:
        assert cat in cats, f"the backup wrote nothing under {cat}/: {sorted(cats)}"

    points = choose_points(rad.repo_path, calls, target_points)
    # torn writes inside packs and manifests as well
    torn = []
    for cat in CATEGORIES:
        torn += [c for c in calls if c[0] == "write" and category(rad.repo_path, c[2]) == cat][:1]
    plan = [(c, False) for c in points] + [(c, True) for c in torn]
    assert len(plan) >= 20

    print(f"\nbackup-dir: {len(calls)} calls, {len(plan)} crash points:",
          ", ".join(f"{k}:{n}/{category(rad.repo_path, p)}{'/torn' if t else ''}"
                    for (k, n, p), t in plan))
    killed = 0
    for (kind, n, path), partial in plan:
        what = f"backup-dir killed at {kind}:{n} ({os.path.relpath(path, os.path.realpath(rad.repo_path))})" \
               f"{' torn' if partial else ''}"
        tpl.reset()
        os.unlink(log)
        rc, out, err = run_with_shim(rad, procs, args,
                                     shim_env(rad, crashshim, log, f"{kind}:{n}", partial))
        if rc == -signal.SIGKILL:
            killed += 1
        else:
            assert rc == 0, f"{what}: exit {rc}: {err}"
        verify_after_crash(rad, workdir, earlier, d2, what)
        b = rad.backup(src2)
        restore_and_compare(rad, workdir, b["id"], d2)
        rad.check("--read-data")
    # the calls of a run are nearly deterministic with --threads 1
    assert killed >= 20, f"only {killed} of {len(plan)} runs were killed at their crash point"


@pytest.mark.e2e
def test_kill_backup_at_io_calls(rad, workdir, procs, crashshim):
    _backup_crash(rad, workdir, procs, crashshim, target_points=22, scale=1)


@pytest.mark.slow
def test_kill_backup_at_io_calls_many(rad, workdir, procs, crashshim):
    _backup_crash(rad, workdir, procs, crashshim, target_points=40, scale=2)


# ------------------------------------------------------------------- prune --

def _prune_setup(rad, workdir):
    """Backups W and Y stay; X and Z are forgotten. Z's data is all dead (its
    packs get deleted); X's pack holds dead.bin and keep.bin, and keep.bin is
    still used by Y (that pack gets repacked)."""
    w = os.path.join(workdir, "w")
    make_small_files(os.path.join(w, "small"), 50, max_size=2000, seed=9)
    write_random_file(os.path.join(w, "live.bin"), 1 * MiB)
    keep = os.urandom(150 * 1024)
    x = os.path.join(workdir, "x")
    write_file(os.path.join(x, "keep.bin"), keep)
    write_random_file(os.path.join(x, "dead.bin"), 4 * MiB)
    y = os.path.join(workdir, "y")
    write_file(os.path.join(y, "keep.bin"), keep)
    z = os.path.join(workdir, "z")
    write_random_file(os.path.join(z, "gone1.bin"), 2 * MiB)
    write_random_file(os.path.join(z, "gone2.bin"), 1 * MiB)

    bw = rad.backup(w)
    # one worker, so one pack holds both of X's files whatever the scheduling
    # (with several, keep.bin could land in a pack of its own, kept whole)
    bx = rad.backup(x, "--threads", "1")
    by = rad.backup(y)
    bz = rad.backup(z)
    rad.repo("forget", "--backup", bx["id"])
    rad.repo("forget", "--backup", bz["id"])
    return {bw["id"]: tree_digest(w), by["id"]: tree_digest(y)}


@pytest.mark.e2e
def test_kill_prune_at_io_calls(rad, workdir, procs, crashshim):
    earlier = _prune_setup(rad, workdir)
    tpl = Template(rad, workdir)
    tpl.save()
    log = os.path.join(workdir, "calls.log")
    args = ["repo", "prune", "--repo", rad.name]
    rc, out, err = run_with_shim(rad, procs, args, shim_env(rad, crashshim, log))
    assert rc == 0, f"counting run of prune failed: {err}"

    pr = json.loads(out)["prune"]
    assert pr["packs_deleted"] >= 1, f"prune had nothing to delete: {pr}"
    assert pr["packs_repacked"] >= 1, f"prune repacked nothing: {pr}"
    verify_after_crash(rad, workdir, earlier, None, "prune without crash")
    calls = read_call_log(log)
    assert calls, "prune made no I/O calls under the repository"

    # every call kind prune makes, spread over the run
    points = choose_points(rad.repo_path, calls, 22)
    print(f"\nprune: {pr}, {len(calls)} calls, {len(points)} crash points:",
          ", ".join(f"{k}:{n}/{category(rad.repo_path, p)}" for k, n, p in points))
    killed = 0
    for kind, n, path in points:
        what = f"prune killed at {kind}:{n} ({os.path.relpath(path, os.path.realpath(rad.repo_path))})"
        tpl.reset()
        os.unlink(log)
        rc, out, err = run_with_shim(rad, procs, args, shim_env(rad, crashshim, log, f"{kind}:{n}"))
        if rc == -signal.SIGKILL:
            killed += 1
        else:
            assert rc == 0, f"{what}: exit {rc}: {err}"
        verify_after_crash(rad, workdir, earlier, None, what)
        _, doc, _ = rad.repo("prune")
        verify_after_crash(rad, workdir, earlier, None, what + ", then pruned again")
        rad.check("--read-data")
        src = os.path.join(workdir, "after")
        shutil.rmtree(src, ignore_errors=True)
        write_random_file(os.path.join(src, "f.bin"), 300 * 1024)
        d = tree_digest(src)
        b = rad.backup(src)
        restore_and_compare(rad, workdir, b["id"], d)
    assert killed >= min(20, len(points)), f"only {killed} of {len(points)} prune runs were killed"


# ------------------------------------------------------------- random kills --

def _random_kills(rad, workdir, procs, kills, mib, seed):
    rnd = random.Random(seed)
    src0 = os.path.join(workdir, "src0")
    make_special_tree(src0)
    d0 = tree_digest(src0)
    b0 = rad.backup(src0)
    earlier = {b0["id"]: d0}

    src = os.path.join(workdir, "src")
    make_small_files(os.path.join(src, "small"), 1000, max_size=4000, seed=5)
    for i in range(8):
        write_random_file(os.path.join(src, f"big{i}.bin"), mib * MiB // 8)
    d = tree_digest(src)

    tpl = Template(rad, workdir)
    tpl.save()
    t0 = time.monotonic()
    rad.backup(src)
    duration = time.monotonic() - t0

    for k in range(kills):
        tpl.reset()
        delay = rnd.uniform(0.02, duration)
        p = procs.add(rad.repo_popen("backup-dir", "--path", src))
        time.sleep(delay)
        finished = p.poll() is not None
        if not finished:
            os.kill(p.pid, signal.SIGKILL)
        p.wait(timeout=60)
        what = f"backup-dir killed after {delay:.2f}s of {duration:.2f}s"
        print(what + ("" if not finished else " (had finished)"))
        verify_after_crash(rad, workdir, earlier, d, what)
        b = rad.backup(src)
        restore_and_compare(rad, workdir, b["id"], d)


@pytest.mark.e2e
def test_kill_backup_at_random_times(rad, workdir, procs):
    _random_kills(rad, workdir, procs, kills=5, mib=40, seed=11)


@pytest.mark.slow
def test_kill_backup_at_random_times_large(rad, workdir, procs):
    _random_kills(rad, workdir, procs, kills=10, mib=256, seed=12)
