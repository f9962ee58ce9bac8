# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet health: the text table and the healthy / degraded / down classification."""

from __future__ import annotations

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import health_summary as hs


def probe(name, ok=True, message=None):
    return {"name": name, "type": "http", "ok": ok, "message": message or "%s fine" % name}


def result(*probes):
    return {"changed": False, "ok": all(p["ok"] for p in probes), "probes": list(probes),
            "failed_probes": [p["name"] for p in probes if not p["ok"]]}


HEALTHY = result(probe("readyz"), probe("disk"))
TIERS = {"app": ["app1", "app2"], "edge": ["lb1"]}


def fleet(**overrides):
    results = {"app1": HEALTHY, "app2": HEALTHY, "lb1": result(probe("through_lb"))}
    results.update(overrides)
    return results


def test_table():
    results = fleet(app2=result(probe("readyz", False, "GET http://127.0.0.1:8081/readyz answered 503,\nexpected 200"),
                                probe("disk")),
                    lb1={"unreachable": True, "msg": "Failed to connect to the host via ssh"})
    assert hs.health_table(results) == (
        "host  readyz    disk  state\n"
        "----  --------  ----  ---------------\n"
        "app1  ok        ok    ok\n"
        "app2  FAIL [1]  ok    FAIL\n"
        "lb1   -         -     UNREACHABLE [2]\n"
        "\n"
        "1 of 3 hosts healthy\n"
        "\n"
        "[1] app2 readyz: GET http://127.0.0.1:8081/readyz answered 503, expected 200\n"
        "[2] lb1: unreachable: Failed to connect to the host via ssh\n"
    )


def test_table_from_a_list_with_hosts_and_missing_results():
    results = [dict(HEALTHY, host="app1"), {"host": "app2", "failed": True, "msg": "bad probe definition: x"},
               {"host": "app3", "skipped": True}]
    table = hs.health_table(results)
    assert table.splitlines()[:5] == [
        "host  readyz  disk  state",
        "----  ------  ----  -------------",
        "app1  ok      ok    ok",
        "app2  -       -     NO RESULT [1]",
        "app3  -       -     NO RESULT [2]",
    ]
    assert table.splitlines()[-2:] == ["[1] app2: health check failed: bad probe definition: x",
                                       "[2] app3: health check skipped"]
    assert hs.health_table({}) == "no health results"


def test_healthy():
    state = hs.fleet_state(fleet(), TIERS, lb_probe="through_lb")
    assert state == {
        "state": "healthy",
        "reasons": ["every probe passed on all 3 hosts"],
        "tiers": {"app": {"hosts": 2, "healthy": 2, "unhealthy": 0, "unhealthy_hosts": []},
                  "edge": {"hosts": 1, "healthy": 1, "unhealthy": 0, "unhealthy_hosts": []}},
        "hosts": {"total": 3, "healthy": 3, "unhealthy": 0},
        "unhealthy_hosts": [],
        "lb": {"through_lb": {"ran_on": ["lb1"], "failed_on": []}},
    }


def test_degraded_when_a_tier_keeps_a_healthy_host():
    state = hs.fleet_state(fleet(app2=result(probe("readyz", False, "answered 503"), probe("disk", False))), TIERS,
                           lb_probe="through_lb")
    assert state["state"] == "degraded"
    assert state["reasons"] == ["tier app has 1 of 2 hosts unhealthy (app2: failed readyz, disk)"]
    assert state["tiers"]["app"] == {"hosts": 2, "healthy": 1, "unhealthy": 1, "unhealthy_hosts": ["app2"]}
    assert state["unhealthy_hosts"] == ["app2"]


def test_down_when_a_tier_has_no_healthy_host():
    state = hs.fleet_state(fleet(app1={"unreachable": True, "msg": "timeout"}, app2=result(probe("readyz", False))),
                           TIERS)
    assert state["state"] == "down"
    assert state["reasons"] == ["tier app has no healthy host (app1: unreachable: timeout; app2: failed readyz)"]
    assert state["hosts"] == {"total": 3, "healthy": 1, "unhealthy": 2}


