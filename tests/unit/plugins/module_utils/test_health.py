# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Health probes against real things on this machine: a loopback HTTP server, loopback
ports, a tmpfs (when we may mount one), files with set mtimes, commands, a child
process, and a fake ``systemctl`` first on PATH (the machine may not run systemd)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import health
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.module_utils.gate_fakes import (
    _reply,
    free_port,
    serving,
)


class QuickSystem(health.System):
    """The real system, except that waiting between attempts is only recorded."""

    def __init__(self):
        super().__init__()
        self.sleeps = []

    def sleep(self, seconds):
        self.sleeps.append(seconds)


def run(*probes, **options):
    system = options.pop("system", None) or QuickSystem()
    return health.run_probes(health.validate_probes(list(probes), **options), system=system)


def one(probe, **options):
    (result,) = run(probe, **options)
    assert set(result) == {"name", "type", "ok", "value", "threshold", "message", "duration_ms", "attempts"}
    return result


# ------------------------------------------------------------------------ http


class FakeApp(object):
    """Loopback HTTP server with a few canned pages; ``flaky`` answers 503 that many times first."""

    def __init__(self):
        self.flaky = 0
        self.hits = 0

    def page(self, path):
        self.hits += 1
        if path == "/ok":
            return 200, "text/plain", b"ready\n"
        if path == "/fail":
            return 503, "text/plain", b"draining\n"
        if path == "/json":
            body = {"status": "ok", "version": "1.2.0", "checks": {"db": {"up": True, "lag": 3}}, "items": [1, 2]}
            return 200, "application/json", json.dumps(body).encode()
        if path == "/slow":
            time.sleep(0.3)
            return 200, "text/plain", b"slow but fine"
        if path == "/flaky":
            if self.flaky > 0:
                self.flaky -= 1
                return 503, "text/plain", b"not yet"
            return 200, "text/plain", b"ready"
        return 404, "text/plain", b"not found"

    @contextlib.contextmanager
    def run(self):
        app = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                if self.path == "/redirect":
                    self.send_response(302)
                    self.send_header("Location", "/ok")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                _reply(self, *app.page(self.path))

            def log_message(self, *args):
                pass

        with serving(ThreadingHTTPServer(("127.0.0.1", 0), Handler)) as server:
            yield "http://127.0.0.1:%d" % server.server_address[1]


@pytest.fixture(scope="module")
def app():
    fake = FakeApp()
    with fake.run() as url:
        fake.url = url
        yield fake


def http(url, **options):
    probe = {"name": "web", "type": "http", "url": url}
    probe.update(options)
    return probe


def test_http_ok(app):
    result = one(http(app.url + "/ok", body_contains="ready"))
    assert result["ok"] is True and result["attempts"] == 1
    assert result["value"]["status"] == 200 and result["value"]["latency_ms"] >= 0
    assert result["threshold"] == {"status": [200], "body_contains": "ready"}
    assert re.match(r"GET http://127\.0\.0\.1:\d+/ok answered 200 in [\d.]+ms; body contains 'ready'$",
                    result["message"])


def test_http_status(app):
    result = one(http(app.url + "/fail"))
    assert result["ok"] is False and result["value"]["status"] == 503
    assert result["message"] == "GET %s/fail answered 503, expected 200" % app.url
    assert one(http(app.url + "/fail", status=[200, 503]))["ok"] is True


def test_http_redirects_are_not_followed(app):
    result = one(http(app.url + "/redirect"))
    assert (result["ok"], result["value"]["status"]) == (False, 302)
    assert one(http(app.url + "/redirect", status=302))["ok"] is True


def test_http_body(app):
    result = one(http(app.url + "/ok", body_contains="healthy"))
    assert result["ok"] is False
    assert result["message"] == "GET %s/ok body does not contain 'healthy' (body starts 'ready\\n')" % app.url


