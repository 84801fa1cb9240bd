"""Proves the mini_s3 test fixture against real S3 clients: boto3/botocore and
the aws command line. If these pass, a failure of radiant's own S3 code
against mini_s3 is radiant's bug, not the fixture's.

Payload modes covered (see mini_s3.py): botocore signs the payload over plain
HTTP, so the default clients send a hex x-amz-content-sha256 (newer botocore
adds an x-amz-checksum-crc32 header, which the server verifies). The
"STREAMING-UNSIGNED-PAYLOAD-TRAILER" (aws-chunked) mode, which botocore uses
only over TLS, is forced through botocore's own code by flipping its checksum
location to "trailer"; "UNSIGNED-PAYLOAD" is produced by botocore's signer
with payload signing turned off. No client is configured to avoid these modes.
"""

import http.client
import json
import os
import shutil
import subprocess
import urllib.parse

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from s3fixture import mini_s3, start_mini_s3  # noqa: F401  (mini_s3 is a fixture)

REGION = "us-east-1"


def client(endpoint, ak, sk):
    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id=ak, aws_secret_access_key=sk,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))


def error_code(exc_info):
    return exc_info.value.response["Error"]["Code"]


def status_of(exc_info):
    return exc_info.value.response["ResponseMetadata"]["HTTPStatusCode"]


# ------------------------------------------------------------------ boto3 --

def test_objects_round_trip(mini_s3):
    s3 = client(*mini_s3)
    s3.create_bucket(Bucket="radiant-backups")
    s3.head_bucket(Bucket="radiant-backups")
    keys = ["data/ab/ab12", "a b$+c.txt", "ключ/é", "100%", "../escape", "dir/.", "~x"]
    for i, key in enumerate(keys):
        s3.put_object(Bucket="radiant-backups", Key=key, Body=b"value-%d" % i)
    for i, key in enumerate(keys):
        got = s3.get_object(Bucket="radiant-backups", Key=key)
        assert got["Body"].read() == b"value-%d" % i
        assert s3.head_object(Bucket="radiant-backups", Key=key)["ContentLength"] == 7
    listed = s3.list_objects_v2(Bucket="radiant-backups")
    assert [o["Key"] for o in listed["Contents"]] == sorted(keys)
    assert listed["KeyCount"] == len(keys)

    s3.put_object(Bucket="radiant-backups", Key="empty", Body=b"")
    assert s3.get_object(Bucket="radiant-backups", Key="empty")["Body"].read() == b""
    s3.put_object(Bucket="radiant-backups", Key="data/ab/ab12", Body=b"replaced")
    assert s3.get_object(Bucket="radiant-backups", Key="data/ab/ab12")["Body"].read() == b"replaced"

    s3.delete_object(Bucket="radiant-backups", Key="data/ab/ab12")
    s3.delete_object(Bucket="radiant-backups", Key="data/ab/ab12")   # missing: still 204
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="radiant-backups", Key="data/ab/ab12")
    assert error_code(e) == "NoSuchKey" and status_of(e) == 404
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="radiant-backups", Key="data/ab/ab12")
    assert status_of(e) == 404
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="no-such-bucket", Key="k", Body=b"x")
    assert error_code(e) == "NoSuchBucket"
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="no-such-bucket")
    assert status_of(e) == 404
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="radiant-backups")
    assert error_code(e) == "BucketAlreadyOwnedByYou"


def test_ranges(mini_s3):
    s3 = client(*mini_s3)
    s3.create_bucket(Bucket="ranges")
    s3.put_object(Bucket="ranges", Key="k", Body=b"0123456789")
    r = s3.get_object(Bucket="ranges", Key="k", Range="bytes=2-5")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert r["ContentRange"] == "bytes 2-5/10"
    assert r["Body"].read() == b"2345"
    assert s3.get_object(Bucket="ranges", Key="k", Range="bytes=7-")["Body"].read() == b"789"
    assert s3.get_object(Bucket="ranges", Key="k", Range="bytes=-3")["Body"].read() == b"789"
    assert s3.get_object(Bucket="ranges", Key="k", Range="bytes=8-100")["Body"].read() == b"89"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="ranges", Key="k", Range="bytes=10-")
    assert error_code(e) == "InvalidRange" and status_of(e) == 416


