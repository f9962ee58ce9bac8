"""Integration tests: playbooks run through ansible-runner against the podman lab.

One lab serves the whole session: the default lab, or the named lab that
``FLEETOPS_LAB`` names (``lab/lab.sh --lab NAME``), so several sessions run side by
side on labs of their own. Addresses come from that lab's inventory, never from the
tests. A lab that cannot start fails the session loudly; these tests never skip.
"""

import contextlib
import json
import os
import resource
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import ansible_mitogen
import ansible_runner
import pytest
import testinfra
import traffic_client
import yaml

REPO = Path(__file__).resolve().parents[2]
LAB_NAME = os.environ.get("FLEETOPS_LAB") or "default"
BASE_VERSION = "1.0.0"


def lab_command(*args):
    """lab/lab.sh on this session's lab (FLEETOPS_LAB is passed on)."""
    env = dict(os.environ, FLEETOPS_LAB=LAB_NAME)
    return subprocess.run(["bash", str(REPO / "lab" / "lab.sh"), *args], capture_output=True, text=True,
                          check=False, env=env)


def _lab_inventory():
    """The lab's inventory path: a named lab's is written (with its subnet) by lab.sh."""
    if LAB_NAME == "default":
        return REPO / "inventories" / "lab" / "hosts.yml"
    proc = lab_command("inventory")
    if proc.returncode != 0:
        raise RuntimeError("lab.sh --lab %s inventory failed:\n%s%s" % (LAB_NAME, proc.stdout, proc.stderr))
    return Path(proc.stdout.strip().splitlines()[-1])


def _group_addresses(inventory, group):
    hosts = yaml.safe_load(inventory.read_text())["all"]["children"][group]["hosts"] or {}
    return {name: (hostvars or {}).get("ansible_host") for name, hostvars in hosts.items()}


INVENTORY = _lab_inventory()
SPARES_INVENTORY = INVENTORY.parent / "spares.yml"
LAB_KEY = (REPO / "lab" / ".state" / "id_ed25519" if LAB_NAME == "default"
           else REPO / "lab" / ".state" / "labs" / LAB_NAME / "id_ed25519")
LB_ADDRESS = _group_addresses(INVENTORY, "loadbalancers")["lb1"]
APP_HOSTS = _group_addresses(INVENTORY, "app")
SPARE_HOSTS = _group_addresses(SPARES_INVENTORY, "spare")

# ansible-runner starts ansible-playbook by name: use the one beside this interpreter.
os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")


def _use_mitogen():
    """Run every playbook of the session under mitogen's linear strategy, unless
    FLEETOPS_TEST_STRATEGY=linear asks for ansible-core's own. On this 2-core machine it
    made an unchanged site.yml run 2.9x faster (36 s against 104 s, same lab and load):
    persistent interpreters on the hosts instead of a module upload and a fork per task.
    Set in the environment, so playbooks the tests start as commands use it too. (The
    repository's ansible.cfg also enables the fleetops.lifecycle.preload callback.)"""
    if os.environ.get("FLEETOPS_TEST_STRATEGY", "mitogen") == "linear":
        return
    plugins = os.path.join(os.path.dirname(ansible_mitogen.__file__), "plugins", "strategy")
    os.environ.setdefault("ANSIBLE_STRATEGY_PLUGINS", plugins)
    os.environ.setdefault("ANSIBLE_STRATEGY", "mitogen_linear")


_use_mitogen()


class PlaybookResult:
    """What a playbook run left behind: status, per-host stats and every event."""

    def __init__(self, runner):
        self.rc = runner.rc
        self.status = runner.status
        self.stats = runner.stats or {}
        self.events = list(runner.events)
        self.stdout = runner.stdout.read()

    def changed(self):
        return sum(self.stats.get("changed", {}).values())

    def changed_tasks(self):
        return [
            "%s: %s" % (e["event_data"].get("host"), e["event_data"].get("task"))
            for e in self.events
            if e["event"] == "runner_on_ok" and e["event_data"].get("res", {}).get("changed")
        ]

    def failure_messages(self):
        return [
            e["event_data"]["res"].get("msg", "")
            for e in self.events
            if e["event"] == "runner_on_failed" and not e["event_data"].get("ignore_errors")
        ]


