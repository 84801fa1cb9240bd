"""The S3 API of `radiant serve` (src/objstore/server.c, ops_*.c) through boto3:
every supported operation, the S3 errors clients rely on, presigned URLs,
virtual-host addressing and conditional requests. One server for the module;
each test uses its own buckets."""

import datetime
import hashlib
import hmac
import http.client
import time
import os
import socket
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from objfixture import ACCESS_KEY, SECRET_KEY, ObjStore

MiB = 1 << 20


@pytest.fixture(scope="module")
def store():
    s = ObjStore(buckets={"radiant-config-bucket": {"versioning": "enabled",
                                                    "noncurrent-version-expiration-days": "90"}})
    s.start()
    try:
        yield s
    finally:
        s.stop()
        s.close()


@pytest.fixture(scope="module")
def s3(store):
    return store.client()


def code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_buckets(s3):
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert "radiant-config-bucket" in names          # from [bucket NAME]
    s3.create_bucket(Bucket="api-buckets")
    s3.create_bucket(Bucket="api-buckets-2",
                     CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    s3.head_bucket(Bucket="api-buckets")
    assert s3.get_bucket_location(Bucket="api-buckets").get("LocationConstraint") is None
    with pytest.raises(ClientError) as e:
        s3.create_bucket(Bucket="api-buckets")
    assert code(e) == "BucketAlreadyOwnedByYou"
    s3.put_object(Bucket="api-buckets", Key="x", Body=b"x")
    with pytest.raises(ClientError) as e:
        s3.delete_bucket(Bucket="api-buckets")
    assert code(e) == "BucketNotEmpty" and status(e) == 409
    s3.delete_object(Bucket="api-buckets", Key="x")
    s3.delete_bucket(Bucket="api-buckets")
    s3.delete_bucket(Bucket="api-buckets-2")
    with pytest.raises(ClientError) as e:
        s3.head_bucket(Bucket="api-buckets")
    assert status(e) == 404
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="api-buckets")
    assert code(e) == "NoSuchBucket"


