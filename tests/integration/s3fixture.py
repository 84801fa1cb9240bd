"""Starts tests/integration/mini_s3.py for a test and stops it again.

    from s3fixture import start_mini_s3, mini_s3   # mini_s3 is a pytest fixture

    endpoint, access_key, secret_key, stop = start_mini_s3(tmp_path)

The port is chosen by the kernel (the server is started with --port 0 and
announces the port in its "READY <port>" line), so parallel test runs never
race for a port. The server is stopped by its pid, never by name.
"""

import os
import secrets
import select
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
MINI_S3 = os.path.join(HERE, "mini_s3.py")
# Debian's interpreter: the one the integration tests run under.
PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
READY_TIMEOUT = 60.0


def start_mini_s3(tmp_path, access_key=None, secret_key=None):
    """Returns (endpoint, access_key, secret_key, stop_fn). The store lives in
    tmp_path/mini_s3/data and the server's log in tmp_path/mini_s3/server.log."""
    base = os.path.join(str(tmp_path), "mini_s3")
    os.makedirs(base, exist_ok=True)
    access_key = access_key or "AKMINI" + secrets.token_hex(6).upper()
    secret_key = secret_key or secrets.token_urlsafe(30)
    log = open(os.path.join(base, "server.log"), "ab")
    # stderr goes to a file: a pipe nobody reads would fill and block the server.
    proc = subprocess.Popen(
        [PYTHON, MINI_S3, "--port", "0", "--root", os.path.join(base, "data"),
         "--access-key=" + access_key, "--secret-key=" + secret_key],
        stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
    log.close()

    def stop():
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stdout:
            proc.stdout.close()

    deadline = time.monotonic() + READY_TIMEOUT
    line = b""
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        if left <= 0 or proc.poll() is not None:
            stop()
            raise RuntimeError("mini_s3 did not become ready; see %s/server.log" % base)
        ready, _, _ = select.select([proc.stdout], [], [], left)
        if ready:
            c = os.read(proc.stdout.fileno(), 1)
            if not c:
                continue
            line += c
    word, _, port = line.decode().strip().partition(" ")
    if word != "READY" or not port.isdigit():
        stop()
        raise RuntimeError("mini_s3 said %r instead of READY <port>" % line)
    return "http://127.0.0.1:%s" % port, access_key, secret_key, stop


@pytest.fixture
def mini_s3(tmp_path):
    """(endpoint, access_key, secret_key) of a fresh server, stopped afterwards."""
    endpoint, ak, sk, stop = start_mini_s3(tmp_path)
    try:
        yield endpoint, ak, sk
    finally:
        stop()