@pytest.mark.parametrize("field, expected, ok, message", [
    ("status", "ok", True, "JSON field status is \"ok\""),
    ("checks.db.up", True, True, "JSON field checks.db.up is true"),
    ("checks.db.up", "true", True, "JSON field checks.db.up is true"),
    ("checks.db.lag", 3, True, "JSON field checks.db.lag is 3"),
    ("checks.db.lag", "3", True, "JSON field checks.db.lag is 3"),
    ("items.1", 2, True, "JSON field items.1 is 2"),
    ("version", None, True, "JSON field version is \"1.2.0\""),
    ("version", "2.0.0", False, "JSON field version is \"1.2.0\", expected \"2.0.0\""),
    ("checks.db.up", False, False, "JSON field checks.db.up is true, expected false"),
    ("checks.cache.up", None, False, "JSON field checks.cache.up is missing"),
    ("items.5", 1, False, "JSON field items.5 is missing"),
])
def test_http_json_field(app, field, expected, ok, message):
    probe = http(app.url + "/json", json_field=field)
    if expected is not None:
        probe["json_value"] = expected
    result = one(probe)
    assert result["ok"] is ok
    assert message in result["message"]
    if ok:
        assert "json_value" in result["value"]


def test_http_json_field_of_a_non_json_body(app):
    result = one(http(app.url + "/ok", json_field="status"))
    assert result["ok"] is False
    assert "body is not JSON, cannot read status (body starts 'ready\\n')" in result["message"]


def test_http_latency_budget(app):
    slow = one(http(app.url + "/slow", latency_ms=100))
    assert slow["ok"] is False and slow["value"]["latency_ms"] >= 300
    assert re.search(r"took [\d.]+ms, over the latency budget of 100ms$", slow["message"])
    assert slow["threshold"] == {"status": [200], "latency_ms": 100}
    fine = one(http(app.url + "/slow", latency_ms=5000))
    assert fine["ok"] is True and "(budget 5000ms)" in fine["message"]


def test_http_connection_refused():
    url = "http://127.0.0.1:%d/healthz" % free_port()
    result = one(http(url))
    assert result["ok"] is False and result["value"]["status"] is None
    assert result["message"].startswith("GET %s: connection refused after " % url)


def test_http_timeout():
    with socket.socket() as listener:  # accepts (backlog) but never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        url = "http://127.0.0.1:%d/" % listener.getsockname()[1]
        started = time.monotonic()
        result = one(http(url, timeout=0.3))
    assert time.monotonic() - started < 2
    assert result["ok"] is False and "no answer (timed out)" in result["message"]


def test_retries_until_ok(app):
    app.flaky = 2
    system = QuickSystem()
    result = one(http(app.url + "/flaky", retries=3, delay=0.5), system=system)
    assert (result["ok"], result["attempts"]) == (True, 3)
    assert system.sleeps == [0.5, 0.5]
    assert result["message"].endswith("(attempt 3 of 4)")


def test_retries_exhausted_global_default(app):
    system = QuickSystem()
    result = one(http(app.url + "/fail"), retries=2, delay=2, system=system)
    assert (result["ok"], result["attempts"], system.sleeps) == (False, 3, [2, 2])
    assert result["message"].endswith("answered 503, expected 200 (attempt 3 of 3)")


def test_no_retry_when_ok(app):
    system = QuickSystem()
    assert one(http(app.url + "/ok"), retries=5, system=system)["attempts"] == 1
    assert system.sleeps == []


# ------------------------------------------------------------------------- tcp


@pytest.fixture
def listener():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_tcp_open(listener):
    result = one({"name": "port", "type": "tcp", "port": listener})
    assert (result["ok"], result["value"], result["threshold"]) == (True, "open", "open")
    assert result["message"] == "127.0.0.1:%d is open (a connection was accepted), expected open" % listener
    closed = one({"name": "port", "type": "tcp", "port": listener, "expect": "closed"})
    assert closed["ok"] is False
    assert closed["message"] == "127.0.0.1:%d is open (a connection was accepted), expected closed" % listener


