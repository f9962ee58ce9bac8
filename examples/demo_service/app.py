#!/usr/bin/env python3
"""demo-service: the small web service that the fleetops.lifecycle runbooks operate.

A release is this one file plus release.json (see docs/architecture.md, "Demo
service"). Needs Python 3.11 and prometheus_client only, as shipped by Debian 12.
"""

import argparse
import configparser
import functools
import hashlib
import hmac
import ipaddress
import json
import logging
import os
import random
import signal
import socket
import socketserver
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)

NAME = "demo-service"
RELEASE_FILE = Path(__file__).resolve().parent / "release.json"
DB_NAME = "state.db"
SLOTS = ("blue", "green")
LOG_LEVELS = ("debug", "info", "warning", "error")
MAX_DRAIN_SECONDS = 60
MAX_WORKERS = 256
DEFAULT_WORKERS = 16
INFLIGHT_GRACE_SECONDS = 10
CLIENT_TIMEOUT_SECONDS = 15
BUSY_TIMEOUT_MS = 5000
MAX_BODY_BYTES = 64 * 1024
MAX_NAME_CHARS = 200
# Request latency is milliseconds normally and a few hundred ms with injected faults. The
# bounds include the latency thresholds the gate and the SLOs count against (0.2, 0.3 s):
# a share of requests slower than X can only be counted at a bucket bound.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.25, 0.3, 0.5, 1.0, 2.5, 5.0)
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_FAIL_START = 3

log = logging.getLogger(NAME)


class UsageError(Exception):
    """Bad configuration or invocation; exit status 2. One problem per line."""


class FatalError(Exception):
    """The service cannot run (state, port, backup target); exit status 1."""


# --- configuration ---------------------------------------------------------


def _parse_listen(value):
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("not an IP address") from None
    return value


def _parse_drain_seconds(value):
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 <= seconds <= MAX_DRAIN_SECONDS:
        raise ValueError(f"expected a number of seconds from 0 to {MAX_DRAIN_SECONDS}")
    return seconds


def _parse_workers(value):
    try:
        workers = int(value)
    except ValueError:
        workers = 0
    if not 1 <= workers <= MAX_WORKERS:
        raise ValueError(f"expected a whole number of request workers from 1 to {MAX_WORKERS}")
    return workers


def _parse_state_dir(value):
    if not os.path.isabs(value):
        raise ValueError("must be an absolute path")
    return Path(value)


def _parse_log_level(value):
    if value not in LOG_LEVELS:
        raise ValueError(f"not a log level (expected one of: {', '.join(LOG_LEVELS)})")
    return value


# section -> option -> (default, parser raising ValueError with the reason)
CONFIG_SCHEMA = {
    "server": {
        "listen": ("0.0.0.0", _parse_listen),
        "drain_seconds": ("0", _parse_drain_seconds),
        "workers": (str(DEFAULT_WORKERS), _parse_workers),
    },
    "state": {"dir": ("/var/lib/demo", _parse_state_dir)},
    "log": {"level": ("info", _parse_log_level)},
}


@dataclass(frozen=True)
class Config:
    listen: str
    drain_seconds: float
    workers: int
    state_dir: Path
    log_level: str


def _read_ini(path):
    # No DEFAULT section: its keys would leak into every section and hide typos.
    parser = configparser.ConfigParser(interpolation=None, default_section="")
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle, source=path)
    except OSError as exc:
        raise UsageError(f"cannot read config {path}: {exc.strerror}") from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: not a valid INI file: {exc}") from None
    return parser


def _unknown_entries(parser):
    for section in parser.sections():
        known = CONFIG_SCHEMA.get(section)
        if known is None:
            yield f"[{section}]: unknown section (known: {', '.join(CONFIG_SCHEMA)})"
            continue
        for option, value in parser.items(section):
            if option not in known:
                yield f"[{section}] {option} = {value!r}: unknown option (known: {', '.join(known)})"