def test_list_pagination_prefix_delimiter(mini_s3):
    s3 = client(*mini_s3)
    s3.create_bucket(Bucket="listing")
    keys = ["p/a", "p/b", "p/c/1", "p/c/2", "p/d", "q/x", "p/e f"]
    for k in keys:
        s3.put_object(Bucket="listing", Key=k, Body=k.encode())

    pages = list(s3.get_paginator("list_objects_v2").paginate(
        Bucket="listing", Prefix="p/", PaginationConfig={"PageSize": 2}))
    got = [o["Key"] for p in pages for o in p.get("Contents", [])]
    assert got == sorted(k for k in keys if k.startswith("p/"))
    assert len(pages) == 3
    assert all(p["KeyCount"] == len(p.get("Contents", [])) for p in pages)
    assert pages[0]["IsTruncated"] and "NextContinuationToken" in pages[0]
    assert not pages[-1]["IsTruncated"]
    assert all(o["Size"] == len(o["Key"]) for p in pages for o in p["Contents"])

    r = s3.list_objects_v2(Bucket="listing", Prefix="p/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["p/a", "p/b", "p/d", "p/e f"]
    assert [c["Prefix"] for c in r["CommonPrefixes"]] == ["p/c/"]
    r = s3.list_objects_v2(Bucket="listing", StartAfter="p/d")
    assert [o["Key"] for o in r["Contents"]] == ["p/e f", "q/x"]
    r = s3.list_objects_v2(Bucket="listing", Prefix="nothing/")
    assert r["KeyCount"] == 0 and "Contents" not in r


def test_signature_is_verified(mini_s3):
    endpoint, ak, sk = mini_s3
    client(endpoint, ak, sk).create_bucket(Bucket="auth")
    with pytest.raises(ClientError) as e:
        client(endpoint, ak, sk + "x").put_object(Bucket="auth", Key="k", Body=b"x")
    assert error_code(e) == "SignatureDoesNotMatch" and status_of(e) == 403
    with pytest.raises(ClientError) as e:
        client(endpoint, "AKOTHER", sk).list_objects_v2(Bucket="auth")
    assert error_code(e) == "InvalidAccessKeyId"
    # Nothing was written by the refused request.
    assert client(endpoint, ak, sk).list_objects_v2(Bucket="auth")["KeyCount"] == 0


def signed_request(endpoint, ak, sk, method, path, body=b"", headers=None,
                   auth_cls=botocore.auth.S3SigV4Auth, context=None):
    """Signs with botocore's own SigV4 code, sends with http.client; returns
    (status, body)."""
    req = botocore.awsrequest.AWSRequest(method=method, url=endpoint + path, data=body,
                                         headers=headers or {})
    if context:
        req.context.update(context)
    auth_cls(botocore.credentials.Credentials(ak, sk), "s3", REGION).add_auth(req)
    return send(endpoint, req.prepare())


def send(endpoint, prepared, body=None):
    u = urllib.parse.urlsplit(endpoint)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    target = prepared.url[len(endpoint):]
    conn.request(prepared.method, target, body=prepared.body if body is None else body,
                 headers=dict(prepared.headers))
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    return resp.status, data


class UnsignedPayloadAuth(botocore.auth.S3SigV4Auth):
    # botocore turns payload signing off only over TLS; the test server is HTTP.
    def _should_sha256_sign_payload(self, request):
        return False


def server_log(tmp_path):
    return (tmp_path / "mini_s3" / "server.log").read_text()


def test_unsigned_payload_and_tampered_body(mini_s3, tmp_path):
    endpoint, ak, sk = mini_s3
    s3 = client(endpoint, ak, sk)
    s3.create_bucket(Bucket="modes")
    status, _ = signed_request(endpoint, ak, sk, "PUT", "/modes/unsigned", b"hello",
                               auth_cls=UnsignedPayloadAuth)
    assert status == 200
    assert s3.get_object(Bucket="modes", Key="unsigned")["Body"].read() == b"hello"
    assert "payload mode UNSIGNED-PAYLOAD" in server_log(tmp_path)

    # A signed payload hash must match the body actually sent.
    req = botocore.awsrequest.AWSRequest(method="PUT", url=endpoint + "/modes/tampered",
                                         data=b"hello")
    botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(ak, sk), "s3",
                              REGION).add_auth(req)
    status, data = send(endpoint, req.prepare(), body=b"HELLO")
    assert status == 400 and b"XAmzContentSHA256Mismatch" in data
    status, data = signed_request(endpoint, ak, sk, "GET", "/modes?list-type=2")
    assert status == 200 and b"tampered" not in data


