# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet health filters over health_check results; the logic lives in module_utils.health_summary.

Each filter is documented in its own sidecar file (``health_table.yml``,
``health_state.yml``) next to this one.
"""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils import health_summary
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def health_table(results):
    """Fixed-width text table host x probe with a legend of the failure messages."""
    return wrap("health_table", health_summary.health_table, results)


def health_state(results, tiers, lb_probe=None):
    """healthy / degraded / down, with reasons and per-tier counts."""
    return wrap("health_state", health_summary.fleet_state, results, tiers, lb_probe)


class FilterModule(object):
    def filters(self):
        return {
            "health_table": health_table,
            "health_state": health_state,
        }
