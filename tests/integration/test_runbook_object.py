"""`radiant runbook run object-recovery` (dr-guide Scenario 4, Accidental
Deletion) against radiant's own object store (`radiant serve`, objfixture)
with boto3 setting up versions and deletions and checking the outcome: a
deleted prefix comes back (each of the five steps ok and timed), --time T
restores the state at T, --dry-run changes nothing; and what an operator gets
wrong: an unknown bucket (exit 4), a bucket without versioning (refused,
exit 2), a bad time (exit 2 before any step)."""

import json
import os
import subprocess
import time

import pytest

from objfixture import ACCESS_KEY, SECRET_KEY, ObjStore, body, exists, versions
from pgfixture import RADIANT

BUCKET = "radiant-storage-production"
PLAIN = "unversioned-bucket"
STEPS = ["resolve", "list-object-versions", "plan", "apply", "verify"]
AWS_ENV = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL",
           "AWS_ENDPOINT_URL_S3", "AWS_REGION", "AWS_DEFAULT_REGION")


@pytest.fixture(scope="module")
def store():
    s = ObjStore(buckets={BUCKET: {"versioning": "enabled"}})
    s.start()
    s.client().create_bucket(Bucket=PLAIN)
    yield s
    rc = s.stop()
    s.close()
    assert rc == 0


def runbook(store, *args, env=None, output="json"):
    """Without AWS_* in the environment: radiant's own [objectstore] and the
    first [access-key] of the configuration, as `radiant s3` resolves them."""
    full = dict(os.environ, **{k: "" for k in AWS_ENV})
    full.update(env or {})
    p = subprocess.run([RADIANT, "--config", store.config, "--output", output, "runbook",
                        "run", "object-recovery"] + list(args), capture_output=True,
                       text=True, timeout=300, env=full, cwd=store.dir,
                       stdin=subprocess.DEVNULL)
    assert "Sanitizer" not in p.stderr, p.stderr[-5000:]
    return p.returncode, p.stdout, p.stderr


def ok_run(store, *args, **kw):
    rc, out, err = runbook(store, *args, **kw)
    assert rc == 0, (rc, out, err)
    doc = json.loads(out)
    assert doc["Runbook"] == "object-recovery" and doc["Status"] == "succeeded"
    assert [s["Name"] for s in doc["Steps"]] == STEPS
    for s in doc["Steps"]:
        assert s["Status"] == "ok", s
        assert s["Seconds"] is not None and s["Seconds"] >= 0
        assert s["Start"].endswith("Z") and s["End"].endswith("Z")
    return doc


def last_error(stderr):
    return json.loads(stderr.strip().splitlines()[-1])["error"]


