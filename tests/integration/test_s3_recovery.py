"""Integration tests of `radiant s3` (docs/cli.md "radiant s3"): the access-key
commands, and undelete / restore-to-time against a real S3 server.

The recovery tests run against radiant's own object store (`radiant serve`
with [objectstore] listen), set up versions and delete markers with boto3 and
check the result with boto3. Also: the key commands, and the errors
(unreachable endpoint, missing bucket against tests/integration/mini_s3.py,
bad time, no endpoint).
"""
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from conftest import BIN, EXIT_NETWORK, EXIT_NOT_FOUND, EXIT_USAGE, Radiant, write_file
from objfixture import body, exists, versions
from s3fixture import mini_s3  # noqa: F401 (a fixture)

BUCKET = "radiant-storage-production"
CONFIG_KEY = "AKIACONFIGKEY0000001"
CONFIG_SECRET = "cfgSecretCfgSecretCfgSecretCfgSecret0123"
SERVE_READY_S = 10


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL",
           "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION")


class S3Radiant(Radiant):
    """Runs radiant with the AWS_* variables of the caller's environment
    blanked (radiant treats an empty one as unset), so only what a test
    passes counts."""

    def run(self, args, env=None, **kw):
        full = {k: "" for k in AWS_ENV}
        full.update(env or {})
        return super().run(args, env=full, **kw)


def make_config(workdir, port):
    """A radiant with its object store on 127.0.0.1:port, one configured
    access key and one versioned bucket. Run as root, radiant works as the
    run-as user (postgres): it must reach the work dir and read the secret."""
    os.chmod(workdir, 0o755)
    rad = S3Radiant(workdir)
    secret = os.path.join(workdir, "ak.secret")
    write_file(secret, CONFIG_SECRET.encode() + b"\n", mode=0o600)
    if os.geteuid() == 0:
        shutil.chown(secret, "postgres", "postgres")
    write_file(rad.cfg, "\n".join([
        "[radiant]", f"state-dir = {rad.state_dir}", "",
        "[objectstore]", f"listen = 127.0.0.1:{port}", "",
        f"[access-key {CONFIG_KEY}]", f"secret-access-key-file = {secret}", "",
        f"[bucket {BUCKET}]", "versioning = enabled", ""]).encode())
    os.chmod(rad.cfg, 0o644)
    rad.port = port
    rad.endpoint = f"http://127.0.0.1:{port}"
    return rad


def answers_s3(port):
    """Any HTTP answer (an S3 error document for an unsigned request is
    fine) means a server is there."""
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
    except urllib.error.HTTPError:
        return True
    except (urllib.error.URLError, OSError):
        return False
    return True


def start_serve(rad):
    """Starts `radiant serve`; returns (process, answering). The process is
    left running either way; stop it with stop_serve."""
    log = open(os.path.join(rad.workdir, "serve.log"), "ab")
    env = dict(os.environ)
    env.pop("RADIANT_CONFIG", None)
    p = subprocess.Popen([rad.bin, "--config", rad.cfg, "serve"], stdout=log, stderr=log,
                         stdin=subprocess.DEVNULL, env=env)
    log.close()
    deadline = time.monotonic() + SERVE_READY_S
    while time.monotonic() < deadline and p.poll() is None:
        if answers_s3(rad.port):
            return p, True
        time.sleep(0.1)
    return p, False


def stop_serve(p):
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@pytest.fixture
def server(workdir):
    rad = make_config(workdir, free_port())
    p, answering = start_serve(rad)
    try:
        assert answering, "radiant serve did not answer S3 within %d s" % SERVE_READY_S
        yield rad
    finally:
        stop_serve(p)


def boto(rad, key_id=CONFIG_KEY, secret=CONFIG_SECRET):
    import boto3
    from botocore.config import Config
    return boto3.client("s3", endpoint_url=rad.endpoint, region_name="us-east-1",
                        aws_access_key_id=key_id, aws_secret_access_key=secret,
                        config=Config(s3={"addressing_style": "path"},
                                      retries={"max_attempts": 1}))