def test_tcp_closed():
    port = free_port()
    result = one({"name": "free", "type": "tcp", "host": "127.0.0.1", "port": port, "expect": "closed"})
    assert (result["ok"], result["value"]) == (True, "closed")
    assert result["message"] == "127.0.0.1:%d is closed (connection refused), expected closed" % port
    down = one({"name": "up", "type": "tcp", "port": port})
    assert down["ok"] is False and down["message"].endswith("expected open")


# ------------------------------------------------------------------------ disk


class FakeStatvfs(object):
    def __init__(self, blocks, bavail, files, favail, frsize=4096):
        self.f_blocks, self.f_bavail, self.f_files, self.f_favail, self.f_frsize = (
            blocks, bavail, files, favail, frsize)


def disk_system(stats):
    system = QuickSystem()
    system.statvfs = lambda path: stats
    return system


def test_disk_with_statvfs_replaced():
    system = disk_system(FakeStatvfs(blocks=1000, bavail=50, files=1000, favail=900))
    probe = {"name": "data", "type": "disk", "path": "/var/lib/demo", "min_free_percent": 10,
             "min_free_inodes_percent": 5}
    result = one(probe, system=system)
    assert result["ok"] is False
    assert result["value"] == {"free_percent": 5.0, "free_inodes_percent": 90.0, "free_mb": 0.2}
    assert result["threshold"] == {"min_free_percent": 10, "min_free_inodes_percent": 5}
    assert result["message"] == ("/var/lib/demo has 5.0% of space free, below the minimum of 10%; "
                                 "90.0% of inodes free (minimum 5%)")
    probe["min_free_percent"] = 5
    assert one(probe, system=system)["ok"] is True


def test_disk_inodes_and_file_systems_without_inode_counts():
    probe = {"name": "data", "type": "disk", "path": "/srv", "min_free_inodes_percent": 20}
    full = one(probe, system=disk_system(FakeStatvfs(1000, 900, 100, 10)))
    assert full["ok"] is False and "10.0% of inodes free, below the minimum of 20%" in full["message"]
    btrfs = one(probe, system=disk_system(FakeStatvfs(1000, 900, 0, 0)))
    assert btrfs["ok"] is True and "inodes not reported by the file system (not checked)" in btrfs["message"]


def test_disk_missing_path(tmp_path):
    path = str(tmp_path / "nope")
    result = one({"name": "d", "type": "disk", "path": path, "min_free_percent": 1})
    assert result["ok"] is False and result["value"] is None
    assert result["message"] == "%s: cannot read file system usage: No such file or directory" % path


@pytest.fixture
def tmpfs(tmp_path):
    """A 1 MiB tmpfs with 64 inodes, when this process may mount one."""
    mountpoint = tmp_path / "fs"
    mountpoint.mkdir()
    if os.geteuid() != 0:
        pytest.fail("mounting a tmpfs needs root: run the unit tests as root, as make test does")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m,nr_inodes=64", "tmpfs", str(mountpoint)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        pytest.fail("cannot mount a tmpfs here: %s" % done.stdout.decode().strip())
    try:
        yield str(mountpoint)
    finally:
        subprocess.run(["umount", str(mountpoint)], check=False)


def test_disk_on_a_real_tmpfs_filled_up(tmpfs):
    probe = {"name": "fs", "type": "disk", "path": tmpfs, "min_free_percent": 10, "min_free_inodes_percent": 10}
    empty = one(probe)
    assert empty["ok"] is True and empty["value"]["free_percent"] > 90
    with pytest.raises(OSError) as exc, open(os.path.join(tmpfs, "fill"), "wb") as handle:
        for _ in range(2048):
            handle.write(b"\0" * 1024)
            handle.flush()
            os.fsync(handle.fileno())
    assert exc.value.errno == errno.ENOSPC
    full = one(probe)
    assert full["ok"] is False and full["value"]["free_percent"] == 0.0
    assert "0.0% of space free, below the minimum of 10%" in full["message"]
    os.unlink(os.path.join(tmpfs, "fill"))
    with pytest.raises(OSError):
        for index in range(100):
            open(os.path.join(tmpfs, "f%d" % index), "w").close()
    inodes = one(probe)
    assert inodes["ok"] is False and inodes["value"]["free_inodes_percent"] < 10
    assert "of inodes free, below the minimum of 10%" in inodes["message"]


