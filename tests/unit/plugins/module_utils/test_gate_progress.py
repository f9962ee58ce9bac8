# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gate's live output: one line per sample, from run_gate's on_sample hook."""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils import gate_plan, gate_run
from ansible_collections.fleetops.lifecycle.plugins.module_utils.gate_progress import sample_line
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.module_utils.gate_fakes import (
    FakeClock,
    FakePrometheus,
    Slot,
    advance_all,
)

GREEN = '{job="demo",slot="green"}'


def run_with_progress(slot):
    lines = []
    with FakePrometheus({GREEN: slot}).run() as url:
        plan = gate_plan.build_plan({"provider": "prometheus", "prometheus_url": url, "target": GREEN,
                                     "window": 60, "interval": 15})
        result = gate_run.run_gate(plan, gate_plan.make_providers(plan), clock=FakeClock(on_sleep=advance_all(slot)),
                                   on_sample=lambda progress: lines.append(sample_line(plan, progress)))
    return result, lines


def test_each_sample_prints_its_counts_the_stage_totals_and_the_running_verdict():
    result, lines = run_with_progress(Slot([(400, 1)] * 4))
    assert result["verdict"] == "pass" and len(lines) == result["samples"] == 4
    assert lines[0] == (
        "sample 1/4-40 at 15s: error_ratio 1 of 400 this sample, stage 0.25 % (1 of 400) [pass]; availability 2 of "
        "2 probes up [pass]; health 0 failing of 2 probes [pass]; running verdict PASS"
    )
    assert lines[-1] == (
        "sample 4/4-40 at 60s: error_ratio 1 of 400 this sample, stage 0.25 % (4 of 1600) [pass]; availability 2 of "
        "2 probes up [pass]; health 0 failing of 2 probes [pass]; running verdict PASS"
    )


def test_too_little_traffic_says_how_many_clean_requests_are_missing():
    result, lines = run_with_progress(Slot([(4, 0)] * 40))
    assert result["verdict"] == "inconclusive" and len(lines) == 40
    assert lines[0].startswith("sample 1/4-40 at 15s: error_ratio 0 of 4 this sample, stage 0 % (0 of 4), ")
    assert "more clean request(s) to pass [inconclusive]" in lines[0]
    assert lines[-1].endswith("running verdict INCONCLUSIVE")


def test_a_failing_stage_shows_the_breach_as_it_happens():
    result, lines = run_with_progress(Slot([(400, 40)] * 4))
    assert result["verdict"] == "fail"
    assert lines[-1].endswith("running verdict FAIL")
    assert "error_ratio 40 of 400 this sample" in lines[-1]
