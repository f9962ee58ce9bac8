"""Helpers that run examples/demo_service/app.py as a real process on loopback."""

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

DEMO_DIR = Path(__file__).resolve().parents[3] / "examples" / "demo_service"
APP = DEMO_DIR / "app.py"
BUILD_RELEASE = DEMO_DIR / "build_release.py"
TOKEN = "t0k3n-7f2a9c-never-log-me"
START_TIMEOUT = 10
HTTP_TIMEOUT = 10
CLI_TIMEOUT = 20
STOP_TIMEOUT = 15


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def json(self):
        return json.loads(self.body)

    @property
    def text(self):
        return self.body.decode()


def free_port():
    # Small race with other processes; acceptable on a test host.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_request(port, method, path, body=None, headers=None):
    # http.client rather than urllib: no proxy environment, no exceptions for 4xx/5xx.
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HTTP_TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Response(response.status, dict(response.getheaders()), response.read())
    finally:
        conn.close()


def write_release(directory, version="1.0.0", error_ratio=0.0, latency_ms=0, fail_start=False):
    """A release directory as the roles unpack it: app.py next to release.json."""
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(APP, directory / "app.py")
    faults = {"error_ratio": error_ratio, "latency_ms": latency_ms, "fail_start": fail_start}
    release = {"name": "demo-service", "version": version, "faults": faults}
    (directory / "release.json").write_text(json.dumps(release))
    return directory


def write_config(path, state_dir, level="debug", extra=""):
    path.write_text(f"[server]\nlisten = 127.0.0.1\n{extra}\n[state]\ndir = {state_dir}\n\n[log]\nlevel = {level}\n")
    return path


def merged_env(overrides):
    """os.environ with overrides applied; a None value removes the variable."""
    env = {**os.environ, **(overrides or {})}
    return {key: value for key, value in env.items() if value is not None}


def run_cli(*args, env=None, app=APP):
    return subprocess.run(
        [sys.executable, str(app), *map(str, args)],
        env=merged_env(env),
        check=False,
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT,
    )


class RunningApp:
    def __init__(self, proc, port, config, state_dir, stderr_path):
        self.proc = proc
        self.port = port
        self.config = config
        self.state_dir = state_dir
        self.stderr_path = stderr_path

    def request(self, method, path, body=None, headers=None):
        return http_request(self.port, method, path, body, headers)

    def get(self, path):
        return self.request("GET", path)

    def post_workflow(self, name, token=TOKEN):
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.request("POST", "/workflows", json.dumps({"name": name}), headers)

    def stderr(self):
        return self.stderr_path.read_text()

    def stop(self, signum=signal.SIGTERM):
        self.proc.send_signal(signum)
        return self.proc.wait(STOP_TIMEOUT)

    def wait_healthy(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"app exited with {self.proc.returncode}:\n{self.stderr()}")
            try:
                if self.get("/healthz").status == 200:
                    return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"app not healthy after {START_TIMEOUT}s:\n{self.stderr()}")


class Launcher:
    """Starts apps under one base directory; kills whatever is left at teardown."""

    def __init__(self, base):
        self.base = base
        self.apps = []

    def start(
        self, slot="blue", state_dir=None, config_extra="", env=None, release_dir=None, *, level="debug", **release
    ):
        """Starts app.py from release_dir, or from a fresh release with the given faults; logs at level."""
        name = f"{slot}-{len(self.apps)}"
        release_dir = release_dir or write_release(self.base / name / "release", **release)
        state_dir = state_dir or self.base / "state"
        state_dir.mkdir(exist_ok=True)
        config = write_config(release_dir.parent / "demo.ini", state_dir, level=level, extra=config_extra)
        port = free_port()
        stderr_path = release_dir.parent / "stderr.log"
        with open(stderr_path, "wb") as stderr:
            proc = subprocess.Popen(
                [sys.executable, str(release_dir / "app.py"), "--config", str(config), "--slot", slot],
                env=merged_env({"DEMO_PORT": str(port), "DEMO_API_TOKEN": TOKEN, **(env or {})}),
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        app = RunningApp(proc, port, config, state_dir, stderr_path)
        self.apps.append(app)
        return app.wait_healthy()

    def close(self):
        for app in self.apps:
            if app.proc.poll() is None:
                app.proc.kill()
                app.proc.wait()
