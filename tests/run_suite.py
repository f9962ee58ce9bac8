#!/usr/bin/env python3
"""Everything `make test` runs, as concurrent steps, ending with where the time went.

The integration modules are split into groups that share nothing; each group runs in
its own pytest process against a lab of its own (``FLEETOPS_LAB=<group>``, see
lab/lab.sh), so a group's waits (analysis windows, drains, restarts) overlap the
others'. Molecule runs beside them on its own hosts. Lint, unit tests and the build
check run while the labs start.

Every integration module must be in exactly one group: a module in none fails the run
before anything starts, so a new test file is never silently left out. The number of
tests collected is printed beside the number that ran; they must be equal.

    python3 tests/run_suite.py [--only PART ...] [--groups GROUP ...] [--jobs N] [--keep-labs]

At most --jobs integration groups and molecule run at once (default 4: on 2 cores more
labs at once made every group slower than running them in turn); they start longest
first, in the order INTEGRATION_GROUPS lists them, molecule last.

Setup (`make setup`: host packages, virtualenv, release artifacts) runs first and is
timed like the rest.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BIN = REPO / ".venv" / "bin"  # made by the setup step
INTEGRATION = REPO / "tests" / "integration"
LOG_DIR = REPO / ".build" / "test-logs"

# Groups of integration modules, each on a lab of its own, in the order they run there;
# the groups are listed longest first.
# Every module starts from a converged lab (the `converged` fixture) and reads the
# release that serves from the hosts, so each can have a lab of its own; test_gate
# deploys the 2.0.0 it starts from when it runs alone.
INTEGRATION_GROUPS = {
    "itops": ["test_operations.py"],
    "itbackup": ["test_backup.py", "test_drill_any_service.py"],
    "itsite": ["test_site.py", "test_bad_input.py", "test_triage.py", "test_run_reports.py"],
    "itaudit": ["test_audit.py", "test_awx_runner.py", "test_maintenance.py", "test_readiness.py",
                "test_contract.py"],
    "itdeployhist": ["test_deploy_history.py"],
    "itledgerly": ["test_ledgerly.py"],
    "itgate": ["test_gate.py"],
    "itoperator": ["test_operator.py"],
    "itslo": ["test_slo.py"],
    "itdeploy": ["test_deploy.py"],
}

SETUP = ("setup", ["make", "--no-print-directory", "setup"])
# Steps that need no lab, run one after another while the labs come up.
QUICK_STEPS = [
    ("lint", ["make", "--no-print-directory", "lint"]),
    ("unit", ["make", "--no-print-directory", "test-unit"]),
    ("build-check", ["make", "--no-print-directory", "build-check"]),
]
MOLECULE = ("molecule", ["make", "--no-print-directory", "molecule-run"])


def integration_modules():
    return sorted(path.name for path in INTEGRATION.glob("test_*.py"))


def check_groups():
    """Every module in exactly one group; fails naming the strays."""
    grouped = [module for modules in INTEGRATION_GROUPS.values() for module in modules]
    missing = sorted(set(integration_modules()) - set(grouped))
    unknown = sorted(set(grouped) - set(integration_modules()))
    twice = sorted({module for module in grouped if grouped.count(module) > 1})
    problems = []
    if missing:
        problems.append("in no group of INTEGRATION_GROUPS (tests/run_suite.py): %s" % ", ".join(missing))
    if unknown:
        problems.append("grouped but not in tests/integration: %s" % ", ".join(unknown))
    if twice:
        problems.append("in more than one group: %s" % ", ".join(twice))
    return problems


def collected_count(modules=None):
    paths = [str(INTEGRATION / module) for module in modules] if modules else [str(INTEGRATION)]
    proc = subprocess.run([str(BIN / "pytest"), "--collect-only", "-q"] + paths,
                          capture_output=True, text=True, cwd=REPO, check=False)
    ids = [line for line in proc.stdout.splitlines() if "::" in line]
    if proc.returncode != 0:
        raise SystemExit("collecting the integration tests failed:\n" + proc.stdout[-3000:] + proc.stderr[-3000:])
    return len(ids)


class Step:
    def __init__(self, name, command, env=None, after=None):
        self.name, self.command, self.env, self.after = name, command, env, after
        self.log = LOG_DIR / ("%s.log" % name)
        self.rc, self.seconds, self.cpu_seconds = None, 0.0, 0.0
        self.host_cpu_seconds = None  # an integration group's lab hosts, read before the lab goes

    def run(self):
        start = time.monotonic()
        with open(self.log, "w") as log:
            proc = subprocess.Popen(self.command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                    env=dict(os.environ, **(self.env or {})))
            # wait4, not wait: its usage covers the step's whole process tree (pytest,
            # ansible-playbook and its workers, ssh), which the table prints beside the wall time.
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = self.rc = os.waitstatus_to_exitcode(status)
        self.cpu_seconds = usage.ru_utime + usage.ru_stime
        self.seconds = time.monotonic() - start
        if self.after:
            self.after()
        print("[suite] %-12s %s in %5.0f s (log %s)" % (self.name, "ok" if self.rc == 0 else "FAILED rc=%d" % self.rc,
                                                        self.seconds, self.log.relative_to(REPO)), flush=True)
        return self.rc


def machine_busy_seconds():
    """CPU seconds the whole machine spent busy so far (all cores, /proc/stat), or None."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(value) for value in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle, iowait = fields[3], fields[4]
    return (sum(fields[:8]) - idle - iowait) / os.sysconf("SC_CLK_TCK")


