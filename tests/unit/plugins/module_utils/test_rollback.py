# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for module_utils.rollback: the rollback target and slot swap, per host."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter.rollback_plan import FilterModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.rollback import rollback_plan
from hypothesis import given
from hypothesis import strategies as st

HOSTS = ["app1", "app2"]
STEADY = {"old": "blue", "new": "green", "interrupted": False, "decided_by": "ledger"}
# A rollout of 3.0.0 into green stopped half way: the ledger still says 2.0.0.
INTERRUPTED = {"old": "blue", "new": "green", "interrupted": True, "decided_by": "ledger"}


def facts(blue, green, good):
    return {"blue": blue, "green": green, "last_good": good[0] if good else "", "good": list(good)}


def same(blue, green, good):
    return dict((host, facts(blue, green, good)) for host in HOSTS)


def test_steady_state_goes_back_to_the_previous_good_release_in_the_idle_slot():
    plan = rollback_plan(STEADY, same("3.0.0", "2.0.0", ["3.0.0", "2.0.0", "1.0.0"]), HOSTS)
    assert plan == {
        "target": "2.0.0", "target_from": "previous_good", "back_to_last_good": False,
        "from_slot": "blue", "to_slot": "green", "refusal": "",
        "hosts": {
            "app1": {"from_release": "3.0.0", "target_slot": "green", "swap_to": "green"},
            "app2": {"from_release": "3.0.0", "target_slot": "green", "swap_to": "green"},
        },
    }


def test_a_target_no_slot_holds_is_installed_into_the_idle_slot():
    plan = rollback_plan(STEADY, same("3.0.0", "", ["3.0.0", "2.0.0"]), HOSTS)
    assert plan["target"] == "2.0.0"
    assert plan["hosts"]["app1"] == {"from_release": "3.0.0", "target_slot": None, "swap_to": "green"}


def test_after_an_interrupted_rollout_traffic_goes_back_to_the_last_good_slot():
    plan = rollback_plan(INTERRUPTED, same("2.0.0", "3.0.0", ["2.0.0", "1.0.0"]), HOSTS)
    assert (plan["target"], plan["target_from"], plan["back_to_last_good"]) == ("2.0.0", "last_good", True)
    assert (plan["from_slot"], plan["to_slot"]) == ("green", "blue")
    assert plan["hosts"]["app2"] == {"from_release": "3.0.0", "target_slot": "blue", "swap_to": "blue"}
    assert plan["refusal"] == ""


def test_a_named_release_wins_over_the_ledger_even_after_an_interruption():
    plan = rollback_plan(INTERRUPTED, same("2.0.0", "3.0.0", ["2.0.0", "1.0.0"]), HOSTS, " 1.0.0 ")
    assert (plan["target"], plan["target_from"], plan["back_to_last_good"]) == ("1.0.0", "rollback_release", False)
    assert (plan["from_slot"], plan["to_slot"]) == ("blue", "green")
    assert plan["hosts"]["app1"]["target_slot"] is None


def test_interrupted_by_weights_alone_is_a_plain_rollback():
    live = dict(INTERRUPTED, decided_by="weights")
    plan = rollback_plan(live, same("3.0.0", "2.0.0", ["3.0.0", "2.0.0"]), HOSTS)
    assert (plan["back_to_last_good"], plan["from_slot"], plan["target"]) == (False, "blue", "2.0.0")


def test_each_host_is_planned_from_its_own_facts_not_the_first_hosts():
    # app1 runs 2.0.0 in green already; app2's green is empty: one installs, one does not.
    releases = {"app1": facts("3.0.0", "2.0.0", ["3.0.0", "2.0.0"]),
                "app2": facts("3.0.0", "", ["3.0.0", "2.0.0"])}
    plan = rollback_plan(STEADY, releases, HOSTS)
    assert plan["hosts"]["app1"]["target_slot"] == "green"
    assert plan["hosts"]["app2"]["target_slot"] is None


def test_hosts_whose_ledgers_disagree_are_refused_by_name():
    releases = {"app1": facts("3.0.0", "2.0.0", ["3.0.0", "2.0.0"]),
                "app2": facts("3.0.0", "1.0.0", ["3.0.0", "1.0.0"])}
    plan = rollback_plan(STEADY, releases, HOSTS)
    assert plan["refusal"] == (
        "the hosts' ledgers disagree on the release to roll back to (app1: 2.0.0, app2: 1.0.0); "
        "name one with rollback_release"
    )
    assert plan["target"] == ""
    # Naming the release settles it.
    assert rollback_plan(STEADY, releases, HOSTS, "2.0.0")["refusal"] == ""


