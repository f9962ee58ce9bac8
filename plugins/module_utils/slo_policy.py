# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The error-budget policy a deploy obeys, and the Prometheus measurement it rests on.

Each SLO's error ratio is measured over its whole window with the same PromQL the
recording rules use (:func:`slo_rules.error_expr`), so the policy does not depend on
the rules being loaded. A budget is *exhausted* when the window consumed all of it.
A ``normal`` change is refused while any budget is exhausted; ``emergency`` and
``security`` changes pass, and the decision says which budgets they overrode so the
deploy can record it. An SLO without data over its window is reported as no data: it
neither refuses a change nor counts as a full budget.
"""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.parse
import urllib.request

from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo_defs, slo_math, slo_rules

CHANGE_TYPES = ("normal", "emergency", "security")


class PolicyError(Exception):
    """Prometheus could not measure an SLO (unreachable, query rejected)."""


def _pct(number):
    return "%s%%" % slo_math.promql_number(number * 100, 4)


def budget_line(slo, error_ratio):
    """One SLO's budget over its window from a measured error ratio (None: no data)."""
    # A ratio of two rates can stray a rounding error outside [0, 1].
    sli = None if error_ratio is None else 1 - min(max(slo_math.to_decimal("error_ratio", error_ratio), 0), 1)
    budget = slo_math.budget_from_sli(slo["objective"], sli)
    line = {
        "slo": slo["name"],
        "objective": slo["objective"],
        "window": slo["window"],
        "sli": sli,
        "budget": budget["budget"],
        "consumed": budget["consumed"],
        "remaining": budget["remaining"],
        "exhausted": budget["exhausted"],
    }
    if sli is None:
        line["summary"] = "%s: no data over %s" % (slo["name"], slo["window"])
    else:
        line["summary"] = "%s: %s over %s against %s%%, %s of the error budget spent (%s left)" % (
            slo["name"], _pct(sli), slo["window"], slo_math.promql_number(slo["objective"]),
            _pct(budget["consumed"]), _pct(budget["remaining"]))
    return line


def decide(lines, change_type):
    """Whether a change of ``change_type`` may go ahead given the budget lines."""
    if change_type not in CHANGE_TYPES:
        raise ValueError("change_type must be one of %s, got %r" % (", ".join(CHANGE_TYPES), change_type))
    exhausted = [line for line in lines if line["exhausted"]]
    no_data = [line["slo"] for line in lines if line["sli"] is None]
    allowed = not exhausted or change_type != "normal"
    if not exhausted:
        message = "error budgets allow the change: %s" % ("; ".join(line["summary"] for line in lines) or "no SLOs")
    elif change_type == "normal":
        message = "error budget exhausted, a normal change is refused: %s. Only an emergency or security change " \
                  "(deploy_change_type) may deploy now" % "; ".join(line["summary"] for line in exhausted)
    else:
        message = "error budget exhausted, the %s change goes ahead (recorded): %s" % (
            change_type, "; ".join(line["summary"] for line in exhausted))
    return {
        "allowed": allowed,
        "change_type": change_type,
        "exhausted": [line["slo"] for line in exhausted],
        "overridden": [line["slo"] for line in exhausted] if exhausted and allowed else [],
        "no_data": no_data,
        "message": message,
    }


def query_scalar(prometheus_url, query, timeout, opener=urllib.request.urlopen, at=None):
    """The single value of an instant query (at ``at``, else now), None when it returns no series."""
    params = {"query": query}
    if at is not None:
        params["time"] = at
    url = prometheus_url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode(params)
    try:
        with opener(url, timeout=timeout) as response:
            data = json.loads(response.read().decode())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read().decode()).get("error")
        except ValueError:
            detail = None
        raise PolicyError("Prometheus rejected the query %s: %s" % (query, detail or exc)) from None
    except (OSError, ValueError) as exc:
        raise PolicyError("GET %s failed: %s" % (url, exc)) from None
    result = data.get("data", {}).get("result", [])
    if not result:
        return None
    if len(result) > 1:
        raise PolicyError("the query %s returned %d series, expected one" % (query, len(result)))
    value = float(result[0]["value"][1])
    return None if math.isnan(value) or math.isinf(value) else value


def measure(definitions, prometheus_url, timeout=10, opener=urllib.request.urlopen):
    """Budget lines for every SLO, measured over each SLO's window."""
    lines = []
    for slo in slo_defs.definitions(definitions):
        query = slo_rules.error_expr(slo, slo["window"])
        try:
            ratio = query_scalar(prometheus_url, query, timeout, opener)
        except PolicyError as exc:
            raise PolicyError("SLO %s: %s" % (slo["name"], exc)) from None
        line = budget_line(slo, ratio)
        line["query"] = query
        lines.append(line)
    return lines


def query_range(prometheus_url, query, span, timeout, opener=urllib.request.urlopen):
    """``[[t, value], ...]`` over ``span`` (start, end, step) of a range query's single
    series (``[]`` without one; NaN as None)."""
    start, end, step = span
    params = urllib.parse.urlencode({"query": query, "start": start, "end": end, "step": step})
    url = prometheus_url.rstrip("/") + "/api/v1/query_range?" + params
    try:
        with opener(url, timeout=timeout) as response:
            data = json.loads(response.read().decode())
    except urllib.error.HTTPError as exc:
        raise PolicyError("Prometheus rejected the range query %s: %s" % (query, exc)) from None
    except (OSError, ValueError) as exc:
        raise PolicyError("GET %s failed: %s" % (url, exc)) from None
    result = data.get("data", {}).get("result", [])
    if not result:
        return []
    if len(result) > 1:
        raise PolicyError("the range query %s returned %d series, expected one" % (query, len(result)))
    points = []
    for t, value in result[0]["values"]:
        number = float(value)
        points.append([float(t), None if math.isnan(number) or math.isinf(number) else number])
    return points


def query_vector(prometheus_url, query, timeout, opener=urllib.request.urlopen):
    """``[(labels, value), ...]`` of an instant query (NaN as None)."""
    url = prometheus_url.rstrip("/") + "/api/v1/query?" + urllib.parse.urlencode({"query": query})
    try:
        with opener(url, timeout=timeout) as response:
            data = json.loads(response.read().decode())
    except urllib.error.HTTPError as exc:
        raise PolicyError("Prometheus rejected the query %s: %s" % (query, exc)) from None
    except (OSError, ValueError) as exc:
        raise PolicyError("GET %s failed: %s" % (url, exc)) from None
    out = []
    for item in data.get("data", {}).get("result", []):
        number = float(item["value"][1])
        out.append((item["metric"], None if math.isnan(number) or math.isinf(number) else number))
    return out
