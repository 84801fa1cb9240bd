"""The object store's lifecycle in `radiant serve`'s passes: noncurrent
versions older than [bucket] noncurrent-version-expiration-days are gone after
`radiant serve --once` with radiant's clock moved 91 days
(RADIANT_CLOCK_OFFSET), current versions stay, and expired delete markers go
when a rule asks for it. Also: a busy port is a clear error."""

import subprocess

import pytest
from botocore.exceptions import ClientError

from objfixture import ObjStore
from pgfixture import RADIANT


@pytest.fixture
def store():
    s = ObjStore(buckets={"radiant-storage-production": {
        "versioning": "enabled", "noncurrent-version-expiration-days": "90"}})
    try:
        yield s
    finally:
        s.stop()
        s.close()


def versions(s3, bucket, key):
    r = s3.list_object_versions(Bucket=bucket, Prefix=key)
    return ([v["VersionId"] for v in r.get("Versions", []) if v["Key"] == key],
            [m["VersionId"] for m in r.get("DeleteMarkers", []) if m["Key"] == key])


def test_noncurrent_versions_expire_after_90_days(store):
    b = "radiant-storage-production"
    store.start()
    s3 = store.client()
    ids = [s3.put_object(Bucket=b, Key="doc", Body=b"v%d" % i)["VersionId"] for i in range(3)]
    s3.put_object(Bucket=b, Key="single", Body=b"only version")
    # a deleted object: its data is noncurrent behind the marker
    s3.put_object(Bucket=b, Key="deleted", Body=b"gone")
    marker = s3.delete_object(Bucket=b, Key="deleted")["VersionId"]
    # the other bucket: delete markers left alone expire by a rule
    s3.create_bucket(Bucket="markers")
    s3.put_bucket_versioning(Bucket="markers", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(Bucket="markers", LifecycleConfiguration={"Rules": [
        {"ID": "cleanup", "Status": "Enabled", "Filter": {"Prefix": ""},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 90},
         "Expiration": {"ExpiredObjectDeleteMarker": True}}]})
    s3.put_object(Bucket="markers", Key="m", Body=b"data")
    s3.delete_object(Bucket="markers", Key="m")
    s3.put_object(Bucket="markers", Key="live", Body=b"live")
    assert store.stop() == 0

    # Not yet due: nothing changes.
    r = store.once(env={"RADIANT_CLOCK_OFFSET": "89d"})
    assert r["objstore"]["noncurrent_removed"] == 0
    r = store.once(env={"RADIANT_CLOCK_OFFSET": "91d"})
    assert r["objstore"]["noncurrent_removed"] >= 3
    # the marker whose only version just went is an expired delete marker now
    r2 = store.once(env={"RADIANT_CLOCK_OFFSET": "91d"})
    assert r["objstore"]["markers_removed"] + r2["objstore"]["markers_removed"] >= 1

    store.start()
    s3 = store.client()
    assert versions(s3, b, "doc") == ([ids[2]], [])
    assert s3.get_object(Bucket=b, Key="doc")["Body"].read() == b"v2"
    assert s3.get_object(Bucket=b, Key="single")["Body"].read() == b"only version"
    # 90-day rule without ExpiredObjectDeleteMarker: the marker stays
    assert versions(s3, b, "deleted") == ([], [marker])
    assert versions(s3, "markers", "m") == ([], [])
    assert s3.get_object(Bucket="markers", Key="live")["Body"].read() == b"live"
    with pytest.raises(ClientError):
        s3.get_object(Bucket="markers", Key="m")


def test_serve_once_reports_sweep_without_clusters(store):
    r = store.once()
    assert r["clusters"] == 0
    assert r["objstore"] == {"current_expired": 0, "noncurrent_removed": 0,
                             "markers_removed": 0, "uploads_aborted": 0}


def test_port_in_use_is_a_clear_error(store):
    import socket
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", store.port))
        busy.listen(1)
        p = subprocess.run([RADIANT, "--config", store.config, "serve"], capture_output=True,
                           text=True, cwd=store.dir, timeout=60)
    assert p.returncode != 0
    lines = [l for l in p.stderr.splitlines() if "cannot listen" in l]
    assert lines and "127.0.0.1:%d" % store.port in lines[0], p.stderr
