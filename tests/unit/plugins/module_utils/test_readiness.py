# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness: every item judged from what was read, the score counted, never assumed."""

from __future__ import annotations

import copy

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import readiness

NOW = 1_800_000_000.0
HOUR, DAY = 3600.0, 86400.0


def host(**overrides):
    data = {
        "backup": {"newest": {"name": "a", "created_epoch": NOW - HOUR, "last_verification_ok": True},
                   "newest_verified": {"name": "a", "created_epoch": NOW - HOUR},
                   "last_drill": {"passed": True, "started": NOW - 2 * DAY, "target": "spare1"}},
        "ledger": {"exists": True, "good": ["1.0.0"], "last_good": "1.0.0", "bad_lines": [], "torn_lines": 0,
                   "unfinished": []},
        "live_releases": ["1.0.0"],
        "timers": {"fleetops-backup-demo.timer": "enabled"},
        "secrets": {"/etc/demo/demo.env": {"exists": True, "mode": "0600"}},
    }
    data.update(overrides)
    return data


def ready_facts():
    return {
        "now": NOW,
        "hosts": {"app1": host(), "app2": host(backup=dict(host()["backup"], last_drill=None))},
        "health": {"state": "healthy", "reasons": []},
        "lock": {"path": "/var/lib/fleetops/deploy.lock", "exists": False},
        "prometheus": {"rules": [], "alertmanagers": 0},
    }


def status(report, key):
    return next(i for i in report["items"] if i["id"] == key)


def test_a_ready_fleet_scores_100_and_lists_unconfigured_slo_items():
    report = readiness.assess(ready_facts())
    assert report["score"] == 100.0 and report["failing"] == [] and report["passed"] == 8
    assert report["not_configured"] == ["slo_rules", "alerts_routed"]


def test_a_stale_backup_and_a_missing_drill_fail_by_name():
    facts = ready_facts()
    for data in facts["hosts"].values():
        data["backup"]["newest"]["created_epoch"] = NOW - 3 * DAY
        data["backup"]["last_drill"] = None
    report = readiness.assess(facts)
    assert report["failing"] == ["backup_fresh", "drill_recent"]
    assert report["score"] == 75.0
    assert status(report, "backup_fresh")["hosts"] == ["app1", "app2"]
    assert "newest backup 3.0 d old (max 26.4 h)" in status(report, "backup_fresh")["detail"]
    assert status(report, "drill_recent")["detail"] == "no passed DR drill recorded on any app host"


def test_a_drill_older_than_the_limit_fails_and_a_failed_drill_does_not_count():
    facts = ready_facts()
    facts["hosts"]["app1"]["backup"]["last_drill"]["started"] = NOW - 31 * DAY
    facts["hosts"]["app2"]["backup"]["last_drill"] = {"passed": False, "started": NOW - HOUR}
    item = status(readiness.assess(facts), "drill_recent")
    assert item["status"] == "fail" and item["detail"].startswith("last passed drill 31.0 d ago")


def test_unverified_and_failed_verification():
    facts = ready_facts()
    facts["hosts"]["app1"]["backup"]["newest_verified"] = None
    facts["hosts"]["app2"]["backup"]["newest"]["last_verification_ok"] = False
    item = status(readiness.assess(facts), "backup_verified")
    assert item["hosts"] == ["app1", "app2"]
    assert "app1: no verified backup" in item["detail"] and "app2: the newest backup a failed" in item["detail"]


def test_health_lock_ledger_timers_secrets_fail_with_reasons():
    facts = ready_facts()
    facts["health"] = {"state": "degraded", "reasons": ["app2 demo@blue not ready"]}
    facts["lock"] = {"path": "/l", "exists": True, "holder": "alice", "started_iso": "2026-12-06T01:00:00Z"}
    app1 = facts["hosts"]["app1"]
    app1["ledger"]["unfinished"] = [{"run_id": "r9", "release": "2.0.0"}]
    app1["live_releases"] = ["3.0.0"]
    app1["timers"]["fleetops-backup-demo.timer"] = "disabled"
    app1["secrets"]["/etc/demo/demo.env"]["mode"] = "0644"
    report = readiness.assess(facts)
    assert report["failing"] == ["health_green", "lock_free", "ledger_consistent", "timers_enabled", "secrets_private"]
    assert status(report, "lock_free")["detail"] == "/l is held by alice since 2026-12-06T01:00:00Z"
    ledger = status(report, "ledger_consistent")["detail"]
    assert "run r9 (2.0.0) never finished" in ledger and "live release 3.0.0 is not a good release" in ledger
    assert "fleetops-backup-demo.timer (disabled)" in status(report, "timers_enabled")["detail"]
    assert "mode 0644 (world bits set)" in status(report, "secrets_private")["detail"]


def test_an_unreadable_host_fails_every_host_item():
    facts = ready_facts()
    facts["hosts"]["app2"] = {"error": "host unreachable"}
    report = readiness.assess(facts)
    for key in ("backup_fresh", "backup_verified", "ledger_consistent", "timers_enabled", "secrets_private"):
        assert status(report, key)["hosts"] == ["app2"]


def test_slo_rules_and_alerts_when_configured():
    facts = ready_facts()
    facts["prometheus"] = {"rules": [{"name": "slo:ratio", "type": "recording", "health": "ok"},
                                     {"name": "SLOBurn", "type": "alerting", "health": "ok"}], "alertmanagers": 0}
    report = readiness.assess(facts)
    assert status(report, "slo_rules")["status"] == "pass"
    assert status(report, "alerts_routed")["detail"] == "1 alerting rule(s) but no active Alertmanager"
    facts["prometheus"]["alertmanagers"] = 1
    assert status(readiness.assess(facts), "alerts_routed")["status"] == "pass"
    facts["prometheus"] = {"error": "connection refused"}
    assert status(readiness.assess(facts), "slo_rules")["status"] == "fail"
    facts["prometheus"] = None
    assert status(readiness.assess(facts), "slo_rules")["status"] == "not_configured"


def test_the_score_is_computed_not_fixed():
    facts = ready_facts()
    scores = set()
    for broken in range(3):
        current = copy.deepcopy(facts)
        if broken >= 1:
            current["lock"]["exists"] = True
        if broken >= 2:
            current["health"]["state"] = "down"
        scores.add(readiness.assess(current)["score"])
    assert scores == {100.0, 87.5, 75.0}


def test_markdown_lists_score_table_and_failing():
    facts = ready_facts()
    facts["lock"]["exists"] = True
    page = readiness.markdown(readiness.assess(facts))
    assert "Score: **87.5 %** (7 passed, 1 failing, 2 not configured)" in page
    assert "| deploy lock free | **FAIL** |" in page and "## Failing" in page


@pytest.mark.parametrize("option, value", [("drill_max_age", 0), ("backup_max_age", "day"), ("verify_max_age", True)])
def test_bad_thresholds_are_refused_by_name(option, value):
    with pytest.raises(ValueError) as exc:
        readiness.assess(ready_facts(), **{option: value})
    assert str(exc.value) == "readiness_%s=%r: must be a positive number of seconds" % (option, value)
