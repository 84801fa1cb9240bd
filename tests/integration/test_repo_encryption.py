"""Encrypted repositories (passphrase-file): no plaintext in the repository,
a wrong passphrase fails with exit 7 and touches nothing, change-passphrase
rewrites only keys/."""
import os
import uuid

from conftest import (EXIT_CONFIG, EXIT_PASSPHRASE, MiB, Radiant, assert_same_tree, dir_listing,
                      make_special_tree, tree_digest, write_file, write_random_file)


def marker_tree(root, marker):
    make_special_tree(root, marker=marker)
    # the marker inside incompressible data: compression cannot hide it
    data = bytearray(os.urandom(256 * 1024))
    data[100_000:100_000 + len(marker)] = marker
    write_file(os.path.join(root, "random-with-marker.bin"), bytes(data))
    write_file(os.path.join(root, "text.txt"), b"line with " + marker + b"\n")
    write_file(os.path.join(root, marker.decode() + "-named-file.txt"), b"x")
    write_random_file(os.path.join(root, "bulk.bin"), 3 * MiB)
    return root


def files_containing(root, needle):
    hits = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            if needle in n.encode():
                hits.append(os.path.join(dirpath, n))
        for n in filenames:
            p = os.path.join(dirpath, n)
            with open(p, "rb") as f:
                if needle in f.read():
                    hits.append(p)
    return hits


def test_no_plaintext_in_repository(rad_enc, workdir):
    marker = f"RADIANT-PLAINTEXT-MARKER-{uuid.uuid4().hex}".encode()
    src = marker_tree(os.path.join(workdir, "src"), marker)
    digest = tree_digest(src)
    b = rad_enc.backup(src, "--label", "label-" + marker.decode())
    assert files_containing(rad_enc.repo_path, marker) == []
    # also the file names (manifest) and the label
    assert files_containing(rad_enc.repo_path, b"named-file") == []
    target = os.path.join(workdir, "restore")
    rad_enc.restore(b["id"], target)
    assert_same_tree(digest, target)

    # control: the same tree in an unencrypted repository does show the marker,
    # so the search above can find what it looks for
    plain_dir = os.path.join(workdir, "plain")
    os.makedirs(plain_dir)
    plain = Radiant(plain_dir)
    plain.init()
    plain.backup(src)
    assert files_containing(plain.repo_path, marker), \
        "control failed: the marker is not visible even in an unencrypted repository"


def test_init_reports_encrypted(workdir, radiant_bin):
    r = Radiant(workdir, encrypted=True)
    _, doc, _ = r.repo("init")
    assert doc["repo"]["encrypted"] is True
    assert os.listdir(os.path.join(r.repo_path, "keys")), "no key file under keys/"


def test_wrong_passphrase(rad_enc, workdir):
    src = make_special_tree(os.path.join(workdir, "src"))
    b = rad_enc.backup(src)
    newpass = os.path.join(workdir, "new.pass")
    write_file(newpass, b"another passphrase\n")
    before = dir_listing(rad_enc.repo_path, with_hash=True)

    write_file(rad_enc.passfile, b"this is not the passphrase\n")
    target = os.path.join(workdir, "restore")
    commands = [
        ("list",), ("stats",), ("check",), ("check", "--read-data"),
        ("backup-dir", "--path", src), ("restore-dir", "--backup", b["id"], "--target", target),
        ("forget", "--backup", b["id"]), ("prune",),
        ("change-passphrase", "--new-passphrase-file", newpass),
    ]
    for cmd in commands:
        rc, _, err = rad_enc.repo(*cmd, expect_exit=EXIT_PASSPHRASE)
        assert "passphrase" in err.lower(), f"repo {cmd[0]}: unclear message: {err}"
    assert not os.path.exists(target) or os.listdir(target) == []
    after = dir_listing(rad_enc.repo_path, with_hash=True)
    assert after == before, "a wrong passphrase modified the repository: " + \
        repr({k: (before.get(k), after.get(k)) for k in set(before) | set(after)
              if before.get(k) != after.get(k)})

    # the right one still works
    write_file(rad_enc.passfile, b"correct horse\n")
    assert [x["id"] for x in rad_enc.list()] == [b["id"]]


def test_encrypted_repo_without_passphrase(rad_enc, workdir):
    """Opening an encrypted repository with no passphrase configured fails
    (a configuration error, 3, or a passphrase error, 7) and says what to set."""
    other = os.path.join(workdir, "nopass")
    os.makedirs(other)
    r = Radiant(other, repo_path=rad_enc.repo_path)
    rc, _, err = r.repo("list", ok=False)
    assert rc in (EXIT_CONFIG, EXIT_PASSPHRASE), f"exit {rc}: {err}"
    assert "passphrase" in err