def python_speed(cpu_seconds=0.3, tries=3):
    """Rounds of a fixed piece of Python work (JSON, dicts, strings: what Ansible's
    controller does most) per CPU second of this process, the best of ``tries``.

    The same playbooks took 10-14 % more CPU s in one rehearsal than in another an hour
    earlier, with no change to them: the machine's speed moves, and two rehearsals'
    CPU figures compare only beside it."""
    record = {"host": "app1", "changed": False, "vars": {"slot": "blue", "weights": list(range(20))}}
    best = 0.0
    for _ in range(tries):
        rounds, started = 0, time.process_time()
        end = started + cpu_seconds
        while time.process_time() < end:
            text = json.dumps(record, sort_keys=True)
            copy = json.loads(text)
            copy["vars"]["weights"].sort(reverse=True)
            "-".join(str(value) for value in copy["vars"]["weights"]).split("-")
            rounds += 1
        best = max(best, rounds / (time.process_time() - started))
    return best


def lab_hosts_cpu_seconds(lab):
    """CPU seconds the lab's hosts (containers) used since they started, or None.

    Hosts a test removed before the end are not in it."""
    names = subprocess.run(["podman", "ps", "-q", "--filter", "label=fleetops.labname=%s" % lab],
                           capture_output=True, text=True, check=False).stdout.split()
    if not names:
        return None
    proc = subprocess.run(["podman", "stats", "--no-stream", "--format", "json"] + names,
                          capture_output=True, text=True, check=False)
    try:
        return sum(_duration_seconds(entry["cpu_time"]) for entry in json.loads(proc.stdout))
    except (ValueError, KeyError, TypeError):
        return None


def _duration_seconds(text):
    """Go's time.Duration text (podman's cpu_time: '1m2.5s', '812.3ms', '950us') in seconds."""
    units = {"h": 3600.0, "m": 60.0, "s": 1.0, "ms": 1e-3, "us": 1e-6, "µs": 1e-6, "ns": 1e-9}
    total = 0.0
    for number, unit in re.findall(r"([0-9.]+)(h|ms|us|µs|ns|m|s)", text):
        total += float(number) * units[unit]
    return total


def lab_down(lab):
    subprocess.run(["bash", "lab/lab.sh", "--lab", lab, "down"], cwd=REPO, capture_output=True, check=False)