def test_versioning_and_lifecycle_config(s3):
    assert s3.get_bucket_versioning(Bucket="radiant-config-bucket")["Status"] == "Enabled"
    rules = s3.get_bucket_lifecycle_configuration(Bucket="radiant-config-bucket")["Rules"]
    assert rules[0]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 90
    s3.create_bucket(Bucket="api-versioning")
    assert "Status" not in s3.get_bucket_versioning(Bucket="api-versioning")
    s3.put_bucket_versioning(Bucket="api-versioning",
                             VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket="api-versioning")["Status"] == "Enabled"
    s3.put_bucket_versioning(Bucket="api-versioning",
                             VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket="api-versioning")["Status"] == "Suspended"
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="api-versioning")
    assert code(e) == "NoSuchLifecycleConfiguration"
    s3.put_bucket_lifecycle_configuration(Bucket="api-versioning", LifecycleConfiguration={
        "Rules": [{"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
                   "Expiration": {"Days": 30}},
                  {"Status": "Enabled", "Filter": {"Prefix": ""},
                   "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
                   "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}]})
    rules = s3.get_bucket_lifecycle_configuration(Bucket="api-versioning")["Rules"]
    assert rules[0]["ID"] == "logs" and rules[0]["Expiration"]["Days"] == 30
    assert rules[1]["ID"] and rules[1]["NoncurrentVersionExpiration"]["NoncurrentDays"] == 7
    with pytest.raises(ClientError) as e:
        s3.put_bucket_lifecycle_configuration(Bucket="api-versioning", LifecycleConfiguration={
            "Rules": [{"ID": "bad", "Status": "Enabled", "Filter": {"Prefix": ""},
                       "Expiration": {"Days": 0}}]})
    assert status(e) == 400
    s3.delete_bucket_lifecycle(Bucket="api-versioning")
    with pytest.raises(ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="api-versioning")
    assert code(e) == "NoSuchLifecycleConfiguration"


def test_put_get_head_delete(s3):
    s3.create_bucket(Bucket="api-objects")
    body = os.urandom(3 * MiB + 17)
    r = s3.put_object(Bucket="api-objects", Key="dir/ünïcode key+plus %.bin", Body=body,
                      ContentType="application/x-test", Metadata={"Owner": "radiant"},
                      CacheControl="no-cache", ContentDisposition="attachment")
    assert r["ETag"] == '"%s"' % hashlib.md5(body).hexdigest()
    assert "VersionId" not in r
    o = s3.get_object(Bucket="api-objects", Key="dir/ünïcode key+plus %.bin")
    assert o["Body"].read() == body
    assert o["ContentType"] == "application/x-test"
    assert o["Metadata"] == {"owner": "radiant"}
    assert o["CacheControl"] == "no-cache" and o["ContentDisposition"] == "attachment"
    assert o["AcceptRanges"] == "bytes"
    h = s3.head_object(Bucket="api-objects", Key="dir/ünïcode key+plus %.bin")
    assert h["ContentLength"] == len(body) and h["ETag"] == r["ETag"]
    # ranges
    g = s3.get_object(Bucket="api-objects", Key="dir/ünïcode key+plus %.bin",
                      Range="bytes=100-199")
    assert g["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert g["ContentRange"] == "bytes 100-199/%d" % len(body)
    assert g["Body"].read() == body[100:200]
    assert s3.get_object(Bucket="api-objects", Key="dir/ünïcode key+plus %.bin",
                         Range="bytes=-10")["Body"].read() == body[-10:]
    assert s3.get_object(Bucket="api-objects", Key="dir/ünïcode key+plus %.bin",
                         Range="bytes=%d-" % (len(body) - 5))["Body"].read() == body[-5:]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="api-objects", Key="dir/ünïcode key+plus %.bin",
                      Range="bytes=%d-" % len(body))
    assert code(e) == "InvalidRange" and status(e) == 416
    # empty object, Content-MD5
    s3.put_object(Bucket="api-objects", Key="empty", Body=b"")
    assert s3.get_object(Bucket="api-objects", Key="empty")["Body"].read() == b""
    import base64
    good = base64.b64encode(hashlib.md5(b"abc").digest()).decode()
    s3.put_object(Bucket="api-objects", Key="md5", Body=b"abc", ContentMD5=good)
    bad = base64.b64encode(hashlib.md5(b"abd").digest()).decode()
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="api-objects", Key="md5", Body=b"abc", ContentMD5=bad)
    assert code(e) == "BadDigest"
    assert s3.get_object(Bucket="api-objects", Key="md5")["Body"].read() == b"abc"
    # delete
    s3.delete_object(Bucket="api-objects", Key="md5")
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="api-objects", Key="md5")
    assert code(e) == "NoSuchKey" and status(e) == 404
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="api-objects", Key="md5")
    assert status(e) == 404
    s3.delete_object(Bucket="api-objects", Key="never-existed")     # S3: 204 anyway


def test_conditional_requests(s3):
    s3.create_bucket(Bucket="api-conditional")
    etag = s3.put_object(Bucket="api-conditional", Key="k", Body=b"data")["ETag"]
    mtime = s3.head_object(Bucket="api-conditional", Key="k")["LastModified"]
    later = mtime + datetime.timedelta(hours=1)
    earlier = mtime - datetime.timedelta(hours=1)
    get = lambda **kw: s3.get_object(Bucket="api-conditional", Key="k", **kw)
    assert get(IfMatch=etag)["Body"].read() == b"data"
    assert get(IfNoneMatch='"other"')["Body"].read() == b"data"
    assert get(IfModifiedSince=earlier)["Body"].read() == b"data"
    assert get(IfUnmodifiedSince=later)["Body"].read() == b"data"
    with pytest.raises(ClientError) as e:
        get(IfMatch='"other"')
    assert status(e) == 412 and code(e) == "PreconditionFailed"
    with pytest.raises(ClientError) as e:
        get(IfUnmodifiedSince=earlier)
    assert status(e) == 412
    with pytest.raises(ClientError) as e:
        get(IfNoneMatch=etag)
    assert status(e) == 304
    with pytest.raises(ClientError) as e:
        get(IfModifiedSince=later)
    assert status(e) == 304
    # S3 precedence: If-Match true wins over If-Unmodified-Since false;
    # If-None-Match false (304) wins over If-Modified-Since true.
    assert get(IfMatch=etag, IfUnmodifiedSince=earlier)["Body"].read() == b"data"
    with pytest.raises(ClientError) as e:
        get(IfNoneMatch=etag, IfModifiedSince=earlier)
    assert status(e) == 304
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="api-conditional", Key="k", IfMatch='"other"')
    assert status(e) == 412