def test_streaming_trailer_checksum(mini_s3, tmp_path):
    """botocore's aws-chunked upload with an x-amz-checksum-crc32 trailer."""
    endpoint, ak, sk = mini_s3
    s3 = client(endpoint, ak, sk)
    s3.create_bucket(Bucket="chunked")

    def use_trailer(params, **kwargs):
        # What botocore decides by itself on an https endpoint.
        params["context"]["checksum"]["request_algorithm"]["in"] = "trailer"

    s3.meta.events.register("before-call.s3.PutObject", use_trailer)
    body = os.urandom(200_000)
    s3.put_object(Bucket="chunked", Key="big", Body=body, ChecksumAlgorithm="CRC32")
    s3.meta.events.unregister("before-call.s3.PutObject", use_trailer)
    assert s3.get_object(Bucket="chunked", Key="big")["Body"].read() == body
    assert "payload mode STREAMING-UNSIGNED-PAYLOAD-TRAILER" in server_log(tmp_path)

    # Header checksums (what botocore sends over plain HTTP) are verified too.
    s3.put_object(Bucket="chunked", Key="sha", Body=b"abc", ChecksumAlgorithm="SHA256")
    status, data = signed_request(endpoint, ak, sk, "PUT", "/chunked/bad", b"abc",
                                  headers={"x-amz-checksum-crc32": "AAAAAA=="})
    assert status == 400 and b"BadDigest" in data


def test_fixture_stops_server_by_pid(tmp_path):
    endpoint, ak, sk, stop = start_mini_s3(tmp_path)
    s3 = client(endpoint, ak, sk)
    s3.create_bucket(Bucket="stopped")
    stop()
    with pytest.raises(Exception):
        s3.head_bucket(Bucket="stopped")
    stop()  # idempotent


# ------------------------------------------------------------- aws CLI --

def aws_binaries():
    found = []
    for path in ("/usr/bin/aws", shutil.which("aws")):
        if path and os.path.exists(path) and os.path.realpath(path) not in \
                [os.path.realpath(p) for p in found]:
            found.append(path)
    return found


@pytest.mark.parametrize("aws", aws_binaries() or [pytest.param(None, marks=pytest.mark.skip(
    reason="no aws command line installed"))])
def test_aws_cli(mini_s3, tmp_path, aws):
    endpoint, ak, sk = mini_s3
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "AWS_ACCESS_KEY_ID": ak,
        "AWS_SECRET_ACCESS_KEY": sk,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "no-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
    }
    if "PYENV_ROOT" in os.environ:
        env["PYENV_ROOT"] = os.environ["PYENV_ROOT"]

    def run(*args, check=True, secret=None):
        e = dict(env)
        if secret:
            e["AWS_SECRET_ACCESS_KEY"] = secret
        p = subprocess.run([aws, "--endpoint-url", endpoint, "--output", "json", *args],
                           env=e, capture_output=True, text=True, timeout=120)
        if check:
            assert p.returncode == 0, p.stderr
        return p

    src = tmp_path / "src.bin"
    src.write_bytes(b"0123456789" * 1000)
    run("s3api", "create-bucket", "--bucket", "cli-bucket")
    run("s3api", "put-object", "--bucket", "cli-bucket", "--key", "dir/a b$.bin",
        "--body", str(src))
    run("s3api", "put-object", "--bucket", "cli-bucket", "--key", "dir/sub/c", "--body", str(src))
    run("s3api", "put-object", "--bucket", "cli-bucket", "--key", "other", "--body", str(src))

    out = tmp_path / "out.bin"
    run("s3api", "get-object", "--bucket", "cli-bucket", "--key", "dir/a b$.bin",
        "--range", "bytes=5-14", str(out))
    assert out.read_bytes() == b"5678901234"
    run("s3api", "get-object", "--bucket", "cli-bucket", "--key", "dir/a b$.bin", str(out))
    assert out.read_bytes() == src.read_bytes()

    listed = json.loads(run("s3api", "list-objects-v2", "--bucket", "cli-bucket",
                            "--prefix", "dir/").stdout)
    assert [(o["Key"], o["Size"]) for o in listed["Contents"]] == [
        ("dir/a b$.bin", 10000), ("dir/sub/c", 10000)]
    paged = json.loads(run("s3api", "list-objects-v2", "--bucket", "cli-bucket",
                           "--page-size", "1").stdout)
    assert [o["Key"] for o in paged["Contents"]] == ["dir/a b$.bin", "dir/sub/c", "other"]
    head = json.loads(run("s3api", "head-object", "--bucket", "cli-bucket",
                          "--key", "other").stdout)
    assert head["ContentLength"] == 10000

    run("s3api", "delete-object", "--bucket", "cli-bucket", "--key", "other")
    p = run("s3api", "head-object", "--bucket", "cli-bucket", "--key", "other", check=False)
    assert p.returncode != 0 and "404" in p.stderr
    p = run("s3api", "get-object", "--bucket", "cli-bucket", "--key", "other", str(out),
            check=False)
    assert p.returncode != 0 and "NoSuchKey" in p.stderr
    p = run("s3api", "put-object", "--bucket", "cli-bucket", "--key", "x", "--body", str(src),
            check=False, secret=sk + "wrong")
    assert p.returncode != 0 and "SignatureDoesNotMatch" in p.stderr
