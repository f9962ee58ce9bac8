#!/usr/bin/env python3
"""Health check of the whole lab, with and without forks and pipelining; shutdown and
startup phase times. One run, printed side by side.

    .venv/bin/python bench/fleet_ops.py [--spares N] [--no-restart]

Needs the lab up and converged (`make demo`). --spares N starts spare1..spareN (up to
9) and probes them too (disk, sshd, the ssh port), so the fleet is 4 + N hosts; the
lab has no room for more than 13. The peer of health_check.yml's default settings
(forks 20 - more than the lab's 13 hosts, so the same as ansible.cfg's 50 - and
pipelining on) is the same playbook with forks 1 and pipelining off: what running the
probes host by host costs. Then, unless --no-restart, shutdown.yml and startup.yml run
once each (an outage of the lab) and their phase times are printed. Not a test.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, ".venv", "bin")
SPARE_PROBES = [
    {"name": "sshd", "type": "systemd", "unit": "ssh"},
    {"name": "ssh_port", "type": "tcp", "host": "127.0.0.1", "port": 22},
]


def run(playbook, extravars, inventories, forks=20, pipelining=True):
    command = [os.path.join(BIN, "ansible-playbook"), os.path.join(REPO, "playbooks", playbook),
               "-e", json.dumps(extravars), "--forks", str(forks)]
    for inventory in inventories:
        command += ["-i", inventory]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), ANSIBLE_STDOUT_CALLBACK="json",
               ANSIBLE_PIPELINING=str(pipelining), PATH=BIN + os.pathsep + os.environ["PATH"])
    start = time.monotonic()
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    if proc.returncode != 0:
        sys.exit("bench: %s failed (rc %d):\n%s" % (playbook, proc.returncode, proc.stdout[-3000:]))
    return seconds, json.loads(proc.stdout)


def phase_times(report):
    for play in report["plays"]:
        for task in play["tasks"]:
            if task["task"]["name"].endswith("Report the time of each phase"):
                for result in task["hosts"].values():
                    if "msg" in result:
                        return result["msg"]
    return []


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spares", type=int, default=0, choices=range(10))
    parser.add_argument("--no-restart", action="store_true")
    args = parser.parse_args()
    inventories = [os.path.join(REPO, "inventories", "lab", "hosts.yml")]
    spares = ["spare%d" % n for n in range(1, args.spares + 1)]
    if spares:
        subprocess.run(["bash", os.path.join(REPO, "lab", "lab.sh"), "up", "--hosts", " ".join(spares)], check=True,
                       capture_output=True)
        extra = tempfile.NamedTemporaryFile("w", suffix=".yml", delete=False)
        extra.write("all:\n  children:\n    spare:\n      hosts:\n")
        for n, name in enumerate(spares, 1):
            # group_vars paths are relative to inventory_dir, which is not the lab's here
            extra.write("        %s: {ansible_host: 10.89.77.2%d, ansible_ssh_private_key_file: %s}\n"
                        % (name, n, os.path.join(REPO, "lab", ".state", "id_ed25519")))
        extra.close()
        inventories.append(extra.name)
    hosts = 4 + len(spares)
    probes = {"fleet_report_dir": "", "fleet_extra_probes": SPARE_PROBES}
    print("health_check.yml over %d hosts (lb1, app1..3%s)" % (hosts, ", spare1..%d" % len(spares) if spares else ""))
    rows = [("forks 1, pipelining off (peer)", 1, False), ("forks 20, pipelining off", 20, False),
            ("forks 20, pipelining on (ansible.cfg)", 20, True)]
    times = {}
    for label, forks, pipelining in rows:
        times[label], _ = run("health_check.yml", probes, inventories, forks, pipelining)
        print("  %-40s %6.1f s  %5.2f s per host" % (label, times[label], times[label] / hosts))
    peer, forks_only, ours = (times[label] for label, _, _ in rows)
    print("  speed-up from forks: %.2fx; from pipelining on top: %.2fx; together: %.2fx"
          % (peer / forks_only, forks_only / ours, peer / ours))
    if spares:
        subprocess.run(["bash", os.path.join(REPO, "lab", "lab.sh"), "down", "--hosts", " ".join(spares)],
                       check=False, capture_output=True)
    if args.no_restart:
        return
    inventories = inventories[:1]
    for playbook in ("shutdown.yml", "startup.yml"):
        seconds, report = run(playbook, {}, inventories)
        print("%s: %.1f s wall" % (playbook, seconds))
        for phase in phase_times(report):
            print("  %-44s %6.1f s" % (phase["phase"], phase["seconds"]))


if __name__ == "__main__":
    main()
