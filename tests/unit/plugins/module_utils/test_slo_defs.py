# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLO definitions: the schema's checks (exact messages) and the gate conditions derived."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo_defs
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.contract_defaults import role_default

ROOT = Path(__file__).resolve().parents[4]
# The slo role's defaults, over the service contract's metric names and job (the demo's).
DEMO = role_default("slo", "slo_definitions")


def test_the_five_demo_slos_are_valid_and_say_what_the_issue_asks():
    slos = {s["name"]: s for s in slo_defs.definitions(DEMO)}
    summary = {name: (s["objective"], s["window"], s["budgeting"], s["sli"]["type"]) for name, s in slos.items()}
    assert summary == {
        "availability": (Decimal("99.9"), "30d", "occurrences", "ratio"),
        "request_latency": (Decimal("95"), "7d", "occurrences", "latency"),
        "fast_endpoint_latency": (Decimal("99"), "24h", "occurrences", "latency"),
        "workflow_success": (Decimal("98"), "7d", "occurrences", "ratio"),
        "throughput": (Decimal("99"), "1h", "timeslices", "throughput"),
    }
    assert slos["request_latency"]["sli"]["threshold"] == Decimal("0.2")
    assert slos["fast_endpoint_latency"]["sli"]["threshold"] == Decimal("0.05")
    assert slos["throughput"]["sli"]["min_rate"] == Decimal("20")


def test_gate_conditions_from_the_demo_slos():
    plan = slo_defs.gate_conditions(DEMO, "prometheus")
    assert plan["conditions"] == [
        {"type": "error_ratio", "name": "error_ratio from SLO availability", "threshold": 0.01},
        {"type": "availability", "name": "availability from SLO availability", "threshold": 0.995},
        {"type": "latency", "name": "latency from SLO request_latency", "threshold": 0.2, "percentile": 0.95},
        {"type": "health", "name": "health"},
    ]
    assert plan["sources"]["latency from SLO request_latency"] == "request_latency"
    assert plan["skipped"] == []


def test_haproxy_leaves_the_latency_condition_out_and_says_so():
    plan = slo_defs.gate_conditions(DEMO, "haproxy")
    assert [c["type"] for c in plan["conditions"]] == ["error_ratio", "availability", "health"]
    assert plan["skipped"] == ["latency SLO request_latency (p95 < 0.2s) is not judged: provider=haproxy cannot "
                               "measure latency; use provider=prometheus"]


def test_no_slos_still_gate_on_health():
    assert slo_defs.gate_conditions([], "haproxy")["conditions"] == [{"type": "health", "name": "health"}]


def bad(change, index=0):
    slos = copy.deepcopy(DEMO)
    change(slos[index])
    with pytest.raises(ValueError) as err:
        slo_defs.definitions(slos)
    return str(err.value)


def test_objective_of_100_or_more_or_0_or_less():
    assert bad(lambda s: s.update(objective=100)) == (
        "slo_definitions[0] (availability).objective must be a percentage above 0 and below 100, got 100")
    assert bad(lambda s: s.update(objective=0)) == (
        "slo_definitions[0] (availability).objective must be a percentage above 0 and below 100, got 0")
    assert bad(lambda s: s.update(objective=-5)) == (
        "slo_definitions[0] (availability).objective must be a percentage above 0 and below 100, got -5")
    assert bad(lambda s: s.pop("objective")) == (
        "slo_definitions[0] (availability).objective is required (a percentage such as 99.9)")
    assert bad(lambda s: s.update(objective="high")) == (
        "slo_definitions[0] (availability).objective must be a number, got 'high'")


def test_windows():
    assert bad(lambda s: s.update(window="30x")) == (
        "slo_definitions[0] (availability).window has unknown unit 'x' in '30x'; known units: s, m, h, d, w")
    assert bad(lambda s: s.update(window="14d")) == (
        "slo_definitions[0] (availability).window must be one of 1h, 24h, 7d, 28d, 30d (rolling), got '14d'")
    assert bad(lambda s: s.update(window="month")) == (
        "slo_definitions[0] (availability).window must be a duration such as 30d, 7d, 24h or 5m (a whole number "
        "and a unit), got 'month'")


def test_sli_checks():
    assert bad(lambda s: s["sli"].update(type="apdex")) == (
        "slo_definitions[0] (availability).sli.type must be one of ratio, latency, throughput, got 'apdex'")
    assert bad(lambda s: s["sli"].update(good="x_total")) == (
        "slo_definitions[0] (availability).sli needs exactly one of bad or good (a counter selector), got bad and good")
    assert bad(lambda s: s["sli"].update(total="sum(rate(x[5m]))")) == (
        "slo_definitions[0] (availability).sli.total must be a metric selector such as "
        "demo_http_requests_total{job=\"demo\"}, got 'sum(rate(x[5m]))'")
    assert bad(lambda s: s["sli"].update(threshold=0), 1) == (
        "slo_definitions[1] (request_latency).sli.threshold must be a number above 0, got 0")
    assert bad(lambda s: s["sli"].update(selector='job="demo"'), 1) == (
        "slo_definitions[1] (request_latency).sli.selector must be label matchers in braces such as {job=\"demo\"}, "
        "or empty, got 'job=\"demo\"'")
    assert bad(lambda s: s["sli"].update(percentile=95), 1) == (
        "slo_definitions[1] (request_latency).sli has unknown option(s) percentile; known: type, histogram, selector, "
        "threshold")
    assert bad(lambda s: s.update(budgeting="occurrences"), 4) == (
        "slo_definitions[4] (throughput).budgeting must be timeslices for a throughput SLI (a rate has no good and "
        "bad events), got 'occurrences'")


def test_other_options():
    assert bad(lambda s: s.update(name="Avail-ability")) == (
        "slo_definitions[0].name must be lower-case letters, digits and _ starting with a letter, got 'Avail-ability'")
    assert bad(lambda s: s.update(budgeting="calendar")) == (
        "slo_definitions[0] (availability).budgeting must be one of occurrences, timeslices, got 'calendar'")
    assert bad(lambda s: s.update(gate=["latency"])) == (
        "slo_definitions[0] (availability).gate may name error_ratio, availability for a ratio SLI, got 'latency'")
    assert bad(lambda s: s.update(owner="me")) == (
        "slo_definitions[0] (availability) has unknown option(s) owner; known: name, description, objective, window, "
        "budgeting, sli, gate")
    assert bad(lambda s: s.update(name="workflow_success")) == "slo_definitions names workflow_success more than once"
    with pytest.raises(ValueError, match=r"^slo_definitions must be a list of SLO definitions, got 'x'$"):
        slo_defs.definitions("x")