def test_change_passphrase(rad_enc, workdir):
    src = make_special_tree(os.path.join(workdir, "src"))
    digest = tree_digest(src)
    b = rad_enc.backup(src)
    before = dir_listing(rad_enc.repo_path, with_dirs=False, with_hash=True)
    newpass = os.path.join(workdir, "new.pass")
    write_file(newpass, b"a brand new passphrase\n", mode=0o600)

    _, doc, _ = rad_enc.repo("change-passphrase", "--new-passphrase-file", newpass)
    assert doc["repo"]["encrypted"] is True
    assert doc["repo"]["name"] == rad_enc.name
    after = dir_listing(rad_enc.repo_path, with_dirs=False, with_hash=True)
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert changed, "change-passphrase changed no file"
    outside = [k for k in changed if not k.startswith("keys/") and not k.startswith("locks/")]
    assert outside == [], f"change-passphrase rewrote files outside keys/: {outside}"
    assert not any(k.startswith("locks/") for k in after), "a lock was left behind"

    # the old passphrase (still in the config's file) no longer opens it
    rc, _, err = rad_enc.repo("list", expect_exit=EXIT_PASSPHRASE)
    assert "passphrase" in err.lower()

    # the new one does, for everything
    with open(newpass, "rb") as f:
        write_file(rad_enc.passfile, f.read())
    assert [x["id"] for x in rad_enc.list()] == [b["id"]]
    target = os.path.join(workdir, "restore")
    rad_enc.restore(b["id"], target)
    assert_same_tree(digest, target)
    rad_enc.check("--read-data")
    b2 = rad_enc.backup(src)
    assert b2["new_raw_bytes"] < 64 * 1024, "the data key changed: nothing deduplicates"


def key_cache_files(rad):
    d = os.path.join(rad.state_dir, "key-cache")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def test_key_cache_is_private_and_invalidated_by_change_passphrase(rad_enc, workdir):
    """The unwrapped key is cached in STATE/key-cache/REPO-ID (0600, in a 0700
    directory) so that short-lived processes skip scrypt; a changed passphrase
    (its key file removed from the repository), a tampered cache or a changed
    passphrase-file never let the cache open the repository."""
    os.makedirs(rad_enc.state_dir, exist_ok=True)
    src = make_special_tree(os.path.join(workdir, "src"))
    b = rad_enc.backup(src)
    files = key_cache_files(rad_enc)
    assert len(files) == 1, files
    d = os.path.join(rad_enc.state_dir, "key-cache")
    path = os.path.join(d, files[0])
    assert os.stat(d).st_mode & 0o777 == 0o700
    assert os.stat(path).st_mode & 0o777 == 0o600
    with open(path, "rb") as f:
        stale = f.read()
    assert [x["id"] for x in rad_enc.list()] == [b["id"]]      # through the cache

    # a tampered cache is ignored (the passphrase still opens it)
    write_file(path, stale.replace(b"\n", b"\n ", 1), mode=0o600)
    assert [x["id"] for x in rad_enc.list()] == [b["id"]]
    with open(path, "rb") as f:
        assert f.read() == stale                                  # rewritten whole

    # a changed passphrase-file (wrong) fails even with a valid cache
    with open(rad_enc.passfile, "rb") as f:
        good = f.read()
    write_file(rad_enc.passfile, b"not the passphrase\n", mode=0o600)
    rad_enc.repo("list", expect_exit=EXIT_PASSPHRASE)
    write_file(rad_enc.passfile, good, mode=0o600)

    newpass = os.path.join(workdir, "new.pass")
    write_file(newpass, b"a brand new passphrase\n", mode=0o600)
    rad_enc.repo("change-passphrase", "--new-passphrase-file", newpass)
    assert key_cache_files(rad_enc) == [], "change-passphrase left the cached key"
    # even a stale cache copied back (another machine's, say) no longer opens
    # it with the old passphrase: its key file is gone from the repository
    write_file(path, stale, mode=0o600)
    rc, _, err = rad_enc.repo("list", expect_exit=EXIT_PASSPHRASE)
    assert "passphrase" in err.lower()
    with open(newpass, "rb") as f:
        write_file(rad_enc.passfile, f.read(), mode=0o600)
    assert [x["id"] for x in rad_enc.list()] == [b["id"]]
    with open(path, "rb") as f:
        assert f.read() != stale, "the cache was not renewed under the new key file"


def test_key_cache_off_and_not_private(rad_enc, workdir):
    os.makedirs(rad_enc.state_dir, exist_ok=True)
    rad_enc.list()
    files = key_cache_files(rad_enc)
    assert len(files) == 1
    path = os.path.join(rad_enc.state_dir, "key-cache", files[0])
    os.chmod(path, 0o644)                      # readable by others: never trusted
    _, _, err = rad_enc.repo("list")
    assert "not a private file" in err
    os.unlink(path)
    with open(rad_enc.cfg, "a") as f:
        f.write("key-cache = off\n")
    rad_enc.list()
    assert key_cache_files(rad_enc) == []
