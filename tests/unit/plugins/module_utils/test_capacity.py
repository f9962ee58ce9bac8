# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Capacity planning: the fitted trend, projections, host counts and triggers."""

from __future__ import annotations

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import capacity, capacity_report, slo_charts

DAY = 86400
# 10 requests/s growing by 1 per day, over 8 days.
GROWING = [[i * DAY, 10 + i] for i in range(8)]
TRIGGERS = {"cpu_utilisation": 0.7, "p95_seconds": 0.2}


def test_a_straight_line_is_fitted_exactly():
    trend = capacity.fit_trend(GROWING + [[9 * DAY, None]])
    assert (trend["slope_per_day"], trend["intercept"], trend["points"], trend["span_days"]) == (1.0, 17.0, 8, 7.0)


def test_projections_months_ahead():
    trend = capacity.fit_trend(GROWING)
    # 30.4375 days a month: 6 months = 182.625 days.
    assert capacity.project(trend, 6) == 17 + 182.625
    assert capacity.project(trend, 24) == 17 + 730.5


def test_a_falling_trend_never_projects_below_zero():
    assert capacity.project(capacity.fit_trend([[0, 10], [DAY, 5]]), 12) == 0.0


def test_too_few_points_is_no_trend():
    assert capacity.fit_trend([[0, 1]]) is None
    assert capacity.fit_trend([[0, 1], [0, 2]]) is None


def test_hosts_needed():
    # 100 req/s at 0.01 CPU-s each = 1 core; hosts of 1 core at 50 %: 2.
    assert capacity.hosts_needed(100, 0.01, 1, 0.5) == 2
    assert capacity.hosts_needed(0, 0.01, 1, 0.5) == 1
    with pytest.raises(ValueError, match=r"^target_utilisation must be above 0 and at most 1, got 1.5$"):
        capacity.hosts_needed(1, 1, 1, 1.5)
    with pytest.raises(ValueError, match=r"^host_cpus must be above 0, got 0$"):
        capacity.hosts_needed(1, 1, 0, 0.5)


def test_plan_fires_the_triggers():
    result = capacity.plan(GROWING, {"rps": 17, "cpu": 2.55, "p95": 0.25}, host_cpus=1, target_utilisation=0.6, hosts=3,
                           triggers=TRIGGERS)
    assert result["cpu_per_request"] == pytest.approx(0.15)
    assert [p["hosts"] for p in result["projections"]] == [50, 96, 187]  # 199.625, 382.25, 747.5 req/s x 0.15 / 0.6
    assert result["triggers"][0] == "CPU utilisation 85.0% above 70.0%: scale out"
    assert result["triggers"][1] == "p95 0.25s above 0.2s: scale out or find the slow path"
    assert result["triggers"][2] == "in 6 months the trend needs 50 hosts, the fleet has 3"


def test_plan_without_traffic_has_no_projection():
    result = capacity.plan([], {"rps": 0, "cpu": 0.0, "p95": None}, host_cpus=1, target_utilisation=0.6, hosts=3,
                           triggers=TRIGGERS)
    assert result["trend"] is None and [p["hosts"] for p in result["projections"]] == [None] * 3
    assert result["triggers"] == []


def fake_prometheus():
    def vector(query):
        if query.startswith("histogram_quantile(0.95, sum by (le) "):
            return [({}, 0.05)]
        if "by (le, host)" in query:
            return [({"host": "app1"}, 0.04), ({"host": "app2"}, 0.06)]
        value = {"cpu": 0.1, "memory": 2 ** 25, "rps": 5.0, "p95": 0.05}
        field = ("cpu" if "process_cpu" in query else "memory" if "resident" in query
                 else "p95" if "histogram_quantile" in query else "rps")
        return [({"host": h, "slot": "blue"}, value[field]) for h in ("app1", "app2")]

    def query_range(query, start, end, step):
        return [[start + i * step, 10.0 + i * step / DAY] for i in range(int((end - start) // step) + 1)]
    return vector, query_range


OPTIONS = {"selector": '{job="demo"}', "requests_metric": "demo_http_requests_total",
           "latency_histogram": "demo_http_request_duration_seconds", "trend_days": 7, "host_cpus": 1,
           "target_utilisation": 0.6, "triggers": TRIGGERS}


def test_capacity_report_per_host_and_instance_with_projections_and_charts():
    report = capacity_report.build(*fake_prometheus(), 1796000000, OPTIONS)
    assert [(h["host"], h["cpu"], h["rps"], h["p95"]) for h in report["hosts"]] == [
        ("app1", 0.1, 5.0, 0.04), ("app2", 0.1, 5.0, 0.06)]
    assert report["now"] == {"rps": 10.0, "cpu": 0.2, "p95": 0.05}
    assert report["trend"]["slope_per_day"] == pytest.approx(1.0)
    assert [p["months"] for p in report["projections"]] == [6, 12, 24]
    markdown = capacity_report.to_markdown(report)
    assert "| app1 | 0.1 | 10.0% | 32 | 5 | 0.04 |" in markdown
    charts = slo_charts.capacity_charts(report)
    assert sorted(charts) == ["capacity-hosts", "capacity-trend"]
    page = capacity_report.to_html(report, charts)
    assert page.count('<img class="chart"') == 2
