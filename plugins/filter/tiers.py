# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tier start/stop order filter; the logic lives in module_utils.tiers.

Documented in the sidecar file ``tier_order.yml`` next to this one.
"""

from __future__ import annotations

from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.module_utils import tiers


def tier_order(fleet_tiers, reverse=False, only=None, name="fleet_tiers"):
    """Waves of tiers to start (or, reversed, to stop)."""
    try:
        return tiers.tier_order(fleet_tiers, reverse=reverse, only=only, name=name)
    except (TypeError, ValueError) as exc:
        raise AnsibleFilterError("tier_order: %s" % exc) from exc


class FilterModule(object):
    def filters(self):
        return {"tier_order": tier_order}
