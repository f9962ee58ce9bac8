# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit record: outcomes, decisions, change, who, and the append-only file."""

from __future__ import annotations

import json
import os

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import audit


def run(**overrides):
    base = {
        "run_id": "r1", "user": {"user": "ops", "via": "cli", "job_id": None},
        "started": 1_800_000_000.0, "ended": 1_800_000_012.5, "playbook": "/p/deploy.yml",
        "limit": "app1", "check": False, "extra_vars": {},
        "stats": {"ok": {"app1": 5, "app2": 3}, "changed": {"app1": 2}, "failures": {"app2": 1}, "dark": {}},
        "decisions": [],
    }
    base.update(overrides)
    return base


def test_outcomes_name_each_host_by_its_worst_event():
    stats = {"ok": {"a": 3, "b": 2, "c": 1, "d": 0}, "changed": {"a": 1}, "failures": {"b": 1}, "dark": {"c": 1}}
    outcomes = audit.host_outcomes(stats)
    words = {h: o["outcome"] for h, o in outcomes.items()}
    assert words == {"a": "changed", "b": "failed", "c": "unreachable", "d": "ok"}
    assert outcomes["b"]["failed"] == 1 and outcomes["c"]["unreachable"] == 1


def test_record_has_every_field_and_a_failed_run_is_failed():
    record = audit.build_record(run())
    assert record["status"] == "failed"
    assert record["hosts"] == ["app1", "app2"] and record["hosts_changed"] == ["app1"]
    assert record["duration_seconds"] == 12.5
    assert record["started"] == "2027-01-15T08:00:00.000000Z"
    assert record["playbook"] == "/p/deploy.yml" and record["limit"] == "app1"
    assert record["who"]["user"] == "ops"
    assert record["change"] == {"id": None, "type": None, "emergency": False, "window_override": False,
                                "in_window": None, "production": None, "allowed": None}
    json.dumps(record)  # serialisable as is


def test_successful_run():
    record = audit.build_record(run(stats={"ok": {"app1": 2}}))
    assert record["status"] == "successful" and record["outcomes"]["app1"]["outcome"] == "ok"


def test_change_comes_from_extra_vars_without_a_ruling():
    record = audit.build_record(run(extra_vars={"change_id": 4711, "change_type": "emergency"}))
    assert record["change"]["id"] == "4711" and record["change"]["type"] == "emergency"
    assert record["change"]["emergency"] is True


def test_only_a_true_value_is_an_override():
    assert audit.build_record(run(extra_vars={"change_window_override": "yes"}))["change"]["window_override"] is True
    assert audit.build_record(run(extra_vars={"change_window_override": "maybe"}))["change"]["window_override"] is False


def test_the_policy_ruling_wins_over_extra_vars_and_records_the_override():
    ruling = {"kind": "change_policy", "change_id": "CHG-1", "change_type": "normal", "window_override": True,
              "in_window": False, "production": True, "allowed": True}
    record = audit.build_record(run(extra_vars={"change_id": "other"},
                                    decisions=[{"host": "app1", "task": "policy", "decision": ruling}]))
    assert record["change"] == {"id": "CHG-1", "type": "normal", "emergency": False, "window_override": True,
                                "in_window": False, "production": True, "allowed": True}


def test_decisions_come_from_the_documented_key_and_loop_items():
    result = {"fleetops_decision": {"kind": "gate", "verdict": "pass"},
              "results": [{"fleetops_decision": {"kind": "retention", "deleted": ["a"]}},
                          {"fleetops_decision": "not a dict"}, {"other": 1}]}
    assert audit.decisions_from_result(result) == [{"kind": "gate", "verdict": "pass"},
                                                   {"kind": "retention", "deleted": ["a"]}]
    assert audit.decisions_from_result({"fleetops_decision": {"verdict": "no kind"}}) == []
    assert audit.decisions_from_result("text") == []


def test_a_huge_decision_is_cut_to_its_kind_and_size():
    huge = {"kind": "retention", "deleted": ["x" * 100] * 200}
    bounded = audit.bounded_decision(huge)
    assert bounded["kind"] == "retention" and bounded["truncated"] is True and bounded["bytes"] > 8192


def test_at_most_max_decisions_are_kept_and_the_rest_counted():
    many = [{"host": "a", "task": "t", "decision": {"kind": "gate", "n": i}} for i in range(audit.MAX_DECISIONS + 5)]
    record = audit.build_record(run(decisions=many))
    assert len(record["decisions"]) == audit.MAX_DECISIONS and record["decisions_dropped"] == 5


def test_who_prefers_awx_then_sudo_then_login():
    awx = audit.who({}, {"awx_user_name": "alice", "awx_job_id": 12}, "root")
    assert awx == {"user": "alice", "via": "awx", "job_id": 12}
    assert audit.who({"SUDO_USER": "bob"}, {}, "root") == {"user": "bob", "via": "sudo", "job_id": None}
    assert audit.who({}, {}, "carol") == {"user": "carol", "via": "cli", "job_id": None}


def test_append_writes_one_line_per_record_0600(tmp_path):
    path = tmp_path / "trail" / "audit.jsonl"
    audit.append_record(str(path), {"n": 1})
    audit.append_record(str(path), {"n": 2})
    assert [r["n"] for r in audit.read_records(str(path))] == [1, 2]
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"
    assert oct(os.stat(path.parent).st_mode & 0o777) == "0o700"


def test_append_refuses_a_symlinked_file(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("")
    link = tmp_path / "audit.jsonl"
    link.symlink_to(target)
    with pytest.raises(OSError):
        audit.append_record(str(link), {"n": 1})
    assert target.read_text() == ""


def test_read_records_names_a_bad_line(tmp_path):
    path = tmp_path / "a.jsonl"
    path.write_text('{"n": 1}\nnot json\n')
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        audit.read_records(str(path))