def run_playbook(name, extravars=None, check=False, limit=None, tmp_path=None, *, extra_inventory=None):
    cmdline = ["--diff"]
    if extra_inventory:  # a second inventory source, e.g. a spare host added to a group
        cmdline += ["-i", str(extra_inventory)]
    if check:
        cmdline.append("--check")
    if limit:
        cmdline += ["--limit", limit]
    private = tmp_path or Path(os.environ.get("TMPDIR", "/tmp")) / "fleetops-runner"
    private.mkdir(parents=True, exist_ok=True)
    with _run_cost(name, check):
        runner = ansible_runner.run(
        private_data_dir=str(private),
            playbook=str(REPO / "playbooks" / name),
            inventory=str(INVENTORY),
            extravars=extravars or {},
            cmdline=" ".join(cmdline),
            envvars={"ANSIBLE_CONFIG": str(REPO / "ansible.cfg")},
            quiet=True,
            rotate_artifacts=2,
        )
    return PlaybookResult(runner)


@contextlib.contextmanager
def _run_cost(playbook, check):
    """Append a playbook run's wall and controller CPU time (ansible-playbook and its workers,
    reaped children of this process) to FLEETOPS_RUN_LOG, which run_suite sums per playbook."""
    log = os.environ.get("FLEETOPS_RUN_LOG")
    before, started = resource.getrusage(resource.RUSAGE_CHILDREN), time.monotonic()
    try:
        yield
    finally:
        if log:
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
            _log_run({"playbook": playbook, "check": check, "wall": round(time.monotonic() - started, 2),
                      "cpu": round(cpu, 2)})


def _log_run(record):
    """Append one record (a playbook run, or a test client's requests) to FLEETOPS_RUN_LOG."""
    log = os.environ.get("FLEETOPS_RUN_LOG")
    if log:
        record["test"] = os.environ.get("PYTEST_CURRENT_TEST", "").split(" ")[0]
        with open(log, "a") as stream:
            stream.write(json.dumps(record) + "\n")


# The tests' commands on a host share one ssh connection while they come within seconds
# of each other: a new connection cost 0.16 CPU s (ssh and the host's sshd, measured on
# a lab), a command over a shared one 0.02. The shared connection closes 5 s after its
# last command, sooner than a host a test takes down can be back at its address (lab.sh
# up takes longer), and a connection whose host went away is given up after 15 s.
SSH_SHARING = ("-o ControlMaster=auto -o ControlPersist=5 -o ControlPath=/tmp/fleetops-ssh-%C "
               "-o ServerAliveInterval=5 -o ServerAliveCountMax=3")


def lab_host(name):
    address = {"lb1": LB_ADDRESS, **APP_HOSTS, **SPARE_HOSTS}[name]
    return testinfra.get_host(
        "ssh://root@%s" % address,
        ssh_identity_file=str(LAB_KEY),
        ssh_extra_args="-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "
                       + SSH_SHARING,
    )


