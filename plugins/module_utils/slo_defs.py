# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLO definitions: the schema, checked with messages that name option and value, and
the deploy gate's conditions derived from them.

One definition (see docs/slo.md for the schema with examples)::

    name: request_latency          # [a-z][a-z0-9_]*, unique
    objective: 95                  # percent, above 0 and below 100
    window: 7d                     # rolling: 1h, 24h, 7d, 28d or 30d
    budgeting: occurrences         # or timeslices (throughput needs timeslices)
    sli:
      type: latency                # ratio | latency | throughput
      histogram: demo_http_request_duration_seconds
      selector: '{job="demo"}'
      threshold: 0.2               # seconds; a bucket bound of the histogram
    gate: [latency]                # conditions the deploy gate takes from this SLO

SLI types: ``ratio`` (``total`` and one of ``bad`` / ``good``: counter selectors),
``latency`` (the share of requests faster than ``threshold`` from a histogram),
``throughput`` (``total`` counter selector, ``min_rate`` per second, ``slice``: the
share of slices whose rate reaches the floor). Pure standard library.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo_math

WINDOWS = ("1h", "24h", "7d", "28d", "30d")
BUDGETING = ("occurrences", "timeslices")
SLI_TYPES = ("ratio", "latency", "throughput")
GATE_KINDS = {"ratio": ("error_ratio", "availability"), "latency": ("latency",), "throughput": ()}
# The gate's thresholds at deploy time (a stage is minutes long, the SLO's window days):
# the SLO names where a condition comes from; the deploy thresholds decide.
DEPLOY_THRESHOLDS = {"error_ratio": 0.01, "availability": 0.995}

_NAME_RE = re.compile(r"[a-z][a-z0-9_]*\Z")
_SELECTOR_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^{}]*\})?\Z")
_MATCHERS_RE = re.compile(r"(\{[^{}]*\})?\Z")
_METRIC_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_KEYS = ("name", "description", "objective", "window", "budgeting", "sli", "gate")
_SLI_KEYS = {
    "ratio": ("type", "total", "bad", "good"),
    "latency": ("type", "histogram", "selector", "threshold"),
    "throughput": ("type", "total", "min_rate", "slice"),
}


def _unknown(where, raw, known):
    unknown = sorted(str(key) for key in raw if key not in known)
    if unknown:
        raise ValueError("%s has unknown option(s) %s; known: %s" % (where, ", ".join(unknown), ", ".join(known)))


_COUNTER = "a metric selector such as demo_http_requests_total{job=\"demo\"}"


def _selector(option, value, pattern=_SELECTOR_RE, what=_COUNTER):
    if not isinstance(value, str) or not pattern.match(value.strip()):
        raise ValueError("%s must be %s, got %r" % (option, what, value))
    return value.strip()


def _positive(option, value):
    number = slo_math.to_decimal(option, value)
    if number <= 0:
        raise ValueError("%s must be a number above 0, got %r" % (option, value))
    return number


def _sli(where, raw):
    if not isinstance(raw, Mapping):
        raise ValueError("%s must be a mapping with a type (%s), got %r" % (where, ", ".join(SLI_TYPES), raw))
    kind = raw.get("type")
    if kind not in SLI_TYPES:
        raise ValueError("%s.type must be one of %s, got %r" % (where, ", ".join(SLI_TYPES), kind))
    _unknown(where, raw, _SLI_KEYS[kind])
    sli = {"type": kind}
    if kind == "ratio":
        sli["total"] = _selector("%s.total" % where, raw.get("total"))
        given = [key for key in ("bad", "good") if raw.get(key) is not None]
        if len(given) != 1:
            raise ValueError("%s needs exactly one of bad or good (a counter selector), got %s"
                             % (where, " and ".join(given) or "neither"))
        sli[given[0]] = _selector("%s.%s" % (where, given[0]), raw[given[0]])
    elif kind == "latency":
        sli["histogram"] = _selector("%s.histogram" % where, raw.get("histogram"), _METRIC_RE,
                                     "a histogram's base name such as demo_http_request_duration_seconds")
        sli["selector"] = _selector("%s.selector" % where, raw.get("selector", ""), _MATCHERS_RE,
                                    "label matchers in braces such as {job=\"demo\"}, or empty")
        sli["threshold"] = _positive("%s.threshold" % where, raw.get("threshold"))
    else:
        sli["total"] = _selector("%s.total" % where, raw.get("total"))
        sli["min_rate"] = _positive("%s.min_rate" % where, raw.get("min_rate"))
        sli["slice"] = slo_math.format_duration(slo_math.parse_duration("%s.slice" % where, raw.get("slice", "1m")))
    return sli


