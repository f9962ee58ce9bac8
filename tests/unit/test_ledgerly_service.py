"""examples/ledgerly: the second example service, run as a real node process on loopback.

Every service starts from an artifact that build.py made and the collection's own
release code unpacked, so what is tested is what the roles deploy.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import pytest
import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template
from ansible_collections.fleetops.lifecycle.plugins.module_utils import release as release_utils
from prometheus_client.parser import text_string_to_metric_families

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "ledgerly"
BUILD = EXAMPLE / "build.py"
NODE = shutil.which("node") or "/usr/bin/node"
TOKEN = "ledger-token-for-tests"
SERVICE_VARS = yaml.safe_load((EXAMPLE / "service_vars.yml").read_text())
LAB_SET = {"1.0.0": {}, "1.1.0": {}, "1.2.0": {"error_ratio": 0.05}, "1.3.0": {"latency_ms": 250},
           "1.4.0": {"fail_start": True}}
SLOW_LOAD = "9.0.0-slowload"
START_TIMEOUT = 10.0

# The contract variables (issue 13, fixed by the lead); ledgerly's file must give each.
CONTRACT = [
    "service_name", "service_backend", "service_frontend_port", "service_ports", "service_unit",
    "service_unit_template", "service_config_template", "service_config_file", "service_config_check_command",
    "service_root", "service_config_dir", "service_state_dir", "service_user", "service_artifact_name",
    "service_health_path", "service_ready_path", "service_version_path", "service_version_field",
    "service_metrics_path", "service_metric_requests", "service_metric_code_label", "service_metric_latency",
    "service_metric_exclude_paths", "service_metric_path_label", "service_snapshot_command",
    "service_backup_paths", "service_state_check_command", "service_packages", "service_log_dir",
    "service_token_env", "service_port_env",
]
HEALTH = SERVICE_VARS["service_health_path"]
READY = SERVICE_VARS["service_ready_path"]
VERSION = SERVICE_VARS["service_version_path"]
METRICS = SERVICE_VARS["service_metrics_path"]


# --- helpers --------------------------------------------------------------------------


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Client:
    """One keep-alive connection; answers (status, body bytes)."""

    def __init__(self, port, timeout=10):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        self.conn.request(method, path, body=body, headers=headers or {})
        response = self.conn.getresponse()
        return response.status, response.read()

    def json(self, method, path, payload=None, token=None):
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = "Bearer " + token
        status, body = self.request(method, path, None if payload is None else json.dumps(payload), headers)
        return status, json.loads(body)

    def close(self):
        self.conn.close()


def get(port, path):
    client = Client(port)
    try:
        return client.request("GET", path)
    finally:
        client.close()


def node(*args, timeout=20, env=None):
    environ = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERLY_")}
    environ.update(env or {})
    return subprocess.run([NODE, *map(str, args)], capture_output=True, text=True, timeout=timeout, check=False,
                          env=environ)


def write_config(path, state, **overrides):
    config = {"listen": "127.0.0.1", "ports": {}, "state_dir": str(state), "token": TOKEN, "log_level": "debug",
              "fsync": False}
    config.update(overrides)
    path.write_text(json.dumps(config))
    return path


class Service:
    """The service on ``port``: given as --port, or as the env file would (env=True)."""

    def __init__(self, release_dir, config, slot, port, env=None):
        self.port = port
        self.stderr_path = config.parent / f"{slot}-{port}.log"
        argv = [NODE, str(release_dir / "server.js"), "--config", str(config), "--slot", slot]
        environ = {k: v for k, v in os.environ.items() if not k.startswith("LEDGERLY_")}
        if env is None:
            argv += ["--port", str(port)]
        else:
            environ.update(env)
        with open(self.stderr_path, "wb") as stderr:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=stderr, env=environ)

    def log(self):
        return self.stderr_path.read_text()

    def wait(self, path, status=200):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"exited {self.proc.returncode}:\n{self.log()}")
            try:
                if get(self.port, path)[0] == status:
                    return
            except OSError:
                pass
            time.sleep(0.02)
        raise AssertionError(f"{path} never answered {status}:\n{self.log()}")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(15)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, str(BUILD), str(out)], check=True, capture_output=True)
    subprocess.run([sys.executable, str(BUILD), str(out), "--version", SLOW_LOAD, "--load-delay-ms", "1500"],
                   check=True, capture_output=True)
    return out


def install(artifacts, root, version, slot="blue"):
    """Unpacks an artifact with the collection's release code, as the service role does."""
    artifact = artifacts / f"ledgerly-{version}.tar.gz"
    checksum = (artifacts / (artifact.name + ".sha256")).read_text().split()[0]
    request = release_utils.parse_request(
        dict(root=str(root), version=version, artifact=str(artifact), checksum=checksum, slot=slot, state="present"))
    actions = release_utils.plan_release(release_utils.observe(request))
    release_utils.apply_plan(actions)
    return root / f"current-{slot}", actions