def test_a_host_without_a_release_to_go_back_to_is_named():
    releases = {"app1": facts("3.0.0", "2.0.0", ["3.0.0", "2.0.0"]), "app2": facts("3.0.0", "", ["3.0.0"])}
    plan = rollback_plan(STEADY, releases, HOSTS, ledger_path="/var/lib/fleetops/shop/ledger.jsonl")
    assert plan["refusal"] == (
        "no previous good release in /var/lib/fleetops/shop/ledger.jsonl before the serving one on app2 (serving 3.0.0)"
    )


def test_an_empty_ledger_everywhere_names_every_host():
    plan = rollback_plan(STEADY, same("", "", []), HOSTS)
    assert plan["refusal"] == (
        "no previous good release in the ledger before the serving one on "
        "app1 (serving nothing), app2 (serving nothing)"
    )


def test_a_named_release_that_already_serves_is_refused():
    plan = rollback_plan(STEADY, same("4.0.0", "2.0.0", ["4.0.0", "2.0.0"]), HOSTS, "4.0.0")
    assert plan["refusal"] == "rollback_release=4.0.0 already serves all traffic"
    assert plan["hosts"]["app1"]["target_slot"] == "blue"


def test_a_host_already_on_the_target_does_not_stop_the_others():
    releases = {"app1": facts("4.0.0", "2.0.0", ["4.0.0"]), "app2": facts("2.0.0", "4.0.0", ["4.0.0"])}
    plan = rollback_plan(STEADY, releases, HOSTS, "4.0.0")
    assert plan["refusal"] == ""
    assert plan["hosts"]["app1"] == {"from_release": "4.0.0", "target_slot": "blue", "swap_to": "green"}
    assert plan["hosts"]["app2"] == {"from_release": "2.0.0", "target_slot": "green", "swap_to": "green"}


@pytest.mark.parametrize("args, message", [
    (({"old": "red", "new": "green"}, {}, HOSTS), "live.old: expected blue or green, got 'red'"),
    (({"old": "blue", "new": "blue"}, {}, HOSTS), "live: old and new are both blue"),
    (("blue", {}, HOSTS), "live: expected the result of the live_slots filter, got 'blue'"),
    ((STEADY, {}, []), "hosts: expected a non-empty list of app hosts, got []"),
    ((STEADY, [], HOSTS), "releases: expected a mapping of host to slot releases, got []"),
    ((STEADY, {"app1": facts("1", "2", ["1"])}, HOSTS),
     "releases: no slot facts for app host app2 (expected {blue, green, last_good, good}), got None"),
    ((STEADY, same("1", "2", []) | {"app1": dict(facts("1", "2", []), good="1")}, HOSTS),
     "releases.app1.good: expected a list of releases, newest first, got '1'"),
    ((STEADY, same("1", "2", ["1"]), HOSTS, 3), "rollback_release: expected a release id, got 3"),
])
def test_bad_input_is_named(args, message):
    with pytest.raises(ValueError) as info:
        rollback_plan(*args)
    assert str(info.value) == message


def test_the_filter_wraps_errors_with_its_name():
    plan = FilterModule().filters()["rollback_plan"]
    assert plan(STEADY, same("3.0.0", "2.0.0", ["3.0.0", "2.0.0"]), HOSTS)["target"] == "2.0.0"
    with pytest.raises(AnsibleFilterError) as info:
        plan(STEADY, {}, HOSTS)
    assert str(info.value).startswith("rollback_plan: releases: no slot facts for app host app1")


RELEASES = st.sampled_from(["", "1.0.0", "2.0.0", "3.0.0"])


@given(st.dictionaries(st.sampled_from(["app1", "app2", "app3"]),
                       st.tuples(RELEASES, RELEASES, st.lists(RELEASES.filter(bool), max_size=3)),
                       min_size=1),
       st.booleans(), st.sampled_from(["", "2.0.0"]))
def test_a_plan_that_runs_moves_every_host_to_one_target_in_the_other_slot(hosts, interrupted, requested):
    releases = dict((host, facts(blue, green, good)) for host, (blue, green, good) in hosts.items())
    live = dict(STEADY, interrupted=interrupted)
    plan = rollback_plan(live, releases, sorted(hosts), requested)
    assert plan["from_slot"] != plan["to_slot"]
    if plan["refusal"]:
        return
    assert plan["target"]
    for host, step in plan["hosts"].items():
        assert step["swap_to"] == plan["to_slot"]
        holder = step["target_slot"]
        assert holder is None or releases[host][holder] == plan["target"]
    assert any(step["from_release"] != plan["target"] for step in plan["hosts"].values())
