# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What each slot of a service holds on one host: its release (the ``current-<slot>``
link), its unit's state, its HAProxy server state, and the ledger's good releases.

:func:`slot_report` is pure; :func:`read_slots` does the reading through a
``run_command`` callable (the module's). No AnsibleModule inside. Runs on managed hosts:
Python 3.8, standard library only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError
from ansible_collections.fleetops.lifecycle.plugins.module_utils.ledger import (
    check_path,
    ledger_view,
    read_ledger,
    read_records,
)

SLOT_RE = re.compile(r"[a-z][a-z0-9_-]*\Z")
# What `systemctl is-active` may answer.
UNIT_STATES = ("active", "reloading", "inactive", "failed", "activating", "deactivating", "maintenance",
               "refreshing", "unknown")


def check_options(params):
    """Validate the module's options; raise ResultError naming the option and the value."""
    service_root, service_unit, slots = params["service_root"], params["service_unit"], params["slots"]
    haproxy_servers, host = params.get("haproxy_servers"), params.get("host")
    if not isinstance(service_root, str) or not os.path.isabs(service_root):
        raise ResultError("service_root: %r must be an absolute path" % (service_root,))
    if not isinstance(service_unit, str) or service_unit.count("{slot}") != 1 or "/" in service_unit:
        raise ResultError(
            "service_unit: %r must be a unit name with one {slot}, such as shop@{slot}.service" % (service_unit,))
    if not isinstance(slots, (list, tuple)) or not slots or len(set(slots)) != len(slots):
        raise ResultError("slots: %r must be a list of different slot names" % (slots,))
    for slot in slots:
        if not isinstance(slot, str) or not SLOT_RE.match(slot):
            raise ResultError("slots: %r is not a slot name (lower-case letters, digits, '-', '_')" % (slot,))
    check_path(params["ledger_path"], option="ledger_path")
    if haproxy_servers is not None:
        if not isinstance(haproxy_servers, Mapping):
            raise ResultError("haproxy_servers: expected a mapping of server name to weight and state, got %r"
                              % (haproxy_servers,))
        if not host:
            raise ResultError("host: give the host's name in its HAProxy servers (<host>-<slot>) with haproxy_servers")


def release_of(link_target):
    """The release a ``current-<slot>`` link names: its last path component ("" for none)."""
    if not link_target:
        return ""
    return os.path.basename(link_target.rstrip("/"))


def _haproxy(state):
    if state is None:
        return None
    if not isinstance(state, Mapping):
        raise ResultError("haproxy_servers: %r is not a mapping with weight and admin" % (state,))
    admin = state.get("admin", state.get("state"))
    weight = state.get("weight")
    return {"weight": weight, "admin": admin,
            "serving": admin == "ready" and isinstance(weight, int) and weight > 0}


def slot_report(read, ledger, haproxy_servers=None, host=None):
    """The module's result from what was read.

    ``read``: ``{slot: {"link": target or None, "unit": name, "unit_state": state}}`` in slot
    order; ``ledger``: a :func:`ledger_view`. Each slot becomes
    ``{"slot", "release", "unit", "unit_state", "active", "haproxy"}`` (``haproxy`` is
    ``{"weight", "admin", "serving"}``, None without ``haproxy_servers`` or when HAProxy
    has no server ``<host>-<slot>``).
    """
    report = {}
    for slot, facts in read.items():
        state = facts.get("unit_state") or "unknown"
        report[slot] = {
            "slot": slot,
            "release": release_of(facts.get("link")),
            "unit": facts["unit"],
            "unit_state": state,
            "active": state == "active",
            "haproxy": _haproxy((haproxy_servers or {}).get("%s-%s" % (host, slot))) if haproxy_servers is not None
            else None,
        }
    return {
        "slots": report,
        "last_good": ledger["last_good"] or "",
        "good": list(ledger["good"]),
        "ledger_records": ledger["count"],
    }


def read_link(path):
    """The target of the link at ``path``; None when there is none or it is not a link."""
    try:
        return os.readlink(path)
    except OSError:
        return None


def read_unit_state(run_command, unit):
    """``systemctl is-active <unit>``'s answer (it exits non-zero for every state but active)."""
    rc, out, err = run_command(["systemctl", "is-active", unit])
    state = (out or "").strip().splitlines()[-1:] or [""]
    if state[0] not in UNIT_STATES:
        raise ResultError("systemctl is-active %s failed (rc=%s): %s" % (unit, rc, (err or out or "").strip()))
    return state[0]


def read_slots(params, run_command):
    """Read every slot of the service on this host; returns :func:`slot_report`'s dict."""
    check_options(params)
    read = {}
    for slot in params["slots"]:
        unit = params["service_unit"].replace("{slot}", slot)
        read[slot] = {
            "link": read_link(os.path.join(params["service_root"], "current-%s" % slot)),
            "unit": unit,
            "unit_state": read_unit_state(run_command, unit),
        }
    ledger = ledger_view(read_records(read_ledger(params["ledger_path"]) or ""))
    report = slot_report(read, ledger, params.get("haproxy_servers"), params.get("host"))
    if params.get("free_space_path"):
        report["free_mb"] = free_mb(params["free_space_path"])
    return report


def free_mb(path):
    """Whole MiB free for unprivileged users on the file system of ``path`` (df's Available)."""
    if not isinstance(path, str) or not os.path.isabs(path):
        raise ResultError("free_space_path: %r must be an absolute path" % (path,))
    try:
        stat = os.statvfs(path)
    except OSError as exc:
        raise ResultError("free_space_path: cannot measure the free space of %s: %s" % (path, exc.strerror)) from None
    return stat.f_bavail * stat.f_frsize // (1024 * 1024)


def releases_by_host(infos, hosts):
    """``{host: {<slot>: release, ..., "last_good", "good"}}`` from each host's slot_info result.

    A host without a result (its read failed, it left the play) is left out: the deploy's
    preflight names it when it stops the run.
    """
    releases = {}
    for host, info in zip(hosts, infos):
        if not isinstance(info, Mapping) or not isinstance(info.get("slots"), Mapping):
            continue
        entry = dict((slot, (state or {}).get("release")) for slot, state in info["slots"].items())
        entry.update(last_good=info.get("last_good"), good=info.get("good"))
        releases[host] = entry
    return releases


def short_of_space(infos, hosts, min_mb, option):
    """One line per host whose slot_info ``free_mb`` is below ``min_mb``, naming ``option``."""
    if isinstance(min_mb, str) and min_mb.strip().isdigit():  # an extra var (-e) is text
        min_mb = int(min_mb)
    if isinstance(min_mb, bool) or not isinstance(min_mb, int) or min_mb < 0:
        raise ValueError("%s must be a whole number of MB, 0 or more, got %r" % (option, min_mb))
    lines = []
    for host, info in zip(hosts, infos):
        free = info.get("free_mb") if isinstance(info, Mapping) else None
        if free is not None and free < min_mb:
            lines.append("%s has %d MB free, %s=%d" % (host, free, option, min_mb))
    return lines
