#!/usr/bin/env python3
"""Rollout overhead and rollback time on the lab, against a hand-written serial update.

    .venv/bin/python bench/deploy_rollout.py [--window 3] [--from 1.0.0] [--to 2.0.0]

Recreates the lab (lab.sh down; lab.sh up), so blue is the live slot. In one run,
under steady traffic through HAProxy:

1. site.yml converges the fresh lab to --from (not timed);
2. peer: bench/serial_update.yml updates each host in place to --to, one host at a time
   (drain, install, restart, ready) - no canary, no analysis;
3. serial_update.yml back to --from (not timed);
4. ours: deploy.yml rolls --to out through 10/50/100% with an analysis window of
   --window seconds per stage (the policy's waiting time is reported apart: overhead
   is our wall time minus 3 windows, compared with the peer's wall time);
5. ours: rollback.yml back to --from (its fast path: the old slot's release is kept).

Prints wall times, failed client requests for each, and the ratios. Not a test.
"""

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, ".venv", "bin")
LB = "http://10.89.77.10/"


class Traffic(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.ok, self.failed, self.stop = 0, 0, threading.Event()

    def run(self):
        while not self.stop.is_set():
            try:
                with urllib.request.urlopen(LB, timeout=5) as reply:
                    reply.read()
                self.ok += 1
            except (OSError, urllib.error.HTTPError):
                self.failed += 1
            time.sleep(0.005)


def playbook(name, extravars, timed=True):
    command = [os.path.join(BIN, "ansible-playbook"), os.path.join(REPO, name), "-e", json.dumps(extravars)]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), PATH=BIN + os.pathsep + os.environ["PATH"])
    traffic = Traffic()
    traffic.start()
    start = time.monotonic()
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    traffic.stop.set()
    traffic.join()
    if proc.returncode != 0:
        sys.exit("bench: %s failed:\n%s" % (name, proc.stdout[-3000:]))
    return seconds, traffic


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=int, default=3)
    parser.add_argument("--from", dest="old", default="1.0.0")
    parser.add_argument("--to", dest="new", default="2.0.0")
    args = parser.parse_args()
    gate = {
        "deploy_analysis_window": args.window,
        "deploy_analysis_interval": 1,
        "deploy_gate_conditions": [{"type": "error_ratio", "threshold": 0.01, "sustained_for": 1, "min_requests": 0},
                                   {"type": "health"}],
        # This measures orchestration, not judgement: a 1 s interval may see no canary request.
        "deploy_on_inconclusive": "pass",
    }
    print("lab: lb1 + app1..3; traffic: 1 client through HAProxy, 5 ms between requests")
    for action in ("down", "up"):
        subprocess.run(["bash", os.path.join(REPO, "lab", "lab.sh"), action], check=True, capture_output=True)
    playbook("playbooks/site.yml", {"service_version": args.old})
    peer, peer_traffic = playbook("bench/serial_update.yml", {"bench_version": args.new, "bench_slot": "blue"})
    # Back to --from in place (blue), as the peer left it.
    playbook("bench/serial_update.yml", {"bench_version": args.old, "bench_slot": "blue"})
    ours, ours_traffic = playbook("playbooks/deploy.yml", dict(gate, deploy_version=args.new))
    back, back_traffic = playbook("playbooks/rollback.yml", {})
    analysis = 3 * args.window
    rows = [
        ("peer: serial in-place update (bench/serial_update.yml)", peer, peer_traffic),
        ("ours: deploy.yml 10/50/100%%, %d s analysis per stage" % args.window, ours, ours_traffic),
        ("ours: rollback.yml (fast path)", back, back_traffic),
    ]
    for label, seconds, traffic in rows:
        print("%-58s %7.1f s  requests ok %6d  failed %d" % (label, seconds, traffic.ok, traffic.failed))
    overhead = ours - analysis
    print("deploy.yml without its %d s of analysis: %.1f s -> %.2fx the peer's wall time" % (
        analysis, overhead, overhead / peer))
    print("rollback.yml: %.2fx the peer's time to update the fleet (%.1f s vs %.1f s)" % (back / peer, back, peer))


if __name__ == "__main__":
    main()