def test_versions(s3):
    s3.create_bucket(Bucket="api-versions")
    s3.put_bucket_versioning(Bucket="api-versions", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="api-versions", Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket="api-versions", Key="doc", Body=b"two")["VersionId"]
    assert v1 != v2
    assert s3.get_object(Bucket="api-versions", Key="doc", VersionId=v1)["Body"].read() == b"one"
    d = s3.delete_object(Bucket="api-versions", Key="doc")
    assert d["DeleteMarker"] is True
    marker = d["VersionId"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="api-versions", Key="doc")
    assert code(e) == "NoSuchKey"
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="api-versions", Key="doc", VersionId=marker)
    assert status(e) == 405
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="api-versions", Key="doc", VersionId=v1[:-4] + "0000")
    assert code(e) == "NoSuchVersion"
    lv = s3.list_object_versions(Bucket="api-versions")
    assert [v["VersionId"] for v in lv["Versions"]] == [v2, v1]
    assert [(m["VersionId"], m["IsLatest"]) for m in lv["DeleteMarkers"]] == [(marker, True)]
    # paging by key-marker / version-id-marker
    page = s3.list_object_versions(Bucket="api-versions", MaxKeys=1)
    assert page["IsTruncated"]
    rest = s3.list_object_versions(Bucket="api-versions", KeyMarker=page["NextKeyMarker"],
                                   VersionIdMarker=page["NextVersionIdMarker"])
    assert len(rest.get("Versions", [])) + len(rest.get("DeleteMarkers", [])) == 2
    # deleting the marker restores the object
    s3.delete_object(Bucket="api-versions", Key="doc", VersionId=marker)
    assert s3.get_object(Bucket="api-versions", Key="doc")["Body"].read() == b"two"
    s3.delete_object(Bucket="api-versions", Key="doc", VersionId=v2)
    assert s3.get_object(Bucket="api-versions", Key="doc")["Body"].read() == b"one"


