# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the release_ledger module on a real temporary directory."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils import basic
from ansible_collections.fleetops.lifecycle.plugins.modules import release_ledger
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import (
    AnsibleFailJson,
    run_module,
)

pytestmark = pytest.mark.usefixtures("ansible_module_exits")


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "fleetops" / "ledger.jsonl")


@pytest.fixture
def warnings(monkeypatch):
    seen = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, warning, **kw: seen.append(warning))
    return seen


def run(args, **kwargs):
    return run_module(release_ledger.main, args, **kwargs)


def fail(args, **kwargs):
    with pytest.raises(AnsibleFailJson) as info:
        run(args, **kwargs)
    return info.value.result


def append(path, event, release, run_id="r1", **extra):
    record = dict(run_id=run_id, event=event, release=release)
    record.update(extra)
    return run(dict(path=path, action="append", record=record))


def read(path, check_mode=False, **extra):
    args = dict(path=path, action="read")
    args.update(extra)
    return run(args, check_mode=check_mode)


def lines(path):
    with open(path) as handle:
        return handle.read().splitlines()


def test_check_mode_append_writes_nothing(path):
    record = dict(run_id="r1", event="promoted", release="1.0.0", operator="alice")
    result = run(dict(path=path, action="append", record=record), check_mode=True)
    assert result["changed"] is True
    assert result["created"] is True
    assert {k: v for k, v in result["record"].items() if k != "ts"} == record
    assert not os.path.exists(os.path.dirname(path))


def test_every_append_is_a_change_and_a_line(path):
    first = append(path, "started", "1.0.0", checksum="ab" * 32, change_id="CHG-1", slot="green")
    second = append(path, "promoted", "1.0.0")
    assert first["changed"] is True and second["changed"] is True
    assert first["created"] is True and second["created"] is False
    assert [json.loads(line) for line in lines(path)] == [first["record"], second["record"]]
    assert first["record"]["ts"].endswith("Z")


def test_read_changes_nothing_and_reports_the_history(path):
    for release in ("1.0.0", "2.0.0", "3.0.0"):
        append(path, "started", release, run_id="d" + release)
        append(path, "gate", release, run_id="d" + release, gate=dict(verdict="pass", error_ratio=0.0))
        append(path, "promoted", release, run_id="d" + release)
    before = lines(path)
    result = read(path, limit=2, run_id="d2.0.0")
    assert result["changed"] is False
    assert lines(path) == before
    assert result["exists"] is True
    assert [r["event"] for r in result["records"]] == ["gate", "promoted"]
    assert result["count"] == 9
    assert (result["last_good"], result["previous_good"]) == ("3.0.0", "2.0.0")
    assert result["history"] == result["good"] == ["3.0.0", "2.0.0", "1.0.0"]
    assert (result["torn_lines"], result["bad_lines"]) == (0, [])
    assert result["run"]["outcome"] == "promoted"
    assert result["run"]["events"] == ["started", "gate", "promoted"]
    assert read(path, current="2.0.0")["previous_good"] == "3.0.0"
    assert read(path, check_mode=True) == read(path)


def test_two_rollbacks_through_the_module_land_on_v2_then_v1(path):
    for release in ("1.0.0", "2.0.0", "3.0.0"):
        append(path, "promoted", release, run_id="d" + release)
    current = "3.0.0"
    landed = []
    for step in range(2):
        target = read(path, current=current)["previous_good"]
        append(path, "rollback", target, run_id="rb%d" % step, from_release=current)
        landed.append(target)
        current = target
    assert landed == ["2.0.0", "1.0.0"]
    final = read(path)
    assert (final["last_good"], final["previous_good"]) == ("1.0.0", None)


def test_missing_ledger_reads_as_empty(path):
    result = read(path)
    assert result == dict(
        changed=False, path=path, exists=False, records=[], count=0, last_good=None, previous_good=None,
        good=[], history=[], unfinished=[], torn_lines=0, bad_lines=[],
    )
    assert not os.path.exists(os.path.dirname(path))


