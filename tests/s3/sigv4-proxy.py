#!/usr/bin/env python3
"""A test proxy in front of s3rver that checks SigV4 the way S3 does, and
injects faults.

s3rver accepts any signature, so this proxy recomputes each request's
signature from what arrived on the wire (method, path, query, the signed
headers, x-amz-content-sha256) with the one secret it knows, and answers
403 SignatureDoesNotMatch / InvalidAccessKeyId / AccessDenied like S3.
This is a separate implementation (Python's hmac/hashlib) from src/s3_sign.c.

Faults, each SUBSTR matched against the request path:
  --deny SUBSTR          403 AccessDenied for GETs of matching keys
  --fail SUBSTR:N        the first N matching requests get 503 SlowDown
  --cut SUBSTR:N         the first N matching GETs send the headers and half
                         the body, then drop the connection
  --missing SUBSTR       404 NoSuchKey for GETs of matching keys
  --no-range             drop Range and If-Match before forwarding: a resume
                         gets the whole body again (200), as some stores do
  --fail-list N          the first N listings get 503 SlowDown
  --delay-ms N           every request waits N ms first (a region's latency)
Prints "port N" on stdout once listening. Usage:
  sigv4-proxy.py --upstream 127.0.0.1:PORT --access-key K --secret S [faults]
"""
import argparse
import datetime
import hashlib
import hmac
import http.client
import http.server
import socketserver
import sys
import threading
import time
import urllib.parse

EMPTY = hashlib.sha256(b"").hexdigest()


def error_xml(code, message):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '<RequestId>test</RequestId></Error>' % (code, message)).encode()


def canonical_query(raw):
    pairs = urllib.parse.parse_qsl(raw, keep_blank_values=True)
    enc = [(urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~")) for k, v in pairs]
    return "&".join("%s=%s" % kv for kv in sorted(enc))


def verify(method, raw_path, headers, body, access_key, secret):
    """None when the request is signed right, else (status, code)."""
    auth = headers.get("Authorization")
    if not auth or not auth.startswith("AWS4-HMAC-SHA256 "):
        return 403, "AccessDenied"
    fields = dict(p.strip().split("=", 1) for p in auth[len("AWS4-HMAC-SHA256 "):].split(","))
    cred = fields["Credential"].split("/")
    if cred[0] != access_key:
        return 403, "InvalidAccessKeyId"
    date, region, service = cred[1], cred[2], cred[3]
    amz_date = headers.get("x-amz-date", "")
    if not amz_date.startswith(date) or service != "s3" or cred[4] != "aws4_request":
        return 403, "SignatureDoesNotMatch"
    when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
    if abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) > 900:
        return 403, "RequestTimeTooSkewed"
    payload = headers.get("x-amz-content-sha256")
    if payload != hashlib.sha256(body).hexdigest() and payload != "UNSIGNED-PAYLOAD":
        return 400, "XAmzContentSHA256Mismatch"
    signed = fields["SignedHeaders"].split(";")
    if "host" not in signed:
        return 403, "SignatureDoesNotMatch"
    path, _, query = raw_path.partition("?")
    canon_path = urllib.parse.quote(urllib.parse.unquote(path), safe="/-_.~")
    canon_headers = "".join("%s:%s\n" % (h, " ".join(headers.get(h, "").split())) for h in signed)
    creq = "\n".join([method, canon_path, canonical_query(query), canon_headers, ";".join(signed), payload])
    scope = "%s/%s/%s/aws4_request" % (date, region, service)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = ("AWS4" + secret).encode()
    for part in (date, region, service, "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(want, fields.get("Signature", "")):
        return 403, "SignatureDoesNotMatch"
    return None


class Faults:
    def __init__(self, a):
        self.lock = threading.Lock()
        self.deny = a.deny or []
        self.missing = a.missing or []
        self.fail = [[s.rsplit(":", 1)[0], int(s.rsplit(":", 1)[1])] for s in (a.fail or [])]
        self.cut = [[s.rsplit(":", 1)[0], int(s.rsplit(":", 1)[1])] for s in (a.cut or [])]
        self.fail_list = a.fail_list

    def take(self, rules, path):
        with self.lock:
            for r in rules:
                if r[0] in path and r[1] > 0:
                    r[1] -= 1
                    return True
        return False

    def take_list(self):
        with self.lock:
            if self.fail_list > 0:
                self.fail_list -= 1
                return True
        return False


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes: with Nagle on, the
    # body waits for the client's delayed ACK (40 ms a request on Linux).
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def answer(self, status, body, ctype="application/xml"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        srv = self.server
        if srv.delay:
            time.sleep(srv.delay)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        bad = verify(self.command, self.path, self.headers, body, srv.access_key, srv.secret)
        if bad:
            return self.answer(bad[0], error_xml(bad[1], "checked by sigv4-proxy"))
        path = urllib.parse.unquote(self.path.partition("?")[0])
        listing = "list-type=2" in self.path
        f = srv.faults
        if listing and f.take_list():
            return self.answer(503, error_xml("SlowDown", "Please reduce your request rate."))
        if not listing and self.command == "GET":
            if any(d in path for d in f.deny):
                return self.answer(403, error_xml("AccessDenied", "Access Denied"))
            if any(d in path for d in f.missing):
                return self.answer(404, error_xml("NoSuchKey", "The specified key does not exist."))
            if f.take(f.fail, path):
                return self.answer(503, error_xml("SlowDown", "Please reduce your request rate."))
        conn = http.client.HTTPConnection(srv.upstream, timeout=30)
        drop = ("connection", "keep-alive") + (("range", "if-match") if srv.no_range else ())
        fwd = {k: v for k, v in self.headers.items() if k.lower() not in drop}
        conn.request(self.command, self.path, body=body or None, headers=fwd)
        up = conn.getresponse()
        data = up.read()
        conn.close()
        cut = not listing and self.command == "GET" and up.status in (200, 206) and len(data) > 1 and \
            f.take(f.cut, path)
        self.send_response(up.status)
        for k, v in up.getheaders():
            if k.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if cut:
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(data)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = handle_any


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 1024      # 128 connections at once: the default backlog of 5 drops SYNs


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--access-key", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--deny", action="append")
    p.add_argument("--missing", action="append")
    p.add_argument("--no-range", action="store_true")
    p.add_argument("--fail", action="append")
    p.add_argument("--cut", action="append")
    p.add_argument("--fail-list", type=int, default=0)
    p.add_argument("--delay-ms", type=int, default=0)
    a = p.parse_args()
    srv = Server(("127.0.0.1", 0), Handler)
    srv.upstream, srv.access_key, srv.secret = a.upstream, a.access_key, a.secret
    srv.faults, srv.delay, srv.no_range = Faults(a), a.delay_ms / 1000.0, a.no_range
    print("port", srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
