#!/usr/bin/env python3
"""A 50-host fleet against a 4-host one: memory per host, then the wall time of the
runbooks, the cost per added host, and which controller settings help on this machine.

    .venv/bin/python bench/fleet_scale.py [--lab fleet50] [--small-lab fleet4]
                                          [--only runbooks|settings]

Needs two named labs up and converged to 1.0.0, e.g.

    bash lab/lab.sh --lab fleet50 up --app-hosts 50
    bash lab/lab.sh --lab fleet4 up
    .venv/bin/ansible-playbook -i lab/.state/labs/NAME/hosts.yml playbooks/site.yml -e service_version=1.0.0

On each lab, in one run: the memory each host's container uses (podman stats); then
health_check.yml; deploy.yml 1.0.0 -> 2.0.0 through the three canary stages 10/50/100 %
with deploy_analysis_window=0 (no gate: the stages move traffic unanalysed, so what is
timed is the orchestration - lock, pre-upgrade backup, install, weights, ledger,
promotion); rollback.yml back to 1.0.0; backup.yml of every app host. health_check.yml,
deploy.yml and rollback.yml run twice: with the collection's ansible.cfg (ours; the deploy
and the rollback under mitogen_linear, as docs/scale.md advises on tens of hosts) and with
Ansible's defaults (the peer: forks 5, no pipelining, ssh ControlPersist 60s). Every run
starts with no ssh connection open (its own ControlPath directory), so no run inherits
another's connections. The labs end where they started (1.0.0 serving).

Then (--only settings: only this) on the big lab: health_check.yml under each controller
setting (forks, pipelining, ControlPersist, the free strategy, mitogen's linear strategy at
forks 50, 20 and 10, with and without the fleetops.lifecycle.preload callback),
backup.yml at forks 50 under linear and free, and
what fact gathering costs (the
most fact caching can save a run). The machine's load is printed beside the figures:
other work shares its 2 cores, so compare figures of one run (ratios). Not a test.
"""

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, ".venv", "bin")
LAB_SH = os.path.join(REPO, "lab", "lab.sh")
# Ansible's own default ssh_args, and ours (ansible.cfg) with the lab's host-key options.
DEFAULT_SSH_ARGS = "-C -o ControlMaster=auto -o ControlPersist=60s"
HOST_KEY_ARGS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
NO_PERSIST_ARGS = "-o ControlMaster=no " + HOST_KEY_ARGS
# The peer has the audit trail (part of the collection) but not the preload callback (a
# setting of ours, like forks and pipelining).
PEER = {"label": "peer: forks 5, pipelining off, linear (Ansible's defaults)", "forks": 5, "pipelining": False,
        "ssh_args": DEFAULT_SSH_ARGS + " " + HOST_KEY_ARGS, "strategy": "linear",
        "callbacks": "fleetops.lifecycle.audit"}
OURS = {"label": "ours: the collection's ansible.cfg"}
OLD, NEW = "1.0.0", "2.0.0"
try:
    import ansible_mitogen
    INSTALLED_MITOGEN = os.path.dirname(os.path.dirname(ansible_mitogen.__file__))
except ImportError:  # run by a python without the venv: --mitogen names it
    INSTALLED_MITOGEN = None


def load():
    with open("/proc/loadavg") as handle:
        return "load %s" % " ".join(handle.read().split()[:3])


def inventory(lab):
    path = subprocess.run(["bash", LAB_SH, "--lab", lab, "inventory"], check=True, capture_output=True,
                          text=True).stdout.strip().splitlines()[-1]
    if not os.path.isfile(path):
        sys.exit("bench: lab %s has no inventory at %s" % (lab, path))
    return path


def app_count(lab):
    with open(os.path.join(REPO, "lab", ".state", "labs", lab, "app_hosts")) as handle:
        return int(handle.read())


def playbook(name, inv, extravars=None, settings=OURS, check=True):
    """Wall time of one ansible-playbook run under settings (ansible.cfg, overridden)."""
    command = [os.path.join(BIN, "ansible-playbook"), "-i", inv, os.path.join(REPO, name)]
    if extravars:
        command += ["-e", json.dumps(extravars)]
    control_dir = tempfile.mkdtemp(prefix="fleet-scale-cp.")
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg"), PATH=BIN + os.pathsep + os.environ["PATH"],
               ANSIBLE_SSH_CONTROL_PATH_DIR=control_dir)
    for key, var in (("forks", "ANSIBLE_FORKS"), ("pipelining", "ANSIBLE_PIPELINING"),
                     ("ssh_args", "ANSIBLE_SSH_ARGS"), ("strategy", "ANSIBLE_STRATEGY"),
                     ("strategy_plugins", "ANSIBLE_STRATEGY_PLUGINS"), ("callbacks", "ANSIBLE_CALLBACKS_ENABLED")):
        if key in settings:
            env[var] = str(settings[key])
    start = time.monotonic()
    proc = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, check=False)
    seconds = time.monotonic() - start
    # The ssh masters of this run end with their directory's sockets.
    subprocess.run(["bash", "-c", 'for s in "$1"/*; do [ -S "$s" ] && ssh -o ControlPath="$s" -O exit x; done',
                    "-", control_dir], capture_output=True, check=False)
    shutil.rmtree(control_dir, ignore_errors=True)
    if check and proc.returncode != 0:
        sys.exit("bench: %s (%s) failed, rc %d:\n%s" % (name, settings["label"], proc.returncode, proc.stdout[-4000:]))
    return seconds, proc


