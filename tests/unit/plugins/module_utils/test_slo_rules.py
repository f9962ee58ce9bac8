# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus rules from SLO definitions: recording rules per window, page and ticket
alerts (long AND short within a pair, OR across pairs) at the scaled thresholds."""

from __future__ import annotations

from pathlib import Path

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo_rules
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.contract_defaults import role_default

ROOT = Path(__file__).resolve().parents[4]
# The slo role's defaults, over the service contract's metric names and job (the demo's).
DEMO = role_default("slo", "slo_definitions")


def group(name):
    return {g["name"]: g for g in slo_rules.rule_groups(DEMO)}["slo_" + name]["rules"]


def test_every_slo_gets_a_group_with_a_page_and_a_ticket_alert():
    groups = slo_rules.rule_groups(DEMO)
    assert [g["name"] for g in groups] == ["slo_availability", "slo_request_latency", "slo_fast_endpoint_latency",
                                          "slo_workflow_success", "slo_throughput"]
    for g in groups:
        alerts = [r for r in g["rules"] if "alert" in r]
        assert [(a["alert"], a["labels"]["severity"], a["labels"]["priority"]) for a in alerts] == [
            ("SLOBurnRatePage", "page", "P1"), ("SLOBurnRateTicket", "ticket", "P3")]


def test_availability_rules_at_30_days():
    rules = group("availability")
    records = {r["record"]: r["expr"] for r in rules if "record" in r and r["record"].startswith("slo:sli_error")}
    assert sorted(records) == sorted("slo:sli_error:ratio_rate" + w for w in ("5m", "1h", "30m", "6h", "3d", "30d"))
    assert records["slo:sli_error:ratio_rate5m"] == (
        '((sum(rate(demo_http_requests_total{job="demo",code=~"5.."}[5m])) or vector(0)) / '
        'sum(rate(demo_http_requests_total{job="demo"}[5m])))')
    page, ticket = [r["expr"] for r in rules if "alert" in r]
    assert page == (
        '(slo:sli_error:ratio_rate1h{slo="availability"} > 0.0144 and '
        'slo:sli_error:ratio_rate5m{slo="availability"} > 0.0144) or '
        '(slo:sli_error:ratio_rate6h{slo="availability"} > 0.006 and '
        'slo:sli_error:ratio_rate30m{slo="availability"} > 0.006)')
    assert ticket == (
        '(slo:sli_error:ratio_rate3d{slo="availability"} > 0.001 and '
        'slo:sli_error:ratio_rate6h{slo="availability"} > 0.001)')
    remaining = [r["expr"] for r in rules if r.get("record") == "slo:error_budget_remaining:ratio"]
    assert remaining == ['1 - slo:sli_error:ratio_rate30d{slo="availability"} / 0.001']


def test_latency_sli_counts_requests_slower_than_the_bucket_bound():
    records = {r["record"]: r["expr"] for r in group("request_latency") if "record" in r}
    assert records["slo:sli_error:ratio_rate1h"] == (
        '(1 - sum(rate(demo_http_request_duration_seconds_bucket{job="demo",le="0.2"}[1h])) / '
        'sum(rate(demo_http_request_duration_seconds_count{job="demo"}[1h])))')
    page = [r["expr"] for r in group("request_latency") if r.get("alert") == "SLOBurnRatePage"][0]
    # 7 d window: 2 % in 1 h is 3.36x of a 5 % budget.
    assert "slo:sli_error:ratio_rate1h{slo=\"request_latency\"} > 0.168 and" in page


def test_throughput_is_the_share_of_slices_under_the_floor():
    records = {r["record"]: r["expr"] for r in group("throughput") if "record" in r}
    assert records["slo:sli_error:ratio_rate1h"] == (
        '(1 - avg_over_time((sum(rate(demo_http_requests_total{job="demo"}[1m])) >= bool 20)[1h:1m]))')


def test_a_bad_definition_is_refused_with_its_message():
    with pytest.raises(ValueError, match=r"^slo_definitions\[0\] \(availability\)\.objective must be a percentage "
                                         r"above 0 and below 100, got 100$"):
        slo_rules.rule_groups([dict(DEMO[0], objective=100)])
