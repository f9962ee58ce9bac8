"""The report of a deploy run, for each outcome."""

import re

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils.run_report import (
    build_report,
    condition_values,
    human_summary,
    render_markdown,
    unfinished_verdict,
)

RUN = dict(run_id="r1", release="3.0.0", operator="alice", change_id="CHG-1")

ERROR_FAIL = dict(name="error_ratio", type="error_ratio", verdict="fail", threshold=0.01, comparison=">",
                  stage_ratio=0.0511, bad=41, total=802, reason="error_ratio 5.11 % > 1 %")
HEALTH_PASS = dict(name="health", type="health", verdict="pass", threshold=0, comparison=">",
                   samples=[[1.0, 0, 3], [2.0, 0, 3]])


def host_run(outcome, events, gates=(), message=None):
    return dict(run_id="r1", release="3.0.0", started="2026-12-06T05:00:00.000Z",
                finished=None if outcome == "in_progress" else "2026-12-06T05:00:42.500Z",
                outcome=outcome, events=events, gates=list(gates), message=message)


def gate(stage, verdict, conditions):
    return dict(ts="2026-12-06T05:00:20.000Z", slot="green", stage=stage,
                gate=dict(verdict=verdict, action="proceed" if verdict == "pass" else "rollback",
                          summary="%s: ..." % verdict.upper(), conditions=conditions))


def test_rolled_back_run_lists_every_host_and_the_failed_condition_with_its_values():
    failed_gate = gate(10, "fail", [ERROR_FAIL, HEALTH_PASS])
    runs = {name: host_run("rolled_back", ["started", "gate", "rolled_back"], [failed_gate], "gate failed at 10%")
            for name in ("app1", "app2", "app3")}
    report = build_report(RUN, runs, failure="gate failed at 10% of traffic on 3.0.0")
    assert report["outcome"] == "rolled_back" and report["outcomes"] == ["rolled_back"]
    assert sorted(report["hosts"]) == ["app1", "app2", "app3"]
    assert report["duration"] == 42.5 and report["started"] == "2026-12-06T05:00:00Z"
    assert report["failure"] == "gate failed at 10% of traffic on 3.0.0"
    stage = report["stages"][0]
    assert stage["stage"] == 10 and stage["verdict"] == "fail"
    assert stage["failed_conditions"] == [dict(name="error_ratio", type="error_ratio", verdict="fail",
                                               threshold=0.01, comparison=">", stage_ratio=0.0511, bad=41,
                                               total=802, reason="error_ratio 5.11 % > 1 %")]
    assert stage["conditions"][0] == "error_ratio fail: 5.11 % (41 of 802 requests), bad when > 1 %"
    assert stage["conditions"][1] == "health pass: 0 failing probe(s) at most in 2 sample(s), bad when > 0"


def test_promoted_run_needs_every_host_promoted():
    gates = [gate(s, "pass", [dict(ERROR_FAIL, verdict="pass", stage_ratio=0.0, bad=0, total=300)])
             for s in (10, 50, 100)]
    runs = {name: host_run("promoted", ["started", "gate", "gate", "gate", "promoted"], gates)
            for name in ("app1", "app2")}
    report = build_report(RUN, runs)
    assert report["outcome"] == "promoted" and report["failure"] is None
    assert [s["stage"] for s in report["stages"]] == [10, 50, 100]
    assert all(s["failed_conditions"] == [] for s in report["stages"])


def test_a_host_left_without_an_outcome_fails_the_run_and_an_unread_host_is_unknown():
    runs = {"app1": host_run("rolled_back", ["started", "rolled_back"]),
            "app2": host_run("in_progress", ["started"]), "app3": None}
    report = build_report(RUN, runs, failure="haproxy unreachable")
    assert report["outcome"] == "failed"
    assert report["outcomes"] == ["failed", "rolled_back", "unknown"]
    assert report["hosts"]["app2"]["outcome"] == "failed" and report["hosts"]["app3"] == {"outcome": "unknown"}


def test_a_running_run_is_in_progress_until_it_ends():
    report = build_report(RUN, {"app1": host_run("in_progress", ["started"])}, ended=False)
    assert report["outcome"] == "in_progress" and report["duration"] is None


