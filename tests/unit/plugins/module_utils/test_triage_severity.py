"""Proposed severity from the triage evidence, and the deadlines of the policy table."""

import copy
from pathlib import Path

import pytest
import yaml
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError
from ansible_collections.fleetops.lifecycle.plugins.module_utils.haproxy import parse_show_stat
from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_severity import (
    deadlines,
    host_serving,
    propose,
    validate_policy,
    validate_rules,
)

ROOT = Path(__file__).resolve().parents[4]

POLICY = yaml.safe_load((ROOT / "roles" / "triage" / "defaults" / "main.yml").read_text())["triage_severity_policy"]
APPS = ["app1", "app2", "app3", "app4"]


def server(name, serving=True):
    return dict(name=name, status="UP" if serving else "DOWN", weight=256, serving=serving)


def evidence(serving=("app1", "app2", "app3", "app4"), statuses=None, ratio=None, probes=None):
    hosts = dict((h, dict(status="collected", message="", probes=[])) for h in APPS)
    hosts.update(statuses or {})
    for host, results in (probes or {}).items():
        hosts[host]["probes"] = results
    servers = dict((h, [server(h + "-blue", h in serving)]) for h in APPS)
    return dict(app_hosts=APPS, hosts=hosts, servers=servers, backend="demo", error_ratio=ratio,
                probe_impact={"frontend": "P0", "disk": "P2"})


def test_all_serving_and_healthy_is_p3_without_impact():
    result = propose(evidence())
    assert result == dict(severity="P3",
                          reasons=["P3: no user impact found: every app host serves and every probe passed"])


def test_no_serving_server_is_a_full_outage():
    result = propose(evidence(serving=()))
    assert result["severity"] == "P0"
    assert "P0: no server of backend demo takes traffic (0 of 4 app hosts serve)" in result["reasons"]


def test_under_half_serving_is_major():
    result = propose(evidence(serving=("app1",)))
    assert result["severity"] == "P1"
    assert "P1: only 1 of 4 app hosts serve in backend demo (below 50%)" in result["reasons"]


def test_one_host_down_is_partial():
    result = propose(evidence(serving=("app1", "app2", "app3")))
    assert result["severity"] == "P2"
    assert "P2: app4 serves no traffic (app4-blue DOWN w=256)" in result["reasons"]


def test_an_unreachable_host_is_partial_and_named():
    result = propose(evidence(statuses={"app2": dict(status="unreachable", message="ssh timeout")}))
    assert result["severity"] == "P2"
    assert "P2: app2: unreachable (ssh timeout)" in result["reasons"]


def test_no_app_host_answering_is_an_outage():
    statuses = dict((h, dict(status="unreachable", message="x")) for h in APPS)
    assert propose(evidence(statuses=statuses))["severity"] == "P0"


@pytest.mark.parametrize("ratio,severity", [(0.001, "P3"), (0.01, "P2"), (0.049, "P2"), (0.05, "P1"), (0.5, "P1")])
def test_error_ratio_against_the_slo(ratio, severity):
    assert propose(evidence(ratio=ratio))["severity"] == severity


def test_probe_impact():
    failed = [dict(name="frontend", ok=False, message="GET / refused")]
    result = propose(evidence(probes={"app1": failed}))
    assert result["severity"] == "P0"
    assert result["reasons"] == ["P0: app1: probe frontend failed: GET / refused"]
    other = propose(evidence(probes={"app1": [dict(name="ready-green", ok=False, message="503")]}))
    assert other == dict(severity="P3", reasons=["P3: app1: probe ready-green failed: 503"])


def test_without_load_balancer_state_capacity_is_unknown():
    data = evidence()
    data["servers"] = None
    result = propose(data)
    assert result["severity"] == "P1"
    assert result["reasons"] == ["P1: no load balancer state could be read: serving capacity unknown"]


def test_reasons_are_sorted_worst_first():
    result = propose(evidence(serving=(), ratio=0.02))
    assert [r[:2] for r in result["reasons"]] == sorted(r[:2] for r in result["reasons"])


def test_host_serving_from_show_stat():
    csv = ("# pxname,svname,status,weight,uweight,type\n"
           "demo,app1-blue,UP,256,256,2\ndemo,app1-green,MAINT,0,0,2\ndemo,app2-blue,DOWN,256,256,2\n"
           "demo,BACKEND,UP,256,256,1\n")
    rows = parse_show_stat(csv)
    assert [s["serving"] for s in host_serving(rows, "demo", "app1")] == [True, False]
    assert [s["serving"] for s in host_serving(rows, "demo", "app2")] == [False]
    assert host_serving(rows, "demo", "app3") == []


def test_deadlines_of_p0_from_the_policy_table():
    result = deadlines("P0", POLICY, 1796535000.0)
    assert (result["response_minutes"], result["update_minutes"], result["resolution_minutes"]) == (5, 15, 60)
    assert result["respond_by"] == "2026-12-06T05:35:00.000Z"
    assert result["resolve_by"] == "2026-12-06T06:30:00.000Z"
    assert [s["level"] for s in result["escalation"]] == ["L1", "L2", "L3"]
    assert result["escalation"][2]["at"] == "2026-12-06T05:45:00.000Z"


def test_policy_needs_every_severity():
    policy = copy.deepcopy(POLICY)
    del policy["P2"]
    with pytest.raises(ResultError) as error:
        validate_policy(policy)
    assert error.value.msg == "severity_policy: no entry for P2 (every one of P0, P1, P2, P3 needs one)"


def test_policy_minutes_must_be_positive():
    policy = copy.deepcopy(POLICY)
    policy["P1"]["update_minutes"] = 0
    with pytest.raises(ResultError) as error:
        validate_policy(policy)
    assert error.value.msg == "severity_policy.P1.update_minutes: 0 must be a number of minutes above 0"


def test_rules_are_checked():
    with pytest.raises(ResultError) as error:
        validate_rules({"slo_error_ratio": 2})
    assert error.value.msg == "severity_rules.slo_error_ratio: 2 must be a number above 0 and at most 1"
    with pytest.raises(ResultError, match="severity_rules.burn: unknown rule"):
        validate_rules({"burn": 0.1})