# -------------------------------------------------------------------- file_age


def test_file_age_newest_match_counts(tmp_path):
    now = time.time()
    for name, age in (("a.tar.gz", 7200), ("b.tar.gz", 600), ("c.txt", 10)):
        path = tmp_path / name
        path.write_text("x")
        os.utime(str(path), (now - age, now - age))
    pattern = str(tmp_path / "*.tar.gz")
    result = one({"name": "backup", "type": "file_age", "path": pattern, "max_age": 900})
    assert result["ok"] is True and 599 <= result["value"] <= 700 and result["threshold"] == 900
    assert result["message"].startswith("newest file %s is " % (tmp_path / "b.tar.gz"))
    assert result["message"].endswith("s old, within max_age 900s")
    old = one({"name": "backup", "type": "file_age", "path": pattern, "max_age": 60})
    assert old["ok"] is False and old["message"].endswith("s old, over max_age 60s")


def test_file_age_missing(tmp_path):
    pattern = str(tmp_path / "*.tar.gz")
    result = one({"name": "backup", "type": "file_age", "path": pattern, "max_age": 60})
    assert (result["ok"], result["value"]) == (False, None)
    assert result["message"] == "no file matches %s (max_age 60s)" % pattern


# --------------------------------------------------------------------- command


def test_command_rc_and_stdout():
    probe = {"name": "cmd", "type": "command", "argv": ["sh", "-c", "echo hello; echo oops >&2; exit 3"],
             "rc": [3], "stdout_contains": "hello"}
    result = one(probe)
    assert result["ok"] is True
    assert result["value"] == {"rc": 3, "stdout": "hello", "stderr": "oops"}
    assert result["threshold"] == {"rc": [3], "stdout_contains": "hello"}
    assert result["message"] == "sh -c echo hello; echo oops >&2; exit 3 exited 3, stdout contains 'hello'"
    probe.update(rc=0, stdout_contains="bye")
    failed = one(probe)
    assert failed["ok"] is False
    assert failed["message"] == ("sh -c echo hello; echo oops >&2; exit 3 exited 3, expected 0 (stderr 'oops'); "
                                 "stdout does not contain 'bye' (stdout 'hello')")


def test_command_not_found_and_timeout():
    missing = one({"name": "cmd", "type": "command", "argv": ["/nonexistent/fleetops-check"]})
    assert missing["ok"] is False and missing["value"] == {"rc": None}
    assert missing["message"] == "/nonexistent/fleetops-check could not run: No such file or directory"
    started = time.monotonic()
    slow = one({"name": "cmd", "type": "command", "argv": ["sleep", "5"], "timeout": 0.2})
    assert time.monotonic() - started < 2
    assert slow["ok"] is False and slow["message"] == "sleep 5 did not finish within 0.2s"


def test_probes_run_concurrently_and_keep_their_order():
    probes = [{"name": "sleep%d" % i, "type": "command", "argv": ["sleep", "1"]} for i in range(3)]
    probes.insert(1, {"name": "quick", "type": "command", "argv": ["true"]})
    started = time.monotonic()
    results = run(*probes)
    elapsed = time.monotonic() - started
    assert elapsed < 2.0, elapsed
    assert [r["name"] for r in results] == ["sleep0", "quick", "sleep1", "sleep2"]
    assert all(r["ok"] for r in results)
    assert all(r["duration_ms"] >= 900 for r in results if r["name"].startswith("sleep"))