@pytest.fixture
def launch(artifacts, tmp_path):
    """launch(version, slot="blue", state_dir=None, **config) -> a started Service (its port answers)."""
    started = []

    def _launch(version="1.0.0", slot="blue", state_dir=None, wait_ready=True, env=None, **config):
        release_dir, _ = install(artifacts, tmp_path / "root", version, slot)
        state = state_dir or tmp_path / "state"
        state.mkdir(exist_ok=True)
        port = free_port()
        if env is not None:
            env = {"LEDGERLY_PORT": str(port), **env}
        service = Service(release_dir, write_config(tmp_path / f"{slot}.json", state, **config), slot, port, env)
        started.append(service)
        service.wait(HEALTH)
        if wait_ready:
            service.wait(READY)
        return service

    yield _launch
    for service in started:
        if service.proc.poll() is None:
            service.proc.kill()
            service.proc.wait(5)


def wait_for(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def refused(port):
    try:
        get(port, HEALTH)
    except (ConnectionRefusedError, ConnectionResetError):  # reset: accepted just before the close, never served
        return True
    return False


def metric_families(port):
    status, body = get(port, METRICS)
    assert status == 200
    return {family.name: family for family in text_string_to_metric_families(body.decode())}


def samples(families, name, **labels):
    family_name = name
    for suffix in ("_total", "_bucket", "_sum", "_count"):
        if name.endswith(suffix) and name[: -len(suffix)] in families:
            family_name = name[: -len(suffix)]
    return [s for s in families[family_name].samples
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())]


# --- artifacts ------------------------------------------------------------------------


def test_build_is_reproducible_and_every_checksum_matches(artifacts, tmp_path):
    subprocess.run([sys.executable, str(BUILD), str(tmp_path)], check=True, capture_output=True)
    for version, faults in LAB_SET.items():
        name = SERVICE_VARS["service_artifact_name"].replace("{version}", version)
        data = (artifacts / name).read_bytes()
        assert data == (tmp_path / name).read_bytes()
        assert (artifacts / (name + ".sha256")).read_text() == f"{hashlib.sha256(data).hexdigest()}  {name}\n"
        with tarfile.open(artifacts / name) as tar:
            assert sorted(tar.getnames()) == ["lib/config.js", "lib/journal.js", "lib/metrics.js", "release.json",
                                              "server.js"]
            described = json.load(tar.extractfile("release.json"))
        expected = {"error_ratio": 0.0, "latency_ms": 0, "load_delay_ms": 0, "fail_start": False, **faults}
        assert described == {"name": "ledgerly", "version": version, "faults": expected}


