# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the slo_gate module, run in-process against a loopback fake Prometheus
with a fake clock in place of time (see module_utils/gate_fakes.py)."""

from __future__ import annotations

import pytest
import yaml
from ansible_collections.fleetops.lifecycle.plugins.module_utils import gate_run
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
    monkeypatch.setattr(gate_run, "SystemClock", lambda: fake)
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
    assert [sample[1:] for sample in first["samples"]] == [[0.0, 0, 400]] * 4
    assert (first["bad"], first["total"], first["test"]["decision"]) == (0, 1600, "pass")
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
    # 5 % errors: the stage test decides on the first sample, the rollback starts 15 s in
    assert result["samples"] == 1 and result["stopped_early"] is True
    assert result["summary"] == (
        "FAIL: error_ratio over the stage 5.1 % (21 of 412) > 1 %: the sequential test rejects it (a release at "
        "0.5 % or better fails at most 1 % of stages); breached in 1 of 1 samples (worst 5.1 % at 00:00:15); "
        "action rollback (1 sample(s) in 15s, stopped at the first failure)"
    )


def test_fail_on_verdict_fails_the_task_with_the_summary(clock):
    green = Slot([(400, 20)] * 4)
    clock.slots.append(green)
    with FakePrometheus({GREEN: green}).run() as url:
        with pytest.raises(AnsibleFailJson) as exc:
            run_module(slo_gate.main, args(url, fail_on_verdict=True, conditions=[{"type": "error_ratio"}]))
    result = exc.value.result
    assert result["msg"] == result["summary"]
    assert result["msg"].startswith("FAIL: error_ratio over the stage 5 % (20 of 400) > 1 %")
    assert result["verdict"] == "fail" and result["conditions"][0]["verdict"] == "fail"


def test_inconclusive_with_fail_on_verdict_and_policy_fail_fails_the_task(clock):
    green = Slot([(3, 0)] * 4)
    clock.slots.append(green)
    with FakePrometheus({GREEN: green}).run() as url:
        with pytest.raises(AnsibleFailJson) as exc:
            run_module(slo_gate.main, args(url, fail_on_verdict=True, max_window=60))
    message = exc.value.result["msg"]
    assert message.startswith(
        "INCONCLUSIVE: error_ratio over the stage 0 % (0 of 12); not yet enough to show it is at most 1 %, "
        "about 291 more requests without a 5xx answer are needed (~1455s at the 0.2 requests/s the new slot "
        "received); action rollback (4 sample(s) in 60s); to decide: send more traffic to the new slot, "
    ), message
    assert exc.value.result["action_reason"] == "gate inconclusive and on_inconclusive=fail"


def test_on_inconclusive_pass_proceeds(clock):
    green = Slot([(3, 0)] * 4)
    clock.slots.append(green)
    with FakePrometheus({GREEN: green}).run() as url:
        result = run_module(slo_gate.main, args(url, on_inconclusive="pass", fail_on_verdict=True, max_window=60))
    assert (result["verdict"], result["action"]) == ("inconclusive", "proceed")


def test_a_quiet_stage_is_extended_until_the_evidence_decides(clock):
    # 40 requests per 15 s: 303 clean requests take 8 samples, twice the window.
    green = Slot([(40, 0)] * 20)
    clock.slots.append(green)
    with FakePrometheus({GREEN: green}).run() as url:
        result = run_module(slo_gate.main, args(url, conditions=[{"type": "error_ratio"}]))
    assert (result["verdict"], result["samples"], result["max_window"]) == ("pass", 8, 600.0)
    assert result["summary"].endswith(
        "action proceed (8 sample(s) in 120s, stage extended past its 60s window while the evidence could not "
        "decide)")


def test_check_mode_runs_the_same_analysis(clock):
    green = Slot([(400, 20)] * 4)
    clock.slots.append(green)
    with FakePrometheus({GREEN: green}).run() as url:
        result = run_module(slo_gate.main, args(url), check_mode=True)
    assert (result["changed"], result["verdict"], result["action"]) == (False, "fail", "rollback")


def test_unreachable_prometheus_is_inconclusive_never_pass(clock):
    port = free_port()
    result = run_module(slo_gate.main, args("http://127.0.0.1:%d" % port, on_inconclusive="wait", max_waits=1))
    assert (result["verdict"], result["action"], result["max_window"], result["samples"]) == (
        "inconclusive", "rollback", 120.0, 8)
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
        "FAIL: canary error ratio 2 % vs stable 0 % (difference 2 % > margin 1 %); action rollback "
        "(1 sample(s) in 15s, stopped at the first failure)"
    )


def test_probe_asks_the_provider_once_and_names_its_error(clock):
    green = Slot([(400, 0)])
    fake = FakePrometheus({GREEN: green})
    with fake.run() as url:
        result = run_module(slo_gate.main, args(url, validate_only=True, probe=True))
        assert result["plan"]["probe"] == {"target": ["health", "requests"]}
        fake.empty.add("up" + GREEN)
        with pytest.raises(AnsibleFailJson) as exc:
            run_module(slo_gate.main, args(url, validate_only=True, probe=True))
    assert exc.value.result["msg"] == (
        'provider=prometheus cannot measure the gate\'s conditions (probed before any traffic moves): target '
        'health: query returned no series: up{job="demo",slot="green"}')
    port = free_port()
    with pytest.raises(AnsibleFailJson) as exc:
        run_module(slo_gate.main, args("http://127.0.0.1:%d" % port, validate_only=True, probe=True))
    assert exc.value.result["msg"].startswith(
        "provider=prometheus cannot measure the gate's conditions (probed before any traffic moves): target "
        "health: GET http://127.0.0.1:%d/api/v1/query?query=up" % port)
    assert "Connection refused" in exc.value.result["msg"]
    assert clock.sleeps == []


def test_probe_refuses_a_latency_threshold_that_is_no_bucket_bound(clock):
    green = Slot([(400, 0)])
    with FakePrometheus({GREEN: green}).run() as url:
        with pytest.raises(AnsibleFailJson) as exc:
            run_module(slo_gate.main, args(url, validate_only=True, probe=True,
                                           conditions=[{"type": "latency", "threshold": 0.2}]))
    assert exc.value.result["msg"] == (
        "provider=prometheus cannot measure the gate's conditions (probed before any traffic moves): "
        "conditions[0] (latency): the latency threshold 0.2s is not a bucket bound of the histogram (bounds: "
        "0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5), so the share of requests slower than it cannot "
        "be counted; use a bound as threshold or add one to the service's histogram")


@pytest.mark.parametrize(
    "overrides, message",
    [
        (
            {"conditions": [{"type": "error_ratio", "threshold": 1.5}]},
            "conditions[0].threshold must be a number in [0, 1], got 1.5",
        ),
        (
            {"conditions": [{"type": "error_ratio", "threshold": 0}]},
            "conditions[0].threshold must be a ratio in (0, 1) for a counted condition (a ratio of 0 could never "
            "be shown to hold), got 0.0",
        ),
        (
            {"provider": "haproxy", "haproxy_stats_url": "http://lb:8404/stats;csv",
             "target": {"backend": "demo", "servers": "-green$"},
             "conditions": [{"type": "latency", "threshold": 0.2, "percentile": 0.95}]},
            "conditions[0] (latency: p95 of request latency above 0.2s) cannot be measured by provider=haproxy: "
            "HAProxy's stats give rtime/ttime, a moving mean over each server's last 1024 requests that carries "
            "the slot's previous release into the verdict, not the share of this stage's requests slower than the "
            "threshold; use provider=prometheus or provider=http, which count it from the service's latency "
            "histogram",
        ),
        ({"max_window": 30}, "max_window (30) must not be shorter than window (60): the stage observes at least "
                             "the window"),
        ({"false_promotion_rate": 0.5}, "false_promotion_rate must be a probability in (0, 0.5), got 0.5"),
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
    assert (result["plan"]["samples"], result["plan"]["max_window"]) == (3, 90.0)
    assert "probe" not in result["plan"]
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
