#!/usr/bin/python3
"""A small S3-compatible server for tests, standard library only.

It is a test fixture (radiant's own S3 server is src/objstore): path-style
requests on 127.0.0.1, one access key, objects kept as files under --root.
What it does implement, it implements the way S3 does, so that a client that
passes against it has a good chance against the real thing:

  - SigV4 header authentication, recomputed from the request: canonical URI
    (the decoded path re-encoded per SigV4), canonical query, the signed
    headers, the payload hash. Mismatch -> 403 SignatureDoesNotMatch.
    A signed payload hash is checked against the body
    (XAmzContentSHA256Mismatch); "UNSIGNED-PAYLOAD" is accepted; and
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER" (aws-chunked body with a checksum
    trailer, what botocore sends for PutObject over TLS, inside HTTP chunked
    transfer coding) is decoded. Flexible checksums, in headers or trailers,
    are verified for CRC32, SHA1 and SHA256 (BadDigest); CRC32C is only
    logged. Signed streaming (STREAMING-AWS4-HMAC-SHA256-PAYLOAD) is answered
    501 NotImplemented: no client used in the tests sends it.
  - Requests more than 15 minutes from the server clock are refused
    (RequestTimeTooSkewed), as S3 does.
  - ListBuckets, HeadBucket, CreateBucket, PutObject (temp file, fsync,
    rename, fsync dir), GetObject with a single Range (206, 416
    InvalidRange), HeadObject, DeleteObject (204, also for a missing key),
    ListObjectsV2 (prefix, delimiter, max-keys, start-after,
    continuation-token, encoding-type=url).
  - Errors are S3 XML documents (NoSuchKey, NoSuchBucket, ...); HEAD answers
    carry no body.

Usage: mini_s3.py --port P --root DIR --access-key AK --secret-key SK
Prints "READY <port>" on stdout once it listens (with --port 0 the kernel
picks the port, which is race-free for tests).
"""

import argparse
import base64
import calendar
import datetime
import email.utils
import hashlib
import hmac
import os
import re
import secrets
import sys
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW = 15 * 60
MAX_BODY = 5 * 1024 * 1024 * 1024  # S3's single-PUT limit
BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"


class S3Error(Exception):
    def __init__(self, status, code, message, resource=""):
        super().__init__(message)
        self.status, self.code, self.message, self.resource = status, code, message, resource


def uri_encode(s, keep_slash):
    """SigV4 encoding: RFC 3986 unreserved characters stay, all else %XX."""
    return urllib.parse.quote(s, safe="/~" if keep_slash else "~")


def key_to_name(key):
    # One flat file per key: '/' and '.' are encoded, so no key can escape the
    # bucket directory or collide with a directory ("a" and "a/b" coexist).
    name = urllib.parse.quote(key, safe="").replace(".", "%2E")
    if len(name) > 250:
        raise S3Error(400, "KeyTooLongError", "Your key is too long for this test server.")
    return name


def name_to_key(name):
    return urllib.parse.unquote(name)


def http_date(ts):
    return email.utils.formatdate(ts, usegmt=True)


