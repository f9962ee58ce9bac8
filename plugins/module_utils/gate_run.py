# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The canary gate's sampling loop, its verdict and the result the module returns.

Reading counters is :mod:`gate_providers`, measuring an interval :mod:`gate_measure`,
judging counted evidence :mod:`gate_judgment` (health streaks and the canary-vs-stable
comparison :mod:`slo`). A stage samples for at least ``window`` seconds and, while the evidence cannot decide, up to
``max_window``; it ends at once when a condition fails (``stop_on_fail``). Python 3.8
compatible, no AnsibleModule inside.
"""

from __future__ import annotations

import math
import time

from ansible_collections.fleetops.lifecycle.plugins.module_utils import gate_judgment as judgment
from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo
from ansible_collections.fleetops.lifecycle.plugins.module_utils.gate_measure import (
    NOTE_LIMIT,
    histogram_quantile,
    interval_sample,
    request_counts,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.gate_numbers import count_out, g6, iso_ms, round6
from ansible_collections.fleetops.lifecycle.plugins.module_utils.gate_plan import _slo_options

_HINT = ("send more traffic to the new slot, give the stage more time (max_window), or set on_inconclusive=pass "
         "to accept a stage the evidence could not decide")


class SystemClock(object):
    """Time for :func:`run_gate`; tests pass a fake one with the same three methods."""

    @staticmethod
    def monotonic():
        return time.monotonic()

    @staticmethod
    def time():
        return time.time()

    @staticmethod
    def sleep(seconds):
        time.sleep(seconds)


def part_of(condition):
    """The provider part a condition's samples come from."""
    return {"error_ratio": "requests", "latency": "latency"}.get(condition["type"], "health")


# ------------------------------------------------------------------- judging


def _label(condition):
    if condition["type"] == "latency":
        return "share of requests slower than %ss" % g6(condition["threshold"])
    return condition["name"]


def stage_quantile(condition, samples):
    """The condition's percentile over every measured interval of the stage (from the
    summed bucket increases), with the bucket it falls in, for messages."""
    histogram = {}
    for sample in samples:
        for le, increase in (sample.get("histogram") or {}).items():
            histogram[le] = histogram.get(le, 0.0) + increase
    value = histogram_quantile(condition["percentile"], histogram) if histogram else None
    if value is None:
        return None, None
    bounds = sorted(histogram)
    upper = next((le for le in bounds if le >= value), math.inf)
    lower = max([le for le in bounds if le < upper] or [0.0])
    return value, (lower, upper)


def judge_condition(plan, condition, samples):
    """``gate_judgment``/``slo`` result for one condition over the stage's samples,
    with ``decided`` (whether more samples could still change it)."""
    name = condition["name"]
    if condition["type"] in judgment.COUNTED_KINDS:
        result = judgment.judge_counted(
            samples,
            name=name,
            label=_label(condition),
            threshold=condition["bad_share"],
            sustained_for=condition["sustained_for"],
            min_requests=condition["min_requests"],
            interval=plan["interval"],
            alpha=plan["alpha"],
            beta=plan["beta"],
            describe_bad="5xx answer" if condition["type"] == "error_ratio" else "slow request",
        )
        if condition["type"] == "latency":
            value, bucket = stage_quantile(condition, samples)
            result["quantile"] = value
            if value is not None:
                result["reason"] = "p%s of the new slot over the stage between %ss and %ss (bucket bounds; %ss " \
                    "interpolated); %s" % (g6(condition["percentile"] * 100), g6(bucket[0]), g6(bucket[1]),
                                           "%.3g" % value, result["reason"])
        return result
    if condition["type"] == "availability":
        return judgment.judge_availability(samples, name=name, threshold=condition["threshold"])
    plain = [{k: s[k] for k in ("timestamp", "value", "request_count")} for s in samples]
    result = slo.evaluate_condition(plain, "health", **_slo_options(condition))
    result["decided"] = result["verdict"] != slo.INCONCLUSIVE
    if result["verdict"] == slo.PASS:
        result["reason"] = "health: no failing probe in %d sample(s)" % len(samples)
    elif result["verdict"] == slo.FAIL:
        failing = [s["note"] for s in samples if s.get("note") and s["note"].startswith("failing")]
        result["reason"] = "health: %s" % (failing[0] if failing else result["reason"])
    else:
        notes = _distinct(s.get("note") for s in samples if s.get("value") is None)
        result["reason"] = "health: %s" % ("; ".join(notes) or result["reason"])
    return result


