# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SLO report: per SLO the objective, the measured SLI over its window, the budget
left, the burn rate over each alert window and a status, as JSON, Markdown and HTML with
charts of the SLI and the budget left over the window.

Measuring (:func:`measure_slo`) asks Prometheus through a ``query(expr, at)`` and a
``query_range(expr, start, end, step)`` callable, so the logic is tested without one.
No data is reported as no data, never as 100 %. Charts (:mod:`slo_charts`) are drawn by
matplotlib on the controller.
"""

from __future__ import annotations

import html
import json

from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo_defs, slo_math, slo_rules

POSTMORTEM_SHARE = 0.2  # an incident that burned more than this share of the budget
NO_DATA = "no data"
EXHAUSTED = "exhausted"
BURNING = "burning"
OK = "ok"


def _f(number):
    return None if number is None else float(number)


def _pct(number, places=4):
    return "n/a" if number is None else "%s%%" % slo_math.promql_number(slo_math.to_decimal("value", number) * 100,
                                                                          places)


def incidents(errors, events, step, window_s, budget):
    """Runs of consecutive steps burning faster than the budget allows (error ratio above
    the budget), each with the share of the whole window's budget it spent; those above
    :data:`POSTMORTEM_SHARE` are flagged for a postmortem.

    ``errors``: ``[[t, error ratio over the step], ...]``; ``events``: ``{t: events per
    second}`` (None for timeslices, where each step weighs ``step / window``)."""
    budget = float(budget)
    if events is not None:
        total = sum(v * step for v in events.values() if v)
        if not total:
            return []
    found, run = [], None
    for t, e in errors:
        weight = (step / window_s) if events is None else ((events.get(t) or 0.0) * step / total)
        if e is not None and e > budget:
            if run is None:
                run = {"start": t, "end": t, "spent": 0.0}
            run["end"] = t
            run["spent"] += e * weight / budget
        elif run is not None:
            found.append(run)
            run = None
    if run is not None:
        found.append(run)
    for item in found:
        item["postmortem"] = item["spent"] > POSTMORTEM_SHARE
    return found


def measure_slo(slo, query, query_range, at, points=60):
    """One SLO's section of the report (floats, JSON-ready)."""
    budget = slo_math.error_budget(slo["objective"])
    error = query(slo_rules.error_expr(slo, slo["window"]), at)
    sli = None if error is None else 1 - min(max(error, 0.0), 1.0)
    figures = slo_math.budget_from_sli(slo["objective"], sli)
    burn = {}
    firing = []
    for pair in slo_math.alert_pairs(slo["window"]):
        for window in (pair["long_window"], pair["short_window"]):
            if window not in burn:
                ratio = query(slo_rules.error_expr(slo, window), at)
                burn[window] = None if ratio is None else _f(slo_math.to_decimal("ratio", max(ratio, 0.0)) / budget)
        long_rate, short_rate = burn[pair["long_window"]], burn[pair["short_window"]]
        if long_rate is not None and short_rate is not None and long_rate > pair["burn_rate"] \
                and short_rate > pair["burn_rate"]:
            firing.append("%s (%s/%s over %sx)" % (pair["severity"], pair["long_window"], pair["short_window"],
                                                   slo_math.promql_number(pair["burn_rate"])))
    if sli is None:
        status = NO_DATA
    elif figures["exhausted"]:
        status = EXHAUSTED
    elif firing:
        status = BURNING
    else:
        status = OK
    window_s = slo_math.parse_duration("window", slo["window"])
    step = max(window_s // points // 60 * 60, 60)  # whole minutes: the per-step window is a duration
    series = query_range("1 - " + slo_rules.error_expr(slo, slo["window"]), at - window_s, at, step)
    sli_series = [[t, None if v is None else min(max(v, 0.0), 1.0)] for t, v in series]
    budget_series = [[t, None if v is None else _f(1 - slo_math.to_decimal("v", 1 - v) / budget)]
                     for t, v in sli_series]
    step_window = slo_math.format_duration(max(step // 60, 1) * 60)
    per_step = query_range(slo_rules.error_expr(slo, step_window), at - window_s, at, step)
    events_expr = slo_rules.events_expr(slo, step_window)
    events = None if events_expr is None else dict(
        (t, v) for t, v in query_range(events_expr, at - window_s, at, step))
    found = incidents(per_step, events, step, window_s, budget)
    return {
        "slo": slo["name"],
        "description": slo["description"],
        "objective": _f(slo["objective"]),
        "window": slo["window"],
        "budgeting": slo["budgeting"],
        "sli": sli,
        "error_budget": _f(budget),
        "consumed": _f(figures["consumed"]),
        "remaining": _f(figures["remaining"]),
        "exhausted": figures["exhausted"],
        "burn_rates": burn,
        "alerts_firing": firing,
        "incidents": found,
        "postmortem": [i for i in found if i["postmortem"]],
        "status": status,
        "query": slo_rules.error_expr(slo, slo["window"]),
        "series": {"step": step, "sli": sli_series, "budget_remaining": budget_series},
    }


def build(definitions, query, query_range, at, points=60):
    """The report over every SLO at ``at`` (epoch seconds)."""
    slos = slo_defs.definitions(definitions)
    return {"generated_at": at, "slos": [measure_slo(slo, query, query_range, at, points) for slo in slos]}


def to_json(report):
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def _rates(section):
    return ", ".join("%s %s" % (w, "n/a" if r is None else "%.3gx" % r) for w, r in section["burn_rates"].items())


def to_markdown(report):
    lines = ["# SLO report", "", "Generated at %d (epoch seconds, UTC)." % report["generated_at"], "",
             "| SLO | objective | window | SLI | budget left | burn rates | status |",
             "|---|---|---|---|---|---|---|"]
    for s in report["slos"]:
        lines.append("| %s | %s | %s | %s | %s | %s | %s |" % (
            s["slo"], _pct(s["objective"] / 100), s["window"], _pct(s["sli"]), _pct(s["remaining"], 2), _rates(s),
            s["status"] + ("" if not s["alerts_firing"] else " (%s)" % "; ".join(s["alerts_firing"]))))
    flagged = [(s["slo"], i) for s in report["slos"] for i in s["postmortem"]]
    lines += ["", "## Incidents for a postmortem (more than 20 % of a budget)", ""]
    lines += ["- %s: %d to %d spent %s of the budget" % (name, i["start"], i["end"], _pct(i["spent"], 2))
              for name, i in flagged] or ["- none"]
    return "\n".join(lines) + "\n"


def to_html(report, charts):
    """The report as one self-contained HTML page; ``charts`` maps chart id to a PNG data URI."""
    rows = []
    for s in report["slos"]:
        rows.append("<tr><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class=\"%s\">%s</td>"
                    "</tr>" % tuple(html.escape(str(x)) for x in (
                        s["slo"], _pct(s["objective"] / 100), s["window"], _pct(s["sli"]), _pct(s["remaining"], 2),
                        _rates(s), s["status"].replace(" ", "-"), s["status"])))
    flagged = ["<li>%s: %d to %d spent %s of the budget</li>" % (html.escape(s["slo"]), i["start"], i["end"],
                                                                 _pct(i["spent"], 2))
               for s in report["slos"] for i in s["postmortem"]] or ["<li>none</li>"]
    figures = []
    for chart_id in sorted(charts):
        figures.append('<figure><img class="chart" id="%s" alt="%s" src="%s"><figcaption>%s</figcaption></figure>' % (
            html.escape(chart_id), html.escape(chart_id), charts[chart_id], html.escape(chart_id)))
    return """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>SLO report</title>
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #999;
padding:4px 8px}.exhausted{background:#f99}.burning{background:#fd9}.ok{background:#9e9}.no-data{background:#ddd}
figure{display:inline-block;margin:1em}</style></head><body>
<h1>SLO report</h1><p>Generated at %d (epoch seconds, UTC).</p>
<table class="slos"><tr><th>SLO</th><th>objective</th><th>window</th><th>SLI</th><th>budget left</th><th>burn rates</th>
<th>status</th></tr>
%s
</table>
<h2>Incidents for a postmortem (more than 20 %% of a budget)</h2><ul>%s</ul>
%s
</body></html>
""" % (report["generated_at"], "\n".join(rows), "".join(flagged), "\n".join(figures))