def test_delete_objects(s3):
    s3.create_bucket(Bucket="api-multidelete")
    for i in range(5):
        s3.put_object(Bucket="api-multidelete", Key="k%d" % i, Body=b"x")
    r = s3.delete_objects(Bucket="api-multidelete", Delete={
        "Objects": [{"Key": "k0"}, {"Key": "k1"}, {"Key": "missing"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["k0", "k1", "missing"]
    r = s3.delete_objects(Bucket="api-multidelete", Delete={
        "Objects": [{"Key": "k2"}], "Quiet": True})
    assert "Deleted" not in r and "Errors" not in r
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="api-multidelete")["Contents"]]
    assert keys == ["k3", "k4"]


def test_copy_object(s3):
    s3.create_bucket(Bucket="api-copy")
    s3.put_bucket_versioning(Bucket="api-copy", VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket="api-copy", Key="src key", Body=b"first",
                       Metadata={"a": "1"})["VersionId"]
    s3.put_object(Bucket="api-copy", Key="src key", Body=b"second", Metadata={"a": "2"})
    r = s3.copy_object(Bucket="api-copy", Key="dst",
                       CopySource={"Bucket": "api-copy", "Key": "src key"})
    assert r["CopyObjectResult"]["ETag"] == '"%s"' % hashlib.md5(b"second").hexdigest()
    o = s3.get_object(Bucket="api-copy", Key="dst")
    assert o["Body"].read() == b"second" and o["Metadata"] == {"a": "2"}
    r = s3.copy_object(Bucket="api-copy", Key="dst-old",
                       CopySource={"Bucket": "api-copy", "Key": "src key", "VersionId": v1},
                       MetadataDirective="REPLACE", Metadata={"b": "3"},
                       ContentType="text/plain")
    assert r["CopySourceVersionId"] == v1
    o = s3.get_object(Bucket="api-copy", Key="dst-old")
    assert o["Body"].read() == b"first" and o["Metadata"] == {"b": "3"}
    assert o["ContentType"] == "text/plain"
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket="api-copy", Key="x", CopySource={"Bucket": "api-copy",
                                                               "Key": "nope"})
    assert code(e) == "NoSuchKey"


def test_listings(s3):
    s3.create_bucket(Bucket="api-list")
    keys = ["a/1", "a/2", "a/b/3", "b/4", "c", "sp ace", "tab\tkey"]
    for k in keys:
        s3.put_object(Bucket="api-list", Key=k, Body=k.encode())
    got = [o["Key"] for o in s3.list_objects_v2(Bucket="api-list")["Contents"]]
    assert got == sorted(keys)
    r = s3.list_objects_v2(Bucket="api-list", Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/", "b/"]
    assert [o["Key"] for o in r["Contents"]] == ["c", "sp ace", "tab\tkey"]
    r = s3.list_objects_v2(Bucket="api-list", Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in r["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/b/"]
    # v2 paging with continuation tokens, start-after, fetch-owner
    seen, token = [], None
    while True:
        kw = {"ContinuationToken": token} if token else {}
        r = s3.list_objects_v2(Bucket="api-list", MaxKeys=2, **kw)
        seen += [o["Key"] for o in r.get("Contents", [])]
        assert r["KeyCount"] == len(r.get("Contents", []))
        if not r["IsTruncated"]:
            break
        token = r["NextContinuationToken"]
    assert seen == sorted(keys)
    r = s3.list_objects_v2(Bucket="api-list", StartAfter="b/4")
    assert [o["Key"] for o in r["Contents"]] == ["c", "sp ace", "tab\tkey"]
    assert "Owner" not in r["Contents"][0]
    assert "Owner" in s3.list_objects_v2(Bucket="api-list", FetchOwner=True)["Contents"][0]
    # v1 with marker
    r = s3.list_objects(Bucket="api-list", Marker="a/b/3", MaxKeys=2)
    assert [o["Key"] for o in r["Contents"]] == ["b/4", "c"] and r["IsTruncated"]
    with pytest.raises(ClientError) as e:
        s3.list_objects_v2(Bucket="api-list", ContinuationToken="!!notbase64")
    assert code(e) == "InvalidArgument"
    # paginators (boto3 asks for encoding-type=url and decodes)
    pages = s3.get_paginator("list_objects").paginate(Bucket="api-list",
                                                      PaginationConfig={"PageSize": 3})
    assert [o["Key"] for p in pages for o in p["Contents"]] == sorted(keys)


def test_multipart(s3):
    s3.create_bucket(Bucket="api-multipart")
    up = s3.create_multipart_upload(Bucket="api-multipart", Key="big",
                                    ContentType="application/x-big",
                                    Metadata={"m": "v"})["UploadId"]
    p1 = os.urandom(5 * MiB)
    p2 = os.urandom(1234)
    e1 = s3.upload_part(Bucket="api-multipart", Key="big", UploadId=up, PartNumber=1,
                        Body=p1)["ETag"]
    s3.put_object(Bucket="api-multipart", Key="source", Body=b"0123456789" * 100)
    e2 = s3.upload_part_copy(Bucket="api-multipart", Key="big", UploadId=up, PartNumber=2,
                             CopySource={"Bucket": "api-multipart", "Key": "source"},
                             CopySourceRange="bytes=10-19")["CopyPartResult"]["ETag"]
    e3 = s3.upload_part(Bucket="api-multipart", Key="big", UploadId=up, PartNumber=3,
                        Body=p2)["ETag"]
    ups = s3.list_multipart_uploads(Bucket="api-multipart")["Uploads"]
    assert [(u["Key"], u["UploadId"]) for u in ups] == [("big", up)]
    parts = s3.list_parts(Bucket="api-multipart", Key="big", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in parts] == [(1, 5 * MiB), (2, 10), (3, 1234)]
    page = s3.list_parts(Bucket="api-multipart", Key="big", UploadId=up, MaxParts=2)
    assert page["IsTruncated"] and page["NextPartNumberMarker"] == 2
    # EntityTooSmall: part 2 (10 bytes) is not the last
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="api-multipart", Key="big", UploadId=up,
                                     MultipartUpload={"Parts": [
                                         {"PartNumber": 1, "ETag": e1},
                                         {"PartNumber": 2, "ETag": e2},
                                         {"PartNumber": 3, "ETag": e3}]})
    assert code(e) == "EntityTooSmall"
    with pytest.raises(ClientError) as e:
        s3.complete_multipart_upload(Bucket="api-multipart", Key="big", UploadId=up,
                                     MultipartUpload={"Parts": [
                                         {"PartNumber": 1, "ETag": e1},
                                         {"PartNumber": 3, "ETag": '"%s"' % ("0" * 32)}]})
    assert code(e) == "InvalidPart"
    r = s3.complete_multipart_upload(Bucket="api-multipart", Key="big", UploadId=up,
                                     MultipartUpload={"Parts": [
                                         {"PartNumber": 1, "ETag": e1},
                                         {"PartNumber": 3, "ETag": e3}]})
    md5s = hashlib.md5(bytes.fromhex(e1.strip('"')) + bytes.fromhex(e3.strip('"')))
    assert r["ETag"] == '"%s-2"' % md5s.hexdigest()
    o = s3.get_object(Bucket="api-multipart", Key="big")
    assert o["Body"].read() == p1 + p2
    assert o["ContentType"] == "application/x-big" and o["Metadata"] == {"m": "v"}
    assert s3.list_multipart_uploads(Bucket="api-multipart").get("Uploads", []) == []
    # abort
    up = s3.create_multipart_upload(Bucket="api-multipart", Key="gone")["UploadId"]
    s3.upload_part(Bucket="api-multipart", Key="gone", UploadId=up, PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket="api-multipart", Key="gone", UploadId=up)
    with pytest.raises(ClientError) as e:
        s3.list_parts(Bucket="api-multipart", Key="gone", UploadId=up)
    assert code(e) == "NoSuchUpload"
    with pytest.raises(ClientError) as e:
        s3.upload_part(Bucket="api-multipart", Key="gone", UploadId=up, PartNumber=2, Body=b"x")
    assert code(e) == "NoSuchUpload"


def test_auth_errors(store, s3):
    s3.create_bucket(Bucket="api-auth")
    bad = store.client(secret="wrong" + "x" * 35)
    with pytest.raises(ClientError) as e:
        bad.list_objects_v2(Bucket="api-auth")
    assert code(e) == "SignatureDoesNotMatch" and status(e) == 403
    with pytest.raises(ClientError) as e:
        bad.put_object(Bucket="api-auth", Key="k", Body=os.urandom(100000))
    assert code(e) == "SignatureDoesNotMatch"
    assert s3.list_objects_v2(Bucket="api-auth")["KeyCount"] == 0
    # anonymous
    with pytest.raises(urllib.error.HTTPError) as he:
        urllib.request.urlopen(store.endpoint + "/api-auth")
    assert he.value.code == 403 and b"<Code>AccessDenied</Code>" in he.value.read()
    # not implemented subresources
    with pytest.raises(ClientError) as e:
        s3.get_bucket_acl(Bucket="api-auth")
    assert code(e) == "NotImplemented" and status(e) == 501


def test_presigned_url(store, s3):
    s3.create_bucket(Bucket="api-presign")
    body = os.urandom(100000)
    s3.put_object(Bucket="api-presign", Key="shared file.bin", Body=body)
    # boto3 presigns with signature version 2 unless told; radiant has only v4.
    s3 = store.client(signature_version="s3v4")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "api-presign",
                                                          "Key": "shared file.bin"},
                                    ExpiresIn=300)
    with urllib.request.urlopen(url) as r:
        assert r.read() == body
    tampered = url.replace("shared%20file.bin", "other.bin")
    with pytest.raises(urllib.error.HTTPError) as he:
        urllib.request.urlopen(tampered)
    assert he.value.code == 403
    put = s3.generate_presigned_url("put_object", Params={"Bucket": "api-presign",
                                                          "Key": "uploaded"}, ExpiresIn=300)
    req = urllib.request.Request(put, data=b"via presigned PUT", method="PUT")
    urllib.request.urlopen(req).read()
    assert s3.get_object(Bucket="api-presign", Key="uploaded")["Body"].read() == \
        b"via presigned PUT"


