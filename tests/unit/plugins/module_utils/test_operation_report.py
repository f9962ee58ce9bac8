"""The closing reports of a restore run and of a DR drill."""

import re

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter.operation_report import (
    operation_report_lines,
    operation_report_markdown,
)
from ansible_collections.fleetops.lifecycle.plugins.filter.operation_report import (
    restore_report as restore_report_filter,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.drill_report import drill_report
from ansible_collections.fleetops.lifecycle.plugins.module_utils.operation_report import (
    human_summary,
    render_markdown,
    restore_report,
)

RUN = dict(run_id="restore-20261206T090000Z", what="state", archive="latest", operator="alice", change_id="")
T0 = 1796547600.0  # 2026-12-06T09:00:00Z


def restored(host, start, seconds, **extra):
    result = dict(outcome="restored", started=start, finished=start + seconds,
                  archive="/var/backups/fleetops/demo/demo-%s-x.tar.zst" % host, release="1.0.0",
                  taken="2026-12-06T08:00:00Z", targets=["/var/lib/demo"],
                  safety_backup="/var/backups/fleetops/demo/pre-restore-%s.tar.zst" % host)
    result.update(extra)
    return result


def test_every_host_restored_is_a_restored_run_with_its_duration():
    report = restore_report(RUN, {"app1": restored("app1", T0, 12.25), "app2": restored("app2", T0 + 13, 10)})
    assert report["kind"] == "restore" and report["outcome"] == "restored" and report["outcomes"] == ["restored"]
    assert report["failure"] is None and report["duration"] == 23.0
    assert report["started"] == "2026-12-06T09:00:00Z" and report["finished"] == "2026-12-06T09:00:23Z"
    app1 = report["hosts"]["app1"]
    assert app1["duration"] == 12.2 and app1["targets"] == ["/var/lib/demo"] and app1["release"] == "1.0.0"
    assert human_summary(report, ["/r/x.json", "/r/x.md"]) == [
        "restore of state: restored after 23 s (run restore-20261206T090000Z)",
        "  app1: restored /var/lib/demo from /var/backups/fleetops/demo/demo-app1-x.tar.zst (release 1.0.0, taken "
        "2026-12-06T08:00:00Z) in 12.2 s; state before: /var/backups/fleetops/demo/pre-restore-app1.tar.zst",
        "  app2: restored /var/lib/demo from /var/backups/fleetops/demo/demo-app2-x.tar.zst (release 1.0.0, taken "
        "2026-12-06T08:00:00Z) in 10 s; state before: /var/backups/fleetops/demo/pre-restore-app2.tar.zst",
        "  reports: /r/x.json, /r/x.md",
    ]


def test_a_failed_host_fails_the_run_names_its_error_and_the_hosts_not_reached():
    failed = dict(outcome="failed", started=T0, finished=T0 + 2, error="Verify the archive: sha256\nmismatch")
    report = restore_report(RUN, {"app1": failed, "app2": None})
    assert report["outcome"] == "failed" and report["outcomes"] == ["failed", "not_run"]
    assert report["failure"] == "app1: Verify the archive: sha256 mismatch"
    assert report["hosts"]["app2"] == {"outcome": "not_run"}
    lines = human_summary(report)
    assert lines[1:] == [
        "  app1: failed state from ? (release ?, taken ?) in 2 s; state before: no safety backup",
        "    error: Verify the archive: sha256 mismatch",
        "  app2: not reached",
        "  why: app1: Verify the archive: sha256 mismatch",
        "  reports: none written (no report directory set)",
    ]
    page = render_markdown(report, "restore")
    assert page.startswith("# Restore of state: failed\n")
    assert "| app2 | not_run | - | - | - | - | - | - |" in page
    assert "## Errors\n\n- app1: Verify the archive: sha256 mismatch\n" in page


@pytest.mark.parametrize("results, message", [
    ({}, "host_results must name at least one host, got {}"),
    ({"app1": {"outcome": "done"}}, "host_results.app1.outcome: expected restored or failed, got 'done'"),
    ({"app1": dict(restored("app1", T0, 1), started="soon")},
     "host_results.app1.started: expected epoch seconds, got 'soon'"),
])
def test_bad_restore_results_are_refused_by_name(results, message):
    with pytest.raises(ValueError, match="^%s$" % re.escape(message)):
        restore_report(RUN, results)


def drill(healthy=True):
    return drill_report(dict(
        source="app1", target="spare1", scenario="host_loss", started=T0, rto_target=600, rpo_target=86400,
        backup=dict(name="demo-app1-x.tar.zst", path="/var/backups/fleetops/demo/demo-app1-x.tar.zst",
                    release="1.0.0", created="2026-12-06T08:00:00Z", created_epoch=T0 - 3600),
        marks=[dict(phase="fetch", at=T0 + 2), dict(phase="install", at=T0 + 10), dict(phase="restore", at=T0 + 12),
               dict(phase="start", at=T0 + 13), dict(phase="healthy", at=T0 + 15.5)],
        healthy=healthy, state=dict(ok=True, checked=3, problems=[], error="" if healthy else "Wait: timed out")))


def test_a_drill_summary_gives_rto_rpo_what_was_restored_and_the_reports():
    assert human_summary(drill(), ["/d/a.json", "/d/a.xml", "/d/a.md"], kind="drill") == [
        "drill host_loss app1 -> spare1: passed, RTO 15.5 s (target 600 s), RPO 3600 s (target 86400 s)",
        "  restored both of release 1.0.0 from demo-app1-x.tar.zst (made 2026-12-06T08:00:00Z)",
        "  phases: fetch=2 s install=8 s restore=2 s start=1 s healthy=2.5 s",
        "  reports: /d/a.json, /d/a.xml, /d/a.md",
    ]
    page = render_markdown(drill(), "drill")
    assert page.startswith("# DR drill host_loss: passed\n")
    assert ("| app1 | spare1 | both | 1.0.0 | demo-app1-x.tar.zst | 2026-12-06T09:00:00Z | 15.5 s (target 600 s) "
            "| 3600 s (target 86400 s) |") in page
    assert "- ok rto: RTO 15.5 s, target 600 s" in page and "| healthy | 2.5 |" in page


def test_a_failed_drill_says_which_checks_failed_and_the_error():
    lines = human_summary(drill(healthy=False), [], kind="drill")
    assert lines[0].startswith("drill host_loss app1 -> spare1: FAILED healthy, RTO 15.5 s")
    assert "  service not healthy on spare1" in lines and "  error: Wait: timed out" in lines
    assert "**Error:** Wait: timed out" in render_markdown(drill(healthy=False), "drill")


def test_the_filters_name_themselves_and_the_bad_value():
    with pytest.raises(AnsibleFilterError, match=r"^operation_report_markdown: kind: expected one of restore, drill, "
                                                 r"got 'backup'$"):
        operation_report_markdown({}, "backup")
    with pytest.raises(AnsibleFilterError,
                       match=r"^operation_report_lines: report: expected a drill report, got None$"):
        operation_report_lines(None, [], "drill")
    with pytest.raises(AnsibleFilterError, match=r"^restore_report: host_results must name at least one host"):
        restore_report_filter({}, RUN)
    assert restore_report_filter({"app1": restored("app1", T0, 1)}, RUN)["outcome"] == "restored"
