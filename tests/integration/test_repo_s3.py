"""The repository engine on the S3 storage driver, end to end, against the
mini_s3 test server (real SigV4 verification) on loopback: init, backup,
restore byte-identical, check --read-data, forget + prune, and the errors a
user can cause (wrong secret, missing bucket, unreachable endpoint)."""

import hashlib
import json
import os
import socket
import subprocess

import boto3
import pytest
from botocore.config import Config

from s3fixture import start_mini_s3

HERE = os.path.dirname(os.path.abspath(__file__))
RADIANT = os.environ.get("RADIANT_BIN",
                         os.path.join(HERE, "..", "..", "build", "radiant"))


def digest(root):
    out = {}
    for base, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(base, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            if os.path.islink(path):
                out[rel] = ("link", os.readlink(path))
            elif os.path.isdir(path):
                out[rel] = ("dir", st.st_mode & 0o7777)
            else:
                with open(path, "rb") as f:
                    out[rel] = ("file", st.st_mode & 0o7777, int(st.st_mtime),
                                hashlib.sha256(f.read()).hexdigest())
    return out


class Env:
    def __init__(self, tmp_path, endpoint, ak, sk, bucket="radiant-backups-dr",
                 prefix="prod/db"):
        self.tmp = tmp_path
        (tmp_path / "secret").write_text(sk + "\n")
        (tmp_path / "pass").write_text("correct horse battery staple\n")
        self.config = tmp_path / "radiant.conf"
        self.config.write_text(
            "[radiant]\nstate-dir = state\n\n"
            "[repo dr]\ntype = s3\nendpoint = %s\nregion = us-west-2\nbucket = %s\n"
            "prefix = %s\naccess-key-id = %s\nsecret-access-key-file = secret\n"
            "passphrase-file = pass\n" % (endpoint, bucket, prefix, ak))

    def run(self, *args, expect=0):
        proc = subprocess.run([RADIANT, "--config", str(self.config), "--output", "json"]
                              + list(args), capture_output=True, text=True, timeout=300,
                              stdin=subprocess.DEVNULL)
        assert proc.returncode == expect, (args, proc.returncode, proc.stderr)
        if expect != 0:
            assert proc.stdout == ""
            assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
            return json.loads(proc.stderr)["error"]
        return json.loads(proc.stdout) if proc.stdout.strip() else None


@pytest.fixture
def s3(tmp_path):
    endpoint, ak, sk, stop = start_mini_s3(tmp_path)
    client = boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=ak,
                          aws_secret_access_key=sk, region_name="us-west-2",
                          config=Config(s3={"addressing_style": "path"}))
    client.create_bucket(Bucket="radiant-backups-dr")
    yield endpoint, ak, sk, client
    stop()


def make_tree(root):
    (root / "base" / "16384").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "base" / "16384" / "1259").write_bytes(os.urandom(3 * 1024 * 1024) + b"x" * 500000)
    (root / "PG_VERSION").write_text("15\n")
    (root / "name with spaces ü").write_text("utf-8\n")
    os.chmod(root / "PG_VERSION", 0o600)
    os.symlink("PG_VERSION", root / "link")


def test_s3_repository_round_trip(tmp_path, s3):
    endpoint, ak, sk, client = s3
    env = Env(tmp_path, endpoint, ak, sk)
    src = tmp_path / "src"
    make_tree(src)
    info = env.run("repo", "init", "--repo", "dr")["repo"]
    assert info["encrypted"] is True
    assert info["location"].startswith("s3://radiant-backups-dr/prod/db")
    first = env.run("repo", "backup-dir", "--repo", "dr", "--path", str(src))["backup"]
    assert first["files"] == 3 and first["new_stored_bytes"] > 0
    # Every object lives under the prefix, none holds the plaintext marker.
    keys = [o["Key"] for o in client.list_objects_v2(Bucket="radiant-backups-dr")["Contents"]]
    assert keys and all(k.startswith("prod/db/") for k in keys)
    (src / "PG_VERSION").write_text("16\n")
    second = env.run("repo", "backup-dir", "--repo", "dr", "--path", str(src))["backup"]
    assert second["new_raw_bytes"] < 100000
    listed = env.run("repo", "list", "--repo", "dr")["backups"]
    assert [b["id"] for b in listed] == [first["id"], second["id"]]
    out = tmp_path / "out"
    env.run("repo", "restore-dir", "--repo", "dr", "--backup", second["id"], "--target", str(out))
    assert digest(out) == digest(src)
    check = env.run("repo", "check", "--repo", "dr", "--read-data")["check"]
    assert check["ok"] and check["chunks_checked"] > 0
    env.run("repo", "forget", "--repo", "dr", "--backup", first["id"])
    env.run("repo", "prune", "--repo", "dr")
    out2 = tmp_path / "out2"
    env.run("repo", "restore-dir", "--repo", "dr", "--backup", "latest", "--target", str(out2))
    assert digest(out2) == digest(src)
    assert env.run("repo", "check", "--repo", "dr", "--read-data")["check"]["ok"]


def test_s3_errors(tmp_path, s3):
    endpoint, ak, sk, client = s3
    env = Env(tmp_path, endpoint, ak, sk)
    err = env.run("repo", "list", "--repo", "dr", expect=4)
    assert "repo init" in err["message"]
    env.run("repo", "init", "--repo", "dr")
    assert env.run("repo", "init", "--repo", "dr", expect=10)["code"] == "exists"

    (tmp_path / "w").mkdir()
    wrong = Env(tmp_path / "w", endpoint, ak, sk + "x")
    err = wrong.run("repo", "list", "--repo", "dr", expect=9)
    assert "SignatureDoesNotMatch" in err["message"]

    (tmp_path / "nb").mkdir()
    missing = Env(tmp_path / "nb", endpoint, ak, sk, bucket="no-such-bucket")
    err = missing.run("repo", "init", "--repo", "dr", expect=4)
    assert "no-such-bucket" in err["message"]

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "down").mkdir()
    down = Env(tmp_path / "down", "http://127.0.0.1:%d" % port, ak, sk)
    err = down.run("repo", "list", "--repo", "dr", expect=9)
    assert "127.0.0.1:%d" % port in err["message"]
