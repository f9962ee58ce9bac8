#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: change_policy
short_description: Decide whether a change may run now, under the change policy and maintenance window
version_added: 0.1.0
description:
  - Rules on one run before any host changes, and fails when the run may not go ahead.
    Reads nothing and changes nothing; run it once, e.g. with C(run_once) and
    C(delegate_to=localhost). The role C(fleetops.lifecycle.change_policy) does that.
  - V(standard) changes (routine, pre-approved) are allowed at any time, but only when
    O(standard_ok=true) (the playbook declares itself a standard change).
  - V(normal) changes to an inventory marked production (O(production=true)) need a
    O(change_id) and must run inside the maintenance O(window), unless O(window_override=true).
    To an inventory not marked production they are allowed.
  - V(emergency) changes are always allowed and marked C(emergency=true).
  - The ruling is returned as RV(fleetops_decision) (C(kind=change_policy)), also when the
    task fails, so the audit callback C(fleetops.lifecycle.audit) records the change id,
    type and any window override of every run.
author:
  - fleetops maintainers (@fleetops)
options:
  change_type:
    description:
      - V(standard), V(normal) or V(emergency). Anything else fails naming the value.
    type: str
    default: normal
  change_id:
    description:
      - "The change's ticket reference, e.g. C(CHG-1234): letters, digits and C(. _ : / # -),
        at most 64 characters."
    type: str
  production:
    description: Whether the inventory is production (normal changes need a change id and the window).
    type: bool
    default: false
  window:
    description:
      - The maintenance window, UTC, as C(<which> <weekday> HH:MM-HH:MM) where C(which) is
        C(first), C(second), C(third), C(fourth), C(last) or C(every) and the weekday
        C(mon) to C(sun); it ends on the day it starts. A malformed window fails naming it.
    type: str
    default: first sun 02:00-04:00
  window_override:
    description: Allow a normal production change outside the window; recorded in the ruling.
    type: bool
    default: false
  standard_ok:
    description: The playbook is a standard (pre-approved) change, so O(change_type=standard) is accepted.
    type: bool
    default: false
  playbook:
    description: The playbook's name, for the messages.
    type: str
    default: this playbook
  now:
    description:
      - The time to judge, ISO 8601 with a zone (C(2026-12-06T02:30:00Z)). Default the
        current time. Tests and "would this be allowed then?" questions set it.
    type: str
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
attributes:
  check_mode:
    support: full
    details: Decides exactly as in a real run (check mode runs are refused or allowed alike).
  diff_mode:
    support: none
seealso:
  - module: fleetops.lifecycle.deploy_lock
"""

EXAMPLES = r"""
- name: Refuse the run unless the change policy allows it
  fleetops.lifecycle.change_policy:
    change_type: "{{ change_type | default('normal') }}"
    change_id: "{{ change_id | default(omit) }}"
    production: "{{ change_policy_production }}"
    window: "{{ change_policy_window }}"
    window_override: "{{ change_window_override | default(false) }}"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
fleetops_decision:
  description:
    - The ruling, for the audit trail - C(kind=change_policy), C(allowed), C(message),
      C(change_type), C(change_id), C(emergency), C(production), C(window), C(in_window),
      C(window_start) and C(window_end) (the current window, or the next when outside),
      C(window_override) (true only when the override was needed and used) and C(now).
  returned: always, also on failure after the inputs were valid
  type: dict
  sample:
    kind: change_policy
    allowed: true
    message: "normal change CHG-1: inside the window until 2026-12-06T04:00:00Z"
    change_type: normal
    change_id: CHG-1
    emergency: false
    production: true
    window: first sun 02:00-04:00
    in_window: true
    window_start: "2026-12-06T02:00:00Z"
    window_end: "2026-12-06T04:00:00Z"
    window_override: false
    now: "2026-12-06T02:30:00Z"
allowed:
  description: Whether the run may go ahead (a refusal fails the task).
  returned: always
  type: bool
  sample: true
message:
  description: Why.
  returned: always
  type: str
  sample: "normal change CHG-1: inside the window until 2026-12-06T04:00:00Z"
"""

import datetime

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.change_policy import PolicyError, decide, parse_now

ARGUMENT_SPEC = dict(
    change_type=dict(type="str", default="normal"),
    change_id=dict(type="str"),
    production=dict(type="bool", default=False),
    window=dict(type="str", default="first sun 02:00-04:00"),
    window_override=dict(type="bool", default=False),
    standard_ok=dict(type="bool", default=False),
    playbook=dict(type="str", default="this playbook"),
    now=dict(type="str"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    params = module.params
    try:
        now = parse_now(params["now"]) if params["now"] else datetime.datetime.now(datetime.timezone.utc)
        ruling = decide(params["change_type"], params["change_id"], params["production"], params["window"], now,
                        override=params["window_override"], standard_ok=params["standard_ok"],
                        playbook=params["playbook"])
    except PolicyError as exc:
        module.fail_json(msg=str(exc))
    if not ruling["allowed"]:
        module.fail_json(msg=ruling["message"], allowed=False, fleetops_decision=ruling)
    module.exit_json(changed=False, allowed=True, message=ruling["message"], fleetops_decision=ruling)


if __name__ == "__main__":
    main()