def test_undelete_prefix(store):
    s3 = store.client()
    for i in range(5):
        s3.put_object(Bucket=BUCKET, Key="u/f%d" % i, Body=b"v1-%d" % i)
        s3.put_object(Bucket=BUCKET, Key="u/f%d" % i, Body=b"v2-%d" % i)
    s3.put_object(Bucket=BUCKET, Key="u/keep", Body=b"untouched")
    s3.put_object(Bucket=BUCKET, Key="other/x", Body=b"x")
    # The accident: the prefix deleted (one key twice: stacked markers).
    for i in range(5):
        s3.delete_object(Bucket=BUCKET, Key="u/f%d" % i)
    s3.delete_object(Bucket=BUCKET, Key="u/f0")
    s3.delete_object(Bucket=BUCKET, Key="other/x")
    s3.delete_object(Bucket=BUCKET, Key="u/never")      # a marker without data
    assert not any(exists(s3, BUCKET, "u/f%d" % i) for i in range(5))
    before = versions(s3, BUCKET, "")

    dry = ok_run(store, "--bucket", BUCKET, "--prefix", "u/", "--dry-run")
    assert versions(s3, BUCKET, "") == before
    assert dry["Outputs"]["ToUndelete"] == 5 and dry["Outputs"]["Undeleted"] == 0
    assert dry["Outputs"]["DryRun"] == "true"
    assert "dry run" in dry["Steps"][3]["Message"]

    doc = ok_run(store, "--bucket", BUCKET, "--prefix", "u/")
    out = doc["Outputs"]
    assert out["Mode"] == "undelete" and out["Bucket"] == BUCKET and out["Prefix"] == "u/"
    assert out["Endpoint"] == store.endpoint and out["Versioning"] == "Enabled"
    assert out["Versions"] == 11 and out["DeleteMarkers"] == 7
    assert out["Keys"] == 7 and out["LatestDeleteMarkers"] == 6
    assert out["ToUndelete"] == 5 and out["Skipped"] == 1
    assert out["Undeleted"] == 5
    assert out["UndeletedKeys"] == ", ".join("u/f%d" % i for i in range(5))
    assert "5 keys to bring back (6 delete markers to remove)" in doc["Steps"][2]["Message"]
    for i in range(5):
        assert body(s3, BUCKET, "u/f%d" % i) == b"v2-%d" % i
    assert body(s3, BUCKET, "u/keep") == b"untouched"
    assert not exists(s3, BUCKET, "other/x")                    # outside the prefix
    # Only markers were removed: every data version is still there.
    after = versions(s3, BUCKET, "")
    assert [e for e in before if not e[2]] == [e for e in after if not e[2]]

    # Nothing left to do the second time.
    again = ok_run(store, "--bucket", BUCKET, "--prefix", "u/")
    assert again["Outputs"]["Undeleted"] == 0 and again["Outputs"]["UndeletedKeys"] == ""

    # --prefix "" is the whole bucket; --endpoint-url and AWS_* as the aws CLI.
    doc = ok_run(store, "--bucket", BUCKET, "--prefix", "", "--endpoint-url", store.endpoint,
                 env={"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY})
    assert doc["Outputs"]["UndeletedKeys"] == "other/x"
    assert body(s3, BUCKET, "other/x") == b"x"


def test_undelete_text_output(store):
    s3 = store.client()
    s3.put_object(Bucket=BUCKET, Key="t/a", Body=b"a")
    s3.delete_object(Bucket=BUCKET, Key="t/a")
    rc, out, err = runbook(store, "--bucket", BUCKET, "--prefix", "t/", output="text")
    assert rc == 0, err
    assert "[5/5] verify: ok in" in out and "Undeleted: 1" in out
    assert body(s3, BUCKET, "t/a") == b"a"


def iso_ms(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


def test_restore_to_time(store):
    s3 = store.client()
    s3.put_object(Bucket=BUCKET, Key="r/overwritten", Body=b"old")
    s3.put_object(Bucket=BUCKET, Key="r/deleted", Body=b"keep me")
    s3.put_object(Bucket=BUCKET, Key="r/same", Body=b"same")
    listing = s3.list_object_versions(Bucket=BUCKET, Prefix="r/")
    when = iso_ms(max(v["LastModified"] for v in listing["Versions"]))
    time.sleep(1.1)
    s3.put_object(Bucket=BUCKET, Key="r/overwritten", Body=b"new")
    s3.delete_object(Bucket=BUCKET, Key="r/deleted")
    s3.put_object(Bucket=BUCKET, Key="r/created", Body=b"after T")
    n_before = len(versions(s3, BUCKET, "r/"))

    dry = ok_run(store, "--bucket", BUCKET, "--prefix", "r/", "--time", when, "--dry-run")
    assert len(versions(s3, BUCKET, "r/")) == n_before
    assert (dry["Outputs"]["ToRestore"], dry["Outputs"]["ToDelete"]) == (2, 1)
    assert dry["Outputs"]["Restored"] == 0 and dry["Outputs"]["Deleted"] == 0
    assert body(s3, BUCKET, "r/overwritten") == b"new"

    doc = ok_run(store, "--bucket", BUCKET, "--prefix", "r/", "--time", when)
    out = doc["Outputs"]
    assert out["Mode"] == "restore-to-time" and out["RestoreToTime"] == when
    assert out["Restored"] == 2 and out["RestoredKeys"] == "r/deleted, r/overwritten"
    assert out["Deleted"] == 1 and out["DeletedKeys"] == "r/created"
    assert out["Unchanged"] == 1
    assert "as it was at " + when in doc["Steps"][4]["Message"]
    assert body(s3, BUCKET, "r/overwritten") == b"old"
    assert body(s3, BUCKET, "r/deleted") == b"keep me"
    assert body(s3, BUCKET, "r/same") == b"same"
    assert not exists(s3, BUCKET, "r/created")
    assert len(versions(s3, BUCKET, "r/")) == n_before + 3       # history kept

    again = ok_run(store, "--bucket", BUCKET, "--prefix", "r/", "--time", when)
    assert again["Outputs"]["Restored"] == 0 and again["Outputs"]["Deleted"] == 0
    assert again["Outputs"]["Unchanged"] == 4


def test_unknown_bucket_is_not_found(store):
    rc, out, err = runbook(store, "--bucket", "no-such-bucket", "--prefix", "")
    assert rc == 4, err
    doc = json.loads(out)
    assert doc["Status"] == "failed" and doc["Error"]["Step"] == "resolve"
    assert doc["Error"]["Exit"] == 4
    assert [s["Status"] for s in doc["Steps"]] == ["failed"] + ["skipped"] * 4
    assert "no-such-bucket not found" in last_error(err)["message"]


def test_unversioned_bucket_is_refused(store):
    s3 = store.client()
    s3.put_object(Bucket=PLAIN, Key="p/a", Body=b"a")
    rc, out, err = runbook(store, "--bucket", PLAIN, "--prefix", "p/")
    assert rc == 2, err
    doc = json.loads(out)
    assert doc["Error"]["Step"] == "resolve"
    msg = last_error(err)["message"]
    assert "cannot be recovered" in msg and "versioning" in msg
    assert s3.get_object(Bucket=PLAIN, Key="p/a")["Body"].read() == b"a"


def test_bad_arguments(store):
    rc, out, err = runbook(store, "--bucket", BUCKET, "--prefix", "p/", "--time",
                           "2024-12-24 10:30")
    assert rc == 2 and out == ""                        # before any step
    assert "ISO 8601" in last_error(err)["message"]
    rc, _, err = runbook(store, "--prefix", "p/")
    assert rc == 2 and "--bucket" in err
    rc, _, err = runbook(store, "--bucket", BUCKET)
    assert rc == 2 and "--prefix" in err
    rc, _, err = runbook(store, "--bucket", BUCKET, "--prefix", "p/", "--no-such-flag")
    assert rc == 2


def test_unreachable_endpoint_is_network_error(store):
    from pgfixture import free_port
    rc, out, err = runbook(store, "--bucket", BUCKET, "--prefix", "",
                           "--endpoint-url", "http://127.0.0.1:%d" % free_port(),
                           env={"AWS_ACCESS_KEY_ID": ACCESS_KEY,
                                "AWS_SECRET_ACCESS_KEY": SECRET_KEY})
    assert rc == 9, err
    assert json.loads(out)["Error"]["Step"] == "resolve"


def test_listed_and_described():
    p = subprocess.run([RADIANT, "--output", "json", "runbook", "describe", "object-recovery"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rb = json.loads(p.stdout)["Runbook"]
    assert [s["Name"] for s in rb["Steps"]] == STEPS
    params = {x["Name"]: x for x in rb["Parameters"]}
    assert params["bucket"]["Required"] and params["prefix"]["Required"]
    assert not params["time"]["Required"] and params["dry-run"]["Value"] is None
    p = subprocess.run([RADIANT, "runbook", "list"], capture_output=True, text=True)
    assert "object-recovery" in p.stdout
