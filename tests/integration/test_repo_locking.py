"""Repository locks: backups share the repository, prune needs it alone
(exit 8 otherwise), and a lock left by a killed process does not block anyone.

A backup is held in the middle of its work by the LD_PRELOAD shim
(crashshim.c), which stops it with SIGSTOP at its first pack write; the test
resumes it with SIGCONT or kills it."""
import json
import os
import shutil
import signal

import pytest

from conftest import (EXIT_LOCKED, MiB, asan_env, assert_same_tree, make_small_files,
                      make_special_tree, repo_files, tree_digest, wait_stopped,
                      write_random_file)


def stop_env(rad, so, match="/data/", kind="write", n=1):
    return asan_env({"LD_PRELOAD": so, "CRASH_PREFIX": os.path.realpath(rad.repo_path) + "/",
                     "CRASH_MATCH": match, "CRASH_AT": f"{kind}:{n}", "CRASH_SIGNAL": "STOP"})


def start_stopped(rad, procs, so, *args, **kw):
    """Starts `repo ARGS` and waits until the shim has stopped it."""
    p = procs.add(rad.repo_popen(*args, env=stop_env(rad, so, **kw)))
    if not wait_stopped(p.pid):
        out, err = p.communicate()
        raise AssertionError(f"repo {args[0]} never reached its stop point: exit "
                             f"{p.returncode}: {err.decode(errors='replace')}")
    return p


def finish(p, expect=0):
    os.kill(p.pid, signal.SIGCONT)
    out, err = p.communicate(timeout=600)
    assert p.returncode == expect, f"exit {p.returncode}: {err.decode(errors='replace')}"
    return json.loads(out) if out.strip() else None


def two_sources(workdir):
    a = os.path.join(workdir, "a")
    make_special_tree(a)
    write_random_file(os.path.join(a, "a.bin"), 3 * MiB)
    b = os.path.join(workdir, "b")
    make_small_files(os.path.join(b, "small"), 300, seed=31)
    write_random_file(os.path.join(b, "b.bin"), 3 * MiB)
    shutil.copy2(os.path.join(a, "a.bin"), os.path.join(b, "shared-with-a.bin"))
    return a, b


def restore_equal(rad, workdir, backup_id, digest):
    target = os.path.join(workdir, "restore-" + backup_id[:12])
    rad.restore(backup_id, target)
    assert_same_tree(digest, target)
    shutil.rmtree(target)


def test_backup_runs_while_another_holds_the_repository(rad, workdir, procs, crashshim):
    a, b = two_sources(workdir)
    da, db = tree_digest(a), tree_digest(b)
    p = start_stopped(rad, procs, crashshim, "backup-dir", "--path", a)
    assert repo_files(rad.repo_path, "locks"), "a running backup holds no lock file"
    bb = rad.backup(b)
    ba = finish(p)["backup"]
    assert ba["id"] != bb["id"]
    assert {x["id"] for x in rad.list()} == {ba["id"], bb["id"]}
    restore_equal(rad, workdir, ba["id"], da)
    restore_equal(rad, workdir, bb["id"], db)
    rad.check("--read-data")
    assert repo_files(rad.repo_path, "locks") == [], "locks left after the backups ended"


def test_concurrent_backups(rad, workdir, procs):
    """Three backups started together, two of the same tree: all succeed."""
    a, b = two_sources(workdir)
    da, db = tree_digest(a), tree_digest(b)
    ps = [procs.add(rad.repo_popen("backup-dir", "--path", src)) for src in (a, b, a)]
    ids = []
    for p in ps:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err.decode(errors="replace")
        ids.append(json.loads(out)["backup"]["id"])
    assert len(set(ids)) == 3
    restore_equal(rad, workdir, ids[0], da)
    restore_equal(rad, workdir, ids[1], db)
    restore_equal(rad, workdir, ids[2], da)
    rad.check("--read-data")


def test_prune_refused_while_backup_runs(rad, workdir, procs, crashshim):
    a, b = two_sources(workdir)
    old = rad.backup(b)
    rad.repo("forget", "--backup", old["id"])
    da = tree_digest(a)
    p = start_stopped(rad, procs, crashshim, "backup-dir", "--path", a)
    rc, _, err = rad.repo("prune", expect_exit=EXIT_LOCKED)
    assert "lock" in err.lower(), err
    ba = finish(p)["backup"]
    _, doc, _ = rad.repo("prune")
    assert doc["prune"]["packs_deleted"] + doc["prune"]["packs_repacked"] >= 1
    restore_equal(rad, workdir, ba["id"], da)
    rad.check("--read-data")


def test_backup_refused_while_prune_runs(rad, workdir, procs, crashshim):
    a, b = two_sources(workdir)
    keep = rad.backup(a)
    gone = rad.backup(b)
    rad.repo("forget", "--backup", gone["id"])
    # stop prune at its first change to data/ (a repacked pack or a deletion)
    p = procs.add(rad.repo_popen("prune", env=stop_env(rad, crashshim, match="/data/",
                                                       kind="unlink")))
    if not wait_stopped(p.pid):
        out, err = p.communicate()
        pytest.fail(f"prune never deleted anything under data/: {err.decode(errors='replace')}")
    rc, _, err = rad.repo("backup-dir", "--path", b, expect_exit=EXIT_LOCKED)
    assert "lock" in err.lower(), err
    finish(p)
    restore_equal(rad, workdir, keep["id"], tree_digest(a))
    rad.check("--read-data")


def test_stale_lock_of_killed_backup(rad, workdir, procs, crashshim):
    a, b = two_sources(workdir)
    da, db = tree_digest(a), tree_digest(b)
    first = rad.backup(b)
    p = start_stopped(rad, procs, crashshim, "backup-dir", "--path", a)
    locks = repo_files(rad.repo_path, "locks")
    assert locks, "a running backup holds no lock file"
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=60)
    assert repo_files(rad.repo_path, "locks") == locks, "the killed backup's lock is gone"

    rad.repo("prune")                       # exclusive: must see the lock is stale
    rad.check()
    ba = rad.backup(a)
    restore_equal(rad, workdir, ba["id"], da)
    restore_equal(rad, workdir, first["id"], db)
    rad.check("--read-data")


def test_stale_lock_of_killed_prune(rad, workdir, procs, crashshim):
    a, b = two_sources(workdir)
    keep = rad.backup(a)
    gone = rad.backup(b)
    rad.repo("forget", "--backup", gone["id"])
    p = procs.add(rad.repo_popen("prune", env=stop_env(rad, crashshim, match="/data/",
                                                       kind="unlink")))
    assert wait_stopped(p.pid), "prune never deleted anything under data/"
    assert repo_files(rad.repo_path, "locks"), "a running prune holds no lock file"
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=60)

    bb = rad.backup(b)                      # shared lock next to a dead exclusive one
    rad.repo("prune")
    rad.check("--read-data")
    restore_equal(rad, workdir, keep["id"], tree_digest(a))
    restore_equal(rad, workdir, bb["id"], tree_digest(b))
