# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit trail's record of one playbook run, as pure functions.

The callback plugin ``fleetops.lifecycle.audit`` feeds these with what Ansible tells it;
everything that decides what goes into a record lives here so it is unit-tested.

A module that takes a decision worth auditing (a gate verdict, backups deleted by
retention, a restore, a change-policy ruling) returns it under the result key
``fleetops_decision`` (DECISION_KEY): a dict with at least ``kind``. The record keeps
each one with the host and task that returned it.
"""

from __future__ import annotations

import datetime
import fcntl
import json
import os
import stat

from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import CLOEXEC, NOFOLLOW

DECISION_KEY = "fleetops_decision"
RECORD_VERSION = 1
CHANGE_TYPES = ("standard", "normal", "emergency")
# Bounds: a record stays one readable line even when a run returns many decisions.
MAX_DECISIONS = 200
MAX_DECISION_BYTES = 8192


def host_outcome(counts):
    """One word for a host's run from its AggregateStats counts (dark = unreachable,
    failures = failed): unreachable, failed, changed or ok."""
    if counts.get("dark"):
        return "unreachable"
    if counts.get("failures"):
        return "failed"
    if counts.get("changed"):
        return "changed"
    return "ok"


def host_outcomes(stats):
    """{host: {outcome, ok, changed, failed, unreachable, skipped, rescued, ignored}} from
    Ansible's per-kind {kind: {host: n}} stats (the shape AggregateStats keeps)."""
    hosts = {}
    for kind, per_host in stats.items():
        for host, count in (per_host or {}).items():
            hosts.setdefault(host, {})[kind] = int(count)
    outcomes = {}
    for host in sorted(hosts):
        counts = hosts[host]
        outcomes[host] = {
            "outcome": host_outcome(counts),
            "ok": counts.get("ok", 0),
            "changed": counts.get("changed", 0),
            "failed": counts.get("failures", 0),
            "unreachable": 1 if counts.get("dark") else 0,
            "skipped": counts.get("skipped", 0),
            "rescued": counts.get("rescued", 0),
            "ignored": counts.get("ignored", 0),
        }
    return outcomes


def run_status(outcomes, aborted=False):
    """successful, failed (a host failed or was unreachable) or aborted (no stats)."""
    if aborted:
        return "aborted"
    if any(o["outcome"] in ("failed", "unreachable") for o in outcomes.values()):
        return "failed"
    return "successful"


def decisions_from_result(result):
    """The decisions one task result carries: its DECISION_KEY value, and those of each
    loop item. Only dicts with a ``kind`` count; anything else is ignored."""
    found = []
    if not isinstance(result, dict):
        return found
    value = result.get(DECISION_KEY)
    if isinstance(value, dict) and value.get("kind"):
        found.append(value)
    for item in result.get("results") or []:
        if isinstance(item, dict):
            value = item.get(DECISION_KEY)
            if isinstance(value, dict) and value.get("kind"):
                found.append(value)
    return found


def bounded_decision(decision):
    """The decision as is when its JSON fits MAX_DECISION_BYTES, else its kind and a
    note, so one huge result cannot make a record unreadable."""
    text = json.dumps(decision, sort_keys=True, default=str)
    if len(text) <= MAX_DECISION_BYTES:
        return json.loads(text)
    return {"kind": decision.get("kind"), "truncated": True, "bytes": len(text)}


def change_from(extra_vars, decisions):
    """The run's change: the change-policy ruling when the run made one, else what the
    extra vars say (change_id, change_type)."""
    for decision in decisions:
        if decision.get("kind") == "change_policy":
            return {
                "id": decision.get("change_id") or None,
                "type": decision.get("change_type"),
                "emergency": decision.get("change_type") == "emergency",
                "window_override": bool(decision.get("window_override")),
                "in_window": decision.get("in_window"),
                "production": decision.get("production"),
                "allowed": decision.get("allowed"),
            }
    change_type = extra_vars.get("change_type")
    return {
        "id": (str(extra_vars.get("change_id")) if extra_vars.get("change_id") else None),
        "type": str(change_type) if change_type is not None else None,
        "emergency": change_type == "emergency",
        "window_override": _true(extra_vars.get("change_window_override")),
        "in_window": None,
        "production": None,
        "allowed": None,
    }


def _true(value):
    """Ansible's true values only: a survey's "maybe" (refused by the run) is not an override."""
    return value is True or str(value).strip().lower() in ("1", "true", "yes", "on", "y", "t")


def who(environ, extra_vars, login):
    """Who ran it: AWX's launching user when the job came from AWX/automation controller,
    else the controller's login (and SUDO_USER when run through sudo)."""
    for key in ("awx_user_name", "tower_user_name"):
        if extra_vars.get(key):
            return {"user": str(extra_vars[key]), "via": "awx", "job_id": extra_vars.get("awx_job_id")}
    user = environ.get("SUDO_USER") or login
    return {"user": user, "via": "sudo" if environ.get("SUDO_USER") else "cli", "job_id": None}


def build_record(run):
    """The JSON-able record of one run. ``run`` holds: run_id, user (who()), started,
    ended (epoch seconds), playbook, limit, check, extra_vars, stats (per-kind), decisions
    ([{host, task, decision}]), aborted."""
    outcomes = host_outcomes(run.get("stats") or {})
    decisions = run.get("decisions") or []
    kept = [dict(d, decision=bounded_decision(d["decision"])) for d in decisions[:MAX_DECISIONS]]
    started, ended = run["started"], run["ended"]
    return {
        "version": RECORD_VERSION,
        "run_id": run["run_id"],
        "who": run["user"],
        "started": iso_utc(started),
        "ended": iso_utc(ended),
        "duration_seconds": round(max(0.0, ended - started), 3),
        "playbook": run.get("playbook"),
        "limit": run.get("limit"),
        "check_mode": bool(run.get("check")),
        "change": change_from(run.get("extra_vars") or {}, [d["decision"] for d in decisions]),
        "status": run_status(outcomes, run.get("aborted", False)),
        "hosts": sorted(outcomes),
        "hosts_changed": sorted(h for h, o in outcomes.items() if o["changed"]),
        "outcomes": outcomes,
        "decisions": kept,
        "decisions_dropped": max(0, len(decisions) - MAX_DECISIONS),
    }


def iso_utc(epoch):
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def append_record(path, record):
    """Append the record as one line: the directory made 0700, the file opened without
    following a symlink, 0600, locked while the line is written in one write()."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, mode=0o700, exist_ok=True)
    line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | NOFOLLOW | CLOEXEC, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError("audit file %s is not a regular file" % path)
        fcntl.flock(fd, fcntl.LOCK_EX)
        written = 0
        while written < len(line):
            written += os.write(fd, line[written:])
    finally:
        os.close(fd)


def read_records(path):
    """Every record of an audit file (a test and report helper); a bad line raises
    ValueError naming its line number."""
    records = []
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            try:
                records.append(json.loads(line))
            except ValueError as exc:
                raise ValueError("%s line %d is not JSON: %s" % (path, number, exc)) from exc
    return records
