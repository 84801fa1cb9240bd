"""Backup then restore must reproduce a tree byte for byte: content, modes,
symlinks, empty directories and mtimes (docs/cli.md: repo backup-dir,
repo restore-dir)."""
import os

import pytest

from conftest import (GiB, MiB, EXIT_EXISTS, assert_same_tree, make_small_files,
                      make_special_tree, require_free, tree_digest, write_big_file,
                      write_file, write_random_file)


def roundtrip(rad, src, workdir, *backup_args, restore_args=()):
    before = tree_digest(src)
    b = rad.backup(src, *backup_args)
    target = os.path.join(workdir, "restore")
    r = rad.restore(b["id"], target, *restore_args)
    assert_same_tree(before, target)
    # the source was not touched by the backup
    assert_same_tree(before, src)
    return b, r, before


def test_special_names_modes_symlinks_mtimes(rad, workdir):
    src = make_special_tree(os.path.join(workdir, "src"))
    b, r, digest = roundtrip(rad, src, workdir)
    files = sum(1 for v in digest.values() if v[0] == "file")
    dirs = sum(1 for v in digest.values() if v[0] == "dir")
    links = sum(1 for v in digest.values() if v[0] == "symlink")
    assert b["files"] == files
    assert b["symlinks"] == links
    # the top directory may or may not be counted as a directory of its own
    assert b["dirs"] in (dirs, dirs + 1)
    assert r["files"] == files and r["symlinks"] == links
    assert r["bytes"] == sum(v[2] for v in digest.values() if v[0] == "file")
    assert b["logical_bytes"] == r["bytes"]


def test_non_utf8_name(rad, workdir):
    """Linux names are bytes: one that is not valid UTF-8 must survive too."""
    src = os.path.join(workdir, "src")
    os.makedirs(src)
    with open(os.path.join(os.fsencode(src), b"latin1-\xe9t\xe9\xff"), "wb") as f:
        f.write(b"not utf-8 named\n")
    roundtrip(rad, src, workdir)


def test_empty_tree(rad, workdir):
    src = os.path.join(workdir, "src")
    os.makedirs(src)
    b, r, _ = roundtrip(rad, src, workdir)
    assert b["files"] == 0 and b["logical_bytes"] == 0
    assert os.listdir(os.path.join(workdir, "restore")) == []


def test_many_small_files(rad, workdir):
    src = os.path.join(workdir, "src")
    total = make_small_files(src, 5000, min_size=0, max_size=3000)
    b, r, _ = roundtrip(rad, src, workdir, "--threads", "2", restore_args=("--threads", "2"))
    assert b["files"] == 5000
    assert b["logical_bytes"] == total
    assert r["files"] == 5000


def test_medium_files_threads(rad, workdir):
    """A few files bigger than any chunk, backed up and restored in parallel."""
    src = os.path.join(workdir, "src")
    for i, size in enumerate([0, 1, 4095, 4096, 65537, 3 * MiB + 17, 24 * MiB]):
        write_random_file(os.path.join(src, f"f{i}"), size)
    roundtrip(rad, src, workdir, "--threads", "2", restore_args=("--threads", "2"))


def _sparse(rad, workdir, apparent):
    src = os.path.join(workdir, "src")
    os.makedirs(src)
    path = os.path.join(src, "sparse.img")
    with open(path, "wb") as f:
        f.truncate(apparent)
        for off in (0, apparent // 3, apparent - 4096):
            f.seek(off)
            f.write(os.urandom(4096))
    st = os.stat(path)
    assert st.st_blocks * 512 < 4 * MiB, "the test file system does not keep holes"
    b, r, _ = roundtrip(rad, src, workdir)
    assert b["logical_bytes"] == apparent
    # a few KB of data: the repository must not grow by anything like `apparent`
    assert b["new_stored_bytes"] < 2 * MiB, b
    assert rad.stats()["stored_bytes"] < 4 * MiB
    restored = os.stat(os.path.join(workdir, "restore", "sparse.img"))
    assert restored.st_size == apparent
    assert restored.st_blocks * 512 < 16 * MiB, \
        f"restore wrote the holes: {restored.st_blocks * 512} bytes on disk for a sparse file"


def test_sparse_file_small(rad, workdir):
    _sparse(rad, workdir, 256 * MiB)


@pytest.mark.slow
def test_sparse_file_1g(rad, workdir):
    _sparse(rad, workdir, GiB)


@pytest.mark.slow
def test_2g_file(rad, workdir):
    require_free(workdir, 7 * GiB)
    src = os.path.join(workdir, "src")
    os.makedirs(src)
    write_big_file(os.path.join(src, "big.bin"), 2 * GiB)
    write_file(os.path.join(src, "small.txt"), b"next to a big one\n")
    b, r, _ = roundtrip(rad, src, workdir)
    assert b["logical_bytes"] == 2 * GiB + 18
    assert r["bytes"] == 2 * GiB + 18


def test_restore_into_non_empty_target(rad, workdir):
    src = make_special_tree(os.path.join(workdir, "src"))
    digest = tree_digest(src)
    b = rad.backup(src)
    target = os.path.join(workdir, "target")
    write_file(os.path.join(target, "already-here.txt"), b"do not touch\n")
    write_file(os.path.join(target, "plain.txt"), b"an older version\n")
    before = tree_digest(target)

    rc, _, err = rad.repo("restore-dir", "--backup", b["id"], "--target", target,
                          expect_exit=EXIT_EXISTS)
    assert target in err or "empty" in err, err
    assert_same_tree(before, target)            # refused means untouched

    rad.restore(b["id"], target, "--force")
    after = tree_digest(target)
    restored = {k: v for k, v in after.items() if k != "already-here.txt"}
    assert_same_tree(digest, restored)


def test_restore_into_new_and_empty_targets(rad, workdir):
    src = make_special_tree(os.path.join(workdir, "src"))
    digest = tree_digest(src)
    b = rad.backup(src)
    deep = os.path.join(workdir, "does", "not", "exist", "yet")
    rad.restore(b["id"], deep)
    assert_same_tree(digest, deep)
    empty = os.path.join(workdir, "empty")
    os.makedirs(empty)
    rad.restore(b["id"], empty)
    assert_same_tree(digest, empty)
