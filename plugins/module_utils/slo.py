# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLO math: sample-streak gate evaluation, canary-vs-stable comparison, error budgets.

The deploy gate judges counted conditions (error ratio, latency) with
:mod:`gate_judgment`; the streak rules below judge its ``health`` condition, and
:func:`combine_verdicts` and :func:`gate_action` combine and act on every verdict.

Pure functions, standard library only (they may run on managed hosts, Python 3.8+).
Bad input raises ``ValueError`` whose message names the option and the value.

Gate evaluation
---------------
A *condition* is judged from time-ordered samples, each ``{"timestamp": epoch
seconds, "value": number, "request_count": number}``; each sample stands for the
interval that ends at its timestamp (e.g. a PromQL ``rate(...[15s])`` step). A sample
is

* ``inconclusive`` when its value is missing/NaN or it carries fewer than
  ``min_requests`` requests (for ``health`` the count is the number of probes);
* ``breach`` when ``value <comparison> threshold`` holds (the comparison says when
  the condition is *bad*: error ratio ``>``, availability ``<``, latency ``>``,
  failing health probes ``>``);
* ``ok`` otherwise.

``sustained_for`` is a number of CONSECUTIVE breaching samples. An ``ok`` sample ends a
streak; an ``inconclusive`` sample neither extends nor ends it (we do not know what
happened, so we neither forgive nor count it). Use :func:`sustained_samples` to turn a
duration into a sample count: ``ceil(duration / step)``.

The verdict of a condition, checked in this order:

1. ``fail``: some streak holds ``sustained_for`` breaching samples.
2. ``inconclusive`` when a failure cannot be ruled out or there is not enough data:
   no samples; or ``sustained_for`` consecutive samples that each breach or are
   inconclusive (had the unknown ones breached, the condition would fail); or the
   newest sample breaches or is inconclusive (a streak is open and may still grow:
   wait); or fewer samples than ``sustained_for`` (the window is too short to ever
   see a sustained breach).
3. ``pass`` otherwise: the newest sample is conclusive and within threshold and every
   run of ``sustained_for`` consecutive samples contains a conclusive ``ok`` sample.
   Inconclusive samples may therefore be present in a passing window only where a
   conclusive ``ok`` sample within every ``sustained_for`` samples vouches for them.

A gate combines its conditions: any ``fail`` gives ``fail``, else any
``inconclusive`` gives ``inconclusive``, else ``pass``. :func:`gate_action` maps the
verdict through the ``on_inconclusive`` policy (``wait`` | ``fail`` | ``pass``) to an
action (``proceed`` | ``wait`` | ``rollback``).

Error budgets
-------------
For an SLO target ``t`` (e.g. 0.999) the error budget is the fraction ``1 - t`` of
requests allowed to fail. :func:`error_budget` reports how much of it a window's
``good``/``total`` counts consumed, :func:`burn_rate` how fast an error ratio spends
it (1.0 = exactly the budget over the SLO period) and :func:`burn_rate_alert` the
multi-window check from the Google SRE workbook (both the long and the short window
burn faster than the threshold, e.g. 14.4x over 1h and 5m).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction

PASS = "pass"
FAIL = "fail"
INCONCLUSIVE = "inconclusive"
VERDICTS = (PASS, FAIL, INCONCLUSIVE)

BREACH = "breach"
OK = "ok"

ON_INCONCLUSIVE = ("wait", "fail", "pass")
# An undecided stage rolls back unless told otherwise: slo_gate, the deploy role
# (deploy_on_inconclusive: fail) and the runbooks all say so.
DEFAULT_ON_INCONCLUSIVE = "fail"

ACTION_PROCEED = "proceed"
ACTION_WAIT = "wait"
ACTION_ROLLBACK = "rollback"

COMPARISONS = (">", ">=", "<", "<=")

DEFAULT_MIN_REQUESTS = 10

