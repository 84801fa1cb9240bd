"""A PUT is acknowledged only when durable (DESIGN.md section 3): `radiant
serve` is killed with SIGKILL while 50 clients upload concurrently; after a
restart every acknowledged object reads back complete and correct, and no
half-written object is listed or left in the store's tmp/."""

import hashlib
import os
import random
import signal
import threading
import time

import pytest
from botocore.config import Config

from objfixture import ObjStore

KiB = 1 << 10


def body_of(key):
    rnd = random.Random(key)
    return rnd.randbytes(rnd.randint(1, 3 * 1024) * KiB)


@pytest.fixture
def store():
    s = ObjStore(buckets={"durable-bucket": {"versioning": "enabled"}})
    try:
        yield s
    finally:
        s.stop()
        s.close()


@pytest.mark.e2e
def test_kill_during_50_concurrent_uploads(store):
    store.start()
    acked = {}                      # key -> sha256 of what was acknowledged
    lock = threading.Lock()
    stop = threading.Event()

    clients = [store.client(connect_timeout=5, read_timeout=30) for _ in range(50)]

    def uploader(n):
        c = clients[n]
        i = 0
        while not stop.is_set():
            key = "t%02d/obj-%04d" % (n, i)
            data = body_of(key)
            try:
                c.put_object(Bucket="durable-bucket", Key=key, Body=data)
            except Exception:
                return              # the server is gone
            with lock:
                acked[key] = hashlib.sha256(data).hexdigest()
            i += 1

    threads = [threading.Thread(target=uploader, args=(n,)) for n in range(50)]
    for t in threads:
        t.start()
    deadline = time.time() + 60
    while len(acked) < 150 and time.time() < deadline:
        time.sleep(0.05)
    assert store.stop(signal.SIGKILL) == -signal.SIGKILL
    stop.set()
    for t in threads:
        t.join(timeout=60)
    assert len(acked) >= 150

    store.start()
    s3 = store.client()
    listed = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="durable-bucket"):
        for o in page.get("Contents", []):
            listed[o["Key"]] = o["Size"]
    missing = sorted(set(acked) - set(listed))
    assert not missing, "acknowledged but lost: %s" % missing[:10]
    for key, size in listed.items():
        want = body_of(key)
        assert size == len(want), key
        got = s3.get_object(Bucket="durable-bucket", Key=key)["Body"].read()
        assert hashlib.sha256(got).hexdigest() == hashlib.sha256(want).hexdigest(), key
    tmp = os.path.join(store.state, "objstore", "tmp")
    assert not os.path.isdir(tmp) or os.listdir(tmp) == []