def memory(lab):
    """MiB used by each host container of the lab (podman stats, one reading)."""
    names = subprocess.run(["podman", "ps", "--filter", "label=fleetops.labname=%s" % lab, "--format", "{{.Names}}"],
                           check=True, capture_output=True, text=True).stdout.split()
    out = subprocess.run(["podman", "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsageBytes}}"] + names,
                         check=True, capture_output=True, text=True).stdout
    units = {"B": 1 / 2**20, "kB": 1 / 1024, "KiB": 1 / 1024, "MiB": 1, "MB": 1e6 / 2**20, "GiB": 1024,
             "GB": 1e9 / 2**20}
    used = {}
    for line in out.splitlines():
        name, value = line.split(" ", 1)
        match = re.match(r"([\d.]+)\s*([A-Za-z]+)", value)
        used[name[len("fleetops-%s-" % lab):]] = float(match.group(1)) * units[match.group(2)]
    return used


def print_memory(lab, used):
    apps = [mib for host, mib in used.items() if host.startswith("app")]
    print("memory, lab %s: %d app hosts, mean %.1f MiB (min %.1f, max %.1f), lb1 %.1f MiB; all %d hosts %.0f MiB"
          % (lab, len(apps), statistics.mean(apps), min(apps), max(apps), used.get("lb1", float("nan")), len(used),
             sum(used.values())))
    return statistics.mean(apps)


def long_runbooks(mitogen):
    """Our documented setting for deploy.yml and rollback.yml on tens of hosts (docs/scale.md)."""
    if not mitogen:
        sys.exit("bench: --mitogen: ansible_mitogen is not importable here; run with .venv/bin/python "
                 "or name its directory")
    return {"label": "ours, deploy/rollback: mitogen_linear (docs/scale.md)", "strategy": "mitogen_linear",
            "strategy_plugins": os.path.join(mitogen, "ansible_mitogen", "plugins", "strategy")}


def runbooks(lab, mitogen):
    """The runbooks' wall times on one lab, ours and the peer's. Ours: the collection's
    ansible.cfg, with mitogen_linear for the deploy and the rollback as docs/scale.md
    advises on tens of hosts."""
    inv = inventory(lab)
    deploy = {"deploy_version": NEW, "deploy_analysis_window": 0}
    back = {"rollback_release": OLD}
    times = {}
    print("lab %s (%s):" % (lab, load()))
    for settings in (OURS, PEER):
        who = "ours" if settings is OURS else "peer"
        long_settings = long_runbooks(mitogen) if settings is OURS else settings
        times["health", who], _ = playbook("playbooks/health_check.yml", inv, {"fleet_report_dir": ""}, settings)
        times["deploy", who], _ = playbook("playbooks/deploy.yml", inv, deploy, long_settings)
        times["rollback", who], _ = playbook("playbooks/rollback.yml", inv, back, long_settings)
        print("  %-52s health %6.1f s  deploy %6.1f s  rollback %6.1f s  (%s)" % (
            settings["label"] if settings is not OURS else settings["label"] + "; " + long_settings["label"],
            times["health", who], times["deploy", who], times["rollback", who], load()))
    times["backup", "ours"], _ = playbook("playbooks/backup.yml", inv, None, OURS)
    print("  %-52s backup %6.1f s  (%s)" % (OURS["label"], times["backup", "ours"], load()))
    return times


