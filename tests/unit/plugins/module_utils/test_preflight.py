"""The shared preflight's messages name the variable the user sets."""

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils.preflight import (
    preflight_problems,
    unreachable_verdict,
)

GROUPS = {"all": ["app1", "lb1"], "app": ["app1"], "loadbalancers": ["lb1"], "empty": []}
NEEDED = [{"group": "app", "variable": "deploy_app_group"}, {"group": "loadbalancers", "variable": "deploy_lb_group"}]


def test_nothing_wrong_is_no_problem():
    required = [{"variable": "deploy_version", "example": "2.0.0", "value": "2.0.0"}]
    assert preflight_problems(NEEDED, GROUPS, required) == []


def test_a_fixed_group_is_named_alone():
    assert preflight_problems([{"group": "monitoring"}], GROUPS) == ["group monitoring is not in the inventory"]


def test_a_missing_and_an_empty_group_are_named_with_their_variable():
    needed = [{"group": "nolb", "variable": "deploy_lb_group"}, {"group": "empty", "variable": "deploy_app_group"}]
    assert preflight_problems(needed, GROUPS) == [
        "group nolb (deploy_lb_group=nolb) is not in the inventory",
        "group empty (deploy_app_group=empty) has no hosts",
    ]


@pytest.mark.parametrize("value", ["", None, [], {}])
def test_an_input_left_empty_says_how_to_pass_it(value):
    required = [{"variable": "deploy_version", "example": "2.0.0", "value": value}]
    assert preflight_problems([], GROUPS, required) == ["deploy_version is required: pass -e deploy_version=2.0.0"]


@pytest.mark.parametrize("bad, message", [
    ("app", "preflight_groups must be a list of {group, variable}, got 'app'"),
    ([{"variable": "x"}], "preflight_groups[0] must be a mapping with group, got {'variable': 'x'}"),
    ("x", "preflight_groups must be a list of {group, variable}, got 'x'"),
])
def test_bad_specs_are_refused_by_name(bad, message):
    with pytest.raises(ValueError) as exc:
        preflight_problems(bad, GROUPS)
    assert str(exc.value) == message


def test_unreachable_hosts_stop_the_run_by_name_unless_it_works_per_host():
    assert unreachable_verdict(["app1", "app2", "app9"], ["app1", "app2"], False) == (
        True, "unreachable: app9; nothing was changed (every host must be reachable for this playbook)")
    assert unreachable_verdict(["app1", "app2", "app9"], ["app1", "app2"], True) == (
        False, "unreachable: app9; going on with the 2 reachable host(s) (this playbook works per host)")
    assert unreachable_verdict(["app1"], ["app1"], False) == (False, "every host reached: app1")
