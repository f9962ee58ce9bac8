# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scale verification: the requests it sends, their nearest-rank p95 and error ratio, and
every bad input refused with the option and the value (the zero-request case first)."""

from __future__ import annotations

import math

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import scale_verify
from hypothesis import given
from hypothesis import strategies as st


def probes(durations, failed=()):
    return [{"name": "request_%d" % i, "ok": i not in failed, "duration_ms": d} for i, d in enumerate(durations)]


# ------------------------------------------------------------------ the requests


def test_zero_requests_are_refused_naming_the_option_before_anything_is_sent():
    with pytest.raises(ValueError) as exc:
        scale_verify.verify_probes(0, "http://10.0.0.10/")
    assert str(exc.value) == ("scale_verify_requests=0: must be 1 or more; the p95 latency and the error ratio of "
                              "no requests are unknown")


def test_zero_requests_are_refused_when_judging_too():
    with pytest.raises(ValueError) as exc:
        scale_verify.verify_result([], 0, 500, 0.01)
    assert str(exc.value) == ("scale_verify_requests=0: must be 1 or more; the p95 latency and the error ratio of "
                              "no requests are unknown")


@pytest.mark.parametrize("count, message", [
    (-3, "scale_verify_requests=-3: must be 1 or more; the p95 latency and the error ratio of no requests are unknown"),
    ("0", "scale_verify_requests=0: must be 1 or more; the p95 latency and the error ratio of no requests are unknown"),
    (0.0, "scale_verify_requests=0: must be 1 or more; the p95 latency and the error ratio of no requests are unknown"),
    (2.5, "scale_verify_requests=2.5: must be a whole number of requests, 1 or more"),
    ("many", "scale_verify_requests='many': must be a whole number of requests, 1 or more"),
    (None, "scale_verify_requests=None: must be a whole number of requests, 1 or more"),
    (True, "scale_verify_requests=True: must be a whole number of requests, 1 or more"),
])
def test_bad_request_counts_are_refused(count, message):
    with pytest.raises(ValueError) as exc:
        scale_verify.verify_requests(count)
    assert str(exc.value) == message


def test_probes_are_gets_of_the_url_one_per_request():
    assert scale_verify.verify_probes("3", "http://10.0.0.10/") == [
        {"name": "request_0", "type": "http", "url": "http://10.0.0.10/"},
        {"name": "request_1", "type": "http", "url": "http://10.0.0.10/"},
        {"name": "request_2", "type": "http", "url": "http://10.0.0.10/"},
    ]


def test_probes_need_an_http_url():
    with pytest.raises(ValueError) as exc:
        scale_verify.verify_probes(1, "10.0.0.10")
    assert str(exc.value) == "url='10.0.0.10': must be an http:// or https:// URL"


# ------------------------------------------------------------------ p95 and errors


def test_p95_is_the_nearest_rank_of_forty_requests():
    # ceil(40 * 0.95) = 38: the 38th smallest duration.
    result = scale_verify.verify_result(probes(list(range(1, 41))), 40, 500, 0.01)
    assert result["p95_ms"] == 38
    assert (result["requests"], result["errors"], result["error_ratio"]) == (40, 0, 0.0)
    assert result["ok"] and result["p95_ok"] and result["error_ratio_ok"]


def test_a_single_request_is_its_own_p95():
    result = scale_verify.verify_result(probes([12.5], failed=(0,)), 1, 500, 0.01)
    assert (result["p95_ms"], result["error_ratio"], result["ok"]) == (12.5, 1.0, False)


def test_limits_are_inclusive_and_each_judged():
    slow = scale_verify.verify_result(probes([100] * 19 + [600]), 20, 100, 0.05)
    assert slow["p95_ms"] == 100 and slow["ok"]
    errors = scale_verify.verify_result(probes([10] * 20, failed=(3, 7)), 20, 100, 0.05)
    assert (errors["errors"], errors["error_ratio"]) == (2, 0.1)
    assert errors["p95_ok"] and not errors["error_ratio_ok"] and not errors["ok"]
    late = scale_verify.verify_result(probes([10] * 18 + [900, 900]), 20, 500, 0.01)
    assert (late["p95_ms"], late["p95_ok"], late["ok"]) == (900, False, False)


def test_a_failed_verification_says_what_the_requests_met_most_frequent_first():
    results = probes([10] * 40, failed=range(40))
    for index, probe in enumerate(results):
        probe["message"] = ("GET http://10.0.0.10/ answered 503, expected 200" if index % 4
                            else "GET http://10.0.0.10/ failed: connection refused")
    results[5]["message"] = "GET http://10.0.0.10/ did not answer within 5s"
    results[9].pop("message")
    result = scale_verify.verify_result(results, 40, 500, 0.01)
    assert result["error_kinds"] == ["GET http://10.0.0.10/ answered 503, expected 200 (28 of 40)",
                                     "GET http://10.0.0.10/ failed: connection refused (10 of 40)",
                                     "GET http://10.0.0.10/ did not answer within 5s (1 of 40)"]
    assert scale_verify.verify_result(probes([10] * 40), 40, 500, 0.01)["error_kinds"] == []


@given(st.lists(st.floats(min_value=0, max_value=1e6, allow_nan=False), min_size=1, max_size=200))
def test_p95_is_a_measured_duration_that_at_least_95_percent_do_not_exceed(durations):
    p95 = scale_verify.nearest_rank(durations, 95)
    assert p95 in durations
    assert sum(1 for d in durations if d <= p95) >= math.ceil(len(durations) * 0.95)
    assert sum(1 for d in durations if d < p95) < math.ceil(len(durations) * 0.95)


# ------------------------------------------------------------------ bad results and limits


@pytest.mark.parametrize("args, message", [
    ((probes([1, 2]), 3, 500, 0.01),
     "probes: 2 request(s) measured, scale_verify_requests=3 asked for; nothing is judged on part of the requests"),
    (([{"ok": True}], 1, 500, 0.01),
     "probes[0]={'ok': True}: needs ok (true/false) and duration_ms (a number)"),
    (([{"ok": "yes", "duration_ms": 3}], 1, 500, 0.01),
     "probes[0]={'ok': 'yes', 'duration_ms': 3}: needs ok (true/false) and duration_ms (a number)"),
    (("none", 1, 500, 0.01), "probes='none': must be the list of probes health_check returned"),
    ((probes([1]), 1, -1, 0.01), "scale_max_p95_ms=-1: must be a number 0 or more"),
    ((probes([1]), 1, "fast", 0.01), "scale_max_p95_ms='fast': must be a number 0 or more"),
    ((probes([1]), 1, 500, 1.5), "scale_max_error_ratio=1.5: must be a number from 0 to 1"),
])
def test_bad_results_and_limits_are_refused(args, message):
    with pytest.raises(ValueError) as exc:
        scale_verify.verify_result(*args)
    assert str(exc.value) == message
