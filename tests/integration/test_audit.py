"""Audit trail and change policy on the lab.

Every run appends exactly one valid record to the audit file, failed runs included; a
normal change to a production inventory without a change id is refused before any host
changes; an override outside the maintenance window and an emergency change are recorded.
The inventory is marked production with extra vars (change_policy_production=true), and
the policy's clock is pinned (change_policy_now) so the window is inside or outside on
purpose.
"""

import json

import pytest
from conftest import APP_HOSTS, lab_host, run_playbook

OUTSIDE = "2026-12-08T10:00:00Z"  # a Tuesday: outside the default first-Sunday window
PRODUCTION = {"change_policy_production": True, "change_policy_now": OUTSIDE}
FIELDS = {"version", "run_id", "who", "started", "ended", "duration_seconds", "playbook", "limit", "check_mode",
          "change", "status", "hosts", "hosts_changed", "outcomes", "decisions"}


@pytest.fixture
def audit_file(tmp_path, monkeypatch):
    """A fresh audit file for the test; ansible-runner passes the environment on."""
    path = tmp_path / "audit" / "audit.jsonl"
    monkeypatch.setenv("FLEETOPS_AUDIT_FILE", str(path))
    return path


def records(path):
    lines = path.read_text().splitlines() if path.exists() else []
    parsed = [json.loads(line) for line in lines]
    for record in parsed:
        assert FIELDS <= set(record), sorted(FIELDS - set(record))
    return parsed


def host_state():
    """What a deploy would change on the app hosts: slot links, ledger, unit states."""
    command = ("readlink /opt/demo/current-blue /opt/demo/current-green; "
               "sha256sum /var/lib/fleetops/demo/*ledger* 2>/dev/null; "
               "systemctl is-active demo@blue demo@green; ls /opt/demo/releases")
    return {host: lab_host(host).run(command).stdout for host in APP_HOSTS}


def run_and_record(path, name, extravars, tmp_path, **kwargs):
    before = records(path)
    result = run_playbook(name, extravars, tmp_path=tmp_path / ("run%d" % len(before)), **kwargs)
    after = records(path)
    assert len(after) == len(before) + 1, "one record per run"
    return result, after[-1]


def test_refused_normal_change_changes_nothing_and_is_recorded(converged, audit_file, tmp_path):
    before = host_state()
    result, record = run_and_record(audit_file, "deploy.yml", dict(PRODUCTION, deploy_version="2.0.0"), tmp_path)
    assert result.rc != 0 and result.changed() == 0, result.changed_tasks()
    assert ("a normal change to a production inventory needs a change id: -e change_id=<ticket> "
            "(or -e change_type=emergency)") in result.failure_messages()
    assert host_state() == before
    assert record["status"] == "failed" and record["hosts_changed"] == []
    assert record["playbook"].endswith("playbooks/deploy.yml")
    assert record["change"]["allowed"] is False and record["change"]["type"] == "normal"
    [ruling] = [d["decision"] for d in record["decisions"] if d["decision"]["kind"] == "change_policy"]
    assert ruling["production"] is True and ruling["in_window"] is False


@pytest.mark.parametrize("extravars, message", [
    ({"change_type": "urgent"}, "change_type='urgent': must be one of standard, normal, emergency"),
    ({"change_policy_window": "sundays 2-4"},
     "change_policy_window='sundays 2-4': must look like 'first sun 02:00-04:00'"),
    # A survey answer of the wrong type stops the run before the ruling.
    ({"change_window_override": "maybe"},
     "Validation of arguments failed:\nargument 'change_window_override' is of type str and we were unable to "
     "convert to bool: The value 'maybe' is not a valid boolean"),
])
def test_bad_policy_input_is_refused_by_name(converged, audit_file, tmp_path, extravars, message):
    extravars = dict(PRODUCTION, change_id="CHG-1", **extravars)
    result, record = run_and_record(audit_file, "rollback.yml", extravars, tmp_path)
    assert result.rc != 0 and result.changed() == 0
    assert any(m.startswith(message) for m in result.failure_messages()), result.failure_messages()
    assert record["status"] == "failed"


def test_window_override_and_retention_are_recorded(converged, audit_file, tmp_path):
    result, record = run_and_record(audit_file, "backup.yml", dict(
        PRODUCTION, change_type="normal", change_id="CHG-42", change_window_override=True), tmp_path, limit="app1")
    assert result.rc == 0, result.failure_messages()
    assert record["status"] == "successful" and record["limit"] == "app1"
    assert record["change"] == {"id": "CHG-42", "type": "normal", "emergency": False, "window_override": True,
                                "in_window": False, "production": True, "allowed": True}
    assert record["hosts_changed"] == ["app1"] and record["outcomes"]["app1"]["outcome"] == "changed"
    kinds = [d["decision"]["kind"] for d in record["decisions"]]
    assert "retention" in kinds, kinds
    [retention] = [d for d in record["decisions"] if d["decision"]["kind"] == "retention"]
    assert retention["host"] == "app1" and isinstance(retention["decision"]["deleted"], list)
    assert record["duration_seconds"] > 0


def test_without_the_override_the_same_change_is_refused(converged, audit_file, tmp_path):
    result, record = run_and_record(audit_file, "backup.yml", dict(
        PRODUCTION, change_type="normal", change_id="CHG-42"), tmp_path, limit="app1")
    assert result.rc != 0 and result.changed() == 0
    assert any("change_window_override=true" in m for m in result.failure_messages()), result.failure_messages()
    assert record["status"] == "failed" and record["change"]["window_override"] is False


def test_emergency_change_is_marked_and_check_mode_recorded(converged, audit_file, tmp_path):
    result, record = run_and_record(audit_file, "backup.yml", dict(PRODUCTION, change_type="emergency"), tmp_path,
                                    limit="app2")
    assert result.rc == 0, result.failure_messages()
    assert record["change"]["emergency"] is True and record["change"]["id"] is None
    assert record["status"] == "successful" and record["check_mode"] is False
    result, record = run_and_record(audit_file, "backup.yml", dict(PRODUCTION, change_type="emergency"), tmp_path,
                                    check=True, limit="app2")
    assert result.rc == 0, result.failure_messages()
    assert record["check_mode"] is True and record["change"]["emergency"] is True
