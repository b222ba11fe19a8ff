#!/usr/bin/env python3
"""A hostile Cloudflare API for tests/e2e/hostile_api.sh.

    hostile_api.py CASE NAMESPACE_ID

Listens on 127.0.0.1:0 and prints "listening on http://127.0.0.1:PORT". Every
answer is stateless (a cursor's successor is computed from the cursor itself),
so several clients can share one server. CASE picks what goes wrong and where;
every route the case leaves alone gets a friendly answer that matches the
suite's manifests (bucket "hostile-bucket", namespace "hostile-ns" with id
NAMESPACE_ID, store "default"). Writes are refused with a 500 and reported on
stderr as "WRITE METHOD PATH", so the suite can check that none was sent.

Everything is bounded: the process exits after LIFETIME_S, a slow answer
stops after SLOW_MAX_S, an endless body after ENDLESS_MAX bytes.
"""
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

LIFETIME_S = 120
SLOW_MAX_S = 45
ENDLESS_MAX = 256 * 1024 * 1024
STORE_ID = "5a0e1b2c3d4e5f60718293a4b5c6d7e8"

CASE = sys.argv[1]
NS_ID = sys.argv[2] if len(sys.argv) > 2 else "0f2ac74b498b48028cb68387c421e279"


def envelope(result, info=None):
    d = {"success": True, "errors": [], "messages": [], "result": result}
    if info is not None:
        d["result_info"] = info
    return json.dumps(d).encode()


def friendly(path, q):
    """The answer an honest account would give, or None for an unknown route."""
    if path.endswith("/r2/buckets"):
        return envelope({"buckets": [{"name": "hostile-bucket", "location": "WNAM",
                                      "creation_date": "2024-01-01T00:00:00.000Z",
                                      "storage_class": "Standard"}]},
                        {"cursor": "", "per_page": 1000})
    if path.endswith("/storage/kv/namespaces"):
        return envelope([{"id": NS_ID, "title": "hostile-ns"}],
                        {"page": 1, "per_page": 100, "count": 1, "total_count": 1,
                         "total_pages": 1})
    if path.endswith("/keys"):
        return envelope([], {"count": 0, "cursor": ""})
    if path.endswith("/secrets_store/stores"):
        return envelope([{"id": STORE_ID, "name": "default"}],
                        {"page": 1, "per_page": 100, "count": 1, "total_count": 1})
    if path.endswith("/secrets"):
        return envelope([], {"page": 1, "per_page": 100, "count": 0, "total_count": 0})
    if path.endswith("/tokens/verify"):
        return envelope({"id": "t", "status": "active"})
    return None


def next_cursor(q, width=8):
    """Fresh cursors forever: each one is the previous plus one."""
    cur = q.get("cursor", ["0"])[0]
    try:
        return "%0*d" % (width, int(cur) + 1)
    except ValueError:
        return "%0*d" % (width, 1)


