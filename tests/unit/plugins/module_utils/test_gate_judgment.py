# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canary verdicts from counted evidence (gate_judgment): the numbers, the rule, the messages.

Import path: tests/unit/conftest.py puts the collection on sys.path.
"""

from __future__ import annotations

import calendar
import math
import re
from fractions import Fraction

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import gate_judgment as g
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

# 2026-12-06 14:03:00 UTC: samples every 10 s from here read 14:03:00, 14:03:10, ...
T0 = calendar.timegm((2026, 12, 6, 14, 3, 0))
INTERVAL = 10
PLAN_1 = g.evidence_plan(0.01)

BR, OK, UC, UM = g.BREACH, g.OK, g.UNCLEAR, g.UNMEASURED
TEST_PASS = {"decision": g.PASS}
TEST_FAIL = {"decision": g.FAIL}
TEST_OPEN = {"decision": None}


def timed(pairs, keys, note, start=T0):
    """Pairs of counts (None for an unmeasured interval, with ``note``) as timed samples."""
    result = []
    for index, pair in enumerate(pairs):
        sample = {"timestamp": start + INTERVAL * index}
        sample.update(zip(keys, (None, None) if pair is None else pair))
        if pair is None:
            sample["note"] = note
        result.append(sample)
    return result


def samples(pairs, start=T0):
    """``[(bad, total), ...]`` (None for an unmeasured interval) as timed samples."""
    return timed(pairs, ("bad", "total"), "prometheus: connection refused", start)


def judge(pairs, **options):
    kwargs = dict(name="error_ratio", label="error_ratio", threshold=0.01, sustained_for=3, min_requests=10,
                  interval=INTERVAL, describe_bad="5xx answer")
    kwargs.update(options)
    return g.judge_counted(samples(pairs), **kwargs)


def brute_force_tail(k, n, p):
    p = Fraction(p)
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(max(k, 0), n + 1))


# ------------------------------------------------------------------ binomial tail


@settings(max_examples=300, deadline=None)
@given(
    n=st.integers(0, 60),
    k=st.integers(-2, 62),
    p=st.one_of(st.just(0.0), st.just(1.0), st.floats(1e-6, 1 - 1e-6)),
)
def test_binomial_tail_equals_the_exact_sum_of_binomial_terms(n, k, p):
    exact = brute_force_tail(k, n, p)
    assert math.isclose(g.binomial_tail(k, n, p), float(exact), rel_tol=1e-9, abs_tol=1e-12)


@pytest.mark.parametrize("k", [1, 10, 15, 16, 30, 60])
def test_binomial_tail_stays_exact_for_thousands_of_requests(k):
    # P(X >= k | n=3000, p=1/200), both branches (mean 15), down to a far tail; exact as
    # 1 - P(X < k) with p = 1/200 as a fraction (few terms, small integers).
    n, p = 3000, Fraction(1, 200)
    exact = 1 - sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k))
    assert math.isclose(g.binomial_tail(k, n, 0.005), float(exact), rel_tol=1e-9, abs_tol=1e-15)


# ------------------------------------------------------------------ evidence plan


@pytest.mark.parametrize("threshold", [0, 0.0, 1, 1.0, -0.01, 1.5, True, False, "0.01", None, float("nan")])
def test_evidence_plan_refuses_a_threshold_that_is_no_ratio_in_the_open_unit_interval(threshold):
    with pytest.raises(ValueError) as error:
        g.evidence_plan(threshold, name="error_ratio")
    assert str(error.value) == (
        "error_ratio.threshold must be a ratio in (0, 1) for a counted condition (a ratio of 0 could never be "
        "shown to hold), got %r" % (threshold,)
    )


@pytest.mark.parametrize("value", [0, 0.0, 0.5, 0.6, 1, -0.01, True, "0.01", None])
@pytest.mark.parametrize("option", ["alpha", "beta"])
def test_evidence_plan_refuses_error_rates_outside_zero_to_one_half_naming_the_option(option, value):
    names = {"alpha": "false_rollback_rate", "beta": "false_promotion_rate"}
    with pytest.raises(ValueError) as error:
        g.evidence_plan(0.01, **{option: value})
    assert str(error.value) == "%s must be a probability in (0, 0.5), got %r" % (names[option], value)


def test_evidence_plan_tests_half_the_threshold_against_twice_the_threshold():
    plan = g.evidence_plan(0.01)
    assert plan["acceptable"] == pytest.approx(0.005)
    assert plan["unacceptable"] == pytest.approx(0.02)
    assert plan["bad_step"] == pytest.approx(math.log(4))
    assert plan["good_step"] == pytest.approx(math.log(0.98 / 0.995))
    assert plan["fail_at"] == pytest.approx(math.log(99))
    assert plan["pass_at"] == pytest.approx(-math.log(99))


def test_evidence_plan_keeps_the_unacceptable_ratio_below_one_for_large_thresholds():
    plan = g.evidence_plan(0.6)
    assert plan["acceptable"] == pytest.approx(0.3)
    assert plan["unacceptable"] == pytest.approx(0.8)


# ------------------------------------------------------- documented request counts


def test_a_stage_at_a_one_percent_threshold_passes_after_303_clean_requests():
    assert g.clean_requests_to_pass(PLAN_1) == 303
    assert g.sequential_test(0, 302, PLAN_1)["decision"] is None
    assert g.sequential_test(0, 303, PLAN_1)["decision"] == g.PASS


def test_each_error_adds_about_92_requests_to_what_a_one_percent_stage_needs():
    # 91.26 more good requests per error (ln 4 / -ln(0.98/0.995)), plus the bad one itself.
    needed = [g.clean_requests_to_pass(PLAN_1, bad) for bad in range(101)]
    assert needed[:5] == [303, 395, 488, 580, 672]
    assert {b - a for a, b in zip(needed, needed[1:])} == {92, 93}
    assert (needed[100] - needed[0]) / 100 == pytest.approx(1 + math.log(4) / -PLAN_1["good_step"], abs=0.01)


def test_a_stage_at_a_five_percent_threshold_passes_after_58_clean_requests():
    assert g.clean_requests_to_pass(g.evidence_plan(0.05)) == 58


@settings(max_examples=300, deadline=None)
@given(threshold=st.floats(0.0005, 0.45), bad=st.integers(0, 30),
       alpha=st.sampled_from([0.01, 0.05, 0.1]), beta=st.sampled_from([0.01, 0.05, 0.1]))
def test_clean_requests_to_pass_is_the_first_count_the_sequential_test_passes(threshold, bad, alpha, beta):
    plan = g.evidence_plan(threshold, alpha, beta)
    needed = g.clean_requests_to_pass(plan, bad)
    assert g.sequential_test(bad, needed, plan)["decision"] == g.PASS
    assert g.sequential_test(bad, needed - 1, plan)["decision"] != g.PASS


# ---------------------------------------------------------------- sequential test

# A plan with round steps puts the counts exactly on the boundaries.
ROUND_PLAN = {"bad_step": 1.0, "good_step": -0.5, "fail_at": 3.0, "pass_at": -3.0}


def test_sequential_test_fails_on_reaching_the_upper_boundary():
    assert g.sequential_test(3, 3, ROUND_PLAN) == {"decision": g.FAIL, "llr": 3.0, "more_clean": None}
    assert g.sequential_test(2, 2, ROUND_PLAN)["decision"] is None


def test_sequential_test_passes_on_reaching_the_lower_boundary():
    assert g.sequential_test(0, 6, ROUND_PLAN) == {"decision": g.PASS, "llr": -3.0, "more_clean": None}
    assert g.sequential_test(0, 5, ROUND_PLAN) == {"decision": None, "llr": -2.5, "more_clean": 1}


def test_sequential_test_with_no_requests_needs_the_documented_count():
    assert g.sequential_test(0, 0, PLAN_1) == {"decision": None, "llr": 0.0, "more_clean": 303}


def test_sequential_test_fails_a_one_percent_stage_on_four_errors_in_four_requests_not_three():
    assert g.sequential_test(4, 4, PLAN_1)["decision"] == g.FAIL
    assert g.sequential_test(3, 3, PLAN_1)["decision"] is None


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(bad=st.integers(0, 40), data=st.data())
def test_more_clean_requests_is_exactly_what_the_sequential_test_still_needs(bad, data):
    # Draw only good counts that leave the test undecided: below the lower end, the bad
    # requests alone have already failed it.
    lowest = max(0, int(math.floor((bad * PLAN_1["bad_step"] - PLAN_1["fail_at"]) / -PLAN_1["good_step"])) + 1)
    good = data.draw(st.integers(lowest, max(lowest, g.clean_requests_to_pass(PLAN_1, bad) - bad - 1)))
    test = g.sequential_test(bad, bad + good, PLAN_1)
    assume(test["decision"] is None)  # not failed already (many errors in few requests)
    more = test["more_clean"]
    assert g.sequential_test(bad, bad + good + more, PLAN_1)["decision"] == g.PASS
    assert more == 1 or g.sequential_test(bad, bad + good + more - 1, PLAN_1)["decision"] is None


# ------------------------------------------------------------------- sample state


@pytest.mark.parametrize(
    "bad, total, state",
    [
        (1, 124, OK),  # the "1 error in ~124 requests read as 99.19 %": no breach at a 1 % threshold
        (3, 26, BR),  # P(X >= 3 | 26, 1 %) = 0.2 %
        (1, 26, UC),  # above the threshold, but one error in 26 proves nothing
        (0, 5, UC),  # light: fewer than min_requests
        (0, 9, UC),
        (0, 10, OK),
        (0, 0, UC),
        (3, 3, BR),  # a light sample can still breach beyond doubt
        (None, 100, UM),
        (1, None, UM),
        (None, None, UM),
    ],
)
def test_sample_state_weighs_the_counts_behind_a_sample(bad, total, state):
    assert g.sample_state(bad, total, 0.01, 10) == state


@settings(max_examples=300, deadline=None)
@given(total=st.integers(1, 500), data=st.data())
def test_a_sample_breaches_exactly_when_its_binomial_tail_is_at_most_five_percent(total, data):
    bad = data.draw(st.integers(0, total))
    breach = g.binomial_tail(bad, total, 0.01) <= 0.05
    assert (g.sample_state(bad, total, 0.01, 10) == BR) == breach


# ------------------------------------------------------------------------- decide


@pytest.mark.parametrize(
    "states, test, verdict, failing",
    [
        ([BR, BR, BR], TEST_OPEN, g.FAIL, [0, 1, 2]),
        ([OK, BR, BR, BR, BR], TEST_PASS, g.FAIL, [1, 2, 3]),  # a sustained run fails even a passing stage test
        ([BR, UC, BR, UM, BR], TEST_PASS, g.FAIL, [0, 2, 4]),  # unclear/unmeasured neither extend nor end a run
        ([BR, BR, OK, BR, BR, OK], TEST_PASS, g.PASS, None),  # an ok sample ends a run
        ([BR, BR, OK, BR, BR], TEST_PASS, g.INCONCLUSIVE, None),  # a run still open at the end
        ([BR, BR, OK, BR, UC], TEST_PASS, g.INCONCLUSIVE, None),  # unclear does not close it
        ([OK, OK, UM], TEST_PASS, g.INCONCLUSIVE, None),  # newest interval unmeasured
        ([OK, UM, OK], TEST_PASS, g.PASS, None),
        ([OK, OK, UC], TEST_PASS, g.PASS, None),
        ([], TEST_PASS, g.INCONCLUSIVE, None),
        ([OK, OK, OK], TEST_OPEN, g.INCONCLUSIVE, None),
        ([OK, OK, OK], TEST_FAIL, g.FAIL, None),  # the stage test fails without any breach
    ],
)
def test_decide_combines_sustained_runs_with_the_stage_test(states, test, verdict, failing):
    assert g.decide(states, test, 3) == (verdict, failing)


def test_decide_does_not_pass_a_stage_whose_ratio_is_above_the_threshold():
    # The test alone accepts up to ~1.08 x the threshold; judge_counted passes above=True then.
    assert g.decide([OK, OK], TEST_PASS, 3, above=True) == (g.INCONCLUSIVE, None)
    assert g.decide([OK, OK], TEST_PASS, 3, above=False) == (g.PASS, None)
    # ... and above a 0.5 threshold it may reject a ratio below the threshold: no fail then.
    assert g.decide([OK, OK], TEST_FAIL, 3, above=False) == (g.INCONCLUSIVE, None)
    assert g.decide([OK, OK], TEST_FAIL, 3, above=True) == (g.FAIL, None)


@settings(max_examples=300, deadline=None)
@given(states=st.lists(st.sampled_from([BR, OK, UC, UM]), max_size=12),
       decision=st.sampled_from([g.PASS, g.FAIL, None]), sustained_for=st.integers(1, 4))
def test_decide_passes_only_on_a_passing_stage_test_and_fails_on_any_sustained_run(states, decision, sustained_for):
    verdict, failing = g.decide(states, {"decision": decision}, sustained_for)
    longest, run = 0, 0
    for state in states:
        run = 0 if state == OK else run + (state == BR)
        longest = max(longest, run)
    last_ok = max((index for index, state in enumerate(states) if state == OK), default=-1)
    open_run = BR in states[last_ok + 1:]
    assert (verdict == g.FAIL) == (decision == g.FAIL or longest >= sustained_for)
    assert (verdict == g.PASS) == (
        decision == g.PASS and longest < sustained_for and not open_run and bool(states) and states[-1] != UM)
    if failing is not None:
        assert len(failing) == sustained_for and all(states[i] == BR for i in failing)


# --------------------------------------------------------- judge_counted: messages


def test_a_nine_second_burst_of_errors_fails_the_stage_and_names_the_worst_sample():
    # 12 requests/s, 10 s samples, a 60 s window; 9 s at 90 % errors inside the 4th sample:
    # 97 of its 120 requests fail. One breaching sample is no sustained run, the stage test fails it.
    result = judge([(0, 120)] * 3 + [(97, 120)] + [(0, 120)] * 2)
    assert result["verdict"] == g.FAIL
    assert result["decided"] is True
    assert result["failing_streak"] == []
    assert result["reason"] == (
        "error_ratio over the stage 13.5 % (97 of 720) > 1 %: the sequential test rejects it (a release at 0.5 % "
        "or better fails at most 1 % of stages); breached in 1 of 6 samples (worst 80.8 % at 14:03:30)"
    )


def test_a_burst_across_two_samples_names_the_worse_of_them():
    # 5 s of the burst in the 4th sample (54 of 60 bad), 4 s in the 5th (43 of 48 bad).
    result = judge([(0, 120)] * 3 + [(54, 120), (43, 120), (0, 120)])
    assert result["verdict"] == g.FAIL
    assert result["reason"].endswith("breached in 2 of 6 samples (worst 45 % at 14:03:30)")


def test_errors_spread_over_the_stage_fail_it_though_no_sample_breaches():
    result = judge([(2, 100)] * 30)
    assert result["verdict"] == g.FAIL
    assert result["breaches"] == 0
    assert result["reason"] == (
        "error_ratio over the stage 2 % (60 of 3,000) > 1 %: the sequential test rejects it (a release at 0.5 % "
        "or better fails at most 1 % of stages); no single sample breached with confidence (spread out, not a burst)"
    )


def test_a_sustained_breach_fails_naming_each_sample_and_the_stage():
    result = judge([(0, 100), (5, 100), (5, 100), (5, 100)])
    assert result["verdict"] == g.FAIL
    assert [s["timestamp"] for s in result["failing_streak"]] == [T0 + 10, T0 + 20, T0 + 30]
    assert result["reason"] == (
        "error_ratio above 1 % for 3 consecutive samples (3 samples = 30s) from 14:03:10 to 14:03:30: "
        "5 % (5 of 100), 5 % (5 of 100), 5 % (5 of 100); error_ratio over the stage 3.75 % (15 of 400)"
    )


def test_a_pass_with_a_breach_that_was_not_sustained_reports_it():
    # The example: 12 of 3,000 over the stage, one sample at 90 % at 14:03:10.
    result = judge([(0, 500), (9, 10), (1, 622), (1, 622), (1, 623), (0, 623)])
    assert result["verdict"] == g.PASS
    assert result["reason"] == (
        "error_ratio over the stage 0.4 % (12 of 3,000) <= 1 %: the sequential test accepts it (a release at 2 % "
        "or worse passes at most 1 % of stages); breached in 1 of 6 samples (worst 90 % at 14:03:10), not "
        "sustained (3 samples = 30s needed)"
    )


def test_a_clean_pass_says_no_sample_breached():
    result = judge([(0, 100)] * 6)
    assert result["verdict"] == g.PASS
    assert result["reason"] == (
        "error_ratio over the stage 0 % (0 of 600) <= 1 %: the sequential test accepts it (a release at 2 % "
        "or worse passes at most 1 % of stages); no sample breached"
    )
    assert result["test"]["clean_requests_to_pass"] == 303


def test_too_few_requests_is_inconclusive_and_says_how_many_more_are_needed():
    result = judge([(0, 20)] * 6)
    assert result["verdict"] == g.INCONCLUSIVE
    assert result["decided"] is False
    assert result["test"]["more_clean_requests"] == 303 - 120
    assert result["reason"] == (
        "error_ratio over the stage 0 % (0 of 120); not yet enough to show it is at most 1 %, about 183 more "
        "requests without a 5xx answer are needed (~92s at the 2 requests/s the new slot received)"
    )


def test_the_time_still_needed_uses_the_rate_hint_when_given():
    result = judge([(0, 20)] * 6, rate_hint=0.5)
    assert result["reason"].endswith("about 183 more requests without a 5xx answer are needed "
                                     "(~366s at the 0.5 requests/s the new slot received)")


def test_no_samples_is_inconclusive_and_names_the_documented_count():
    result = judge([])
    assert result["verdict"] == g.INCONCLUSIVE
    assert result["reason"] == (
        "error_ratio: no requests measured yet; not yet enough to show it is at most 1 %, about 303 more "
        "requests without a 5xx answer are needed"
    )


def test_an_open_run_and_an_unmeasured_newest_interval_are_both_named():
    result = judge([(0, 200), (0, 200), (5, 100), None])
    assert result["verdict"] == g.INCONCLUSIVE
    assert result["states"] == [OK, OK, BR, UM]
    assert result["reason"] == (
        "error_ratio over the stage 1 % (5 of 500); not yet enough to show it is at most 1 %, about 264 more "
        "requests without a 5xx answer are needed (~16s at the 17 requests/s the new slot received); a run of 1 "
        "breaching sample(s) is still open (3 samples = 30s fails); the newest interval was not measured; "
        "1 of 4 interval(s) not measured: prometheus: connection refused; breached in 1 of 4 samples "
        "(worst 5 % at 14:03:20)"
    )


def test_an_open_run_holds_back_a_stage_the_test_already_passed():
    result = judge([(0, 400), (0, 400), (5, 100)])
    assert result["verdict"] == g.INCONCLUSIVE
    assert result["test"]["decision"] == g.PASS
    assert result["reason"] == (
        "error_ratio over the stage 0.556 % (5 of 900) <= 1 %: the sequential test accepts it; a run of 1 "
        "breaching sample(s) is still open (3 samples = 30s fails); breached in 1 of 3 samples (worst 5 % at 14:03:20)"
    )


@pytest.mark.parametrize("sustained_for", [0, -1, True, 1.5, "3", None])
def test_judge_counted_refuses_a_sustained_for_that_is_no_positive_integer(sustained_for):
    with pytest.raises(ValueError) as error:
        judge([(0, 100)], sustained_for=sustained_for)
    assert str(error.value) == "error_ratio.sustained_for must be a positive integer, got %r" % (sustained_for,)


def test_judge_counted_names_the_condition_when_refusing_its_threshold():
    with pytest.raises(ValueError, match=r"^latency_p95\.threshold must be a ratio in \(0, 1\)"):
        judge([(0, 100)], name="latency_p95", threshold=0)


@st.composite
def sample_lists(draw):
    pairs = []
    for _ in range(draw(st.integers(0, 12))):
        if draw(st.integers(0, 9)) == 0:
            pairs.append(None)
            continue
        total = draw(st.integers(0, 700))
        ratio = draw(st.sampled_from([0.0, 0.002, 0.008, 0.0105, 0.02, 0.3]))
        bad = min(total, draw(st.integers(0, int(total * ratio * 2) + 1)))
        pairs.append((bad, total))
    return pairs


STAGE_RATIO = re.compile(r"over the stage ([0-9.e+-]+) % \(")
ACCEPTS = "<= 1 %: the sequential test accepts it"
REJECTS = "> 1 %: the sequential test rejects it"


@settings(max_examples=400, deadline=None)
@given(pairs=sample_lists())
def test_every_verdict_states_the_stage_ratio_and_only_comparisons_that_hold(pairs):
    result = judge(pairs)
    reason = result["reason"]
    decision = result["test"]["decision"]
    if result["total"]:
        printed = float(STAGE_RATIO.search(reason).group(1)) / 100
        assert printed == pytest.approx(result["ratio"], rel=5e-3)
    else:
        assert "error_ratio: no requests measured yet" in reason
    if ACCEPTS in reason:
        assert decision == g.PASS and result["ratio"] <= 0.01
    if REJECTS in reason:
        assert decision == g.FAIL and result["ratio"] > 0.01
    if result["verdict"] == g.PASS:
        # A pass never prints a stage ratio above the threshold, whatever the test alone would accept.
        assert decision == g.PASS and result["ratio"] <= 0.01
        assert reason.startswith("error_ratio over the stage ") and ACCEPTS in reason
    elif result["verdict"] == g.FAIL and not result["failing_streak"]:
        assert decision == g.FAIL and REJECTS in reason
    elif result["verdict"] == g.INCONCLUSIVE:
        assert result["decided"] is False
        assert decision != g.FAIL


def test_a_stage_the_test_accepts_above_the_threshold_waits_for_the_requests_that_bring_it_under():
    # 50 of 980 = 5.1 % against 5 %: the test (2.5 % vs 10 %) accepts it, the gate does not pass it;
    # 20 more good requests make it 50 of 1,000 = 5 %.
    result = judge([(5, 98)] * 10, threshold=0.05)
    assert result["test"]["decision"] == g.PASS
    assert result["verdict"] == g.INCONCLUSIVE
    assert result["reason"] == (
        "error_ratio over the stage 5.1 % (50 of 980); not yet enough to show it is at most 5 %, about 20 more "
        "requests without a 5xx answer are needed (~3s at the 9.8 requests/s the new slot received)"
    )
    assert judge([(5, 98)] * 10 + [(0, 20)], threshold=0.05)["verdict"] == g.PASS


MORE = re.compile(r"about ([0-9,]+) more requests without a 5xx answer are needed")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(threshold=st.sampled_from([0.001, 0.01, 0.02, 0.05, 0.07, 0.1, 0.3]), data=st.data())
def test_an_inconclusive_reason_never_asks_for_more_requests_than_a_pass_needs(threshold, data):
    # Stages kept undecided by the evidence alone (no breach, newest interval measured).
    pairs = []
    for _ in range(data.draw(st.integers(1, 8))):
        total = data.draw(st.integers(0, 400))
        bad = data.draw(st.integers(0, min(total, int(total * threshold * 1.2) + 1)))
        pairs.append((bad, total))
    result = judge(pairs, threshold=threshold)
    assume(result["verdict"] == g.INCONCLUSIVE and not result["breaches"])
    more = int(MORE.search(result["reason"]).group(1).replace(",", ""))
    assert more >= 1
    assert judge(pairs + [(0, more - 1)], threshold=threshold)["verdict"] == g.INCONCLUSIVE


def test_a_clean_stage_is_asked_for_exactly_the_requests_it_needs():
    result = judge([(0, 100)])
    assert MORE.search(result["reason"]).group(1) == "203"
    assert judge([(0, 100), (0, 203)])["verdict"] == g.PASS


def test_the_requests_an_inconclusive_reason_asks_for_are_enough_to_pass():
    # 100 of 9,000 (1.11 %), no sample breaching: the test needs 529 more clean requests, the
    # ratio needs 1,000 more to come down to 1 %.
    pairs = [(4, 300)] * 10 + [(3, 300)] * 20
    result = judge(pairs)
    more = int(MORE.search(result["reason"]).group(1).replace(",", ""))
    assert judge(pairs + [(0, more)])["verdict"] == g.PASS, (more, result["reason"])


def test_a_failed_stage_never_states_a_stage_ratio_below_the_threshold():
    result = judge([(80, 100)] * 10, threshold=0.9)
    assert not (result["verdict"] == g.FAIL and result["ratio"] < 0.9), result["reason"]


# -------------------------------------------------------------------- availability


def probes(pairs):
    """``[(up, probes), ...]`` as timed availability samples."""
    return timed(pairs, ("up", "probes"), "haproxy: stats page timed out")


def test_availability_passes_when_the_probes_stay_up():
    result = g.judge_availability(probes([(5, 5)] * 6), name="availability", threshold=0.995)
    assert result["verdict"] == g.PASS
    assert result["reason"] == "availability of the new slot over the stage 100 % (30 of 30 health probes up) >= 99.5 %"


def test_availability_fails_naming_when_probes_failed():
    result = g.judge_availability(probes([(5, 5), (5, 5), (4, 5), (5, 5), (3, 5), (5, 5)]), name="availability",
                                  threshold=0.995)
    assert result["verdict"] == g.FAIL
    assert result["decided"] is True
    assert result["reason"] == (
        "availability of the new slot over the stage 90 % (27 of 30 health probes up) < 99.5 %, "
        "probes failed at 14:03:20, 14:03:40"
    )


def test_availability_with_an_unmeasured_newest_scrape_is_inconclusive_with_the_providers_note():
    result = g.judge_availability(probes([(5, 5), (5, 5), None]), name="availability", threshold=0.995)
    assert result["verdict"] == g.INCONCLUSIVE
    assert result["decided"] is False
    assert result["reason"] == (
        "availability of the new slot over the stage 100 % (10 of 10 health probes up): haproxy: stats page timed out"
    )


def test_availability_without_any_probe_is_inconclusive():
    result = g.judge_availability([], name="availability", threshold=0.995)
    assert result["verdict"] == g.INCONCLUSIVE
    assert result["reason"] == "availability unknown (no probe measured): no probe measured yet"


def test_availability_below_min_probes_is_not_passed_with_a_share_under_the_threshold():
    result = g.judge_availability(probes([(0, 1)]), name="availability", threshold=0.995, min_probes=5)
    assert result["verdict"] == g.INCONCLUSIVE, result["reason"]


# ---------------------------------------------------------------------- formatting


@pytest.mark.parametrize("value, text", [(0.004, "0.4 %"), (0.995, "99.5 %"), (0.00013, "0.013 %"), (0, "0 %"),
                                         (1, "100 %"), (None, "n/a")])
def test_percent_reads_like_a_person_would_write_it(value, text):
    assert g.percent(value) == text


def test_counts_and_clock_times_in_messages():
    assert g.count(3000) == "3,000"
    assert g.count(12.4) == "12"
    assert g.clock(T0 + 10) == "14:03:10"
