"""readiness.yml on the lab: a missing drill and a stale backup fail by name; after a
backup, its verification, the timers and a DR drill onto a spare, the score is full.
Leaves spare1 down."""

import json

from conftest import APP_HOSTS, lab_host, run_playbook
from lab_helpers_audit import lab_command, spares_inventory

DRILL_RECORD = "/var/lib/fleetops/demo/drill.json"


def assess(tmp_path, name, **extravars):
    reports = tmp_path / name
    result = run_playbook("readiness.yml", dict(readiness_report_dir=str(reports), **extravars),
                          tmp_path=tmp_path / ("run-" + name))
    assert result.rc == 0, (result.failure_messages(), result.stdout[-3000:])
    # Only the reports on the controller are written; nothing on a host changes.
    assert all(task.endswith(("Create the report directory", "Write the JSON and Markdown reports"))
               for task in result.changed_tasks()), result.changed_tasks()
    [json_file] = reports.glob("readiness-*.json")
    [md_file] = reports.glob("readiness-*.md")
    report = json.loads(json_file.read_text())
    return report, md_file.read_text(), {item["id"]: item for item in report["items"]}


def ok(result):
    assert result.rc == 0, (result.failure_messages(), result.stdout[-3000:])


def test_missing_drill_and_stale_backup_then_full_score(converged, tmp_path):
    # No drill on record anywhere: the fleet has never been drilled.
    for host in APP_HOSTS:
        lab_host(host).run("rm -f %s" % DRILL_RECORD)
    ok(run_playbook("backup.yml", tmp_path=tmp_path / "backup"))

    # The newest backup is older than a 5 s limit by the time readiness reads it.
    report, page, items = assess(tmp_path, "before", readiness_backup_max_age=5)
    assert {"backup_fresh", "drill_recent"} <= set(report["failing"]), report["failing"]
    assert items["drill_recent"]["detail"] == "no passed DR drill recorded on any app host"
    assert items["backup_fresh"]["hosts"] == sorted(APP_HOSTS)
    assert "(max 5 s)" in items["backup_fresh"]["detail"]
    assert report["score"] < 100 and "## Failing" in page and "**FAIL**" in page

    ok(run_playbook("backup.yml", {"backup_action": "verify"}, tmp_path=tmp_path / "verify"))
    ok(run_playbook("backup.yml", {"backup_action": "schedule"}, tmp_path=tmp_path / "schedule"))
    lab_command("down", "--hosts", "spare1")
    lab_command("up", "--hosts", "spare1")
    try:
        ok(run_playbook("dr_drill.yml", {"drill_source": "app1", "drill_target": "spare1",
                                         "drill_report_dir": str(tmp_path / "drills")},
                        tmp_path=tmp_path / "drill", extra_inventory=spares_inventory()))
    finally:
        lab_command("down", "--hosts", "spare1")

    report, page, items = assess(tmp_path, "after")
    assert report["failing"] == [], {k: v["detail"] for k, v in items.items() if v["status"] == "fail"}
    assert report["score"] == 100.0 and report["passed"] == len(items) - len(report["not_configured"])
    # The lab's Prometheus has no rules: the SLO items are listed as not configured, not passed.
    assert set(report["not_configured"]) <= {"slo_rules", "alerts_routed"}
    assert items["drill_recent"]["detail"].startswith("last passed drill")
    assert "Score: **100.0 %**" in page
    print("readiness: %s" % {k: v["status"] for k, v in items.items()})
