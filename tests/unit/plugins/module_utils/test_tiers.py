# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tier start/stop order: examples, errors and properties (hypothesis)."""

from __future__ import annotations

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import tiers
from hypothesis import given, settings
from hypothesis import strategies as st

FLEET = {
    "data": {"group": "data", "depends_on": []},
    "app": {"group": "app", "depends_on": ["data"]},
    "edge": {"group": "loadbalancers", "depends_on": ["app"]},
}


def test_start_and_shutdown_order():
    assert tiers.tier_order(FLEET) == [["data"], ["app"], ["edge"]]
    assert tiers.tier_order(FLEET, reverse=True) == [["edge"], ["app"], ["data"]]


def test_independent_tiers_share_a_wave_sorted_by_name():
    fleet = dict(FLEET, cache={"group": "cache"}, monitoring=None, worker={"depends_on": "data"},
                 batch={"depends_on": ["data", "cache"]})
    assert tiers.tier_order(fleet) == [["cache", "data", "monitoring"], ["app", "batch", "worker"], ["edge"]]
    # the longest chain decides: edge waits for app even though data is also a dependency
    fleet["edge"] = {"depends_on": ["app", "data"]}
    assert tiers.tier_order(fleet)[-1] == ["edge"]


def test_key_order_does_not_matter():
    assert tiers.tier_order(dict(reversed(list(FLEET.items())))) == tiers.tier_order(FLEET)


def test_only():
    assert tiers.tier_order(FLEET, only=["edge", "data"]) == [["data"], ["edge"]]
    assert tiers.tier_order(FLEET, only="app", reverse=True) == [["app"]]


@pytest.mark.parametrize("fleet, kwargs, message", [
    ({}, {}, "fleet_tiers must be a non-empty mapping tier -> {depends_on: [tiers], group: ...}, got {}"),
    ([], {}, "fleet_tiers must be a non-empty mapping tier -> {depends_on: [tiers], group: ...}, got []"),
    ({"app": {"depends_on": ["edge"]}, "edge": {"depends_on": ["app"]}}, {},
     "fleet_tiers has a dependency cycle: app -> edge -> app"),
    (dict(FLEET, data={"depends_on": ["edge"]}), {}, "fleet_tiers has a dependency cycle: app -> data -> edge -> app"),
    ({"app": {"depends_on": ["app"]}}, {}, "fleet_tiers has a dependency cycle: app -> app"),
    ({"app": {"depends_on": ["db"]}, "data": {}}, {},
     "fleet_tiers: tier 'app' depends_on unknown tier 'db' (known tiers: app, data)"),
    ({"app": {"depends_on": 5}}, {}, "fleet_tiers['app'].depends_on must be a list of tier names, got 5"),
    ({"app": ["data"]}, {}, "fleet_tiers['app'] must be a mapping (depends_on, group, hosts), got ['data']"),
    ({"": {}}, {}, "fleet_tiers: tier names must be non-empty strings, got ''"),
    (FLEET, {"only": ["db"]}, "only: tier 'db' is not in fleet_tiers (known tiers: app, data, edge)"),
    (FLEET, {"only": []}, "only must be a tier name or a non-empty list of tier names, got []"),
    (FLEET, {"reverse": "yes"}, "reverse must be true or false, got 'yes'"),
    ({}, {"name": "site_tiers"}, "site_tiers must be a non-empty mapping tier -> {depends_on: [tiers], group: ...}, "
                                 "got {}"),
])
def test_errors(fleet, kwargs, message):
    with pytest.raises(ValueError) as exc:
        tiers.tier_order(fleet, **kwargs)
    assert str(exc.value) == message


@st.composite
def dags(draw):
    """A random acyclic tier map: tier i may only depend on tiers before it."""
    count = draw(st.integers(min_value=1, max_value=12))
    names = draw(st.lists(st.text("abcdefgh", min_size=1, max_size=4), min_size=count, max_size=count, unique=True))
    fleet = {}
    for index, name in enumerate(names):
        deps = draw(st.lists(st.sampled_from(names[:index]), unique=True)) if index else []
        fleet[name] = {"depends_on": deps, "group": name}
    return fleet


@settings(max_examples=150, deadline=None)
@given(dags())
def test_every_dependency_starts_in_an_earlier_wave(fleet):
    order = tiers.tier_order(fleet)
    wave_of = dict((tier, index) for index, wave in enumerate(order) for tier in wave)
    assert sorted(wave_of) == sorted(fleet)  # every tier exactly once
    assert sum(len(wave) for wave in order) == len(fleet)
    assert all(wave == sorted(wave) and wave for wave in order)
    for tier, settings_ in fleet.items():
        for dep in settings_["depends_on"]:
            assert wave_of[dep] < wave_of[tier]
        # as early as possible: right after its latest dependency
        assert wave_of[tier] == 1 + max([wave_of[dep] for dep in settings_["depends_on"]] or [-1])
    stop = tiers.tier_order(fleet, reverse=True)
    assert stop == list(reversed(order))
    assert tiers.tier_order(dict(reversed(list(fleet.items())))) == order


@settings(max_examples=150, deadline=None)
@given(dags(), st.data())
def test_cycles_are_always_detected(fleet, data):
    names = list(fleet)
    # close a cycle: an earlier tier now depends on a later one that (transitively or directly) depends on it,
    # or a tier on itself
    low = data.draw(st.integers(min_value=0, max_value=len(names) - 1))
    high = data.draw(st.integers(min_value=low, max_value=len(names) - 1))
    fleet[names[high]]["depends_on"] = sorted(set(fleet[names[high]]["depends_on"]) | {names[low]})
    if high != low:
        fleet[names[low]]["depends_on"] = sorted(set(fleet[names[low]]["depends_on"]) | {names[high]})
    with pytest.raises(ValueError) as exc:
        tiers.tier_order(fleet)
    message = str(exc.value)
    assert message.startswith("fleet_tiers has a dependency cycle: ")
    path = message.split(": ", 1)[1].split(" -> ")
    assert path[0] == path[-1] and len(path) >= 2
    for tier, dep in zip(path, path[1:]):  # every step of the reported path is a real dependency
        assert dep in fleet[tier]["depends_on"]
    assert len(set(path[:-1])) == len(path) - 1  # a simple cycle
