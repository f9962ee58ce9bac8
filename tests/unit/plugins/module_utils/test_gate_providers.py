# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLO gate providers and plan: option validation, and the sampling loop against loopback
Prometheus / HAProxy / ``/metrics`` doubles driven by a fake clock (see gate_fakes.py)."""

from __future__ import annotations

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import gate_plan, gate_run, metrics_text
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.module_utils.gate_fakes import (
    FakeClock,
    FakeHAProxy,
    FakePrometheus,
    Slot,
    advance_all,
    free_port,
    metrics_servers,
)

GREEN = '{job="demo",slot="green"}'
BLUE = '{job="demo",slot="blue"}'
REQUESTS_QUERY = "demo_http_requests_total" + GREEN


def prometheus_params(url, **overrides):
    params = {"provider": "prometheus", "prometheus_url": url, "target": GREEN, "window": 60, "interval": 15}
    params.update(overrides)
    return params


def run(params, *slots):
    clock = FakeClock(on_sleep=advance_all(*slots))
    plan = gate_plan.build_plan(params)
    return gate_run.run_gate(plan, gate_plan.make_providers(plan), clock=clock), clock


def condition(result, name):
    return next(c for c in result["conditions"] if c["name"] == name)


# ------------------------------------------------------------------- the plan


def test_default_conditions_follow_the_mission():
    plan = gate_plan.build_plan(prometheus_params("http://p:9090"))
    keys = ("type", "threshold", "comparison", "sustained_for", "min_requests")
    got = [tuple(c[key] for key in keys) for c in plan["conditions"]]
    assert got == [
        ("error_ratio", 0.01, ">", 3, 10),
        ("availability", 0.995, "<", 3, 10),
        ("health", 0.0, ">", 1, 1),
    ]
    assert plan["samples"] == 4 and plan["on_inconclusive"] == "fail"
    assert (plan["max_window"], plan["max_samples"], plan["alpha"], plan["beta"]) == (600.0, 40, 0.01, 0.01)
    assert plan["needs"] == {"target": {"requests", "health"}, "compare_to": set()}


def test_default_sustained_for_is_capped_by_a_short_window():
    plan = gate_plan.build_plan(prometheus_params("http://p:9090", window=30))
    assert [c["sustained_for"] for c in plan["conditions"]] == [2, 2, 1]


def test_sample_count_is_exact():
    assert gate_plan.sample_count(0.3, 0.1) == 3
    assert gate_plan.sample_count(70, 15) == 4


@pytest.mark.parametrize(
    "conditions, message",
    [
        ([{"type": "error_ratio", "threshold": 1.5}], "conditions[0].threshold must be a number in [0, 1], got 1.5"),
        ([{"type": "error_ratio", "threshold": 1}], "conditions[0].threshold must be a ratio in (0, 1) for a "
                                                    "counted condition (a ratio of 0 could never be shown to hold), "
                                                    "got 1.0"),
        (
            [{"type": "health"}, {"type": "availability", "threshold": -0.2}],
            "conditions[1].threshold must be a number in [0, 1], got -0.2",
        ),
        ([{"type": "latency", "threshold": 0}], "conditions[0].threshold must be a number greater than 0, got 0"),
        ([{"type": "latency"}], "conditions[0].threshold is required for a latency condition (seconds)"),
        (
            [{"type": "latency", "threshold": 0.5, "percentile": 95}],
            "conditions[0].percentile must be a number in (0, 1), got 95",
        ),
        (
            [{"type": "error_ratio", "percentile": 0.9}],
            "conditions[0].percentile applies only to latency conditions, got 0.9",
        ),
        (
            [{"type": "error_ratio", "sustained_for": 5}],
            "conditions[0].sustained_for (5) exceeds the 4 sample(s) of the window (window / interval): "
            "the condition could never fail",
        ),
        (
            [{"type": "error_ratio", "sustained_for": 0}],
            "conditions[0].sustained_for must be an integer of at least 1, got 0",
        ),
        (
            [{"type": "error_ratio", "min_requests": -1}],
            "conditions[0].min_requests must be a number at least 0, got -1",
        ),
        (
            [{"type": "errors"}],
            "conditions[0].type must be one of availability, error_ratio, health, latency, got 'errors'",
        ),
        ([{"type": "health", "severity": 1}], "conditions[0] has unknown option(s) severity; known: type, name, "
                                              "threshold, percentile, sustained_for, min_requests"),
        (
            [{"type": "latency", "threshold": 0.5}, {"type": "latency", "threshold": 1}],
            "conditions[1].name 'latency' is already used by conditions[0]; give each condition its own name",
        ),
        (
            [{"type": "health", "name": "canary_vs_stable"}],
            "conditions[0].name 'canary_vs_stable' is already used by the compare_to comparison; "
            "give each condition its own name",
        ),
        ([], "conditions must not be empty: a gate without conditions can never fail"),
    ],
)
def test_bad_conditions_are_refused_naming_the_option_and_value(conditions, message):
    with pytest.raises(ValueError) as exc:
        gate_plan.build_plan(prometheus_params("http://p:9090", conditions=conditions))
    assert str(exc.value) == message


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"window": 10, "interval": 15}, "interval (15) must not exceed window (10): the window would hold no sample"),
        ({"window": 0}, "window must be a number greater than 0, got 0"),
        ({"target": "job=demo"}, "target must be a Prometheus label selector like"),
        ({"prometheus_url": "localhost:9090"},
         "prometheus_url must be an http:// or https:// URL, got 'localhost:9090'"),
        ({"provider": "haproxy", "target": {"backend": "demo", "servers": "-green$"}},
         "provider=haproxy needs exactly one of haproxy_socket"),
        ({"provider": "haproxy", "haproxy_socket": "/s", "target": "-green$"},
         "target must be a mapping with backend and servers"),
        ({"provider": "haproxy", "haproxy_socket": "/s", "target": {"backend": "demo", "servers": "(["}},
         "target.servers must be a regular expression, got '(['"),
        ({"provider": "http", "target": ["http://a:1", "ftp://b"]}, "target[1] must be an http:// or https:// URL"),
        ({"compare_to": GREEN, "compare_margin": 2}, "compare_margin must be a number in [0, 1], got 2"),
        ({"on_inconclusive": "retry"}, "on_inconclusive must be one of wait, fail, pass, got 'retry'"),
        ({"metrics": {"error_codes": "5.("}}, "metrics.error_codes must be a regular expression, got '5.('"),
        ({"metrics": {"requests": "demo requests"}}, "metrics.requests must be a metric name, got 'demo requests'"),
        ({"timeout": 0}, "timeout must be a number greater than 0, got 0"),
        ({"max_window": 59}, "max_window (59) must not be shorter than window (60)"),
        ({"false_rollback_rate": 0}, "false_rollback_rate must be a probability in (0, 0.5), got 0"),
        ({"provider": "haproxy", "haproxy_socket": "/s", "target": {"backend": "demo", "servers": "-g$"},
          "conditions": [{"type": "latency", "threshold": 0.25, "name": "p95"}]},
         "conditions[0] (p95: p95 of request latency above 0.25s) cannot be measured by provider=haproxy"),
    ],
)
def test_bad_options_are_refused(overrides, message):
    with pytest.raises(ValueError) as exc:
        gate_plan.build_plan(prometheus_params("http://p:9090", **overrides))
    assert str(exc.value).startswith(message)


def test_haproxy_compare_to_may_be_a_regex_in_the_target_backend():
    plan = gate_plan.build_plan(prometheus_params(
        None, provider="haproxy", haproxy_stats_url="http://lb:8404/stats;csv",
        target={"backend": "demo", "servers": "-green$"}, compare_to="-blue$",
    ))
    assert plan["sources"]["compare_to"] == {"backend": "demo", "servers": "-blue$"}
    assert plan["needs"]["compare_to"] == {"requests"}


# ------------------------------------------------------- the loop, Prometheus


def test_healthy_canary_passes_on_a_fixed_schedule():
    green = Slot([(400, 1)] * 4)
    with FakePrometheus({GREEN: green}).run() as url:
        result, clock = run(prometheus_params(url), green)
    assert (result["verdict"], result["action"], result["samples"]) == ("pass", "proceed", 4)
    assert clock.sleeps == [15.0, 15.0, 15.0, 15.0]
    errors = condition(result, "error_ratio")
    # Prometheus' own scrapes of /metrics (1000 per interval in the fake) are not traffic.
    assert [s[1:] for s in errors["samples"]] == [[0.0025, 1, 400]] * 4
    assert [s[0] - errors["samples"][0][0] for s in errors["samples"]] == [0, 15, 30, 45]
    assert errors["states"] == ["ok"] * 4
    assert condition(result, "health")["samples"][0][1:] == [0.0, 2]
    assert condition(result, "availability")["samples"][0][1:] == [1.0, 2]
    assert result["summary"] == (
        "PASS: error_ratio over the stage 0.25 % (4 of 1,600) <= 1 %: the sequential test accepts it (a release "
        "at 2 % or worse passes at most 1 % of stages); no sample breached; availability of the new slot over the "
        "stage 100 % (8 of 8 health probes up) >= 99.5 %; health: no failing probe in 4 sample(s); action proceed "
        "(4 sample(s) in 60s)"
    )
    assert result["started"].endswith("Z") and result["duration"] == 60.0


def test_a_regression_that_starts_mid_stage_fails_by_the_sustained_rule():
    # A clean start has already shown the stage's ratio low; then 3 % errors for three
    # samples in a row, each a confident breach: the runbooks' sustained rule fails it.
    green = Slot([(4000, 0)] * 2 + [(300, 9)] * 3)
    with FakePrometheus({GREEN: green}).run() as url:
        result, _ = run(prometheus_params(url, window=75, conditions=[{"type": "error_ratio"}]), green)
    errors = condition(result, "error_ratio")
    assert (result["verdict"], result["samples"]) == ("fail", 5)
    assert errors["states"] == ["ok", "ok", "breach", "breach", "breach"]
    assert errors["test"]["decision"] == "pass"
    assert result["summary"] == (
        "FAIL: error_ratio above 1 % for 3 consecutive samples (3 samples = 45s) from 00:00:45 to 00:01:15: "
        "3 % (9 of 300), 3 % (9 of 300), 3 % (9 of 300); error_ratio over the stage 0.303 % (27 of 8,900); "
        "action rollback (5 sample(s) in 75s, stopped at the first failure)"
    )


def test_a_burst_is_caught_by_the_stage_count_not_waved_through():
    # 9 s of 90 % errors inside a quiet minute (12 requests/s): one breaching sample,
    # not sustained, but the stage's count shows far more than 1 % errors.
    green = Slot([(120, 0), (120, 97), (120, 0), (120, 0), (120, 0), (120, 0)])
    with FakePrometheus({GREEN: green}).run() as url:
        result, _ = run(prometheus_params(url, window=60, interval=10, conditions=[{"type": "error_ratio"}]), green)
    assert result["verdict"] == "fail"
    assert result["summary"].startswith(
        "FAIL: error_ratio over the stage 40.4 % (97 of 240) > 1 %: the sequential test rejects it (a release at "
        "0.5 % or better fails at most 1 % of stages); breached in 1 of 2 samples (worst 80.8 % at 00:00:20)")


def test_a_low_breach_in_the_last_sample_does_not_roll_back_a_good_release():
    # One error in the last, light sample of a 0.3 % release: no confident breach.
    green = Slot([(124, 0)] * 5 + [(124, 1)])
    with FakePrometheus({GREEN: green}).run() as url:
        result, _ = run(prometheus_params(url, window=90, interval=15, conditions=[{"type": "error_ratio"}]), green)
    errors = condition(result, "error_ratio")
    assert (result["verdict"], errors["states"][-1]) == ("pass", "ok")


@pytest.mark.parametrize(
    "policy, verdict, action",
    [("fail", "inconclusive", "rollback"), ("pass", "inconclusive", "proceed"), ("wait", "inconclusive", "rollback")],
)
def test_too_few_requests_is_inconclusive_and_the_policy_decides(policy, verdict, action):
    green = Slot([(4, 0)] * 20)
    with FakePrometheus({GREEN: green}).run() as url:
        result, clock = run(prometheus_params(url, on_inconclusive=policy, max_window=120), green)
    assert (result["verdict"], result["action"]) == (verdict, action)
    assert len(clock.sleeps) == 8 and result["samples"] == 8
    errors = condition(result, "error_ratio")
    assert errors["states"] == ["unclear"] * 8
    assert result["summary"].startswith(
        "INCONCLUSIVE: error_ratio over the stage 0 % (0 of 32); not yet enough to show it is at most 1 %, about "
        "271 more requests without a 5xx answer are needed (~1017s at the 0.27 requests/s the new slot "
        "received); action " + action + " (8 sample(s) in 120s, stage extended past its 60s window while the "
        "evidence could not decide); to decide: "
    )


def test_unreachable_prometheus_is_inconclusive_with_the_reason():
    port = free_port()
    result, _ = run(prometheus_params("http://127.0.0.1:%d" % port, on_inconclusive="fail", max_window=60))
    assert (result["verdict"], result["action"]) == ("inconclusive", "rollback")
    for item in result["conditions"]:
        assert item["verdict"] == "inconclusive"
        assert all(sample[1] is None for sample in item["samples"])
        assert "GET http://127.0.0.1:%d/api/v1/query?query=" % port in item["reason"]
        assert "Connection refused" in item["reason"]
    assert "Connection refused" in result["summary"]


def test_prometheus_stopped_mid_stage_never_passes():
    # Enough clean requests to pass after two samples, then every scrape fails.
    green = Slot([(400, 0)] * 20)
    fake = FakePrometheus({GREEN: green})
    with fake.run() as url:
        clock = FakeClock(on_sleep=advance_all(green))
        plan = gate_plan.build_plan(prometheus_params(url, max_window=120))
        providers = gate_plan.make_providers(plan)
        original = clock.on_sleep

        def stop_after_two():
            original()
            if len(clock.sleeps) > 2:
                fake.errors.update({q: (503, b"Service Unavailable") for q in providers["target"].queries().values()})

        clock.on_sleep = stop_after_two
        result = gate_run.run_gate(plan, providers, clock=clock)
    assert (result["verdict"], result["action"], result["samples"]) == ("inconclusive", "rollback", 8)
    errors = condition(result, "error_ratio")
    assert errors["states"] == ["ok", "ok"] + ["unmeasured"] * 6
    assert "the newest interval was not measured; 6 of 8 interval(s) not measured: Prometheus at %s" % url in (
        errors["reason"])


def test_an_error_reply_is_inconclusive_with_prometheus_message():
    green = Slot([(400, 0)] * 20)
    fake = FakePrometheus({GREEN: green})
    fake.errors[REQUESTS_QUERY] = (
        400, b'{"status":"error","errorType":"bad_data","error":"invalid parameter \\"query\\": parse error"}'
    )
    with fake.run() as url:
        result, _ = run(prometheus_params(url, max_window=60), green)
    assert result["verdict"] == "inconclusive"
    assert condition(result, "health")["verdict"] == "pass"
    problems = condition(result, "error_ratio")["problems"]
    assert problems == [
        "Prometheus at %s rejected query %s (HTTP 400): bad_data: invalid parameter \"query\": parse error "
        "(this scrape)" % (url, REQUESTS_QUERY)
    ]


def test_an_empty_result_is_inconclusive_naming_the_query():
    green = Slot([(400, 0)] * 20)
    fake = FakePrometheus({GREEN: green})
    fake.empty.add(REQUESTS_QUERY)
    with fake.run() as url:
        result, _ = run(prometheus_params(url, max_window=60), green)
    assert result["verdict"] == "inconclusive"
    problems = condition(result, "error_ratio")["problems"]
    assert problems == ["query returned no series: %s (this scrape)" % REQUESTS_QUERY]
    assert "query returned no series: demo_http_requests_total{job=\"demo\",slot=\"green\"}" in result["summary"]


def test_a_counter_reset_makes_its_interval_unmeasured():
    green = Slot([(400, 0), (400, 0), "reset", (400, 0), (400, 0)])
    with FakePrometheus({GREEN: green}).run() as url:
        result, _ = run(prometheus_params(url, window=75), green)
    errors = condition(result, "error_ratio")
    assert [s[1] for s in errors["samples"]] == [0.0, 0.0, None, 0.0, 0.0]
    assert errors["states"][2] == "unmeasured"
    assert errors["problems"][0].startswith("counter reset (value decreased) in ")
    # the newest intervals were measured and the stage's counts decide
    assert result["verdict"] == "pass"


def test_a_slow_release_fails_its_latency_condition_naming_the_percentile():
    green = Slot([(400, 0, 0.02), (400, 0, 0.3), (400, 0, 0.3), (400, 0, 0.3)])
    conditions = [{"type": "latency", "threshold": 0.25, "percentile": 0.95}]
    with FakePrometheus({GREEN: green}).run() as url:
        result, _ = run(prometheus_params(url, conditions=conditions), green)
    latency = condition(result, "latency")
    assert [s[2:] for s in latency["samples"]] == [[0, 400], [400, 400]]
    assert (result["verdict"], latency["stage_quantile"], latency["bad_share_threshold"]) == ("fail", 0.475, 0.05)
    assert result["summary"].startswith(
        "FAIL: latency: p95 of the new slot over the stage between 0.25s and 0.5s (bucket bounds; 0.475s "
        "interpolated); share of requests slower than 0.25s over the stage 50 % (400 of 800) > 5 %")
    assert latency["measure"] == (
        'requests slower than the threshold (a bucket bound) from the increases of '
        'demo_http_request_duration_seconds_bucket{job="demo",slot="green"} per interval, p95 reported '
        "(path /metrics, /healthz, /readyz excluded)"
    )


def test_a_fast_release_in_a_slot_that_ran_a_slow_one_passes():
    # The slot's counters carry a slow past; only this stage's increases count.
    green = Slot([(400, 0, 0.02)] * 4)
    green.serve(5000, 0, 0.3)
    conditions = [{"type": "latency", "threshold": 0.25}]
    with FakePrometheus({GREEN: green}).run() as url:
        result, _ = run(prometheus_params(url, conditions=conditions), green)
    assert result["verdict"] == "pass", result["summary"]
    assert condition(result, "latency")["stage_quantile"] == 0.02425


def test_a_down_target_fails_the_health_condition():
    green = Slot([(400, 0), lambda slot: slot.up.update(app2=0), (400, 0), (400, 0)])
    with FakePrometheus({GREEN: green}).run() as url:
        result, _ = run(prometheus_params(url, conditions=[{"type": "health"}]), green)
    health = condition(result, "health")
    assert result["verdict"] == "fail" and health["samples"][1][1:] == [1.0, 2]
    assert result["summary"].startswith("FAIL: health: failing: {__name__=up,host=app2,")


def test_a_down_target_fails_availability_over_the_stage():
    green = Slot([(400, 0), lambda slot: slot.up.update(app2=0), (400, 0), (400, 0)])
    with FakePrometheus({GREEN: green}).run() as url:
        result, _ = run(prometheus_params(url, conditions=[{"type": "availability"}]), green)
    assert result["verdict"] == "fail"
    assert result["summary"] == (
        "FAIL: availability of the new slot over the stage 75 % (3 of 4 health probes up) < 99.5 %, probes failed "
        "at 00:00:30; action rollback (2 sample(s) in 30s, stopped at the first failure)")


def test_canary_worse_than_stable_fails_the_comparison():
    green = Slot([(400, 12)] * 4)
    blue = Slot([(4000, 0)] * 4)
    conditions = [{"type": "error_ratio", "threshold": 0.05}]
    with FakePrometheus({GREEN: green, BLUE: blue}).run() as url:
        result, _ = run(prometheus_params(url, conditions=conditions, compare_to=BLUE), green, blue)
    assert condition(result, "error_ratio")["verdict"] == "pass"
    comparison = result["comparison"]
    assert (result["verdict"], comparison["verdict"]) == ("fail", "fail")
    assert (comparison["canary_requests"], comparison["stable_requests"]) == (400.0, 4000.0)
    assert result["failed_conditions"] == ["canary_vs_stable"]
    assert result["summary"] == (
        "FAIL: canary error ratio 3 % vs stable 0 % (difference 3 % > margin 1 %); action rollback "
        "(1 sample(s) in 15s, stopped at the first failure)"
    )


def test_comparison_is_inconclusive_when_the_stable_side_is_not_measured():
    green = Slot([(400, 0)] * 20)
    fake = FakePrometheus({GREEN: green})
    with fake.run() as url:
        result, _ = run(prometheus_params(url, compare_to='{job="demo",slot="blue"}', max_window=60), green)
    assert result["verdict"] == "inconclusive"
    assert result["inconclusive_conditions"] == ["canary_vs_stable"]
    assert result["comparison"]["stable_notes"][0].startswith("query returned no series: demo_http_requests_total")


# ----------------------------------------------------------------- HAProxy


def haproxy_params(**overrides):
    params = {
        "provider": "haproxy",
        "target": {"backend": "demo", "servers": "-green$"},
        "window": 60,
        "interval": 15,
    }
    params.update(overrides)
    return params


def test_haproxy_stats_page_healthy_and_failing():
    green = Slot([(400, 0)] * 4, latency=0.05)
    blue = Slot([(400, 0)] * 4)
    fake = FakeHAProxy({"green": green, "blue": blue})
    with fake.run_http() as url:
        result, _ = run(haproxy_params(haproxy_stats_url=url), green, blue)
    assert result["verdict"] == "pass", result["summary"]
    assert condition(result, "error_ratio")["samples"][0][1:] == [0.0, 0, 400]
    assert condition(result, "health")["samples"][0][1:] == [0.0, 2]
    assert condition(result, "availability")["measure"].startswith("share of UP servers among the health-checked")

    green = Slot([(400, 20)] * 4)
    fake = FakeHAProxy({"green": green, "blue": blue})
    with fake.run_http() as url:
        result, _ = run(haproxy_params(haproxy_stats_url=url, window=45), green, blue)
    assert result["verdict"] == "fail"
    assert result["summary"].startswith("FAIL: error_ratio over the stage 5 % (20 of 400) > 1 %")


def test_haproxy_down_server_fails_health_and_maint_is_not_probed():
    green = Slot([(400, 0)] * 4)
    fake = FakeHAProxy({"green": green})
    fake.status["app1-green"] = "DOWN 1/2"
    fake.status["app2-green"] = "MAINT"
    with fake.run_http() as url:
        result, _ = run(haproxy_params(haproxy_stats_url=url, conditions=[{"type": "health"}]), green)
    health = condition(result, "health")
    assert health["samples"][0][1:] == [1.0, 1]
    assert health["reason"] == "health: failing: app1-green (DOWN 1/2)"


def test_haproxy_runtime_socket_and_a_reload_reset():
    green = Slot([(400, 0), (400, 0), "reset", (400, 0), (400, 0)])
    fake = FakeHAProxy({"green": green})
    with fake.run_socket() as path:
        result, _ = run(haproxy_params(haproxy_socket=path, window=75), green)
    errors = condition(result, "error_ratio")
    assert [s[1] for s in errors["samples"]] == [0.0, 0.0, None, 0.0, 0.0]
    assert result["verdict"] == "pass"
    assert fake.requests == 6


def test_haproxy_unreachable_socket_and_unmatched_servers_are_inconclusive(tmp_path):
    result, _ = run(haproxy_params(haproxy_socket=str(tmp_path / "missing.sock"), max_window=60))
    assert result["verdict"] == "inconclusive"
    assert "HAProxy runtime API socket %s does not exist" % (tmp_path / "missing.sock") in result["summary"]

    fake = FakeHAProxy({"blue": Slot()})
    with fake.run_http() as url:
        result, _ = run(haproxy_params(haproxy_stats_url=url, max_window=60))
    assert result["verdict"] == "inconclusive"
    assert condition(result, "health")["problems"] == [
        "no server of backend demo matches '-green$' (servers: app1-blue, app2-blue)"
    ]
    with fake.run_http() as url:
        result, _ = run(haproxy_params(haproxy_stats_url=url.replace("stats;csv", "nope"), max_window=60))
    assert "HAProxy stats page" in condition(result, "health")["problems"][0]
    assert "answered HTTP 503" in condition(result, "health")["problems"][0]


def test_haproxy_canary_vs_stable():
    green = Slot([(400, 8)] * 4)
    blue = Slot([(400, 0)] * 4)
    fake = FakeHAProxy({"green": green, "blue": blue})
    with fake.run_http() as url:
        result, _ = run(haproxy_params(haproxy_stats_url=url, compare_to="-blue$"), green, blue)
    assert result["comparison"]["verdict"] == "fail"
    assert result["comparison"]["canary_error_ratio"] == 0.02
    assert result["verdict"] == "fail"


# ---------------------------------------------------------------- /metrics pages


def http_params(urls, **overrides):
    params = {"provider": "http", "target": urls, "window": 60, "interval": 15, "timeout": 2}
    params.update(overrides)
    return params


@pytest.mark.parametrize("parser", ["prometheus_client", "built-in"])
def test_http_scrapes_real_metrics_pages(monkeypatch, parser):
    if parser == "built-in":
        monkeypatch.setattr(metrics_text, "text_string_to_metric_families", None)
    green = Slot([(400, 0, 0.02)] * 2 + [(400, 20, 0.3)] * 3)
    conditions = [{"type": "error_ratio"}, {"type": "latency", "threshold": 0.25}, {"type": "health"}]
    with metrics_servers(green) as urls:
        result, _ = run(http_params(urls, conditions=conditions, window=75, stop_on_fail=False), green)
    errors = condition(result, "error_ratio")
    # the gate's own /metrics and /readyz requests are left out: exactly the scripted traffic
    assert [s[2:] for s in errors["samples"]] == [[0, 400]] * 2 + [[20, 400]] * 3
    assert [s[2:] for s in condition(result, "latency")["samples"]] == [[0, 400]] * 2 + [[400, 400]] * 3
    assert result["verdict"] == "fail" and result["failed_conditions"] == ["error_ratio", "latency"]


def test_http_not_ready_and_unreachable_urls():
    green = Slot([(400, 0)] * 4)
    green.ready["app2"] = False
    with metrics_servers(green) as urls:
        result, _ = run(http_params(urls + ["http://127.0.0.1:%d" % free_port()]), green)
    assert result["verdict"] == "fail"
    health = condition(result, "health")
    assert health["samples"][0][1:] == [2.0, 3]
    assert health["reason"].startswith("health: failing: %s/readyz (HTTP 503), http://127.0.0.1:" % urls[1])
    # one unreachable /metrics page makes the request samples unknown, not partial
    assert condition(result, "error_ratio")["states"] == ["unmeasured"]
    assert "Connection refused" in condition(result, "error_ratio")["problems"][0]


def test_http_reads_the_service_own_metrics_and_readiness_paths():
    # A service whose pages are not the demo's: /internal/metrics and /health/ready.
    green = Slot([(400, 0)] * 4)
    paths = {"metrics_path": "/internal/metrics", "health_path": "/health/ready"}
    own = dict(http_metrics_path="/internal/metrics", http_health_path="/health/ready",
               metrics={"exclude_paths": ["/internal/metrics", "/health/ready"]})
    with metrics_servers(green, **paths) as urls:
        result, _ = run(http_params(urls, **own), green)
        assert result["verdict"] == "pass"
        # the scrapes and probes are left out: exactly the scripted traffic
        assert [s[2:] for s in condition(result, "error_ratio")["samples"]] == [[0, 400]] * 4
        # at the demo's paths the same service measures nothing, and says where it looked
        result, _ = run(http_params(urls), green)
    assert result["verdict"] != "pass"
    assert condition(result, "error_ratio")["states"] == ["unmeasured"]
    assert "%s/metrics" % urls[0] in condition(result, "error_ratio")["problems"][0]


@pytest.mark.parametrize("option, value", [
    ("http_metrics_path", "metrics"),
    ("http_health_path", ""),
    ("http_health_path", "/ready?x=1"),
    ("http_metrics_path", "http://elsewhere/metrics"),
])
def test_http_paths_must_be_absolute_paths(option, value):
    with pytest.raises(ValueError) as error:
        gate_plan.build_plan(http_params(["http://127.0.0.1:1"], **{option: value}))
    assert str(error.value) == "%s must be a URL path starting with / (no query), got %r" % (option, value)


def test_http_restart_of_an_instance_is_a_reset():
    green = Slot([(400, 0), (400, 0), "reset", (400, 0), (400, 0)])
    with metrics_servers(green) as urls:
        result, _ = run(http_params(urls, window=75, conditions=[{"type": "error_ratio"}]), green)
    assert [s[1] for s in condition(result, "error_ratio")["samples"]] == [0.0, 0.0, None, 0.0, 0.0]
    assert result["verdict"] == "pass"

