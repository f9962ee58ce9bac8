#!/usr/bin/env python3
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The canary gate on the lab under real traffic: false rollbacks and reaction time.

    flock -o /tmp/fleetops-lab.mutex .venv/bin/python bench/gate_lab.py [--rate 25] [--deploys 3]

Needs the lab up and converged (lab.sh up; site.yml), the releases in dist/ (`make
releases`) and `make collection-link`. Takes the lab over for ~15-25 minutes: run it
under the lab mutex, never during the integration tests. Not a test: it prints numbers.

A bounded client sends --rate requests/s through HAProxy (http://10.89.77.10/ only) on
a fixed schedule from --threads threads, so a slow canary does not slow the rate; it
logs (time, status, version) of every reply. Under it:

1. False rollbacks: deploy.yml rolls 3.1.0 (0.3 % errors, under the gate's 1 %
   threshold) out --deploys times with the default gate except
   deploy_analysis_window=30, deploy_analysis_interval=10. Between runs the lab goes
   back to the good release it served (rollback.yml after a promotion; a rolled-back
   deploy leaves it serving already), so each deploy is a real rollout. Per deploy:
   outcome (promoted, or rolled back at which stage and why, from the ledger), wall
   time, what each stage's gate counted (ledger gate records: bad/total of the counted
   conditions, probes of availability, verdicts), the client's non-200 replies. Then
   promoted K of N, and the "expected" figure: gate_simulation.outcome_rates for 0.3 %
   errors at the request rate each stage's canary receives (--rate times the stage's
   realised traffic share), same window/interval/max_window and default thresholds.
   The simulation models the error_ratio condition only (not the health probes).
2. Reaction time: 3.0.0 (5 % errors; default haproxy provider and conditions, window
   30 s, interval 10 s) and 4.1.0 (+250 ms; prometheus provider, conditions error_ratio,
   latency p95 <= 0.2 s, health; window 30 s, interval 5 s). From the failing gate
   record: the timestamp of the first sample in state "breach" of a failed condition
   (if the stage test failed with no breaching sample: the last sample, where the test
   decided); from the client log: the last reply served by the bad release. Prints
   first breach -> last bad reply against the target "one analysis interval + 15 s".

Leaves the lab serving a good release (1.0.0 or 2.0.0). Play output is kept in a
directory under /tmp (printed at the start) for a look at what a run did.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, ".venv", "bin")
sys.path.insert(0, os.path.join(REPO, ".build", "collections"))

from ansible_collections.fleetops.lifecycle.plugins.module_utils import gate_simulation as simulation  # noqa: E402
from ansible_collections.fleetops.lifecycle.plugins.module_utils import rollout  # noqa: E402

LB = "10.89.77.10"
URL = "http://%s/" % LB
APP_HOSTS = {"app1": "10.89.77.11", "app2": "10.89.77.12", "app3": "10.89.77.13"}
LAB_KEY = os.path.join(REPO, "lab", ".state", "id_ed25519")
LEDGER = "/var/lib/fleetops/demo/ledger.jsonl"
GOOD = ("2.0.0", "1.0.0")
STAGES = (10, 50, 100)

FALSE_ROLLBACK_GATE = {"deploy_analysis_window": 30, "deploy_analysis_interval": 10}
ERROR_GATE = {"deploy_analysis_window": 30, "deploy_analysis_interval": 10}
LATENCY_GATE = {
    "deploy_analysis_window": 30,
    "deploy_analysis_interval": 5,
    "deploy_gate_provider": "prometheus",
    "deploy_gate_conditions": [
        {"type": "error_ratio"},
        {"type": "latency", "threshold": 0.2, "percentile": 0.95},
        {"type": "health"},
    ],
}
# The defaults the simulation shares with the gate (roles/deploy/defaults, slo.KINDS).
SIM_STAGE = {"threshold": 0.01, "max_window": 300, "sustained_for": 3, "min_requests": 10}
TARGET_SLACK = 15.0


def clock(timestamp):
    if timestamp is None:
        return "-"
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    return moment.strftime("%H:%M:%S.%f")[:-3]


# ------------------------------------------------------------------- the client


