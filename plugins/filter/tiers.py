# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tier start/stop order filter; the logic lives in module_utils.tiers.

Documented in the sidecar file ``tier_order.yml`` next to this one.
"""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils import tiers
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def tier_order(fleet_tiers, reverse=False, only=None, name="fleet_tiers"):
    """Waves of tiers to start (or, reversed, to stop)."""
    return wrap("tier_order", tiers.tier_order, fleet_tiers, reverse=reverse, only=only, name=name)


class FilterModule(object):
    def filters(self):
        return {"tier_order": tier_order}
