# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLO gate measurements (module_utils.gate_measure): counter deltas per series, resets,
histogram quantiles and the interval sample of each condition."""

from __future__ import annotations

import math

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import gate_measure
from hypothesis import given, settings
from hypothesis import strategies as st

# --------------------------------------------------------------- counter deltas


def test_new_series_count_from_zero_and_deltas_are_per_series():
    deltas, note = gate_measure.counter_deltas({("a",): 10.0}, {("a",): 15.0, ("b",): 2.0})
    assert note is None
    assert deltas == {("a",): 5.0, ("b",): 2.0}


def test_counter_reset_makes_the_interval_unknown_never_negative():
    # One series resets while another grows more: a summed counter would hide it.
    deltas, note = gate_measure.counter_deltas({("a",): 100.0, ("b",): 5.0}, {("a",): 3.0, ("b",): 500.0})
    assert deltas is None
    assert note == (
        "counter reset (value decreased) in 1 series, e.g. {a} 100 -> 3: the interval is not measured"
    )


def test_a_disappearing_series_makes_the_interval_unknown():
    deltas, note = gate_measure.counter_deltas({("a",): 1.0, ("b",): 1.0}, {("a",): 2.0})
    assert deltas is None
    assert note.startswith("1 series disappeared since the previous scrape, e.g. {b}")


def test_non_finite_counter_is_unknown():
    assert gate_measure.counter_deltas({}, {("a",): math.nan})[0] is None


def test_request_counts_split_errors_by_code():
    before = {("200",): (False, 100.0), ("500",): (True, 1.0)}
    after = {("200",): (False, 190.0), ("500",): (True, 11.0), ("503",): (True, 2.0)}
    assert gate_measure.request_counts(before, after) == (12.0, 102.0, None)


def test_interval_sample_from_a_reset_is_unmeasured_with_the_reason():
    cond = {"type": "error_ratio"}
    before = {"timestamp": 1.0, "parts": {"requests": {("200",): (False, 500.0)}}, "notes": {}}
    after = {"timestamp": 2.0, "parts": {"requests": {("200",): (False, 20.0)}}, "notes": {}}
    sample = gate_measure.interval_sample(cond, before, after)
    assert sample["value"] is None and sample["total"] is None and sample["bad"] is None
    assert "counter reset" in sample["note"]


def test_interval_sample_without_requests_counts_zero():
    cond = {"type": "error_ratio"}
    snap = {"timestamp": 2.0, "parts": {"requests": {("200",): (False, 5.0)}}, "notes": {}}
    sample = gate_measure.interval_sample(cond, dict(snap, timestamp=1.0), snap)
    assert (sample["value"], sample["bad"], sample["total"], sample["note"]) == (
        None, 0.0, 0.0, "no requests in the interval")


def test_availability_counts_probes_not_requests():
    cond = {"type": "availability"}
    snap = {"timestamp": 2.0, "parts": {"health": {"failing": 1, "probes": 3, "failed": ["app2-green (DOWN)"]}},
            "notes": {}}
    sample = gate_measure.interval_sample(cond, None, snap)
    assert (sample["up"], sample["probes"], sample["note"]) == (2.0, 3.0, "failing: app2-green (DOWN)")
    assert sample["value"] == pytest.approx(2 / 3)


def test_latency_counts_requests_slower_than_a_bucket_bound():
    cond = {"type": "latency", "threshold": 0.1, "threshold_seconds": 0.1, "percentile": 0.95}
    before = {"timestamp": 1.0, "notes": {}, "parts": {"latency": {"kind": "histogram", "series": {
        ("a", "0.1"): (0.1, 100.0), ("a", "0.5"): (0.5, 100.0), ("a", "+Inf"): (math.inf, 100.0)}}}}
    after = {"timestamp": 2.0, "notes": {}, "parts": {"latency": {"kind": "histogram", "series": {
        ("a", "0.1"): (0.1, 150.0), ("a", "0.5"): (0.5, 240.0), ("a", "+Inf"): (math.inf, 250.0)}}}}
    sample = gate_measure.interval_sample(cond, before, after)
    # 150 new requests, 50 of them at most 0.1 s: 100 slower, counted from this interval only.
    assert (sample["bad"], sample["total"], sample["note"]) == (100.0, 150.0, None)
    assert sample["value"] == pytest.approx(0.5)  # p95 interpolated inside the (0.5, +Inf] rank: highest bound


def test_latency_threshold_between_bucket_bounds_is_not_measured():
    cond = {"type": "latency", "threshold": 0.2, "threshold_seconds": 0.2, "percentile": 0.95}
    snap = {"timestamp": 1.0, "notes": {}, "parts": {"latency": {"kind": "histogram", "series": {
        ("a", "0.1"): (0.1, 1.0), ("a", "+Inf"): (math.inf, 1.0)}}}}
    sample = gate_measure.interval_sample(cond, snap, dict(snap, timestamp=2.0))
    assert sample["total"] is None
    assert sample["note"] == (
        "the latency threshold 0.2s is not a bucket bound of the histogram (bounds: 0.1): the share of requests "
        "slower than it cannot be counted; use a bound as threshold or add one to the service's histogram")


# ------------------------------------------------------------------- histogram


def test_histogram_quantile_interpolates_like_promql():
    buckets = {0.1: 50, 0.5: 90, 1.0: 100, math.inf: 100}
    assert gate_measure.histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert gate_measure.histogram_quantile(0.95, buckets) == pytest.approx(0.75)
    assert gate_measure.histogram_quantile(0.25, buckets) == pytest.approx(0.05)


def test_histogram_quantile_edges():
    # A rank in the +Inf bucket gives the highest finite bound.
    assert gate_measure.histogram_quantile(0.99, {0.1: 10, math.inf: 20}) == 0.1
    assert gate_measure.histogram_quantile(0.5, {0.1: 0, math.inf: 0}) is None
    assert gate_measure.histogram_quantile(0.5, {0.1: 5, 1.0: 10}) is None  # no +Inf bucket
    assert gate_measure.histogram_quantile(0.5, {}) is None


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
    low, high = gate_measure.histogram_quantile(q, cumulative), gate_measure.histogram_quantile(q + dq, cumulative)
    assert 0.0 <= low <= high <= 1.0
