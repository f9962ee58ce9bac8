# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Rollout filters: thin wrappers over module_utils.rollout.

Import path: tests/unit/conftest.py puts the collection on sys.path.
"""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter.rollout import FilterModule

FILTERS = FilterModule().filters()
HOSTS = ["app%d" % i for i in range(1, 11)]


def test_filter_map():
    assert sorted(FILTERS) == [
        "analysis_window",
        "canary_batches",
        "canary_stages",
        "live_slots",
        "release_probes",
        "rollout_plan",
        "short_of_space",
        "slot_releases",
        "slot_servers",
        "traffic_share",
        "traffic_weights",
        "ungated_stage",
    ]


def test_canary_stages():
    assert FILTERS["canary_stages"]([10, "50%", 100]) == [10, 50, 100]
    assert FILTERS["canary_stages"](None) == [10, 50, 100]


@pytest.mark.parametrize(
    "stages, message",
    [
        ([10, 5, 100], "canary_stages: canary_stages[1] = 5 does not increase over the previous stage 10"),
        (
            [10, 50],
            "canary_stages: canary_stages must end at 100 (all traffic on the new release), the last stage is 50",
        ),
        ([0, 100], "canary_stages: canary_stages[0] = 0 is out of range"),
        ("10,50", "canary_stages: canary_stages must end at 100"),
    ],
)
def test_canary_stages_errors(stages, message):
    with pytest.raises(AnsibleFilterError) as exc:
        FILTERS["canary_stages"](stages)
    assert message in str(exc.value)


def test_traffic_weights_by_count_and_by_names():
    assert FILTERS["traffic_weights"](10, 3) == [
        {"new": 26, "old": 230},
        {"new": 26, "old": 230},
        {"new": 25, "old": 231},
    ]
    assert FILTERS["traffic_weights"](50, ["a", "b"]) == {
        "a": {"new": 128, "old": 128},
        "b": {"new": 128, "old": 128},
    }
    assert FILTERS["traffic_weights"](100, 2, 100) == [{"new": 100, "old": 0}] * 2


@pytest.mark.parametrize(
    "args, message",
    [
        ((150, 3), "traffic_weights: target_percent must be a number from 0 to 100, got 150"),
        ((10, 0), "traffic_weights: host_count must be a positive integer, got 0"),
        ((10, "app1"), "traffic_weights: hosts must be a host count or a list of host names, got 'app1'"),
        ((10, {"a": 1}), "traffic_weights: hosts must be a host count or a list of host names"),
        ((10, ["a", "a"]), "traffic_weights: hosts[1] = 'a' appears more than once"),
        (
            (10, 3, 300),
            "traffic_weights: max_weight must be an integer from 1 to 256 (HAProxy's weight range), got 300",
        ),
    ],
)
def test_traffic_weights_errors(args, message):
    with pytest.raises(AnsibleFilterError) as exc:
        FILTERS["traffic_weights"](*args)
    assert message in str(exc.value)


def test_traffic_share():
    assert FILTERS["traffic_share"]([{"new": 64, "old": 192}]) == 25.0
    assert FILTERS["traffic_share"](FILTERS["traffic_weights"](50, ["a", "b", "c"])) == 50.0
    with pytest.raises(AnsibleFilterError, match=r"^traffic_share: weights are all 0"):
        FILTERS["traffic_share"]([{"new": 0, "old": 0}])


def test_canary_batches():
    assert FILTERS["canary_batches"](HOSTS) == [HOSTS[:1], HOSTS[1:5], HOSTS[5:]]
    assert FILTERS["canary_batches"](HOSTS, [20, 100]) == [HOSTS[:2], HOSTS[2:]]


@pytest.mark.parametrize(
    "args, message",
    [
        (([],), "canary_batches: hosts must not be empty"),
        ((HOSTS, [50, 40, 100]), "canary_batches: canary_stages[1] = 40 does not increase over the previous stage 50"),
        ((HOSTS, [10, 50]), "canary_batches: canary_stages must end at 100"),
        ((["a", None],), "canary_batches: hosts[1] = None is not a host name"),
    ],
)
def test_canary_batches_errors(args, message):
    with pytest.raises(AnsibleFilterError) as exc:
        FILTERS["canary_batches"](*args)
    assert message in str(exc.value)


def test_rollout_plan():
    plan = FILTERS["rollout_plan"](["a", "b"], [50, 100])
    assert plan == [
        {
            "stage": 1,
            "target": 50,
            "weights": {"a": {"new": 128, "old": 128}, "b": {"new": 128, "old": 128}},
            "share": 50.0,
            "batch": ["a"],
            "hosts_done": 1,
        },
        {
            "stage": 2,
            "target": 100,
            "weights": {"a": {"new": 256, "old": 0}, "b": {"new": 256, "old": 0}},
            "share": 100.0,
            "batch": ["b"],
            "hosts_done": 2,
        },
    ]
    with pytest.raises(AnsibleFilterError, match=r"^rollout_plan: canary_stages must not be empty"):
        FILTERS["rollout_plan"](["a"], [])


def test_analysis_window_and_ungated_stage():
    assert FILTERS["analysis_window"]("0") == 0
    assert FILTERS["ungated_stage"](10, 60) is None
    assert FILTERS["ungated_stage"](100, 0)["verdict"] == "not_analysed"
    with pytest.raises(AnsibleFilterError, match=r"^analysis_window: deploy_analysis_window must be a whole number"):
        FILTERS["analysis_window"](-5)
    with pytest.raises(AnsibleFilterError, match=r"^ungated_stage: stage must be a traffic percentage"):
        FILTERS["ungated_stage"](0, 0)


def test_short_of_space_filter_names_the_option_of_a_bad_minimum():
    with pytest.raises(AnsibleFilterError) as info:
        FILTERS["short_of_space"]([{"free_mb": 1}], ["app1"], "lots", "deploy_min_free_mb")
    assert "deploy_min_free_mb must be a whole number of MB, 0 or more, got 'lots'" in str(info.value)
    assert FILTERS["short_of_space"]([{"free_mb": 1}], ["app1"], 2) == ["app1 has 1 MB free, deploy_min_free_mb=2"]


def test_slot_releases_filter():
    info = {"slots": {"blue": {"release": "1.0.0"}}, "last_good": "1.0.0", "good": ["1.0.0"]}
    assert FILTERS["slot_releases"]([info], ["app1"]) == {
        "app1": {"blue": "1.0.0", "last_good": "1.0.0", "good": ["1.0.0"]}}


def test_release_probes_filter():
    probes = FILTERS["release_probes"]("http://lb:80/version", "version", "2.0.0", 2)
    assert [(p["name"], p["json_value"]) for p in probes] == [("request 1", "2.0.0"), ("request 2", "2.0.0")]
    with pytest.raises(AnsibleFilterError, match=r"^release_probes: count=0: must be a whole number of at least 1$"):
        FILTERS["release_probes"]("http://lb:80/version", "version", "2.0.0", 0)
