"""What the deploy tests share: a fast gate for the lab, and readings of the ledger, the
HAProxy pool and the slot links."""

import json

from conftest import APP_HOSTS, lab_host, run_playbook

SLOTS = ("blue", "green")

# Short analysis for tests: at least 3 samples of 3 s at each stage, at most 90 s while
# the evidence cannot decide; a looser sequential test than the default (10 % error
# rates: 145 clean requests pass a stage, ~10 s at 10 % under one client; the default's
# 303 are exercised by test_gate.py); a breach must last 2 samples.
FAST_GATE = {
    "deploy_analysis_window": 9,
    "deploy_analysis_interval": 3,
    "deploy_analysis_max_window": 90,
    "deploy_gate_false_rollback_rate": 0.1,
    "deploy_gate_false_promotion_rate": 0.1,
    "deploy_gate_conditions": [
        {"type": "error_ratio", "threshold": 0.01, "sustained_for": 2, "min_requests": 20},
        {"type": "health"},
    ],
}


def deploy(version, tmp_path, **extra):
    return run_playbook("deploy.yml", {"deploy_version": version, **FAST_GATE, **extra}, tmp_path=tmp_path)


def ledger(host):
    out = lab_host(host).run("cat /var/lib/fleetops/demo/ledger.jsonl")
    assert out.rc == 0, out.stderr
    return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]


def servers_serving():
    stat = lab_host("lb1").run("echo 'show stat' | socat stdio unix-connect:/run/haproxy/admin.sock")
    header = stat.stdout.splitlines()[0].lstrip("# ").split(",")
    serving = set()
    for line in stat.stdout.splitlines()[1:]:
        row = dict(zip(header, line.split(",")))
        if row.get("pxname") == "demo" and row["svname"] not in ("FRONTEND", "BACKEND"):
            if row["status"] == "UP" and int(row["weight"] or 0) > 0:
                serving.add(row["svname"])
    return serving


def app_fingerprint():
    return {
        name: lab_host(name).run("readlink /opt/demo/current-green; systemctl is-active demo@green").stdout
        for name in APP_HOSTS
    }


def slot_links():
    return {
        name: {slot: lab_host(name).run("readlink -e /opt/demo/current-%s" % slot).stdout.strip() for slot in SLOTS}
        for name in APP_HOSTS
    }


def half_on_the_new_slot():
    """True once HAProxy gives the 2.0.0 slot of every host about half the weight."""
    weights = server_weights()
    new = new_slot_by_host()
    return bool(new) and all(60 <= weights.get("%s-%s" % (name, slot), 0) <= 200 for name, slot in new.items())


def new_slot_by_host():
    slots = {}
    for name, links in slot_links().items():
        for slot, target in links.items():
            if target.endswith("/2.0.0"):
                slots[name] = slot
    return slots


def server_weights():
    stat = lab_host("lb1").run("echo 'show stat' | socat stdio unix-connect:/run/haproxy/admin.sock")
    header = stat.stdout.splitlines()[0].lstrip("# ").split(",")
    weights = {}
    for line in stat.stdout.splitlines()[1:]:
        row = dict(zip(header, line.split(",")))
        if row.get("pxname") == "demo" and row["svname"] not in ("FRONTEND", "BACKEND") and row["status"] == "UP":
            weights[row["svname"]] = int(row["weight"] or 0)
    return weights
