# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change policy: change types, change ids, the maintenance window and its override."""

from __future__ import annotations

import datetime

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import change_policy as cp
from hypothesis import given
from hypothesis import strategies as st

WINDOW = cp.DEFAULT_WINDOW
INSIDE = cp.parse_now("2026-12-06T02:30:00Z")  # first Sunday of December 2026
OUTSIDE = cp.parse_now("2026-12-08T10:00:00Z")


def test_the_default_window_is_the_first_sunday_02_to_04():
    window = cp.parse_window(WINDOW)
    assert cp.window_state(window, INSIDE)[0] is True
    inside, start, end = cp.window_state(window, OUTSIDE)
    assert not inside
    # next first Sunday after 8 Dec 2026 is 3 Jan 2027
    assert (start.isoformat(), end.isoformat()) == ("2027-01-03T02:00:00+00:00", "2027-01-03T04:00:00+00:00")


def test_the_window_end_is_exclusive_and_the_start_inclusive():
    window = cp.parse_window(WINDOW)
    assert cp.window_state(window, cp.parse_now("2026-12-06T02:00:00Z"))[0]
    assert not cp.window_state(window, cp.parse_now("2026-12-06T04:00:00Z"))[0]


@pytest.mark.parametrize("spec, now, inside", [
    ("last fri 22:00-23:30", "2026-12-25T22:15:00Z", True),   # 25 Dec 2026 is the last Friday
    ("last fri 22:00-23:30", "2026-12-18T22:15:00Z", False),
    ("every wed 01:00-02:00", "2026-12-16T01:59:00Z", True),
    ("second Tuesday 00:00-24:00", "2026-12-08T13:00:00Z", True),
])
def test_other_windows(spec, now, inside):
    assert cp.window_state(cp.parse_window(spec), cp.parse_now(now))[0] is inside


@given(st.datetimes(min_value=datetime.datetime(2000, 1, 1), max_value=datetime.datetime(2090, 1, 1)))
def test_the_next_window_is_a_first_sunday_and_never_in_the_past(naive):
    now = naive.replace(tzinfo=datetime.timezone.utc)
    inside, start, end = cp.window_state(cp.parse_window(WINDOW), now)
    assert start.weekday() == 6 and start.day <= 7 and (start.hour, end.hour) == (2, 4)
    assert (start <= now < end) if inside else (start > now)


@pytest.mark.parametrize("spec, message", [
    ("sunday", "change_policy_window='sunday': must look like 'first sun 02:00-04:00'"),
    ("fifth sun 02:00-04:00", "change_policy_window='fifth sun 02:00-04:00': 'fifth' is not one of first, second"),
    ("first funday 02:00-04:00", "change_policy_window='first funday 02:00-04:00': 'funday' is not a weekday"),
    ("first sun 25:00-26:00", "change_policy_window='first sun 25:00-26:00': 25:00 is not a time of day"),
    ("first sun 04:00-02:00", "change_policy_window='first sun 04:00-02:00': the window must end after it starts"),
    (7, "change_policy_window=7: must be a string"),
])
def test_malformed_windows_are_refused_by_name(spec, message):
    with pytest.raises(cp.PolicyError) as exc:
        cp.parse_window(spec)
    assert str(exc.value).startswith(message)


def test_an_unknown_change_type_is_refused():
    with pytest.raises(cp.PolicyError) as exc:
        cp.decide("urgent", "CHG-1", True, WINDOW, INSIDE)
    assert str(exc.value) == "change_type='urgent': must be one of standard, normal, emergency"


def test_a_change_id_with_spaces_is_refused():
    with pytest.raises(cp.PolicyError, match=r"^change_id='CHG 1; rm': must be a ticket reference"):
        cp.decide("normal", "CHG 1; rm", True, WINDOW, INSIDE)


def test_normal_production_change_needs_a_change_id():
    ruling = cp.decide("normal", None, True, WINDOW, INSIDE)
    assert not ruling["allowed"]
    assert ruling["message"].startswith("a normal change to a production inventory needs a change id")


def test_normal_production_change_inside_the_window_is_allowed():
    ruling = cp.decide("normal", "CHG-1", True, WINDOW, INSIDE)
    assert ruling["allowed"] and ruling["in_window"] and not ruling["window_override"]
    assert ruling["kind"] == "change_policy" and ruling["change_id"] == "CHG-1"


def test_outside_the_window_it_needs_the_override_which_is_recorded():
    refused = cp.decide("normal", "CHG-1", True, WINDOW, OUTSIDE)
    assert not refused["allowed"] and "outside the window (next 2027-01-03T02:00:00Z" in refused["message"]
    allowed = cp.decide("normal", "CHG-1", True, WINDOW, OUTSIDE, override=True)
    assert allowed["allowed"] and allowed["window_override"] is True


def test_the_override_is_not_recorded_when_it_was_not_needed():
    assert cp.decide("normal", "CHG-1", True, WINDOW, INSIDE, override=True)["window_override"] is False


def test_emergency_is_always_allowed_and_marked():
    ruling = cp.decide("emergency", None, True, WINDOW, OUTSIDE)
    assert ruling["allowed"] and ruling["emergency"] and ruling["message"].startswith("EMERGENCY change (no id)")


def test_standard_only_from_a_standard_playbook():
    assert cp.decide("standard", None, True, WINDOW, OUTSIDE, standard_ok=True)["allowed"]
    refused = cp.decide("standard", None, True, WINDOW, OUTSIDE, playbook="deploy.yml")
    assert not refused["allowed"]
    assert refused["message"].startswith("change_type=standard: deploy.yml is not a standard change")


def test_not_production_allows_normal_changes_without_id_or_window():
    assert cp.decide("normal", None, False, WINDOW, OUTSIDE)["allowed"]


@pytest.mark.parametrize("value, message", [
    ("yesterday", "now='yesterday': not an ISO 8601 time"),
    ("2026-12-06T02:30:00", "now='2026-12-06T02:30:00': needs a time zone"),
])
def test_bad_now(value, message):
    with pytest.raises(cp.PolicyError) as exc:
        cp.parse_now(value)
    assert str(exc.value).startswith(message)