# Per kind: when a sample is bad, the default threshold (None: must be given), the
# valid threshold range (lo, hi, lo_open, hi_open), default sustained_for and
# min_requests, and how values read in messages.
KINDS = {
    "error_ratio": {
        "label": "error ratio",
        "comparison": ">",
        "threshold": 0.01,
        "range": (0.0, 1.0, False, False),
        "sustained_for": 3,
        "min_requests": DEFAULT_MIN_REQUESTS,
        "unit": "ratio",
    },
    "availability": {
        "label": "availability",
        "comparison": "<",
        "threshold": 0.995,
        "range": (0.0, 1.0, False, False),
        "sustained_for": 3,
        "min_requests": DEFAULT_MIN_REQUESTS,
        "unit": "ratio",
    },
    "latency": {
        "label": "latency",
        "comparison": ">",
        "threshold": None,
        "range": (0.0, None, True, False),
        "sustained_for": 3,
        "min_requests": DEFAULT_MIN_REQUESTS,
        "unit": "seconds",
    },
    "health": {
        "label": "failing health probes",
        "comparison": ">",
        "threshold": 0,
        "range": (0.0, None, False, False),
        "sustained_for": 1,
        "min_requests": 1,
        "unit": "count",
    },
}

# Condition keys evaluate_gate() understands, and informational ones it copies.
_CONDITION_KEYS = ("name", "kind", "threshold", "comparison", "sustained_for", "min_requests", "samples")
_CONDITION_INFO_KEYS = ("query", "quantile", "description", "provider")

# Google SRE workbook, "Alerting on SLOs", multiwindow multi-burn-rate alerts.
DEFAULT_BURN_RATE_RULES = (
    {"long_window": "1h", "short_window": "5m", "threshold": 14.4, "severity": "page"},
    {"long_window": "6h", "short_window": "30m", "threshold": 6, "severity": "page"},
    {"long_window": "3d", "short_window": "6h", "threshold": 1, "severity": "ticket"},
)


# --------------------------------------------------------------------------- numbers