@pytest.mark.parametrize("bad", [{}, None, ["app1"]])
def test_no_hosts_is_refused_by_name(bad):
    with pytest.raises(ValueError, match="host_runs must name at least one host"):
        build_report(RUN, bad)


def test_markdown_has_hosts_stages_and_why():
    runs = {"app1": host_run("rolled_back", ["started", "gate", "rolled_back"], [gate(10, "fail", [ERROR_FAIL])])}
    page = render_markdown(build_report(RUN, runs, failure="gate failed"))
    assert page.startswith("# Deploy 3.0.0: rolled_back\n")
    assert "| app1 | rolled_back | started, gate, rolled_back |" in page
    assert "### 10%: FAIL" in page and "- error_ratio fail: 5.11 % (41 of 802 requests), bad when > 1 %" in page
    assert "**Why:** gate failed" in page


def test_human_summary_names_the_reports():
    runs = {"app1": host_run("rolled_back", ["started", "gate", "rolled_back"], [gate(10, "fail", [ERROR_FAIL])]),
            "app2": host_run("rolled_back", ["started", "gate", "rolled_back"])}
    lines = human_summary(build_report(RUN, runs, failure="gate failed"), ["/r/r1.json", "/r/r1.md"])
    assert lines == [
        "deploy 3.0.0: rolled_back after 42.5 s (run r1)",
        "  10%: FAIL  error_ratio fail: 5.11 % (41 of 802 requests), bad when > 1 %",
        "  hosts: rolled_back app1, app2",
        "  why: gate failed",
        "  reports: /r/r1.json, /r/r1.md",
    ]
    assert human_summary(build_report(RUN, runs), [])[-1] == "  reports: none written (no report directory set)"


def test_latency_and_availability_lines_carry_their_values():
    latency = dict(name="p95", type="latency", verdict="fail", threshold=0.25, comparison=">", percentile=0.95,
                   stage_quantile=0.31, stage_ratio=0.2, bad=20, total=100)
    availability = dict(name="availability", type="availability", verdict="pass", threshold=0.995,
                        comparison="<", stage_availability=1.0, up=30, probes=30)
    assert condition_values(latency) == "p95 fail: p95 0.31 s, 20 % slower (20 of 100), bad when > 0.25 s"
    assert condition_values(availability) == "availability pass: 100 % (30 of 30 probes up), bad when < 99.5 %"


def test_a_rollback_run_has_the_rollback_outcome_and_its_title():
    runs = {name: host_run("rollback", ["rollback"]) for name in ("app1", "app2")}
    report = build_report(dict(RUN, release="1.0.0"), runs)
    assert report["outcome"] == "rollback" and report["stages"] == []
    lines = human_summary(report, ["/r/r1.json"], title="rollback")
    assert lines[0] == "rollback 1.0.0: rollback after 42.5 s (run r1)"
    assert render_markdown(report, title="Rollback").startswith("# Rollback 1.0.0: rollback\n")


def test_a_release_that_could_not_start_is_a_failed_run_with_each_host_s_error():
    message = "3.0.1 did not start in the blue slot on app1, app2; no traffic was moved"
    runs = {name: host_run("failed", ["started", "failed"], message=message) for name in ("app1", "app2")}
    errors = {"app1": "demo@blue exited with status 3\n(the release refuses to start)", "app2": ""}
    report = build_report(RUN, runs, failure=message, host_errors=errors)
    assert report["outcome"] == "failed" and report["outcomes"] == ["failed"]
    assert report["hosts"]["app1"]["error"] == errors["app1"] and "error" not in report["hosts"]["app2"]
    assert report["stages"] == [] and report["duration"] == 42.5
    page = render_markdown(report)
    assert page.startswith("# Deploy 3.0.0: failed\n")
    assert "| app1 | failed | started, failed |" in page
    assert "## Errors\n\n- app1: demo@blue exited with status 3 (the release refuses to start)\n" in page
    assert human_summary(report, ["/r/r1.json"]) == [
        "deploy 3.0.0: failed after 42.5 s (run r1)",
        "  hosts: failed app1, app2",
        "  why: " + message,
        "  app1: demo@blue exited with status 3 (the release refuses to start)",
        "  reports: /r/r1.json",
    ]