def test_virtual_host_addressing(store, s3, monkeypatch):
    s3.create_bucket(Bucket="api-vhost")
    # bucket.localhost does not resolve here: send it to the loopback address.
    real = socket.getaddrinfo

    def resolve(host, *a, **kw):
        if isinstance(host, str) and host.endswith(".localhost"):
            host = "127.0.0.1"
        return real(host, *a, **kw)
    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    v = store.client(style="virtual", endpoint="http://localhost:%d" % store.port)
    v.put_object(Bucket="api-vhost", Key="dir/key", Body=b"vhost")
    assert v.get_object(Bucket="api-vhost", Key="dir/key")["Body"].read() == b"vhost"
    assert [o["Key"] for o in v.list_objects_v2(Bucket="api-vhost")["Contents"]] == ["dir/key"]
    assert s3.get_object(Bucket="api-vhost", Key="dir/key")["Body"].read() == b"vhost"


def _hmac(key, text):
    return hmac.new(key, text.encode(), hashlib.sha256)


def _chunked_put(store, key, data, chunk_size, tamper=False):
    """A PUT with an aws-chunked body (STREAMING-AWS4-HMAC-SHA256-PAYLOAD), signed
    as the AWS documentation describes ("Signature Calculations for the
    Authorization Header: Transferring Payload in Multiple Chunks"): a seed
    signature over the headers, then one signature per chunk chained on the
    previous one. boto3 and awscli never send this form; Java SDK v1 and
    minio-go do. tamper flips a data byte after signing."""
    amz_date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    scope = "%s/us-east-1/s3/aws4_request" % amz_date[:8]
    headers = {"host": "127.0.0.1:%d" % store.port,
               "content-encoding": "aws-chunked",
               "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
               "x-amz-date": amz_date,
               "x-amz-decoded-content-length": str(len(data))}
    names = sorted(headers)
    path = "/chunked/" + key
    canonical = "\n".join(["PUT", path, ""] + ["%s:%s" % (n, headers[n]) for n in names] +
                          ["", ";".join(names), headers["x-amz-content-sha256"]])
    signing_key = ("AWS4" + SECRET_KEY).encode()
    for part in (amz_date[:8], "us-east-1", "s3", "aws4_request"):
        signing_key = _hmac(signing_key, part).digest()
    seed = _hmac(signing_key, "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                                         hashlib.sha256(canonical.encode()).hexdigest()])).hexdigest()
    body, previous = bytearray(), seed
    chunks = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
    for c in chunks:
        signature = _hmac(signing_key, "\n".join([
            "AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous,
            hashlib.sha256(b"").hexdigest(), hashlib.sha256(c).hexdigest()])).hexdigest()
        body += b"%x;chunk-signature=%s\r\n" % (len(c), signature.encode()) + c + b"\r\n"
        previous = signature
    if tamper:
        at = body.index(b"\r\n") + 2 + chunk_size // 2
        body[at] ^= 1
    sent = {n: v for n, v in headers.items() if n != "host"}
    sent["Authorization"] = ("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, "
                             "Signature=%s" % (ACCESS_KEY, scope, ";".join(names), seed))
    conn = http.client.HTTPConnection("127.0.0.1", store.port, timeout=30)
    try:
        conn.request("PUT", path, body=bytes(body), headers=sent)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def test_aws_chunked_upload(store, s3):
    s3.create_bucket(Bucket="chunked")
    data = os.urandom(150 * 1024 + 7)            # two full 64 KiB chunks and a short one
    status_code, text = _chunked_put(store, "signed", data, 64 * 1024)
    assert status_code == 200, text
    got = s3.get_object(Bucket="chunked", Key="signed")
    assert got["Body"].read() == data
    assert got["ETag"] == '"%s"' % hashlib.md5(data).hexdigest()

    # a byte changed in flight: the chunk's signature fails and nothing is stored
    status_code, text = _chunked_put(store, "tampered", data, 64 * 1024, tamper=True)
    assert status_code == 403 and b"SignatureDoesNotMatch" in text, text
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="chunked", Key="tampered")
    assert status(e) == 404
