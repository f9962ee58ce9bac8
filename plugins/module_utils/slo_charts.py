# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Charts of the SLO report, drawn by matplotlib (controller only) as PNG data URIs:
per SLO the SLI over its window against the objective, and the error budget left.
A window without data gets a chart that says so, never an empty frame."""

from __future__ import annotations

import base64
import io

try:  # only the report needs matplotlib, on the controller; the module says when it is missing
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    MATPLOTLIB_ERROR = None
except ImportError as exc:
    plt = None
    MATPLOTLIB_ERROR = exc


def _chart(title, series, ylabel, *, line=None, line_label=None):
    figure, axes = plt.subplots(figsize=(6, 3), dpi=80)
    points = [(t, v) for t, v in series if v is not None]
    if points:
        # Markers while there are few points: one point (a service younger than a step)
        # draws no line, and the report must still show the value it measured.
        few = len(points) < 10
        axes.plot([(t - points[-1][0]) / 3600.0 for t, _ in points], [v for _, v in points], color="tab:blue",
                  marker="o" if few else None, markersize=10)
        axes.set_xlabel("hours before the report")
    else:
        axes.text(0.5, 0.5, "no data over the window", ha="center", va="center", transform=axes.transAxes)
    if line is not None:
        axes.axhline(line, color="tab:red", linestyle="--", label=line_label)
        axes.legend(loc="lower left")
    axes.set_title(title)
    axes.set_ylabel(ylabel)
    axes.grid(True, alpha=0.3)
    return _png(figure)


def charts(report):
    """``{chart id: data URI}``: ``<slo>-sli`` and ``<slo>-budget`` for every SLO."""
    if plt is None:
        raise ImportError(str(MATPLOTLIB_ERROR))
    result = {}
    for section in report["slos"]:
        name = section["slo"]
        result["%s-sli" % name] = _chart("%s: SLI over %s" % (name, section["window"]), section["series"]["sli"],
                                         "good ratio", line=section["objective"] / 100, line_label="objective")
        result["%s-budget" % name] = _chart("%s: error budget left" % name, section["series"]["budget_remaining"],
                                            "share of budget", line=0.0, line_label="exhausted")
    return result


def _png(figure):
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    plt.close(figure)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def capacity_charts(report):
    """``capacity-trend`` (request rate, its fitted line and the projections, in days
    from the report) and ``capacity-hosts`` (CPU utilisation per host against the
    target)."""
    if plt is None:
        raise ImportError(str(MATPLOTLIB_ERROR))
    at = report["generated_at"]
    # Two panels: the measured range (minutes to days) beside the projection (months);
    # on one shared axis the history would be a sliver a pixel wide.
    figure, (history, future) = plt.subplots(1, 2, figsize=(7, 3), dpi=80, gridspec_kw={"width_ratios": [3, 2]})
    points = [(t, v) for t, v in report["trend_series"] if v is not None]
    if points:
        history.plot([(t - at) / 86400.0 for t, _ in points], [v for _, v in points], color="tab:blue",
                     marker="o" if len(points) < 10 else None, label="requests/s")
    else:
        history.text(0.5, 0.5, "no request rate over the range", ha="center", va="center", transform=history.transAxes)
    trend = report["trend"]
    if trend is not None:
        start = -trend["span_days"]
        fitted_start = trend["intercept"] - trend["slope_per_day"] * trend["span_days"]
        history.plot([start, 0], [fitted_start, trend["intercept"]], color="tab:orange", linestyle="--",
                     label="fitted trend")
        months = [0] + [p["months"] for p in report["projections"]]
        future.plot(months, [trend["intercept"]] + [p["rps"] for p in report["projections"]], color="tab:orange",
                    linestyle="--")
        future.plot(months[1:], [p["rps"] for p in report["projections"]], "o", color="tab:red",
                    label="6/12/24 months")
        future.legend(loc="upper left")
    else:
        future.text(0.5, 0.5, "no trend: fewer than two points", ha="center", va="center", transform=future.transAxes)
    history.set_title("request rate measured")
    history.set_xlabel("days from the report")
    history.set_ylabel("requests/s")
    history.grid(True, alpha=0.3)
    if points:
        history.legend(loc="upper left")
    future.set_title("projection")
    future.set_xlabel("months from the report")
    future.grid(True, alpha=0.3)
    charts = {"capacity-trend": _png(figure)}
    figure, axes = plt.subplots(figsize=(7, 3), dpi=80)
    names = [h["host"] for h in report["hosts"]]
    axes.bar(names, [h["cpu_utilisation"] * 100 for h in report["hosts"]], color="tab:blue")
    axes.axhline(report["target_utilisation"] * 100, color="tab:red", linestyle="--", label="target")
    axes.legend(loc="upper right")
    if not names:
        axes.text(0.5, 0.5, "no hosts measured", ha="center", va="center", transform=axes.transAxes)
    axes.set_title("CPU utilisation per host")
    axes.set_ylabel("% of host CPUs")
    axes.grid(True, axis="y", alpha=0.3)
    charts["capacity-hosts"] = _png(figure)
    return charts
