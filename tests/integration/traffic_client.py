"""One GET per connection for the tests' background traffic, at under half urllib's CPU.

The tests' clients send tens of thousands of requests through HAProxy while the labs
share 2 cores; urllib took about 0.5 ms of client CPU a request (0.9 ms with the client's
threads contending), this about 0.2 ms. It asks what urllib asks: HTTP/1.1 with
``Connection: close``, one request a connection, so HAProxy balances each request as it
did. Anything short of a whole reply is a failed request, never retried.
"""

import socket
from urllib.parse import urlsplit

MAX_REPLY_BYTES = 1 << 20  # the service's replies are a few hundred bytes


class ReplyError(Exception):
    """The reply was not a whole HTTP response."""


def target(url):
    """(host, port, request bytes) for a plain-HTTP URL."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError("traffic_client speaks plain HTTP only: %r" % url)
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    request = ("GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\nAccept: */*\r\n\r\n"
               % (path, parts.netloc)).encode("ascii")
    return parts.hostname, parts.port or 80, request


def get(target_, timeout=5):
    """(status, body) of one GET; OSError when the connection fails, ReplyError when the
    reply is cut short or malformed."""
    host, port, request = target_
    chunks, size = [], 0
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(request)
        while True:
            data = sock.recv(65536)
            if not data:
                break
            size += len(data)
            if size > MAX_REPLY_BYTES:
                raise ReplyError("reply longer than %d bytes" % MAX_REPLY_BYTES)
            chunks.append(data)
    return parse_reply(b"".join(chunks))


def parse_reply(raw):
    """(status, body text) of a whole HTTP/1.x reply read to the end of its connection."""
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        raise ReplyError("reply ended inside its headers (%d bytes)" % len(raw))
    lines = head.split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1.") or not status_line[1].isdigit():
        raise ReplyError("not an HTTP/1.x status line: %r" % lines[0][:80])
    headers = {}
    for line in lines[1:]:
        name, colon, value = line.partition(b":")
        if not colon:
            raise ReplyError("malformed header line: %r" % line[:80])
        headers[name.strip().lower()] = value.strip()
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = _dechunk(body)
    elif b"content-length" in headers:
        length = _number(headers[b"content-length"], 10, "Content-Length")
        if length < 0:
            raise ReplyError("Content-Length is negative: %d" % length)
        if len(body) < length:
            raise ReplyError("reply cut short: %d of %d body bytes" % (len(body), length))
        body = body[:length]
    return int(status_line[1]), body.decode("utf-8", "replace")


def _dechunk(body):
    out, position = [], 0
    while True:
        line_end = body.find(b"\r\n", position)
        if line_end < 0:
            raise ReplyError("chunked reply cut short")
        size = _number(body[position:line_end].split(b";", 1)[0], 16, "chunk size")
        start = line_end + 2
        if size == 0:
            return b"".join(out)
        if len(body) < start + size + 2:
            raise ReplyError("chunked reply cut short")
        out.append(body[start:start + size])
        position = start + size + 2


def _number(raw, base, what):
    try:
        return int(raw, base)
    except ValueError:
        raise ReplyError("%s is no number: %r" % (what, raw[:40])) from None