def cycle_cursor(q):
    """A, B, A, B, ...: the cursor after A is B and the one after B is A."""
    return {"A": "B", "B": "A"}.get(q.get("cursor", [""])[0], "A")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def raw(self, status, body, ctype="application/json", extra=""):
        head = ("HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n%s"
                "Connection: close\r\n\r\n" % (status, ctype, len(body), extra))
        self.wfile.write(head.encode() + body)
        self.close_connection = True

    def slow(self, data, gap):
        """Writes data one byte at a time, `gap` seconds apart (bounded)."""
        end = time.monotonic() + SLOW_MAX_S
        for i in range(len(data)):
            if time.monotonic() > end:
                break
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()
            time.sleep(gap)
        self.close_connection = True

    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(min(n, 1 << 20))
        u = urllib.parse.urlsplit(self.path)
        path, q = u.path, urllib.parse.parse_qs(u.query)
        if self.command != "GET":
            sys.stderr.write("WRITE %s %s\n" % (self.command, path))
            sys.stderr.flush()
            return self.raw("500 Internal Server Error", envelope(None))
        try:
            self.hostile(path, q)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = do_PUT = do_POST = do_PATCH = do_DELETE = answer

    def hostile(self, path, q):
        c = CASE
        buckets = path.endswith("/r2/buckets")
        if c == "friendly" or (c.endswith("_keys") and not path.endswith("/keys")) or \
           (c.endswith("_namespaces") and not path.endswith("/storage/kv/namespaces")) or \
           (c.endswith("_secrets") and not (path.endswith("/secrets") and "/stores/" in path)):
            body = friendly(path, q)
            return self.raw("200 OK", body) if body else self.raw("404 Not Found", b"{}")
        if c == "malformed_json":
            return self.raw("200 OK", b'{"success":true,"result":{"buckets":[{"name":"a"')
        if c == "wrong_content_type":
            return self.raw("200 OK", b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                            ctype="text/html; charset=utf-8")
        if c == "huge_body":
            size = 27 * 1024 * 1024 + 1
            self.wfile.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                              "Content-Length: %d\r\nConnection: close\r\n\r\n" % size).encode())
            chunk = b" " * (1 << 20)
            for _ in range(27):
                self.wfile.write(chunk)
            self.wfile.write(b"  ")
            self.close_connection = True
            return
        if c == "endless_body":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                             b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
            piece = b'{"name":"endless"},' * 3000
            chunk = b"%x\r\n%s\r\n" % (len(piece), piece)
            self.wfile.write(b"%x\r\n%s\r\n" % (22, b'{"result":{"buckets":['))
            sent = 0
            while sent < ENDLESS_MAX:
                self.wfile.write(chunk)
                sent += len(piece)
            self.close_connection = True
            return
        if c == "header_flood":
            self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n")
            line = b"X-Pad: " + b"a" * 1000 + b"\r\n"
            for _ in range(100000):
                self.wfile.write(line)
            self.close_connection = True
            return
        if c == "json_bomb":
            # 3 MiB, under the page limit, but 1.5 million JSON values
            body = b'{"success":true,"result":{"buckets":[' + b"0," * (3 << 19) + b'0]}}'
            return self.raw("200 OK", body)
        if c == "errors_not_array":
            return self.raw("400 Bad Request", json.dumps(
                {"success": False, "errors": {"code": 7003, "message": "not an array"},
                 "messages": "", "result": None}).encode())
        if c == "errors_no_code":
            return self.raw("400 Bad Request", json.dumps(
                {"success": False, "errors": [{"message": "no code"}, {"code": "1000"},
                                              42, None, {"code": 1e300}],
                 "result": None}).encode())
        if c == "errors_10000":
            errs = [{"code": 10000 + i, "message": "error number %d " % i + "x" * 40}
                    for i in range(10000)]
            return self.raw("400 Bad Request", json.dumps(
                {"success": False, "errors": errs, "result": None}).encode())
        if c == "success_false":
            return self.raw("200 OK", json.dumps(
                {"success": False, "errors": [{"code": 10000, "message": "nope"}],
                 "result": None}).encode())
        if c == "cursor_cycle":
            if not buckets:
                return self.raw("200 OK", friendly(path, q))
            cur = cycle_cursor(q)
            return self.raw("200 OK", envelope(
                {"buckets": [{"name": "cycle-" + cur}]}, {"cursor": cur, "per_page": 1000}))
        if c == "cursor_cycle_keys":
            cur = cycle_cursor(q)
            return self.raw("200 OK", envelope([{"name": "key-" + cur}],
                                               {"count": 1, "cursor": cur}))
        if c == "fresh_cursors":
            # 1,000 new buckets a page, a new cursor every time
            cur = next_cursor(q)
            page = [{"name": "b-%s-%04d" % (cur, i), "location": "WNAM",
                     "creation_date": "2024-01-01T00:00:00.000Z",
                     "storage_class": "Standard"} for i in range(1000)]
            return self.raw("200 OK", envelope({"buckets": page},
                                               {"cursor": cur, "per_page": 1000}))
        if c == "fresh_cursors_big":
            # 1,000 buckets with names of 1,000 bytes a page: the byte bound
            cur = next_cursor(q)
            page = [{"name": ("n-%s-%04d-" % (cur, i)).ljust(1000, "x")} for i in range(1000)]
            return self.raw("200 OK", envelope({"buckets": page},
                                               {"cursor": cur, "per_page": 1000}))
        if c == "fresh_cursors_keys":
            # empty pages, a new cursor every time: the page bound
            return self.raw("200 OK", envelope([], {"count": 0, "cursor": next_cursor(q)}))
        if c == "long_cursor":
            return self.raw("200 OK", envelope({"buckets": [{"name": "long"}]},
                                               {"cursor": "c" * 100000}))
        if c == "lying_namespaces":
            # full pages forever; total_pages huge, count and total_count wrong
            page = int(q.get("page", ["1"])[0])
            items = [{"id": "%08x%024x" % (page, i), "title": "ns-%d-%d" % (page, i)}
                     for i in range(100)]
            return self.raw("200 OK", envelope(items, {
                "page": page, "per_page": 100, "count": 3, "total_count": 5,
                "total_pages": 2147483647}))
        if c == "lying_secrets":
            page = int(q.get("page", ["1"])[0])
            items = [{"id": "%08x%024x" % (page, i), "name": "S_%d_%d" % (page, i)}
                     for i in range(100)]
            return self.raw("200 OK", envelope(items, {
                "page": page, "per_page": 100, "count": 100, "total_count": 1e300,
                "total_pages": 1e300}))
        if c == "retry_after_huge":
            return self.raw("429 Too Many Requests", json.dumps(
                {"success": False, "errors": [{"code": 971, "message": "throttled"}],
                 "result": None}).encode(), extra="Retry-After: 999999\r\n")
        if c == "retry_after_date":
            return self.raw("429 Too Many Requests", b"{}",
                            extra="Retry-After: Fri, 31 Dec 2100 23:59:59 GMT\r\n")
        if c == "throttled_forever":
            return self.raw("429 Too Many Requests", b"{}", extra="Retry-After: 0\r\n")
        if c == "slowloris":
            # the status line and headers, one byte every 0.3 s
            body = friendly(path, q) or b"{}"
            head = ("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
                    "%d\r\nX-Pad: %s\r\n\r\n" % (len(body), "p" * 200)).encode()
            return self.slow(head + body, 0.3)
        if c == "trickle_body":
            # headers at once, then the body one byte every 2 s
            body = friendly(path, q) or b"{}"
            self.wfile.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                              "Content-Length: %d\r\n\r\n" % len(body)).encode())
            self.wfile.flush()
            return self.slow(body, 2.0)
        if c == "silent":
            # accept, read the request, never answer
            time.sleep(SLOW_MAX_S)
            self.close_connection = True
            return
        return self.raw("500 Internal Server Error", b'{"unknown case":1}')


def main():
    threading.Timer(LIFETIME_S, lambda: os._exit(3)).start()
    s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    s.daemon_threads = True
    print("listening on http://127.0.0.1:%d" % s.server_address[1], flush=True)
    s.serve_forever()


if __name__ == "__main__":
    main()