def settings_study(lab, mitogen):
    inv = inventory(lab)
    pipe = {"pipelining": True, "ssh_args": "-o ControlMaster=auto -o ControlPersist=120s " + HOST_KEY_ARGS,
            "strategy": "linear"}
    rows = [
        dict(PEER),
        dict(pipe, label="forks 5, pipelining on", forks=5),
        dict(pipe, label="forks 20, pipelining on", forks=20),
        dict(pipe, label="forks 50, pipelining on", forks=50, backup=True),
        dict(pipe, label="forks 50, pipelining on, no preload callback", forks=50,
             callbacks="fleetops.lifecycle.audit"),
        dict(pipe, label="forks 50, pipelining on, no ControlPersist", forks=50, ssh_args=NO_PERSIST_ARGS),
        dict(pipe, label="forks 50, pipelining on, strategy free", forks=50, strategy="free", backup=True),
    ]
    strategies = long_runbooks(mitogen)["strategy_plugins"]
    for forks in (50, 20, 10):
        rows.append(dict(pipe, label="forks %d, mitogen_linear" % forks, forks=forks, strategy="mitogen_linear",
                         strategy_plugins=strategies, backup=forks == 20))
    rows.append(dict(pipe, label="forks 20, mitogen_linear, no preload callback", forks=20, strategy="mitogen_linear",
                     strategy_plugins=strategies, callbacks="fleetops.lifecycle.audit"))
    print("controller settings, lab %s (%d app hosts), each run with no ssh connection open:" % (lab, app_count(lab)))
    for row in rows:
        health, proc = playbook("playbooks/health_check.yml", inv, {"fleet_report_dir": ""}, row, check=False)
        if proc.returncode != 0:
            print("  %-48s failed (rc %d): %s" % (row["label"], proc.returncode,
                                                  (proc.stdout + proc.stderr).strip().splitlines()[-1][:200]))
            continue
        backup = "%6.1f s" % playbook("playbooks/backup.yml", inv, None, row)[0] if row.get("backup") else "-"
        print("  %-48s health_check %6.1f s  backup %8s  (%s)" % (row["label"], health, backup, load()))
    # Only site.yml gathers facts; a fact cache (jsonfile) would skip this on a re-run.
    start = time.monotonic()
    subprocess.run([os.path.join(BIN, "ansible"), "-i", inv, "all", "-m", "ansible.builtin.setup", "-a",
                    "gather_subset=min", "--forks", "50"], cwd=REPO, capture_output=True, check=True,
                   env=dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO, "ansible.cfg")))
    print("  fact gathering (site.yml's first play: setup, subset min, forks 50): %.1f s for %d hosts - the most a "
          "fact cache saves a run (%s)" % (time.monotonic() - start, app_count(lab) + 1, load()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="fleet50")
    parser.add_argument("--small-lab", default="fleet4")
    parser.add_argument("--only", choices=("runbooks", "settings"), help="one half of the run")
    parser.add_argument("--mitogen", default=INSTALLED_MITOGEN,
                        help="directory holding ansible_mitogen/ (default: the one requirements.txt installs)")
    args = parser.parse_args()
    if args.only == "settings":
        settings_study(args.lab, args.mitogen)
        return
    big, small = app_count(args.lab), app_count(args.small_lab)
    mem_small = print_memory(args.small_lab, memory(args.small_lab))
    mem_big = print_memory(args.lab, memory(args.lab))
    print("memory per added app host: %.1f MiB" % mem_big)
    t_small = runbooks(args.small_lab, args.mitogen)
    t_big = runbooks(args.lab, args.mitogen)
    added = big - small
    print()
    print("%-44s %12s %12s %14s %14s %10s" % ("wall time (s)", "%d app hosts" % small, "%d app hosts" % big,
                                                "per added host", "peer, %d app" % big, "peer/ours"))
    labels = {"health": "health_check.yml", "deploy": "deploy.yml, 3 stages, no analysis window",
              "rollback": "rollback.yml", "backup": "backup.yml, every app host"}
    for step, label in labels.items():
        ours_small, ours_big = t_small[step, "ours"], t_big[step, "ours"]
        peer_big = t_big.get((step, "peer"))
        print("%-44s %12.1f %12.1f %14.2f %14s %10s" % (
            label, ours_small, ours_big, (ours_big - ours_small) / added,
            "%.1f" % peer_big if peer_big else "-", "%.2fx" % (peer_big / ours_big) if peer_big else "-"))
        if step in ("health", "deploy"):
            print("%-44s %12.1f %12.1f %14.2f" % ("  peer", t_small[step, "peer"], peer_big,
                                                    (peer_big - t_small[step, "peer"]) / added))
    print("must show: health_check.yml on %d app hosts %.1f s (<= 30 s: %s); deploy orchestration %.1f s "
          "(<= 180 s: %s)" % (big, t_big["health", "ours"], t_big["health", "ours"] <= 30, t_big["deploy", "ours"],
                              t_big["deploy", "ours"] <= 180))
    print("memory: %.1f MiB per app host on %d, %.1f on %d" % (mem_big, big, mem_small, small))
    if args.only is None:
        print()
        settings_study(args.lab, args.mitogen)


if __name__ == "__main__":
    main()
