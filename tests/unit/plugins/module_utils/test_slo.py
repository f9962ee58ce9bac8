# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLO gate evaluation, canary comparison and error-budget math.

Import path: tests/unit/conftest.py puts the collection on sys.path.
"""

from __future__ import annotations

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo
from hypothesis import given, settings
from hypothesis import strategies as st

STEP = 15

# A sample sequence is described by states: "ok" (conclusive, within threshold),
# "breach" (conclusive, over threshold), "low" (below min_requests), "none" (no value).
STATES = ("ok", "breach", "low", "none")


def make_samples(states, kind="error_ratio"):
    min_requests = slo.KINDS[kind]["min_requests"]
    good, bad = {
        "error_ratio": (0.001, 0.05),
        "availability": (0.999, 0.9),
        "latency": (0.1, 2.0),
        "health": (0, 2),
    }[kind]
    samples = []
    for index, state in enumerate(states):
        sample = {"timestamp": 1000 + index * STEP, "value": good, "request_count": 100}
        if state == "breach":
            sample["value"] = bad
        elif state == "low":
            sample["value"] = bad if index % 2 else good
            sample["request_count"] = min_requests - 1
        elif state == "none":
            sample["value"] = None
        samples.append(sample)
    return samples


def evaluate(states, sustained_for=3, kind="error_ratio", **kwargs):
    threshold = 0.5 if kind == "latency" else None
    return slo.evaluate_condition(
        make_samples(states, kind), kind, threshold=threshold, sustained_for=sustained_for, **kwargs
    )


def conclusive_streak(states):
    """Longest breach streak where ok ends a streak and unknown samples are skipped."""
    best = current = 0
    for state in states:
        if state == "ok":
            current = 0
        elif state == "breach":
            current += 1
            best = max(best, current)
    return best


def raw_streak(states):
    best = current = 0
    for state in states:
        current = current + 1 if state == "breach" else 0
        best = max(best, current)
    return best


state_lists = st.lists(st.sampled_from(STATES), max_size=25)
sustained = st.integers(min_value=1, max_value=6)
kinds = st.sampled_from(sorted(slo.KINDS))


# -------------------------------------------------------------------------- defaults


def test_mission_defaults():
    assert slo.KINDS["error_ratio"]["threshold"] == 0.01
    assert slo.KINDS["error_ratio"]["comparison"] == ">"
    assert slo.KINDS["availability"]["threshold"] == 0.995
    assert slo.KINDS["availability"]["comparison"] == "<"
    assert slo.KINDS["health"]["threshold"] == 0
    assert slo.KINDS["health"]["comparison"] == ">"
    assert slo.KINDS["health"]["sustained_for"] == 1
    assert slo.KINDS["latency"]["threshold"] is None
    assert slo.DEFAULT_ON_INCONCLUSIVE == "fail"


# ------------------------------------------------------------------------ conditions


def test_error_ratio_sustained_breach_fails_with_values_and_threshold():
    result = evaluate(["ok", "breach", "breach", "breach", "ok"])
    assert result["verdict"] == "fail"
    assert result["reason"] == (
        "error_ratio breached for 3 consecutive samples from t=1015 to t=1045: 5%, 5%, 5% "
        "(requests 100, 100, 100); fail when error ratio > 1% for sustained_for=3 consecutive sample(s)"
    )
    assert result["threshold"] == 0.01
    assert result["longest_streak"] == 3
    assert result["breaches"] == 3
    assert result["worst_value"] == 0.05
    assert [m["state"] for m in result["measurements"]] == ["ok", "breach", "breach", "breach", "ok"]


def test_failing_streak_and_sample_notes():
    result = evaluate(["ok", "breach", "low", "breach", "breach", "breach"])
    assert result["verdict"] == "fail"
    assert [(p["timestamp"], p["value"], p["request_count"]) for p in result["failing_streak"]] == [
        (1015, 0.05, 100),
        (1045, 0.05, 100),
        (1060, 0.05, 100),
    ]
    assert [m["note"] for m in result["measurements"]] == [
        "",
        "5% > 1%",
        "9 requests < min_requests 10",
        "5% > 1%",
        "5% > 1%",
        "5% > 1%",
    ]
    for states in (["ok"] * 3, ["breach", "breach", "ok"], ["low"] * 3):
        assert evaluate(states)["failing_streak"] == []


def test_reasons_print_epoch_timestamps_in_full():
    samples = [{"timestamp": 1767139215.0131 + 15 * i, "value": 0.05, "request_count": 100} for i in range(3)]
    result = slo.evaluate_condition(samples, "error_ratio")
    assert "from t=1767139215.013 to t=1767139245.013:" in result["reason"]


def test_breaches_that_are_not_consecutive_do_not_fail():
    result = evaluate(["breach", "ok", "breach", "ok", "breach", "ok"])
    assert result["verdict"] == "pass"
    assert result["breaches"] == 3
    assert result["longest_streak"] == 1
    assert "within threshold: worst 5%, newest 0.1% over 6 samples" in result["reason"]


def test_availability_below_threshold_fails():
    result = evaluate(["breach"] * 3, kind="availability")
    assert result["verdict"] == "fail"
    assert "90%, 90%, 90%" in result["reason"]
    assert "fail when availability < 99.5%" in result["reason"]


def test_latency_needs_a_threshold():
    with pytest.raises(ValueError, match=r"^latency.threshold is required for a latency condition$"):
        slo.evaluate_condition(make_samples(["ok"] * 3, "latency"), "latency")
    result = evaluate(["breach"] * 3, kind="latency")
    assert result["verdict"] == "fail"
    assert "2s, 2s, 2s" in result["reason"] and "latency > 0.5s" in result["reason"]


def test_any_failing_health_probe_fails_by_default():
    samples = [
        {"timestamp": 1, "value": 0, "request_count": 3},
        {"timestamp": 2, "value": 1, "request_count": 3},
        {"timestamp": 3, "value": 0, "request_count": 3},
    ]
    result = slo.evaluate_condition(samples, "health")
    assert result["verdict"] == "fail"
    assert "health breached for 1 consecutive samples at t=2: 1 (requests 3)" in result["reason"]
    assert "failing health probes > 0" in result["reason"]


def test_health_without_probes_is_inconclusive():
    samples = [{"timestamp": 1, "value": 0, "request_count": 0}]
    result = slo.evaluate_condition(samples, "health")
    assert result["verdict"] == "inconclusive"
    assert "0 requests < min_requests 1" in result["reason"]


def test_no_samples_is_inconclusive_not_pass():
    result = slo.evaluate_condition([], "error_ratio")
    assert result["verdict"] == "inconclusive"
    assert result["reason"].startswith("error_ratio has no samples (empty query result or no data)")


def test_low_traffic_is_inconclusive_not_pass():
    result = evaluate(["low"] * 5)
    assert result["verdict"] == "inconclusive"
    assert "cannot rule out a sustained breach" in result["reason"]
    assert "9 requests < min_requests 10" in result["reason"]
    assert result["conclusive"] == 0


def test_nan_value_is_inconclusive():
    samples = make_samples(["ok", "ok", "ok"])
    samples[1]["value"] = float("nan")
    result = slo.evaluate_condition(samples, "error_ratio", sustained_for=1)
    assert result["verdict"] == "inconclusive"
    assert "no value" in result["reason"]
    assert result["measurements"][1]["value"] is None


def test_unknown_request_count_is_inconclusive_unless_min_requests_is_zero():
    samples = [{"timestamp": t, "value": 0.0} for t in (1, 2, 3)]
    assert slo.evaluate_condition(samples, "error_ratio")["verdict"] == "inconclusive"
    assert slo.evaluate_condition(samples, "error_ratio", min_requests=0)["verdict"] == "pass"


def test_open_breach_at_the_end_waits():
    result = evaluate(["ok", "ok", "ok", "breach"])
    assert result["verdict"] == "inconclusive"
    assert "the newest 1 sample(s) at t=1045 breach or are inconclusive (5% > 1%)" in result["reason"]


def test_too_few_samples_is_inconclusive():
    result = evaluate(["ok", "ok"])
    assert result["verdict"] == "inconclusive"
    assert "only 2 sample(s), fewer than sustained_for=3" in result["reason"]


def test_inconclusive_samples_bracketed_by_ok_samples_can_pass():
    result = evaluate(["ok", "low", "ok", "low", "ok"])
    assert result["verdict"] == "pass"
    assert result["inconclusive_samples"] == 2
    assert "2 inconclusive sample(s)" in result["reason"]


def test_inconclusive_samples_neither_extend_nor_break_a_streak():
    # breach, unknown, breach, breach: three breaches without an ok in between
    assert evaluate(["breach", "low", "breach", "breach", "ok"])["verdict"] == "fail"
    # an ok sample ends the streak
    assert evaluate(["breach", "breach", "ok", "breach", "ok"])["verdict"] == "pass"


def test_tuple_samples_and_custom_comparison():
    samples = [[1, 0.02, 50], [2, 0.02, 50]]
    result = slo.evaluate_condition(samples, "error_ratio", threshold=0.02, comparison=">=", sustained_for=2)
    assert result["verdict"] == "fail"
    assert "2% >= 2%" not in result["reason"]  # values listed, rule stated once
    assert "fail when error ratio >= 2%" in result["reason"]


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"kind": "errors"}, "errors.kind must be one of availability, error_ratio, health, latency, got 'errors'"),
        ({"kind": "error_ratio", "threshold": 1.5}, "error_ratio.threshold must be a number in [0, 1], got 1.5"),
        ({"kind": "availability", "threshold": -0.1}, "availability.threshold must be a number in [0, 1], got -0.1"),
        ({"kind": "latency", "threshold": 0}, "latency.threshold must be a number greater than 0, got 0"),
        ({"kind": "health", "threshold": -1}, "health.threshold must be a number at least 0, got -1"),
        ({"kind": "error_ratio", "threshold": "1%"}, "error_ratio.threshold must be a number in [0, 1], got '1%'"),
        ({"kind": "error_ratio", "sustained_for": 0}, "error_ratio.sustained_for must be a positive integer, got 0"),
        (
            {"kind": "error_ratio", "sustained_for": 2.5},
            "error_ratio.sustained_for must be a positive integer, got 2.5",
        ),
        ({"kind": "error_ratio", "min_requests": -1}, "error_ratio.min_requests must be a non-negative number, got -1"),
        ({"kind": "error_ratio", "comparison": "=="}, "error_ratio.comparison must be one of >, >=, <, <=, got '=='"),
        (
            {"kind": "error_ratio", "name": "canary errors", "threshold": 2},
            "canary errors.threshold must be a number in [0, 1], got 2",
        ),
    ],
)
def test_condition_rejects_bad_options(kwargs, message):
    with pytest.raises(ValueError) as exc:
        slo.evaluate_condition([], **kwargs)
    assert str(exc.value) == message


@pytest.mark.parametrize(
    "samples, message",
    [
        ("0.1", "error_ratio.samples must be a list of {timestamp, value, request_count}, got '0.1'"),
        ([{"value": 1}], "error_ratio.samples[0] has no timestamp"),
        (
            [{"timestamp": "now", "value": 1}],
            "error_ratio.samples[0].timestamp must be a number (epoch seconds), got 'now'",
        ),
        (
            [{"timestamp": 2, "value": 0}, {"timestamp": 1, "value": 0}],
            "error_ratio.samples[1].timestamp 1 is not after the previous sample's 2",
        ),
        ([{"timestamp": 1, "value": "high"}], "error_ratio.samples[0].value must be a number or null, got 'high'"),
        (
            [{"timestamp": 1, "value": 0, "request_count": -3}],
            "error_ratio.samples[0].request_count must be a non-negative number or null, got -3",
        ),
        (
            [7],
            "error_ratio.samples[0] must be {timestamp, value, "
            "request_count} or [timestamp, value, request_count], got 7",
        ),
    ],
)
def test_condition_rejects_bad_samples(samples, message):
    with pytest.raises(ValueError) as exc:
        slo.evaluate_condition(samples, "error_ratio")
    assert message in str(exc.value)


# ------------------------------------------------------------ condition properties


@settings(max_examples=400)
@given(state_lists, sustained, kinds)
def test_streak_shorter_than_sustained_for_never_fails(states, k, kind):
    result = evaluate(states, sustained_for=k, kind=kind)
    if conclusive_streak(states) < k:
        assert result["verdict"] != "fail"
    else:
        assert result["verdict"] == "fail"


@settings(max_examples=400)
@given(state_lists, sustained, kinds, st.integers(min_value=0, max_value=25))
def test_streak_of_sustained_for_breaches_always_fails(states, k, kind, position):
    position = min(position, len(states))
    states = states[:position] + ["breach"] * k + states[position:]
    result = evaluate(states, sustained_for=k, kind=kind)
    assert raw_streak(states) >= k
    assert result["verdict"] == "fail"
    assert result["longest_streak"] >= k


@settings(max_examples=400)
@given(state_lists, sustained)
def test_pass_only_with_enough_conclusive_samples(states, k):
    """The documented rule: a pass needs at least sustained_for samples, a conclusive
    ok newest sample, and a conclusive ok sample in every sustained_for consecutive
    samples, so no assignment of the unknown samples could have failed."""
    result = evaluate(states, sustained_for=k)
    if result["verdict"] != "pass":
        return
    assert len(states) >= k
    assert states[-1] == "ok"
    for start in range(len(states) - k + 1):
        assert "ok" in states[start : start + k]
    if any(s in ("low", "none") for s in states):
        assert result["conclusive"] >= len(states) // k
    # the worst case for the unknown samples still passes
    worst = ["breach" if s in ("low", "none") else s for s in states]
    assert evaluate(worst, sustained_for=k)["verdict"] == "pass"


@given(st.lists(st.sampled_from(("low", "none")), min_size=1, max_size=20), sustained)
def test_all_inconclusive_never_passes(states, k):
    assert evaluate(states, sustained_for=k)["verdict"] == "inconclusive"


@given(state_lists, sustained)
def test_reason_states_threshold_and_measurements(states, k):
    result = evaluate(states, sustained_for=k)
    assert "1%" in result["reason"]  # the threshold
    assert result["samples"] == len(states) == len(result["measurements"])
    assert result["conclusive"] + result["inconclusive_samples"] == len(states)


# ------------------------------------------------------------------------------ gate


def _condition(kind, states, **extra):
    condition = {"kind": kind, "samples": make_samples(states, kind)}
    if kind == "latency":
        condition["threshold"] = 0.5
    condition.update(extra)
    return condition


def test_gate_any_fail_fails():
    gate = slo.evaluate_gate(
        [
            _condition("error_ratio", ["breach"] * 3),
            _condition("availability", ["low"] * 3),
            _condition("health", ["ok"] * 3),
        ]
    )
    assert gate["verdict"] == "fail"
    assert gate["failed"] == ["error_ratio"]
    assert gate["inconclusive"] == ["availability"]
    assert gate["passed"] == ["health"]
    assert gate["reason"].startswith("gate failed: error_ratio breached for 3 consecutive samples")
    assert len(gate["conditions"]) == 3


def test_gate_inconclusive_beats_pass():
    gate = slo.evaluate_gate([_condition("error_ratio", ["ok"] * 3), _condition("availability", [])])
    assert gate["verdict"] == "inconclusive"
    assert gate["reason"].startswith("gate inconclusive: availability has no samples")


def test_gate_passes_when_all_pass_and_copies_info_keys():
    gate = slo.evaluate_gate([_condition("error_ratio", ["ok"] * 3, query="sum(rate(x[1m]))", name="errors")])
    assert gate["verdict"] == "pass"
    assert gate["reason"] == "gate passed: all 1 condition(s) passed"
    assert gate["conditions"][0]["query"] == "sum(rate(x[1m]))"
    assert gate["conditions"][0]["name"] == "errors"


def test_gate_with_canary_comparison():
    gate = slo.evaluate_gate(
        [_condition("error_ratio", ["ok"] * 3)],
        comparisons=[{"canary_errors": 8, "canary_requests": 100, "stable_errors": 1, "stable_requests": 100}],
    )
    assert gate["verdict"] == "fail"
    assert gate["failed"] == ["canary_vs_stable"]


@pytest.mark.parametrize(
    "conditions, message",
    [
        ([], "conditions must be a non-empty list: a gate without conditions can never fail"),
        ({"kind": "error_ratio"}, "conditions must be a list of condition mappings"),
        ([{"samples": []}], "conditions[0].kind is required"),
        ([{"kind": "error_ratio", "sustain_for": 3}], "conditions[0] has unknown option(s) sustain_for"),
        ([{"kind": "error_ratio"}, {"kind": "error_ratio"}], "conditions[1].name 'error_ratio' is used twice"),
        (["error_ratio"], "conditions[0] must be a mapping, got 'error_ratio'"),
    ],
)
def test_gate_rejects_bad_conditions(conditions, message):
    with pytest.raises(ValueError) as exc:
        slo.evaluate_gate(conditions)
    assert message in str(exc.value)


def test_gate_rejects_bad_comparison_arguments():
    with pytest.raises(ValueError, match=r"comparisons\[0\]: .*unexpected keyword argument 'canary'"):
        slo.evaluate_gate([_condition("error_ratio", ["ok"] * 3)], comparisons=[{"canary": 1}])


@given(st.lists(st.sampled_from(slo.VERDICTS), min_size=1, max_size=10))
def test_combine_verdicts(verdicts):
    results = [{"name": "c%d" % i, "verdict": v, "reason": v} for i, v in enumerate(verdicts)]
    combined = slo.combine_verdicts(results)
    if "fail" in verdicts:
        assert combined["verdict"] == "fail"
    elif "inconclusive" in verdicts:
        assert combined["verdict"] == "inconclusive"
    else:
        assert combined["verdict"] == "pass"
    assert len(combined["failed"]) + len(combined["inconclusive"]) + len(combined["passed"]) == len(verdicts)


def test_combine_rejects_result_without_verdict():
    with pytest.raises(ValueError, match=r"conditions\[0\] has no verdict"):
        slo.combine_verdicts([{"verdict": "maybe"}])


@pytest.mark.parametrize(
    "verdict, policy, waits, action",
    [
        ("pass", "wait", None, "proceed"),
        ("pass", "fail", 0, "proceed"),
        ("fail", "pass", None, "rollback"),
        ("fail", "wait", 3, "rollback"),
        ("inconclusive", "pass", None, "proceed"),
        ("inconclusive", "fail", None, "rollback"),
        ("inconclusive", "wait", None, "wait"),
        ("inconclusive", "wait", 2, "wait"),
        ("inconclusive", "wait", 0, "rollback"),
    ],
)
def test_gate_action(verdict, policy, waits, action):
    result = slo.gate_action(verdict, policy, waits)
    assert result["action"] == action
    assert result["verdict"] == verdict
    assert result["on_inconclusive"] == policy


def test_gate_action_defaults_to_fail_like_slo_gate_and_the_deploy_role():
    result = slo.gate_action("inconclusive")
    assert result["action"] == "rollback"
    assert result["on_inconclusive"] == slo.DEFAULT_ON_INCONCLUSIVE == "fail"


@pytest.mark.parametrize(
    "args, message",
    [
        (("maybe",), "verdict must be one of pass, fail, inconclusive, got 'maybe'"),
        (("pass", "retry"), "on_inconclusive must be one of wait, fail, pass, got 'retry'"),
        (("pass", "wait", -1), "waits_remaining must be a non-negative integer or null, got -1"),
    ],
)
def test_gate_action_rejects(args, message):
    with pytest.raises(ValueError) as exc:
        slo.gate_action(*args)
    assert str(exc.value) == message


# ------------------------------------------------------------------ canary vs stable


def test_compare_canary_fails_beyond_margin():
    result = slo.compare_canary(5, 100, 1, 100, margin=0.02)
    assert result["verdict"] == "fail"
    assert result["difference"] == pytest.approx(0.04)
    assert result["reason"] == (
        "canary_vs_stable: canary error ratio 5% (5/100) vs stable 1% (1/100), difference 4% > margin 2%; "
        "fail when the canary error ratio exceeds the stable one by more than 2%"
    )


def test_compare_canary_passes_within_margin_and_at_the_margin():
    assert slo.compare_canary(2, 100, 1, 100, margin=0.01)["verdict"] == "pass"  # exactly 1 point: not more
    assert slo.compare_canary(0, 100, 5, 100)["verdict"] == "pass"


def test_compare_canary_needs_traffic_on_both_sides():
    result = slo.compare_canary(0, 5, 0, 1000, min_requests=10)
    assert result["verdict"] == "inconclusive"
    assert "canary saw 5 requests" in result["reason"]
    result = slo.compare_canary(0, 500, 0, 0, min_requests=0)
    assert result["verdict"] == "inconclusive"
    assert "stable saw 0 requests" in result["reason"]


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        (
            (11, 10, 0, 10),
            {},
            "canary_vs_stable.canary_errors (11) must not exceed canary_vs_stable.canary_requests (10)",
        ),
        ((0, 10, 0, -1), {}, "canary_vs_stable.stable_requests must be a non-negative number, got -1"),
        ((0, 10, 0, 10), {"margin": 2}, "canary_vs_stable.margin must be a number in [0, 1], got 2"),
    ],
)
def test_compare_canary_rejects(args, kwargs, message):
    with pytest.raises(ValueError) as exc:
        slo.compare_canary(*args, **kwargs)
    assert str(exc.value) == message


@given(
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=1000),
    st.integers(min_value=0, max_value=100),
)
def test_compare_canary_never_passes_below_min_requests(ce, cr, se, sr, min_requests):
    ce, cr = min(ce, cr), max(ce, cr)
    se, sr = min(se, sr), max(se, sr)
    result = slo.compare_canary(ce, cr, se, sr, min_requests=min_requests)
    if cr < min_requests or sr < min_requests or cr == 0 or sr == 0:
        assert result["verdict"] == "inconclusive"
    else:
        assert result["verdict"] in ("pass", "fail")


# ---------------------------------------------------------------------- error budget


def test_error_budget_half_spent():
    budget = slo.error_budget(0.999, 99950, 100000)
    assert budget == {
        "slo_target": 0.999,
        "good": 99950,
        "total": 100000,
        "errors": 50.0,
        "error_ratio": 0.0005,
        "budget": 0.001,
        "allowed_errors": 100.0,
        "consumed": 0.5,
        "remaining": 0.5,
        "exhausted": False,
    }


def test_error_budget_exactly_spent_is_exhausted_without_float_error():
    budget = slo.error_budget(0.999, 999, 1000)
    assert budget["consumed"] == 1.0
    assert budget["remaining"] == 0.0
    assert budget["exhausted"] is True


def test_error_budget_overspent():
    budget = slo.error_budget(0.99, 900, 1000)
    assert budget["consumed"] == pytest.approx(10.0)
    assert budget["remaining"] == 0.0
    assert budget["exhausted"] is True


def test_error_budget_without_traffic():
    budget = slo.error_budget(0.999, 0, 0)
    assert budget["consumed"] == 0.0
    assert budget["remaining"] == 1.0
    assert budget["error_ratio"] is None
    assert budget["exhausted"] is False


@pytest.mark.parametrize(
    "args, message",
    [
        ((1, 10, 10), "slo_target must be a number in (0, 1), got 1"),
        ((0, 10, 10), "slo_target must be a number in (0, 1), got 0"),
        ((99.9, 10, 10), "slo_target must be a number in (0, 1), got 99.9"),
        (("0.999", 10, 10), "slo_target must be a number in (0, 1), got '0.999'"),
        ((0.999, -1, 10), "good must be a non-negative number, got -1"),
        ((0.999, 1, None), "total must be a non-negative number, got None"),
        ((0.999, 11, 10), "good (11) must not exceed total (10)"),
        ((0.999, True, 10), "good must be a non-negative number, got True"),
    ],
)
def test_error_budget_rejects(args, message):
    with pytest.raises(ValueError) as exc:
        slo.error_budget(*args)
    assert str(exc.value) == message


slo_targets = st.sampled_from([0.9, 0.99, 0.995, 0.999, 0.9995, 0.9999]) | st.floats(
    min_value=0.5, max_value=0.99999, allow_nan=False
)


@settings(max_examples=300)
@given(slo_targets, st.integers(min_value=0, max_value=10**9), st.integers(min_value=0, max_value=10**9))
def test_error_budget_consumed_plus_remaining_is_one_unless_overspent(target, a, b):
    good, total = min(a, b), max(a, b)
    budget = slo.error_budget(target, good, total)
    assert budget["consumed"] >= 0
    assert 0 <= budget["remaining"] <= 1
    assert budget["exhausted"] == (budget["consumed"] >= 1)
    if not budget["exhausted"]:
        assert budget["consumed"] + budget["remaining"] == pytest.approx(1.0)
    else:
        assert budget["remaining"] == 0.0
    assert budget["errors"] == total - good


@given(slo_targets, st.floats(min_value=0, max_value=1, allow_nan=False))
def test_burn_rate_relates_error_ratio_to_budget(target, ratio):
    rate = slo.burn_rate(ratio, target)
    assert rate >= 0
    assert rate * (1 - target) == pytest.approx(ratio, rel=1e-9, abs=1e-12)


def test_burn_rate_values():
    assert slo.burn_rate(0.02, 0.999) == 20.0
    assert slo.burn_rate(0.001, 0.999) == 1.0
    assert slo.burn_rate(0, 0.999) == 0.0


@pytest.mark.parametrize(
    "args, message",
    [
        ((1.2, 0.999), "error_ratio must be a number in [0, 1], got 1.2"),
        ((0.1, 1.0), "slo_target must be a number in (0, 1), got 1.0"),
        ((None, 0.999), "error_ratio must be a number in [0, 1], got None"),
    ],
)
def test_burn_rate_rejects(args, message):
    with pytest.raises(ValueError) as exc:
        slo.burn_rate(*args)
    assert str(exc.value) == message


def test_burn_rate_alert_needs_both_windows():
    fires = slo.burn_rate_alert(0.02, 0.03, 0.999)
    assert fires["alert"] is True
    assert fires["long_burn_rate"] == 20.0 and fires["short_burn_rate"] == 30.0
    assert fires["reason"] == "burn rate 20 over 1h and 30 over 5m both above 14.4x"
    # recovered: the short window is calm again
    assert slo.burn_rate_alert(0.02, 0.001, 0.999)["alert"] is False
    # a short spike alone does not page
    assert slo.burn_rate_alert(0.001, 0.5, 0.999)["alert"] is False
    # exactly at the threshold does not fire (the workbook's PromQL uses >)
    assert slo.burn_rate_alert(0.0144, 0.0144, 0.999)["alert"] is False


def test_burn_rate_alert_without_data_does_not_fire_and_says_so():
    result = slo.burn_rate_alert(None, 0.5, 0.999)
    assert result["alert"] is False
    assert result["reason"] == "no data for the 1h window(s): no alert"


def test_burn_rate_alert_rejects_bad_threshold():
    with pytest.raises(ValueError, match=r"^threshold must be a number greater than 0, got 0$"):
        slo.burn_rate_alert(0.1, 0.1, 0.999, threshold=0)


@given(
    st.floats(min_value=0, max_value=1, allow_nan=False),
    st.floats(min_value=0, max_value=1, allow_nan=False),
    slo_targets,
    st.floats(min_value=0.1, max_value=50, allow_nan=False),
)
def test_burn_rate_alert_is_the_and_of_both_windows(long_ratio, short_ratio, target, threshold):
    result = slo.burn_rate_alert(long_ratio, short_ratio, target, threshold=threshold)
    long_alone = slo.burn_rate_alert(long_ratio, long_ratio, target, threshold=threshold)["alert"]
    short_alone = slo.burn_rate_alert(short_ratio, short_ratio, target, threshold=threshold)["alert"]
    assert result["alert"] == (long_alone and short_alone)


def test_burn_rate_alerts_default_rules():
    result = slo.burn_rate_alerts({"5m": 0.03, "1h": 0.02, "30m": 0.001, "6h": 0.001}, 0.999)
    assert result["alert"] is True
    assert [r["alert"] for r in result["rules"]] == [True, False, False]
    assert [r["severity"] for r in result["rules"]] == ["page", "page", "ticket"]
    assert "no data for the 3d window(s)" in result["rules"][2]["reason"]


def test_burn_rate_alerts_rejects_bad_rules():
    with pytest.raises(ValueError, match=r"rules\[0\] must have long_window, short_window and threshold"):
        slo.burn_rate_alerts({"1h": 0.1}, 0.999, rules=[{"long_window": "1h"}])
    with pytest.raises(ValueError, match=r"error_ratios must be a mapping of window to error ratio"):
        slo.burn_rate_alerts([0.1], 0.999)


# ------------------------------------------------------------------------ thresholds


@pytest.mark.parametrize(
    "args, kwargs, expected",
    [
        (("gate_error_ratio", 0.01, 0, 1), {}, 0.01),
        (("gate_error_ratio", 0, 0, 1), {}, 0.0),
        (("gate_error_ratio", 1, 0, 1), {}, 1.0),
        (("gate_latency", 0.25, 0), {"lo_open": True}, 0.25),
        (("anything", -5), {}, -5.0),
    ],
)
def test_validate_threshold_accepts(args, kwargs, expected):
    assert slo.validate_threshold(*args, **kwargs) == expected


@pytest.mark.parametrize(
    "args, kwargs, message",
    [
        (("gate_error_ratio", 1.01, 0, 1), {}, "gate_error_ratio must be a number in [0, 1], got 1.01"),
        (("gate_availability", -0.5, 0, 1), {}, "gate_availability must be a number in [0, 1], got -0.5"),
        (("gate_latency", 0, 0), {"lo_open": True}, "gate_latency must be a number greater than 0, got 0"),
        (("gate_latency", float("inf"), 0), {"lo_open": True}, "gate_latency must be a number greater than 0, got inf"),
        (("gate_error_ratio", True, 0, 1), {}, "gate_error_ratio must be a number in [0, 1], got True"),
        (("ratio", 1, 0, 1), {"hi_open": True}, "ratio must be a number in [0, 1), got 1"),
        (("cap", 11), {"hi": 10}, "cap must be a number at most 10, got 11"),
        (("x", None), {}, "x must be a finite number, got None"),
    ],
)
def test_validate_threshold_rejects(args, kwargs, message):
    with pytest.raises(ValueError) as exc:
        slo.validate_threshold(*args, **kwargs)
    assert str(exc.value) == message


# -------------------------------------------------------------- sustained duration


@pytest.mark.parametrize(
    "duration, step, expected",
    [(60, 15, 4), (61, 15, 5), (10, 15, 1), (120, 30, 4), (0.3, 0.1, 3)],
)
def test_sustained_samples(duration, step, expected):
    assert slo.sustained_samples(duration, step) == expected


def test_sustained_samples_rejects():
    with pytest.raises(ValueError, match=r"^sustained_for_seconds must be a number greater than 0, got 0$"):
        slo.sustained_samples(0, 15)
    with pytest.raises(ValueError, match=r"^step_seconds must be a number greater than 0, got -1$"):
        slo.sustained_samples(60, -1)