def test_torn_and_bad_lines_give_warnings(path, warnings):
    append(path, "promoted", "1.0.0")
    with open(path, "a") as handle:
        handle.write("garbage\n")
        handle.write('{"ts":"2023-11-14T22:13:20.000Z","run_id":"r2","event":"prom')
    result = read(path)
    assert result["last_good"] == "1.0.0"
    assert result["torn_lines"] == 1
    assert result["bad_lines"] == [dict(line=2, error="not JSON: Expecting value: line 1 column 1 (char 0)")]
    assert warnings == [
        "ledger %s ends in a torn line (an append was cut short); it was ignored" % path,
        "ledger %s has 1 lines that are not valid records (first: line 2: not JSON: Expecting value: "
        "line 1 column 1 (char 0)); they were skipped" % path,
    ]
    appended = append(path, "promoted", "2.0.0", run_id="r2")
    assert appended["terminated_torn_line"] is True
    assert read(path)["last_good"] == "2.0.0"


def test_diff_mode_shows_the_appended_line(path):
    result = run(dict(path=path, action="append", record=dict(run_id="r1", event="failed", release="1.0.0")),
                 diff=True, check_mode=True)
    assert result["diff"]["before"] == ""
    assert json.loads(result["diff"]["after"]) == result["record"]
    assert result["diff"]["after_header"] == path + " (appended)"


def test_read_is_the_default_action(path):
    assert run(dict(path=path))["exists"] is False


@pytest.mark.parametrize("args, message", [
    ({"action": "append"}, "record: required with action=append"),
    ({"action": "append", "record": {"event": "promoted", "release": "1.0.0"}},
     "record.run_id is required (a ledger record needs run_id, event, release)"),
    ({"action": "append", "record": {"run_id": "r1", "release": "1.0.0"}},
     "record.event is required (a ledger record needs run_id, event, release)"),
    ({"action": "append", "record": {"run_id": "r1", "event": "promoted"}},
     "record.release is required (a ledger record needs run_id, event, release)"),
    ({"action": "append", "record": {"run_id": "r1", "event": "deployed", "release": "1.0.0"}},
     "record.event: 'deployed' is not one of started, gate, promoted, rolled_back, failed, interrupted, rollback"),
    ({"action": "append", "record": {"run_id": "r1", "event": "rollback", "release": "1.0.0"}},
     "record.from_release is required when record.event is rollback (the release traffic moved away from)"),
    ({"action": "append", "record": {"run_id": "r1", "event": "gate", "release": "1.0.0"}},
     "record.gate is required when record.event is gate (the gate's verdict, measurements and thresholds)"),
    ({"action": "append", "record": {"run_id": "r1", "event": "promoted", "release": "1.0.0", "host": "a"}},
     "record.host: unknown key; a ledger record takes run_id, event, release, from_release, checksum, "
     "operator, change_id, slot, gate, message, details"),
    ({"action": "append", "record": {"run_id": "r1", "event": "promoted", "release": "1.0.0", "ts": "x"}},
     "record.ts: set when the record is written; leave it out"),
    ({"action": "append", "current": "1.0.0",
      "record": {"run_id": "r1", "event": "promoted", "release": "1.0.0"}},
     "current: only used with action=read"),
    ({"action": "append", "limit": 3, "record": {"run_id": "r1", "event": "promoted", "release": "1.0.0"}},
     "limit: only used with action=read"),
    ({"action": "read", "record": {"run_id": "r1"}}, "record: only used with action=append"),
    ({"action": "read", "close_unfinished_by": "run r2"}, "close_unfinished_by: only used with action=append"),
    ({"action": "read", "operator": "carol"}, "operator: only used with action=append"),
    ({"action": "append", "close_unfinished_by": " ",
      "record": {"run_id": "r1", "event": "started", "release": "1.0.0"}},
     "close_unfinished_by: ' ' must name the run that closes them"),
    ({"action": "append", "close_unfinished_by": "run r2", "record": {"run_id": "r2", "event": "begun",
                                                                       "release": "1.0.0"}},
     "record.event: 'begun' is not one of started, gate, promoted, rolled_back, failed, interrupted, rollback"),
    ({"action": "read", "limit": 0}, "limit: 0 must be a whole number above 0"),
    ({"action": "read", "limit": -2}, "limit: -2 must be a whole number above 0"),
    ({"action": "read", "path": "ledger.jsonl"}, "path: 'ledger.jsonl' must be an absolute path"),
])
def test_bad_input_is_refused_with_a_clear_message(args, message, tmp_path):
    args = dict(args)
    args.setdefault("path", str(tmp_path / "ledger.jsonl"))
    assert fail(args)["msg"] == message
    assert os.listdir(str(tmp_path)) == []