def http_get(url, timeout=5):
    """GET a URL; return (status, body). HTTP errors are results, not exceptions."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


# Requests per second each client thread sends unless a test names its rate. Bounded
# like real users: an unbounded client took ~1.5 ms of CPU per request (client, HAProxy
# and service together), about half a core per test at ~300 requests/s, which the
# concurrent lab groups took from each other; the gate waits for its evidence instead.
# Measured again on a lab (2026-12-07): 0.9 ms in the client (urllib, 2 threads), 0.6 in
# HAProxy, 0.16 in journald for HAProxy's log line, 1.0 in the service; the client is
# now traffic_client.
RATE_PER_THREAD = 75
# A client that only watches that a service keeps answering (no gate reads its traffic):
# one request every 50 ms still sees any gap a restart or a drain would leave.
WATCHER_RATE = 20


class Traffic:
    """Steady background requests through HAProxy, counting every failed one.

    The threads together send ``rate`` requests per second on a fixed schedule (default
    ``RATE_PER_THREAD`` per thread); a thread that falls behind sends as fast as its
    replies come."""

    def __init__(self, url="http://%s/" % LB_ADDRESS, threads=1, rate=None, version_field="version"):
        self.url, self.rate = url, rate or RATE_PER_THREAD * threads
        self._target = traffic_client.target(url)
        self.version_field = version_field  # the reply's key naming the release (another service's own)
        self.ok = 0
        self.failed = []
        self.versions = {}
        self.log = []  # (time, version) of every good reply
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self):
        start, sent = time.monotonic(), 0
        while not self._stop.is_set():
            sent += 1
            delay = start + sent * len(self._threads) / self.rate - time.monotonic()
            if delay > 0 and self._stop.wait(delay):
                break
            try:
                status, body = traffic_client.get(self._target, timeout=5)
            except (OSError, traffic_client.ReplyError) as exc:
                status, body = None, str(exc)
            with self._lock:
                if status == 200:
                    self.ok += 1
                    version = json.loads(body).get(self.version_field)
                    self.versions[version] = self.versions.get(version, 0) + 1
                    self.log.append((time.time(), version))
                else:
                    self.failed.append((time.time(), status, body[:200]))

    def mark(self):
        """A point in time; versions_since() tells what answered after it."""
        time.sleep(1)  # let requests already in flight land
        return time.time()

    def versions_since(self, mark):
        with self._lock:
            return {version for when, version in self.log if when >= mark}

    def __enter__(self):
        self._started = time.monotonic()
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        _log_run({"traffic": self.url, "requests": self.ok + len(self.failed),
                  "wall": round(time.monotonic() - self._started, 2)})


@pytest.fixture(scope="session")
def lab():
    """The lab, up. Fails (never skips) when it cannot start."""
    proc = lab_command("up")
    if proc.returncode != 0:
        pytest.fail("the lab did not start:\n%s\n%s" % (proc.stdout, proc.stderr), pytrace=False)
    return proc


@pytest.fixture(scope="session")
def converged(lab, tmp_path_factory):
    """The lab converged to BASE_VERSION by site.yml (the state other tests start from)."""
    result = run_playbook("site.yml", {"service_version": BASE_VERSION}, tmp_path=tmp_path_factory.mktemp("site"))
    if result.rc != 0:
        pytest.fail("site.yml failed: %s\n%s" % (result.failure_messages(), result.stdout[-4000:]), pytrace=False)
    return result


# Modules that move the lab away from the converged state run last.
MODULE_ORDER = [  # deploy tests run in file order
    "test_site.py",
    "test_bad_input.py",
    "test_deploy.py",
    "test_deploy_history.py",
    "test_gate.py",
    "test_slo.py",
    "test_operations.py",
    "test_backup.py",
    "test_drill_any_service.py",
    "test_triage.py",
    "test_run_reports.py",
    "test_audit.py",
    "test_awx_runner.py",
    "test_maintenance.py",
    "test_readiness.py",
    "test_contract.py",
    "test_ledgerly.py",
    "test_operator.py",
]


_MODULE_SECONDS = {}


def pytest_runtest_logreport(report):
    """Add each phase's wall time (setup, call, teardown) to its module's total."""
    module = report.nodeid.split("::")[0].rsplit("/", 1)[-1]
    _MODULE_SECONDS[module] = _MODULE_SECONDS.get(module, 0.0) + report.duration


def pytest_terminal_summary(terminalreporter):
    """End the run with each module's wall time: where CI's integration minutes go."""
    if not _MODULE_SECONDS:
        return
    terminalreporter.section("integration wall time by module")
    for module, seconds in sorted(_MODULE_SECONDS.items(), key=lambda item: -item[1]):
        terminalreporter.write_line("%-24s %7.1f s" % (module, seconds))
    terminalreporter.write_line("%-24s %7.1f s" % ("total", sum(_MODULE_SECONDS.values())))


def pytest_collection_modifyitems(items):
    def rank(item):
        name = item.path.name
        return MODULE_ORDER.index(name) if name in MODULE_ORDER else len(MODULE_ORDER)

    items.sort(key=rank)
