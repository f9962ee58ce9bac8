# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tier_order filter: a thin wrapper over module_utils.tiers."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter.tiers import FilterModule

FILTERS = FilterModule().filters()
FLEET = {
    "data": {"group": "data", "depends_on": []},
    "app": {"group": "app", "depends_on": ["data"]},
    "edge": {"group": "loadbalancers", "depends_on": ["app"]},
}


def test_filter_map():
    assert sorted(FILTERS) == ["tier_order"]


def test_tier_order():
    assert FILTERS["tier_order"](FLEET) == [["data"], ["app"], ["edge"]]
    assert FILTERS["tier_order"](FLEET, reverse=True) == [["edge"], ["app"], ["data"]]
    assert FILTERS["tier_order"](FLEET, only=["app"]) == [["app"]]


@pytest.mark.parametrize("fleet, kwargs, message", [
    (dict(FLEET, app={"depends_on": ["edge"]}), {},
     "tier_order: fleet_tiers has a dependency cycle: app -> edge -> app"),
    (dict(FLEET, app={"depends_on": ["db"]}), {},
     "tier_order: fleet_tiers: tier 'app' depends_on unknown tier 'db' (known tiers: app, data, edge)"),
    ({}, {}, "tier_order: fleet_tiers must be a non-empty mapping tier -> {depends_on: [tiers], group: ...}, got {}"),
    (FLEET, {"only": "cache"}, "tier_order: only: tier 'cache' is not in fleet_tiers (known tiers: app, data, edge)"),
    (FLEET, {"only": [{"tier": "app"}]}, "tier_order: "),
])
def test_errors(fleet, kwargs, message):
    with pytest.raises(AnsibleFilterError) as exc:
        FILTERS["tier_order"](fleet, **kwargs)
    assert str(exc.value).startswith(message)