def test_down_when_the_lb_probe_fails():
    state = hs.fleet_state(fleet(lb1=result(probe("through_lb", False, "GET http://lb/ answered 503, expected 200"))),
                           {"app": ["app1", "app2"]}, lb_probe="through_lb")
    assert state["state"] == "down"
    assert state["reasons"] == [
        "through-LB probe through_lb failed on every host that ran it (lb1: GET http://lb/ answered 503, expected 200)",
        "host lb1 (in no tier) is unhealthy: failed through_lb",
    ]


def test_lb_probe_failing_on_some_hosts_only_degrades():
    results = fleet(app1=result(probe("readyz"), probe("through_lb", False, "timeout")),
                    app2=result(probe("readyz"), probe("through_lb")))
    state = hs.fleet_state(results, TIERS, lb_probe=["through_lb"])
    assert state["state"] == "degraded"
    assert state["lb"] == {"through_lb": {"ran_on": ["app1", "app2", "lb1"], "failed_on": ["app1"]}}
    assert "through-LB probe through_lb failed on 1 of 3 hosts (app1: timeout)" in state["reasons"]


def test_lb_probe_that_ran_nowhere_is_down():
    state = hs.fleet_state(fleet(), TIERS, lb_probe="via_haproxy")
    assert state["state"] == "down"
    assert state["reasons"] == ["through-LB probe via_haproxy ran on no host, the service path is unknown"]


def test_a_tier_host_without_result_is_unhealthy():
    results = fleet()
    del results["lb1"]
    state = hs.fleet_state(results, {"app": ["app1", "app2"], "edge": {"hosts": ["lb1"]}})
    assert state["state"] == "down"
    assert state["reasons"] == ["tier edge has no healthy host (lb1: no health result)"]
    assert state["unhealthy_hosts"] == ["lb1"] and state["hosts"]["total"] == 3


@pytest.mark.parametrize("results, tiers, lb_probe, message", [
    ("app1", TIERS, None, "results must be a mapping host -> health_check result or a list of results with a "
                          "'host' key, got 'app1'"),
    ([{"probes": []}], TIERS, None, "results[0] has no host name (a 'host' key), got {'probes': []}"),
    ([{"host": "a"}, {"host": "a"}], TIERS, None, "results: host 'a' appears twice"),
    ({"app1": {"probes": [{"ok": True}]}}, TIERS, None,
     "results['app1'].probes[0] is not a health_check probe result (name, ok, message): {'ok': True}"),
    ({}, {}, None, "tiers must be a non-empty mapping tier -> list of hosts, got {}"),
    ({}, {"app": []}, None, "tiers['app'] must be a non-empty list of host names (or a mapping with 'hosts'), got []"),
    ({}, {"app": "app1"}, None,
     "tiers['app'] must be a non-empty list of host names (or a mapping with 'hosts'), got 'app1'"),
    ({}, TIERS, 5, "lb_probe must be a probe name or a list of probe names, got 5"),
])
def test_bad_input(results, tiers, lb_probe, message):
    with pytest.raises(ValueError) as exc:
        hs.fleet_state(results, tiers, lb_probe)
    assert str(exc.value) == message


def test_tiers_sharing_a_host_are_judged_by_their_own_probes():
    lb1 = result(probe("haproxy_ready"), probe("prometheus_ready", False, "connection refused"), probe("disk"))
    tiers = {"app": ["app1", "app2"], "edge": {"hosts": ["lb1"], "probes": ["haproxy_ready"]},
             "monitoring": {"hosts": ["lb1"], "probes": ["prometheus_ready"]}}
    state = hs.fleet_state(fleet(lb1=lb1), tiers, lb_probe="haproxy_ready")
    assert state["state"] == "down"
    assert state["tiers"]["edge"]["unhealthy"] == 0 and state["tiers"]["monitoring"]["unhealthy"] == 1
    assert state["reasons"] == ["tier monitoring has no healthy host (lb1: failed prometheus_ready)"]
    full_disk = result(probe("haproxy_ready"), probe("prometheus_ready"), probe("disk", False, "3% free"))
    assert hs.fleet_state(fleet(lb1=full_disk), tiers)["tiers"]["edge"]["unhealthy"] == 1  # no tier owns disk


def test_tier_probes_must_be_a_list_of_names():
    with pytest.raises(ValueError, match=r"tiers\['edge'\].probes must be a list of probe names, got 'x'"):
        hs.fleet_state(fleet(), {"edge": {"hosts": ["lb1"], "probes": "x"}})
