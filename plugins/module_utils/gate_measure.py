# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLO gate measurements: cumulative counters of two scrapes turned into a sample.

Counters are cumulative, so the sample of an interval is the DELTA between the
scrapes that bound it, computed per series: for requests, the bad (5xx) and total
counts; for latency, the requests slower than the threshold (a bucket bound) and all
of them, from the histogram's bucket increases. A series whose value went down (the
process restarted, HAProxy reloaded) or disappeared makes that interval inconclusive:
its value is unknown and never negative. A scrape that fails (provider unreachable,
error reply, query returned no series) leaves its interval unmeasured, with the
reason kept beside the sample; the next measured interval counts from the newest
scrape that succeeded, so no request is lost. Health is read from each scrape, not as a
delta: the number of failing probes out of those seen (``availability`` sums them over
the stage).

A sample is ``{"timestamp", "value", "bad", "total", "request_count", "note"}``
(``up``/``probes`` for availability); ``note`` says why a count is None.

Pure functions, standard library only, Python 3.8 compatible. The scrapes come from
:mod:`gate_providers`.
"""

from __future__ import annotations

import math
import re

from ansible_collections.fleetops.lifecycle.plugins.module_utils.gate_numbers import g6, is_finite

# Failing probes named in a health sample's note.
NOTE_LIMIT = 3


def series_key(labels):
    return tuple(sorted(labels.items()))


def _excluded(labels, metrics):
    path = labels.get(metrics["path_label"])
    return path is not None and path in metrics["exclude_paths"]


def request_series(samples, metrics, prefix=()):
    """``{key: (is_error, value)}`` from ``(labels, value)`` pairs of the request
    counter, without excluded paths; ``is_error`` when the code label fully matches
    ``metrics["error_codes"]``."""
    pattern = re.compile(metrics["error_codes"])
    series = {}
    for labels, value in samples:
        if _excluded(labels, metrics):
            continue
        is_error = bool(pattern.fullmatch(str(labels.get(metrics["code_label"], ""))))
        series[prefix + series_key(labels)] = (is_error, value)
    return series


def bucket_series(samples, metrics, prefix=()):
    """``{key: (le, value)}`` from ``(labels, value)`` pairs of ``*_bucket`` series,
    without excluded paths. Series without a readable ``le`` label are skipped."""
    series = {}
    for labels, value in samples:
        if _excluded(labels, metrics):
            continue
        try:
            le = float(labels.get("le"))
        except (TypeError, ValueError):
            continue
        series[prefix + series_key(labels)] = (le, value)
    return series


def describe_key(key):
    parts = []
    for item in key:
        if isinstance(item, tuple) and len(item) == 2:
            parts.append("%s=%s" % item)
        else:
            parts.append(str(item))
    return "{%s}" % ",".join(parts)


def counter_deltas(previous, current):
    """Per-series increase of cumulative counters between two scrapes.

    ``previous``/``current``: ``{key: value}``. A series new in ``current`` counts
    from 0. Returns ``(deltas, note)``: ``deltas`` is None and ``note`` says why when a
    series went down (counter reset), disappeared or is not a finite number; an
    interval with a reset is inconclusive, never negative.
    """
    deltas = {}
    resets = []
    for key, value in current.items():
        if not is_finite(value):
            return None, "series %s has no finite value (%r)" % (describe_key(key), value)
        before = previous.get(key, 0.0)
        if not is_finite(before):
            return None, "series %s had no finite value (%r)" % (describe_key(key), before)
        if value < before:
            resets.append("%s %s -> %s" % (describe_key(key), g6(before), g6(value)))
        deltas[key] = value - before
    if resets:
        return None, "counter reset (value decreased) in %d series, e.g. %s: the interval is not measured" % (
            len(resets),
            resets[0],
        )
    gone = [key for key in previous if key not in current]
    if gone:
        return None, "%d series disappeared since the previous scrape, e.g. %s: the interval is not measured" % (
            len(gone),
            describe_key(gone[0]),
        )
    return deltas, None


def request_counts(previous, current):
    """``(errors, requests, note)`` in the interval between two request scrapes
    (``{key: (is_error, value)}``); counts are None when ``note`` says why."""
    deltas, note = counter_deltas(
        {key: value for key, (_, value) in previous.items()},
        {key: value for key, (_, value) in current.items()},
    )
    if deltas is None:
        return None, None, note
    errors = sum(delta for key, delta in deltas.items() if current[key][0])
    return errors, sum(deltas.values()), None


def histogram_quantile(quantile, buckets):
    """The ``quantile`` (0 < q < 1) of a histogram ``{upper_bound: cumulative count}``.

    Interpolates linearly inside the bucket that holds the rank, like PromQL's
    ``histogram_quantile``: the first bucket starts at 0 (when its bound is positive),
    a rank in the ``+Inf`` bucket gives the highest finite bound. Returns None without
    observations or without a ``+Inf`` bucket.
    """
    if not buckets or math.inf not in buckets:
        return None
    bounds = sorted(buckets)
    counts = []
    highest = 0.0
    for bound in bounds:
        highest = max(highest, float(buckets[bound]))  # deltas of a scrape may be uneven
        counts.append(highest)
    total = counts[-1]
    if total <= 0:
        return None
    rank = quantile * total
    for index, bound in enumerate(bounds):
        if counts[index] < rank:
            continue
        if bound == math.inf:
            return bounds[index - 1] if index > 0 else None
        lower = bounds[index - 1] if index > 0 else min(0.0, bound)
        below = counts[index - 1] if index > 0 else 0.0
        inside = counts[index] - below
        if inside <= 0:
            return bound
        return lower + (bound - lower) * (rank - below) / inside
    return None  # pragma: no cover - the +Inf bucket holds every rank


def slow_requests(histogram, threshold):
    """``(slower, observations, note)``: requests above ``threshold`` seconds in a
    histogram of increases ``{upper bound: cumulative count}``. The threshold must be a
    bucket bound: inside a bucket the count is unknown, and a percentile interpolated
    there is a guess (0.487 s reported for a real 0.254 s), not a measurement."""
    if math.inf not in histogram:
        return None, None, "the histogram has no le=\"+Inf\" bucket"
    bound = next((le for le in histogram if abs(le - threshold) <= 1e-9 * max(1.0, threshold)), None)
    if bound is None:
        bounds = ", ".join(g6(le) for le in sorted(histogram) if le != math.inf)
        return None, None, (
            "the latency threshold %ss is not a bucket bound of the histogram (bounds: %s): the share of "
            "requests slower than it cannot be counted; use a bound as threshold or add one to the service's "
            "histogram" % (g6(threshold), bounds))
    observations = histogram[math.inf]
    return max(0.0, observations - histogram[bound]), observations, None


def bucket_increases(previous, current):
    """``(histogram, note)``: ``{upper bound: increase}`` summed over series between two
    ``_bucket`` scrapes (``{key: (le, value)}``); None and why on a reset."""
    deltas, note = counter_deltas(
        {key: value for key, (_, value) in previous.items()},
        {key: value for key, (_, value) in current.items()},
    )
    if deltas is None:
        return None, note
    histogram = {}
    for key, delta in deltas.items():
        le = current[key][0]
        histogram[le] = histogram.get(le, 0.0) + delta
    return histogram, None


def interval_sample(condition, previous, current):
    """The sample of ``condition`` for the interval between two snapshots.

    A snapshot is ``{"timestamp", "parts": {part: data}, "notes": {part: why it is
    missing}}`` (see :meth:`Provider.scrape`); ``previous`` is the newest earlier
    snapshot that holds the part (None: no baseline), so an interval that could not be
    measured hands its requests to the next one instead of losing them.

    Counted kinds carry ``bad``/``total`` (5xx answers or requests slower than the
    threshold, out of all requests); ``availability`` carries ``up``/``probes``;
    ``health`` ``value`` (failing probes) and ``request_count`` (probes).
    """
    kind = condition["type"]
    sample = {"timestamp": current["timestamp"], "value": None, "request_count": None, "note": None,
              "bad": None, "total": None}
    if kind in ("health", "availability"):
        if "health" not in current["parts"]:
            sample["note"] = current["notes"].get("health", "no health data")
            if kind == "availability":
                sample.update(up=None, probes=None)
            return sample
        health = current["parts"]["health"]
        if kind == "availability":
            sample.update(up=float(health["probes"] - health["failing"]), probes=float(health["probes"]))
            sample["value"] = sample["up"] / sample["probes"] if health["probes"] else None
        else:
            sample["value"] = float(health["failing"])
            sample["request_count"] = float(health["probes"])
        if health["failing"]:
            sample["note"] = "failing: %s" % ", ".join(health["failed"][:NOTE_LIMIT])
        return sample
    part = "latency" if kind == "latency" else "requests"
    if part not in current["parts"]:
        sample["note"] = "%s (this scrape)" % current["notes"].get(part, "no data")
        return sample
    if previous is None:
        sample["note"] = "no earlier scrape to measure the interval from"
        return sample
    before, after = previous["parts"][part], current["parts"][part]
    if kind == "latency":
        histogram, note = bucket_increases(before["series"], after["series"])
        bad = total = None
        if histogram is not None:
            bad, total, note = slow_requests(histogram, condition["threshold_seconds"])
        if total is not None:
            sample["histogram"] = histogram
            sample["value"] = histogram_quantile(condition["percentile"], histogram)
    else:
        bad, total, note = request_counts(before, after)
    if total is not None and total <= 0:
        note = "no requests in the interval"
    sample.update(bad=bad, total=total, request_count=total, note=note)
    if kind == "error_ratio" and total:
        sample["value"] = bad / total
    return sample