def test_build_refuses_a_fault_without_a_version_and_a_bad_version(tmp_path):
    run = subprocess.run([sys.executable, str(BUILD), str(tmp_path), "--latency-ms", "5"], capture_output=True,
                         text=True, check=False)
    assert run.returncode == 2
    assert "fault options need --version" in run.stderr
    run = subprocess.run([sys.executable, str(BUILD), str(tmp_path), "--version", "1.0"], capture_output=True,
                         text=True, check=False)
    assert run.returncode == 2
    assert "build.py: error: version '1.0' is not MAJOR.MINOR.PATCH[-pre|+build]" in run.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_release_module_unpacks_every_artifact_and_then_has_nothing_to_do(artifacts, tmp_path):
    for version in LAB_SET:
        link, actions = install(artifacts, tmp_path, version)
        assert [a["action"] for a in actions] == ["unpack", "link"]
        release_dir = tmp_path / "releases" / version
        assert os.readlink(link) == str(release_dir)
        assert (release_dir / release_utils.MARKER).is_file()
        assert (release_dir / "server.js").is_file() and (release_dir / "lib" / "journal.js").is_file()
        _, again = install(artifacts, tmp_path, version)
        assert again == []
    assert [r["version"] for r in release_utils.list_releases(str(tmp_path))] == list(LAB_SET)


# --- endpoints ------------------------------------------------------------------------


def test_service_vars_give_every_contract_variable_and_share_no_name_with_the_demo():
    assert sorted(set(CONTRACT) - set(SERVICE_VARS)) == []
    text = (EXAMPLE / "service_vars.yml").read_text()
    # "demo" appears only in the comment that says every name differs from the demo's.
    assert [line for line in text.splitlines() if "demo" in line and not line.startswith("#")] == []
    assert SERVICE_VARS["service_ports"] == {"blue": 9181, "green": 9182}
    assert SERVICE_VARS["service_frontend_port"] == 8090


def test_every_endpoint_answers_as_the_contract_says(launch):
    blue = launch("1.1.0", "blue")
    green = launch("1.1.0", "green")
    client = Client(blue.port)
    other = Client(green.port)
    assert client.request("GET", HEALTH) == (200, b"alive\n")
    assert client.request("GET", READY) == (200, b"ready\n")
    status, about = client.json("GET", VERSION)
    assert status == 200
    assert about[SERVICE_VARS["service_version_field"]] == "1.1.0"
    assert about["slot"] == "blue" and about["service"] == "ledgerly"
    status, root = client.json("GET", "/")
    assert (status, root["release"], root["accounts"], root["entries"]) == (200, "1.1.0", 0, 0)

    # Writes need the token; the other slot sees them (one state per host).
    assert client.json("POST", "/accounts/acme/entries", {"amount": 1250})[0] == 401
    assert client.json("POST", "/accounts/acme/entries", {"amount": 1250}, token="wrong-token-xyz")[0] == 401
    assert client.json("POST", "/accounts/acme/entries", {"amount": 1250, "memo": "invoice 7"}, token=TOKEN) == (
        201, {"account": "acme", "writer": "blue", "seq": 1, "balance": "1250"})
    assert other.json("POST", "/accounts/acme/entries", {"amount": -250}, token=TOKEN) == (
        201, {"account": "acme", "writer": "green", "seq": 1, "balance": "1000"})
    assert client.json("GET", "/accounts/acme") == (200, {"account": "acme", "balance": "1000", "entries": 2})
    summary_blue, summary_green = client.json("GET", "/accounts"), other.json("GET", "/accounts")
    assert summary_blue == summary_green
    assert summary_blue[1]["accounts"] == 1 and summary_blue[1]["entries"] == 2

    # Bad requests get a clear 4xx, never a write.
    assert client.json("GET", "/accounts/nobody") == (404, {"error": "no account nobody"})
    for bad_name in ("Bad%20Name", "%zz"):
        status, error = client.json("GET", "/accounts/" + bad_name)
        assert status == 400 and "account name must match" in error["error"]
    status, error = client.json("POST", "/accounts/acme/entries", {"amount": 1.5}, token=TOKEN)
    assert status == 400 and "amount 1.5 must be a non-zero whole number of cents" in error["error"]
    status, body = client.request("POST", "/accounts/acme/entries", "{not json",
                                  {"Authorization": "Bearer " + TOKEN})
    assert (status, json.loads(body)) == (400, {"error": "body is not valid JSON"})
    status, body = client.request("POST", "/accounts/acme/entries", "x" * 5000, {"Authorization": "Bearer " + TOKEN})
    assert status == 413
    client.close()
    client = Client(blue.port)
    assert client.json("POST", VERSION, {})[0] == 405
    assert client.json("GET", "/nowhere")[0] == 404
    assert client.json("GET", "/accounts/acme")[1]["balance"] == "1000"
    client.close()
    other.close()


