# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLO arithmetic: exact decimals for budgets, burn rates and the workbook's alert pairs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo_math
from hypothesis import given
from hypothesis import strategies as st


def pairs(window):
    return [(p["severity"], p["budget_consumed"], p["long_window"], p["short_window"], p["burn_rate"], p["scaled"])
            for p in slo_math.alert_pairs(window)]


def test_30_day_window_gives_the_workbook_thresholds_exactly():
    assert pairs("30d") == [
        ("page", Decimal("2"), "1h", "5m", Decimal("14.4"), False),
        ("page", Decimal("5"), "6h", "30m", Decimal("6"), False),
        ("ticket", Decimal("10"), "3d", "6h", Decimal("1"), False),
    ]


def test_28_day_window_scales_the_thresholds():
    assert pairs("28d") == [
        ("page", Decimal("2"), "1h", "5m", Decimal("13.44"), False),
        ("page", Decimal("5"), "6h", "30m", Decimal("5.6"), False),
        ("ticket", Decimal("10"), "3d", "6h", Decimal("0.9333333333333333333333333333"), False),
    ]
    assert slo_math.promql_number(pairs("28d")[2][4]) == "0.9333333333"


def test_7_day_window_keeps_the_windows_and_scales_the_thresholds():
    assert [(p[2], p[4]) for p in pairs("7d")] == [
        ("1h", Decimal("3.36")), ("6h", Decimal("1.4")), ("3d", Decimal("0.2333333333333333333333333333"))]


def test_a_window_shorter_than_the_longest_pair_scales_the_windows_too():
    # 24 h: 1/30 of the workbook's windows, whole minutes, at least 1 m; the burn
    # rates stay the workbook's where the rounding allows.
    assert pairs("24h") == [
        ("page", Decimal("2"), "2m", "1m", Decimal("14.4"), True),
        ("page", Decimal("5"), "12m", "1m", Decimal("6"), True),
        ("ticket", Decimal("10"), "144m", "12m", Decimal("1"), True),
    ]
    # 1 h: every window rounds up to the 1 m floor, so the thresholds say what the
    # windows really mean (2 % of the budget in 1 m of a 1 h SLO is a 1.2x burn).
    assert pairs("1h") == [
        ("page", Decimal("2"), "1m", "1m", Decimal("1.2"), True),
        ("page", Decimal("5"), "1m", "1m", Decimal("3"), True),
        ("ticket", Decimal("10"), "6m", "1m", Decimal("1"), True),
    ]


def test_error_budget_is_exact():
    assert slo_math.error_budget(99.9) == Decimal("0.001")
    assert slo_math.error_budget("99.95") == Decimal("0.0005")
    assert slo_math.error_budget(98) == Decimal("0.02")


def test_burn_rate():
    assert slo_math.burn_rate(0.0144, 99.9) == Decimal("14.4")
    assert slo_math.burn_rate(0.001, 99.9) == Decimal("1")
    assert slo_math.burn_rate(0, 99.9) == Decimal("0")


def test_budget_remaining_half_spent_and_overspent():
    half = slo_math.budget_remaining(99.9, 99950, 100000)
    assert (half["error_ratio"], half["consumed"], half["remaining"], half["exhausted"]) == (
        Decimal("0.0005"), Decimal("0.5"), Decimal("0.5"), False)
    exact = slo_math.budget_remaining(99.9, 999, 1000)
    assert exact["consumed"] == Decimal("1") and exact["exhausted"] is True
    over = slo_math.budget_remaining(99, 900, 1000)
    assert over["consumed"] == Decimal("10") and over["remaining"] == Decimal("-9")


def test_no_events_is_no_data_never_a_full_budget():
    empty = slo_math.budget_remaining(99.9, 0, 0)
    assert empty["remaining"] is None and empty["consumed"] is None and empty["exhausted"] is None
    assert slo_math.budget_from_sli(99.9, None)["remaining"] is None


def test_budget_from_sli():
    result = slo_math.budget_from_sli(99.9, 0.9995)
    assert result["remaining"] == Decimal("0.5") and result["exhausted"] is False


@given(st.integers(1, 9999), st.integers(0, 10**6), st.integers(0, 10**6))
def test_exhausted_exactly_when_the_errors_reach_the_allowed_count(objective_hundredths, a, b):
    good, total = min(a, b), max(a, b)
    objective = Decimal(objective_hundredths) / 100
    result = slo_math.budget_remaining(objective, good, total)
    if total == 0:
        assert result["exhausted"] is None
    else:
        allowed = (1 - objective / 100) * total  # exact: both are short decimals
        assert result["exhausted"] is (total - good >= allowed)


@pytest.mark.parametrize("objective, message", [
    (100, "objective must be a percentage above 0 and below 100, got 100"),
    (0, "objective must be a percentage above 0 and below 100, got 0"),
    (-1, "objective must be a percentage above 0 and below 100, got -1"),
    (100.5, "objective must be a percentage above 0 and below 100, got 100.5"),
    (True, "objective must be a number, got True"),
    ("abc", "objective must be a number, got 'abc'"),
    (float("nan"), "objective must be a finite number, got nan"),
])
def test_bad_objectives(objective, message):
    with pytest.raises(ValueError) as err:
        slo_math.error_budget(objective)
    assert str(err.value) == message


@pytest.mark.parametrize("value, message", [
    ("30x", "window has unknown unit 'x' in '30x'; known units: s, m, h, d, w"),
    ("30 days", "window must be a duration such as 30d, 7d, 24h or 5m (a whole number and a unit), got '30 days'"),
    ("0d", "window must be longer than 0, got '0d'"),
    (30, "window must be a duration such as 30d, 7d, 24h or 5m, got 30"),
])
def test_bad_durations(value, message):
    with pytest.raises(ValueError) as err:
        slo_math.parse_duration("window", value)
    assert str(err.value) == message


def test_bad_inputs_to_budget_and_burn_rate():
    with pytest.raises(ValueError, match=r"^good \(5\) must not exceed total \(4\)$"):
        slo_math.budget_remaining(99.9, 5, 4)
    with pytest.raises(ValueError, match=r"^error_ratio must be in \[0, 1\], got 1.5$"):
        slo_math.burn_rate(1.5, 99.9)


def test_format_duration():
    assert [slo_math.format_duration(s) for s in (86400, 5400, 90, 604800)] == ["1d", "90m", "90s", "1w"]