# ----------------------------------------------------------- access keys --

@pytest.fixture
def keyrad(workdir):
    return make_config(workdir, free_port())


def test_access_key_lifecycle(keyrad):
    _, doc, _ = keyrad.run(["s3", "create-access-key"])
    key = doc["AccessKey"]
    assert set(key) >= {"AccessKeyId", "SecretAccessKey", "Status", "CreateDate"}
    assert key["Status"] == "Active"
    assert key["AccessKeyId"].startswith("AKIA") and len(key["AccessKeyId"]) == 20
    assert len(key["SecretAccessKey"]) == 40
    assert key["CreateDate"].endswith("Z")

    _, doc, _ = keyrad.run(["s3", "list-access-keys"])
    listed = {k["AccessKeyId"]: k for k in doc["AccessKeyMetadata"]}
    assert listed[CONFIG_KEY]["Source"] == "config"
    assert listed[key["AccessKeyId"]]["Source"] == "catalog"
    assert listed[key["AccessKeyId"]]["CreateDate"] == key["CreateDate"]
    assert all("SecretAccessKey" not in k for k in doc["AccessKeyMetadata"])

    _, doc, _ = keyrad.run(["s3", "delete-access-key", "--access-key-id", key["AccessKeyId"]])
    assert doc == {"AccessKey": {"AccessKeyId": key["AccessKeyId"], "Status": "Deleted"}}
    _, doc, _ = keyrad.run(["s3", "list-access-keys"])
    assert [k["AccessKeyId"] for k in doc["AccessKeyMetadata"]] == [CONFIG_KEY]


def test_access_key_errors(keyrad):
    _, _, err = keyrad.run(["s3", "delete-access-key", "--access-key-id", CONFIG_KEY],
                           expect_exit=EXIT_USAGE)
    assert "remove it there" in err
    keyrad.run(["s3", "delete-access-key", "--access-key-id", "AKIANOSUCHKEY0000000"],
               expect_exit=EXIT_NOT_FOUND)
    keyrad.run(["s3", "delete-access-key"], expect_exit=EXIT_USAGE)
    keyrad.run(["s3", "create-access-key", "--bucket", "x"], expect_exit=EXIT_USAGE)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to check the run-as ownership")
def test_access_key_catalog_belongs_to_run_as_user(keyrad):
    keyrad.run(["s3", "create-access-key"])
    import pwd
    owner = pwd.getpwuid(os.stat(os.path.join(keyrad.state_dir, "catalog.db")).st_uid).pw_name
    assert owner == "postgres"


# ---------------------------------------------------- errors, no server --

def test_unreachable_endpoint(keyrad):
    port = free_port()
    for cmd in (["undelete"], ["restore-to-time", "--time", "2024-12-24T10:30:00Z"]):
        _, _, err = keyrad.run(["s3"] + cmd + ["--bucket", BUCKET, "--prefix", "p/",
                                               "--endpoint-url", f"http://127.0.0.1:{port}",
                                               "--access-key-id", CONFIG_KEY],
                               expect_exit=EXIT_NETWORK)
        assert "cannot reach" in err


def test_own_server_not_running_is_network_error(keyrad):
    # No --endpoint-url: [objectstore] listen and the first [access-key].
    keyrad.run(["s3", "undelete", "--bucket", BUCKET, "--prefix", ""], expect_exit=EXIT_NETWORK)


def test_bad_arguments(keyrad):
    _, _, err = keyrad.run(["s3", "restore-to-time", "--bucket", BUCKET, "--prefix", "p/",
                            "--time", "2024-12-24 10:30"], expect_exit=EXIT_USAGE)
    assert "ISO 8601" in err
    keyrad.run(["s3", "restore-to-time", "--bucket", BUCKET, "--prefix", "p/"],
               expect_exit=EXIT_USAGE)
    keyrad.run(["s3", "undelete", "--prefix", "p/"], expect_exit=EXIT_USAGE)
    keyrad.run(["s3", "undelete", "--bucket", BUCKET], expect_exit=EXIT_USAGE)
    keyrad.run(["s3", "undelete", "--bucket", BUCKET, "--prefix", "p/", "--time",
                "2024-12-24T10:30:00Z"], expect_exit=EXIT_USAGE)