def test_metrics_are_valid_prometheus_text_with_the_contract_names(launch):
    service = launch("1.0.0")
    client = Client(service.port)
    for _ in range(7):
        assert client.request("GET", "/")[0] == 200
    assert client.request("GET", "/nowhere")[0] == 404
    client.close()
    families = metric_families(service.port)
    requests = SERVICE_VARS["service_metric_requests"]
    code = SERVICE_VARS["service_metric_code_label"]
    route = SERVICE_VARS["service_metric_path_label"]
    latency = SERVICE_VARS["service_metric_latency"]
    assert families[requests[: -len("_total")]].type == "counter"
    assert [s.value for s in samples(families, requests, **{route: "/", code: "200", "method": "GET"})] == [7]
    assert [s.value for s in samples(families, requests, **{route: "other", code: "404"})] == [1]
    assert families[latency].type == "histogram"
    buckets = samples(families, latency + "_bucket", **{route: "/"})
    bounds = [float(s.labels["le"]) for s in buckets]
    counts = [s.value for s in buckets]
    assert bounds == sorted(bounds) and bounds[-1] == float("inf")
    assert counts == sorted(counts), "buckets are cumulative"
    assert counts[-1] == 7 == samples(families, latency + "_count", **{route: "/"})[0].value
    assert 0 < samples(families, latency + "_sum", **{route: "/"})[0].value < 7
    assert 0.2 in bounds and 0.25 in bounds and 0.3 in bounds
    assert samples(families, "ledgerly_build_info", release="1.0.0", slot="blue")[0].value == 1
    assert families["process_cpu_seconds"].type == "counter"
    assert samples(families, "process_resident_memory_bytes")[0].value > 1e6
    assert samples(families, "ledgerly_state_loaded")[0].value == 1


# --- faults ---------------------------------------------------------------------------


def test_the_bad_release_answers_about_five_percent_500s_and_counts_them(launch):
    bad, good = launch("1.2.0", "blue"), launch("1.0.0", "green")
    statuses = {}
    for name, service, requests in (("bad", bad, 800), ("good", good, 200)):
        client = Client(service.port)
        statuses[name] = [client.request("GET", "/")[0] for _ in range(requests)]
        client.close()
    errors = statuses["bad"].count(500)
    # Binomial(800, 0.05): mean 40, sd 6.2. 16..70 (2 % to 8.75 %) misses a true 5 % with
    # probability under 1e-5, and rejects a release that fails 1 % or 10 % of requests.
    assert 16 <= errors <= 70, f"{errors} errors in 800 requests"
    assert set(statuses["bad"]) == {200, 500}
    assert statuses["good"] == [200] * 200
    families = metric_families(bad.port)
    assert samples(families, "ledgerly_requests_total", route="/", status="500")[0].value == errors
    assert samples(families, "ledgerly_requests_total", route="/", status="200")[0].value == 800 - errors


