# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Audit trail callback; what goes into a record is decided in module_utils.audit."""

from __future__ import annotations

DOCUMENTATION = r"""
name: audit
type: aggregate
short_description: Append one JSON-lines audit record per playbook run
version_added: 0.1.0
author: fleetops maintainers (@fleetops)
description:
  - Writes one JSON object per line to O(file) at the end of every playbook run, failed
    runs included (a run stopped by a failed host still reaches the end; a run killed
    before any play started writes nothing).
  - "A record holds: C(run_id), C(who) (the controller login, C(SUDO_USER) when run
    through sudo, or AWX's C(awx_user_name) and C(awx_job_id) when launched from AWX),
    C(started), C(ended) (UTC, ISO 8601), C(duration_seconds), C(playbook), C(limit),
    C(check_mode), C(change) (C(id), C(type) standard/normal/emergency, C(emergency),
    C(window_override), C(in_window), C(production), C(allowed)), C(status)
    (successful, failed), C(hosts) (every host the run reached or tried to),
    C(hosts_changed), C(outcomes) (per host: C(outcome) ok/changed/failed/unreachable and
    the counts) and C(decisions)."
  - "C(decisions) are picked from module results by the key C(fleetops_decision): a dict
    with at least C(kind). The collection's modules return one for a gate verdict
    (C(slo_gate), kind C(gate)), backups deleted by retention (C(backup_prune), kind
    C(retention)), a restore (C(restore), kind C(restore)) and a change-policy ruling
    (C(change_policy), kind C(change_policy)) and what cleanup deleted
    (C(maintenance_cleanup), kind C(cleanup)); any module may add its own. Each is kept
    with the C(host) and C(task) that returned it; at most 200 per record, each at most
    8 KiB of JSON (a larger one is replaced by its kind and size)."
  - "C(change) comes from the change-policy ruling when the run made one, else from the
    extra vars C(change_id), C(change_type) and C(change_window_override)."
  - The file is opened without following symlinks, created C(0600) in a C(0700)
    directory, and each record is written with a single C(write) under an exclusive lock,
    so concurrent runs never interleave lines.
requirements:
  - Enable it in C(ansible.cfg) (C([defaults] callbacks_enabled = fleetops.lifecycle.audit))
    or with C(ANSIBLE_CALLBACKS_ENABLED).
options:
  file:
    description: The JSON-lines file records are appended to.
    type: path
    default: ~/.fleetops/audit.jsonl
    env:
      - name: FLEETOPS_AUDIT_FILE
    ini:
      - section: callback_fleetops_audit
        key: file
"""

import getpass
import os
import time
import uuid

from ansible import context
from ansible.plugins.callback import CallbackBase
from ansible_collections.fleetops.lifecycle.plugins.module_utils.audit import (
    append_record,
    build_record,
    decisions_from_result,
    who,
)


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "fleetops.lifecycle.audit"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._run = None

    def _start(self, playbook_name):
        cli = context.CLIARGS
        self._run = {
            "run_id": str(uuid.uuid4()),
            "started": time.time(),
            "playbook": playbook_name,
            "limit": cli.get("subset") or None,
            "check": bool(cli.get("check")),
            "extra_vars": {},
            "decisions": [],
            "seen_hosts": set(),
        }

    def v2_playbook_on_start(self, playbook):
        self._start(os.path.abspath(playbook._file_name))

    def v2_playbook_on_play_start(self, play):
        if self._run is None:
            self._start(None)
        manager = play.get_variable_manager()
        if manager is not None and not self._run["extra_vars"]:
            self._run["extra_vars"] = dict(manager.extra_vars)

    def _note(self, result):
        if self._run is None:
            return
        host = result._host.get_name()
        self._run["seen_hosts"].add(host)
        for decision in decisions_from_result(result._result):
            self._run["decisions"].append({"host": host, "task": result._task.get_name(), "decision": decision})

    def v2_runner_on_ok(self, result):
        self._note(result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._note(result)

    def v2_runner_on_unreachable(self, result):
        self._note(result)

    def v2_playbook_on_stats(self, stats):
        if self._run is None:
            return
        run = self._run
        extra = run["extra_vars"]
        per_kind = {}
        for kind in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored"):
            per_kind[kind] = dict(getattr(stats, kind, {}) or {})
        # A host that only ever appeared in events still counts as touched.
        per_kind.setdefault("ok", {})
        for host in run["seen_hosts"]:
            per_kind["ok"].setdefault(host, 0)
        record = build_record({
            "run_id": run["run_id"],
            "user": who(os.environ, extra, getpass.getuser()),
            "started": run["started"],
            "ended": time.time(),
            "playbook": run["playbook"],
            "limit": run["limit"],
            "check": run["check"],
            "extra_vars": extra,
            "stats": per_kind,
            "decisions": run["decisions"],
        })
        path = os.path.expanduser(self.get_option("file"))
        try:
            append_record(path, record)
        except OSError as exc:
            # The run's result stands; say loudly that its record is missing.
            self._display.error("fleetops.lifecycle.audit: could not write %s: %s" % (path, exc))
        self._run = None