def test_no_endpoint_without_config(workdir):
    rad = S3Radiant(workdir)   # a configuration without [objectstore]
    _, _, err = rad.run(["s3", "undelete", "--bucket", BUCKET, "--prefix", "p/"],
                        expect_exit=EXIT_USAGE)
    assert "--endpoint-url" in err


def test_missing_bucket_is_not_found(keyrad, mini_s3):  # noqa: F811
    endpoint, ak, sk = mini_s3
    env = {"AWS_ACCESS_KEY_ID": ak, "AWS_SECRET_ACCESS_KEY": sk}
    _, _, err = keyrad.run(["s3", "undelete", "--bucket", "no-such-bucket", "--prefix", "",
                            "--endpoint-url", endpoint], env=env, expect_exit=EXIT_NOT_FOUND)
    assert "NoSuchBucket" in err


# ------------------------------------------------- against the server --

def test_undelete(server):
    s3 = boto(server)
    s3.put_object(Bucket=BUCKET, Key="p/a", Body=b"a1")
    s3.delete_object(Bucket=BUCKET, Key="p/a")
    s3.delete_object(Bucket=BUCKET, Key="p/a")          # two markers stacked
    s3.put_object(Bucket=BUCKET, Key="p/b", Body=b"b1")
    s3.put_object(Bucket=BUCKET, Key="p/b", Body=b"b2")
    s3.delete_object(Bucket=BUCKET, Key="p/b")
    s3.put_object(Bucket=BUCKET, Key="p/live", Body=b"live")
    s3.delete_object(Bucket=BUCKET, Key="p/only-markers")  # a marker, never data
    s3.put_object(Bucket=BUCKET, Key="q/other", Body=b"x")
    s3.delete_object(Bucket=BUCKET, Key="q/other")
    before = versions(s3, BUCKET, "")

    _, plan, _ = server.run(["s3", "undelete", "--bucket", BUCKET, "--prefix", "p/",
                             "--dry-run"])
    assert plan["DryRun"] is True
    assert versions(s3, BUCKET, "") == before

    _, doc, _ = server.run(["s3", "undelete", "--bucket", BUCKET, "--prefix", "p/"])
    assert doc["DryRun"] is False and doc["Failed"] == []
    assert [u["Key"] for u in doc["Undeleted"]] == ["p/a", "p/b"]
    assert [u["Key"] for u in plan["Undeleted"]] == ["p/a", "p/b"]
    assert len(doc["Undeleted"][0]["DeleteMarkersRemoved"]) == 2
    assert [s["Key"] for s in doc["Skipped"]] == ["p/only-markers"]
    assert body(s3, BUCKET, "p/a") == b"a1" and body(s3, BUCKET, "p/b") == b"b2"
    current = {v["Key"]: v["VersionId"] for v in
               s3.list_object_versions(Bucket=BUCKET, Prefix="p/")["Versions"] if v["IsLatest"]}
    assert doc["Undeleted"][1]["VersionId"] == current["p/b"]
    assert not exists(s3, BUCKET, "q/other")                  # outside the prefix

    # Nothing left to do: a second run changes nothing.
    _, doc, _ = server.run(["s3", "undelete", "--bucket", BUCKET, "--prefix", "p/"])
    assert doc["Undeleted"] == []

    p = subprocess.run([server.bin, "--config", server.cfg, "s3", "undelete", "--bucket",
                        BUCKET, "--prefix", "q/"], stdout=subprocess.PIPE)
    assert p.returncode == 0
    assert p.stdout.decode().startswith("undeleted q/other (version ")


