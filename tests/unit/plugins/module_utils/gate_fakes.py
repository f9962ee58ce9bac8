# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test doubles for the SLO gate: a fake clock, scripted traffic, and loopback servers
that expose it as Prometheus' query API, HAProxy's stats CSV (HTTP page and runtime
API socket) and real ``prometheus_client`` ``/metrics`` pages.

Traffic is scripted per interval: each :meth:`FakeClock.sleep` (one per sample of the
gate's loop) applies the next step to every :class:`Slot`, so the scrape after the
sleep sees the counters of one more interval.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import socket
import socketserver
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app

BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
INSTANCES = ("app1", "app2")


class FakeClock(object):
    """monotonic/time/sleep for run_gate; sleeping advances time and runs ``on_sleep``."""

    def __init__(self, on_sleep=None, start=1767139200.0):
        self.now = 0.0
        self.start = start
        self.sleeps = []
        self.on_sleep = on_sleep

    def monotonic(self):
        return self.now

    def time(self):
        return self.start + self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep:
            self.on_sleep()


class Slot(object):
    """Cumulative counters of one slot's instances, advanced by a script of steps.

    A step is ``(requests, errors)`` or ``(requests, errors, latency_seconds)`` per
    interval (spread evenly over the instances), the string ``"reset"`` (every counter
    restarts at 0, as after a restart) or a callable taking the slot.
    """

    def __init__(self, script=(), instances=INSTANCES, latency=0.02):
        self.instances = tuple(instances)
        self.script = list(script)
        self.latency = latency
        self.requests = {}  # (instance, code) -> count
        self.buckets = {}  # (instance, le) -> count
        self.latency_sum = {}  # instance -> seconds
        self.scrapes = 0  # requests to /metrics, must never count as traffic
        self.up = dict((instance, 1) for instance in self.instances)
        self.ready = dict((instance, True) for instance in self.instances)
        self.serve(0, 0)

    def serve(self, requests, errors=0, latency=None):
        latency = self.latency if latency is None else latency
        count = len(self.instances)
        for index, instance in enumerate(self.instances):
            share = requests // count + (1 if index < requests % count else 0)
            bad = errors // count + (1 if index < errors % count else 0)
            for code, number in (("200", share - bad), ("500", bad)):
                key = (instance, code)
                self.requests[key] = self.requests.get(key, 0) + number
            for le in BUCKETS + (math.inf,):
                key = (instance, le)
                self.buckets[key] = self.buckets.get(key, 0) + (share if latency <= le else 0)
            self.latency_sum[instance] = self.latency_sum.get(instance, 0.0) + share * latency

    def reset(self):
        self.requests = {}
        self.buckets = {}
        self.latency_sum = {}
        self.serve(0, 0)

    def advance(self):
        self.scrapes += 1
        if not self.script:
            return
        step = self.script.pop(0)
        if step == "reset":
            self.reset()
        elif callable(step):
            step(self)
        else:
            self.serve(*step)

    def instance_counts(self, instance):
        ok = self.requests.get((instance, "200"), 0)
        errors = self.requests.get((instance, "500"), 0)
        return ok, errors


def advance_all(*slots):
    def advance():
        for slot in slots:
            slot.advance()

    return advance


@contextlib.contextmanager
def serving(server):
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def _reply(handler, status, content_type, body):
    """Send one complete HTTP response from a BaseHTTPRequestHandler."""
    handler.send_response(status)
    handler.send_header("Content-Type", content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def free_port():
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------- Prometheus


def _le(value):
    return "+Inf" if value == math.inf else repr(value)


class FakePrometheus(object):
    """``/api/v1/query`` answering instant vector queries over :class:`Slot` counters.

    ``slots`` maps a label selector (``{job="demo",slot="green"}``) to its slot.
    ``errors`` maps a query to ``(HTTP status, body)``; ``empty`` holds queries that
    return no series; ``queries`` records every query received.
    """

    def __init__(self, slots, job="demo"):
        self.slots = slots
        self.job = job
        self.errors = {}
        self.empty = set()
        self.queries = []

    def labels(self, selector, instance, **extra):
        slot = selector.split('slot="')[1].split('"')[0] if 'slot="' in selector else "any"
        labels = {"job": self.job, "slot": slot, "instance": "%s:8081" % instance, "host": instance}
        labels.update(extra)
        return labels

    def answer(self, query):
        self.queries.append(query)
        if query in self.errors:
            return self.errors[query]
        name, _, rest = query.partition("{")
        selector = "{" + rest
        slot = self.slots.get(selector)
        result = []
        if slot is not None and query not in self.empty:
            result = self._series(name, selector, slot)
        body = {"status": "success", "data": {"resultType": "vector", "result": result}}
        return 200, json.dumps(body).encode()

    def _series(self, name, selector, slot):
        now = 1767139200.0
        result = []
        if name == "demo_http_requests_total":
            for (instance, code), value in sorted(slot.requests.items()):
                metric = self.labels(selector, instance, __name__=name, method="GET", path="/", code=code)
                result.append({"metric": metric, "value": [now, str(value)]})
            for instance in slot.instances:  # Prometheus' own scrapes: excluded by path
                metric = self.labels(selector, instance, __name__=name, method="GET", path="/metrics", code="200")
                result.append({"metric": metric, "value": [now, str(slot.scrapes * 1000)]})
        elif name == "demo_http_request_duration_seconds_bucket":
            for (instance, le), value in sorted(slot.buckets.items()):
                metric = self.labels(selector, instance, __name__=name, path="/", le=_le(le))
                result.append({"metric": metric, "value": [now, str(value)]})
        elif name == "up":
            for instance, value in sorted(slot.up.items()):
                metric = self.labels(selector, instance, __name__=name)
                result.append({"metric": metric, "value": [now, str(value)]})
        return result

    @contextlib.contextmanager
    def run(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                if parts.path != "/api/v1/query":
                    status, body = 404, b"404 page not found"
                else:
                    status, body = fake.answer(parse_qs(parts.query)["query"][0])
                _reply(self, status, "application/json", body)

            def log_message(self, *args):
                pass

        with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as server:
            yield "http://127.0.0.1:%d" % server.server_address[1]


# ------------------------------------------------------------------------ HAProxy

CSV_FIELDS = (
    "pxname", "svname", "qcur", "scur", "stot", "status", "weight", "type",
    "hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other",
    "rtime", "ttime", "check_status",
)


class FakeHAProxy(object):
    """``show stat`` CSV of backend ``demo`` with one server per instance and slot."""

    def __init__(self, slots, backend="demo"):
        self.slots = slots  # slot name -> Slot
        self.backend = backend
        self.status = {}  # server name -> status override (DOWN, MAINT, NOLB, ...)
        self.requests = 0

    def csv(self):
        self.requests += 1
        lines = ["# " + ",".join(CSV_FIELDS) + ",-,"]
        lines.append("app,FRONTEND,,0,0,OPEN,,0,0,0,0,0,0,0,,,,,")
        for slot_name, slot in sorted(self.slots.items()):
            for instance in slot.instances:
                name = "%s-%s" % (instance, slot_name)
                ok, errors = slot.instance_counts(instance)
                count = ok + errors
                rtime = int(round(slot.latency_sum.get(instance, 0.0) / count * 1000)) if count else 0
                status = self.status.get(name, "UP" if slot.up[instance] else "DOWN")
                values = (
                    self.backend, name, 0, 0, count, status, 100, 2,
                    0, ok, 0, 0, errors, 0, rtime, rtime + 1, "L7OK",
                )
                lines.append(",".join(str(v) for v in values) + ",,")
        lines.append("%s,BACKEND,0,0,0,UP,200,1,0,0,0,0,0,0,0,0,,," % self.backend)
        return "\n".join(lines) + "\n"

    @contextlib.contextmanager
    def run_http(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/stats;csv":
                    status, body = 200, fake.csv().encode()
                else:
                    status, body = 503, b"<html>No server is available</html>"
                _reply(self, status, "text/plain", body)

            def log_message(self, *args):
                pass

        with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as server:
            yield "http://127.0.0.1:%d/stats;csv" % server.server_address[1]

    @contextlib.contextmanager
    def run_socket(self):
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                command = self.rfile.readline().decode().strip()
                reply = fake.csv() if command == "show stat" else "Unknown command.\n"
                self.wfile.write(reply.encode())

        directory = tempfile.mkdtemp(prefix="fake-haproxy-")
        path = os.path.join(directory, "admin.sock")
        try:
            with serving(socketserver.ThreadingUnixStreamServer(path, Handler)):
                yield path
        finally:
            with contextlib.suppress(OSError):
                os.unlink(path)
            os.rmdir(directory)


# --------------------------------------------------------------- /metrics pages


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


class _ThreadingWSGIServer(socketserver.ThreadingMixIn, WSGIServer):
    daemon_threads = True


class MetricsApp(object):
    """One instance of a slot: a real prometheus_client registry behind ``/metrics``
    and ``/readyz``, its counters driven by the slot's script. Scrapes and probes are
    counted like the demo service counts them (path label ``/metrics``, ``/readyz``)."""

    def __init__(self, slot, instance, metrics_path="/metrics", health_path="/readyz"):
        self.slot = slot
        self.instance = instance
        self.metrics_path, self.health_path = metrics_path, health_path
        self._fresh()

    def _fresh(self):
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "demo_http_requests", "HTTP requests.", ["method", "path", "code"], registry=self.registry
        )
        self.duration = Histogram(
            "demo_http_request_duration_seconds", "Duration.", ["path"], buckets=BUCKETS, registry=self.registry
        )
        self.metrics_app = make_wsgi_app(self.registry)
        self.seen = (0, 0)
        self.seen_buckets = {}

    def sync(self):
        """Bring the registry up to the slot's counters (a reset starts a new one, as a
        restarted process does)."""
        ok, errors = self.slot.instance_counts(self.instance)
        if ok < self.seen[0] or errors < self.seen[1]:
            self._fresh()
        self.requests.labels("GET", "/", "200").inc(ok - self.seen[0])
        self.requests.labels("GET", "/", "500").inc(errors - self.seen[1])
        below = 0
        for le in BUCKETS + (math.inf,):
            cumulative = self.slot.buckets.get((self.instance, le), 0)
            new = (cumulative - self.seen_buckets.get(le, 0)) - below
            for _ in range(new):
                self.duration.labels("/").observe(le if le != math.inf else 10.0)
            below += new
            self.seen_buckets[le] = cumulative
        self.seen = (ok, errors)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO")
        if path == self.metrics_path:
            self.sync()
            self.requests.labels("GET", path, "200").inc()
            return self.metrics_app(dict(environ, PATH_INFO="/metrics"), start_response)
        if path == self.health_path:
            ready = self.slot.ready[self.instance]
            self.requests.labels("GET", path, "200" if ready else "503").inc()
            start_response("200 OK" if ready else "503 Service Unavailable", [("Content-Type", "text/plain")])
            return [b"ready" if ready else b"draining"]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]


@contextlib.contextmanager
def metrics_servers(slot, **paths):
    """Serve every instance of ``slot`` on loopback (``metrics_path``, ``health_path``:
    where the pages are, /metrics and /readyz by default); yields their base URLs."""
    with contextlib.ExitStack() as stack:
        urls = []
        for instance in slot.instances:
            server = make_server(
                "127.0.0.1", 0, MetricsApp(slot, instance, **paths),
                server_class=_ThreadingWSGIServer, handler_class=_QuietHandler,
            )
            stack.enter_context(serving(server))
            urls.append("http://127.0.0.1:%d" % server.server_address[1])
        yield urls