def group_step(lab, modules, keep_lab):
    junit = LOG_DIR / ("%s.xml" % lab)
    # A temp directory per group: under one shared /tmp/pytest-of-<user>, each session
    # keeps only the 3 newest session dirs and deletes older ones, also those of groups
    # still running (seen as a group dying with rc 254 and no failure message).
    basetemp = REPO / ".build" / "pytest-tmp" / lab
    basetemp.parent.mkdir(parents=True, exist_ok=True)  # pytest makes only the last component
    command = [str(BIN / "pytest"), "-q", "-p", "no:cacheprovider", "--junitxml", str(junit),
               "--basetemp", str(basetemp)]
    command += [str(INTEGRATION / module) for module in modules]
    # A finished group's lab goes at once: its Prometheus and services would keep
    # taking CPU from the groups still running.
    runs = LOG_DIR / ("runs-%s.jsonl" % lab)
    if runs.exists():
        runs.unlink()
    step = Step("integration-%s" % lab, command, env={"FLEETOPS_LAB": lab, "FLEETOPS_RUN_LOG": str(runs)})
    step.runs = runs

    def after():
        step.host_cpu_seconds = lab_hosts_cpu_seconds(lab)
        if not keep_lab:
            lab_down(lab)
    step.after = after
    step.junit = junit
    return step


def module_times(steps):
    """{module: (tests, seconds)} from the groups' JUnit files."""
    times = {}
    for step in steps:
        if not getattr(step, "junit", None) or not step.junit.exists():
            continue
        for case in ET.parse(step.junit).getroot().iter("testcase"):
            parts = case.get("classname", "").split(".")
            module = next((part for part in parts if part.startswith("test_")), parts[-1]) + ".py"
            tests, seconds = times.get(module, (0, 0.0))
            times[module] = (tests + 1, seconds + float(case.get("time", 0)))
    return times


def run_records(steps):
    """Every line of the groups' run logs (conftest writes them): playbook runs and the
    tests' HTTP clients."""
    for step in steps:
        runs = getattr(step, "runs", None)
        if runs and runs.exists():
            for line in runs.read_text().splitlines():
                yield json.loads(line)


def playbook_costs(steps):
    """{playbook: [runs, wall s, controller CPU s]} from the groups' run logs."""
    costs = {}
    for run in run_records(steps):
        if "playbook" not in run:
            continue  # a test client's requests (traffic_totals)
        name = run["playbook"] + (" --check" if run["check"] else "")
        cost = costs.setdefault(name, [0, 0.0, 0.0])
        cost[0] += 1
        cost[1] += run["wall"]
        cost[2] += run["cpu"]
    return costs


def traffic_totals(steps):
    """(clients, requests, wall s) of the tests' HTTP clients, from the groups' run logs."""
    clients = [run for run in run_records(steps) if "traffic" in run]
    return len(clients), sum(run["requests"] for run in clients), sum(run["wall"] for run in clients)


def print_playbook_costs(costs):
    total = [sum(cost[index] for cost in costs.values()) for index in range(3)]
    print("[suite] playbook runs of the integration tests: %d, %.0f s, %.0f controller CPU s (ansible-playbook and"
          " its workers); by playbook, most CPU first:" % tuple(total))
    for name, (runs, wall, cpu) in sorted(costs.items(), key=lambda item: -item[1][2]):
        print("  %-30s %4d runs %7.1f s %7.1f CPU s  %5.1f CPU s a run" % (name, runs, wall, cpu, cpu / runs))


def run_sequence(steps):
    for step in steps:
        if step.run() != 0:
            break