def load_config(path):
    """Parses and validates the INI file; reports every problem at once."""
    parser = _read_ini(path)
    errors = list(_unknown_entries(parser))
    values = {}
    for section, options in CONFIG_SCHEMA.items():
        for option, (default, parse) in options.items():
            raw = parser.get(section, option, fallback=default)
            try:
                values[option] = parse(raw)
            except ValueError as exc:
                errors.append(f"[{section}] {option} = {raw!r}: {exc}")
    if errors:
        raise UsageError("\n".join(f"{path}: {error}" for error in errors))
    return Config(
        listen=values["listen"],
        drain_seconds=values["drain_seconds"],
        workers=values["workers"],
        state_dir=values["dir"],
        log_level=values["level"],
    )


def parse_port(raw):
    # isdigit alone accepts non-ASCII digits; int alone accepts "+80" and " 80".
    if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= 65535):
        raise ValueError("expected an integer port from 1 to 65535")
    return int(raw)


def resolve_port(cli_port, environ):
    if cli_port is not None:
        return cli_port
    raw = environ.get("DEMO_PORT")
    if raw is None:
        raise UsageError("DEMO_PORT is not set (set it or pass --port)")
    try:
        return parse_port(raw)
    except ValueError as exc:
        raise UsageError(f"DEMO_PORT={raw!r}: {exc}") from None


# --- release ---------------------------------------------------------------


@dataclass(frozen=True)
class Release:
    version: str
    error_ratio: float
    latency_ms: int
    fail_start: bool

    def faults(self):
        return {"error_ratio": self.error_ratio, "latency_ms": self.latency_ms, "fail_start": self.fail_start}


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def load_release(path):
    """Reads release.json; a missing or malformed one means a broken release."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON: {exc}") from None
    faults = data.get("faults") if isinstance(data, dict) else None
    version = data.get("version") if isinstance(data, dict) else None
    if not (isinstance(version, str) and version and isinstance(faults, dict)):
        raise UsageError(f"{path}: expected an object with a 'version' string and a 'faults' object")
    ratio, latency, fail_start = faults.get("error_ratio"), faults.get("latency_ms"), faults.get("fail_start")
    if not (_is_number(ratio) and 0 <= ratio <= 1):
        raise UsageError(f"{path}: faults.error_ratio = {ratio!r}: expected a number from 0 to 1")
    if not (isinstance(latency, int) and not isinstance(latency, bool) and latency >= 0):
        raise UsageError(f"{path}: faults.latency_ms = {latency!r}: expected an integer >= 0")
    if not isinstance(fail_start, bool):
        raise UsageError(f"{path}: faults.fail_start = {fail_start!r}: expected true or false")
    return Release(version=version, error_ratio=float(ratio), latency_ms=latency, fail_start=fail_start)


# --- state -----------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS workflows (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    created_at TEXT NOT NULL
)
"""
ROWS_QUERY = "SELECT id, name, created_at FROM workflows ORDER BY id"


def checksum(rows):
    """sha256 over one JSON array per row, in id order: stable across processes and backups."""
    digest = hashlib.sha256()
    for row in rows:
        digest.update(json.dumps(list(row)).encode("ascii") + b"\n")
    return digest.hexdigest()


class Store:
    """One SQLite connection per process, serialized by a lock.

    WAL lets the blue and green processes read while the other writes; busy_timeout
    makes concurrent writers wait instead of failing.
    """

    def __init__(self, path):
        if not path.parent.is_dir():
            # Never create it: a typo in [state] dir would silently start from empty state.
            raise FatalError(f"state dir {path.parent} does not exist")
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute(SCHEMA)
        except sqlite3.Error as exc:
            raise FatalError(f"cannot open {path}: {exc}") from None

    def count(self):
        with self._lock:
            return self._db.execute("SELECT count(*) FROM workflows").fetchone()[0]

    def summary(self):
        with self._lock:
            rows = self._db.execute(ROWS_QUERY).fetchall()
        return len(rows), checksum(rows)

    def add(self, name):
        created_at = datetime.now(timezone.utc).isoformat(timespec="milliseconds")
        with self._lock:
            cursor = self._db.execute("INSERT INTO workflows (name, created_at) VALUES (?, ?)", (name, created_at))
        return cursor.lastrowid

    def close(self):
        """Folds the WAL back into the main file so the DB is self-contained, then closes."""
        with self._lock:
            busy, wal_pages, moved = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            self._db.close()
        return busy, wal_pages, moved