class Client:
    """--rate requests/s through HAProxy on a fixed schedule shared by all threads:
    request n is due at start + n / rate, whichever thread is free takes it. Logs
    (reply time, status, version, send time) of every request; status None when no
    HTTP answer came (refused, reset, timeout)."""

    def __init__(self, rate, threads):
        self.rate, self.log, self.late = float(rate), [], 0
        self._next, self._lock, self._stop = 0, threading.Lock(), threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        self.start_mono = None

    def start(self):
        self.start_mono = time.monotonic()
        for thread in self._threads:
            thread.start()

    def stop(self):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)

    def _run(self):
        while not self._stop.is_set():
            with self._lock:
                n, self._next = self._next, self._next + 1
            delay = self.start_mono + n / self.rate - time.monotonic()
            if delay > 0:
                if self._stop.wait(delay):
                    return
            elif delay < -1.0:
                with self._lock:
                    self.late += 1
            sent = time.time()
            status, version = fetch(URL)
            with self._lock:
                self.log.append((time.time(), status, version, sent))

    def between(self, start, end):
        with self._lock:
            return [entry for entry in self.log if start <= entry[0] <= end]


def fetch(url, timeout=5):
    """``(status, version)`` of one GET; version from the JSON body (the demo's 500s
    carry it too), None when there is none."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            status, body = reply.status, reply.read()
    except urllib.error.HTTPError as exc:
        status, body = exc.code, exc.read()
    except (OSError, ValueError):
        return None, None
    try:
        version = json.loads(body).get("version")
    except (ValueError, AttributeError):
        version = None
    return status, version


def client_line(entries, seconds):
    by_status = {}
    for _, status, version, _ in entries:
        key = (status, version)
        by_status[key] = by_status.get(key, 0) + 1
    bad = sorted(((k, v) for k, v in by_status.items() if k[0] != 200), key=lambda kv: -kv[1])
    served = {}
    for (status, version), n in by_status.items():
        if status == 200:
            served[version] = served.get(version, 0) + n
    text = "client: %d requests (%.1f/s), 200 by version %s; non-200 %d" % (
        len(entries), len(entries) / seconds if seconds else 0.0,
        ", ".join("%s %d" % (v, n) for v, n in sorted(served.items(), key=lambda kv: str(kv[0]))) or "none",
        sum(n for _, n in bad))
    if bad:
        text += " (%s)" % ", ".join("%s from %s: %d" % (s if s is not None else "no answer", v or "?", n)
                                    for (s, v), n in bad)
    return text


# ---------------------------------------------------------------- the lab


def ssh(address, command):
    proc = subprocess.run(
        ["ssh", "-i", LAB_KEY, "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
         "-o", "LogLevel=ERROR", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "root@%s" % address, command],
        capture_output=True, text=True, check=False, timeout=60)
    if proc.returncode != 0:
        raise RuntimeError("ssh %s %r: rc %d: %s" % (address, command, proc.returncode, proc.stderr.strip()))
    return proc.stdout


def ledgers():
    result = {}
    for name, address in APP_HOSTS.items():
        out = ssh(address, "cat %s 2>/dev/null || true" % LEDGER)
        result[name] = [json.loads(line) for line in out.splitlines() if line.strip()]
    return result


def serving_version():
    status, version = fetch("http://%s/version" % LB)
    return version if status == 200 else None


class Lab:
    def __init__(self, logdir):
        self.logdir, self.runs = logdir, 0

    def playbook(self, name, extravars):
        """Run a playbook; ``(rc, seconds, start, end, output)``."""
        self.runs += 1
        command = [os.path.join(BIN, "ansible-playbook"), os.path.join(REPO, "playbooks", name),
                   "-e", json.dumps(extravars)]
        env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                   PATH=BIN + os.pathsep + os.environ["PATH"])
        start, mono = time.time(), time.monotonic()
        proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
        seconds, end = time.monotonic() - mono, time.time()
        label = "%02d-%s-%s.log" % (self.runs, name.replace(".yml", ""), extravars.get("deploy_version", ""))
        with open(os.path.join(self.logdir, label), "w") as out:
            out.write("$ %s\n%s\n%s" % (" ".join(command), proc.stdout, proc.stderr))
        return proc.returncode, seconds, start, end, proc.stdout + proc.stderr

    def deploy(self, version, gate):
        """deploy.yml with the ledger records it left (app1's; the others compared)."""
        before = dict((name, len(records)) for name, records in ledgers().items())
        rc, seconds, start, end, output = self.playbook("deploy.yml", dict(gate, deploy_version=version))
        after = ledgers()
        new = dict((name, records[before[name]:]) for name, records in after.items())
        events = dict((name, [r["event"] for r in records]) for name, records in new.items())
        agree = len(set(tuple(e) for e in events.values())) == 1
        return {"version": version, "rc": rc, "seconds": seconds, "start": start, "end": end, "output": output,
                "records": new["app1"], "events": events, "agree": agree}

    def back_to_good(self):
        """Serve a good release again (rollback.yml); ``(seconds, served)``."""
        served = serving_version()
        if served in GOOD:
            return 0.0, served
        rc, seconds, _, _, output = self.playbook("rollback.yml", {})
        served = serving_version()
        if rc != 0 or served not in GOOD:
            raise RuntimeError("rollback.yml did not bring a good release back (rc %d, serving %s):\n%s"
                               % (rc, served, tail(output)))
        return seconds, served


def tail(output, lines=25):
    return "\n".join(output.rstrip().splitlines()[-lines:])


# ------------------------------------------------------------------ the report


def gate_records(run):
    return [r for r in run["records"] if r["event"] == "gate"]


def outcome(run):
    events = [r["event"] for r in run["records"]]
    if "promoted" in events:
        return "promoted"
    gates = gate_records(run)
    rolled = [r for r in run["records"] if r["event"] == "rolled_back"]
    if gates and gates[-1]["gate"]["verdict"] != "pass":
        gate = gates[-1]["gate"]
        return "rolled back at %s%% (gate %s): %s" % (gates[-1]["details"]["stage"], gate["verdict"], gate["summary"])
    if rolled:
        return "rolled back: %s" % rolled[-1].get("message", "")
    if run["rc"] == 0:
        return "no change (rc 0, no ledger records)"
    return "failed before any gate (rc %d):\n%s" % (run["rc"], tail(run["output"]))


def condition_text(condition):
    if "bad" in condition:
        text = "%s %s/%s bad" % (condition["name"], condition["bad"], condition["total"])
        breaches = condition.get("states", []).count("breach")
        if breaches:
            text += ", %d breaching sample(s)" % breaches
    elif "probes" in condition:
        text = "%s %s/%s probes up" % (condition["name"], condition["up"], condition["probes"])
    else:
        text = condition["name"]
    return "%s: %s" % (text, condition["verdict"])


def stage_lines(run):
    lines = []
    for record in gate_records(run):
        gate = record["gate"]
        samples = max((len(c["samples"]) for c in gate["conditions"]), default=0)
        lines.append("  stage %3s%%: %-12s %2d samples; %s" % (
            record["details"]["stage"], gate["verdict"], samples,
            "; ".join(condition_text(c) for c in gate["conditions"])))
    return lines


def first_breach(run):
    """``(timestamp, what)`` of the first breaching sample of the failing gate's failed
    conditions, or of the sample where the stage test decided; None without one."""
    failing = [r for r in gate_records(run) if r["gate"]["verdict"] == "fail"]
    if not failing:
        return None
    conditions = [c for c in failing[-1]["gate"]["conditions"] if c["verdict"] == "fail"]
    breaches = []
    for condition in conditions:
        for index, state in enumerate(condition.get("states", [])):
            if state == "breach":
                breaches.append((condition["samples"][index][0], "%s sample %d of %d (first breach)" % (
                    condition["name"], index + 1, len(condition["samples"]))))
                break
    if breaches:
        return min(breaches)
    decided = [(c["samples"][-1][0], "%s sample %d of %d (stage test decided, no breaching sample)" % (
        c["name"], len(c["samples"]), len(c["samples"]))) for c in conditions if c["samples"]]
    return min(decided) if decided else None


def decided_at(run):
    failing = [r for r in gate_records(run) if r["gate"]["verdict"] == "fail"]
    if not failing:
        return None
    stamps = [c["samples"][-1][0] for c in failing[-1]["gate"]["conditions"] if c["samples"]]
    return max(stamps) if stamps else None


def expected(rate, deploys, runs, seed):
    """Simulated per-stage and per-deploy outcome of 0.3 % errors at the canary's rate."""
    plan = rollout.plan_rollout(list(APP_HOSTS), list(STAGES))
    promoted, lines = 1.0, []
    for index, stage in enumerate(plan):
        canary = rate * stage["share"] / 100.0
        shares = simulation.outcome_rates(
            runs, seed + index, rate=canary, ratio=0.003, window=FALSE_ROLLBACK_GATE["deploy_analysis_window"],
            interval=FALSE_ROLLBACK_GATE["deploy_analysis_interval"], **SIM_STAGE)
        promoted *= shares["pass"]
        lines.append("  stage %3d%% at %5.2f requests/s to the canary: pass %.2f%%, fail %.2f%%, inconclusive "
                     "%.2f%% (median %s requests, %s s to a decision)" % (
                         stage["target"], canary, 100 * shares["pass"], 100 * shares["fail"],
                         100 * shares["inconclusive"], shares["median_requests"], shares["median_seconds"]))
    lines.append("  a deploy rolled back (any stage not passing): %.2f%%; expected promoted %.2f of %d" % (
        100 * (1 - promoted), promoted * deploys, deploys))
    return lines


# ------------------------------------------------------------------ the parts


def false_rollbacks(lab, client, args):
    print("\n== 1. false rollbacks: 3.1.0 (0.3 %% errors, threshold 1 %%) x %d, window %d s, interval %d s, "
          "other gate options default ==" % (args.deploys, FALSE_ROLLBACK_GATE["deploy_analysis_window"],
                                              FALSE_ROLLBACK_GATE["deploy_analysis_interval"]))
    promoted = 0
    for n in range(1, args.deploys + 1):
        seconds_back, served = lab.back_to_good()
        if seconds_back:
            print("(rollback.yml back to %s: %.1f s)" % (served, seconds_back))
        run = lab.deploy("3.1.0", FALSE_ROLLBACK_GATE)
        result = outcome(run)
        promoted += result == "promoted"
        print("deploy %d/%d of 3.1.0 from %s: %s" % (n, args.deploys, served, result))
        print("  wall time %.1f s (%s - %s UTC)" % (run["seconds"], clock(run["start"]), clock(run["end"])))
        for line in stage_lines(run):
            print(line)
        if not run["agree"]:
            print("  ledgers disagree: %s" % run["events"])
        print("  " + client_line(client.between(run["start"], run["end"]), run["seconds"]))
    print("promoted %d of %d" % (promoted, args.deploys))
    print("expected (gate_simulation.outcome_rates, %d seeded runs per stage, 0.3 %% errors, --rate %g through "
          "the LB; error_ratio condition only):" % (args.sim_runs, args.rate))
    for line in expected(args.rate, args.deploys, args.sim_runs, args.seed):
        print(line)
    return promoted


def reaction(lab, client, version, gate, label):
    seconds_back, served = lab.back_to_good()
    if seconds_back:
        print("(rollback.yml back to %s: %.1f s)" % (served, seconds_back))
    interval = gate["deploy_analysis_interval"]
    print("\n%s %s from %s (provider %s, window %d s, interval %d s):" % (
        label, version, served, gate.get("deploy_gate_provider", "haproxy"), gate["deploy_analysis_window"], interval))
    run = lab.deploy(version, gate)
    time.sleep(3)  # replies still in flight when the play ended
    print("  outcome: %s" % outcome(run))
    print("  wall time %.1f s" % run["seconds"])
    for line in stage_lines(run):
        print(line)
    entries = client.between(run["start"], time.time())
    print("  " + client_line(entries, time.time() - run["start"]))
    breach = first_breach(run)
    bad = [entry[0] for entry in entries if entry[2] == version]
    last_bad = max(bad) if bad else None
    decided = decided_at(run)
    print("  first breaching sample: %s (%s)" % (clock(breach[0]) if breach else "-", breach[1] if breach else
                                                  "no failing gate record"))
    print("  gate decided (last sample): %s; last reply from %s: %s (%d replies from it)" % (
        clock(decided), version, clock(last_bad), len(bad)))
    target = interval + TARGET_SLACK
    if breach and last_bad:
        delta = last_bad - breach[0]
        print("  first breach -> last bad reply: %.1f s (decided -> last bad reply %.1f s); target one analysis "
              "interval + %g s = %g s: %s" % (delta, last_bad - decided, TARGET_SLACK, target,
                                             "met" if delta <= target else "NOT met"))
    else:
        print("  first breach -> last bad reply: not measurable; target %g s: NOT met" % target)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=25, help="client requests per second through HAProxy")
    parser.add_argument("--deploys", type=int, default=3, help="deploys of 3.1.0")
    parser.add_argument("--threads", type=int, default=16, help="client threads sharing the schedule")
    parser.add_argument("--sim-runs", type=int, default=20000, help="simulated stages per stage for 'expected'")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    started = time.monotonic()
    logdir = tempfile.mkdtemp(prefix="gate_lab-")
    print("gate_lab: %s UTC; client %g requests/s through %s, %d threads; play output in %s" % (
        clock(time.time()), args.rate, URL, args.threads, logdir))
    lab = Lab(logdir)
    serving = serving_version()
    print("serving at the start: %s" % serving)
    client = Client(args.rate, args.threads)
    client.start()
    try:
        false_rollbacks(lab, client, args)
        print("\n== 2. reaction time: first breaching sample -> last reply from the bad release ==")
        reaction(lab, client, "3.0.0", ERROR_GATE, "errors (5 %):")
        reaction(lab, client, "4.1.0", LATENCY_GATE, "latency (+250 ms):")
    finally:
        try:
            seconds_back, served = lab.back_to_good()
            if seconds_back:
                print("(rollback.yml back to %s: %.1f s)" % (served, seconds_back))
        finally:
            client.stop()
    print("\nserving at the end: %s; client: %d requests, %d sent more than 1 s late; wall time %.1f s" % (
        serving_version(), len(client.log), client.late, time.monotonic() - started))


if __name__ == "__main__":
    main()
