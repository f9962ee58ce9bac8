"""examples/demo_service/app.py on the wire: the exact bytes of each reply.

Raw sockets rather than an HTTP client, so that the status line, the header order and
spelling, the body and where the connection ends are all seen as a client sends and
receives them. Only the Date header's value is masked (checked for its format)."""

import email.utils
import hashlib
import html
import json
import re
import socket
import sys
import time
from http.server import DEFAULT_ERROR_MESSAGE

import pytest
from demo_service_helpers import TOKEN
from prometheus_client import CONTENT_TYPE_LATEST

SERVER = ("Server: demo-service Python/%s\r\n" % sys.version.split()[0]).encode()
DATE = re.compile(rb"^Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                  rb"\d{4} \d\d:\d\d:\d\d GMT\r\n", re.MULTILINE)
HOST = socket.gethostname()
RELEASE_FAULTS = {"error_ratio": 0.0, "fail_start": False, "latency_ms": 0}


@pytest.fixture(scope="module")
def app(module_launcher):
    return module_launcher.start(slot="green", version="2.5.0")


def exchange(app, data):
    """Sends data on a new connection and returns everything received until the server closes it."""
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    reply = b"".join(chunks)
    masked, dates = DATE.subn(b"Date: <date>\r\n", reply)
    assert dates == (1 if reply.startswith(b"HTTP/") else 0), reply
    return masked


def get(path, *headers):
    return ("GET %s HTTP/1.1\r\nHost: demo\r\n%s\r\n" % (path, "".join(h + "\r\n" for h in headers))).encode()


def post(path, body, *headers):
    lines = "".join(h + "\r\n" for h in (*headers, "Content-Length: %d" % len(body)))
    return ("POST %s HTTP/1.1\r\nHost: demo\r\n%s\r\n" % (path, lines)).encode() + body


def reply(status, content_type, body):
    head = "HTTP/1.0 %s\r\n" % status
    tail = "Content-Type: %s\r\nContent-Length: %d\r\n\r\n" % (content_type, len(body))
    return head.encode() + SERVER + b"Date: <date>\r\n" + tail.encode() + body


def text(status, body):
    return reply(status, "text/plain; charset=utf-8", body.encode())


def json_reply(status, payload):
    return reply(status, "application/json", (json.dumps(payload, sort_keys=True) + "\n").encode())


def error_page(status, code, message, explain, head=True):
    """http.server's send_error reply: its HTML page and a Connection: close header; the
    page alone when the request line had no usable HTTP version (taken as HTTP/0.9)."""
    body = DEFAULT_ERROR_MESSAGE % {
        "code": code,
        "message": html.escape(message, quote=False),
        "explain": html.escape(explain, quote=False),
    }
    body = body.encode("UTF-8", "replace")
    if not head:
        return body
    head = "HTTP/1.0 %s\r\n" % status
    tail = "Connection: close\r\nContent-Type: text/html;charset=utf-8\r\nContent-Length: %d\r\n\r\n" % len(body)
    return head.encode() + SERVER + b"Date: <date>\r\n" + tail.encode() + body


ROUTES = {
    "root": (get("/"), json_reply("200 OK", {
        "host": HOST, "message": "hello from demo-service", "slot": "green", "version": "2.5.0"})),
    "root-query": (get("/?a=1&b=2"), json_reply("200 OK", {
        "host": HOST, "message": "hello from demo-service", "slot": "green", "version": "2.5.0"})),
    "healthz": (get("/healthz"), text("200 OK", "ok\n")),
    "readyz": (get("/readyz"), text("200 OK", "ready\n")),
    "version": (get("/version"), json_reply("200 OK", {
        "faults": RELEASE_FAULTS, "name": "demo-service", "slot": "green", "version": "2.5.0"})),
    "not-found": (get("/nope"), json_reply("404 Not Found", {"error": "not found"})),
    "double-slash": (get("//healthz"), text("200 OK", "ok\n")),
    "wrong-method": (post("/healthz", b"{}"), json_reply("405 Method Not Allowed", {
        "error": "method not allowed (allowed: GET)"})),
    "post-no-token": (post("/workflows", b'{"name": "x"}'), json_reply("401 Unauthorized", {"error": "unauthorized"})),
    "post-wrong-token": (post("/workflows", b'{"name": "x"}', "Authorization: Bearer nope"),
                         json_reply("401 Unauthorized", {"error": "unauthorized"})),
    "post-no-length": (
        ("POST /workflows HTTP/1.1\r\nAuthorization: Bearer %s\r\n\r\n" % TOKEN).encode(),
        json_reply("411 Length Required", {"error": "Content-Length required"}),
    ),
    "post-too-large": (
        ("POST /workflows HTTP/1.1\r\nAuthorization: Bearer %s\r\nContent-Length: 65537\r\n\r\n" % TOKEN).encode(),
        json_reply("413 Request Entity Too Large", {"error": "body larger than 65536 bytes"}),
    ),
    "post-bad-json": (
        post("/workflows", b"{nope", "Authorization: Bearer %s" % TOKEN),
        json_reply("400 Bad Request", {"error": "body is not valid JSON"}),
    ),
    "keep-alive-ignored": (get("/healthz", "Connection: keep-alive") + get("/readyz"), text("200 OK", "ok\n")),
    "http-1.0": (b"GET /readyz HTTP/1.0\r\n\r\n", text("200 OK", "ready\n")),
    # HTTP/0.9: the reply is the body alone (http.server still reads a header block).
    "http-0.9": (b"GET /healthz\r\n\r\n", b"ok\n"),
    "lowercase-header-names": (
        b"POST /workflows HTTP/1.1\r\nauthorization: Bearer nope\r\ncontent-length: 2\r\n\r\n{}",
        json_reply("401 Unauthorized", {"error": "unauthorized"}),
    ),
    "bad-version": (b"GET / HTTP/x\r\n\r\n", error_page(
        "400 Bad request version ('HTTP/x')", 400, "Bad request version ('HTTP/x')",
        "Bad request syntax or unsupported method", head=False)),
    "http-2": (b"GET / HTTP/2.0\r\n\r\n", error_page(
        "505 Invalid HTTP version (2.0)", 505, "Invalid HTTP version (2.0)",
        "Cannot fulfill request", head=False)),
    "unsupported-method": (b"BREW /pot HTTP/1.1\r\n\r\n", error_page(
        "501 Unsupported method ('BREW')", 501, "Unsupported method ('BREW')",
        "Server does not support this operation")),
    "too-many-headers": (get("/", *("X-%d: y" % n for n in range(101))), error_page(
        "431 Too many headers", 431, "Too many headers", "got more than 100 headers")),
}


@pytest.mark.parametrize(("request_bytes", "expected"), ROUTES.values(), ids=ROUTES.keys())
def test_reply_bytes(app, request_bytes, expected):
    assert exchange(app, request_bytes) == expected


def test_workflows_reply_bytes(app):
    empty = hashlib.sha256(b"").hexdigest()
    assert exchange(app, get("/workflows")) == json_reply("200 OK", {"checksum": empty, "count": 0})
    auth = "Authorization: Bearer %s" % TOKEN
    assert exchange(app, post("/workflows", b'{"name": "wire"}', auth)) == json_reply(
        "201 Created", {"id": 1, "name": "wire"})
    listed = json.loads(exchange(app, get("/workflows")).split(b"\r\n\r\n", 1)[1])
    assert listed["count"] == 1
    assert listed["checksum"] != empty


def test_metrics_reply_head(app):
    masked = exchange(app, get("/metrics"))
    head, body = masked.split(b"\r\n\r\n", 1)
    assert head + b"\r\n\r\n" == reply("200 OK", CONTENT_TYPE_LATEST, body)[: len(head) + 4]
    assert b'demo_build_info{slot="green",version="2.5.0"} 1.0' in body



def test_date_header_follows_the_clock(app):
    def date_header():
        with socket.create_connection(("127.0.0.1", app.port), timeout=10) as sock:
            sock.sendall(get("/healthz"))
            head = sock.recv(65536).split(b"\r\n\r\n")[0].decode()
        value = dict(line.split(": ", 1) for line in head.split("\r\n")[1:])["Date"]
        return email.utils.parsedate_to_datetime(value).timestamp()

    for _ in range(3):
        before = int(time.time())
        date = date_header()
        assert before <= date <= time.time()
        time.sleep(0.6)