def _fsync(path, directory=False):
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_database(source, target):
    """Online backup into target; returns the rows of the copy."""
    src = sqlite3.connect(source)
    try:
        src.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            # A single self-contained file: no -wal sidecar to forget when copying it.
            dst.execute("PRAGMA journal_mode = DELETE")
            if dst.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("the copy failed its integrity check")
            return dst.execute(ROWS_QUERY).fetchall()
        finally:
            dst.close()
    finally:
        src.close()


def backup(config, dest):
    """Consistent copy of state.db at dest (written as dest.tmp, fsynced, renamed)."""
    source = config.state_dir / DB_NAME
    if not source.is_file():
        raise FatalError(f"no database at {source}")
    target = Path(dest).absolute()
    tmp = target.with_name(target.name + ".tmp")
    try:
        tmp.unlink(missing_ok=True)
        rows = _copy_database(source, tmp)
        _fsync(tmp)
        os.replace(tmp, target)
        _fsync(target.parent, directory=True)
    except (sqlite3.Error, OSError) as exc:
        tmp.unlink(missing_ok=True)
        raise FatalError(f"backup to {target} failed: {exc}") from None
    return {"path": str(target), "rows": len(rows), "bytes": target.stat().st_size, "checksum": checksum(rows)}


# --- metrics ---------------------------------------------------------------