def test_nan_measurement_is_refused_and_nothing_written(path):
    record = dict(run_id="r1", event="gate", release="1.0.0", gate={"error_ratio": float("nan")})
    result = fail(dict(path=path, action="append", record=record))
    assert result["msg"].startswith(
        "record.gate: cannot be stored as JSON: Out of range float values are not JSON compliant"
    )
    assert not os.path.exists(path)


def test_path_that_is_a_directory(tmp_path):
    for action in ("read", "append"):
        args = dict(path=str(tmp_path), action=action)
        if action == "append":
            args["record"] = dict(run_id="r1", event="promoted", release="1.0.0")
        assert fail(args)["msg"] == "path: %s is a directory; give the ledger file's path" % tmp_path


def test_an_append_can_first_close_the_runs_a_killed_controller_left(path):
    append(path, "started", "2.0.0", run_id="old", slot="green", operator="bob")
    append(path, "gate", "2.0.0", run_id="old", gate=dict(verdict="pass"))
    append(path, "started", "1.5.0", run_id="done")
    append(path, "promoted", "1.5.0", run_id="done")
    before = lines(path)
    record = dict(run_id="new", event="started", release="3.0.0", operator="alice", slot="blue")
    args = dict(path=path, action="append", record=record, close_unfinished_by="run new")
    predicted = run(args, check_mode=True, diff=True)
    assert lines(path) == before  # check mode writes nothing
    result = run(args, diff=True)
    assert [run_["run_id"] for run_ in result["closed"]] == ["old"] == [c["run_id"] for c in predicted["closed"]]
    written = [json.loads(line) for line in lines(path)[len(before):]]
    assert [(r["run_id"], r["event"]) for r in written] == [("old", "interrupted"), ("new", "started")]
    closing = written[0]
    assert (closing["release"], closing["slot"], closing["operator"]) == ("2.0.0", "green", "alice")
    assert closing["message"] == "run old started %s and recorded no outcome; closed by run new" % (
        result["closed"][0]["started"])
    assert result["diff"]["after"].count("\n") == 2
    # Each closed run comes with its summary as a read after the closing gives it, in check mode too.
    summary = read(path, run_id="old")["run"]
    assert result["closed"][0]["run"] == summary
    assert (summary["outcome"], summary["events"]) == ("interrupted", ["started", "gate", "interrupted"])
    assert predicted["closed"][0]["run"]["events"] == ["started", "gate", "interrupted"]
    # closed once: the next run finds nothing left to close
    again = run(dict(args, record=dict(record, run_id="newer"), close_unfinished_by="run newer"))
    closed_new = dict(again["closed"][0])
    assert closed_new.pop("run")["events"] == ["started", "interrupted"]
    assert closed_new == {"run_id": "new", "release": "3.0.0", "slot": "blue", "operator": "alice",
                          "started": again["closed"][0]["started"]}
    assert read(path)["unfinished"] == [dict(closed_new, run_id="newer", release="3.0.0",
                                             started=read(path)["unfinished"][0]["started"])]


def test_without_close_unfinished_by_nothing_is_closed(path):
    append(path, "started", "2.0.0", run_id="old")
    result = append(path, "started", "3.0.0", run_id="new")
    assert result["closed"] == []
    assert [run_["run_id"] for run_ in read(path)["unfinished"]] == ["old", "new"]


def test_closing_alone_names_the_operator_and_changes_only_when_it_closed_a_run(path):
    append(path, "started", "2.0.0", run_id="old", slot="green")
    args = dict(path=path, action="append", close_unfinished_by="rollback r9", operator="carol")
    result = run(args)
    assert (result["changed"], result["record"], [c["run_id"] for c in result["closed"]]) == (True, None, ["old"])
    closing = json.loads(lines(path)[-1])
    assert (closing["event"], closing["operator"]) == ("interrupted", "carol")
    assert closing["message"].endswith("closed by rollback r9")
    again = run(args)
    assert (again["changed"], again["closed"]) == (False, [])
    assert len(lines(path)) == 2