def iso_date(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mini_s3"

    # ------------------------------------------------------------ plumbing

    def log_message(self, fmt, *args):
        sys.stderr.write("mini_s3: %s %s\n" % (self.address_string(), fmt % args))

    def do_GET(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def send(self, status, body=b"", headers=None, content_type="application/xml"):
        self.send_response(status)
        self.send_header("x-amz-request-id", self.request_id)
        if content_type:
            self.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and body:
            self.wfile.write(body)

    def send_error_doc(self, err):
        body, ctype = b"", None
        if self.command != "HEAD":
            body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code>'
                    '<Message>%s</Message><Resource>%s</Resource><RequestId>%s</RequestId>'
                    '</Error>' % (escape(err.code), escape(err.message), escape(err.resource),
                                  self.request_id)).encode()
            ctype = "application/xml"
        # An unread request body would be taken for the next request.
        if not self.body_consumed:
            self.close_connection = True
        self.send(err.status, body, content_type=ctype)

    def dispatch(self):
        self.request_id = secrets.token_hex(8).upper()
        self.body_consumed = False
        try:
            raw_path, _, raw_query = self.path.partition("?")
            path = urllib.parse.unquote(raw_path)
            self.query_pairs = parse_query(raw_query)
            self.query = {k: v for k, v in self.query_pairs}
            body = self.read_body()
            self.verify_signature(raw_path, body)
            body = self.decode_payload(body)
            parts = path.lstrip("/").split("/", 1)
            bucket = parts[0]
            key = parts[1] if len(parts) > 1 else ""
            self.route(bucket, key, body)
        except S3Error as err:
            self.send_error_doc(err)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except Exception as exc:  # a fixture bug must be visible, not a hang
            self.log_message("internal error: %r", exc)
            self.send_error_doc(S3Error(500, "InternalError", repr(exc)))

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self.read_http_chunked()
        length = self.headers.get("Content-Length")
        if length is None:
            if self.command in ("PUT", "POST"):
                raise S3Error(411, "MissingContentLength",
                              "You must provide the Content-Length HTTP header.")
            self.body_consumed = True
            return b""
        n = int(length)
        if n < 0 or n > MAX_BODY:
            raise S3Error(400, "EntityTooLarge", "Body too large.")
        body = self.read_exactly(n)
        self.body_consumed = True
        return body

    def read_exactly(self, n):
        chunks, left = [], n
        while left:
            c = self.rfile.read(min(left, 1 << 20))
            if not c:
                raise S3Error(400, "IncompleteBody", "The request body is shorter than "
                              "announced.")
            chunks.append(c)
            left -= len(c)
        return b"".join(chunks)

    def read_http_chunked(self):
        """HTTP/1.1 chunked transfer coding (botocore uses it for aws-chunked
        uploads of unknown length)."""
        out, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            if not line.endswith(b"\r\n"):
                raise S3Error(400, "IncompleteBody", "Malformed chunked body.")
            size = int(line.split(b";")[0].strip(), 16)
            if size == 0:
                break
            total += size
            if total > MAX_BODY:
                raise S3Error(400, "EntityTooLarge", "Body too large.")
            out.append(self.read_exactly(size))
            if self.rfile.read(2) != b"\r\n":
                raise S3Error(400, "IncompleteBody", "Malformed chunked body.")
        while self.rfile.readline(8192) not in (b"\r\n", b"\n", b""):
            pass  # HTTP trailers: none are used by S3 clients
        self.body_consumed = True
        return b"".join(out)

    # ------------------------------------------------------------- SigV4

    def verify_signature(self, raw_path, body):
        srv = self.server
        auth = self.headers.get("Authorization")
        if not auth:
            raise S3Error(403, "AccessDenied", "Anonymous access is not allowed.")
        m = re.match(r"^AWS4-HMAC-SHA256\s+(.*)$", auth)
        if not m:
            raise S3Error(400, "InvalidArgument", "Unsupported Authorization type.")
        fields = {}
        for part in m.group(1).split(","):
            k, _, v = part.strip().partition("=")
            fields[k] = v
        try:
            cred, signed, signature = (fields["Credential"], fields["SignedHeaders"],
                                       fields["Signature"])
            akid, date8, region, service, term = cred.split("/")
        except (KeyError, ValueError):
            raise S3Error(400, "AuthorizationHeaderMalformed",
                          "The authorization header is malformed.")
        if akid != srv.access_key:
            raise S3Error(403, "InvalidAccessKeyId",
                          "The AWS Access Key Id you provided does not exist in our records.")
        if service != "s3" or term != "aws4_request":
            raise S3Error(400, "AuthorizationHeaderMalformed",
                          "The credential scope must end in s3/aws4_request.")
        amz_date = self.headers.get("x-amz-date")
        if not amz_date:
            raise S3Error(403, "AccessDenied", "x-amz-date is required (Date is not supported).")
        try:
            ts = calendar.timegm(time.strptime(amz_date, "%Y%m%dT%H%M%SZ"))
        except ValueError:
            raise S3Error(403, "AccessDenied", "x-amz-date is not YYYYMMDDTHHMMSSZ.")
        if abs(time.time() - ts) > MAX_SKEW:
            raise S3Error(403, "RequestTimeTooSkewed", "The difference between the request "
                          "time and the current time is too large.")
        if date8 != amz_date[:8]:
            raise S3Error(400, "AuthorizationHeaderMalformed",
                          "The credential date does not match x-amz-date.")
        names = signed.split(";")
        if "host" not in names or names != sorted(names):
            raise S3Error(400, "AuthorizationHeaderMalformed",
                          "SignedHeaders must be sorted and include host.")
        payload_hash = self.headers.get("x-amz-content-sha256")
        if not payload_hash:
            raise S3Error(400, "InvalidRequest", "Missing required header for this request: "
                          "x-amz-content-sha256")
        canon_headers = ""
        for name in names:
            values = self.headers.get_all(name)
            if values is None:
                raise S3Error(403, "SignatureDoesNotMatch", "Signed header %s is missing." % name)
            value = ",".join(" ".join(v.split()) for v in values)
            canon_headers += "%s:%s\n" % (name, value)
        canon_uri = uri_encode(urllib.parse.unquote(raw_path), True) or "/"
        canon_query = "&".join("%s=%s" % kv for kv in sorted(
            (uri_encode(k, False), uri_encode(v, False)) for k, v in self.query_pairs))
        creq = "\n".join([self.command, canon_uri, canon_query, canon_headers, signed,
                          payload_hash])
        scope = "%s/%s/s3/aws4_request" % (date8, region)
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(creq.encode()).hexdigest()])
        key = ("AWS4" + srv.secret_key).encode()
        for part in (date8, region, "s3", "aws4_request"):
            key = hmac.new(key, part.encode(), hashlib.sha256).digest()
        want = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, signature):
            raise S3Error(403, "SignatureDoesNotMatch",
                          "The request signature we calculated does not match the signature "
                          "you provided. Check your key and signing method.")
        self.payload_hash = payload_hash

    def decode_payload(self, body):
        h = self.payload_hash
        if self.command == "PUT" and not re.fullmatch(r"[0-9a-f]{64}", h):
            self.log_message("payload mode %s", h)
        if h == "UNSIGNED-PAYLOAD":
            return self.check_checksums(body, self.headers)
        if h == "STREAMING-UNSIGNED-PAYLOAD-TRAILER":
            return self.decode_aws_chunked(body)
        if h.startswith("STREAMING-"):
            raise S3Error(501, "NotImplemented",
                          "This test server does not implement %s." % h)
        if not re.fullmatch(r"[0-9a-f]{64}", h):
            raise S3Error(400, "InvalidArgument", "x-amz-content-sha256 must be a hex "
                          "SHA-256 or UNSIGNED-PAYLOAD.")
        if hashlib.sha256(body).hexdigest() != h:
            raise S3Error(400, "XAmzContentSHA256Mismatch", "The provided "
                          "'x-amz-content-sha256' header does not match what was computed.")
        return self.check_checksums(body, self.headers)

    def decode_aws_chunked(self, body):
        """aws-chunked: "<hex size>\\r\\n<data>\\r\\n" ... "0\\r\\n", trailers, "\\r\\n"."""
        out, pos = [], 0
        while True:
            eol = body.find(b"\r\n", pos)
            if eol < 0:
                raise S3Error(400, "IncompleteBody", "Truncated aws-chunked body.")
            size = int(body[pos:eol].split(b";")[0], 16)
            pos = eol + 2
            if size == 0:
                break
            out.append(body[pos:pos + size])
            pos += size
            if body[pos:pos + 2] != b"\r\n":
                raise S3Error(400, "IncompleteBody", "Malformed aws-chunked body.")
            pos += 2
        trailers = {}
        for line in body[pos:].split(b"\r\n"):
            if line:
                k, _, v = line.decode().partition(":")
                trailers[k.strip().lower()] = v.strip()
        data = b"".join(out)
        decoded_len = self.headers.get("x-amz-decoded-content-length")
        if decoded_len is not None and int(decoded_len) != len(data):
            raise S3Error(400, "IncompleteBody", "x-amz-decoded-content-length does not match.")
        announced = self.headers.get("x-amz-trailer", "").strip().lower()
        if announced and announced not in trailers:
            raise S3Error(400, "MalformedTrailerError", "Trailer %s is missing." % announced)
        self.check_checksums(data, self.headers)
        return self.check_checksums(data, trailers)

    def check_checksums(self, data, fields):
        """Verifies the flexible checksums (x-amz-checksum-*) the client sent,
        in headers or in aws-chunked trailers; CRC32C is not in the standard
        library and is only logged."""
        for name in list(fields.keys()):
            name = name.lower()
            if not name.startswith("x-amz-checksum-") or name in ("x-amz-checksum-algorithm",
                                                                "x-amz-checksum-mode"):
                continue
            algo = name[len("x-amz-checksum-"):]
            if algo == "crc32":
                digest = (zlib.crc32(data) & 0xffffffff).to_bytes(4, "big")
            elif algo in ("sha1", "sha256"):
                digest = hashlib.new(algo, data).digest()
            else:
                self.log_message("checksum %s not verified", name)
                continue
            if fields.get(name) != base64.b64encode(digest).decode():
                raise S3Error(400, "BadDigest", "The %s you specified did not match the "
                              "calculated checksum." % algo.upper())
        return data

    # ---------------------------------------------------------------- S3

    def route(self, bucket, key, body):
        cmd = self.command
        if not bucket:
            if cmd == "GET":
                return self.list_buckets()
            raise S3Error(405, "MethodNotAllowed", "Not allowed on the service.")
        bdir = self.bucket_dir(bucket)
        if not key:
            if cmd == "PUT" and not self.query:
                return self.create_bucket(bucket, bdir)
            if not os.path.isdir(bdir):
                raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist.",
                              "/" + bucket)
            if cmd == "HEAD":
                return self.send(200, content_type=None)
            if cmd == "GET" and self.query.get("list-type") == "2":
                return self.list_objects_v2(bucket, bdir)
            raise S3Error(501, "NotImplemented", "This test server implements only "
                          "ListObjectsV2 (list-type=2) on a bucket.")
        if not os.path.isdir(bdir):
            raise S3Error(404, "NoSuchBucket", "The specified bucket does not exist.",
                          "/" + bucket)
        if self.query and cmd != "GET":
            raise S3Error(501, "NotImplemented", "Sub-resources are not implemented.")
        path = os.path.join(bdir, key_to_name(key))
        if cmd == "PUT":
            return self.put_object(bucket, key, path, body)
        if cmd in ("GET", "HEAD"):
            return self.get_object(bucket, key, path)
        if cmd == "DELETE":
            try:
                os.unlink(path)
                fsync_dir(bdir)
            except FileNotFoundError:
                pass
            return self.send(204, content_type=None)
        raise S3Error(405, "MethodNotAllowed", "Method not allowed on an object.")

    def bucket_dir(self, bucket):
        if not BUCKET_RE.match(bucket) or ".." in bucket:
            raise S3Error(400, "InvalidBucketName", "The specified bucket is not valid.",
                          "/" + bucket)
        return os.path.join(self.server.root, bucket)

    def list_buckets(self):
        names = sorted(n for n in os.listdir(self.server.root)
                       if not n.startswith(".") and os.path.isdir(os.path.join(self.server.root, n)))
        items = "".join("<Bucket><Name>%s</Name><CreationDate>%s</CreationDate></Bucket>" % (
            escape(n), iso_date(os.stat(os.path.join(self.server.root, n)).st_mtime))
            for n in names)
        xml = ('<?xml version="1.0" encoding="UTF-8"?>\n<ListAllMyBucketsResult xmlns="%s">'
               '<Owner><ID>mini</ID><DisplayName>mini</DisplayName></Owner><Buckets>%s</Buckets>'
               '</ListAllMyBucketsResult>' % (XMLNS, items))
        self.send(200, xml.encode())

    def create_bucket(self, bucket, bdir):
        try:
            os.mkdir(bdir, 0o700)
        except FileExistsError:
            raise S3Error(409, "BucketAlreadyOwnedByYou", "Your previous request to create the "
                          "named bucket succeeded and you already own it.", "/" + bucket)
        fsync_dir(self.server.root)
        self.send(200, headers={"Location": "/" + bucket}, content_type=None)

    def put_object(self, bucket, key, path, body):
        tmp = os.path.join(self.server.tmpdir, secrets.token_hex(12))
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(body)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.rename(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
        fsync_dir(os.path.dirname(path))
        etag = '"%s"' % hashlib.md5(body).hexdigest()
        self.send(200, headers={"ETag": etag}, content_type=None)

    def get_object(self, bucket, key, path):
        try:
            f = open(path, "rb")
        except FileNotFoundError:
            raise S3Error(404, "NoSuchKey", "The specified key does not exist.",
                          "/%s/%s" % (bucket, key))
        with f:
            st = os.fstat(f.fileno())
            data = f.read()
        size = len(data)
        headers = {
            "ETag": '"%s"' % hashlib.md5(data).hexdigest(),
            "Last-Modified": http_date(st.st_mtime),
            "Accept-Ranges": "bytes",
        }
        status = 200
        rng = self.headers.get("Range")
        if rng and self.command == "GET":
            r = parse_range(rng, size)
            if r == "unsatisfiable":
                raise S3Error(416, "InvalidRange", "The requested range is not satisfiable.",
                              "/%s/%s" % (bucket, key))
            if r is not None:
                first, last = r
                data = data[first:last + 1]
                headers["Content-Range"] = "bytes %d-%d/%d" % (first, last, size)
                status = 206
        if self.command == "HEAD":
            headers["Content-Length"] = str(size)
            return self.send(200, headers=headers, content_type="binary/octet-stream")
        self.send(status, data, headers=headers, content_type="binary/octet-stream")

    def list_objects_v2(self, bucket, bdir):
        q = self.query
        prefix = q.get("prefix", "")
        delimiter = q.get("delimiter", "")
        encode = q.get("encoding-type") == "url"
        try:
            max_keys = int(q.get("max-keys", "1000"))
        except ValueError:
            raise S3Error(400, "InvalidArgument", "max-keys must be an integer.")
        if max_keys < 0:
            raise S3Error(400, "InvalidArgument", "max-keys must not be negative.")
        max_keys = min(max_keys, 1000)
        after = q.get("start-after", "")
        token = q.get("continuation-token")
        if token is not None:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode()
            except ValueError:
                raise S3Error(400, "InvalidArgument", "The continuation token provided is "
                              "incorrect.")
        entries = []
        for name in os.listdir(bdir):
            key = name_to_key(name)
            if key.startswith(prefix) and key > after:
                entries.append(key)
        entries.sort()

        contents, common, seen_prefixes = [], [], set()
        truncated, last = False, None
        for key in entries:
            if len(contents) + len(common) >= max_keys:
                truncated = True
                break
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    cp = key[:cut + len(delimiter)]
                    if cp not in seen_prefixes:
                        seen_prefixes.add(cp)
                        common.append(cp)
                    last = key
                    continue
            contents.append(key)
            last = key
        if last is None:
            truncated = False  # max-keys=0: nothing to continue from
        if truncated and delimiter:
            # Skip the rest of the last common prefix on the next page.
            cut = last.find(delimiter, len(prefix))
            if cut >= 0:
                last = last[:cut + len(delimiter)] + "\U0010ffff"

        enc = (lambda s: urllib.parse.quote(s, safe="/")) if encode else (lambda s: s)
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="%s">' % XMLNS,
                 "<Name>%s</Name>" % escape(bucket),
                 "<Prefix>%s</Prefix>" % escape(enc(prefix)),
                 "<MaxKeys>%d</MaxKeys>" % max_keys,
                 "<KeyCount>%d</KeyCount>" % (len(contents) + len(common)),
                 "<IsTruncated>%s</IsTruncated>" % ("true" if truncated else "false")]
        if delimiter:
            parts.append("<Delimiter>%s</Delimiter>" % escape(enc(delimiter)))
        if encode:
            parts.append("<EncodingType>url</EncodingType>")
        if token is not None:
            parts.append("<ContinuationToken>%s</ContinuationToken>" % escape(token))
        if "start-after" in q:
            parts.append("<StartAfter>%s</StartAfter>" % escape(enc(q["start-after"])))
        if truncated:
            nxt = base64.urlsafe_b64encode(last.encode()).decode()
            parts.append("<NextContinuationToken>%s</NextContinuationToken>" % nxt)
        for key in contents:
            p = os.path.join(bdir, key_to_name(key))
            try:
                st = os.stat(p)
                with open(p, "rb") as f:
                    etag = hashlib.md5(f.read()).hexdigest()
            except FileNotFoundError:
                continue  # deleted while listing
            parts.append("<Contents><Key>%s</Key><LastModified>%s</LastModified>"
                         "<ETag>&quot;%s&quot;</ETag><Size>%d</Size>"
                         "<StorageClass>STANDARD</StorageClass></Contents>"
                         % (escape(enc(key)), iso_date(st.st_mtime), etag, st.st_size))
        for cp in common:
            parts.append("<CommonPrefixes><Prefix>%s</Prefix></CommonPrefixes>"
                         % escape(enc(cp)))
        parts.append("</ListBucketResult>")
        self.send(200, "".join(parts).encode())