def test_the_slow_release_adds_250_ms_to_each_request(launch):
    slow, fast = launch("1.3.0", "blue"), launch("1.1.0", "green")
    timings = {}
    for name, service in (("slow", slow), ("fast", fast)):
        client = Client(service.port)
        timings[name] = []
        for _ in range(8):
            started = time.monotonic()
            assert client.request("GET", "/")[0] == 200
            timings[name].append(time.monotonic() - started)
        client.close()
    assert min(timings["slow"]) >= 0.25
    assert sorted(timings["slow"])[4] < 0.4, timings["slow"]
    assert sorted(timings["fast"])[4] < 0.1, timings["fast"]
    # The gate reads the histogram: every slow request lies above the 0.25 s bound.
    families = metric_families(slow.port)
    below = samples(families, "ledgerly_request_seconds_bucket", route="/", le="0.25")[0].value
    assert below == 0
    assert samples(families, "ledgerly_request_seconds_count", route="/")[0].value == 8


def test_the_release_that_refuses_to_start_exits_3_before_opening_its_port(artifacts, tmp_path):
    release_dir, _ = install(artifacts, tmp_path / "root", "1.4.0")
    (tmp_path / "state").mkdir()
    port = free_port()
    config = write_config(tmp_path / "c.json", tmp_path / "state")
    run = node(release_dir / "server.js", "--config", config, "--slot", "blue", "--port", port)
    assert run.returncode == 3
    assert "release 1.4.0 has faults.fail_start set: refusing to start" in run.stderr
    with pytest.raises(OSError):
        get(port, HEALTH)


# --- life cycle -----------------------------------------------------------------------


def test_not_ready_until_the_state_is_loaded(launch, tmp_path):
    state = tmp_path / "state"
    first = launch("1.0.0", "green", state_dir=state)
    client = Client(first.port)
    for amount in (100, 200, 300):
        assert client.json("POST", "/accounts/zeta/entries", {"amount": amount}, token=TOKEN)[0] == 201
    expected = client.json("GET", "/accounts")[1]
    client.close()
    assert first.stop() == 0

    service = launch(SLOW_LOAD, "blue", state_dir=state, wait_ready=False)
    assert get(service.port, READY) == (503, b"loading state\n")
    status, body = get(service.port, "/accounts")
    assert (status, json.loads(body)) == (503, {"error": "state loading"})
    assert samples(metric_families(service.port), "ledgerly_state_loaded")[0].value == 0
    started = time.monotonic()
    service.wait(READY)
    assert time.monotonic() - started > 0.5
    status, body = get(service.port, "/accounts")
    assert (status, json.loads(body)) == (200, expected)


def test_sigterm_closes_the_port_at_once_but_finishes_the_request_in_flight(launch):
    service = launch("1.3.0", drain_seconds=0)
    answers = []
    thread = threading.Thread(target=lambda: answers.append(get(service.port, "/")))
    thread.start()
    # In flight: the scrape counts itself, so 2 means the slow request waits inside.
    wait_for(lambda: samples(metric_families(service.port), "ledgerly_inflight_requests")[0].value == 2)
    service.proc.send_signal(signal.SIGTERM)
    wait_for(lambda: refused(service.port))  # no new connections
    thread.join(5)
    assert answers and answers[0][0] == 200 and json.loads(answers[0][1])["release"] == "1.3.0"
    assert service.proc.wait(10) == 0
    log = service.log()
    assert log.index("received SIGTERM") < log.index("GET / 200") < log.index("journal synced and closed")


def test_sigterm_with_drain_seconds_keeps_serving_with_readiness_at_503(launch):
    service = launch("1.0.0", drain_seconds=1)
    client = Client(service.port)
    assert client.request("GET", READY)[0] == 200
    service.proc.send_signal(signal.SIGTERM)
    time.sleep(0.1)
    assert get(service.port, READY) == (503, b"draining\n")
    assert get(service.port, "/")[0] == 200
    assert service.proc.wait(10) == 0
    client.close()


