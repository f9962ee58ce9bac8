# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SLO report from fake Prometheus answers: figures, status, no data, formats, charts."""

from __future__ import annotations

import json

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo_charts, slo_report

SLOS = [
    {"name": "availability", "objective": 99.9, "window": "30d",
     "sli": {"type": "ratio", "bad": 'x_total{code="500"}', "total": "x_total"}},
    {"name": "quiet", "objective": 99, "window": "7d",
     "sli": {"type": "ratio", "bad": 'q_total{code="500"}', "total": "q_total"}},
]
AT = 1796000000


def fake(errors):
    """query/query_range doubles: the x_total SLO errs at ``errors`` in every window, q_total has no data."""
    def query(expr, at):
        assert at == AT
        return errors if "x_total" in expr else None

    def query_range(expr, start, end, step):
        if "q_total" in expr:
            return []
        times = [start + i * step for i in range(int((end - start) // step) + 1)]
        if expr.startswith("1 - "):  # the SLI over the window
            return [[t, 1 - errors] for t in times]
        if expr.startswith("((sum(rate(x_total{"):  # the error ratio of each step
            return [[t, errors] for t in times]
        return [[t, 10.0] for t in times]  # events per second
    return query, query_range


def test_figures_and_status():
    report = slo_report.build(SLOS, *fake(0.0005), AT)
    availability, quiet = report["slos"]
    assert (availability["sli"], availability["remaining"], availability["status"]) == (0.9995, 0.5, "ok")
    assert availability["burn_rates"] == {"1h": 0.5, "5m": 0.5, "6h": 0.5, "30m": 0.5, "3d": 0.5}
    assert availability["series"]["budget_remaining"][0][1] == pytest.approx(0.5)
    assert (quiet["sli"], quiet["remaining"], quiet["status"]) == (None, None, "no data")


def test_a_slow_burn_is_ok_and_an_overspent_budget_exhausted_and_paging():
    slow = slo_report.build(SLOS[:1], *fake(0.0008), AT)["slos"][0]
    assert slow["status"] == "ok" and slow["alerts_firing"] == []
    exhausted = slo_report.build(SLOS[:1], *fake(0.02), AT)["slos"][0]
    assert exhausted["status"] == "exhausted" and exhausted["remaining"] == -19.0
    assert exhausted["alerts_firing"][0] == "page (1h/5m over 14.4x)"


def test_formats_say_no_data_never_100_percent():
    report = slo_report.build(SLOS, *fake(0.0005), AT)
    markdown = slo_report.to_markdown(report)
    assert "| availability | 99.9% | 30d | 99.95% | 50% | 1h 0.5x, 5m 0.5x, 6h 0.5x, 30m 0.5x, 3d 0.5x | ok |" \
        in markdown
    assert "| quiet | 99% | 7d | n/a | n/a | 1h n/a, 5m n/a, 6h n/a, 30m n/a, 3d n/a | no data |" in markdown
    assert json.loads(slo_report.to_json(report))["slos"][1]["sli"] is None
    page = slo_report.to_html(report, {"availability-sli": "data:image/png;base64,AAAA"})
    assert '<img class="chart" id="availability-sli"' in page and '<td class="no-data">no data</td>' in page


def test_charts_are_pngs_for_every_slo_with_data_or_not():
    report = slo_report.build(SLOS, *fake(0.0005), AT)
    charts = slo_charts.charts(report)
    assert sorted(charts) == ["availability-budget", "availability-sli", "quiet-budget", "quiet-sli"]
    assert all(uri.startswith("data:image/png;base64,iVBORw0KGgo") for uri in charts.values())


def test_incidents_are_runs_burning_faster_than_the_budget():
    # 4 steps of 60 s, 10 events/s each (2400 events); budget 0.001 -> 2.4 bad events.
    errors = [[0, 0.0], [60, 0.002], [120, 0.0015], [180, 0.0]]
    events = {0: 10.0, 60: 10.0, 120: 10.0, 180: 10.0}
    found = slo_report.incidents(errors, events, 60, 240, 0.001)
    assert len(found) == 1 and (found[0]["start"], found[0]["end"]) == (60, 120)
    # (0.002 * 600 + 0.0015 * 600) bad of 2.4 allowed = 2.1 / 2.4 = 0.875 of the budget
    assert found[0]["spent"] == pytest.approx(0.875) and found[0]["postmortem"] is True
    small = slo_report.incidents([[0, 0.0011], [60, 0.0]], {0: 1.0, 60: 1000.0}, 60, 120, 0.001)
    assert small[0]["postmortem"] is False


def test_timeslices_weigh_every_step_the_same():
    found = slo_report.incidents([[0, 1.0], [60, 0.0]], None, 60, 3600, 0.01)
    assert found[0]["spent"] == pytest.approx(1.0 * (60 / 3600) / 0.01)


def test_a_steady_burn_over_the_window_is_one_incident_flagged_in_the_report():
    report = slo_report.build(SLOS[:1], *fake(0.02), AT)
    section = report["slos"][0]
    assert len(section["incidents"]) == 1 and section["postmortem"] == section["incidents"]
    assert "## Incidents for a postmortem (more than 20 % of a budget)" in slo_report.to_markdown(report)
