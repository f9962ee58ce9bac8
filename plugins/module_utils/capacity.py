# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Capacity planning: a least-squares growth trend of the request rate, projected 6, 12
and 24 months ahead, the CPU each projection needs (at the measured CPU per request),
the hosts it needs at a target utilisation, and the scaling triggers that fire.

Pure standard library, exact fractions for the fit; bad input raises ``ValueError``
naming the option and value.
"""

from __future__ import annotations

import math
from fractions import Fraction

MONTH_DAYS = Fraction(36525, 1200)  # 30.4375: a Gregorian year over 12
HORIZONS = (6, 12, 24)


def _frac(option, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError("%s must be a finite number, got %r" % (option, value))
    return Fraction(repr(float(value))) if isinstance(value, float) else Fraction(value)


def fit_trend(series):
    """Least-squares line through ``[[epoch seconds, value], ...]`` (points with None are
    gaps). Returns ``slope_per_day``, ``intercept`` (value at the last point's time),
    ``points`` and ``span_days``; None when fewer than 2 points or no time span."""
    points = [(_frac("t", t), _frac("value", v)) for t, v in series if v is not None]
    if len(points) < 2:
        return None
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return None
    slope = sum((t - mean_t) * (v - mean_v) for t, v in points) / var  # per second
    last = max(t for t, _ in points)
    at_last = mean_v + slope * (last - mean_t)
    return {"slope_per_day": float(slope * 86400), "intercept": float(at_last), "points": n,
            "span_days": float((last - min(t for t, _ in points)) / 86400), "_slope": slope, "_at_last": at_last}


def project(trend, months):
    """The trend's value ``months`` after its last point (never below 0)."""
    value = trend["_at_last"] + trend["_slope"] * 86400 * MONTH_DAYS * months
    return float(max(value, Fraction(0)))


def hosts_needed(rps, cpu_per_request, host_cpus, target_utilisation):
    """Hosts to serve ``rps`` with every host at most ``target_utilisation`` busy."""
    target = _frac("target_utilisation", target_utilisation)
    if not 0 < target <= 1:
        raise ValueError("target_utilisation must be above 0 and at most 1, got %r" % (target_utilisation,))
    cpus = _frac("host_cpus", host_cpus)
    if cpus <= 0:
        raise ValueError("host_cpus must be above 0, got %r" % (host_cpus,))
    needed = _frac("rps", rps) * _frac("cpu_per_request", cpu_per_request) / (cpus * target)
    return max(1, math.ceil(needed))


def plan(trend_series, now, *, host_cpus, target_utilisation, hosts, triggers):
    """Projections and host counts. ``now``: current totals ``rps``, ``cpu`` (cores busy
    across the fleet) and ``p95`` (seconds); ``triggers``: ``cpu_utilisation`` (share of
    ``hosts * host_cpus``) and ``p95_seconds`` limits."""
    rps = now.get("rps")
    cpu = now.get("cpu")
    cpu_per_request = None if not rps or cpu is None else cpu / rps
    trend = fit_trend(trend_series)
    projections = []
    for months in HORIZONS:
        if trend is None or cpu_per_request is None:
            projections.append({"months": months, "rps": None, "cpu": None, "hosts": None})
            continue
        future = project(trend, months)
        projections.append({"months": months, "rps": future, "cpu": future * cpu_per_request,
                            "hosts": hosts_needed(future, cpu_per_request, host_cpus, target_utilisation)})
    fired = []
    capacity = hosts * host_cpus
    utilisation = None if cpu is None or not capacity else cpu / capacity
    if utilisation is not None and utilisation > triggers["cpu_utilisation"]:
        fired.append("CPU utilisation %.1f%% above %.1f%%: scale out" % (utilisation * 100,
                                                                       triggers["cpu_utilisation"] * 100))
    if now.get("p95") is not None and now["p95"] > triggers["p95_seconds"]:
        fired.append("p95 %.3gs above %.3gs: scale out or find the slow path" % (now["p95"], triggers["p95_seconds"]))
    for projection in projections:
        if projection["hosts"] is not None and projection["hosts"] > hosts:
            fired.append("in %d months the trend needs %d hosts, the fleet has %d" % (
                projection["months"], projection["hosts"], hosts))
    public_trend = None if trend is None else {k: v for k, v in trend.items() if not k.startswith("_")}
    return {"trend": public_trend, "cpu_per_request": cpu_per_request, "utilisation": utilisation,
            "projections": projections, "triggers": fired}
