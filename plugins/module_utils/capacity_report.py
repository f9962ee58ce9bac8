# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The capacity report: utilisation per instance and per host from Prometheus, the
growth trend of the request rate projected 6/12/24 months (:mod:`capacity`), the hosts
each projection needs and the triggers that fire; JSON, Markdown and HTML with charts.

``vector(expr)`` and ``query_range(expr, start, end, step)`` callables ask Prometheus."""

from __future__ import annotations

import html
import json

from ansible_collections.fleetops.lifecycle.plugins.module_utils import capacity


def queries(selector, requests_metric, latency_histogram):
    rate = "rate(%s%s[5m])" % (requests_metric, selector)
    bucket = "rate(%s_bucket%s[5m])" % (latency_histogram, selector)
    return {
        "cpu": "sum by (host, slot) (rate(process_cpu_seconds_total%s[5m]))" % selector,
        "memory": "sum by (host, slot) (process_resident_memory_bytes%s)" % selector,
        "rps": "sum by (host, slot) (%s)" % rate,
        "p95": "histogram_quantile(0.95, sum by (le, host, slot) (%s))" % bucket,
        "host_p95": "histogram_quantile(0.95, sum by (le, host) (%s))" % bucket,
        "total_p95": "histogram_quantile(0.95, sum by (le) (%s))" % bucket,
        "trend": "sum(%s)" % rate,
    }


def build(vector, query_range, at, options):
    """The report. ``options``: selector, requests_metric, latency_histogram, trend_days,
    host_cpus, target_utilisation, triggers."""
    q = queries(options["selector"], options["requests_metric"], options["latency_histogram"])
    instances = {}
    for field in ("cpu", "memory", "rps", "p95"):
        for labels, value in vector(q[field]):
            key = (labels.get("host", "?"), labels.get("slot", "?"))
            instances.setdefault(key, {"host": key[0], "slot": key[1]})[field] = value
    hosts = {}
    for (host, _slot), item in sorted(instances.items()):
        entry = hosts.setdefault(host, {"host": host, "cpu": 0.0, "memory": 0.0, "rps": 0.0})
        for field in ("cpu", "memory", "rps"):
            entry[field] += item.get(field) or 0.0
    for labels, value in vector(q["host_p95"]):
        if labels.get("host") in hosts:
            hosts[labels["host"]]["p95"] = value
    for entry in hosts.values():
        entry["cpu_utilisation"] = entry["cpu"] / options["host_cpus"]
    total_p95 = [value for _labels, value in vector(q["total_p95"])]
    now = {"rps": sum(h["rps"] for h in hosts.values()), "cpu": sum(h["cpu"] for h in hosts.values()),
           "p95": total_p95[0] if total_p95 else None}
    span = int(options["trend_days"] * 86400)
    step = max(span // 200, 60)
    trend_series = query_range(q["trend"], at - span, at, step)
    result = capacity.plan(trend_series, now, host_cpus=options["host_cpus"],
                           target_utilisation=options["target_utilisation"], hosts=max(len(hosts), 1),
                           triggers=options["triggers"])
    return {"generated_at": at, "instances": [instances[k] for k in sorted(instances)],
            "hosts": [hosts[h] for h in sorted(hosts)], "now": now, "host_count": len(hosts),
            "target_utilisation": options["target_utilisation"], "host_cpus": options["host_cpus"],
            "trend_series": trend_series, "queries": q, **result}


def _n(value, fmt="%.3g"):
    return "n/a" if value is None else fmt % value


def to_json(report):
    return json.dumps(report, indent=2, sort_keys=True) + "\n"


def _tables(report):
    hosts = [["host", "CPU (cores)", "CPU utilisation", "memory (MiB)", "requests/s", "p95 (s)"]]
    for h in report["hosts"]:
        hosts.append([h["host"], _n(h["cpu"]), _n(h["cpu_utilisation"] * 100, "%.1f%%"), _n(h["memory"] / 2 ** 20),
                      _n(h["rps"]), _n(h.get("p95"))])
    instances = [["host", "slot", "CPU (cores)", "memory (MiB)", "requests/s", "p95 (s)"]]
    for i in report["instances"]:
        instances.append([i["host"], i["slot"], _n(i.get("cpu")), _n(None if i.get("memory") is None
                                                                      else i["memory"] / 2 ** 20),
                          _n(i.get("rps")), _n(i.get("p95"))])
    projections = [["months", "requests/s", "CPU (cores)", "hosts at %s%%" % _n(report["target_utilisation"] * 100)]]
    for p in report["projections"]:
        projections.append([str(p["months"]), _n(p["rps"]), _n(p["cpu"]), _n(p["hosts"], "%d")])
    return hosts, instances, projections


def _trend_text(report):
    t = report["trend"]
    if t is None:
        return "no trend: fewer than two points of request rate over the range"
    return "request rate %s/s now, %+.3g/s per day (least squares over %d points, %.1f days)" % (
        _n(t["intercept"]), t["slope_per_day"], t["points"], t["span_days"])


def to_markdown(report):
    out = ["# Capacity report", "", "Generated at %d (epoch seconds, UTC). %s." % (report["generated_at"],
                                                                                   _trend_text(report)), ""]
    for title, table in zip(("Per host", "Per instance", "Projections"), _tables(report)):
        out += ["## " + title, "", "| " + " | ".join(table[0]) + " |", "|" + "---|" * len(table[0])]
        out += ["| " + " | ".join(row) + " |" for row in table[1:]] + [""]
    out += ["## Triggers", ""] + (["- " + t for t in report["triggers"]] or ["- none fire"])
    return "\n".join(out) + "\n"


def to_html(report, charts):
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8"><title>Capacity report</title>',
             "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid "
             "#999;padding:4px 8px}figure{display:inline-block;margin:1em}</style></head><body>",
             "<h1>Capacity report</h1><p>Generated at %d (epoch seconds, UTC). %s.</p>" % (
                 report["generated_at"], html.escape(_trend_text(report)))]
    for title, table in zip(("Per host", "Per instance", "Projections"), _tables(report)):
        parts.append("<h2>%s</h2><table>" % title)
        parts.append("<tr>%s</tr>" % "".join("<th>%s</th>" % html.escape(c) for c in table[0]))
        parts += ["<tr>%s</tr>" % "".join("<td>%s</td>" % html.escape(c) for c in row) for row in table[1:]]
        parts.append("</table>")
    parts.append("<h2>Triggers</h2><ul>%s</ul>" % "".join(
        "<li>%s</li>" % html.escape(t) for t in report["triggers"] or ["none fire"]))
    for chart_id in sorted(charts):
        parts.append('<figure><img class="chart" id="%s" alt="%s" src="%s"><figcaption>%s</figcaption></figure>' % (
            chart_id, chart_id, charts[chart_id], chart_id))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
