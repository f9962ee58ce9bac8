# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""lab/traffic/fleetops-traffic.py: the lab's synthetic client, against a loopback server."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

CLIENT = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                      "lab", "traffic", "fleetops-traffic.py")


def test_it_spreads_its_requests_over_the_endpoints_at_about_its_rate():
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, self.headers.get("Connection"), self.request_version))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    proc = subprocess.Popen([sys.executable, CLIENT, "--url", "http://127.0.0.1:%d/base/" % server.server_address[1],
                             "--rate", "40"])
    try:
        deadline = time.monotonic() + 20
        while len(seen) < 24 and time.monotonic() < deadline:
            time.sleep(0.05)
        started = time.monotonic()
        count = len(seen)
        time.sleep(1.0)
        per_second = (len(seen) - count) / (time.monotonic() - started)
    finally:
        proc.kill()
        proc.wait()
        server.shutdown()
        server.server_close()
    assert {path for path, _, _ in seen} == {"/base/", "/base/version", "/base/workflows", "/base/healthz"}
    assert {(connection, version) for _, connection, version in seen} == {("close", "HTTP/1.1")}
    assert 20 <= per_second <= 60, per_second


def test_requests_to_a_closed_port_are_dropped_and_it_keeps_going():
    proc = subprocess.Popen([sys.executable, CLIENT, "--url", "http://127.0.0.1:9/", "--rate", "50"],
                            stderr=subprocess.PIPE, text=True)
    try:
        time.sleep(1.0)
        assert proc.poll() is None, proc.stderr.read()
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("args, message", [
    (["--url", "https://10.90.0.10/", "--rate", "5"], "--url must be a plain http:// URL, got https://10.90.0.10/"),
    (["--url", "10.90.0.10", "--rate", "5"], "--url must be a plain http:// URL, got 10.90.0.10"),
    (["--url", "http://10.90.0.10/", "--rate", "0"], "--rate must be in (0, 200], got 0.0"),
    (["--url", "http://10.90.0.10/", "--rate", "500"], "--rate must be in (0, 200], got 500.0"),
])
def test_bad_arguments_are_refused_naming_the_option_and_value(args, message):
    proc = subprocess.run([sys.executable, CLIENT, *args], capture_output=True, text=True, timeout=30, check=False)
    assert proc.returncode == 2
    assert message in proc.stderr
