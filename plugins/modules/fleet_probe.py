#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: fleet_probe
short_description: Probe this host's fleet units for one phase, reading their systemd state first
version_added: 0.9.0
description:
  - Finds the units of every tier of O(fleet_tiers) whose group is in O(groups) (the host's
    C(group_names)), reads whether each is enabled and active with one C(systemctl show), and
    runs the probes the phase asks of the enabled ones, plus O(extra_probes), as
    M(fleetops.lifecycle.health_check) runs its probes.
  - C(health), free disk, each enabled unit active and answering its C(ready_path).
    C(ready), the same without the disk. C(prestart), free disk and, for enabled units not
    running, their port free and their C(check_argv) passing. C(stopped), each enabled unit
    inactive (or failed) and its C(stopped_check) passing.
  - One task per host where a read of the states and a probe task would be two; the fleet role's
    health check runs it.
  - Every input is checked before the host is read. A bad O(fleet_tiers) fails with a message
    naming the tier and the key, a bad extra probe with its index in O(extra_probes).
  - The module only reads and reports C(changed=false). With O(fail_on_unhealthy=true) (the
    default) a failing probe fails the task; the result keys are returned either way.
author:
  - fleetops maintainers (@fleetops)
options:
  fleet_tiers:
    description:
      - Tier name -> C(group), C(depends_on) and C(units), as the fleet role's O(fleet_tiers) (see
        C(ansible-doc -t role fleetops.lifecycle.fleet)).
    type: dict
    required: true
  groups:
    description: The host's inventory groups (C(group_names)); a tier belongs to the host when its group is one of them.
    type: list
    elements: str
    required: true
  phase:
    description: What the probes must prove.
    type: str
    choices: [prestart, ready, stopped, health]
    default: health
  min_free_percent:
    description: Free disk space the C(disk) probe of the C(health) and C(prestart) phases needs, in percent of C(/).
    type: float
    default: 5
  extra_probes:
    description:
      - More probes to run beside the units' ones, each as one of the O(fleetops.lifecycle.health_check#module:probes)
        of M(fleetops.lifecycle.health_check). Their names must differ from the units' probe names.
    type: list
    elements: dict
    default: []
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
  - fleetops.lifecycle.health_run
attributes:
  check_mode:
    support: full
    details: It reads and probes in check mode as in a normal run; the caller passes read-only commands.
  diff_mode:
    support: none
seealso:
  - module: fleetops.lifecycle.health_check
"""

EXAMPLES = r"""
- name: Probe this host's units, without failing (the play judges the fleet afterwards)
  fleetops.lifecycle.fleet_probe:
    fleet_tiers: "{{ fleet_tiers }}"
    groups: "{{ group_names }}"
    phase: health
    min_free_percent: 10
    fail_on_unhealthy: false
  register: health
"""

RETURN = r"""
ok:
  description: Whether every probe passed.
  returned: always
  type: bool
  sample: true
failed_probes:
  description: Names of the probes that did not pass, in the order they ran.
  returned: always
  type: list
  elements: str
  sample: []
summary:
  description: One line, every failing probe with its message, or that all passed.
  returned: always
  type: str
  sample: all 3 probes passed
probes:
  description:
    - One result per probe, the units' first, then O(extra_probes); each as in
      M(fleetops.lifecycle.health_check)'s C(probes) (C(name), C(type), C(ok), C(value),
      C(threshold), C(message), C(duration_ms), C(attempts)).
  returned: always
  type: list
  elements: dict
  sample: [{name: demo_blue_active, type: systemd, ok: true, value: active, threshold: [active],
            message: "demo@blue is active", duration_ms: 9.4, attempts: 1}]
units:
  description: The host's units of the tiers, with C(enabled) and C(active) as systemd reported them.
  returned: always
  type: list
  elements: dict
  sample: [{tier: app, name: demo@blue, port: 8081, ready_path: /readyz, server: blue, enabled: true, active: true}]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fleet import PHASES
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fleet_probe import probe_host
from ansible_collections.fleetops.lifecycle.plugins.module_utils.health import RUN_OPTIONS_SPEC, exit_with_probes

ARGUMENT_SPEC = dict(
    fleet_tiers=dict(type="dict", required=True),
    groups=dict(type="list", elements="str", required=True),
    phase=dict(type="str", choices=list(PHASES), default="health"),
    min_free_percent=dict(type="float", default=5),
    extra_probes=dict(type="list", elements="dict", default=[]),
    **RUN_OPTIONS_SPEC
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    exit_with_probes(module, probe_host)


if __name__ == "__main__":
    main()
