# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Maintenance filters; the logic lives in module_utils.cleanup and module_utils.change_policy.

Documented in the sidecar files ``maintenance_table.yml``, ``maintenance_calendar.yml`` and
``unexpected_ports.yml``.
"""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils import change_policy, cleanup
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def maintenance_table(rows, dry_run=False):
    return wrap("maintenance_table", cleanup.action_table, rows, dry_run)


def maintenance_calendar(window, schedule):
    return wrap("maintenance_calendar",
                 lambda: cleanup.window_calendar(change_policy.parse_window(window, "maintenance_window"), schedule))


def unexpected_ports(ss_output, allowed):
    return wrap("unexpected_ports", lambda: cleanup.unexpected_ports(cleanup.listening_ports(ss_output), allowed))


class FilterModule(object):
    def filters(self):
        return {"maintenance_table": maintenance_table, "maintenance_calendar": maintenance_calendar,
                "unexpected_ports": unexpected_ports}