def test_concurrency_bound():
    probes = [{"name": "s%d" % i, "type": "command", "argv": ["sleep", "0.3"]} for i in range(2)]
    started = time.monotonic()
    health.run_probes(health.validate_probes(probes), concurrency=1, system=QuickSystem())
    assert time.monotonic() - started >= 0.6
    with pytest.raises(ResultError) as exc:
        health.run_probes(health.validate_probes(probes), concurrency=0)
    assert exc.value.msg == "concurrency: 0 must be a whole number from 1 to 64"


# --------------------------------------------------------------------- systemd

FAKE_SYSTEMCTL = """\
#!/bin/sh
echo "$@" >> "$(dirname "$0")/calls"
for arg; do unit=$arg; done
case "$unit" in
  demo.service) printf 'ActiveState=active\\nSubState=running\\nLoadState=loaded\\nResult=success\\n' ;;
  broken.service) printf 'ActiveState=failed\\nSubState=failed\\nLoadState=loaded\\nResult=exit-code\\n' ;;
  missing.service) printf 'ActiveState=inactive\\nSubState=dead\\nLoadState=not-found\\nResult=success\\n' ;;
  *) echo "Failed to connect to bus: Host is down" >&2; exit 1 ;;
esac
"""


@pytest.fixture
def systemctl(tmp_path, monkeypatch):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    script = bindir / "systemctl"
    script.write_text(textwrap.dedent(FAKE_SYSTEMCTL))
    script.chmod(0o755)
    monkeypatch.setenv("PATH", "%s%s%s" % (bindir, os.pathsep, os.environ.get("PATH", "")))
    return bindir / "calls"


def unit(name, **options):
    probe = {"name": "unit", "type": "systemd", "unit": name}
    probe.update(options)
    return probe


def test_systemd_active(systemctl):
    result = one(unit("demo.service"))
    assert (result["ok"], result["value"], result["threshold"]) == (True, "active", ["active"])
    assert result["message"] == "unit demo.service is active (sub-state running), expected active"
    assert systemctl.read_text().split() == ["show", "--no-pager", "-p", "ActiveState,SubState,LoadState,Result",
                                             "--", "demo.service"]


def test_systemd_failed_and_stopped(systemctl):
    failed = one(unit("broken.service"))
    assert (failed["ok"], failed["value"]) == (False, "failed")
    assert failed["message"] == "unit broken.service is failed (sub-state failed, result exit-code), expected active"
    assert one(unit("broken.service", state=["inactive", "failed"]))["ok"] is True
    missing = one(unit("missing.service", state="inactive"))
    assert missing["ok"] is True
    assert missing["message"] == ("unit missing.service is inactive (sub-state dead, load state not-found), "
                                  "expected inactive")


def test_systemd_cannot_ask(systemctl):
    result = one(unit("other.service"))
    assert (result["ok"], result["value"]) == (False, None)
    assert result["message"] == (
        "unit other.service: systemctl show failed (rc 1): Failed to connect to bus: Host is down")


# --------------------------------------------------------------------- process


@pytest.fixture
def child():
    marker = "fleetops-probe-%s" % uuid.uuid4().hex
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", marker])
    try:
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:  # wait until exec has replaced the cmdline
            with open("/proc/%d/cmdline" % proc.pid, "rb") as handle:
                if marker.encode() in handle.read():
                    break
            time.sleep(0.01)
        yield proc, marker
    finally:
        proc.kill()
        proc.wait()


def test_process_pattern(child):
    proc, marker = child
    result = one({"name": "proc", "type": "process", "pattern": marker})
    assert (result["ok"], result["value"], result["threshold"]) == (True, 1, {"min": 1})
    assert result["message"] == ("1 process(es) with a command line matching %r (pid %d), expected at least 1"
                                 % (marker, proc.pid))
    two = one({"name": "proc", "type": "process", "pattern": marker, "min_count": 2})
    assert two["ok"] is False and two["message"].endswith("expected at least 2")
    absent = one({"name": "proc", "type": "process", "pattern": marker, "absent": True})
    assert (absent["ok"], absent["threshold"]) == (False, {"max": 0})
    assert absent["message"].endswith("(pid %d), expected none" % proc.pid)
    gone = one({"name": "proc", "type": "process", "pattern": marker + "-gone", "absent": True})
    assert gone["ok"] is True and gone["value"] == 0


