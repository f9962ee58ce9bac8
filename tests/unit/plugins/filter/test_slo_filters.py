# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Error-budget filters: thin wrappers over module_utils.slo.

Import path: tests/unit/conftest.py puts the collection on sys.path.
"""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter.slo import FilterModule

FILTERS = FilterModule().filters()


def test_filter_map():
    assert sorted(FILTERS) == ["burn_rate", "burn_rate_alerts", "error_budget"]


def test_error_budget():
    budget = FILTERS["error_budget"](0.999, 99950, 100000)
    assert budget["consumed"] == 0.5
    assert budget["remaining"] == 0.5
    assert budget["allowed_errors"] == 100.0
    assert budget["exhausted"] is False
    assert FILTERS["error_budget"](0.99, 98, 100)["exhausted"] is True


@pytest.mark.parametrize(
    "args, message",
    [
        ((1.5, 1, 2), "error_budget: slo_target must be a number in (0, 1), got 1.5"),
        ((99.9, 1, 2), "error_budget: slo_target must be a number in (0, 1), got 99.9"),
        ((0.999, -1, 2), "error_budget: good must be a non-negative number, got -1"),
        ((0.999, 3, 2), "error_budget: good (3) must not exceed total (2)"),
        ((0.999, 1, "2"), "error_budget: total must be a non-negative number, got '2'"),
    ],
)
def test_error_budget_errors(args, message):
    with pytest.raises(AnsibleFilterError) as exc:
        FILTERS["error_budget"](*args)
    assert str(exc.value) == message


def test_burn_rate():
    assert FILTERS["burn_rate"](0.02, 0.999) == 20.0
    assert FILTERS["burn_rate"](0.0005, 0.999) == 0.5


@pytest.mark.parametrize(
    "args, message",
    [
        ((2, 0.999), "burn_rate: error_ratio must be a number in [0, 1], got 2"),
        ((0.1, 0), "burn_rate: slo_target must be a number in (0, 1), got 0"),
    ],
)
def test_burn_rate_errors(args, message):
    with pytest.raises(AnsibleFilterError) as exc:
        FILTERS["burn_rate"](*args)
    assert str(exc.value) == message


def test_burn_rate_alerts():
    result = FILTERS["burn_rate_alerts"]({"1h": 0.02, "5m": 0.03}, 0.999)
    assert result["alert"] is True
    assert result["rules"][0]["reason"] == "burn rate 20 over 1h and 30 over 5m both above 14.4x"
    custom = [{"long_window": "1h", "short_window": "5m", "threshold": 50}]
    assert FILTERS["burn_rate_alerts"]({"1h": 0.02, "5m": 0.03}, 0.999, custom)["alert"] is False


def test_burn_rate_alerts_errors():
    with pytest.raises(AnsibleFilterError) as exc:
        FILTERS["burn_rate_alerts"]({"1h": 2, "5m": 0.1}, 0.999)
    assert str(exc.value) == "burn_rate_alerts: error_ratio[1h] must be a number in [0, 1], got 2"