def parse_query(raw):
    pairs = []
    for item in raw.split("&") if raw else []:
        k, _, v = item.partition("=")
        pairs.append((urllib.parse.unquote(k), urllib.parse.unquote(v)))
    return pairs


def parse_range(header, size):
    """One "bytes=a-b" / "bytes=a-" / "bytes=-n" range -> (first, last), the
    string "unsatisfiable", or None to ignore the header (as S3 does for
    several ranges or nonsense)."""
    m = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if not m or (m.group(1) == "" and m.group(2) == ""):
        return None
    if m.group(1) == "":
        n = int(m.group(2))
        if n == 0:
            return "unsatisfiable"
        return (max(0, size - n), size - 1) if size else "unsatisfiable"
    first = int(m.group(1))
    if m.group(2) and int(m.group(2)) < first:
        return None
    if first >= size:
        return "unsatisfiable"
    last = int(m.group(2)) if m.group(2) else size - 1
    return first, min(last, size - 1)


def fsync_dir(path):
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, required=True, help="0 lets the kernel choose")
    ap.add_argument("--root", required=True)
    ap.add_argument("--access-key", required=True)
    ap.add_argument("--secret-key", required=True)
    args = ap.parse_args()

    os.makedirs(args.root, exist_ok=True)
    srv = Server(("127.0.0.1", args.port), Handler)
    srv.root = os.path.abspath(args.root)
    # Temporary files live beside the buckets (same file system, so rename is
    # atomic) in a directory no bucket name can match.
    srv.tmpdir = os.path.join(srv.root, ".tmp")
    os.makedirs(srv.tmpdir, exist_ok=True)
    for leftover in os.listdir(srv.tmpdir):
        os.unlink(os.path.join(srv.tmpdir, leftover))
    srv.access_key = args.access_key
    srv.secret_key = args.secret_key
    print("READY %d" % srv.server_address[1], flush=True)
    try:
        srv.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        srv.server_close()


if __name__ == "__main__":
    main()