def test_process_name(child):
    proc, _ = child
    name = os.path.basename(sys.executable)
    result = one({"name": "proc", "type": "process", "process_name": name})
    assert result["ok"] is True and result["value"] >= 1


def test_the_tests_own_process_is_found_unless_excluded():
    with open("/proc/self/cmdline", "rb") as handle:
        own = " ".join(arg.decode() for arg in handle.read().split(b"\0") if arg)
    pattern = re.compile("^%s$" % re.escape(own))
    system = health.System()
    assert os.getpid() not in health.find_processes(system, pattern=pattern)  # the module's own process
    system.exclude_pids = ()
    assert os.getpid() in health.find_processes(system, pattern=pattern)


# ------------------------------------------------------------------ validation

PORT = {"name": "port", "type": "tcp", "port": 80}


@pytest.mark.parametrize("probes, message", [
    ([], "probes: give a non-empty list of probes, got []"),
    ([{"name": "web", "type": "htp", "url": "http://x"}],
     "probe 'web' (probes[0]): type='htp' is not a probe type; use one of command, disk, file_age, http, process, "
     "systemd, tcp"),
    ([{"name": "web", "type": "http"}], "probe 'web' (probes[0]): url is required for type=http"),
    ([{"type": "tcp", "port": 1}],
     "probes[0]: name=None must be a non-empty string (every probe needs a unique name)"),
    ([PORT, dict(PORT)],
     "probe 'port' (probes[1]): name='port' is already used by probes[0]; probe names must be unique"),
    ([dict(PORT, url="http://x")],
     "probe 'port' (probes[0]): url='http://x' is not an option of tcp probes (they take host, port, expect)"),
    ([dict(PORT, port=0)], "probe 'port' (probes[0]): port=0 must be between 1 and 65535"),
    ([dict(PORT, port="http")], "probe 'port' (probes[0]): port='http' must be a whole number"),
    ([dict(PORT, expect="listening")], "probe 'port' (probes[0]): expect='listening' must be open or closed"),
    ([dict(PORT, timeout=0)], "probe 'port' (probes[0]): timeout=0 must be above 0"),
    ([dict(PORT, retries=-1)], "probe 'port' (probes[0]): retries=-1 must be 0 or more"),
    ([dict(PORT, delay=-2)], "probe 'port' (probes[0]): delay=-2 must be 0 or more"),
    ([{"name": "d", "type": "disk", "path": "/", "min_free_percent": 101}],
     "probe 'd' (probes[0]): min_free_percent=101 must be between 0 and 100"),
    ([{"name": "d", "type": "disk", "path": "/", "min_free_inodes_percent": -5}],
     "probe 'd' (probes[0]): min_free_inodes_percent=-5 must be between 0 and 100"),
    ([{"name": "d", "type": "disk", "path": "/"}],
     "probe 'd' (probes[0]): give min_free_percent, min_free_inodes_percent or both"),
    ([{"name": "f", "type": "file_age", "path": "/x", "max_age": -1}],
     "probe 'f' (probes[0]): max_age=-1 must be 0 or more"),
    ([{"name": "f", "type": "file_age", "path": "/x"}], "probe 'f' (probes[0]): max_age is required for type=file_age"),
    ([{"name": "w", "type": "http", "url": "http://x", "latency_ms": -1}],
     "probe 'w' (probes[0]): latency_ms=-1 must be above 0"),
    ([{"name": "w", "type": "http", "url": "ftp://x"}],
     "probe 'w' (probes[0]): url='ftp://x' must start with http:// or https://"),
    ([{"name": "w", "type": "http", "url": "http://x", "status": [200, 700]}],
     "probe 'w' (probes[0]): status=700 must be between 100 and 599"),
    ([{"name": "w", "type": "http", "url": "http://x", "json_value": "ok"}],
     "probe 'w' (probes[0]): json_value='ok' needs json_field, the dotted path of the value"),
    ([{"name": "u", "type": "systemd", "unit": "x", "state": "running"}],
     "probe 'u' (probes[0]): state='running' must be one or more of activating, active, deactivating, failed, "
     "inactive, maintenance, refreshing, reloading"),
    ([{"name": "p", "type": "process"}],
     "probe 'p' (probes[0]): give exactly one of pattern (a regular expression searched in the command line) and "
     "process_name (the executable's name), got pattern=None process_name=None"),
    ([{"name": "p", "type": "process", "pattern": "("}],
     "probe 'p' (probes[0]): pattern='(' is not a valid regular expression: missing ), unterminated subpattern at "
     "position 0"),
    ([{"name": "p", "type": "process", "pattern": "x", "absent": True, "min_count": 2}],
     "probe 'p' (probes[0]): min_count=2 cannot be used with absent=true"),
    ([{"name": "p", "type": "process", "pattern": "x", "min_count": 0}],
     "probe 'p' (probes[0]): min_count=0 must be 1 or more"),
    ([{"name": "c", "type": "command", "argv": "systemctl is-active x"}],
     "probe 'c' (probes[0]): argv='systemctl is-active x' must be a non-empty list of strings (no shell is used)"),
    ([{"name": "c", "type": "command", "argv": ["true"], "rc": 256}],
     "probe 'c' (probes[0]): rc=256 must be between 0 and 255"),
    (["tcp:80"], "probes[0]: each probe must be a dictionary, got 'tcp:80'"),
])
def test_bad_definitions_are_refused_before_anything_runs(probes, message):
    with pytest.raises(ResultError) as exc:
        health.validate_probes(probes)
    assert exc.value.msg in (message, "bad probe definition: " + message)