def judge_stage(plan, samples, totals):
    """Every condition's result and the canary-vs-stable comparison, combined."""
    results = [judge_condition(plan, c, samples[c["name"]]) for c in plan["conditions"]]
    comparison = None
    if plan["compare"] is not None:
        comparison = slo.compare_canary(
            totals["target"]["errors"], totals["target"]["requests"],
            totals["compare_to"]["errors"], totals["compare_to"]["requests"],
            margin=plan["compare"]["margin"], min_requests=plan["compare"]["min_requests"],
        )
        comparison["decided"] = comparison["verdict"] != slo.INCONCLUSIVE
    combined = slo.combine_verdicts(results + ([comparison] if comparison else []))
    return {
        "verdict": combined["verdict"],
        "results": results,
        "comparison": comparison,
        "failed": combined["failed"],
        "inconclusive": combined["inconclusive"],
    }


# -------------------------------------------------------------------- the probe


def probe_providers(plan, providers):
    """One real scrape of every side before any traffic moves.

    Returns what was read (parts and, for latency, the histogram's bucket bounds);
    raises ValueError with the provider's own error when a part a condition needs
    cannot be read, or when a latency threshold is not a bucket bound.
    """
    problems, read = [], {}
    for side in sorted(providers):
        snapshot = providers[side].scrape(plan["needs"][side])
        read[side] = sorted(snapshot["parts"])
        for part in sorted(plan["needs"][side]):
            if part not in snapshot["parts"]:
                problems.append("%s %s: %s" % (side, part, snapshot["notes"].get(part, "no data")))
        latency = snapshot["parts"].get("latency")
        if latency is None:
            continue
        bounds = sorted(set(le for le, _ in latency["series"].values()))
        read["latency_bucket_bounds"] = [g6(le) for le in bounds]
        for condition in plan["conditions"]:
            if condition["type"] != "latency":
                continue
            threshold = condition["threshold"]
            if not any(abs(le - threshold) <= 1e-9 * max(1.0, threshold) for le in bounds):
                problems.append(
                    "conditions[%d] (%s): the latency threshold %ss is not a bucket bound of the histogram "
                    "(bounds: %s), so the share of requests slower than it cannot be counted; use a bound as "
                    "threshold or add one to the service's histogram" % (
                        condition["index"], condition["name"], g6(threshold),
                        ", ".join(g6(le) for le in bounds if le != math.inf) or "none"))
    if problems:
        raise ValueError("provider=%s cannot measure the gate's conditions (probed before any traffic moves): %s"
                         % (plan["provider"], "; ".join(problems)))
    return read


# ---------------------------------------------------------------------- the loop


