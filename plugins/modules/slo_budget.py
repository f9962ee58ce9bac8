#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: slo_budget
short_description: Measure every SLO's error budget on Prometheus and apply the error-budget policy to a change
version_added: 0.2.0
description:
  - Measures each SLO's error ratio over its whole window on Prometheus (the PromQL of the recording rules,
    so it works before the rules are loaded), and the error budget spent and left.
  - The policy - a budget is exhausted when the window spent all of it; while any budget is exhausted a
    C(normal) change is refused (RV(allowed) false, RV(message) with the numbers), an C(emergency) or
    C(security) change is allowed and RV(overridden) names the budgets it overrode, for the record.
  - An SLO without data over its window is reported as no data (RV(no_data)); it neither refuses a change
    nor counts as a full budget. Reads only; the task decides what to do with RV(allowed).
author:
  - fleetops maintainers (@fleetops)
options:
  prometheus_url:
    description: Base URL of Prometheus, e.g. V(http://10.89.77.10:9090).
    type: str
    required: true
  definitions:
    description: The SLO definitions (schema in docs/slo.md; see the C(fleetops.lifecycle.slo) role).
    type: list
    elements: dict
    required: true
  change_type:
    description: What kind of change asks; only C(normal) changes obey an exhausted budget.
    type: str
    choices: [normal, emergency, security]
    default: normal
  timeout:
    description: Seconds to wait for each query.
    type: float
    default: 10
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
attributes:
  check_mode:
    support: full
    details: Reads only, in check mode as in a real run.
  diff_mode:
    support: none
seealso:
  - module: fleetops.lifecycle.slo_gate
"""

EXAMPLES = r"""
- name: Apply the error-budget policy before a deploy
  fleetops.lifecycle.slo_budget:
    prometheus_url: http://10.89.77.10:9090
    definitions: "{{ slo_definitions }}"
    change_type: normal
  register: budget
  delegate_to: localhost

- name: Refuse the change on an exhausted budget
  ansible.builtin.fail:
    msg: "{{ budget.message }}"
  when: not budget.allowed
"""

RETURN = r"""
allowed:
  description: Whether the policy lets the change go ahead.
  returned: success
  type: bool
  sample: false
change_type:
  description: The change type judged.
  returned: success
  type: str
  sample: normal
exhausted:
  description: SLOs whose budget over their window is spent.
  returned: success
  type: list
  elements: str
  sample: [availability]
overridden:
  description: Exhausted budgets an emergency or security change went ahead despite.
  returned: success
  type: list
  elements: str
  sample: []
no_data:
  description: SLOs without data over their window.
  returned: success
  type: list
  elements: str
  sample: [workflow_success]
message:
  description: The decision with each exhausted SLO's numbers.
  returned: success
  type: str
  sample: "error budget exhausted, a normal change is refused: availability: 99.5% over 30d against 99.9%, 500% of
    the error budget spent (-400% left). Only an emergency or security change (deploy_change_type) may deploy now"
budgets:
  description:
    - Per SLO C(slo), C(objective) (percent), C(window), C(sli) (measured good ratio or null), C(budget) (allowed
      bad ratio), C(consumed) and C(remaining) (shares of the budget, null without data), C(exhausted),
      C(summary) and the C(query) measured.
  returned: success
  type: list
  elements: dict
  sample: []
"""

from decimal import Decimal

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo_policy


def _plain(value):
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def main():
    module = AnsibleModule(
        argument_spec=dict(
            prometheus_url=dict(type="str", required=True),
            definitions=dict(type="list", elements="dict", required=True),
            change_type=dict(type="str", choices=list(slo_policy.CHANGE_TYPES), default="normal"),
            timeout=dict(type="float", default=10),
        ),
        supports_check_mode=True,
    )
    params = module.params
    try:
        lines = slo_policy.measure(params["definitions"], params["prometheus_url"], params["timeout"])
        decision = slo_policy.decide(lines, params["change_type"])
    except (ValueError, slo_policy.PolicyError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, budgets=_plain(lines), **decision)


if __name__ == "__main__":
    main()
