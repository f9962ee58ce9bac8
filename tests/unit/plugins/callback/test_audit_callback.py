# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The audit callback fed with fake events, as Ansible would call it."""

from __future__ import annotations

import json
from types import SimpleNamespace

from ansible import context
from ansible.utils.context_objects import CLIArgs
from ansible_collections.fleetops.lifecycle.plugins.callback.audit import CallbackModule


class FakeHost:
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


class FakeTask:
    def __init__(self, name):
        self.name = name

    def get_name(self):
        return self.name


def result(host, task, res):
    return SimpleNamespace(_host=FakeHost(host), _task=FakeTask(task), _result=res)


class FakePlay:
    def __init__(self, extra_vars):
        self._manager = SimpleNamespace(extra_vars=extra_vars)

    def get_variable_manager(self):
        return self._manager


def make_callback(tmp_path, monkeypatch, cli=None):
    monkeypatch.setattr(context, "CLIARGS", CLIArgs(dict({"subset": "app1,app2", "check": False}, **(cli or {}))))
    callback = CallbackModule()
    # Outside a plugin loader the documented options are not loaded: give the one it reads.
    callback._plugin_options = {"file": str(tmp_path / "audit.jsonl")}
    return callback


def stats(**kinds):
    base = {kind: {} for kind in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored")}
    base.update(kinds)
    return SimpleNamespace(**base)


def records(tmp_path):
    return [json.loads(line) for line in (tmp_path / "audit.jsonl").read_text().splitlines()]


def test_a_failed_run_writes_one_record_with_outcomes_and_decisions(tmp_path, monkeypatch):
    callback = make_callback(tmp_path, monkeypatch)
    callback.v2_playbook_on_start(SimpleNamespace(_file_name="playbooks/deploy.yml"))
    callback.v2_playbook_on_play_start(FakePlay({"change_id": "CHG-7", "change_type": "normal",
                                                 "service_api_token": "s3cret"}))
    gate = {"kind": "gate", "verdict": "fail"}
    callback.v2_runner_on_ok(result("app1", "Gate", {"changed": False, "fleetops_decision": gate}))
    callback.v2_runner_on_failed(result("app2", "Install", {"failed": True, "msg": "boom"}))
    callback.v2_runner_on_unreachable(result("app3", "Install", {"unreachable": True}))
    callback.v2_playbook_on_stats(stats(ok={"app1": 3, "app2": 1}, changed={"app1": 1}, failures={"app2": 1},
                                        dark={"app3": 1}))

    [record] = records(tmp_path)
    assert record["status"] == "failed"
    assert record["playbook"].endswith("playbooks/deploy.yml") and record["limit"] == "app1,app2"
    assert record["change"]["id"] == "CHG-7" and record["change"]["type"] == "normal"
    outcomes = {h: o["outcome"] for h, o in record["outcomes"].items()}
    assert outcomes == {"app1": "changed", "app2": "failed", "app3": "unreachable"}
    assert record["decisions"] == [{"host": "app1", "task": "Gate", "decision": {"kind": "gate", "verdict": "fail"}}]
    assert "s3cret" not in json.dumps(record)  # extra vars are not copied into the record


def test_each_run_appends_its_own_record(tmp_path, monkeypatch):
    callback = make_callback(tmp_path, monkeypatch, cli={"check": True})
    for name in ("a.yml", "b.yml"):
        callback.v2_playbook_on_start(SimpleNamespace(_file_name=name))
        callback.v2_playbook_on_play_start(FakePlay({}))
        callback.v2_runner_on_ok(result("app1", "t", {"changed": False}))
        callback.v2_playbook_on_stats(stats(ok={"app1": 1}))
    got = records(tmp_path)
    assert [r["playbook"].rsplit("/", 1)[-1] for r in got] == ["a.yml", "b.yml"]
    assert all(r["check_mode"] and r["status"] == "successful" for r in got)
    assert got[0]["run_id"] != got[1]["run_id"]


def test_an_unwritable_file_is_reported_not_raised(tmp_path, monkeypatch):
    callback = make_callback(tmp_path, monkeypatch)
    (tmp_path / "audit.jsonl").mkdir()  # a directory where the file should be
    errors = []
    monkeypatch.setattr(callback._display, "error", errors.append)
    callback.v2_playbook_on_start(SimpleNamespace(_file_name="a.yml"))
    callback.v2_playbook_on_stats(stats(ok={"app1": 1}))
    assert errors and "could not write" in errors[0]