def test_host_errors_must_be_a_mapping():
    with pytest.raises(ValueError, match=r"host_errors must map a host to its error, got \['app1'\]"):
        build_report(RUN, {"app1": host_run("failed", ["started", "failed"])}, host_errors=["app1"])


def test_a_run_closed_as_interrupted_by_the_next_run_is_interrupted():
    message = "run r1 started 2026-12-06T05:00:00.000Z and recorded no outcome; closed by run r2"
    runs = {name: host_run("interrupted", ["started", "gate", "interrupted"], [gate(10, "pass", [HEALTH_PASS])],
                           message=message) for name in ("app1", "app2")}
    report = build_report(RUN, runs)
    assert report["outcome"] == "interrupted" and report["failure"] == message
    assert [s["stage"] for s in report["stages"]] == [10]
    assert human_summary(report)[-2] == "  why: " + message


def test_the_report_command_counts_a_run_without_an_outcome_as_interrupted():
    runs = {"app1": host_run("in_progress", ["started", "gate"]), "app2": host_run("in_progress", ["started"])}
    report = build_report(RUN, runs, failure="run r1 recorded no outcome", interrupted=True)
    assert report["outcome"] == "interrupted" and report["outcomes"] == ["interrupted"]
    assert report["finished"] is None and report["duration"] is None
    assert human_summary(report)[0] == "deploy 3.0.0: interrupted after unknown time (run r1)"


def test_the_closing_run_lists_the_interrupted_runs_it_closed():
    closed = [dict(run_id="r0", release="2.0.0", started="2026-12-06T04:00:00.000Z", report="/r/r0.json")]
    runs = {"app1": host_run("promoted", ["started", "promoted"])}
    report = build_report(dict(RUN, closed=closed), runs)
    assert report["closed"] == closed
    assert "  closed interrupted run r0 (2.0.0, started 2026-12-06T04:00:00.000Z): report /r/r0.json" in \
        human_summary(report)
    assert "| r0 | 2.0.0 | 2026-12-06T04:00:00.000Z | /r/r0.json |" in render_markdown(report)
    assert "closed" not in build_report(RUN, runs)


LOCK = '{"holder": "alice run r1", "started": 1000, "ttl": 600, "message": "deploy 3.0.0"}'


@pytest.mark.parametrize("lock_text, now, outcome, why", [
    (LOCK, 1500, "in_progress", "run r1 holds the deploy lock and is still running"),
    (LOCK, 1601, "interrupted", "run r1 recorded no outcome and its deploy lock outlived its TTL "
                                "(since 1970-01-01T00:16:40Z, ttl 600 s): its controller stopped before the end"),
    (None, 1500, "interrupted", "run r1 recorded no outcome and no deploy lock is held: its controller stopped "
                                "before the end"),
    (LOCK.replace("run r1", "run r12"), 1500, "interrupted",
     "run r1 recorded no outcome and the deploy lock is held by alice run r12: its controller stopped"),
    ("{", 1500, "interrupted", "run r1 recorded no outcome and the deploy lock cannot be read (it is not JSON)"),
])
def test_a_run_without_an_outcome_is_alive_only_while_its_lock_is(lock_text, now, outcome, why):
    verdict, reason = unfinished_verdict("r1", lock_text, now)
    assert verdict == outcome and reason.startswith(why), reason
    if outcome == "interrupted":
        assert reason.endswith("the next deploy or rollback closes it in the ledger")


@pytest.mark.parametrize("run_id, now, message", [
    ("", 1, "run_id must be a run's id, got ''"),
    (None, 1, "run_id must be a run's id, got None"),
    ("r1", "soon", "now must be epoch seconds, got 'soon'"),
])
def test_unfinished_verdict_refuses_bad_input_by_name(run_id, now, message):
    with pytest.raises(ValueError, match="^%s$" % re.escape(message)):
        unfinished_verdict(run_id, None, now)
