# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/integration/traffic_client.py: a whole reply is a result, anything less a failure."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

CLIENT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "integration", "traffic_client.py")


@pytest.fixture(scope="module")
def client():
    spec = importlib.util.spec_from_file_location("traffic_client", CLIENT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture()
def canned():
    """A loopback server that answers every connection with the bytes in ``reply[0]``
    and closes it; ``requests`` holds what each connection sent."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    reply, requests = [b""], []

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    piece = conn.recv(4096)
                    if not piece:
                        break
                    data += piece
                requests.append(data)
                conn.sendall(reply[0])

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield "http://127.0.0.1:%d/version?x=1" % listener.getsockname()[1], reply, requests
    listener.close()


def test_a_whole_reply_gives_its_status_and_body_and_the_request_is_one_close_get(client, canned):
    url, reply, requests = canned
    reply[0] = b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nContent-Length: 17\r\n\r\n{\"version\": \"1\"}\n"
    assert client.get(client.target(url)) == (200, '{"version": "1"}\n')
    head = requests[0].decode()
    assert head.startswith("GET /version?x=1 HTTP/1.1\r\n")
    assert "\r\nConnection: close\r\n" in head and "\r\nHost: 127.0.0.1:" in head


def test_an_error_status_is_a_result_not_an_exception(client, canned):
    url, reply, _ = canned
    reply[0] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 9\r\n\r\ndraining\n"
    assert client.get(client.target(url)) == (503, "draining\n")


def test_a_chunked_reply_is_joined(client, canned):
    url, reply, _ = canned
    reply[0] = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n3;ext=1\r\nefg\r\n0\r\n\r\n"
    assert client.get(client.target(url)) == (200, "abcdefg")


def test_a_reply_without_a_length_is_read_to_the_close(client, canned):
    url, reply, _ = canned
    reply[0] = b"HTTP/1.0 200 OK\r\n\r\nall of it"
    assert client.get(client.target(url)) == (200, "all of it")


@pytest.mark.parametrize("raw, message", [
    (b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", "cut short: 5 of 50"),
    (b"HTTP/1.1 200 OK\r\nContent-Len", "ended inside its headers"),
    (b"", "ended inside its headers (0 bytes)"),
    (b"SSH-2.0-OpenSSH_9.2\r\n\r\n", "not an HTTP/1.x status line"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: lots\r\n\r\nx", "Content-Length is no number"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: -3\r\n\r\nabcdef", "Content-Length is negative: -3"),
    (b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\nx", "malformed header line"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc", "chunked reply cut short"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", "chunk size is no number"),
])
def test_a_reply_short_of_whole_is_a_reply_error_naming_what_is_wrong(client, canned, raw, message):
    url, reply, _ = canned
    reply[0] = raw
    with pytest.raises(client.ReplyError, match=re.escape(message)):
        client.get(client.target(url))


def test_a_reply_longer_than_the_bound_is_refused(client, canned, monkeypatch):
    url, reply, _ = canned
    monkeypatch.setattr(client, "MAX_REPLY_BYTES", 64)
    reply[0] = b"HTTP/1.1 200 OK\r\n\r\n" + b"x" * 100
    with pytest.raises(client.ReplyError, match="longer than 64 bytes"):
        client.get(client.target(url))


def test_a_refused_connection_is_an_os_error(client):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    with pytest.raises(OSError):
        client.get(client.target("http://127.0.0.1:%d/" % port), timeout=2)


@pytest.mark.parametrize("url", ["https://127.0.0.1/", "ftp://host/x", "http:///nohost"])
def test_only_plain_http_urls_are_taken(client, url):
    with pytest.raises(ValueError, match="plain HTTP only"):
        client.target(url)


def test_it_reads_what_urllib_reads_from_a_python_http_server(client):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"path": self.path, "version": "2.0.0"}).encode()
            self.send_response(200 if self.path != "/missing" else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        base = "http://127.0.0.1:%d" % server.server_address[1]
        with urllib.request.urlopen(base + "/", timeout=5) as response:
            expected = (response.status, response.read().decode())
        assert client.get(client.target(base + "/")) == expected
        status, body = client.get(client.target(base + "/missing"))
        assert status == 404 and json.loads(body)["path"] == "/missing"
    finally:
        server.shutdown()
        server.server_close()
