"""The JSON contract of docs/cli.md: every documented field is there with the
documented type (sizes integers, times ISO 8601 UTC, durations seconds)."""
import hashlib
import io
import os
import re
import socket
import subprocess
import tarfile
import time

from conftest import (MiB, Radiant, assert_same_tree, make_small_files, make_special_tree,
                      tree_digest, unique_prefix, write_file, write_random_file)

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
INT_FIELDS = ("files", "dirs", "symlinks", "logical_bytes", "chunks", "new_chunks",
              "new_raw_bytes", "new_stored_bytes", "packs_written")
BACKUP_FIELDS = {"id", "label", "kind", "source", "hostname", "start_time", "end_time",
                 "duration_seconds", "meta"} | set(INT_FIELDS)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def is_num(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_repo_obj(r, rad, encrypted):
    assert set(r) >= {"name", "location", "encrypted", "id"}, r
    assert r["name"] == rad.name
    assert rad.repo_path in r["location"]
    assert r["encrypted"] is encrypted
    assert isinstance(r["id"], str) and len(r["id"]) >= 16


def check_backup_obj(b):
    missing = BACKUP_FIELDS - set(b)
    assert not missing, f"BACKUP lacks {sorted(missing)}: {b}"
    assert isinstance(b["id"], str) and re.fullmatch(r"[0-9A-Za-z._:-]{8,}", b["id"]), b["id"]
    assert b["label"] is None or isinstance(b["label"], str)
    for k in ("kind", "source", "hostname"):
        assert isinstance(b[k], str), (k, b[k])
    for k in ("start_time", "end_time"):
        assert isinstance(b[k], str) and ISO.match(b[k]), (k, b[k])
    assert b["start_time"] <= b["end_time"]
    for k in INT_FIELDS:
        assert is_int(b[k]) and b[k] >= 0, (k, b[k])
    assert is_num(b["duration_seconds"]) and b["duration_seconds"] >= 0
    assert isinstance(b["meta"], dict)
    assert all(isinstance(v, str) for v in b["meta"].values()), b["meta"]
    assert b["new_chunks"] <= b["chunks"]


def test_init_json(workdir, radiant_bin):
    rad = Radiant(workdir)
    _, doc, _ = rad.repo("init")
    check_repo_obj(doc["repo"], rad, False)


def test_backup_list_restore_json(rad, workdir):
    src1 = make_special_tree(os.path.join(workdir, "src1"))
    src2 = os.path.join(workdir, "src2")
    make_small_files(src2, 50, seed=41)
    write_random_file(os.path.join(src2, "r.bin"), 2 * MiB)
    d1, d2 = tree_digest(src1), tree_digest(src2)

    # a second apart: ordering within one second has its own test below
    b1 = rad.backup(src1, "--label", "first backup")
    time.sleep(1.1)
    check_backup_obj(b1)
    assert b1["label"] == "first backup"
    assert b1["hostname"] == socket.gethostname()
    assert src1 in b1["source"]
    assert b1["new_chunks"] == b1["chunks"] > 0
    assert b1["packs_written"] >= 1
    b2 = rad.backup(src2)
    time.sleep(1.1)
    check_backup_obj(b2)
    assert b2["files"] == 51 and b2["logical_bytes"] == sum(
        v[2] for v in d2.values() if v[0] == "file")
    b3 = rad.backup(src1, "--label", "again")
    check_backup_obj(b3)
    assert b3["new_chunks"] == 0 and b3["packs_written"] == 0

    backups = rad.list()
    assert [b["id"] for b in backups] == [b1["id"], b2["id"], b3["id"]], "not oldest first"
    for listed, made in zip(backups, (b1, b2, b3)):
        check_backup_obj(listed)
        for k in ("id", "label", "kind", "source", "hostname", "start_time", "end_time",
                  "files", "dirs", "symlinks", "logical_bytes", "chunks"):
            assert listed[k] == made[k], (k, listed[k], made[k])

    # --backup takes a unique prefix or "latest"
    t = os.path.join(workdir, "by-prefix")
    prefix = unique_prefix(b2["id"], [b["id"] for b in backups])
    assert len(prefix) < len(b2["id"])
    _, doc, _ = rad.repo("restore-dir", "--backup", prefix, "--target", t)
    r = doc["restore"]
    assert set(r) >= {"backup", "target", "files", "dirs", "symlinks", "bytes",
                      "duration_seconds", "rate_mb_s"}, r
    assert r["backup"] == b2["id"]
    assert r["target"].rstrip("/").endswith("by-prefix")
    for k in ("files", "dirs", "symlinks", "bytes"):
        assert is_int(r[k]), (k, r[k])
    assert r["files"] == 51 and r["bytes"] == b2["logical_bytes"]
    assert is_num(r["duration_seconds"]) and is_num(r["rate_mb_s"])
    assert_same_tree(d2, t)
    t = os.path.join(workdir, "latest")
    _, doc, _ = rad.repo("restore-dir", "--backup", "latest", "--target", t)
    assert doc["restore"]["backup"] == b3["id"]
    assert_same_tree(d1, t)


def test_order_and_latest_within_one_second(rad, workdir):
    """Backups made in quick succession: list is oldest first and `latest`
    is the last one made."""
    src = os.path.join(workdir, "src")
    ids = []
    for i in range(6):
        write_file(os.path.join(src, "n.txt"), f"{i}\n".encode())
        ids.append(rad.backup(src)["id"])
    assert [b["id"] for b in rad.list()] == ids, "repo list is not oldest first"
    t = os.path.join(workdir, "latest")
    _, doc, _ = rad.repo("restore-dir", "--backup", "latest", "--target", t)
    with open(os.path.join(t, "n.txt")) as f:
        assert f.read() == "5\n", "latest restored an older backup"
    assert doc["restore"]["backup"] == ids[-1]


def test_stats_check_forget_prune_json(rad, workdir):
    src = os.path.join(workdir, "src")
    write_random_file(os.path.join(src, "a.bin"), 2 * MiB)
    b1 = rad.backup(src)
    write_random_file(os.path.join(src, "b.bin"), 1 * MiB)
    b2 = rad.backup(src)

    st = rad.stats()
    for k in ("backups", "logical_bytes", "unique_raw_bytes", "stored_bytes", "chunks", "packs"):
        assert is_int(st.get(k)), (k, st)
    for k in ("dedup_ratio", "compression_ratio", "total_ratio"):
        assert is_num(st.get(k)) and st[k] > 0, (k, st)
    assert st["backups"] == 2
    assert st["logical_bytes"] == 5 * MiB
    assert st["unique_raw_bytes"] == 3 * MiB
    assert st["chunks"] >= 2 and st["packs"] >= 1
    assert abs(st["total_ratio"] - st["logical_bytes"] / st["stored_bytes"]) < 0.05 * st["total_ratio"]

    for args in ((), ("--read-data",)):
        _, doc, _ = rad.check(*args)
        c = doc["check"]
        assert set(c) >= {"ok", "packs", "indexes", "manifests", "chunks_checked", "problems",
                          "damaged_backups"}, c
        assert c["ok"] is True and c["problems"] == [] and c["damaged_backups"] == []
        assert c["manifests"] == 2 and c["packs"] == st["packs"] and c["indexes"] >= 1
        for k in ("packs", "indexes", "manifests", "chunks_checked"):
            assert is_int(c[k]), (k, c)
    assert c["chunks_checked"] >= st["chunks"]

    prefix = unique_prefix(b1["id"], [b1["id"], b2["id"]])
    _, doc, _ = rad.repo("forget", "--backup", prefix)
    assert doc == {"forgotten": b1["id"]}
    assert [b["id"] for b in rad.list()] == [b2["id"]]
    _, doc, _ = rad.repo("prune")
    p = doc["prune"]
    for k in ("packs_deleted", "packs_repacked", "packs_kept", "bytes_freed", "chunks_removed"):
        assert is_int(p.get(k)), (k, p)
    assert p["chunks_removed"] == 0, "prune removed chunks the remaining backup uses"
    rad.check("--read-data")


def test_change_passphrase_json(rad_enc, workdir):
    newpass = os.path.join(workdir, "new.pass")
    write_file(newpass, b"new one\n")
    _, doc, _ = rad_enc.repo("change-passphrase", "--new-passphrase-file", newpass)
    check_repo_obj(doc["repo"], rad_enc, True)


def test_backup_tar_and_dump(rad, workdir):
    src = make_special_tree(os.path.join(workdir, "src"))
    digest = tree_digest(src)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name in sorted(os.listdir(src)):
            tar.add(os.path.join(src, name), arcname=name)
    tar_bytes = buf.getvalue()

    _, doc, _ = rad.repo("backup-tar", "--label", "from stdin", input=tar_bytes)
    b = doc["backup"]
    check_backup_obj(b)
    assert b["files"] == sum(1 for v in digest.values() if v[0] == "file")
    t = os.path.join(workdir, "from-tar")
    rad.restore(b["id"], t)
    assert_same_tree(digest, t)

    tar_path = os.path.join(workdir, "in.tar")
    write_file(tar_path, tar_bytes)
    _, doc, _ = rad.repo("backup-tar", "--file", tar_path)
    assert doc["backup"]["new_chunks"] == 0

    p = rad.argv(["repo", "dump", "--repo", rad.name, "--backup", b["id"]])
    out = subprocess.run(p, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(out)) as tar:
        members = {m.name.rstrip("/"): m for m in tar.getmembers()}
        for rel, (kind, mode, size, sha, link, mtime) in digest.items():
            m = members.get(rel)
            assert m is not None, f"dump lacks {rel!r}"
            assert m.mode & 0o7777 == mode, rel
            assert int(m.mtime) == mtime, rel
            if kind == "file":
                assert hashlib.sha256(tar.extractfile(m).read()).hexdigest() == sha, rel
            elif kind == "symlink":
                assert m.issym() and m.linkname == link, rel
