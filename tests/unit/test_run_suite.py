# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""tests/run_suite.py: a step's exit status, and the CPU time of its whole process tree."""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

RUN_SUITE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "run_suite.py")


@pytest.fixture()
def run_suite(tmp_path, monkeypatch):
    spec = importlib.util.spec_from_file_location("run_suite", RUN_SUITE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(module, "LOG_DIR", tmp_path)
    monkeypatch.setattr(module, "REPO", tmp_path)
    return module


def test_a_step_counts_the_cpu_of_a_grandchild_and_keeps_its_exit_status(run_suite, tmp_path):
    # The CPU is spent two processes down, as ansible-playbook's workers are under pytest.
    burner = tmp_path / "burn.py"
    burner.write_text("import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end:\n    pass\n")
    step = run_suite.Step("burn", ["bash", "-c", '"$0" "$1"; exit 3', sys.executable, str(burner)])
    assert step.run() == 3
    assert step.rc == 3
    assert step.cpu_seconds >= 0.3
    assert step.seconds >= 0.3


def test_a_step_that_passes_reports_zero(run_suite):
    step = run_suite.Step("true", ["true"])
    assert step.run() == 0
    assert 0 <= step.cpu_seconds < 1


def test_the_machine_busy_time_grows_while_a_core_works(run_suite):
    before = run_suite.machine_busy_seconds()
    end = os.times().elapsed + 0.3
    while os.times().elapsed < end:
        pass
    after = run_suite.machine_busy_seconds()
    assert before is not None and after - before >= 0.2


def test_playbook_costs_sum_each_playbook_and_its_check_runs_apart(run_suite, tmp_path, capsys):
    runs = tmp_path / "runs-lab.jsonl"
    runs.write_text("\n".join([
        '{"playbook": "deploy.yml", "check": false, "wall": 60.0, "cpu": 30.5, "test": "t1"}',
        '{"playbook": "deploy.yml", "check": false, "wall": 40.0, "cpu": 19.5, "test": "t2"}',
        '{"playbook": "deploy.yml", "check": true, "wall": 10.0, "cpu": 8.0, "test": "t2"}',
        '{"playbook": "health_check.yml", "check": false, "wall": 7.0, "cpu": 6.0, "test": "t3"}',
        '{"traffic": "http://10.90.1.10/", "requests": 4506, "wall": 60.1, "test": "t1"}',
    ]) + "\n")
    step = run_suite.Step("integration-lab", ["true"])
    step.runs = runs
    costs = run_suite.playbook_costs([step, run_suite.Step("lint", ["true"])])
    assert costs == {"deploy.yml": [2, 100.0, 50.0], "deploy.yml --check": [1, 10.0, 8.0],
                     "health_check.yml": [1, 7.0, 6.0]}
    run_suite.print_playbook_costs(costs)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("[suite] playbook runs of the integration tests: 4, 117 s, 64 controller CPU s")
    assert lines[1].split()[:2] == ["deploy.yml", "2"] and lines[1].endswith("25.0 CPU s a run")
    assert lines[-1].split()[0] == "health_check.yml"


def test_traffic_totals_count_the_clients_and_their_requests_of_every_group(run_suite, tmp_path):
    steps = []
    for lab, lines in [("a", ['{"traffic": "http://10.90.1.10/", "requests": 4506, "wall": 60.0, "test": "t1"}',
                              '{"playbook": "deploy.yml", "check": false, "wall": 60.0, "cpu": 30.5, "test": "t1"}']),
                       ("b", ['{"traffic": "http://10.90.2.10/", "requests": 1200, "wall": 20.5, "test": "t2"}',
                              '{"traffic": "http://10.90.2.10:8080/", "requests": 0, "wall": 1.0, "test": "t3"}'])]:
        runs = tmp_path / ("runs-%s.jsonl" % lab)
        runs.write_text("\n".join(lines) + "\n")
        step = run_suite.Step("integration-%s" % lab, ["true"])
        step.runs = runs
        steps.append(step)
    steps.append(run_suite.Step("lint", ["true"]))  # no run log
    assert run_suite.traffic_totals(steps) == (3, 5706, 81.5)


def test_python_speed_counts_rounds_per_cpu_second_and_a_slower_machine_gets_fewer(run_suite, monkeypatch):
    fast = run_suite.python_speed(0.05, tries=2)
    assert fast > 1000
    # A machine half as fast: each round takes twice the CPU.
    real_dumps = run_suite.json.dumps

    def slow_dumps(*args, **kwargs):
        end = run_suite.time.process_time() + 1.0 / fast
        while run_suite.time.process_time() < end:
            pass
        return real_dumps(*args, **kwargs)

    monkeypatch.setattr(run_suite.json, "dumps", slow_dumps)
    assert run_suite.python_speed(0.05, tries=2) < fast * 0.7
