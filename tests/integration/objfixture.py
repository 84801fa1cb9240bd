"""radiant's object store under test: a sandbox with a configuration that has
[objectstore] listen = 127.0.0.1:FREEPORT, one [access-key] whose secret is in
a file, and [bucket] sections; `radiant serve` started in the background and
stopped by pid (never by name); boto3 clients, awscli and s3cmd pointed at it."""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import boto3
from botocore.config import Config

from pgfixture import RADIANT, free_port

ACCESS_KEY = "AKIARADIANTTEST00001"
SECRET_KEY = "radiantTestSecretKey/0123456789abcdefghi"


def versions(s3, bucket, prefix):
    """(key, version id, is a delete marker) of everything under prefix, sorted."""
    out = s3.list_object_versions(Bucket=bucket, Prefix=prefix)
    return sorted([(v["Key"], v["VersionId"], False) for v in out.get("Versions", [])] +
                  [(m["Key"], m["VersionId"], True) for m in out.get("DeleteMarkers", [])])


def body(s3, bucket, key):
    return s3.get_object(Bucket=bucket, Key=key)["Body"].read()


def exists(s3, bucket, key):
    """Whether GET would find key: False on 404, any other error raised."""
    try:
        s3.head_object(Bucket=bucket, Key=key)
        return True
    except Exception as e:  # botocore ClientError
        if getattr(e, "response", {}).get("Error", {}).get("Code") in ("404", "NoSuchKey"):
            return False
        raise


class ObjStore:
    def __init__(self, buckets=None):
        """buckets: {name: {config key: value}} for [bucket NAME] sections."""
        self.dir = tempfile.mkdtemp(prefix="radiant-s3-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.endpoint = "http://127.0.0.1:%d" % self.port
        self.config = os.path.join(self.dir, "radiant.conf")
        self.state = os.path.join(self.dir, "state")
        with open(os.path.join(self.dir, "ak.secret"), "w") as f:
            f.write(SECRET_KEY + "\n")
        lines = ["[radiant]", "state-dir = state", "",
                 "[objectstore]", "listen = 127.0.0.1:%d" % self.port, "",
                 "[access-key %s]" % ACCESS_KEY, "secret-access-key-file = ak.secret", ""]
        for name, keys in (buckets or {}).items():
            lines.append("[bucket %s]" % name)
            lines += ["%s = %s" % kv for kv in keys.items()]
            lines.append("")
        with open(self.config, "w") as f:
            f.write("\n".join(lines))
        # radiant run as root works as the run-as user (postgres by default)
        subprocess.run(["chown", "-R", "postgres:postgres", self.dir], check=True)
        self.proc = None
        self.log = None
        self.env = dict(os.environ, AWS_EC2_METADATA_DISABLED="true",
                        AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                        AWS_DEFAULT_REGION="us-east-1",
                        AWS_CONFIG_FILE=os.path.join(self.dir, "aws-config"),
                        AWS_SHARED_CREDENTIALS_FILE=os.path.join(self.dir, "aws-credentials"))
        for n in ("aws-config", "aws-credentials"):
            open(os.path.join(self.dir, n), "w").close()

    # ------------------------------------------------------------ serve --
    def start(self, env=None, timeout=30):
        assert self.proc is None or self.proc.poll() is not None
        self.log = open(os.path.join(self.dir, "serve-%d.log" % time.time_ns()), "w+")
        self.proc = subprocess.Popen(
            [RADIANT, "--config", self.config, "--log-level", "debug", "serve", "--interval",
             "3600"], stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            cwd=self.dir, env=dict(os.environ, **(env or {})))
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("radiant serve exited %d:\n%s" % (self.proc.returncode,
                                                                       self.output()))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError("radiant serve did not listen on %d:\n%s" % (self.port,
                                                                         self.output()))

    def output(self):
        if not self.log:
            return ""
        self.log.seek(0)
        return self.log.read()

    def stop(self, sig=signal.SIGTERM):
        rc = None
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
            rc = self.proc.wait(timeout=60)
            self.proc = None
            # under ASan (RADIANT_BIN=build-asan/radiant) a report fails the test
            assert "Sanitizer" not in self.output(), self.output()[-5000:]
        return rc

    def once(self, env=None):
        """`radiant serve --once --output json`; the parsed report."""
        p = subprocess.run([RADIANT, "--config", self.config, "--output", "json", "serve",
                            "--once"], capture_output=True, text=True, cwd=self.dir,
                           env=dict(os.environ, **(env or {})), timeout=300)
        assert p.returncode == 0, (p.returncode, p.stderr)
        assert "Sanitizer" not in p.stderr, p.stderr[-5000:]
        return json.loads(p.stdout)["serve"]

    def close(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        if self.log:
            self.log.close()
        if not os.environ.get("RADIANT_KEEP_TEST_DIRS"):
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---------------------------------------------------------- clients --
    def client(self, secret=SECRET_KEY, style="path", endpoint=None, **config):
        # a session per client: boto3's default session is not thread-safe
        return boto3.session.Session().client("s3", endpoint_url=endpoint or self.endpoint,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=secret,
                            region_name="us-east-1",
                            config=Config(s3={"addressing_style": style},
                                          retries={"max_attempts": 1}, **config))

    def aws(self, *args, check=True, timeout=300):
        p = subprocess.run(["aws", "--endpoint-url", self.endpoint] + list(args),
                           capture_output=True, text=True, env=self.env, timeout=timeout)
        if check:
            assert p.returncode == 0, (args, p.returncode, p.stderr[-2000:])
        return p

    def s3cmd(self, *args, check=True):
        cfg = os.path.join(self.dir, "s3cfg")
        if not os.path.exists(cfg):
            host = "127.0.0.1:%d" % self.port
            with open(cfg, "w") as f:
                f.write("[default]\naccess_key = %s\nsecret_key = %s\nhost_base = %s\n"
                        "host_bucket = %s\nuse_https = False\nsignature_v2 = False\n"
                        "bucket_location = us-east-1\n" % (ACCESS_KEY, SECRET_KEY, host, host))
        p = subprocess.run(["s3cmd", "-c", cfg] + list(args), capture_output=True, text=True,
                           env=self.env, timeout=300)
        if check:
            assert p.returncode == 0, (args, p.returncode, p.stdout[-2000:], p.stderr[-2000:])
        return p