def run_gate(plan, providers, clock=None, on_sample=None):
    """Sample the stage and judge it; returns the module's result.

    ``on_sample`` (optional) is called after each sample with ``taken``, ``elapsed``,
    ``samples`` and ``evaluation`` (see ``gate_progress.sample_line``), so a caller on
    the controller can show the stage as it goes.

    One baseline scrape, then one every ``interval`` seconds on a fixed schedule. The
    loop ends when a condition fails (``stop_on_fail``), when every condition is
    decided and ``window`` has passed, or at ``max_window``. An interval whose scrape
    failed hands its counts to the next measured one (each part is measured from the
    newest snapshot that holds it).
    """
    clock = clock or SystemClock()
    sides = [side for side in ("target", "compare_to") if side in providers]
    base_mono, base_wall = clock.monotonic(), clock.time()
    last_stamp = [None]

    def stamp():
        now = base_wall + (clock.monotonic() - base_mono)
        if last_stamp[0] is not None and now <= last_stamp[0]:
            now = last_stamp[0] + 1e-6
        last_stamp[0] = now
        return now

    def scrape(side):
        snapshot = providers[side].scrape(plan["needs"][side])
        snapshot["timestamp"] = stamp()
        return snapshot

    started = stamp()
    newest = dict((side, {}) for side in sides)  # side -> part -> newest snapshot holding it

    def remember(side, snapshot):
        for part in snapshot["parts"]:
            newest[side][part] = snapshot

    for side in sides:
        remember(side, scrape(side))
    samples = dict((c["name"], []) for c in plan["conditions"])
    totals = dict((side, {"errors": 0.0, "requests": 0.0, "intervals": 0, "notes": []}) for side in sides)
    taken = 0
    stopped_early = False
    evaluation = judge_stage(plan, samples, totals)
    while taken < plan["max_samples"]:
        taken += 1
        clock.sleep(max(0.0, base_mono + taken * plan["interval"] - clock.monotonic()))
        current = dict((side, scrape(side)) for side in sides)
        for condition in plan["conditions"]:
            previous = newest["target"].get(part_of(condition))
            samples[condition["name"]].append(interval_sample(condition, previous, current["target"]))
        if plan["compare"] is not None:
            _add_to_totals(totals, newest, current)
        for side in sides:
            remember(side, current[side])
        evaluation = judge_stage(plan, samples, totals)
        if on_sample is not None:
            on_sample(dict(taken=taken, elapsed=clock.monotonic() - base_mono, samples=samples, evaluation=evaluation))
        if evaluation["verdict"] == slo.FAIL and plan["stop_on_fail"]:
            stopped_early = taken < plan["max_samples"]
            break
        everything = evaluation["results"] + ([evaluation["comparison"]] if evaluation["comparison"] else [])
        if taken >= plan["samples"] and all(r["decided"] for r in everything):
            break
    ended = stamp()
    # The stage already waited for evidence up to max_window: "wait" has no waits left.
    decision = slo.gate_action(evaluation["verdict"], plan["on_inconclusive"], 0)
    measured = {"samples": samples, "totals": totals, "started": started, "ended": ended, "samples_taken": taken,
                "stopped_early": stopped_early}
    return gate_result(plan, providers["target"], evaluation, decision, measured)


def _add_to_totals(totals, newest, current):
    """Add an interval's request counts of each side to the comparison totals."""
    for side, total in totals.items():
        previous = newest[side].get("requests")
        if previous is None or "requests" not in current[side]["parts"]:
            total["notes"].append(current[side]["notes"].get("requests", "no baseline scrape of the requests"))
            continue
        errors, requests, note = request_counts(previous["parts"]["requests"], current[side]["parts"]["requests"])
        if note:
            total["notes"].append(note)
        else:
            total["errors"] += errors
            total["requests"] += requests
            total["intervals"] += 1


# ----------------------------------------------------------------- the result


def _distinct(notes, limit=NOTE_LIMIT):
    seen = []
    for note in notes:
        if note and note not in seen:
            seen.append(note)
    extra = len(seen) - limit
    return seen[:limit] + (["... and %d more" % extra] if extra > 0 else [])


def _condition_result(condition, samples, judged, provider):
    result = {
        "name": condition["name"],
        "type": condition["type"],
        "threshold": condition["threshold"],
        "comparison": condition["comparison"],
        "sustained_for": condition["sustained_for"],
        "min_requests": condition["min_requests"],
        "measure": provider.describe(condition["type"], condition.get("percentile")),
        "samples": [
            [round(s["timestamp"], 3), round6(s["value"]),
             count_out(s["probes"] if condition["type"] == "availability" else s["request_count"])]
            for s in samples
        ],
        "verdict": judged["verdict"],
        "reason": judged["reason"],
        "problems": _distinct(s.get("note") for s in samples if s.get("value") is None and s.get("note")),
    }
    if condition["type"] in judgment.COUNTED_KINDS:
        result.update(
            states=judged["states"],
            bad=count_out(judged["bad"]),
            total=count_out(judged["total"]),
            stage_ratio=round6(judged["ratio"]),
            bad_share_threshold=round6(condition["bad_share"]),
            breaches=judged["breaches"],
            test=dict((k, round6(v) if isinstance(v, float) else v) for k, v in judged["test"].items()),
            samples=[[round(s["timestamp"], 3), round6(s["value"]), count_out(s["bad"]), count_out(s["total"])]
                     for s in samples],
        )
    if condition["type"] == "latency":
        result["percentile"] = condition["percentile"]
        result["stage_quantile"] = round6(judged.get("quantile"))
    if condition["type"] == "availability":
        result.update(up=count_out(judged["up"]), probes=count_out(judged["probes"]),
                      stage_availability=round6(judged["share"]))
    return result