def definition(index, raw, option="slo_definitions"):
    """One SLO definition checked and normalised (objective and thresholds as Decimals)."""
    where = "%s[%d]" % (option, index)
    if not isinstance(raw, Mapping):
        raise ValueError("%s must be a mapping with name, objective, window and sli, got %r" % (where, raw))
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError("%s.name must be lower-case letters, digits and _ starting with a letter, got %r"
                         % (where, name))
    where = "%s[%d] (%s)" % (option, index, name)
    _unknown(where, raw, _KEYS)
    if raw.get("objective") is None:
        raise ValueError("%s.objective is required (a percentage such as 99.9)" % where)
    objective = slo_math.to_decimal("%s.objective" % where, raw["objective"])
    slo_math.objective_fraction(raw["objective"], "%s.objective" % where)
    window = raw.get("window")
    slo_math.parse_duration("%s.window" % where, window)
    if window not in WINDOWS:
        raise ValueError("%s.window must be one of %s (rolling), got %r" % (where, ", ".join(WINDOWS), window))
    sli = _sli("%s.sli" % where, raw.get("sli"))
    budgeting = raw.get("budgeting", "timeslices" if sli["type"] == "throughput" else "occurrences")
    if budgeting not in BUDGETING:
        raise ValueError("%s.budgeting must be one of %s, got %r" % (where, ", ".join(BUDGETING), budgeting))
    if sli["type"] == "throughput" and budgeting != "timeslices":
        raise ValueError("%s.budgeting must be timeslices for a throughput SLI (a rate has no good and bad "
                         "events), got %r" % (where, budgeting))
    gate = raw.get("gate", [])
    if isinstance(gate, str) or not isinstance(gate, Sequence):
        raise ValueError("%s.gate must be a list of gate conditions, got %r" % (where, gate))
    for kind in gate:
        if kind not in GATE_KINDS[sli["type"]]:
            raise ValueError("%s.gate may name %s for a %s SLI, got %r" % (
                where, ", ".join(GATE_KINDS[sli["type"]]) or "nothing", sli["type"], kind))
    description = raw.get("description", "")
    if not isinstance(description, str):
        raise ValueError("%s.description must be a string, got %r" % (where, description))
    return {"name": name, "description": description, "objective": objective, "window": window,
            "budgeting": budgeting, "sli": sli, "gate": list(gate)}


def definitions(raw, option="slo_definitions"):
    """Every SLO checked; names unique. A list (empty allowed)."""
    if isinstance(raw, (str, Mapping)) or not isinstance(raw, Sequence):
        raise ValueError("%s must be a list of SLO definitions, got %r" % (option, raw))
    result = [definition(index, item, option) for index, item in enumerate(raw)]
    names = [slo["name"] for slo in result]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError("%s names %s more than once" % (option, ", ".join(twice)))
    return result


def _float(number):
    return float(number)


def gate_conditions(raw, provider, option="slo_definitions"):
    """The deploy gate's conditions from the SLOs (used when no explicit conditions
    are given): per SLO the kinds its ``gate`` names, then the health condition.

    ``error_ratio`` and ``availability`` take the deploy thresholds
    (:data:`DEPLOY_THRESHOLDS`); ``latency`` the SLO's threshold, with its objective as
    the percentile (95 % faster than 0.2 s is p95 < 0.2 s). Each condition is named
    after the SLO it came from. A provider that cannot measure a condition (haproxy:
    latency) leaves it out and ``skipped`` says so.

    :returns: ``{"conditions": [...], "sources": {condition name: SLO name},
        "skipped": [messages]}``
    """
    slos = definitions(raw, option)
    conditions, sources, skipped = [], {}, []
    for slo in slos:
        for kind in slo["gate"]:
            name = "%s from SLO %s" % (kind, slo["name"])
            if kind == "latency":
                if provider == "haproxy":
                    skipped.append("latency SLO %s (p%s < %ss) is not judged: provider=haproxy cannot measure "
                                   "latency; use provider=prometheus" % (
                                       slo["name"], slo_math.promql_number(slo["objective"]),
                                       slo_math.promql_number(slo["sli"]["threshold"])))
                    continue
                condition = {"type": "latency", "name": name, "threshold": _float(slo["sli"]["threshold"]),
                             "percentile": _float(slo["objective"] / 100)}
            else:
                condition = {"type": kind, "name": name, "threshold": DEPLOY_THRESHOLDS[kind]}
            conditions.append(condition)
            sources[name] = slo["name"]
    conditions.append({"type": "health", "name": "health"})
    sources["health"] = None
    return {"conditions": conditions, "sources": sources, "skipped": skipped}
