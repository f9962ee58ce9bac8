#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: release_ledger
short_description: Append to or read the release ledger, the append-only history of deploys
version_added: 0.1.0
description:
  - The ledger is a JSON-lines file on the host, one record per event of a deploy or
    rollback run. It is the source of truth for which release was last good and what a
    rollback to "previous" targets; directory mtimes are never consulted.
  - "O(action=append) validates O(record), stamps it with C(ts) (UTC, milliseconds) and
    appends it as one line: the file is opened with C(O_APPEND), the line goes out in one
    C(write) and is fsynced. Concurrent appends never interleave within a line. When the
    file ends in a torn line (an earlier append cut short), the new record starts on a
    line of its own."
  - O(action=read) parses the ledger and returns its records and what they say. A final
    line without a newline is torn and ignored (counted in RV(torn_lines)); other lines
    that are not valid records are skipped and listed in RV(bad_lines). Both give a
    warning. A missing ledger reads as empty.
  - "Events: V(started) (a run begins to deploy C(release)), V(gate) (a gate decision,
    with C(gate)), V(promoted) (C(release) took all traffic and passed validation),
    V(rolled_back) (the deploy of C(release) was undone), V(failed) (the run for
    C(release) failed), V(interrupted) (the run ended without an outcome, e.g. its
    controller was killed; written by the next run that holds the lock), V(rollback) (a
    rollback run moved traffic from C(from_release) to C(release), and it answered its
    health checks; written only on success)."
  - "Good releases, replaying the ledger in order: V(promoted) makes the release the
    newest good one; V(rolled_back) and V(failed) make it not good; V(interrupted)
    changes nothing; V(rollback) makes
    C(from_release) not good and C(release) the newest good one. RV(last_good) is the
    newest good release, RV(previous_good) the newest good release other than
    O(current). Because a rollback demotes the release it leaves, two consecutive
    rollbacks after promoting 1.0.0, 2.0.0 and 3.0.0 land on 2.0.0 and then 1.0.0."
author:
  - fleetops maintainers (@fleetops)
