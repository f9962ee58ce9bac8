# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read HAProxy server state from a stats CSV; the logic lives in module_utils.haproxy."""

from __future__ import annotations

DOCUMENTATION = r"""
name: haproxy_servers
short_description: Server weights and admin states of a backend, from HAProxy's stats CSV
version_added: 0.1.0
description:
  - Parses the CSV of the runtime API's C(show stat) or of the stats page
    (C(/stats;csv)) and returns the weight and admin state of every server of one
    backend, the same shape as the C(servers) returned by
    M(fleetops.lifecycle.haproxy_server).
  - C(weight) is the configured (user) weight, not the one lowered during slow start.
  - C(admin) is read from the C(status) column, which shows C(DOWN) or C(NOLB) instead of
    the drain flag while the health checks fail; such a server reads as C(ready) (and, with
    a weight, as serving by its state, though HAProxy sends it nothing while it is down).
    M(fleetops.lifecycle.haproxy_server) reads the flag from C(show servers state).
positional: backend
options:
  _input:
    description: The CSV text.
    type: str
    required: true
  backend:
    description: Backend name.
    type: str
    required: true
  absent_ok:
    description:
      - What a backend the CSV does not list gives; V(false) fails naming the backends it
        lists, V(true) returns no servers (a service not yet in front of HAProxy).
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Read the stats CSV
  ansible.builtin.uri:
    url: "http://lb1:8404/stats;csv"
    return_content: true
  register: stats

- name: Server states of backend demo
  ansible.builtin.debug:
    msg: "{{ stats.content | fleetops.lifecycle.haproxy_servers('demo') }}"
"""

RETURN = r"""
_value:
  description: 'C({"<server>": {"weight": int, "admin": "ready"|"drain"|"maint"}}).'
  type: dict
"""

from ansible_collections.fleetops.lifecycle.plugins.module_utils import haproxy
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def _servers(csv_text, backend, absent_ok):
    rows = haproxy.parse_show_stat(csv_text)
    if absent_ok and backend not in haproxy.backend_names(rows):
        return {}
    return haproxy.current_servers(rows, backend)


def haproxy_servers(csv_text, backend, absent_ok=False):
    return wrap("haproxy_servers", _servers, csv_text, backend, absent_ok)


class FilterModule(object):
    def filters(self):
        return {"haproxy_servers": haproxy_servers}