def test_every_problem_is_reported_at_once():
    with pytest.raises(ResultError) as exc:
        health.validate_probes([{"name": "a", "type": "htp"}, {"name": "a", "type": "tcp", "port": 99999}])
    assert exc.value.result["problems"] == [
        "probe 'a' (probes[0]): type='htp' is not a probe type; use one of command, disk, file_age, http, process, "
        "systemd, tcp",
        "probe 'a' (probes[1]): name='a' is already used by probes[0]; probe names must be unique",
        "probe 'a' (probes[1]): port=99999 must be between 1 and 65535",
    ]


def test_bad_global_options():
    with pytest.raises(ResultError) as exc:
        health.validate_probes([PORT], timeout=-1, retries=-1)
    assert exc.value.msg == ("bad probe definition: options: timeout=-1 must be above 0; "
                             "options: retries=-1 must be 0 or more")


def test_none_means_not_given_as_ansible_fills_suboptions():
    probe = dict.fromkeys(health.PROBE_OPTIONS)
    probe.update(name="port", type="tcp", port=80)
    (normalized,) = health.validate_probes([probe], timeout=2, retries=1, delay=0)
    assert normalized == {"name": "port", "type": "tcp", "index": 0, "host": "127.0.0.1", "port": 80,
                          "expect": "open", "timeout": 2, "retries": 1, "delay": 0}


def test_check_health_summary(listener):
    port = free_port()
    result = health.check_health({"probes": [
        {"name": "up", "type": "tcp", "port": listener},
        {"name": "down", "type": "tcp", "port": port},
    ]}, system=QuickSystem())
    assert (result["ok"], result["failed_probes"]) == (False, ["down"])
    assert result["summary"] == (
        "1 of 2 probes failed: down: 127.0.0.1:%d is closed (connection refused), expected open" % port)


def test_a_probe_that_raises_is_reported_not_fatal(monkeypatch):
    def explode(probe, system):
        raise RuntimeError("boom")

    monkeypatch.setitem(health.PROBES, "tcp", explode)
    result = one(dict(PORT))
    assert (result["ok"], result["message"]) == (False, "probe error: RuntimeError: boom")