options:
  path:
    description:
      - Absolute path of the ledger file. The file (mode 0644) and missing parent
        directories (mode 0755) are made by the first append.
    type: path
    default: /var/lib/fleetops/ledger.jsonl
  action:
    description:
      - V(append) adds O(record); V(read) returns the records and what they say.
    type: str
    choices: [append, read]
    default: read
  record:
    description:
      - The record to append; required with O(action=append) unless O(close_unfinished_by) is given, not
        allowed with O(action=read).
      - "Required keys: C(run_id) and C(release) (strings without spaces) and C(event)
        (V(started), V(gate), V(promoted), V(rolled_back), V(failed), V(interrupted) or
        V(rollback))."
      - C(from_release) is required when C(event) is V(rollback) and must differ from C(release).
      - C(gate) (a mapping of the gate's verdict, measurements and thresholds) is required
        when C(event) is V(gate), and allowed with any event.
      - Optional strings C(checksum), C(operator), C(change_id), C(slot), C(message), and
        C(details), a mapping of anything else. Optional keys that are null or empty are
        left out.
      - C(ts) is set by the module; other keys are refused.
    type: dict
  current:
    description:
      - With O(action=read), the release that runs now, for RV(previous_good). Defaults to
        RV(last_good).
    type: str
  limit:
    description:
      - With O(action=read), return only the newest O(limit) records in RV(records). The
        other results always use the whole ledger. A whole number above 0.
    type: int
  run_id:
    description:
      - With O(action=read), also return the summary of this run in RV(run).
    type: str
  operator:
    description:
      - With O(close_unfinished_by) and no O(record), the operator the C(interrupted) records name
        (with O(record), its C(operator)).
    type: str
  close_unfinished_by:
    description:
      - With O(action=append), first close every run the ledger holds that started and recorded no
        outcome (its controller was killed) with an V(interrupted) record (its run id, release and
        slot, the operator of O(record), and the message C(run <id> started <time> and recorded no
        outcome; closed by <this value>)), then append O(record) if given. The runs closed are
        returned in RV(closed). Without O(record) it only closes them, and reports a change only
        when it closed one.
      - Run it under the deploy lock (the deploy role does, for its V(started) record), so that no
        run that could still finish is closed. One task where a read and an append per closed run
        would be more.
    type: str
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details:
      - O(action=append) validates the record and returns it as it would be written, with
        changed=true, and writes nothing. O(action=read) only reads.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: full
    details: O(action=append) shows the appended line.
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
notes:
  - An append always reports a change, so the second run of a playbook that appends
    reports one too; that is what a history is for. Guard appends with a condition
    (e.g. only when something was deployed) where idempotence matters.
seealso:
  - module: fleetops.lifecycle.deploy_lock
  - module: fleetops.lifecycle.release
"""

EXAMPLES = r"""
- name: Record that the run starts deploying 2.0.0
  fleetops.lifecycle.release_ledger:
    action: append
    record:
      run_id: "{{ deploy_run_id }}"
      event: started
      release: 2.0.0
      checksum: "{{ artifact_sha256 }}"
      operator: "{{ lookup('ansible.builtin.env', 'USER') }}"
      change_id: CHG-1
      slot: green

- name: Record a gate decision with its measurements
  fleetops.lifecycle.release_ledger:
    action: append
    record:
      run_id: "{{ deploy_run_id }}"
      event: gate
      release: 2.0.0
      slot: green
      gate: "{{ gate_result.gate }}"

- name: Record a completed rollback from 3.0.0 to 2.0.0
  fleetops.lifecycle.release_ledger:
    action: append
    record:
      run_id: "{{ rollback_run_id }}"
      event: rollback
      release: 2.0.0
      from_release: 3.0.0
      message: error ratio above 1% after promotion

- name: Find what a rollback to "previous" targets
  fleetops.lifecycle.release_ledger:
    action: read
    current: "{{ running_release }}"
    limit: 20
  register: ledger

- name: Show the target
  ansible.builtin.debug:
    msg: "rollback to {{ ledger.previous_good }}"
"""

RETURN = r"""
record:
  description: The record as appended (in check mode, as it would be); null when only runs were closed.
  returned: when O(action=append)
  type: dict
  sample:
    ts: "2024-05-01T12:00:00.000Z"
    run_id: 20240501T1200-ab12
    event: promoted
    release: 2.0.0
    operator: alice
    change_id: CHG-1
    slot: green
closed:
  description:
    - With O(close_unfinished_by), the runs closed as interrupted before O(record) was appended, oldest
      first, each with C(run_id), C(release), C(slot), C(operator), C(started) and C(run), the run's
      summary as O(action=read) with O(run_id) returns it in RV(run) after the closing (its
      C(interrupted) record included); empty otherwise.
  returned: when O(action=append)
  type: list
  elements: dict
  sample: [{run_id: 20261207T101500Z-123456, release: 2.0.0, slot: green, operator: alice,
            started: "2026-12-07T10:15:00.123Z", run: {outcome: interrupted, events: [started, gate, interrupted]}}]
created:
  description: Whether the append creates the ledger file.
  returned: when O(action=append)
  type: bool
  sample: false
terminated_torn_line:
  description: Whether the ledger ended in a torn line that the append ended first.
  returned: when O(action=append)
  type: bool
  sample: false
records:
  description: Valid records, oldest first (only the newest O(limit) with O(limit)).
  returned: when O(action=read)
  type: list
  elements: dict
  sample:
    - {ts: "2024-05-01T12:00:00.000Z", run_id: r1, event: promoted, release: 1.0.0}
    - {ts: "2024-05-02T12:00:00.000Z", run_id: r2, event: promoted, release: 2.0.0}
count:
  description: How many valid records the ledger holds.
  returned: when O(action=read)
  type: int
  sample: 2
last_good:
  description: The newest good release; null when there is none.
  returned: when O(action=read)
  type: str
  sample: 2.0.0
previous_good:
  description: The newest good release other than O(current) (default RV(last_good)); null when there is none.
  returned: when O(action=read)
  type: str
  sample: 1.0.0
good:
  description: All good releases, newest first.
  returned: when O(action=read)
  type: list
  elements: str
  sample: [2.0.0, 1.0.0]
history:
  description: Releases that were ever promoted, each once, newest promotion first.
  returned: when O(action=read)
  type: list
  elements: str
  sample: [3.0.0, 2.0.0, 1.0.0]
unfinished:
  description:
    - Deploy runs with a C(started) record and no outcome (C(promoted), C(rolled_back),
      C(failed), C(interrupted)), oldest first, from each run's first record. A run stays
      here until a terminal record closes it, as deploy.yml does with C(interrupted) for
      runs whose controller was killed.
  returned: when O(action=read)
  type: list
  elements: dict
  sample: [{run_id: 20261130T101010Z-1, release: 2.0.0, slot: green, operator: alice, started: "2026-11-30T10:10:10Z"}]
torn_lines:
  description: 1 when the ledger ends in a line without a newline (ignored), else 0.
  returned: when O(action=read)
  type: int
  sample: 0
bad_lines:
  description: Lines skipped because they are not valid records, with their number and why.
  returned: when O(action=read)
  type: list
  elements: dict
  sample:
    - {line: 7, error: "not JSON: Expecting value: line 1 column 1 (char 0)"}
exists:
  description: Whether the ledger file exists.
  returned: when O(action=read)
  type: bool
  sample: true
run:
  description:
    - Summary of the run O(run_id); null when the ledger has no record of it.
    - C(outcome) is the event of the run's last promoted, rolled_back, failed or rollback
      record, or C(in_progress).
  returned: when O(action=read) and O(run_id) is given
  type: dict
  sample:
    run_id: r2
    release: 2.0.0
    from_release: null
    checksum: null
    operator: alice
    change_id: CHG-1
    started: "2024-05-02T12:00:00.000Z"
    finished: "2024-05-02T12:20:00.000Z"
    outcome: promoted
    events: [started, gate, promoted]
    gates: [{ts: "2024-05-02T12:10:00.000Z", slot: green, stage: 10, gate: {verdict: pass}}]
    message: null
    records: 3
path:
  description: The ledger's path.
  returned: always
  type: str
  sample: /var/lib/fleetops/ledger.jsonl
diff:
  description: The appended line.
  returned: when O(action=append) and diff mode is on
  type: dict
  contains:
    before:
      description: Empty.
      type: str
      returned: when O(action=append) and diff mode is on
    after:
      description: The line appended.
      type: str
      returned: when O(action=append) and diff mode is on
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.ledger import (
    DEFAULT_PATH,
    LedgerError,
    append_record,
    check_path,
    check_record,
    close_unfinished,
    ledger_view,
    read_ledger,
    read_records,
)

ARGUMENT_SPEC = dict(
    path=dict(type="path", default=DEFAULT_PATH),
    action=dict(type="str", default="read", choices=["append", "read"]),
    record=dict(type="dict"),
    current=dict(type="str"),
    limit=dict(type="int"),
    run_id=dict(type="str"),
    close_unfinished_by=dict(type="str"),
    operator=dict(type="str"),
)


def _append(params, now, check_mode, diff_mode):
    for key in ("current", "limit", "run_id"):
        if params.get(key) is not None:
            raise LedgerError("%s: only used with action=read" % key)
    record, closer = params.get("record"), params.get("close_unfinished_by")
    if record is None and closer is None:
        raise LedgerError("record: required with action=append")
    closed, lines = [], []
    if closer is not None:
        if record is not None:  # checked before any run is closed, so a bad one changes nothing
            check_record(record)
        operator = (record or {}).get("operator") or params.get("operator")
        closed, lines = close_unfinished(params["path"], closer, operator, now, check_mode=check_mode)
    outcome = dict(record=None, line="", created=False, terminated_torn_line=False)
    if record is not None:
        outcome = append_record(params["path"], record, now, check_mode=check_mode)
    lines.append(outcome["line"])
    result = dict(
        changed=bool(record is not None or closed),
        path=params["path"],
        record=outcome["record"],
        created=outcome["created"],
        terminated_torn_line=outcome["terminated_torn_line"],
        closed=closed,
    )
    if diff_mode and result["changed"]:
        result["diff"] = dict(before="", after="".join(lines), before_header=params["path"],
                              after_header="%s (appended)" % params["path"])
    return result


def _read(params):
    for key in ("record", "close_unfinished_by", "operator"):
        if params.get(key) is not None:
            raise LedgerError("%s: only used with action=append" % key)
    limit = params.get("limit")
    if limit is not None and limit <= 0:
        raise LedgerError("limit: %r must be a whole number above 0" % (limit,))
    text = read_ledger(params["path"])
    view = ledger_view(read_records(text or ""), current=params.get("current") or None,
                       limit=limit, run_id=params.get("run_id"))
    warnings = []
    if view["torn_lines"]:
        warnings.append("ledger %s ends in a torn line (an append was cut short); it was ignored"
                        % params["path"])
    if view["bad_lines"]:
        warnings.append("ledger %s has %d lines that are not valid records (first: line %d: %s); "
                        "they were skipped" % (params["path"], len(view["bad_lines"]),
                                               view["bad_lines"][0]["line"], view["bad_lines"][0]["error"]))
    return dict(changed=False, path=params["path"], exists=text is not None, **view), warnings


def run_ledger(params, *, now=None, check_mode=False, diff_mode=False):
    """Append or read per ``params``; return ``(result, warnings)``."""
    check_path(params.get("path"))
    if params.get("action") == "append":
        return _append(params, time.time() if now is None else now, check_mode, diff_mode), []
    return _read(params)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result, warnings = run_ledger(module.params, check_mode=module.check_mode, diff_mode=module._diff)
    except LedgerError as exc:
        module.fail_json(msg=exc.msg, path=module.params["path"], **exc.result)
    for warning in warnings:
        module.warn(warning)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
