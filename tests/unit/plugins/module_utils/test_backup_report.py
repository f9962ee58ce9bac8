"""Pure decisions of the backup role, restore/drill playbooks and the fleet report."""

import xml.etree.ElementTree as ET

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter import backup_report as filters
from ansible_collections.fleetops.lifecycle.plugins.module_utils import backup_fleet_report, drill_report, restore_check
from ansible_collections.fleetops.lifecycle.plugins.module_utils import backup_report as br


def test_live_slot_prefers_running_then_ledger():
    assert br.live_slot([["blue", "inactive", "1.0.0"], ["green", "active", "2.0.0"]]) == {
        "slot": "green", "release": "2.0.0", "decided_by": "running"}
    both = [["blue", "active", "1.0.0"], ["green", "active", "2.0.0"]]
    assert br.live_slot(both, "1.0.0")["slot"] == "blue"
    assert br.live_slot(both, "9.9.9")["decided_by"] == "first"
    assert br.live_slot([["blue", "failed", "1.0.0"], ["green", "inactive", ""]])["decided_by"] == "installed"
    with pytest.raises(ValueError, match="no slot has a release installed"):
        br.live_slot([["blue", "active", ""]])


@pytest.mark.parametrize("value", [0, -1, "0", "x", None, True, float("nan")])
def test_positive_seconds_refuses(value):
    with pytest.raises(AnsibleFilterError, match="positive_seconds: drill_rto_target="):
        filters.positive_seconds(value, "drill_rto_target")


def test_restore_what_and_scenarios():
    assert filters.backup_restore_what("state") == "state"
    with pytest.raises(AnsibleFilterError, match="restore_what='all': must be one of config, state, both"):
        filters.backup_restore_what("all")
    scenarios = ("host_loss", "data_corruption", "config_loss")
    assert [drill_report.scenario_what(s) for s in scenarios] == ["both", "state", "config"]
    with pytest.raises(ValueError, match="drill_scenario='fire'"):
        drill_report.scenario_what("fire")


MANIFEST = {
    "paths": [{"kind": "config", "name": "demo", "path": "/etc/demo"},
              {"kind": "state", "name": "demo", "path": "/var/lib/demo"}],
    "members": [
        {"path": "config/demo", "type": "dir", "size": 0},
        {"path": "config/demo/demo.ini", "type": "file", "size": 3, "sha256": "aa"},
        {"path": "state/demo", "type": "dir", "size": 0},
        {"path": "state/demo/state.db", "type": "file", "size": 5, "sha256": "bb"},
    ],
}


def test_manifest_compare():
    stats = {"/etc/demo": {"exists": True, "isdir": True},
             "/etc/demo/demo.ini": {"exists": True, "size": 3, "checksum": "aa"},
             "/var/lib/demo": {"exists": True, "isdir": True},
             "/var/lib/demo/state.db": {"exists": True, "size": 5, "checksum": "cc"}}
    assert restore_check.manifest_compare(MANIFEST, "config", stats) == {"ok": True, "checked": 2, "problems": []}
    result = restore_check.manifest_compare(MANIFEST, "both", stats)
    assert not result["ok"] and result["problems"][0]["path"] == "/var/lib/demo/state.db"
    assert "sha256 cc, manifest bb" in result["problems"][0]["problem"]
    missing = restore_check.manifest_compare(MANIFEST, "state", {})
    assert [p["problem"] for p in missing["problems"]] == ["missing", "missing"]


def _drill(**changes):
    drill = dict(source="app1", target="spare1", scenario="host_loss", started=1000.0,
                 backup={"created_epoch": 400.0, "release": "1.0.0"},
                 marks=[{"phase": "fetch", "at": 1005}, {"phase": "install", "at": 1015},
                        {"phase": "healthy", "at": 1020}],
                 rto_target=3600, rpo_target=86400, healthy=True, state={"ok": True, "checked": 4, "problems": []})
    drill.update(changes)
    return drill


def test_drill_report_measures_rto_and_rpo():
    report = drill_report.drill_report(_drill())
    assert report["rto_seconds"] == 20 and report["rpo_seconds"] == 600 and report["passed"]
    assert [(p["name"], p["seconds"]) for p in report["phases"]] == [("fetch", 5), ("install", 10), ("healthy", 5)]
    missed = drill_report.drill_report(_drill(rto_target=10, rpo_target=60))
    assert not missed["passed"] and missed["failed_checks"] == ["rto", "rpo"]
    suite = ET.fromstring(drill_report.drill_junit(missed))
    assert suite.get("failures") == "2" and suite.get("tests") == "7"
    assert suite.find("testcase[@name='rto']/failure").get("message") == "RTO 20.0 s, target 10 s"
    with pytest.raises(ValueError, match="drill_rto_target=0: must be a number of seconds greater than 0"):
        drill_report.drill_report(_drill(rto_target=0))
    assert drill_report.drill_report(_drill(healthy=False))["failed_checks"] == ["healthy"]
    failed = drill_report.drill_report(_drill(healthy=False, state={}))
    assert failed["checks"][3]["message"] == "restored members differ from the manifest: not compared"


def test_fleet_report_flags_rpo_at_risk():
    now = 100000.0
    hosts = {
        "app1": {"count": 2, "newest": {"name": "a1", "created_epoch": now - 3600},
                 "newest_verified": {"name": "a1", "created_epoch": now - 3600},
                 "last_drill": {"started": now - 86400, "started_iso": "x", "passed": True}},
        "app2": {"count": 1, "newest": {"name": "a2", "created_epoch": now - 70000}, "newest_verified": None},
        "app3": {"count": 0, "newest": None},
        "app4": {"failed": True, "msg": "host unreachable"},
    }
    report = backup_fleet_report.fleet_report(hosts, now, 86400)
    flags = {row["host"]: row["flags"] for row in report["hosts"]}
    assert flags["app1"] == []
    assert flags["app2"] == ["rpo_at_risk", "unverified", "no_recent_drill"]
    assert "rpo_missed" in flags["app3"] and "unreadable" in flags["app4"]
    assert report["at_risk"] == ["app2", "app3", "app4"] and not report["ok"]
    table = backup_fleet_report.fleet_table(report).splitlines()
    assert table[0].startswith("host") and table[1].startswith("app1") and "1h 00m" in table[1]
    with pytest.raises(ValueError, match="backup_report_rpo_target=0"):
        backup_fleet_report.fleet_report(hosts, now, 0)


def test_prometheus_textfile():
    status = {"newest": {"created_epoch": 10.0}, "newest_verified": None, "archives": [], "count": 1,
              "incomplete": []}
    text = br.prometheus_textfile(status, "demo", "app1", now=20.0)
    assert 'fleetops_backup_last_success_timestamp_seconds{service="demo",host="app1"} 10.000' in text
    assert "fleetops_backup_last_verified_timestamp_seconds{" not in text  # absent, never 0
