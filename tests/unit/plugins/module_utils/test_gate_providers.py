# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLO gate measurements: counter deltas, histogram quantiles, metrics parsing, option
validation, and the sampling loop against loopback Prometheus / HAProxy / ``/metrics``
doubles driven by a fake clock (see gate_fakes.py)."""

from __future__ import annotations

import math

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import gate_providers as gp
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.module_utils.gate_fakes import (
    FakeClock,
    FakeHAProxy,
    FakePrometheus,
    Slot,
    advance_all,
    free_port,
    metrics_servers,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, generate_latest

GREEN = '{job="demo",slot="green"}'
BLUE = '{job="demo",slot="blue"}'
REQUESTS_QUERY = "demo_http_requests_total" + GREEN


def prometheus_params(url, **overrides):
    params = {"provider": "prometheus", "prometheus_url": url, "target": GREEN, "window": 60, "interval": 15}
    params.update(overrides)
    return params


def run(params, *slots):
    clock = FakeClock(on_sleep=advance_all(*slots))
    plan = gp.build_plan(params)
    return gp.run_gate(plan, gp.make_providers(plan), clock=clock), clock


def condition(result, name):
    return next(c for c in result["conditions"] if c["name"] == name)


# --------------------------------------------------------------- counter deltas


def test_new_series_count_from_zero_and_deltas_are_per_series():
    deltas, note = gp.counter_deltas({("a",): 10.0}, {("a",): 15.0, ("b",): 2.0})
    assert note is None
    assert deltas == {("a",): 5.0, ("b",): 2.0}


def test_counter_reset_makes_the_interval_unknown_never_negative():
    # One series resets while another grows more: a summed counter would hide it.
    deltas, note = gp.counter_deltas({("a",): 100.0, ("b",): 5.0}, {("a",): 3.0, ("b",): 500.0})
    assert deltas is None
    assert note == (
        "counter reset (value decreased) in 1 series, e.g. {a} 100 -> 3: the interval is not measured"
    )


def test_a_disappearing_series_makes_the_interval_unknown():
    deltas, note = gp.counter_deltas({("a",): 1.0, ("b",): 1.0}, {("a",): 2.0})
    assert deltas is None
    assert note.startswith("1 series disappeared since the previous scrape, e.g. {b}")


def test_non_finite_counter_is_unknown():
    assert gp.counter_deltas({}, {("a",): math.nan})[0] is None


def test_request_counts_split_errors_by_code():
    before = {("200",): (False, 100.0), ("500",): (True, 1.0)}
    after = {("200",): (False, 190.0), ("500",): (True, 11.0), ("503",): (True, 2.0)}
    assert gp.request_counts(before, after) == (12.0, 102.0, None)


def test_interval_sample_from_a_reset_is_inconclusive_with_the_reason():
    cond = {"type": "error_ratio"}
    before = {"timestamp": 1.0, "parts": {"requests": {("200",): (False, 500.0)}}, "notes": {}}
    after = {"timestamp": 2.0, "parts": {"requests": {("200",): (False, 20.0)}}, "notes": {}}
    sample = gp.interval_sample(cond, before, after)
    assert sample["value"] is None and sample["request_count"] is None
    assert "counter reset" in sample["note"]


def test_interval_sample_without_requests_has_no_value():
    cond = {"type": "availability"}
    snap = {"timestamp": 2.0, "parts": {"requests": {("200",): (False, 5.0)}}, "notes": {}}
    sample = gp.interval_sample(cond, dict(snap, timestamp=1.0), snap)
    assert (sample["value"], sample["request_count"], sample["note"]) == (None, 0.0, "no requests in the interval")


# ------------------------------------------------------------------- histogram


def test_histogram_quantile_interpolates_like_promql():
    buckets = {0.1: 50, 0.5: 90, 1.0: 100, math.inf: 100}
    assert gp.histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert gp.histogram_quantile(0.95, buckets) == pytest.approx(0.75)
    assert gp.histogram_quantile(0.25, buckets) == pytest.approx(0.05)


def test_histogram_quantile_edges():
    # A rank in the +Inf bucket gives the highest finite bound.
    assert gp.histogram_quantile(0.99, {0.1: 10, math.inf: 20}) == 0.1
    assert gp.histogram_quantile(0.5, {0.1: 0, math.inf: 0}) is None
    assert gp.histogram_quantile(0.5, {0.1: 5, 1.0: 10}) is None  # no +Inf bucket
    assert gp.histogram_quantile(0.5, {}) is None


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(min_value=0, max_value=50), min_size=3, max_size=3),
    st.floats(min_value=0.01, max_value=0.98),
    st.floats(min_value=0.0, max_value=0.01),
)
def test_histogram_quantile_is_monotonic_and_within_bounds(counts, q, dq):
    bounds = (0.1, 0.5, 1.0)
    cumulative, total = {}, 0
    for bound, count in zip(bounds, counts):
        total += count
        cumulative[bound] = total
    cumulative[math.inf] = total + 1
    low, high = gp.histogram_quantile(q, cumulative), gp.histogram_quantile(q + dq, cumulative)
    assert 0.0 <= low <= high <= 1.0


def test_latency_from_bucket_deltas():
    before = {("a", "0.1"): (0.1, 100.0), ("a", "0.5"): (0.5, 100.0), ("a", "+Inf"): (math.inf, 100.0)}
    after = {("a", "0.1"): (0.1, 100.0), ("a", "0.5"): (0.5, 200.0), ("a", "+Inf"): (math.inf, 200.0)}
    value, count, note = gp.latency_from_buckets(before, after, 0.95)
    # Every new observation lies in (0.1, 0.5]: old fast requests do not dilute it.
    assert (value, count, note) == (pytest.approx(0.1 + 0.4 * 0.95), 100.0, None)


def test_latency_from_means_weights_servers_by_requests():
    before = {("s1",): (0.1, 100.0), ("s2",): (0.9, 100.0)}
    after = {("s1",): (0.1, 190.0), ("s2",): (0.9, 110.0)}
    value, count, note = gp.latency_from_means(before, after)
    assert value == pytest.approx((0.1 * 90 + 0.9 * 10) / 100)
    assert (count, note) == (100.0, None)


# ------------------------------------------------------------------ text format


def _exposition(label_values):
    registry = CollectorRegistry()
    counter = Counter("demo_http_requests", "Requests.", ["path", "code"], registry=registry)
    for index, value in enumerate(label_values):
        counter.labels(value, str(200 + index)).inc(index + 1)
    return generate_latest(registry).decode()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",)), max_size=12), max_size=4, unique=True))
def test_the_small_parser_reads_what_prometheus_client_writes(label_values):
    text = _exposition(label_values)
    assert gp.parse_metrics_text_simple(text) == gp.parse_metrics_text(text)


def test_the_small_parser_reads_escapes_and_special_values():
    text = '# HELP x y\n# TYPE x counter\nx_total{path="a\\"b\\\\c\\nd",le="+Inf"} 3 1700000000000\nup NaN\n'
    samples = gp.parse_metrics_text_simple(text)
    assert samples[0] == ("x_total", {"path": 'a"b\\c\nd', "le": "+Inf"}, 3.0)
    assert samples[1][0] == "up" and math.isnan(samples[1][2])


@pytest.mark.parametrize(
    "text, message",
    [
        ("ok 1\n<html>oops</html>\n", "metrics line 2 is not a sample: '<html>oops</html>'"),
        ('x{a="1" b="2"} 1\n', 'metrics line 1: bad labels {a="1" b="2"}'),
        ("x one\n", "metrics line 1 has no numeric value: 'x one'"),
    ],
)
def test_the_small_parser_names_the_bad_line(text, message):
    with pytest.raises(ValueError) as exc:
        gp.parse_metrics_text_simple(text)
    assert str(exc.value) == message


# ------------------------------------------------------------------- the plan


def test_default_conditions_follow_the_mission():
    plan = gp.build_plan(prometheus_params("http://p:9090"))
    keys = ("type", "threshold", "comparison", "sustained_for", "min_requests")
    got = [tuple(c[key] for key in keys) for c in plan["conditions"]]
    assert got == [
        ("error_ratio", 0.01, ">", 3, 10),
        ("availability", 0.995, "<", 3, 10),
        ("health", 0.0, ">", 1, 1),
    ]
    assert plan["samples"] == 4 and plan["on_inconclusive"] == "fail"
    assert plan["needs"] == {"target": {"requests", "health"}, "compare_to": set()}


def test_default_sustained_for_is_capped_by_a_short_window():
    plan = gp.build_plan(prometheus_params("http://p:9090", window=30))
    assert [c["sustained_for"] for c in plan["conditions"]] == [2, 2, 1]


def test_sample_count_is_exact():
    assert gp.sample_count(0.3, 0.1) == 3
    assert gp.sample_count(70, 15) == 4


@pytest.mark.parametrize(
    "conditions, message",
    [
        ([{"type": "error_ratio", "threshold": 1.5}], "conditions[0].threshold must be a number in [0, 1], got 1.5"),
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
        gp.build_plan(prometheus_params("http://p:9090", conditions=conditions))
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
    ],
)
def test_bad_options_are_refused(overrides, message):
    with pytest.raises(ValueError) as exc:
        gp.build_plan(prometheus_params("http://p:9090", **overrides))
    assert str(exc.value).startswith(message)


def test_haproxy_compare_to_may_be_a_regex_in_the_target_backend():
    plan = gp.build_plan(prometheus_params(
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
    assert [s[1:] for s in errors["samples"]] == [[0.0025, 400]] * 4
    assert [s[0] - errors["samples"][0][0] for s in errors["samples"]] == [0, 15, 30, 45]
    assert errors["states"] == ["ok"] * 4
    assert condition(result, "health")["samples"][0][1:] == [0.0, 2]
    assert result["summary"] == (
        "PASS: error_ratio worst 0.0025 <= 0.01; availability worst 0.998 >= 0.995; health worst 0 <= 0 "
        "over 4 samples; action proceed"
    )
    assert result["started"].endswith("Z") and result["duration"] == 60.0


def test_sustained_errors_fail_with_values_in_the_reason_and_stop_early():
    green = Slot([(400, 1), (420, 21), (400, 20), (380, 19), (400, 0)])
    with FakePrometheus({GREEN: green}).run() as url:
        result, clock = run(prometheus_params(url, window=75), green)
    assert (result["verdict"], result["action"], result["stopped_early"]) == ("fail", "rollback", True)
    assert result["samples"] == 4 and len(clock.sleeps) == 4
    errors = condition(result, "error_ratio")
    assert errors["verdict"] == "fail"
    assert "5%, 5%, 5% (requests 420, 400, 380)" in errors["reason"]
    assert "fail when error ratio > 1% for sustained_for=3" in errors["reason"]
    assert result["failed_conditions"] == ["error_ratio", "availability"]
    assert result["summary"] == (
        "FAIL: error_ratio 0.05 > 0.01 for 3 consecutive samples (requests 420, 400, 380); "
        "availability 0.95 < 0.995 for 3 consecutive samples (requests 420, 400, 380); action rollback "
        "(stopped early after 4 of 5 samples)"
    )


def test_a_spike_shorter_than_sustained_for_passes():
    green = Slot([(400, 0), (400, 40), (400, 40), (400, 0), (400, 0)])
    with FakePrometheus({GREEN: green}).run() as url:
        result, _ = run(prometheus_params(url, window=75), green)
    assert result["verdict"] == "pass"
    assert condition(result, "error_ratio")["longest_streak"] == 2
    assert condition(result, "error_ratio")["worst_value"] == 0.1


@pytest.mark.parametrize(
    "policy, verdict, action",
    [("fail", "inconclusive", "rollback"), ("pass", "inconclusive", "proceed"), ("wait", "inconclusive", "rollback")],
)
def test_too_few_requests_is_inconclusive_and_the_policy_decides(policy, verdict, action):
    green = Slot([(4, 0)] * 8)
    with FakePrometheus({GREEN: green}).run() as url:
        result, clock = run(prometheus_params(url, on_inconclusive=policy), green)
    assert (result["verdict"], result["action"]) == (verdict, action)
    assert result["waits"] == (1 if policy == "wait" else 0)
    assert len(clock.sleeps) == (8 if policy == "wait" else 4)
    errors = condition(result, "error_ratio")
    assert errors["states"] == ["inconclusive"] * len(clock.sleeps)
    # an extra window is judged on its own samples
    assert result["summary"].startswith(
        "INCONCLUSIVE: error_ratio 4 of 4 samples inconclusive (4 requests < min_requests 10); "
        "availability 4 of 4 samples inconclusive (4 requests < min_requests 10); action "
    )
    assert errors["judged_samples"] == 4
    assert result["summary"].endswith("action %s" % action + (
        " (window extended 1 time(s), on_inconclusive=wait)" if policy == "wait" else ""))


def test_wait_extends_the_window_until_traffic_arrives():
    green = Slot([(4, 0)] * 4 + [(400, 0)] * 4)
    with FakePrometheus({GREEN: green}).run() as url:
        result, _ = run(prometheus_params(url, on_inconclusive="wait", max_waits=2), green)
    assert (result["verdict"], result["action"], result["waits"], result["samples"]) == ("pass", "proceed", 1, 8)


def test_a_streak_open_when_the_window_is_extended_still_counts():
    # Window 1 ends on two breaches (inconclusive: the streak may grow); the extra
    # window's first sample completes it.
    green = Slot([(400, 0), (400, 0), (400, 40), (400, 40), (400, 40), (400, 0), (400, 0), (400, 0)])
    with FakePrometheus({GREEN: green}).run() as url:
        result, clock = run(prometheus_params(url, on_inconclusive="wait", conditions=[{"type": "error_ratio"}]), green)
    errors = condition(result, "error_ratio")
    assert (result["verdict"], result["waits"], result["samples"]) == ("fail", 1, 5)
    assert errors["states"] == ["ok", "ok", "breach", "breach", "breach"]
    assert errors["judged_samples"] == 3
    assert errors["reason"].startswith(
        "judged on the last window's 1 sample(s) and 2 breach(es) of a streak open before it: "
        "error_ratio breached for 3 consecutive samples"
    )


def test_carried_breaches_skip_inconclusive_samples_and_stop_at_ok():
    samples = [{"timestamp": t, "value": v, "request_count": n} for t, v, n in [
        (1, 0.0, 100), (2, 0.5, 100), (3, 0.0, 100), (4, 0.5, 100), (5, 0.5, 2), (6, None, None), (7, 0.5, 100),
    ]]
    evaluated = gp.slo.evaluate_condition(samples, "error_ratio", sustained_for=3)
    assert [s["timestamp"] for s in gp.carried_breaches(samples, evaluated)] == [4, 7]


def test_unreachable_prometheus_is_inconclusive_with_the_reason():
    port = free_port()
    result, _ = run(prometheus_params("http://127.0.0.1:%d" % port, on_inconclusive="fail"))
    assert (result["verdict"], result["action"]) == ("inconclusive", "rollback")
    for item in result["conditions"]:
        assert item["verdict"] == "inconclusive"
        assert all(sample[1] is None for sample in item["samples"])
        assert "GET http://127.0.0.1:%d/api/v1/query?query=" % port in item["reason"]
        assert "Connection refused" in item["reason"]
    assert "Connection refused" in result["summary"]


def test_an_error_reply_is_inconclusive_with_prometheus_message():
    green = Slot([(400, 0)] * 4)
    fake = FakePrometheus({GREEN: green})
    fake.errors[REQUESTS_QUERY] = (
        400, b'{"status":"error","errorType":"bad_data","error":"invalid parameter \\"query\\": parse error"}'
    )
    with fake.run() as url:
        result, _ = run(prometheus_params(url), green)
    assert result["verdict"] == "inconclusive"
    assert condition(result, "health")["verdict"] == "pass"
    problems = condition(result, "error_ratio")["problems"]
    assert problems == [
        "Prometheus at %s rejected query %s (HTTP 400): bad_data: invalid parameter \"query\": parse error "
        "(this scrape)" % (url, REQUESTS_QUERY)
    ]


def test_an_empty_result_is_inconclusive_naming_the_query():
    green = Slot([(400, 0)] * 4)
    fake = FakePrometheus({GREEN: green})
    fake.empty.add(REQUESTS_QUERY)
    with fake.run() as url:
        result, _ = run(prometheus_params(url), green)
    assert result["verdict"] == "inconclusive"
    problems = condition(result, "error_ratio")["problems"]
    assert problems == ["query returned no series: %s (this scrape)" % REQUESTS_QUERY]
    assert "query returned no series: demo_http_requests_total{job=\"demo\",slot=\"green\"}" in result["summary"]


def test_a_counter_reset_makes_its_interval_inconclusive():
    green = Slot([(400, 0), (400, 0), "reset", (400, 0), (400, 0)])
    with FakePrometheus({GREEN: green}).run() as url:
        result, _ = run(prometheus_params(url, window=75), green)
    errors = condition(result, "error_ratio")
    assert [s[1] for s in errors["samples"]] == [0.0, 0.0, None, 0.0, 0.0]
    assert errors["states"][2] == "inconclusive"
    assert errors["problems"][0].startswith("counter reset (value decreased) in ")
    # bracketed by conclusive ok samples, so the gate still passes
    assert result["verdict"] == "pass"


def test_latency_percentile_from_bucket_deltas():
    green = Slot([(400, 0, 0.02), (400, 0, 0.3), (400, 0, 0.3), (400, 0, 0.3)])
    conditions = [{"type": "latency", "threshold": 0.25, "percentile": 0.95}]
    with FakePrometheus({GREEN: green}).run() as url:
        result, _ = run(prometheus_params(url, conditions=conditions), green)
    latency = condition(result, "latency")
    assert [s[1] for s in latency["samples"]] == [0.02425, 0.4875, 0.4875, 0.4875]
    assert result["verdict"] == "fail"
    assert latency["measure"] == (
        'p95 from the increases of demo_http_request_duration_seconds_bucket{job="demo",slot="green"} per '
        "interval (path /metrics, /healthz, /readyz excluded)"
    )
    assert latency["percentile"] == 0.95


def test_a_down_target_fails_the_health_condition():
    green = Slot([(400, 0), lambda slot: slot.up.update(app2=0), (400, 0), (400, 0)])
    with FakePrometheus({GREEN: green}).run() as url:
        result, _ = run(prometheus_params(url, conditions=[{"type": "health"}]), green)
    health = condition(result, "health")
    assert result["verdict"] == "fail" and health["samples"][1][1:] == [1.0, 2]
    assert "failing: {__name__=up,host=app2," in health["details"][0]
    assert result["summary"].startswith("FAIL: health 1 > 0 for 1 consecutive samples (requests 2); ")


def test_canary_worse_than_stable_fails_the_comparison():
    green = Slot([(400, 12)] * 4)
    blue = Slot([(4000, 0)] * 4)
    conditions = [{"type": "error_ratio", "threshold": 0.05}]
    with FakePrometheus({GREEN: green, BLUE: blue}).run() as url:
        result, _ = run(prometheus_params(url, conditions=conditions, compare_to=BLUE), green, blue)
    assert condition(result, "error_ratio")["verdict"] == "pass"
    comparison = result["comparison"]
    assert (result["verdict"], comparison["verdict"]) == ("fail", "fail")
    assert (comparison["canary_requests"], comparison["stable_requests"]) == (1600.0, 16000.0)
    assert result["failed_conditions"] == ["canary_vs_stable"]
    assert result["summary"] == (
        "FAIL: canary error_ratio 0.03 vs stable 0 (difference 0.03 > margin 0.01); action rollback"
    )


def test_comparison_is_inconclusive_when_the_stable_side_is_not_measured():
    green = Slot([(400, 0)] * 4)
    fake = FakePrometheus({GREEN: green})
    with fake.run() as url:
        result, _ = run(prometheus_params(url, compare_to='{job="demo",slot="blue"}'), green)
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
    conditions = [{"type": "error_ratio"}, {"type": "latency", "threshold": 0.1}, {"type": "health"}]
    with fake.run_http() as url:
        result, _ = run(haproxy_params(haproxy_stats_url=url, conditions=conditions), green, blue)
    assert result["verdict"] == "pass", result["summary"]
    assert condition(result, "error_ratio")["samples"][0][1:] == [0.0, 400]
    assert condition(result, "latency")["samples"][0][1:] == [0.05, 400]
    assert condition(result, "latency")["measure"].startswith("approximate: HAProxy's rtime (average over each")
    assert condition(result, "health")["samples"][0][1:] == [0.0, 2]

    green = Slot([(400, 20)] * 4)
    fake = FakeHAProxy({"green": green, "blue": blue})
    with fake.run_http() as url:
        result, _ = run(haproxy_params(haproxy_stats_url=url, window=45), green, blue)
    assert result["verdict"] == "fail"
    assert result["summary"].startswith(
        "FAIL: error_ratio 0.05 > 0.01 for 3 consecutive samples (requests 400, 400, 400)"
    )


def test_haproxy_down_server_fails_health_and_maint_is_not_probed():
    green = Slot([(400, 0)] * 4)
    fake = FakeHAProxy({"green": green})
    fake.status["app1-green"] = "DOWN 1/2"
    fake.status["app2-green"] = "MAINT"
    with fake.run_http() as url:
        result, _ = run(haproxy_params(haproxy_stats_url=url, conditions=[{"type": "health"}]), green)
    health = condition(result, "health")
    assert health["samples"][0][1:] == [1.0, 1]
    assert health["details"] == ["failing: app1-green (DOWN 1/2)"]


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
    result, _ = run(haproxy_params(haproxy_socket=str(tmp_path / "missing.sock")))
    assert result["verdict"] == "inconclusive"
    assert "HAProxy runtime API socket %s does not exist" % (tmp_path / "missing.sock") in result["summary"]

    fake = FakeHAProxy({"blue": Slot()})
    with fake.run_http() as url:
        result, _ = run(haproxy_params(haproxy_stats_url=url))
    assert result["verdict"] == "inconclusive"
    assert condition(result, "health")["problems"] == [
        "no server of backend demo matches '-green$' (servers: app1-blue, app2-blue)"
    ]
    with fake.run_http() as url:
        result, _ = run(haproxy_params(haproxy_stats_url=url.replace("stats;csv", "nope")))
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
        monkeypatch.setattr(gp, "text_string_to_metric_families", None)
    green = Slot([(400, 0, 0.02)] * 2 + [(400, 20, 0.3)] * 3)
    conditions = [{"type": "error_ratio"}, {"type": "latency", "threshold": 0.2}, {"type": "health"}]
    with metrics_servers(green) as urls:
        result, _ = run(http_params(urls, conditions=conditions, window=75), green)
    errors = condition(result, "error_ratio")
    # the gate's own /metrics and /readyz requests are left out: exactly the scripted traffic
    assert [s[1:] for s in errors["samples"]] == [[0.0, 400]] * 2 + [[0.05, 400]] * 3
    assert [s[1] for s in condition(result, "latency")["samples"]] == [0.02425, 0.02425, 0.4875, 0.4875, 0.4875]
    assert result["verdict"] == "fail" and result["failed_conditions"] == ["error_ratio", "latency"]


def test_http_not_ready_and_unreachable_urls():
    green = Slot([(400, 0)] * 4)
    green.ready["app2"] = False
    with metrics_servers(green) as urls:
        result, _ = run(http_params(urls + ["http://127.0.0.1:%d" % free_port()]), green)
    assert result["verdict"] == "fail"
    health = condition(result, "health")
    assert health["samples"][0][1:] == [2.0, 3]
    assert health["details"][0].startswith("failing: %s/readyz (HTTP 503), http://127.0.0.1:" % urls[1])
    # one unreachable /metrics page makes the request samples unknown, not partial
    assert condition(result, "error_ratio")["states"] == ["inconclusive"] * 1
    assert "Connection refused" in condition(result, "error_ratio")["problems"][0]


def test_http_restart_of_an_instance_is_a_reset():
    green = Slot([(400, 0), (400, 0), "reset", (400, 0), (400, 0)])
    with metrics_servers(green) as urls:
        result, _ = run(http_params(urls, window=75, conditions=[{"type": "error_ratio"}]), green)
    assert [s[1] for s in condition(result, "error_ratio")["samples"]] == [0.0, 0.0, None, 0.0, 0.0]
    assert result["verdict"] == "pass"
