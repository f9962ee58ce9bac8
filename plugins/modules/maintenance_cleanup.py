#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: maintenance_cleanup
short_description: Remove old logs, releases and temp files by age, keeping a minimum
version_added: 0.1.0
description:
  - For each set (a directory and a glob pattern), deletes the entries older than
    C(max_age) seconds except the newest C(keep_min) and every C(protect) path, and
    reports every entry as deleted or kept with the reason.
  - Entries are regular files, and directories when C(directories=true) (releases).
    Symbolic links are never entries and never followed; an entry that became a
    symlink between the scan and the removal is left alone.
  - Check mode is the dry run - the same plan, nothing removed.
author:
  - fleetops maintainers (@fleetops)
options:
  sets:
    description:
      - "Each a mapping: C(name), C(path) (absolute directory, not C(/)), C(pattern) (glob,
        default C(*)), C(max_age) (seconds, > 0), C(keep_min) (default 1), C(protect) (paths
        never removed, e.g. the releases the slots run), C(directories) (default false)."
    type: list
    elements: dict
    required: true
  now:
    description: Epoch seconds to judge ages against; default the host's clock.
    type: float
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
attributes:
  check_mode:
    support: full
    details: The dry run - returns the same plan and removes nothing.
  diff_mode:
    support: none
"""

EXAMPLES = r"""
- name: Clean old rotated logs, keeping the newest 5
  fleetops.lifecycle.maintenance_cleanup:
    sets:
      - {name: logs, path: /var/log/demo, pattern: "*.gz", max_age: 1209600, keep_min: 5}
"""

RETURN = r"""
actions:
  description: One row per entry - C(set), C(path), C(age) (seconds), C(action) (C(delete) or C(keep)) and C(reason).
  returned: always
  type: list
  elements: dict
  sample: [{set: logs, path: /var/log/demo/app.log.9.gz, age: 1900000.0, action: delete, reason: older than 1209600 s}]
fleetops_decision:
  description: For the audit trail - C(kind=cleanup), C(check_mode) and C(deleted) (paths deleted, or that would be).
  returned: always
  type: dict
  sample: {kind: cleanup, check_mode: true, deleted: [/var/log/demo/app.log.9.gz]}
removed:
  description: Paths removed; empty in check mode.
  returned: always
  type: list
  elements: str
  sample: []
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.cleanup import CleanupError, run_sets

ARGUMENT_SPEC = dict(
    sets=dict(type="list", elements="dict", required=True),
    now=dict(type="float"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    now = module.params["now"] if module.params["now"] is not None else time.time()
    removed = []
    try:
        actions, removed = run_sets(module.params["sets"], now, dry_run=module.check_mode, removed=removed)
    except (CleanupError, OSError) as exc:
        module.fail_json(msg=str(exc), removed=removed)
    deleted = [a["path"] for a in actions if a["action"] == "delete"]
    module.exit_json(changed=bool(deleted), actions=actions, removed=removed,
                     fleetops_decision={"kind": "cleanup", "check_mode": module.check_mode, "deleted": deleted})


if __name__ == "__main__":
    main()
