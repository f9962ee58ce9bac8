# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the slo_gate module, run in-process against a loopback fake Prometheus
with a fake clock in place of time (see module_utils/gate_fakes.py)."""

from __future__ import annotations

import pytest
import yaml
from ansible_collections.fleetops.lifecycle.plugins.module_utils import gate_providers
from ansible_collections.fleetops.lifecycle.plugins.modules import slo_gate
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.module_utils.gate_fakes import (
    FakeClock,
    FakePrometheus,
    Slot,
    advance_all,
    free_port,
)
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import (
    AnsibleFailJson,
    assert_options_match_spec,
    run_module,
)

pytestmark = pytest.mark.usefixtures("ansible_module_exits")

GREEN = '{job="demo",slot="green"}'
BLUE = '{job="demo",slot="blue"}'


@pytest.fixture
def clock(monkeypatch):
    """The module's clock, faked: sleeping advances time and the traffic of every slot
    registered in ``clock.slots``."""
    fake = FakeClock()
    fake.slots = []

    def on_sleep():
        advance_all(*fake.slots)()

    fake.on_sleep = on_sleep
    monkeypatch.setattr(gate_providers, "SystemClock", lambda: fake)
    return fake


def args(url, **overrides):
    params = {"prometheus_url": url, "target": GREEN, "window": 60, "interval": 15}
    params.update(overrides)
    return params


def test_healthy_canary_passes_and_changes_nothing(clock):
    green = Slot([(400, 0)] * 4)
    clock.slots.append(green)
    with FakePrometheus({GREEN: green}).run() as url:
        result = run_module(slo_gate.main, args(url))
    assert result["changed"] is False
    assert (result["verdict"], result["action"], result["provider"], result["window"]) == (
        "pass", "proceed", "prometheus", 60.0)
    assert [c["name"] for c in result["conditions"]] == ["error_ratio", "availability", "health"]
    first = result["conditions"][0]
    assert {key: first[key] for key in ("type", "threshold", "comparison", "sustained_for", "min_requests")} == {
        "type": "error_ratio", "threshold": 0.01, "comparison": ">", "sustained_for": 3, "min_requests": 10,
    }
    assert [sample[1:] for sample in first["samples"]] == [[0.0, 400]] * 4
    assert result["started"] < result["ended"]
    assert "comparison" not in result


def test_failing_canary_returns_fail_without_failing_the_task(clock):
    green = Slot([(412, 21), (398, 20), (405, 21), (400, 0)])
    clock.slots.append(green)
    with FakePrometheus({GREEN: green}).run() as url:
        result = run_module(slo_gate.main, args(url, conditions=[{"type": "error_ratio"}]))
    assert (result["verdict"], result["action"]) == ("fail", "rollback")
    # Ansible fails a task whose result has a truthy "failed" key
    assert "failed" not in result and result["failed_conditions"] == ["error_ratio"]
    assert result["summary"] == (
        "FAIL: error_ratio 0.0519 > 0.01 for 3 consecutive samples (requests 412, 398, 405); action rollback "
        "(stopped early after 3 of 4 samples)"
    )
    reason = result["conditions"][0]["reason"]
    assert reason.startswith("error_ratio breached for 3 consecutive samples from t=1767139215 to t=1767139245: ")
    assert "5.09709%, 5.02513%, 5.18519% (requests 412, 398, 405)" in reason
    assert "fail when error ratio > 1% for sustained_for=3 consecutive sample(s)" in reason


def test_fail_on_verdict_fails_the_task_with_the_summary(clock):
    green = Slot([(400, 20)] * 4)
    clock.slots.append(green)
    with FakePrometheus({GREEN: green}).run() as url:
        with pytest.raises(AnsibleFailJson) as exc:
            run_module(slo_gate.main, args(url, fail_on_verdict=True, conditions=[{"type": "error_ratio"}]))
    result = exc.value.result
    assert result["msg"] == result["summary"]
    assert result["msg"].startswith("FAIL: error_ratio 0.05 > 0.01 for 3 consecutive samples (requests 400, 400, 400)")
    assert result["verdict"] == "fail" and result["conditions"][0]["verdict"] == "fail"


def test_inconclusive_with_fail_on_verdict_and_policy_fail_fails_the_task(clock):
    green = Slot([(3, 0)] * 4)
    clock.slots.append(green)
    with FakePrometheus({GREEN: green}).run() as url:
        with pytest.raises(AnsibleFailJson) as exc:
            run_module(slo_gate.main, args(url, fail_on_verdict=True))
    assert exc.value.result["msg"].startswith(
        "INCONCLUSIVE: error_ratio 4 of 4 samples inconclusive (3 requests < min_requests 10)"
    )
    assert exc.value.result["action_reason"] == "gate inconclusive and on_inconclusive=fail"


def test_on_inconclusive_pass_proceeds(clock):
    green = Slot([(3, 0)] * 4)
    clock.slots.append(green)
    with FakePrometheus({GREEN: green}).run() as url:
        result = run_module(slo_gate.main, args(url, on_inconclusive="pass", fail_on_verdict=True))
    assert (result["verdict"], result["action"]) == ("inconclusive", "proceed")


def test_check_mode_runs_the_same_analysis(clock):
    green = Slot([(400, 20)] * 4)
    clock.slots.append(green)
    with FakePrometheus({GREEN: green}).run() as url:
        result = run_module(slo_gate.main, args(url), check_mode=True)
    assert (result["changed"], result["verdict"], result["action"]) == (False, "fail", "rollback")


def test_unreachable_prometheus_is_inconclusive_never_pass(clock):
    port = free_port()
    result = run_module(slo_gate.main, args("http://127.0.0.1:%d" % port, on_inconclusive="wait", max_waits=1))
    assert (result["verdict"], result["action"], result["waits"]) == ("inconclusive", "rollback", 1)
    assert result["action_reason"] == "gate still inconclusive after every allowed wait (on_inconclusive=wait)"
    assert "GET http://127.0.0.1:%d/api/v1/query?query=demo_http_requests_total" % port in result["summary"]
    assert all(c["verdict"] == "inconclusive" for c in result["conditions"])


def test_canary_vs_stable(clock):
    green = Slot([(400, 8)] * 4)
    blue = Slot([(400, 0)] * 4)
    clock.slots.extend([green, blue])
    with FakePrometheus({GREEN: green, BLUE: blue}).run() as url:
        result = run_module(slo_gate.main, args(url, compare_to=BLUE, conditions=[{"type": "health"}]))
    assert result["verdict"] == "fail"
    assert result["comparison"]["verdict"] == "fail"
    assert result["comparison"]["difference"] == pytest.approx(0.02)
    assert result["summary"] == (
        "FAIL: canary error_ratio 0.02 vs stable 0 (difference 0.02 > margin 0.01); action rollback"
    )


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            {"conditions": [{"type": "error_ratio", "threshold": 1.5}]},
            "conditions[0].threshold must be a number in [0, 1], got 1.5",
        ),
        (
            {"conditions": [{"type": "health"}, {"type": "latency", "threshold": -0.5}]},
            "conditions[1].threshold must be a number greater than 0, got -0.5",
        ),
        (
            {"conditions": [{"type": "latency"}]},
            "conditions[0].threshold is required for a latency condition (seconds)",
        ),
        (
            {"window": 30, "conditions": [{"type": "error_ratio", "sustained_for": 3}]},
            "conditions[0].sustained_for (3) exceeds the 2 sample(s) of the window (window / interval): "
            "the condition could never fail",
        ),
        ({"interval": 0}, "interval must be a number greater than 0, got 0.0"),
        ({"target": "job=demo"}, 'target must be a Prometheus label selector like {job="demo",slot="green"} for '
                                 "provider=prometheus, got 'job=demo'"),
        (
            {"provider": "haproxy", "target": {"backend": "demo", "servers": "-green$"}},
            "provider=haproxy needs exactly one of haproxy_socket (the runtime API socket) or haproxy_stats_url "
            "(e.g. http://lb:8404/stats;csv), got haproxy_socket=None, haproxy_stats_url=None",
        ),
        (
            {"provider": "haproxy", "haproxy_socket": "/run/h.sock", "haproxy_stats_url": "http://lb:8404/stats;csv"},
            "parameters are mutually exclusive: haproxy_socket|haproxy_stats_url",
        ),
    ],
)
def test_bad_input_fails_with_a_clear_message(clock, overrides, message):
    with pytest.raises(AnsibleFailJson) as exc:
        run_module(slo_gate.main, args("http://127.0.0.1:9", **overrides))
    assert exc.value.result["msg"] == message
    assert clock.sleeps == []  # refused before any sampling


def test_validate_only_returns_the_plan_and_measures_nothing(clock):
    # Port 9 is closed: a single measurement would make the verdict inconclusive.
    result = run_module(slo_gate.main, args("http://127.0.0.1:9", validate_only=True, window=9, interval=3,
                                            conditions=[{"type": "error_ratio", "threshold": 0.02}]))
    assert "verdict" not in result and clock.sleeps == []
    assert result["plan"]["samples"] == 3
    assert result["plan"]["conditions"] == [
        {"name": "error_ratio", "type": "error_ratio", "threshold": 0.02, "sustained_for": 3, "min_requests": 10}]


def test_validate_only_refuses_a_bad_condition(clock):
    with pytest.raises(AnsibleFailJson) as exc:
        run_module(slo_gate.main, args("http://127.0.0.1:9", validate_only=True,
                                       conditions=[{"type": "error_ratio", "threshold": 1.5}]))
    assert exc.value.result["msg"] == "conditions[0].threshold must be a number in [0, 1], got 1.5"


def test_ansible_validates_condition_types(clock):
    with pytest.raises(AnsibleFailJson) as exc:
        run_module(slo_gate.main, args("http://127.0.0.1:9", conditions=[{"type": "errors"}]))
    assert "value of type must be one of: availability, error_ratio, health, latency, got: errors" in (
        exc.value.result["msg"])


def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(slo_gate.DOCUMENTATION)
    yaml.safe_load(slo_gate.EXAMPLES)
    yaml.safe_load(slo_gate.RETURN)

    assert_options_match_spec(doc["options"], slo_gate.ARGUMENT_SPEC)
    assert doc["attributes"]["check_mode"]["support"] == "full"
