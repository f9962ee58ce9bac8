"""Run report filters: thin wrappers whose bad input is an AnsibleFilterError naming the filter."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter.run_report import (
    FilterModule,
    run_closed_by_host,
    run_report,
    run_unfinished_verdict,
)


def test_every_run_report_filter_is_exported():
    assert sorted(FilterModule().filters()) == ["run_closed_by_host", "run_report", "run_report_lines",
                                                "run_report_markdown", "run_unfinished_verdict"]


def test_unfinished_verdict_takes_the_lock_text_and_a_time_as_text():
    lock = '{"holder": "bob run r7", "started": 100, "ttl": 60}'
    assert run_unfinished_verdict(lock, "r7", "120.5")["outcome"] == "in_progress"
    verdict = run_unfinished_verdict(None, "r7", 120)
    assert verdict["outcome"] == "interrupted" and verdict["why"].startswith("run r7 recorded no outcome")


def test_unfinished_verdict_names_itself_and_the_bad_value():
    with pytest.raises(AnsibleFilterError,
                       match="^run_unfinished_verdict: could not convert string to float: 'later'$"):
        run_unfinished_verdict(None, "r7", "later")
    with pytest.raises(AnsibleFilterError, match="^run_unfinished_verdict: run_id must be a run's id, got ''$"):
        run_unfinished_verdict(None, "", 1)


def test_run_report_passes_host_errors_and_interrupted_on():
    runs = {"app1": {"run_id": "r7", "release": "2.0.0", "outcome": "in_progress", "events": ["started"]}}
    report = run_report(runs, {"run_id": "r7", "release": "2.0.0"}, "gone", True, interrupted=True,
                        host_errors={"app1": "lost"})
    assert report["outcome"] == "interrupted" and report["hosts"]["app1"]["error"] == "lost"
    with pytest.raises(AnsibleFilterError, match="^run_report: host_errors must map a host to its error"):
        run_report(runs, {"run_id": "r7"}, None, True, host_errors="app1")


def test_closed_run_by_host_gives_each_host_its_summary_of_the_run_or_nothing():
    summary = {"run_id": "r7", "outcome": "interrupted", "events": ["started", "interrupted"]}
    closings = {
        "app1": [{"run_id": "r6", "run": {"run_id": "r6"}}, {"run_id": "r7", "run": summary}],
        "app2": [{"run_id": "r6", "run": {"run_id": "r6"}}],  # closed another run only
        "app3": [],  # closed nothing
        "app4": None,  # the task did not run there
    }
    assert run_closed_by_host(closings, "r7") == {"app1": summary, "app2": {}, "app3": {}, "app4": {}}


@pytest.mark.parametrize("closings, run_id, message", [
    ("app1", "r7", "closings must map each host to the runs closed there, got 'app1'"),
    ({"app1": "r7"}, "r7", "closings['app1'] must be the list of runs closed there, got 'r7'"),
    ({"app1": []}, "", "run_id must be a run's id, got ''"),
])
def test_closed_run_by_host_names_the_bad_input(closings, run_id, message):
    with pytest.raises(AnsibleFilterError) as info:
        run_closed_by_host(closings, run_id)
    assert str(info.value) == "run_closed_by_host: " + message