def test_snapshots_taken_while_both_slots_write_pass_the_state_check(launch, tmp_path):
    blue, green = launch("1.0.0", "blue"), launch("1.0.0", "green")
    config = tmp_path / "blue.json"
    release = tmp_path / "root" / "current-blue" / "server.js"
    stop = threading.Event()
    written = {"blue": 0, "green": 0}

    def writer(service, slot):
        client = Client(service.port)
        while not stop.is_set():
            account = f"acct-{written[slot] % 7}"
            assert client.json("POST", f"/accounts/{account}/entries", {"amount": 3}, token=TOKEN)[0] == 201
            written[slot] += 1
        client.close()

    threads = [threading.Thread(target=writer, args=(s, n)) for s, n in ((blue, "blue"), (green, "green"))]
    for thread in threads:
        thread.start()
    wait_for(lambda: min(written.values()) > 0)
    snapshots = []
    try:
        for index in range(3):
            time.sleep(0.15)
            target = tmp_path / f"snap{index}"
            target.mkdir()
            run = node(release, "--config", config, "--snapshot-to", target)
            assert run.returncode == 0, run.stderr
            snapshots.append((target, json.loads(run.stdout)))
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
    entries = [summary["entries"] for _, summary in snapshots]
    assert entries == sorted(entries) and entries[0] > 0, entries
    for target, summary in snapshots:
        run = node(release, "--check-state", target)
        assert run.returncode == 0, run.stderr
        checked = json.loads(run.stdout)
        assert (checked["entries"], checked["checksum"]) == (summary["entries"], summary["checksum"])
        assert sorted(os.listdir(target / "journal")) == ["blue.jsonl", "green.jsonl"]

    # Once the writers stop, a snapshot holds everything, and a slot started on it serves it.
    final = tmp_path / "final"
    final.mkdir()
    summary = json.loads(node(release, "--config", config, "--snapshot-to", final).stdout)
    live = json.loads(get(blue.port, "/accounts")[1])
    assert summary["entries"] == sum(written.values()) == live["entries"]
    assert summary["checksum"] == live["checksum"]
    restored = launch("1.0.0", "blue", state_dir=final)
    assert json.loads(get(restored.port, "/accounts")[1]) == live


def test_the_state_check_names_each_damaged_record(launch, tmp_path):
    service = launch("1.0.0")
    client = Client(service.port)
    for amount in (5, 6, 7, 8):
        assert client.json("POST", "/accounts/kappa/entries", {"amount": amount}, token=TOKEN)[0] == 201
    client.close()
    assert service.stop() == 0
    release = tmp_path / "root" / "current-blue" / "server.js"
    journal = tmp_path / "state" / "journal" / "blue.jsonl"
    assert node(release, "--check-state", tmp_path / "state").returncode == 0
    lines = journal.read_text().splitlines(keepends=True)

    journal.write_text(lines[0] + lines[1].replace('"amount":6', '"amount":60') + "".join(lines[2:]))
    run = node(release, "--check-state", tmp_path / "state")
    assert run.returncode == 1
    assert f"ledgerly: error: {journal}:2: checksum mismatch" in run.stderr

    journal.write_text(lines[0] + "".join(lines[2:]))
    run = node(release, "--check-state", tmp_path / "state")
    assert run.returncode == 1
    assert f"{journal}:2: seq 3 where 2 was expected (lost or repeated record)" in run.stderr

    journal.write_text("".join(lines) + lines[0][:20])
    run = node(release, "--check-state", tmp_path / "state")
    assert run.returncode == 1
    assert f"{journal}:5: incomplete last record (20 bytes)" in run.stderr

    # The slot itself drops a torn last record of its own file and serves the rest.
    restarted = launch("1.0.0")
    assert json.loads(get(restarted.port, "/accounts/kappa")[1]) == {"account": "kappa", "balance": "26",
                                                                     "entries": 4}
    assert "dropping an incomplete last record (20 bytes)" in restarted.log()