def run_pool(steps, jobs):
    """Run the steps, at most ``jobs`` at a time, in list order."""
    pending = list(steps)
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                if not pending:
                    return
                step = pending.pop(0)
            step.run()

    workers = [threading.Thread(target=worker) for _ in range(max(1, jobs))]
    for thread in workers:
        thread.start()
    return workers


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", nargs="+", choices=["quick", "integration", "molecule"],
                        help="run only these parts (default: all)")
    parser.add_argument("--jobs", type=int, default=4, help="integration groups and molecule at once (default 4)")
    parser.add_argument("--keep-labs", action="store_true", help="leave the integration labs up afterwards")
    parser.add_argument("--groups", nargs="+", choices=sorted(INTEGRATION_GROUPS), metavar="GROUP",
                        help="only these integration groups (default: all; %s)" % ", ".join(INTEGRATION_GROUPS))
    args = parser.parse_args()
    parts = set(args.only or ["quick", "integration", "molecule"])
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    start, busy_at_start = time.monotonic(), machine_busy_seconds()
    speed_at_start = python_speed()
    setup = Step(*SETUP)
    if setup.run() != 0:
        print(setup.log.read_text(errors="replace")[-5000:])
        return 1

    groups = []
    if "integration" in parts:
        problems = check_groups()
        if problems:
            raise SystemExit("[suite] integration groups: " + "; ".join(problems))
        chosen = dict((lab, modules) for lab, modules in INTEGRATION_GROUPS.items()
                      if not args.groups or lab in args.groups)
        modules = [module for group in chosen.values() for module in group]
        expected = collected_count(modules if args.groups else None)
        print("[suite] %d integration tests collected in %d modules, %d groups on labs of their own"
              % (expected, len(modules), len(chosen)), flush=True)
        groups = [group_step(lab, group, args.keep_labs) for lab, group in chosen.items()]
    quick = [Step(name, command) for name, command in QUICK_STEPS] if "quick" in parts else []
    molecule = [Step(*MOLECULE)] if "molecule" in parts else []

    # Molecule goes in last: under mitogen it is shorter than every group.
    pooled = groups + molecule
    threads = run_pool(pooled, args.jobs)
    quick_thread = threading.Thread(target=run_sequence, args=(quick,))
    quick_thread.start()
    for thread in threads + [quick_thread]:
        thread.join()

    steps = [setup] + quick + groups + molecule
    failed = [step for step in steps if step.rc != 0]
    for step in failed:
        print("\n[suite] ---- %s failed (rc=%s); last lines of %s:" % (step.name, step.rc, step.log))
        if step.log.exists():
            print("\n".join(step.log.read_text(errors="replace").splitlines()[-120:]))

    print("\n[suite] wall time by step (setup first; then the quick steps one after another, beside the"
          " integration groups and molecule), the CPU time of each step's own processes, and for an"
          " integration group the CPU time of its lab's hosts")
    for step in steps:
        state = "not run" if step.rc is None else ("ok" if step.rc == 0 else "FAILED")
        hosts = "" if step.host_cpu_seconds is None else "+ %6.1f CPU s on its lab hosts" % step.host_cpu_seconds
        print("  %-24s %7.1f s  %7.1f CPU s %-32s %s" % (step.name, step.seconds, step.cpu_seconds, hosts, state))
    times = module_times(groups)
    if times:
        print("[suite] integration wall time by module (sum of its tests' setup, call and teardown)")
        for lab, group in INTEGRATION_GROUPS.items():
            for module in group:
                if module not in times:
                    continue
                tests, seconds = times[module]
                print("  %-10s %-24s %3d tests %7.1f s" % (lab, module, tests, seconds))
        ran = sum(tests for tests, _ in times.values())
        print("[suite] integration tests: %d collected, %d ran" % (expected, ran))
        if ran != expected and not failed:
            failed.append("count")
            print("[suite] ERROR: %d collected integration tests did not run" % (expected - ran))
    costs = playbook_costs(groups)
    if costs:
        print_playbook_costs(costs)
    clients, requests, client_wall = traffic_totals(groups)
    if clients:
        # Each request costs CPU in the test's client, HAProxy and the service (docs/scale.md).
        print("[suite] the tests' HTTP clients: %d, %d requests over %.0f s" % (clients, requests, client_wall))
    wall = time.monotonic() - start
    print("[suite] total %.0f s" % wall)
    busy_at_end = machine_busy_seconds()
    if busy_at_start is not None and busy_at_end is not None:
        # Near 100 % the suite is bound by CPU: more steps at once would not end it sooner.
        busy = busy_at_end - busy_at_start
        print("[suite] the machine was busy %.0f CPU s of %.0f (%d cores): %.0f %%"
              % (busy, wall * os.cpu_count(), os.cpu_count(), 100 * busy / (wall * os.cpu_count())))
    print("[suite] Python speed, rounds of fixed work per CPU s: %.0f before the steps, %.0f after"
          " (set CPU figures of two runs side by side with it)" % (speed_at_start, python_speed()))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