def _comparison_summary(comparison):
    if comparison["verdict"] == slo.INCONCLUSIVE:
        return "canary_vs_stable not enough traffic (canary %s, stable %s requests, min_requests %s)" % (
            g6(comparison["canary_requests"]), g6(comparison["stable_requests"]), g6(comparison["min_requests"]))
    return "canary error ratio %s vs stable %s (difference %s %s margin %s)" % (
        judgment.percent(comparison["canary_error_ratio"]), judgment.percent(comparison["stable_error_ratio"]),
        judgment.percent(comparison["difference"]), ">" if comparison["verdict"] == slo.FAIL else "<=",
        judgment.percent(comparison["margin"]))


def gate_result(plan, provider, evaluation, decision, measured):
    """The module's return value (see the module's RETURN documentation). ``measured``:
    ``samples`` per condition, comparison ``totals``, ``started``/``ended``,
    ``samples_taken`` and ``stopped_early``."""
    samples, totals, timing = measured["samples"], measured["totals"], measured
    verdict = evaluation["verdict"]
    conditions, parts = [], []
    for condition, judged in zip(plan["conditions"], evaluation["results"]):
        conditions.append(_condition_result(condition, samples[condition["name"]], judged, provider))
        if judged["verdict"] == verdict or verdict == slo.PASS:
            parts.append(judged["reason"] if judged["reason"].startswith(condition["name"]) else
                         "%s: %s" % (condition["name"], judged["reason"]))
    comparison = evaluation["comparison"]
    if comparison is not None:
        comparison = dict(comparison)
        comparison["canary_notes"] = _distinct(totals["target"]["notes"])
        comparison["stable_notes"] = _distinct(totals["compare_to"]["notes"])
        comparison["intervals"] = {"canary": totals["target"]["intervals"], "stable": totals["compare_to"]["intervals"]}
        if comparison["verdict"] == verdict or verdict == slo.PASS:
            parts.append(_comparison_summary(comparison))
    duration = timing["ended"] - timing["started"]
    how = "%d sample(s) in %ds" % (timing["samples_taken"], int(round(duration)))
    if timing["stopped_early"]:
        how += ", stopped at the first failure"
    elif timing["samples_taken"] > plan["samples"]:
        how += ", stage extended past its %gs window while the evidence could not decide" % plan["window"]
    summary = "%s: %s; action %s (%s)" % (verdict.upper(), "; ".join(parts), decision["action"], how)
    if verdict == slo.INCONCLUSIVE:
        summary += "; to decide: %s" % _HINT
    result = {
        "verdict": verdict,
        "action": decision["action"],
        "action_reason": decision["reason"],
        "on_inconclusive": plan["on_inconclusive"],
        "summary": summary,
        "reason": "; ".join(parts),
        # not "failed": Ansible would read a non-empty list as a failed task
        "failed_conditions": evaluation["failed"],
        "inconclusive_conditions": evaluation["inconclusive"],
        "conditions": conditions,
        "provider": plan["provider"],
        "window": plan["window"],
        "max_window": plan["max_window"],
        "interval": plan["interval"],
        "samples": timing["samples_taken"],
        "stopped_early": timing["stopped_early"],
        "started": iso_ms(timing["started"]),
        "ended": iso_ms(timing["ended"]),
        "duration": round(duration, 3),
    }
    if comparison is not None:
        result["comparison"] = comparison
    return result