def _number(value):
    """A finite int/float (not bool) as float, else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not math.isfinite(value):
        return None
    return float(value)


def _exact(value):
    """An int or float as the Fraction the user wrote (floats via their repr)."""
    if isinstance(value, int):
        return Fraction(value)
    return Fraction(repr(float(value)))


def _interval(lo, hi, lo_open, hi_open):
    if hi is None:
        return "%s %s" % ("greater than" if lo_open else "at least", _g(lo))
    if lo is None:
        return "%s %s" % ("less than" if hi_open else "at most", _g(hi))
    return "in %s%s, %s%s" % ("(" if lo_open else "[", _g(lo), _g(hi), ")" if hi_open else "]")


def _g(value):
    return "%.6g" % value


def validate_threshold(name, value, lo=None, hi=None, *, lo_open=False, hi_open=False):
    """Check that ``value`` is a finite number in the given range and return it as float.

    ``lo``/``hi`` of ``None`` mean unbounded; ``lo_open``/``hi_open`` exclude the bound.
    E.g. error ratio ``(name, v, 0, 1)``, latency ``(name, v, 0, lo_open=True)``.

    :raises ValueError: naming ``name`` and the value, e.g. ``error_ratio.threshold
        must be a number in [0, 1], got 1.5``.
    """
    number = _number(value)
    bad = number is None
    if not bad and lo is not None:
        bad = number <= lo if lo_open else number < lo
    if not bad and hi is not None:
        bad = number >= hi if hi_open else number > hi
    if bad:
        if lo is None and hi is None:
            raise ValueError("%s must be a finite number, got %r" % (name, value))
        raise ValueError("%s must be a number %s, got %r" % (name, _interval(lo, hi, lo_open, hi_open), value))
    return number


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError("%s must be a positive integer, got %r" % (name, value))
    return value


def _count(name, value):
    number = _number(value)
    if number is None or number < 0:
        raise ValueError("%s must be a non-negative number, got %r" % (name, value))
    return value


def _ratio(name, value):
    return validate_threshold(name, value, 0, 1)


def _slo_target(value, name="slo_target"):
    validate_threshold(name, value, 0, 1, lo_open=True, hi_open=True)
    return _exact(value)


def sustained_samples(duration_seconds, step_seconds):
    """Number of consecutive samples that cover ``duration_seconds``.

    Each sample stands for one ``step_seconds`` interval, so a breach sustained for
    ``duration_seconds`` spans ``ceil(duration / step)`` samples (at least 1).
    """
    duration = validate_threshold("sustained_for_seconds", duration_seconds, 0, lo_open=True)
    step = validate_threshold("step_seconds", step_seconds, 0, lo_open=True)
    return max(1, math.ceil(_exact(duration) / _exact(step)))


# --------------------------------------------------------------------- gate checks


def _fmt(value, unit):
    if value is None:
        return "n/a"
    if unit == "ratio":
        return "%s%%" % _g(value * 100)
    if unit == "seconds":
        return "%ss" % _g(value)
    return _g(value)


def _fmt_count(value):
    if value is None:
        return "unknown"
    return _g(value)


def _breaches(value, comparison, threshold):
    if comparison == ">":
        return value > threshold
    if comparison == ">=":
        return value >= threshold
    if comparison == "<":
        return value < threshold
    return value <= threshold


def _normalize_samples(samples, label):
    if isinstance(samples, (str, bytes, Mapping)) or not isinstance(samples, Sequence):
        raise ValueError("%s.samples must be a list of {timestamp, value, request_count}, got %r" % (label, samples))
    result = []
    previous = None
    for index, sample in enumerate(samples):
        where = "%s.samples[%d]" % (label, index)
        if isinstance(sample, Mapping):
            if "timestamp" not in sample:
                raise ValueError("%s has no timestamp: %r" % (where, sample))
            timestamp = sample.get("timestamp")
            value = sample.get("value")
            requests = sample.get("request_count")
        elif isinstance(sample, Sequence) and not isinstance(sample, (str, bytes)) and len(sample) in (2, 3):
            timestamp, value = sample[0], sample[1]
            requests = sample[2] if len(sample) == 3 else None
        else:
            raise ValueError(
                "%s must be {timestamp, value, request_count} or [timestamp, value, "
                "request_count], got %r" % (where, sample)
            )
        ts = _number(timestamp)
        if ts is None:
            raise ValueError("%s.timestamp must be a number (epoch seconds), got %r" % (where, timestamp))
        if previous is not None and ts <= previous:
            raise ValueError(
                "%s.timestamp %s is not after the previous sample's %s: samples must be "
                "in strictly increasing time order" % (where, _g(ts), _g(previous))
            )
        previous = ts
        if value is None or (isinstance(value, float) and math.isnan(value)):
            number = None
        else:
            number = _number(value)
            if number is None:
                raise ValueError("%s.value must be a number or null, got %r" % (where, value))
        if requests is not None:
            count = _number(requests)
            if count is None or count < 0:
                raise ValueError("%s.request_count must be a non-negative number or null, got %r" % (where, requests))
            requests = count
        result.append({"timestamp": ts, "value": number, "request_count": requests})
    return result


def _kind_spec(kind, label):
    if kind not in KINDS:
        raise ValueError("%s.kind must be one of %s, got %r" % (label, ", ".join(sorted(KINDS)), kind))
    return KINDS[kind]


def _condition_options(kind, *, threshold, sustained_for, min_requests, comparison, name):
    label = name if name is not None else kind
    if not isinstance(label, str) or not label:
        raise ValueError("condition name must be a non-empty string, got %r" % (name,))
    spec = _kind_spec(kind, label)
    if threshold is None:
        threshold = spec["threshold"]
        if threshold is None:
            raise ValueError("%s.threshold is required for a %s condition" % (label, kind))
    lo, hi, lo_open, hi_open = spec["range"]
    threshold = validate_threshold("%s.threshold" % label, threshold, lo, hi, lo_open=lo_open, hi_open=hi_open)
    if comparison is None:
        comparison = spec["comparison"]
    if comparison not in COMPARISONS:
        raise ValueError("%s.comparison must be one of %s, got %r" % (label, ", ".join(COMPARISONS), comparison))
    if sustained_for is None:
        sustained_for = spec["sustained_for"]
    _positive_int("%s.sustained_for" % label, sustained_for)
    if min_requests is None:
        min_requests = spec["min_requests"]
    _count("%s.min_requests" % label, min_requests)
    return {
        "name": label,
        "kind": kind,
        "label": spec["label"],
        "unit": spec["unit"],
        "threshold": threshold,
        "comparison": comparison,
        "sustained_for": sustained_for,
        "min_requests": min_requests,
    }


def _classify(point, opts):
    """Set ``state`` (ok | breach | inconclusive) and a short ``note`` on a sample."""
    min_requests = opts["min_requests"]
    unit = opts["unit"]
    if point["value"] is None:
        point["state"], point["note"] = INCONCLUSIVE, "no value"
    elif min_requests > 0 and point["request_count"] is None:
        point["state"], point["note"] = INCONCLUSIVE, "request count unknown"
    elif min_requests > 0 and point["request_count"] < min_requests:
        point["state"] = INCONCLUSIVE
        point["note"] = "%s requests < min_requests %s" % (_fmt_count(point["request_count"]), _g(min_requests))
    elif _breaches(point["value"], opts["comparison"], opts["threshold"]):
        point["state"] = BREACH
        point["note"] = "%s %s %s" % (
            _fmt(point["value"], unit),
            opts["comparison"],
            _fmt(opts["threshold"], unit),
        )
    else:
        point["state"], point["note"] = OK, ""


def _segments(points):
    """Maximal runs of samples without an ``ok`` sample, and the trailing one (or [])."""
    segments = []
    current = []
    for point in points:
        if point["state"] == OK:
            if current:
                segments.append(current)
            current = []
        else:
            current.append(point)
    if current:
        segments.append(current)
    return segments, current


def _ts(timestamp):
    """A sample timestamp for messages: epoch seconds to the millisecond (``%g`` would
    print 1.76714e+09)."""
    return "%.13g" % round(timestamp, 3)


def _window(run):
    if len(run) == 1:
        return "at t=%s" % _ts(run[0]["timestamp"])
    return "from t=%s to t=%s" % (_ts(run[0]["timestamp"]), _ts(run[-1]["timestamp"]))


def _judge(points, opts):
    """Verdict, reason and the failing streak (``None`` unless the verdict is fail) for
    classified samples (rules in the module docstring)."""
    k = opts["sustained_for"]
    unit = opts["unit"]
    label = opts["name"]
    segments, open_tail = _segments(points)
    failing = None
    for segment in segments:
        streak = [p for p in segment if p["state"] == BREACH]
        if len(streak) >= k:
            failing = streak[:k]
            break
    possible = next((segment for segment in segments if len(segment) >= k), None)
    rule = "fail when %s %s %s for sustained_for=%d consecutive sample(s)" % (
        opts["label"],
        opts["comparison"],
        _fmt(opts["threshold"], unit),
        k,
    )
    if failing is not None:
        return FAIL, failing, "%s breached for %d consecutive samples %s: %s (requests %s); %s" % (
            label,
            len(failing),
            _window(failing),
            ", ".join(_fmt(p["value"], unit) for p in failing),
            ", ".join(_fmt_count(p["request_count"]) for p in failing),
            rule,
        )
    if not points:
        return INCONCLUSIVE, None, "%s has no samples (empty query result or no data); %s" % (label, rule)
    if possible is not None:
        return INCONCLUSIVE, None, (
            "%s cannot rule out a sustained breach: %d consecutive samples %s breach or are inconclusive (%s); %s"
        ) % (label, len(possible), _window(possible), "; ".join(p["note"] for p in possible), rule)
    if open_tail:
        return INCONCLUSIVE, None, (
            "%s: the newest %d sample(s) %s breach or are inconclusive (%s), a streak that may still grow; %s"
        ) % (label, len(open_tail), _window(open_tail), "; ".join(p["note"] for p in open_tail), rule)
    if len(points) < k:
        return INCONCLUSIVE, None, (
            "%s has only %d sample(s), fewer than sustained_for=%d: the window is too short to judge; %s"
        ) % (label, len(points), k, rule)
    return PASS, None, rule


def evaluate_condition(
    samples,
    kind,
    *,
    threshold=None,
    sustained_for=None,
    min_requests=None,
    comparison=None,
    name=None,
):
    """Judge one condition from its samples (rules in the module docstring).

    :param samples: time-ordered ``{"timestamp", "value", "request_count"}`` mappings
        (or ``[timestamp, value, request_count]`` lists).
    :param kind: ``error_ratio`` | ``availability`` | ``latency`` | ``health``.
    :param threshold: defaults per kind (error ratio 0.01, availability 0.995, failing
        health probes 0); latency has no default.
    :param sustained_for: consecutive breaching samples that fail the condition
        (default 3, health 1).
    :param min_requests: samples with fewer requests are inconclusive (default 10,
        health 1 probe).
    :param comparison: when a value breaches: ``>``, ``>=``, ``<``, ``<=`` (default per
        kind).
    :param name: label used in messages and the result (default: the kind).
    :returns: a dict with ``verdict``, ``reason`` and every measurement and threshold;
        ``measurements`` carry each sample's ``state`` and ``note`` (why it breached or
        is inconclusive) and ``failing_streak`` lists the samples of the streak that
        failed the condition (empty unless the verdict is ``fail``).
    """
    opts = _condition_options(
        kind,
        threshold=threshold,
        sustained_for=sustained_for,
        min_requests=min_requests,
        comparison=comparison,
        name=name,
    )
    points = _normalize_samples(samples, opts["name"])
    for point in points:
        _classify(point, opts)
    conclusive = [p for p in points if p["state"] != INCONCLUSIVE]
    values = [p["value"] for p in conclusive]
    bad_is_high = opts["comparison"] in (">", ">=")
    worst = (max(values) if bad_is_high else min(values)) if values else None
    last_value = values[-1] if values else None
    longest_streak = max([len([p for p in segment if p["state"] == BREACH]) for segment in _segments(points)[0]] or [0])
    skipped = len(points) - len(conclusive)
    verdict, failing, reason = _judge(points, opts)
    if verdict == PASS:
        unit = opts["unit"]
        reason = "%s within threshold: worst %s, newest %s over %d samples (longest breach streak %d); %s" % (
            opts["name"],
            _fmt(worst, unit),
            _fmt(last_value, unit),
            len(points),
            longest_streak,
            reason,
        )
        if skipped:
            reason += "; %d inconclusive sample(s) each bracketed by conclusive ok samples" % skipped
    return {
        "name": opts["name"],
        "kind": kind,
        "verdict": verdict,
        "reason": reason,
        "threshold": opts["threshold"],
        "comparison": opts["comparison"],
        "sustained_for": opts["sustained_for"],
        "min_requests": opts["min_requests"],
        "samples": len(points),
        "conclusive": len(conclusive),
        "inconclusive_samples": skipped,
        "breaches": len([p for p in points if p["state"] == BREACH]),
        "longest_streak": longest_streak,
        "worst_value": worst,
        "last_value": last_value,
        "measurements": [
            {
                "timestamp": p["timestamp"],
                "value": p["value"],
                "request_count": p["request_count"],
                "state": p["state"],
                "note": p["note"],
            }
            for p in points
        ],
        "failing_streak": [
            {"timestamp": p["timestamp"], "value": p["value"], "request_count": p["request_count"]}
            for p in failing or ()
        ],
    }


def compare_canary(
    canary_errors,
    canary_requests,
    stable_errors,
    stable_requests,
    *,
    margin=0.01,
    min_requests=DEFAULT_MIN_REQUESTS,
    name="canary_vs_stable",
):
    """Compare the canary's error ratio with the stable slot's over the same window.

    ``fail`` when ``canary_ratio - stable_ratio > margin``; ``inconclusive`` when either
    side saw fewer than ``min_requests`` requests; ``pass`` otherwise.
    """
    counts = (
        ("canary_errors", canary_errors),
        ("canary_requests", canary_requests),
        ("stable_errors", stable_errors),
        ("stable_requests", stable_requests),
    )
    for option, value in counts:
        _count("%s.%s" % (name, option), value)
    sides = (("canary", canary_errors, canary_requests), ("stable", stable_errors, stable_requests))
    for side, errors, requests in sides:
        if errors > requests:
            raise ValueError(
                "%s.%s_errors (%r) must not exceed %s.%s_requests (%r)" % (name, side, errors, name, side, requests)
            )
    margin = validate_threshold("%s.margin" % name, margin, 0, 1)
    _count("%s.min_requests" % name, min_requests)

    def ratio(errors, requests):
        return float(_exact(errors) / _exact(requests)) if requests else None

    canary_ratio = ratio(canary_errors, canary_requests)
    stable_ratio = ratio(stable_errors, stable_requests)
    difference = None
    low = []
    if canary_requests < min_requests or canary_requests == 0:
        low.append("canary saw %s requests" % _g(canary_requests))
    if stable_requests < min_requests or stable_requests == 0:
        low.append("stable saw %s requests" % _g(stable_requests))
    rule = "fail when the canary error ratio exceeds the stable one by more than %s" % _fmt(margin, "ratio")
    if low:
        verdict = INCONCLUSIVE
        reason = "%s: not enough traffic to compare (%s, min_requests %s); %s" % (
            name,
            ", ".join(low),
            _g(min_requests),
            rule,
        )
    else:
        difference = float(
            _exact(canary_errors) / _exact(canary_requests) - _exact(stable_errors) / _exact(stable_requests)
        )
        exceeded = _exact(canary_errors) / _exact(canary_requests) - _exact(stable_errors) / _exact(
            stable_requests
        ) > _exact(margin)
        verdict = FAIL if exceeded else PASS
        reason = "%s: canary error ratio %s (%s/%s) vs stable %s (%s/%s), difference %s %s margin %s; %s" % (
            name,
            _fmt(canary_ratio, "ratio"),
            _g(canary_errors),
            _g(canary_requests),
            _fmt(stable_ratio, "ratio"),
            _g(stable_errors),
            _g(stable_requests),
            _fmt(difference, "ratio"),
            ">" if exceeded else "<=",
            _fmt(margin, "ratio"),
            rule,
        )
    return {
        "name": name,
        "kind": "canary_vs_stable",
        "verdict": verdict,
        "reason": reason,
        "threshold": margin,
        "comparison": ">",
        "margin": margin,
        "min_requests": min_requests,
        "canary_errors": canary_errors,
        "canary_requests": canary_requests,
        "canary_error_ratio": canary_ratio,
        "stable_errors": stable_errors,
        "stable_requests": stable_requests,
        "stable_error_ratio": stable_ratio,
        "difference": difference,
    }


def combine_verdicts(results):
    """Gate verdict from condition results: any fail -> fail, else any inconclusive ->
    inconclusive, else pass. Returns the verdict, a reason and the names per verdict."""
    if isinstance(results, (str, bytes, Mapping)) or not isinstance(results, Sequence) or not results:
        raise ValueError(
            "conditions must be a non-empty list: a gate without conditions can never fail, got %r" % (results,)
        )
    by_verdict = {PASS: [], FAIL: [], INCONCLUSIVE: []}
    for index, result in enumerate(results):
        verdict = result.get("verdict") if isinstance(result, Mapping) else None
        if verdict not in VERDICTS:
            raise ValueError("conditions[%d] has no verdict (pass, fail or inconclusive): %r" % (index, result))
        by_verdict[verdict].append(result)
    if by_verdict[FAIL]:
        verdict = FAIL
        reason = "gate failed: " + "; ".join(r["reason"] for r in by_verdict[FAIL])
    elif by_verdict[INCONCLUSIVE]:
        verdict = INCONCLUSIVE
        reason = "gate inconclusive: " + "; ".join(r["reason"] for r in by_verdict[INCONCLUSIVE])
    else:
        verdict = PASS
        reason = "gate passed: all %d condition(s) passed" % len(results)
    return {
        "verdict": verdict,
        "reason": reason,
        "failed": [r.get("name") for r in by_verdict[FAIL]],
        "inconclusive": [r.get("name") for r in by_verdict[INCONCLUSIVE]],
        "passed": [r.get("name") for r in by_verdict[PASS]],
    }


def evaluate_gate(conditions, comparisons=None):
    """Evaluate every condition (mappings of :func:`evaluate_condition` arguments, plus
    informational ``query``/``quantile``/``description``/``provider`` copied to the
    result) and every canary comparison (mappings of :func:`compare_canary` arguments),
    then combine them.

    :returns: :func:`combine_verdicts` output plus ``conditions``, the per-condition
        results with every measurement and threshold.
    """
    if isinstance(conditions, (str, bytes, Mapping)) or not isinstance(conditions, Sequence):
        raise ValueError("conditions must be a list of condition mappings, got %r" % (conditions,))
    results = []
    names = set()
    for index, condition in enumerate(conditions):
        if not isinstance(condition, Mapping):
            raise ValueError("conditions[%d] must be a mapping, got %r" % (index, condition))
        unknown = sorted(set(condition) - set(_CONDITION_KEYS) - set(_CONDITION_INFO_KEYS))
        if unknown:
            raise ValueError(
                "conditions[%d] has unknown option(s) %s; known: %s"
                % (index, ", ".join(map(str, unknown)), ", ".join(_CONDITION_KEYS + _CONDITION_INFO_KEYS))
            )
        if "kind" not in condition:
            raise ValueError("conditions[%d].kind is required, got %r" % (index, condition))
        args = {key: condition[key] for key in _CONDITION_KEYS if key in condition}
        args.setdefault("samples", [])
        result = evaluate_condition(**args)
        if result["name"] in names:
            raise ValueError("conditions[%d].name %r is used twice" % (index, result["name"]))
        names.add(result["name"])
        for key in _CONDITION_INFO_KEYS:
            if key in condition:
                result[key] = condition[key]
        results.append(result)
    for index, comparison in enumerate(comparisons or ()):
        if not isinstance(comparison, Mapping):
            raise ValueError("comparisons[%d] must be a mapping, got %r" % (index, comparison))
        try:
            result = compare_canary(**comparison)
        except TypeError as exc:
            raise ValueError("comparisons[%d]: %s" % (index, exc)) from None
        if result["name"] in names:
            raise ValueError("comparisons[%d].name %r is used twice" % (index, result["name"]))
        names.add(result["name"])
        results.append(result)
    combined = combine_verdicts(results)
    combined["conditions"] = results
    return combined


def gate_action(verdict, on_inconclusive=DEFAULT_ON_INCONCLUSIVE, waits_remaining=None):
    """Map a gate verdict to what the rollout does next.

    ``pass`` -> ``proceed``; ``fail`` -> ``rollback``; ``inconclusive`` per
    ``on_inconclusive``: ``pass`` -> ``proceed``, ``fail`` -> ``rollback``, ``wait`` ->
    ``wait`` while ``waits_remaining`` is ``None`` or positive, else ``rollback`` (data
    that stays inconclusive after every allowed wait never passes silently).
    """
    if verdict not in VERDICTS:
        raise ValueError("verdict must be one of %s, got %r" % (", ".join(VERDICTS), verdict))
    if on_inconclusive not in ON_INCONCLUSIVE:
        raise ValueError("on_inconclusive must be one of %s, got %r" % (", ".join(ON_INCONCLUSIVE), on_inconclusive))
    if waits_remaining is not None and (
        isinstance(waits_remaining, bool) or not isinstance(waits_remaining, int) or waits_remaining < 0
    ):
        raise ValueError("waits_remaining must be a non-negative integer or null, got %r" % (waits_remaining,))
    if verdict == PASS:
        action, why = ACTION_PROCEED, "gate passed"
    elif verdict == FAIL:
        action, why = ACTION_ROLLBACK, "gate failed"
    elif on_inconclusive == "pass":
        action, why = ACTION_PROCEED, "gate inconclusive and on_inconclusive=pass"
    elif on_inconclusive == "fail":
        action, why = ACTION_ROLLBACK, "gate inconclusive and on_inconclusive=fail"
    elif waits_remaining is None or waits_remaining > 0:
        action = ACTION_WAIT
        why = "gate inconclusive and on_inconclusive=wait (%s)" % (
            "no wait limit" if waits_remaining is None else "%d wait(s) left" % waits_remaining
        )
    else:
        action = ACTION_ROLLBACK
        why = "gate still inconclusive after every allowed wait (on_inconclusive=wait)"
    return {"action": action, "verdict": verdict, "on_inconclusive": on_inconclusive, "reason": why}


# -------------------------------------------------------------------- error budget


def error_budget(slo_target, good, total):
    """Error budget of a window with ``good`` of ``total`` requests successful.

    :returns: ``budget`` (allowed error ratio ``1 - slo_target``), ``allowed_errors``
        (``budget * total``), ``errors`` (``total - good``), ``error_ratio`` (None
        without traffic), ``consumed`` (``errors / allowed_errors``, may exceed 1 when
        over-spent; 0 without traffic), ``remaining`` (``max(0, 1 - consumed)``) and
        ``exhausted`` (``consumed >= 1``). Computed exactly, returned as floats.
    """
    target = _slo_target(slo_target)
    _count("good", good)
    _count("total", total)
    if good > total:
        raise ValueError("good (%r) must not exceed total (%r)" % (good, total))
    good_exact = _exact(good)
    total_exact = _exact(total)
    errors = total_exact - good_exact
    budget = 1 - target
    allowed = budget * total_exact
    consumed = errors / allowed if total_exact else Fraction(0)
    remaining = max(Fraction(0), 1 - consumed)
    return {
        "slo_target": float(target),
        "good": good,
        "total": total,
        "errors": float(errors),
        "error_ratio": float(errors / total_exact) if total_exact else None,
        "budget": float(budget),
        "allowed_errors": float(allowed),
        "consumed": float(consumed),
        "remaining": float(remaining),
        "exhausted": consumed >= 1,
    }


def burn_rate(error_ratio, slo_target):
    """How fast ``error_ratio`` spends the budget: ``error_ratio / (1 - slo_target)``.

    1.0 spends exactly the budget over the SLO period; 14.4 spends 2% of a 30-day
    budget in one hour.
    """
    target = _slo_target(slo_target)
    _ratio("error_ratio", error_ratio)
    return float(_exact(error_ratio) / (1 - target))


def burn_rate_alert(
    long_error_ratio,
    short_error_ratio,
    slo_target,
    *,
    threshold=14.4,
    long_window="1h",
    short_window="5m",
):
    """Multi-window burn-rate check: alert when both windows burn faster than
    ``threshold`` (``burn_rate > threshold`` in the long AND the short window, the
    workbook's PromQL ``>``). A window without data (``None``) never alerts and is
    reported as such."""
    target = _slo_target(slo_target)
    limit = validate_threshold("threshold", threshold, 0, lo_open=True)
    rates = {}
    missing = []
    for window, ratio in ((long_window, long_error_ratio), (short_window, short_error_ratio)):
        if ratio is None:
            rates[window] = None
            missing.append(window)
        else:
            _ratio("error_ratio[%s]" % window, ratio)
            rates[window] = _exact(ratio) / (1 - target)
    if missing:
        alert = False
        reason = "no data for the %s window(s): no alert" % ", ".join(missing)
    else:
        alert = rates[long_window] > _exact(limit) and rates[short_window] > _exact(limit)
        reason = "burn rate %s over %s and %s over %s %s %sx" % (
            _g(float(rates[long_window])),
            long_window,
            _g(float(rates[short_window])),
            short_window,
            "both above" if alert else "not both above",
            _g(limit),
        )
    return {
        "alert": alert,
        "long_window": long_window,
        "short_window": short_window,
        "long_burn_rate": None if rates[long_window] is None else float(rates[long_window]),
        "short_burn_rate": None if rates[short_window] is None else float(rates[short_window]),
        "threshold": limit,
        "reason": reason,
    }


def burn_rate_alerts(error_ratios, slo_target, rules=None):
    """Evaluate multi-window rules (default :data:`DEFAULT_BURN_RATE_RULES`) against a
    mapping of window name (``"5m"``, ``"1h"``, ...) to error ratio."""
    if not isinstance(error_ratios, Mapping):
        raise ValueError("error_ratios must be a mapping of window to error ratio, got %r" % (error_ratios,))
    results = []
    for index, rule in enumerate(DEFAULT_BURN_RATE_RULES if rules is None else rules):
        if not isinstance(rule, Mapping) or not {"long_window", "short_window", "threshold"} <= set(rule):
            raise ValueError("rules[%d] must have long_window, short_window and threshold, got %r" % (index, rule))
        result = burn_rate_alert(
            error_ratios.get(rule["long_window"]),
            error_ratios.get(rule["short_window"]),
            slo_target,
            threshold=rule["threshold"],
            long_window=rule["long_window"],
            short_window=rule["short_window"],
        )
        result["severity"] = rule.get("severity")
        results.append(result)
    return {"alert": any(r["alert"] for r in results), "rules": results}
