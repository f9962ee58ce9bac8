#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: slot_info
short_description: Read each slot of a service on a host - its release, unit state and HAProxy state - and the ledger
version_added: 0.2.0
description:
  - For each slot of the service (O(slots)), reads the release its C(<service_root>/current-<slot>) link points
    to, the state of its systemd unit (O(service_unit) with C({slot}) replaced, as C(systemctl is-active) says)
    and, with O(haproxy_servers), its HAProxy server C(<host>-<slot>).
  - Reads the release ledger O(ledger_path) for the last good release and every good release, newest first
    (the rules of M(fleetops.lifecycle.release_ledger)).
  - Works for any service through the service contract's variables (C(service_root), C(service_unit),
    C(service_ledger_path)); see C(docs/service_contract.md).
  - Reads only; never reports a change.
author:
  - fleetops maintainers (@fleetops)
options:
  service_root:
    description: Absolute path of the service's install root (C(service_root)), which holds the C(current-<slot>) links.
    type: path
    required: true
  service_unit:
    description: A slot's systemd unit with one C({slot}) in it (C(service_unit)), such as C(shop@{slot}.service).
    type: str
    required: true
  ledger_path:
    description:
      - Absolute path of the service's release ledger on this host (C(service_ledger_path)).
      - A missing file is an empty ledger.
    type: path
    required: true
  slots:
    description: The slot names.
    type: list
    elements: str
    default: [blue, green]
  haproxy_servers:
    description:
      - "The server states of the service's HAProxy backend, as the P(fleetops.lifecycle.haproxy_servers#filter)
        filter or M(fleetops.lifecycle.haproxy_server) return them (server name to C(weight) and C(admin) or
        C(state)), read once for every host."
      - Each slot gets the state of the server C(<host>-<slot>), null when the backend has none.
    type: dict
  host:
    description: This host's name in its HAProxy server names (C(<host>-<slot>)); required with O(haproxy_servers).
    type: str
  free_space_path:
    description:
      - Also measure the space free on the file system of this absolute path (C(statvfs), the space available to
        unprivileged users, as C(df)'s Available), returned as RV(free_mb).
    type: path
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
attributes:
  check_mode:
    support: full
    details: Reads only, in check mode as in a normal run.
  diff_mode:
    support: none
notes:
  - A C(current-<slot>) path that is missing or not a symbolic link has no release (V("")).
seealso:
  - module: fleetops.lifecycle.release_ledger
  - module: fleetops.lifecycle.haproxy_server
"""

EXAMPLES = r"""
- name: Read the demo's slots
  fleetops.lifecycle.slot_info:
    service_root: /opt/demo
    service_unit: demo@{slot}.service
    ledger_path: /var/lib/fleetops/demo/ledger.jsonl
  register: slots

- name: Read another service's slots with their HAProxy state (read once on the controller)
  fleetops.lifecycle.slot_info:
    service_root: "{{ service_root }}"
    service_unit: "{{ service_unit }}"
    ledger_path: "{{ service_ledger_path }}"
    haproxy_servers: "{{ stats.content | fleetops.lifecycle.haproxy_servers(service_backend) }}"
    host: "{{ inventory_hostname }}"
  register: slots

- name: Say what serves
  ansible.builtin.debug:
    msg: "blue runs {{ slots.slots.blue.release }} ({{ slots.slots.blue.unit_state }}); last good {{ slots.last_good }}"
"""

RETURN = r"""
slots:
  description: Each slot, by name.
  returned: success
  type: dict
  contains:
    slot:
      description: The slot's name.
      type: str
      returned: success
      sample: blue
    release:
      description: The release its C(current-<slot>) link points to; V("") without one.
      type: str
      returned: success
      sample: 2.0.0
    unit:
      description: Its systemd unit.
      type: str
      returned: success
      sample: demo@blue.service
    unit_state:
      description: What C(systemctl is-active) says of the unit (C(active), C(inactive), C(failed), ...).
      type: str
      returned: success
      sample: active
    active:
      description: Whether the unit is active.
      type: bool
      returned: success
      sample: true
    haproxy:
      description:
        - The HAProxy server C(<host>-<slot>) - C(weight), C(admin) (C(ready), C(drain), C(maint)) and
          C(serving) (ready with a weight above 0).
        - Null without O(haproxy_servers) or when the backend has no such server.
      type: dict
      returned: success
      sample: {weight: 100, admin: ready, serving: true}
  sample:
    blue: {slot: blue, release: 2.0.0, unit: demo@blue.service, unit_state: active, active: true,
           haproxy: {weight: 100, admin: ready, serving: true}}
    green: {slot: green, release: 1.0.0, unit: demo@green.service, unit_state: inactive, active: false,
            haproxy: {weight: 0, admin: maint, serving: false}}
last_good:
  description: The ledger's newest good release; V("") when there is none.
  returned: success
  type: str
  sample: 2.0.0
good:
  description: The ledger's good releases, newest first.
  returned: success
  type: list
  elements: str
  sample: [2.0.0, 1.0.0]
free_mb:
  description: Whole MiB free for unprivileged users on the file system of O(free_space_path).
  returned: when O(free_space_path) is given
  type: int
  sample: 1843
ledger_records:
  description: How many valid records the ledger holds.
  returned: success
  type: int
  sample: 7
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError
from ansible_collections.fleetops.lifecycle.plugins.module_utils.slot_info import read_slots

ARGUMENT_SPEC = dict(
    service_root=dict(type="path", required=True),
    service_unit=dict(type="str", required=True),
    ledger_path=dict(type="path", required=True),
    slots=dict(type="list", elements="str", default=["blue", "green"]),
    haproxy_servers=dict(type="dict"),
    host=dict(type="str"),
    free_space_path=dict(type="path"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = read_slots(module.params, module.run_command)
    except ResultError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