class Metrics:
    """Private registry: this service's series and its process's CPU and memory (the
    signals scaling decisions read), no platform collectors."""

    def __init__(self, release, slot, store):
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        self._requests = Counter(
            "demo_http_requests",
            "HTTP requests by method, path and status code.",
            ["method", "path", "code"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "demo_http_request_duration_seconds",
            "HTTP request duration by path.",
            ["path"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        build = Gauge(
            "demo_build_info", "Running release and slot; always 1.", ["version", "slot"], registry=self.registry
        )
        build.labels(release.version, slot).set(1)
        workflows = Gauge("demo_workflows", "Rows in the shared workflows table.", registry=self.registry)
        workflows.set_function(lambda: _count_or_nan(store))

        # (method, path, code) -> (counter child, histogram child): labels() hashes and
        # locks on every call; the keys are bounded (known paths or "other", two methods).
        self._children = {}

    def observe(self, method, path, code, seconds):
        key = (method, path, code)
        requests, duration = self._children.get(key) or self._add_children(key)
        requests.inc()
        duration.observe(seconds)

    def _add_children(self, key):
        method, path, code = key
        children = self._children[key] = (self._requests.labels(method, path, str(code)), self._duration.labels(path))
        return children


def _count_or_nan(store):
    # A scrape must not fail because the database is briefly unusable.
    try:
        return store.count()
    except sqlite3.Error:
        return float("nan")


# --- HTTP ------------------------------------------------------------------


@dataclass
class App:
    release: Release
    slot: str
    store: Store
    metrics: Metrics
    token: str
    hostname: str = field(default_factory=socket.gethostname)
    draining: threading.Event = field(default_factory=threading.Event)

    def version_info(self):
        return {"name": NAME, "version": self.release.version, "slot": self.slot, "faults": self.release.faults()}

    @functools.cached_property
    def greeting(self):
        """GET /'s 200 body: the same for the life of the process, so encoded once."""
        return json_bytes(
            {"message": f"hello from {NAME}", "version": self.release.version, "slot": self.slot, "host": self.hostname}
        )


def json_bytes(payload):
    """A JSON reply's body: sorted keys, then a newline."""
    return (json.dumps(payload, sort_keys=True) + "\n").encode()


class HTTPError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class Handler(BaseHTTPRequestHandler):
    server_version = NAME
    # A stalled client must not hold a thread (and the shutdown) forever.
    timeout = CLIENT_TIMEOUT_SECONDS

    # path -> method -> handler method name; everything else is 404 / 405.
    ROUTES = {
        "/": {"GET": "_root"},
        "/healthz": {"GET": "_healthz"},
        "/readyz": {"GET": "_readyz"},
        "/version": {"GET": "_version"},
        "/metrics": {"GET": "_metrics"},
        "/workflows": {"GET": "_list_workflows", "POST": "_add_workflow"},
    }

    def do_GET(self):
        self._dispatch("GET")

    def do_POST(self):
        self._dispatch("POST")

    def log_message(self, format, *args):
        # Called for every request: format only when the line is logged.
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s", self.address_string(), format % args)

    # (second, its Date header value), shared by all handlers: formatted once a second
    # rather than for every reply, a GET / costs 7 % less CPU.
    _date = (None, "")

    def date_time_string(self, timestamp=None):
        # The value is the whole second (as http.server's), read from the same clock.
        if timestamp is not None:
            return super().date_time_string(timestamp)
        second = int(time.time())
        cached_second, text = Handler._date
        if cached_second != second:
            text = super().date_time_string(second)
            Handler._date = (second, text)
        return text

    def log_error(self, format, *args):
        log.info("%s %s", self.address_string(), format % args)

    def _dispatch(self, method):
        app = self.server.app
        started = time.perf_counter()
        path = urlsplit(self.path).path
        methods = self.ROUTES.get(path)
        # Unknown paths share one label so scanners cannot blow up the series count.
        label = path if methods is not None else "other"
        try:
            if methods is None:
                raise HTTPError(404, "not found")
            if method not in methods:
                raise HTTPError(405, f"method not allowed (allowed: {', '.join(methods)})")
            code = getattr(self, methods[method])(app)
        except HTTPError as exc:
            code = self._send_json(exc.code, {"error": str(exc)})
        except sqlite3.Error as exc:
            log.error("database error on %s %s: %s", method, label, exc)
            code = self._send_json(503, {"error": "database unavailable"})
        app.metrics.observe(method, label, code, time.perf_counter() - started)

    def _send(self, code, body, content_type):
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self._end_headers_and_write(body)
        return code

    def _end_headers_and_write(self, body):
        """end_headers() and wfile.write(body) in one write: one send() and one TCP segment."""
        # http.server holds the unsent status line and headers in _headers_buffer; none
        # for an HTTP/0.9 request, whose reply is the body alone.
        pending = getattr(self, "_headers_buffer", None)
        if self.request_version == "HTTP/0.9" or pending is None:
            self.end_headers()
            self.wfile.write(body)
            return
        pending.append(b"\r\n")
        pending.append(body)
        self.flush_headers()

    def _send_json(self, code, payload):
        return self._send(code, json_bytes(payload), "application/json")

    def _send_text(self, code, text):
        return self._send(code, f"{text}\n".encode(), "text/plain; charset=utf-8")

    def _root(self, app):
        release = app.release
        if release.latency_ms:
            time.sleep(release.latency_ms / 1000)
        if random.random() < release.error_ratio:
            return self._send_json(500, {"error": "injected fault", "version": release.version, "slot": app.slot})
        return self._send(200, app.greeting, "application/json")

    def _healthz(self, app):
        return self._send_text(200, "ok")

    def _readyz(self, app):
        if app.draining.is_set():
            return self._send_text(503, "draining")
        try:
            app.store.count()
        except sqlite3.Error as exc:
            log.warning("not ready: database unusable: %s", exc)
            return self._send_text(503, "database unavailable")
        return self._send_text(200, "ready")

    def _version(self, app):
        return self._send_json(200, app.version_info())

    def _metrics(self, app):
        return self._send(200, generate_latest(app.metrics.registry), CONTENT_TYPE_LATEST)

    def _list_workflows(self, app):
        count, digest = app.store.summary()
        return self._send_json(200, {"count": count, "checksum": digest})

    def _add_workflow(self, app):
        if not self._authorized(app.token):
            raise HTTPError(401, "unauthorized")
        name = self._read_name()
        return self._send_json(201, {"id": app.store.add(name), "name": name})

    def _authorized(self, token):
        scheme, _, presented = self.headers.get("Authorization", "").partition(" ")
        # compare_digest: no timing side channel on the token.
        return (
            bool(token)
            and scheme.lower() == "bearer"
            and hmac.compare_digest(presented.strip().encode(), token.encode())
        )

    def _read_name(self):
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise HTTPError(411, "Content-Length required") from None
        if not 0 <= length <= MAX_BODY_BYTES:
            raise HTTPError(413, f"body larger than {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            raise HTTPError(400, "body is not valid JSON") from None
        name = body.get("name") if isinstance(body, dict) else None
        if not (isinstance(name, str) and name.strip() and len(name) <= MAX_NAME_CHARS):
            raise HTTPError(400, f'expected {{"name": <non-empty string of at most {MAX_NAME_CHARS} characters>}}')
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            raise HTTPError(400, "name is not valid Unicode") from None
        return name


class Server(HTTPServer):
    """A fixed set of worker threads, each accepting and handling one connection at a
    time; counts in-flight requests so that shutdown can wait for them, bounded.

    Not socketserver's thread per connection: starting and ending that thread, and
    handing the GIL between it and the accept loop, cost more CPU than the rest of a
    request. Linux only: shutdown() relies on shutting a listening socket down waking
    the threads blocked in accept() on it.
    """

    # socketserver's 5 plus one: with every worker busy, as many connections wait as when
    # a thread-per-connection accept loop also held one while it waited for a worker.
    request_queue_size = 6

    def __init__(self, address, app, workers=None):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.app = app
        # At most `workers` requests are handled at once; the rest wait in the listen backlog.
        self._workers = workers or DEFAULT_WORKERS
        self._inflight = 0
        self._accepting = 0  # workers in accept(): shutdown() waits until none is
        self._stopping = False
        self._idle = threading.Condition()
        super().__init__(address, Handler)

    def server_bind(self):
        # HTTPServer.server_bind looks up the FQDN of the listen address, which can
        # stall for seconds on hosts without DNS; the name is never used here.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def start(self):
        """Starts the workers; they serve until shutdown()."""
        for number in range(self._workers):
            # Daemons, as ThreadingHTTPServer's: a stuck request must not keep the process up.
            threading.Thread(target=self._work, name=f"http-{number}", daemon=True).start()

    def shutdown(self):
        """Stops accepting connections; returns once no worker can take another."""
        with self._idle:
            self._stopping = True
        # Wakes the workers blocked in accept(): it fails from now on.
        self.socket.shutdown(socket.SHUT_RDWR)
        with self._idle:
            self._idle.wait_for(lambda: self._accepting == 0)

    def _work(self):
        while (accepted := self._accept()) is not None:
            request, client_address = accepted
            # What ThreadingMixIn.process_request_thread does, then the in-flight count.
            try:
                self.finish_request(request, client_address)
            except Exception:
                self.handle_error(request, client_address)
            finally:
                self.shutdown_request(request)
                with self._idle:
                    self._inflight -= 1
                    self._idle.notify_all()

    def _accept(self):
        """The next connection, counted in flight; None once shutdown() has begun."""
        with self._idle:
            if self._stopping:
                return None
            self._accepting += 1
        accepted = None
        while accepted is None and not self._stopping:
            try:
                accepted = self.get_request()
            except OSError:  # the client reset it before accept(), or shutdown()
                pass
        with self._idle:
            # Counted before shutdown() can return, so wait_idle() cannot miss it.
            self._accepting -= 1
            if accepted is not None:
                self._inflight += 1
            self._idle.notify_all()
        return accepted

    def handle_error(self, request, client_address):
        # Through the redacting logger rather than socketserver's raw traceback on stderr.
        if isinstance(sys.exc_info()[1], ConnectionError):
            log.debug("client %s went away", client_address[0])
        else:
            log.exception("error while handling a request from %s", client_address[0])

    def wait_idle(self, timeout):
        """Waits until no request is in flight; returns how many still are."""
        with self._idle:
            self._idle.wait_for(lambda: self._inflight == 0, timeout)
            return self._inflight


# --- process ---------------------------------------------------------------


class RedactingFormatter(logging.Formatter):
    """Masks the API token in everything logged, request lines and tracebacks included."""

    def __init__(self, fmt, secret):
        super().__init__(fmt)
        self._secret = secret

    def format(self, record):
        text = super().format(record)
        return text.replace(self._secret, "[REDACTED]") if self._secret else text


def setup_logging(level, slot, secret):
    # stderr goes to journald, which adds timestamps itself.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(f"%(levelname)s [{slot}] %(message)s", secret))
    log.addHandler(handler)
    log.setLevel(level.upper())
    log.propagate = False


def shut_down(server, app, drain_seconds):
    app.draining.set()
    log.info("stopping: readyz now answers 503")
    # Keep serving for a while so that load balancer health checks see the 503 first.
    time.sleep(drain_seconds)
    server.shutdown()
    server.server_close()
    left = server.wait_idle(INFLIGHT_GRACE_SECONDS)
    if left:
        log.warning("%d request(s) still in flight after %ds; closing anyway", left, INFLIGHT_GRACE_SECONDS)
    busy, wal_pages, moved = app.store.close()
    log.info("database checkpointed (busy=%d, wal pages=%d, moved=%d) and closed", busy, wal_pages, moved)


def serve(args, config):
    token = os.environ.get("DEMO_API_TOKEN", "")
    setup_logging(config.log_level, args.slot, token)
    port = resolve_port(args.port, os.environ)
    release = load_release(RELEASE_FILE)
    if release.fail_start:
        log.error("release %s has faults.fail_start set: refusing to start", release.version)
        return EXIT_FAIL_START
    # Blocked before any thread starts, so every thread inherits the mask and the main
    # thread collects the signal with sigwait: no handler racing the running code.
    stop_signals = {signal.SIGTERM, signal.SIGINT}
    signal.pthread_sigmask(signal.SIG_BLOCK, stop_signals)
    if not token:
        log.warning("DEMO_API_TOKEN is not set: POST /workflows will answer 401")
    store = Store(config.state_dir / DB_NAME)
    app = App(release=release, slot=args.slot, store=store, metrics=Metrics(release, args.slot, store), token=token)
    try:
        server = Server((config.listen, port), app, workers=config.workers)
    except OSError as exc:
        raise FatalError(f"cannot listen on {config.listen} port {port}: {exc.strerror}") from None
    server.start()
    log.info("%s %s (slot %s) listening on %s port %d", NAME, release.version, args.slot, config.listen, port)
    received = signal.sigwait(stop_signals)
    log.info("received %s", signal.Signals(received).name)
    shut_down(server, app, config.drain_seconds)
    return 0


def _port_arg(raw):
    try:
        return parse_port(raw)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{raw!r}: {exc}") from None


def parse_args(argv):
    parser = argparse.ArgumentParser(prog=NAME, description="Demo web service for the fleetops.lifecycle runbooks.")
    parser.add_argument("--config", default="/etc/demo/demo.ini", help="INI config file (default: %(default)s)")
    parser.add_argument("--slot", choices=SLOTS, help="slot this process serves; required to serve")
    parser.add_argument("--port", type=_port_arg, help="port to listen on (default: $DEMO_PORT)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check-config", action="store_true", help="validate the config and exit")
    mode.add_argument("--backup-to", metavar="PATH", help="write an online backup of the state DB to PATH and exit")
    args = parser.parse_args(argv)
    if not (args.check_config or args.backup_to or args.slot):
        parser.error("--slot is required to serve")
    return args


def main(argv=None):
    args = parse_args(argv)
    try:
        config = load_config(args.config)
        if args.check_config:
            print("config ok")
            return 0
        if args.backup_to:
            print(json.dumps(backup(config, args.backup_to), sort_keys=True))
            return 0
        return serve(args, config)
    except UsageError as exc:
        status, message = EXIT_USAGE, str(exc)
    except FatalError as exc:
        status, message = EXIT_FAILURE, str(exc)
    for line in message.splitlines():
        print(f"{NAME}: error: {line}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
