# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One line per gate sample, printed while a stage is analysed: what the newest
interval measured, the stage's totals so far and the running verdict. Pure, so the
wording is tested; the slo_gate action plugin prints it through the display."""

from __future__ import annotations


def _pct(value):
    return "n/a" if value is None else "%.3g %%" % (value * 100)


def _n(value):
    if value is None:
        return "n/a"
    return "%d" % value if float(value).is_integer() else "%g" % value


def _condition_part(condition, latest, judged):
    kind, name = condition["type"], condition["name"]
    if latest is None:
        return "%s: no sample" % name
    if kind in ("error_ratio", "latency"):
        if latest.get("total") is None:
            now = "not measured (%s)" % (latest.get("note") or "no data")
        else:
            now = "%s of %s" % (_n(latest["bad"]), _n(latest["total"]))
        part = "%s %s this sample, stage %s (%s of %s)" % (name, now, _pct(judged.get("ratio")),
                                                           _n(judged.get("bad")), _n(judged.get("total")))
        more = (judged.get("test") or {}).get("more_clean_requests")
        if judged.get("verdict") == "inconclusive" and more:
            part += ", %s more clean request(s) to pass" % _n(more)
        return part
    if kind == "availability":
        return "%s %s of %s probes up" % (name, _n(latest.get("up")), _n(latest.get("probes")))
    if latest.get("value") is None:
        return "%s not measured (%s)" % (name, latest.get("note") or "no data")
    return "%s %s failing of %s probes" % (name, _n(latest["value"]), _n(latest.get("request_count")))


def sample_line(plan, progress):
    """``progress``: ``taken`` (samples so far), ``elapsed`` (seconds since the
    baseline), ``samples`` (condition name -> its samples) and ``evaluation``
    (``gate_run.judge_stage``)."""
    evaluation = progress["evaluation"]
    parts = []
    for condition, judged in zip(plan["conditions"], evaluation["results"]):
        samples = progress["samples"].get(condition["name"]) or []
        parts.append("%s [%s]" % (_condition_part(condition, samples[-1] if samples else None, judged),
                                  judged.get("verdict")))
    return "sample %d/%d-%d at %ds: %s; running verdict %s" % (
        progress["taken"], plan["samples"], plan["max_samples"], int(round(progress["elapsed"])),
        "; ".join(parts), evaluation["verdict"].upper())