# --- configuration and exit statuses --------------------------------------------------


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"drain_seconds": -1}, "drain_seconds = -1: expected a number of seconds from 0 to 60"),
        ({"listen": "everywhere"}, 'listen = "everywhere": expected an IPv4 or IPv6 address'),
        ({"ports": {"blue": 70000}}, 'ports = {"blue":70000}: port of slot blue, 70000, must be a whole number from 1'),
        ({"state_dir": "var/lib"}, 'state_dir = "var/lib": expected an absolute path'),
        ({"token": "short"}, 'token = "short": expected "" (writes refused) or a string of at least 12 characters'),
        ({"colour": "blue"}, 'colour = "blue": unknown option (known: listen, ports, state_dir'),
        ({"log_level": "loud"}, 'log_level = "loud": expected one of debug, info, warning, error'),
    ],
)
def test_check_config_rejects_a_bad_option_by_name(tmp_path, overrides, message):
    config = write_config(tmp_path / "bad.json", tmp_path, **overrides)
    run = node(EXAMPLE / "src" / "server.js", "--check-config", "--config", config)
    assert run.returncode == 2
    assert f"ledgerly: error: {config}: {message}" in run.stderr
    assert run.stdout == ""


def test_check_config_accepts_the_rendered_template_and_rejects_broken_json(tmp_path):
    variables = _trusted(SERVICE_VARS)
    variables.update(service_api_token="lab-token-not-secret", ansible_managed="managed", playbook_dir="/p")
    templar = Templar(loader=DataLoader(), variables=variables)
    rendered = templar.template(trust_as_template((EXAMPLE / "ledgerly.json.j2").read_text()))
    config = tmp_path / "ledgerly.json"
    config.write_text(rendered)
    assert json.loads(rendered)["state_dir"] == "/var/lib/ledgerly"
    assert "token" not in rendered  # the secret stays in the service role's 0600 env file
    argv = [arg.replace("{release}", str(EXAMPLE / "src")).replace("{config}", str(config))
            for arg in SERVICE_VARS["service_config_check_command"]]
    run = subprocess.run([NODE, *argv[1:]], capture_output=True, text=True, check=False)
    assert (run.returncode, run.stdout) == (0, "config ok\n")
    unit = templar.template(trust_as_template((EXAMPLE / "ledgerly@.service.j2").read_text()))
    assert "ExecStart=/usr/bin/node /srv/ledgerly/current-%i/server.js --config /etc/ledgerly/ledgerly.json" in unit
    assert "User=ledgerly" in unit
    assert "EnvironmentFile=/etc/ledgerly/ledgerly.env\nEnvironmentFile=/etc/ledgerly/slot-%i.env\n" in unit

    config.write_text('{"listen": ')
    run = node(EXAMPLE / "src" / "server.js", "--check-config", "--config", config)
    assert run.returncode == 2
    assert f"ledgerly: error: {config}: not valid JSON" in run.stderr


def test_exit_statuses_for_a_missing_state_dir_a_taken_port_and_bad_arguments(artifacts, tmp_path):
    release_dir, _ = install(artifacts, tmp_path / "root", "1.0.0")
    server = release_dir / "server.js"
    config = write_config(tmp_path / "c.json", tmp_path / "missing")
    run = node(server, "--config", config, "--slot", "blue", "--port", free_port())
    assert run.returncode == 1
    assert f"ledgerly: error: state dir {tmp_path / 'missing'} does not exist" in run.stderr
    assert not (tmp_path / "missing").exists()

    (tmp_path / "state").mkdir()
    config = write_config(tmp_path / "c.json", tmp_path / "state")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        run = node(server, "--config", config, "--slot", "blue", "--port", taken.getsockname()[1])
    assert run.returncode == 1
    assert "cannot listen on 127.0.0.1 port" in run.stderr and "EADDRINUSE" in run.stderr

    run = node(server, "--config", config, "--slot", "blue")
    assert run.returncode == 2
    assert 'slot blue has no port: set LEDGERLY_PORT, add it to "ports" or pass --port' in run.stderr
    run = node(server, "--config", config, "--slot", "blue", "--bogus")
    assert run.returncode == 2
    assert 'unknown argument "--bogus"' in run.stderr
    run = node(server, "--config", config, "--snapshot-to", tmp_path / "nowhere")
    assert run.returncode == 1
    assert f"snapshot failed: snapshot dir {tmp_path / 'nowhere'} does not exist" in run.stderr


