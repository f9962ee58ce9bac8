# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""health_table and health_state filters: thin wrappers over module_utils.health_summary."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter.health import FilterModule

FILTERS = FilterModule().filters()
RESULTS = {
    "app1": {"ok": True, "probes": [{"name": "readyz", "ok": True, "message": "fine"}]},
    "app2": {"ok": False, "probes": [{"name": "readyz", "ok": False, "message": "answered 503, expected 200"}]},
}


def test_filter_map():
    assert sorted(FILTERS) == ["health_state", "health_table"]


def test_health_table():
    table = FILTERS["health_table"](RESULTS)
    assert table.splitlines()[2:4] == ["app1  ok        ok", "app2  FAIL [1]  FAIL"]
    assert table.endswith("[1] app2 readyz: answered 503, expected 200\n")


def test_health_state():
    state = FILTERS["health_state"](RESULTS, {"app": ["app1", "app2"]})
    assert (state["state"], state["tiers"]["app"]["healthy"]) == ("degraded", 1)
    assert FILTERS["health_state"](RESULTS, {"app": ["app2"]})["state"] == "down"


@pytest.mark.parametrize("name, args, message", [
    ("health_table", (["app1"],), "health_table: results[0] has no host name (a 'host' key), got 'app1'"),
    ("health_state", (RESULTS, None),
     "health_state: tiers must be a non-empty mapping tier -> list of hosts, got None"),
    ("health_state", (RESULTS, {"app": ["app1"]}, {"name": "x"}),
     "health_state: lb_probe must be a probe name or a list of probe names, got {'name': 'x'}"),
])
def test_errors(name, args, message):
    with pytest.raises(AnsibleFilterError) as exc:
        FILTERS[name](*args)
    assert str(exc.value) == message
