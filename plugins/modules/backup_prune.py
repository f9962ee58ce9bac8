#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_prune
short_description: Delete backup archives a retention policy does not keep, and leftovers of killed runs
version_added: 0.1.0
description:
  - Lists the complete archives in O(dest_dir) (those with a valid sidecar; only those of O(service)
    when given) and applies the retention policy of the C(fleetops.lifecycle.retention_select) filter
    to them, with the archive's created time from its metadata, C(pinned) from its metadata,
    C(verified) from its verification record (see M(fleetops.lifecycle.backup_verify)) and C(ok=false)
    when its last verification failed.
  - The newest successful backup, the newest verified backup and every pinned archive are always kept.
  - Each archive to delete is removed with its sidecar (first, so an interrupted prune leaves an
    incomplete archive, never a complete-looking one) and its verification record.
  - Incomplete archives (no valid sidecar) never count as backups. Those older than O(stale_age)
    seconds are removed, as are temporary files of killed runs older than O(stale_age) (a run still
    holding its lock is never touched).
author:
  - fleetops maintainers (@fleetops)
options:
  dest_dir:
    description:
      - Absolute path of the archive directory. Defaults to C(/var/backups/fleetops/<service>).
    type: path
  service:
    description: Only archives of this service count and are deleted; also gives the default O(dest_dir).
    type: str
  keep_oldest:
    description:
      - In O(mode=counts), also keep the oldest successful archive when a bucket has fewer periods
        than its count; null means true in O(mode=counts) and false in O(mode=age).
    type: bool
  timezone:
    description: V(archive), V(UTC) or a fixed offset such as V(+02:00); decides calendar days.
    type: str
    default: UTC
  safety_days:
    description:
      - Days a safety archive (kind V(pre-upgrade) or V(pre-restore), taken by a deploy or a restore before it
        changes data) is kept after it was made, whatever the policy; always kept on the day it was made, so a
        prune right after a deploy or a restore never deletes it. The kept list says why.
    type: int
    default: 7
  stale_age:
    description: Seconds after which incomplete archives and temporary files of killed runs are removed.
    type: int
    default: 3600
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
  - fleetops.lifecycle.retention
attributes:
  check_mode:
    support: full
    details: Lists every file that would be deleted with the reason; deletes nothing.
  diff_mode:
    support: none
seealso:
  - module: fleetops.lifecycle.backup
  - module: fleetops.lifecycle.backup_verify
"""

EXAMPLES = r"""
- name: Keep 7 daily, 4 weekly and 6 monthly backups of the demo service
  fleetops.lifecycle.backup_prune:
    service: demo
    keep_daily: 7
    keep_weekly: 4
    keep_monthly: 6

- name: What would be deleted
  fleetops.lifecycle.backup_prune:
    dest_dir: /var/backups/fleetops/demo
  check_mode: true
  register: prune
"""

RETURN = r"""
deleted:
  description: Archives deleted (in check mode, that would be), each with C(path), C(name), C(reason) and C(files).
  returned: always
  type: list
  elements: dict
  sample:
    - path: /var/backups/fleetops/demo/demo-app1-20261101T020000Z-scheduled.tar.zst
      name: demo-app1-20261101T020000Z-scheduled.tar.zst
      reason: "not the newest successful backup of daily 2026-11-01 (kept: 'demo-app1-20261101T030000Z-manual.tar.zst')"
      files: [/var/backups/fleetops/demo/demo-app1-20261101T020000Z-scheduled.tar.zst.json,
              /var/backups/fleetops/demo/demo-app1-20261101T020000Z-scheduled.tar.zst]
kept:
  description: Archives kept, each with C(path), C(name) and C(reasons).
  returned: always
  type: list
  elements: dict
  sample:
    - path: /var/backups/fleetops/demo/demo-app1-20261130T020000Z-scheduled.tar.zst
      name: demo-app1-20261130T020000Z-scheduled.tar.zst
      reasons: [daily 2026-11-30, newest successful]
incomplete:
  description: Incomplete archives older than O(stale_age) removed (would be), with C(path), C(reason) and C(files).
  returned: always
  type: list
  elements: dict
  sample: []
leftovers:
  description: Temporary files of killed runs removed (would be), with C(path) and C(reason).
  returned: always
  type: list
  elements: dict
  sample: []
fleetops_decision:
  description:
    - What retention decided, for the audit trail (callback C(fleetops.lifecycle.audit)) - C(kind=retention),
      C(dest_dir), C(check_mode), C(deleted) (names), C(removed) (paths) and C(kept) (a count).
  returned: always
  type: dict
  sample: {kind: retention, dest_dir: /var/backups/fleetops/demo, check_mode: false, deleted: [], removed: [], kept: 7}
removed:
  description: Every path removed; empty in check mode.
  returned: always
  type: list
  elements: str
  sample: []
future_dated:
  description:
    - Archives whose C(created_epoch) is after the host's current time (clock skew or a forged date). They
      are kept, but never anchor the age windows nor count toward a bucket; look at them.
  returned: always
  type: list
  elements: str
  sample: []
runs_in_progress:
  description: Lock files of runs still running in O(dest_dir) (their files are left alone).
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils import retention
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup import (
    DEFAULT_STALE_AGE,
    apply_prune,
    plan_prune,
    validate_prune,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_archive import BackupError

ARGUMENT_SPEC = dict(
    dest_dir=dict(type="path"),
    service=dict(type="str"),
    mode=dict(type="str", default=retention.DEFAULT_MODE, choices=list(retention.MODES)),
    keep_daily=dict(type="int", default=retention.DEFAULT_KEEP_DAILY),
    keep_weekly=dict(type="int", default=retention.DEFAULT_KEEP_WEEKLY),
    keep_monthly=dict(type="int", default=retention.DEFAULT_KEEP_MONTHLY),
    keep_oldest=dict(type="bool"),
    timezone=dict(type="str", default="UTC"),
    safety_days=dict(type="int", default=7),
    stale_age=dict(type="int", default=DEFAULT_STALE_AGE),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           required_one_of=[("dest_dir", "service")])
    try:
        request = validate_prune(module.params)
        plan = plan_prune(request["dest_dir"], request["policy"], request["service"], request["stale_age"])
        removed = [] if module.check_mode else apply_prune(request["dest_dir"], plan, request["stale_age"])
    except BackupError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    module.exit_json(
        changed=bool(plan["delete"] or plan["incomplete"] or plan["leftovers"]),
        deleted=plan["delete"], kept=plan["keep"], incomplete=plan["incomplete"], leftovers=plan["leftovers"],
        removed=removed, runs_in_progress=plan["in_use"], future_dated=plan["future"],
        # What retention deleted (or would), for the audit trail.
        fleetops_decision={"kind": "retention", "dest_dir": request["dest_dir"], "check_mode": module.check_mode,
                           "deleted": [entry["name"] for entry in plan["delete"]], "removed": removed,
                           "kept": len(plan["keep"])},
    )


if __name__ == "__main__":
    main()