def test_port_and_token_come_from_the_env_files_the_service_role_writes(launch, tmp_path):
    service = launch("1.0.0", env={"LEDGERLY_TOKEN": "token-from-the-env-file"}, token="token-in-the-config")
    client = Client(service.port)
    assert client.json("POST", "/accounts/env/entries", {"amount": 9}, token="token-from-the-env-file")[0] == 201
    assert client.json("POST", "/accounts/env/entries", {"amount": 9}, token="token-in-the-config")[0] == 401
    client.close()
    assert "token-from-the-env-file" not in service.log()

    server = tmp_path / "root" / "current-blue" / "server.js"
    config = tmp_path / "blue.json"
    run = node(server, "--config", config, "--slot", "blue", env={"LEDGERLY_PORT": "80a"})
    assert run.returncode == 2
    assert 'ledgerly: error: LEDGERLY_PORT="80a": expected a whole number from 1 to 65535' in run.stderr
    run = node(server, "--config", config, "--slot", "blue", env={"LEDGERLY_PORT": "9", "LEDGERLY_TOKEN": "sekrit 1"})
    assert run.returncode == 2
    assert ("ledgerly: error: LEDGERLY_TOKEN (8 characters, value not shown): expected at least 12 characters "
            "without spaces") in run.stderr
    assert "sekrit" not in run.stderr


def _trusted(value):
    """``value`` with every string in it marked as a template, as Ansible does for inventory files."""
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, list):
        return [_trusted(item) for item in value]
    if isinstance(value, dict):
        return {key: _trusted(item) for key, item in value.items()}
    return value


def _contract_argv(name, **values):
    """A contract command of service_vars.yml, rendered with ``values`` for its variables."""
    variables = _trusted({**SERVICE_VARS, **values})
    value = Templar(loader=DataLoader(), variables=variables).template(variables[name])
    argv = value.split() if isinstance(value, str) else list(value)
    if argv[0] == "runuser" and os.geteuid() != 0:  # runuser needs root; run the rest as this user
        argv = argv[argv.index("--") + 1:]
    return argv


def test_the_contract_snapshot_and_state_check_commands_work_as_written(launch, tmp_path):
    service = launch("1.1.0", slot="green")
    client = Client(service.port)
    for amount in (11, 22, 33):
        assert client.json("POST", "/accounts/lambda/entries", {"amount": amount}, token=TOKEN)[0] == 201
    live = client.json("GET", "/accounts")[1]
    client.close()
    values = dict(service_root=str(tmp_path / "root"), service_config_file=str(tmp_path / "green.json"),
                  service_state_dir=str(tmp_path / "state"), service_user=pwd.getpwuid(os.geteuid()).pw_name)
    snapshot_dir = tmp_path / "snapshot"
    snapshot_dir.mkdir()
    argv = [arg.replace("{slot}", "green").replace("{snapshot_dir}", str(snapshot_dir))
            for arg in _contract_argv("service_snapshot_command", **values)]
    run = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["checksum"] == live["checksum"]
    assert service.stop() == 0
    run = subprocess.run(_contract_argv("service_state_check_command", **values), capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["checksum"] == live["checksum"]
    values["service_state_dir"] = str(snapshot_dir)
    run = subprocess.run(_contract_argv("service_state_check_command", **values), capture_output=True, text=True,
                         check=False)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)["entries"] == 3
