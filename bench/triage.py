#!/usr/bin/env python3
"""incident_triage.yml over three app hosts holding 100 MB of service logs each: wall time and caps.

    flock -o /tmp/fleetops-lab.mutex .venv/bin/python bench/triage.py [--mb 100] [--hosts app1,app2,app3]

Needs the lab up and converged (`make demo`). Writes --mb MB of timestamped log lines
(one line in 50 with a secret to redact) into /var/log/fleetops-bench on each host, in
ten files, runs the playbook with that directory as an extra log path and the default
caps (2 MiB per file, 20 MiB per host), prints the wall time, the bundle's size and each
host's collected bytes against its cap, checks every file in the bundle against the
per-file cap, then removes the logs. The peer is what the caps save: the same hosts
reading and compressing all their logs (`cat | gzip -1` on each, in parallel through
ansible). Not a test.
"""

import argparse
import json
import os
import shlex
import subprocess
import sys
import tarfile
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, ".venv", "bin")
BENCH_DIR = "/var/log/fleetops-bench"
GENERATE = r"""
import os, time, random
d = %(dir)r
os.makedirs(d, exist_ok=True)
now = time.time()
per_file = %(mb)d * 1024 * 1024 // 10
for index in range(10):
    with open(os.path.join(d, "app-%%d.log" %% index), "w") as f:
        written, n = 0, 0
        start = now - 3000 + index * 300
        while written < per_file:
            t = start + 300.0 * written / per_file
            stamp = time.strftime("%%Y-%%m-%%dT%%H:%%M:%%S", time.gmtime(t)) + ".%%03dZ" %% int((t %% 1) * 1000)
            if n %% 50 == 0:
                line = "%%s WARN db reconnect user=app password=BenchSecret%%06d host=db1\n" %% (stamp, n)
            else:
                line = "%%s INFO GET /workflows/%%d 200 %%dms request_id=%%032x\n" %% (stamp, n, n %% 97, n)
            f.write(line)
            written += len(line)
            n += 1
"""


def env():
    return dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"),
                PATH=BIN + os.pathsep + os.environ["PATH"])


def adhoc(hosts, module, args):
    command = [os.path.join(BIN, "ansible"), hosts, "-m", module, "-a", args]
    proc = subprocess.run(command, cwd=REPO, env=env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.exit("bench: ansible %s -m %s failed:\n%s%s" % (hosts, module, proc.stdout[-2000:], proc.stderr[-2000:]))
    return proc.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--hosts", default="app1,app2,app3")
    args = parser.parse_args()
    hosts = args.hosts.split(",")
    pattern = ":".join(hosts)
    started = time.monotonic()
    adhoc(pattern, "ansible.builtin.shell", "python3 -c %s" % shlex.quote(GENERATE % {"dir": BENCH_DIR, "mb": args.mb}))
    sizes = adhoc(pattern, "ansible.builtin.shell", "du -sm %s | cut -f1" % BENCH_DIR)
    print("logs written in %.1f s; MB per host: %s" % (time.monotonic() - started, " ".join(
        line.strip() for line in sizes.splitlines() if line.strip().isdigit())))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            extravars = {"triage_since": "1h", "triage_output_dir": os.path.join(tmp, "out"),
                         "triage_map_dir": os.path.join(tmp, "map"), "triage_extra_log_paths": [BENCH_DIR]}
            command = [os.path.join(BIN, "ansible-playbook"), os.path.join(REPO, "playbooks", "incident_triage.yml"),
                       "--limit", pattern, "-e", json.dumps(extravars)]
            start = time.monotonic()
            proc = subprocess.run(command, cwd=REPO, env=env(), capture_output=True, text=True, check=False)
            seconds = time.monotonic() - start
            if proc.returncode != 0:
                sys.exit("bench: incident_triage.yml failed:\n%s" % proc.stdout[-3000:])
            [bundle] = [os.path.join(tmp, "out", n) for n in os.listdir(os.path.join(tmp, "out"))]
            with tarfile.open(bundle) as tar:
                manifest_member = next(m for m in tar if m.name.endswith("/manifest.json"))
                manifest = json.load(tar.extractfile(manifest_member))
            reports = manifest["host_reports"]
            file_cap = max(r["caps"]["max_file_bytes"] for r in reports.values())
            over = [f["path"] for f in manifest["files"] if f["path"].startswith("hosts/") and f["bytes"] > file_cap
                    and not f["path"].endswith(("collection.json", "timeline.jsonl"))]
            print("incident_triage.yml, %d hosts x %d MB of logs: %.1f s (target < 60 s)" % (len(hosts), args.mb,
                                                                                              seconds))
            print("bundle %s: %.1f MB compressed" % (os.path.basename(bundle), os.path.getsize(bundle) / 1e6))
            for host, report in sorted(reports.items()):
                print("  %s: collected %.1f MB of max_host_bytes %.1f MB in %.1f s on the host; redactions %s" % (
                    host, report["bytes"] / 1e6, report["caps"]["max_host_bytes"] / 1e6, report["seconds"],
                    report["redactions"]))
                if report["bytes"] > report["caps"]["max_host_bytes"]:
                    sys.exit("bench: %s collected more than its cap" % host)
            if over:
                sys.exit("bench: files over max_file_bytes: %s" % over)
            print("caps respected: every host <= max_host_bytes, every collected file <= max_file_bytes (%d)"
                  % file_cap)
            start = time.monotonic()
            adhoc(pattern, "ansible.builtin.shell", "cat %s/*.log | gzip -1 | wc -c" % BENCH_DIR)
            peer = time.monotonic() - start
            print("peer: every host reads and gzips all its logs (cat | gzip -1, in parallel): %.1f s; "
                  "triage / peer = %.2f" % (peer, seconds / peer))
    finally:
        adhoc(pattern, "ansible.builtin.file", "path=%s state=absent" % BENCH_DIR)


if __name__ == "__main__":
    main()
