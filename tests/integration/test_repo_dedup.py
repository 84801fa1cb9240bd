"""Deduplication, measured through the backup JSON (new_raw_bytes,
new_stored_bytes) and `repo stats`, on incompressible data so compression
cannot hide the numbers."""
import os

import pytest

from conftest import (GiB, MiB, assert_same_tree, overwrite_regions, require_free,
                      tree_digest, write_random_file)


def _dedup_tree(rad, workdir, total, nfiles):
    require_free(workdir, 3 * total + GiB)
    src = os.path.join(workdir, "src")
    paths = []
    for i in range(nfiles):
        p = os.path.join(src, f"sub{i % 3}", f"data{i:03d}.bin")
        write_random_file(p, total // nfiles)
        paths.append(p)

    b1 = rad.backup(src)
    assert b1["logical_bytes"] == total
    assert b1["new_raw_bytes"] >= 0.99 * total, b1
    # random data does not compress: stored is about raw (headers, tags aside)
    assert b1["new_stored_bytes"] >= 0.95 * total, b1

    b2 = rad.backup(src)
    assert b2["logical_bytes"] == total
    assert b2["new_raw_bytes"] < 0.01 * total, f"unchanged tree stored new data: {b2}"
    assert b2["new_stored_bytes"] < 0.01 * total, f"unchanged tree stored new data: {b2}"

    # change 1% of the tree: 1 MiB regions, one per 100 MiB
    regions = max(1, total // (100 * MiB))
    overwrite_regions(paths, regions, region=MiB)
    digest3 = tree_digest(src)
    b3 = rad.backup(src)
    assert b3["new_raw_bytes"] >= regions * MiB * 0.9, b3
    # The bound (under 5%) is for the 1 GB tree, where ten changed
    # regions average out. With one region, the worst case is the region plus
    # a chunk of up to 2 MiB cut on each side of it, which is 5% of 100 MiB.
    bound = 0.05 * total if regions >= 10 else regions * (MiB + 2 * 2 * MiB) * 1.02
    assert b3["new_stored_bytes"] < bound, \
        f"{regions} x 1 MiB changed in {total >> 20} MiB stored {b3['new_stored_bytes']} new bytes"

    st = rad.stats()
    assert st["backups"] == 3
    assert st["logical_bytes"] == 3 * total
    unique = sum(b["new_raw_bytes"] for b in (b1, b2, b3))
    assert st["unique_raw_bytes"] == unique
    assert st["stored_bytes"] >= sum(b["new_stored_bytes"] for b in (b1, b2, b3))
    assert st["stored_bytes"] < 1.1 * (total + regions * 4 * MiB) + 8 * MiB
    # three backups of nearly the same data: logical / unique is about 3
    assert 2.5 < st["dedup_ratio"] < 3.1, st

    # every backup is complete on its own: the last one restores whole
    target = os.path.join(workdir, "restore")
    rad.restore(b3["id"], target)
    assert_same_tree(digest3, target)


def test_dedup_100m(rad, workdir):
    _dedup_tree(rad, workdir, 100 * MiB, 10)


@pytest.mark.slow
def test_dedup_1g(rad, workdir):
    _dedup_tree(rad, workdir, 1000 * MiB, 20)


def test_insert_one_byte_at_front(rad, workdir):
    """Content-defined chunking: a shifted file re-uses almost all its chunks."""
    require_free(workdir, 600 * MiB)
    src = os.path.join(workdir, "src")
    path = os.path.join(src, "big.bin")
    write_random_file(path, 100 * MiB)
    b1 = rad.backup(src)
    assert b1["new_raw_bytes"] >= 100 * MiB * 0.99

    shifted = os.path.join(workdir, "shifted.tmp")
    with open(path, "rb") as f, open(shifted, "wb") as g:
        g.write(b"\x42")
        while True:
            buf = f.read(8 * MiB)
            if not buf:
                break
            g.write(buf)
    os.replace(shifted, path)
    digest = tree_digest(src)
    b2 = rad.backup(src)
    assert b2["logical_bytes"] == 100 * MiB + 1
    assert b2["new_raw_bytes"] < 2_000_000, f"one inserted byte cost {b2['new_raw_bytes']} bytes"
    assert b2["new_stored_bytes"] < 2_000_000, b2
    target = os.path.join(workdir, "restore")
    rad.restore(b2["id"], target)
    assert_same_tree(digest, target)