def test_restore_to_time(server):
    s3 = boto(server)
    s3.put_object(Bucket=BUCKET, Key="d/overwritten", Body=b"old")
    s3.put_object(Bucket=BUCKET, Key="d/deleted", Body=b"keep me")
    s3.put_object(Bucket=BUCKET, Key="d/same", Body=b"same")
    s3.put_object(Bucket=BUCKET, Key="d/recreated", Body=b"first")
    s3.delete_object(Bucket=BUCKET, Key="d/recreated")
    listing = s3.list_object_versions(Bucket=BUCKET, Prefix="d/")
    t = max(e["LastModified"] for e in listing["Versions"] + listing["DeleteMarkers"])
    when = t.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t.microsecond // 1000)
    time.sleep(1.1)     # servers that keep whole seconds must not tie with T
    s3.put_object(Bucket=BUCKET, Key="d/overwritten", Body=b"new")
    s3.delete_object(Bucket=BUCKET, Key="d/deleted")
    s3.put_object(Bucket=BUCKET, Key="d/created", Body=b"after T")
    s3.put_object(Bucket=BUCKET, Key="d/recreated", Body=b"second")
    n_before = len(versions(s3, BUCKET, "d/"))

    args = ["s3", "restore-to-time", "--bucket", BUCKET, "--prefix", "d/", "--time", when]
    _, plan, _ = server.run(args + ["--dry-run"])
    assert len(versions(s3, BUCKET, "d/")) == n_before

    _, doc, _ = server.run(args)
    assert doc["Failed"] == []
    assert sorted(r["Key"] for r in doc["Restored"]) == ["d/deleted", "d/overwritten"]
    assert sorted(d["Key"] for d in doc["Deleted"]) == ["d/created", "d/recreated"]
    assert doc["Unchanged"] == 1
    assert ({r["Key"] for r in plan["Restored"]}, {d["Key"] for d in plan["Deleted"]}) == \
        ({r["Key"] for r in doc["Restored"]}, {d["Key"] for d in doc["Deleted"]})
    assert body(s3, BUCKET, "d/overwritten") == b"old"
    assert body(s3, BUCKET, "d/deleted") == b"keep me"
    assert body(s3, BUCKET, "d/same") == b"same"
    assert not exists(s3, BUCKET, "d/created") and not exists(s3, BUCKET, "d/recreated")
    # History kept: two copies and two markers were added, nothing removed.
    assert len(versions(s3, BUCKET, "d/")) == n_before + 4

    _, again, _ = server.run(args)
    assert again["Restored"] == [] and again["Deleted"] == [] and again["Unchanged"] == 5


def test_created_key_works_for_sigv4(server):
    _, doc, _ = server.run(["s3", "create-access-key"])
    key_id, secret = doc["AccessKey"]["AccessKeyId"], doc["AccessKey"]["SecretAccessKey"]
    s3 = boto(server, key_id, secret)
    s3.head_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="k/x", Body=b"x")
    # radiant finds the secret of its own key in the catalog.
    server.run(["s3", "undelete", "--bucket", BUCKET, "--prefix", "k/", "--access-key-id",
                key_id])
    server.run(["s3", "delete-access-key", "--access-key-id", key_id])
    with pytest.raises(Exception) as e:
        boto(server, key_id, secret).head_bucket(Bucket=BUCKET)
    assert "403" in str(e.value) or "InvalidAccessKeyId" in str(e.value)


def test_missing_bucket_on_own_server(server):
    server.run(["s3", "undelete", "--bucket", "no-such-bucket", "--prefix", ""],
               expect_exit=EXIT_NOT_FOUND)


def test_help_lists_s3():
    out = subprocess.run([BIN, "help", "s3"], stdout=subprocess.PIPE).stdout.decode()
    for cmd in ("undelete", "restore-to-time", "create-access-key", "delete-access-key",
                "list-access-keys"):
        assert cmd in out
    out = subprocess.run([BIN, "help", "s3", "restore-to-time"],
                         stdout=subprocess.PIPE).stdout.decode()
    assert "--endpoint-url" in out and "--dry-run" in out and "inclusive" in out
