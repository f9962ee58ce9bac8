# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus recording and alerting rules from SLO definitions.

Per SLO ``N`` (labels ``slo="N"``):

* ``slo:sli_error:ratio_rate<w>`` for every window an alert pair needs and the SLO's
  own window: the share of bad events (ratio, latency) or of slices under the floor
  (throughput) over ``w``;
* ``slo:objective:ratio`` and ``slo:error_budget_remaining:ratio`` (over the window:
  ``1 - error / budget``; no data gives no sample, never a full budget);
* two alerts: ``SLOBurnRatePage`` (the page pairs, OR-ed) and ``SLOBurnRateTicket``
  (the ticket pair), each pair firing when its long AND its short window burn faster
  than the pair's threshold (``burn_rate * budget`` as an error ratio).

Numbers come from :mod:`slo_math` (exact decimals, at most 10 places in PromQL).
"""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo_defs, slo_math

SEVERITY_PRIORITY = {"page": "P1", "ticket": "P3"}
ALERT_NAMES = {"page": "SLOBurnRatePage", "ticket": "SLOBurnRateTicket"}


def _merge(selector, extra):
    """``name{a="b"}`` + ``le="0.2"`` -> ``name{a="b",le="0.2"}``."""
    if selector.endswith("}"):
        inner = selector[selector.index("{") + 1:-1].strip().rstrip(",")
        return "%s{%s}" % (selector[:selector.index("{")], ("%s,%s" % (inner, extra)) if inner else extra)
    return "%s{%s}" % (selector, extra)


def _le(threshold):
    """A bucket bound as prometheus_client and Prometheus write it (0.2, 1.0)."""
    return repr(float(threshold))


def error_expr(slo, window):
    """PromQL for the SLO's error ratio over ``window``."""
    sli = slo["sli"]
    if sli["type"] == "ratio":
        total = "sum(rate(%s[%s]))" % (sli["total"], window)
        # No bad series yet (no 5xx ever) is zero bad events, not no data; no total
        # series still gives no result.
        if "bad" in sli:
            return "((sum(rate(%s[%s])) or vector(0)) / %s)" % (sli["bad"], window, total)
        return "(1 - (sum(rate(%s[%s])) or vector(0)) / %s)" % (sli["good"], window, total)
    if sli["type"] == "latency":
        selector = sli["selector"] or "{}"
        bucket = _merge(sli["histogram"] + "_bucket" + selector, 'le="%s"' % _le(sli["threshold"]))
        count = sli["histogram"] + "_count" + (sli["selector"] or "")
        return "(1 - sum(rate(%s[%s])) / sum(rate(%s[%s])))" % (bucket, window, count, window)
    floor = slo_math.promql_number(sli["min_rate"])
    return "(1 - avg_over_time((sum(rate(%s[%s])) >= bool %s)[%s:%s]))" % (
        sli["total"], sli["slice"], floor, window, sli["slice"])


def events_expr(slo, window):
    """PromQL for the SLO's events per second over ``window`` (None for timeslices:
    every slice weighs the same)."""
    sli = slo["sli"]
    if sli["type"] == "ratio":
        return "sum(rate(%s[%s]))" % (sli["total"], window)
    if sli["type"] == "latency":
        return "sum(rate(%s_count%s[%s]))" % (sli["histogram"], sli["selector"] or "", window)
    return None


def _record(window):
    return "slo:sli_error:ratio_rate%s" % window


def rule_groups(raw, option="slo_definitions"):
    """The rule file's ``groups`` for every SLO: one group per SLO."""
    groups = []
    for slo in slo_defs.definitions(raw, option):
        name = slo["name"]
        labels = {"slo": name}
        selector = '{slo="%s"}' % name
        budget = slo_math.error_budget(slo["objective"])
        pairs = slo_math.alert_pairs(slo["window"])
        windows = []
        for pair in pairs:
            for window in (pair["short_window"], pair["long_window"]):
                if window not in windows:
                    windows.append(window)
        if slo["window"] not in windows:
            windows.append(slo["window"])
        rules = [{"record": _record(w), "expr": error_expr(slo, w), "labels": dict(labels)} for w in windows]
        rules.append({"record": "slo:objective:ratio",
                      "expr": "vector(%s)" % slo_math.promql_number(slo["objective"] / 100), "labels": dict(labels)})
        rules.append({"record": "slo:error_budget_remaining:ratio",
                      "expr": "1 - %s%s / %s" % (_record(slo["window"]), selector, slo_math.promql_number(budget)),
                      "labels": dict(labels)})
        for severity in ("page", "ticket"):
            chosen = [p for p in pairs if p["severity"] == severity]
            terms = []
            for pair in chosen:
                limit = slo_math.promql_number(pair["burn_rate"] * budget)
                terms.append("(%s%s > %s and %s%s > %s)" % (
                    _record(pair["long_window"]), selector, limit, _record(pair["short_window"]), selector, limit))
            described = "; ".join("%s%% of the budget in %s (%sx over %s and %s)" % (
                slo_math.promql_number(p["budget_consumed"]), p["long_window"], slo_math.promql_number(p["burn_rate"]),
                p["long_window"], p["short_window"]) for p in chosen)
            rules.append({
                "alert": ALERT_NAMES[severity],
                "expr": " or ".join(terms),
                "labels": {"slo": name, "severity": severity, "priority": SEVERITY_PRIORITY[severity]},
                "annotations": {
                    "summary": "SLO %s (%s%% over %s) burns its error budget: %s" % (
                        name, slo_math.promql_number(slo["objective"]), slo["window"], described),
                    "runbook": "docs/runbooks/monitoring.md#%s" % ALERT_NAMES[severity].lower(),
                },
            })
        groups.append({"name": "slo_%s" % name, "rules": rules})
    return groups

