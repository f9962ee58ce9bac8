"""examples/demo_service/app.py: its request workers, request counting and request log."""

import json
import signal
import socket
import struct
import time

import pytest
from demo_service_helpers import STOP_TIMEOUT, TOKEN
from test_demo_app import labels, metric_samples


@pytest.fixture(scope="module")
def app_info(module_launcher):
    """An app logging at info, as the service role deploys it."""
    return module_launcher.start(level="info")


def connect(app):
    return socket.create_connection(("127.0.0.1", app.port), timeout=10)


def test_a_worker_outlives_clients_that_go_away(launcher):
    # One worker: if any of these killed it or left it stuck, the last request would hang.
    app = launcher.start(config_extra="workers = 1")
    with connect(app):
        pass  # closed before sending anything
    with connect(app) as sock:
        sock.sendall(b"GET /healthz HT")  # half a request line, then a reset
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with connect(app) as sock:
        sock.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n")  # not HTTP
        assert sock.recv(65536) != b""
    for _ in range(3):
        assert app.get("/healthz").status == 200
    assert "ERROR" not in app.stderr()


def test_a_stalled_client_holds_one_worker_only(launcher):
    app = launcher.start(config_extra="workers = 2")
    with connect(app) as stalled:
        stalled.sendall(b"GET / HTTP/1.1\r\n")  # and never the end of its headers
        assert [app.get("/healthz").status for _ in range(5)] == [200] * 5


def test_with_every_worker_busy_seven_connections_wait(launcher):
    # One connection in the worker and 7 waiting (a listen backlog of 6, and Linux queues
    # one more), as many as a thread-per-connection server held; the next ones time out.
    app = launcher.start(latency_ms=5000, config_extra="workers = 1")
    connected = []
    try:
        for _ in range(10):
            sock = socket.socket()
            sock.settimeout(0.5)
            try:
                sock.connect(("127.0.0.1", app.port))
                sock.sendall(b"GET / HTTP/1.0\r\n\r\n")
            except OSError:
                sock.close()
            else:
                connected.append(sock)
            # The first one in the worker before the queue fills, even on a loaded machine.
            time.sleep(0.3 if len(connected) == 1 else 0.05)
        assert len(connected) == 8
    finally:
        for sock in connected:
            sock.close()


def test_stop_waits_for_an_accepted_connection_then_exits(launcher):
    app = launcher.start(config_extra="workers = 2")
    stalled = connect(app)
    stalled.sendall(b"GET /healthz HTTP/1.1\r\n")
    time.sleep(0.3)  # let a worker accept it
    app.proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    assert app.proc.poll() is None  # the accepted request is in flight: shutdown waits for it
    stalled.sendall(b"\r\n")
    reply = stalled.recv(65536)
    stalled.close()
    assert reply.startswith(b"HTTP/1.0 200 OK\r\n")
    assert app.proc.wait(STOP_TIMEOUT) == 0
    assert "still in flight" not in app.stderr()


def test_each_request_is_counted_once_under_its_labels(app_info):
    def counted(method, path, code):
        return ("demo_http_requests_total", labels(method=method, path=path, code=code))

    def observed(path):
        return ("demo_http_request_duration_seconds_count", labels(path=path))

    keys = [
        counted("GET", "/healthz", "200"),
        counted("GET", "other", "404"),
        counted("POST", "/workflows", "401"),
        counted("POST", "/workflows", "201"),
        observed("/healthz"),
        observed("other"),
        observed("/workflows"),
    ]
    before = metric_samples(app_info)
    for _ in range(5):
        app_info.get("/healthz")
    for path in ("/nope", "/a/b", "/healthz/"):
        app_info.get(path)
    assert app_info.post_workflow("x", token="wrong").status == 401
    assert app_info.post_workflow("x", token=None).status == 401
    assert app_info.post_workflow("counted").status == 201
    expected = dict(zip(keys, (5, 3, 2, 1, 5, 3, 3)))
    after = metric_samples(app_info, reached={key: before.get(key, 0) + n for key, n in expected.items()})
    assert {key: after.get(key, 0) - before.get(key, 0) for key in keys} == expected


def test_request_lines_are_logged_at_debug_only(launcher, app_info):
    debug = launcher.start(slot="green")
    for app in (debug, app_info):
        assert app.get("/healthz?probe=1").status == 200
        app.request("POST", "/workflows", json.dumps({"name": "x"}), {"Authorization": f"Bearer {TOKEN}"})
    line = 'DEBUG [green] 127.0.0.1 "GET /healthz?probe=1 HTTP/1.1" 200 -\n'
    assert line in debug.stderr()
    assert '"POST /workflows HTTP/1.1" 201 -' in debug.stderr()
    assert "DEBUG" not in app_info.stderr()
    assert "/healthz" not in app_info.stderr()
