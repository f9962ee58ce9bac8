# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters over inventory data; the logic lives in module_utils.inventory."""

from __future__ import annotations

DOCUMENTATION = r"""
name: host_address
short_description: Address other hosts use to reach an inventory host
version_added: 0.1.0
description:
  - Returns I(service_address) when set, else the default IPv4 address from facts,
    else I(ansible_host), else the inventory name.
positional: host_name
options:
  _input:
    description: The host's variables, e.g. C(hostvars[host]).
    type: dict
    required: true
  host_name:
    description: The inventory name, used when nothing better is known.
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Address of app1
  ansible.builtin.debug:
    msg: "{{ hostvars['app1'] | fleetops.lifecycle.host_address('app1') }}"
"""

RETURN = r"""
_value:
  description: The address.
  type: str
"""

from ansible_collections.fleetops.lifecycle.plugins.module_utils.inventory import host_address
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def _host_address(host_vars, host_name):
    # hostvars entries are lazy mappings: read only the keys needed.
    return wrap("host_address", host_address, host_vars, host_name)


class FilterModule(object):
    def filters(self):
        return {"host_address": _host_address}
