"""radiant's object store through the command-line clients the guide uses:
awscli (s3api and s3, including the guide's delete-marker recovery and a
100 MB multipart round trip) and s3cmd."""

import hashlib
import json
import os

import pytest

from conftest import file_sha256, write_random_file
from objfixture import ObjStore

MiB = 1 << 20


@pytest.fixture(scope="module")
def store():
    s = ObjStore(buckets={"radiant-storage-production": {"versioning": "enabled"}})
    s.start()
    try:
        yield s
    finally:
        s.stop()
        s.close()


def test_guide_restore_deleted_objects(store):
    """dr-guide Scenario 4: find the delete markers under a prefix and delete
    them, which restores each object."""
    b = "radiant-storage-production"
    s3 = store.client()
    keys = ["deleted/path/a.txt", "deleted/path/sub/b.txt", "deleted/path/c d.txt"]
    want = open(store.config, "rb").read()
    for k in keys + ["kept/x"]:
        s3.put_object(Bucket=b, Key=k, Body=want)
    # the accident (through the CLI, as it would happen)
    store.aws("s3", "rm", "--recursive", "s3://%s/deleted/path/" % b)
    ls = s3.list_objects_v2(Bucket=b)
    assert [o["Key"] for o in ls.get("Contents", [])] == ["kept/x"]
    out = store.aws("s3api", "list-object-versions", "--bucket", b, "--prefix", "deleted/path/",
                    "--query", "DeleteMarkers[?IsLatest==`true`]").stdout
    markers = json.loads(out)
    assert sorted(m["Key"] for m in markers) == sorted(keys)
    for m in markers:
        store.aws("s3api", "delete-object", "--bucket", b, "--key", m["Key"], "--version-id",
                  m["VersionId"])
    for k in keys:
        assert s3.get_object(Bucket=b, Key=k)["Body"].read() == want
    assert json.loads(store.aws("s3api", "list-object-versions", "--bucket", b, "--prefix",
                                "deleted/path/", "--query",
                                "DeleteMarkers[?IsLatest==`true`]").stdout) in ([], None)


def test_aws_s3_cp_100mb_multipart(store):
    src = os.path.join(store.dir, "big.bin")
    write_random_file(src, 100 * MiB)
    store.aws("s3", "mb", "s3://cli-big")
    store.aws("s3", "cp", src, "s3://cli-big/backups/big.bin")
    head = json.loads(store.aws("s3api", "head-object", "--bucket", "cli-big", "--key",
                                "backups/big.bin").stdout)
    assert head["ContentLength"] == 100 * MiB
    assert head["ETag"].strip('"').endswith("-13")        # 8 MiB parts: multipart
    dst = os.path.join(store.dir, "big.back")
    store.aws("s3", "cp", "s3://cli-big/backups/big.bin", dst)
    assert file_sha256(dst) == file_sha256(src)
    out = store.aws("s3", "ls", "s3://cli-big/backups/").stdout
    assert "big.bin" in out and str(100 * MiB) in out
    store.aws("s3", "rm", "s3://cli-big/backups/big.bin")
    store.aws("s3", "rb", "s3://cli-big")
    os.unlink(src)
    os.unlink(dst)


def test_aws_s3api_misc(store):
    store.aws("s3api", "create-bucket", "--bucket", "cli-misc")
    store.aws("s3api", "put-bucket-versioning", "--bucket", "cli-misc",
              "--versioning-configuration", "Status=Enabled")
    v = json.loads(store.aws("s3api", "get-bucket-versioning", "--bucket", "cli-misc").stdout)
    assert v["Status"] == "Enabled"
    store.aws("s3api", "put-object", "--bucket", "cli-misc", "--key", "k", "--body",
              store.config)
    store.aws("s3api", "copy-object", "--bucket", "cli-misc", "--key", "k2", "--copy-source",
              "cli-misc/k")
    p = store.aws("s3api", "get-object", "--bucket", "cli-misc", "--key", "nope",
                  os.path.join(store.dir, "x"), check=False)
    assert p.returncode != 0 and "NoSuchKey" in p.stderr
    p = store.aws("s3api", "head-bucket", "--bucket", "cli-missing", check=False)
    assert p.returncode != 0 and "404" in p.stderr
    # sync of a small tree
    tree = os.path.join(store.dir, "tree")
    for i in range(5):
        os.makedirs(os.path.join(tree, "d%d" % (i % 2)), exist_ok=True)
        with open(os.path.join(tree, "d%d" % (i % 2), "f%d" % i), "wb") as f:
            f.write(os.urandom(1000 * i))
    store.aws("s3", "sync", tree, "s3://cli-misc/tree/")
    ls = json.loads(store.aws("s3api", "list-objects-v2", "--bucket", "cli-misc", "--prefix",
                              "tree/").stdout)
    assert len(ls["Contents"]) == 5


def test_s3cmd_put_get_ls(store):
    store.s3cmd("mb", "s3://cmd-bucket")
    src = os.path.join(store.dir, "cmd.bin")
    write_random_file(src, 3 * MiB + 5)
    store.s3cmd("put", src, "s3://cmd-bucket/dir/cmd.bin")
    out = store.s3cmd("ls", "s3://cmd-bucket/dir/").stdout
    assert "s3://cmd-bucket/dir/cmd.bin" in out
    assert "s3://cmd-bucket" in store.s3cmd("ls").stdout
    dst = os.path.join(store.dir, "cmd.back")
    store.s3cmd("get", "s3://cmd-bucket/dir/cmd.bin", dst)
    assert file_sha256(dst) == file_sha256(src)
    # s3cmd uploads files over 15 MiB in multipart chunks
    big = os.path.join(store.dir, "cmd-big.bin")
    write_random_file(big, 20 * MiB)
    store.s3cmd("put", big, "s3://cmd-bucket/big.bin")
    store.s3cmd("get", "s3://cmd-bucket/big.bin", big + ".back")
    assert file_sha256(big + ".back") == file_sha256(big)
    store.s3cmd("del", "s3://cmd-bucket/dir/cmd.bin")
    assert "cmd.bin" not in store.s3cmd("ls", "s3://cmd-bucket/dir/").stdout
