# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for module_utils.ledger: records, reading, what the history says, appending.

File tests use real temporary directories; time is passed in, never read.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import ledger
from ansible_collections.fleetops.lifecycle.plugins.module_utils.ledger import (
    EVENTS,
    MAX_LINE_BYTES,
    RECORD_KEYS,
    LedgerError,
    append_record,
    build_record,
    check_path,
    check_record,
    format_line,
    good_releases,
    iso_timestamp,
    last_good_release,
    ledger_view,
    previous_good_release,
    read_ledger,
    read_records,
    release_history,
    summarize_run,
    unfinished_runs,
)
from hypothesis import assume, given, settings
from hypothesis import strategies as st

T0 = 1700000000  # 2023-11-14T22:13:20Z


def rec(event, release, run_id="r1", **extra):
    record = dict(run_id=run_id, event=event, release=release)
    if event == "gate" and "gate" not in extra:
        extra["gate"] = {"verdict": "pass"}
    record.update(extra)
    return record


def stored(records, start=T0):
    return [build_record(record, start + index) for index, record in enumerate(records)]


def text_of(records, start=T0):
    return "".join(format_line(record) for record in stored(records, start))


def promote(*releases):
    return [rec("promoted", release, run_id="deploy-%s" % release) for release in releases]


def rollback(target, current, run_id=None):
    return rec("rollback", target, run_id=run_id or "rollback-%s" % target, from_release=current)


def bad(record, message, option="record"):
    with pytest.raises(LedgerError) as info:
        check_record(record, option=option)
    assert info.value.msg == message


# ----------------------------------------------------------------------- timestamps


def test_iso_timestamp_is_utc_with_milliseconds():
    assert iso_timestamp(T0) == "2023-11-14T22:13:20.000Z"
    assert iso_timestamp(T0 + 0.1234) == "2023-11-14T22:13:20.123Z"
    assert iso_timestamp(0) == "1970-01-01T00:00:00.000Z"


# -------------------------------------------------------------------------- records


def test_build_record_orders_keys_and_stamps_ts():
    record = build_record(dict(message="ok", release="2.0.0", event="promoted", run_id="r1",
                               operator="alice", slot="green", change_id="CHG-1",
                               checksum="ab" * 32, details={"hosts": 3}), T0)
    assert list(record) == ["ts", "run_id", "event", "release", "checksum", "operator", "change_id",
                            "slot", "message", "details"]
    assert record["ts"] == "2023-11-14T22:13:20.000Z"


def test_empty_and_null_optional_keys_are_dropped():
    record = check_record(dict(run_id="r1", event="started", release="1.0.0", checksum=None,
                               operator="", change_id=None, slot="", gate=None, message="",
                               details=None, from_release=""))
    assert record == dict(run_id="r1", event="started", release="1.0.0")


def test_gate_and_rollback_records():
    gate = dict(verdict="fail", measurements={"error_ratio": 0.05}, thresholds={"error_ratio": 0.01})
    assert check_record(rec("gate", "3.0.0", gate=gate))["gate"] == gate
    assert check_record(rollback("2.0.0", "3.0.0"))["from_release"] == "3.0.0"
    # a gate may ride on a terminal record too
    assert check_record(rec("rolled_back", "3.0.0", gate=gate))["gate"] == gate


@pytest.mark.parametrize("record, message", [
    ([], "record: expected a mapping, got [] (list)"),
    ("promoted", "record: expected a mapping, got 'promoted' (str)"),
    (dict(event="promoted", release="1.0.0"),
     "record.run_id is required (a ledger record needs run_id, event, release)"),
    (dict(run_id="r1", release="1.0.0"),
     "record.event is required (a ledger record needs run_id, event, release)"),
    (dict(run_id="r1", event="promoted"),
     "record.release is required (a ledger record needs run_id, event, release)"),
    (dict(run_id="r1", event="promoted", release=""),
     "record.release is required (a ledger record needs run_id, event, release)"),
    (dict(run_id="r1", event="promote", release="1.0.0"),
     "record.event: 'promote' is not one of started, gate, promoted, rolled_back, failed, interrupted, rollback"),
    (dict(run_id="r1", event=["promoted"], release="1.0.0"),
     "record.event: ['promoted'] is not one of started, gate, promoted, rolled_back, failed, interrupted, rollback"),
    (dict(run_id=12, event="promoted", release="1.0.0"),
     "record.run_id: expected a non-empty string without spaces, got 12 (int)"),
    (dict(run_id="r1", event="promoted", release="1.0.0 beta"),
     "record.release: expected a non-empty string without spaces, got '1.0.0 beta' (str)"),
    (dict(run_id="r1", event="promoted", release="1.0.0\n"),
     "record.release: expected a non-empty string without spaces, got '1.0.0\\n' (str)"),
    (dict(run_id="r1", event="rollback", release="1.0.0"),
     "record.from_release is required when record.event is rollback (the release traffic moved away from)"),
    (dict(run_id="r1", event="rollback", release="1.0.0", from_release="1.0.0"),
     "record.from_release: '1.0.0' is the same as record.release; a rollback moves to another release"),
    (dict(run_id="r1", event="rollback", release="1.0.0", from_release=2),
     "record.from_release: expected a non-empty string without spaces, got 2 (int)"),
    (dict(run_id="r1", event="gate", release="1.0.0"),
     "record.gate is required when record.event is gate (the gate's verdict, measurements and thresholds)"),
    (dict(run_id="r1", event="gate", release="1.0.0", gate={}),
     "record.gate is required when record.event is gate (the gate's verdict, measurements and thresholds)"),
    (dict(run_id="r1", event="gate", release="1.0.0", gate="pass"),
     "record.gate: expected a mapping of the gate's verdict, measurements and thresholds, got 'pass' (str)"),
    (dict(run_id="r1", event="promoted", release="1.0.0", details=[1]),
     "record.details: expected a mapping of extra facts, got [1] (list)"),
    (dict(run_id="r1", event="promoted", release="1.0.0", operator=5),
     "record.operator: expected a string, got 5 (int)"),
    (dict(run_id="r1", event="promoted", release="1.0.0", message=["a"]),
     "record.message: expected a string, got ['a'] (list)"),
    (dict(run_id="r1", event="promoted", release="1.0.0", ts="2024-01-01T00:00:00Z"),
     "record.ts: set when the record is written; leave it out"),
    (dict(run_id="r1", event="promoted", release="1.0.0", version="1.0.0", zz=1),
     "record.version: unknown key; a ledger record takes run_id, event, release, from_release, "
     "checksum, operator, change_id, slot, gate, message, details"),
])
def test_bad_records_name_the_key_and_value(record, message):
    bad(record, message)


def test_record_keys_are_documented_in_one_place():
    assert set(RECORD_KEYS) == {"run_id", "event", "release", "from_release", "checksum", "operator",
                                "change_id", "slot", "gate", "message", "details"}


def test_stored_records_need_ts_and_keep_unknown_keys():
    line = dict(ts="2024-01-01T00:00:00.000Z", run_id="r1", event="promoted", release="1.0.0", extra=1)
    assert check_record(line, stored=True) == line
    with pytest.raises(LedgerError) as info:
        check_record(dict(run_id="r1", event="promoted", release="1.0.0"), option="", stored=True)
    assert info.value.msg == "ts: expected the time the record was written, got None"


def test_format_line_is_one_ascii_json_line():
    record = build_record(rec("promoted", "1.0.0", message="déployé\nok"), T0)
    line = format_line(record)
    assert line.endswith("\n") and line.count("\n") == 1
    assert line.isascii()
    assert json.loads(line) == record


@pytest.mark.parametrize("value, message", [
    (float("nan"), "record.gate: cannot be stored as JSON: Out of range float values are not JSON compliant"),
    (float("inf"), "record.gate: cannot be stored as JSON: Out of range float values are not JSON compliant"),
    (object, "record.gate: cannot be stored as JSON: Object of type type is not JSON serializable"),
])
def test_format_line_names_the_key_json_cannot_hold(value, message):
    record = build_record(rec("gate", "1.0.0", gate={"error_ratio": value}), T0)
    with pytest.raises(LedgerError) as info:
        format_line(record)
    assert info.value.msg.startswith(message)  # newer Pythons add the value


def test_format_line_refuses_huge_records():
    record = build_record(rec("promoted", "1.0.0", message="x" * MAX_LINE_BYTES), T0)
    with pytest.raises(LedgerError) as info:
        format_line(record)
    size = len(json.dumps(record, separators=(",", ":"))) + 1
    assert info.value.msg == (
        "record: %d bytes as a JSON line; a ledger record may be at most 1048576 bytes" % size
    )


# -------------------------------------------------------------------------- reading


def test_read_records_round_trip():
    records = [rec("started", "1.0.0"), rec("gate", "1.0.0"), rec("promoted", "1.0.0")]
    parsed = read_records(text_of(records))
    assert parsed == dict(records=stored(records), torn_lines=0, bad_lines=[])
    assert read_records(text_of(records).encode("ascii")) == parsed


def test_read_records_of_nothing():
    assert read_records("") == dict(records=[], torn_lines=0, bad_lines=[])
    assert read_records("\n\n  \n") == dict(records=[], torn_lines=0, bad_lines=[])


def test_torn_last_line_is_ignored_and_counted():
    good = text_of(promote("1.0.0", "2.0.0"))
    torn_line = format_line(build_record(rec("promoted", "3.0.0"), T0 + 9))
    for cut in (1, 10, len(torn_line) - 1):  # the full JSON without its newline is torn too
        parsed = read_records(good + torn_line[:cut])
        assert parsed["records"] == stored(promote("1.0.0", "2.0.0"))
        assert parsed["torn_lines"] == 1
        assert parsed["bad_lines"] == []


def test_garbage_lines_are_skipped_with_their_number_and_reason():
    lines = [
        format_line(build_record(rec("promoted", "1.0.0"), T0)),
        "not json\n",
        "[1, 2]\n",
        '{"ts": "x", "run_id": "r", "event": "deployed", "release": "1.0.0"}\n',
        '{"run_id": "r", "event": "promoted", "release": "1.0.0"}\n',
        '{"ts": "x", "run_id": "r", "event": "rollback", "release": "1.0.0"}\n',
        "\n",
        "\xff\xfe garbage\n",
        format_line(build_record(rec("promoted", "2.0.0"), T0 + 1)),
    ]
    parsed = read_records("".join(lines))
    assert [r["release"] for r in parsed["records"]] == ["1.0.0", "2.0.0"]
    assert parsed["torn_lines"] == 0
    assert [(b["line"], b["error"]) for b in parsed["bad_lines"]] == [
        (2, "not JSON: Expecting value: line 1 column 1 (char 0)"),
        (3, "expected a mapping, got [1, 2] (list)"),
        (4, "event: 'deployed' is not one of started, gate, promoted, rolled_back, failed, interrupted, rollback"),
        (5, "ts: expected the time the record was written, got None"),
        (6, "from_release is required when event is rollback (the release traffic moved away from)"),
        (8, "not JSON: Expecting value: line 1 column 1 (char 0)"),
    ]


def test_invalid_utf8_never_crashes():
    parsed = read_records(b'{"ts":"x","run_id":"r","event":"promoted","release":"1.0.0"}\n\xc3\x28\n')
    assert len(parsed["records"]) == 1 and len(parsed["bad_lines"]) == 1


# ------------------------------------------------------------ what the history says


def test_empty_ledger_says_nothing():
    assert good_releases([]) == []
    assert last_good_release([]) is None
    assert previous_good_release([], "1.0.0") is None
    assert release_history([]) == []


def test_last_good_is_the_newest_promotion():
    records = stored(promote("1.0.0", "2.0.0", "3.0.0"))
    assert last_good_release(records) == "3.0.0"
    assert good_releases(records) == ["3.0.0", "2.0.0", "1.0.0"]
    assert previous_good_release(records, "3.0.0") == "2.0.0"
    assert release_history(records) == ["3.0.0", "2.0.0", "1.0.0"]


@pytest.mark.parametrize("event", ["rolled_back", "failed"])
def test_a_later_rolled_back_or_failed_of_the_same_release_demotes_it(event):
    records = stored(promote("1.0.0", "2.0.0") + [rec(event, "2.0.0", run_id="later")])
    assert last_good_release(records) == "1.0.0"
    assert release_history(records) == ["2.0.0", "1.0.0"]  # it was promoted all the same


@pytest.mark.parametrize("event", ["rolled_back", "failed"])
def test_a_failed_deploy_of_a_new_release_changes_nothing(event):
    records = stored(promote("1.0.0", "2.0.0") + [
        rec("started", "3.0.0", run_id="r3"),
        rec("gate", "3.0.0", run_id="r3", gate={"verdict": "fail"}),
        rec(event, "3.0.0", run_id="r3"),
    ])
    assert last_good_release(records) == "2.0.0"
    assert previous_good_release(records, "3.0.0") == "2.0.0"
    assert previous_good_release(records, "2.0.0") == "1.0.0"


def test_started_and_gate_records_change_nothing():
    records = stored(promote("1.0.0") + [rec("started", "2.0.0"), rec("gate", "2.0.0")])
    assert good_releases(records) == ["1.0.0"]


def test_repromotion_moves_a_release_to_the_front():
    records = stored(promote("1.0.0", "2.0.0", "1.0.0"))
    assert good_releases(records) == ["1.0.0", "2.0.0"]
    assert release_history(records) == ["1.0.0", "2.0.0"]
    assert previous_good_release(records, "1.0.0") == "2.0.0"


def test_two_consecutive_rollbacks_walk_back_v3_v2_v1():
    """promote v1, v2, v3; rollback to previous twice: v2, then v1 (never v3 again)."""
    records = stored(promote("v1", "v2", "v3"))
    current = "v3"
    first = previous_good_release(records, current)
    assert first == "v2"
    records += stored([rollback(first, current)], start=T0 + 10)
    current = first
    assert last_good_release(records) == "v2"
    second = previous_good_release(records, current)
    assert second == "v1"
    records += stored([rollback(second, current)], start=T0 + 20)
    assert last_good_release(records) == "v1"
    assert previous_good_release(records, "v1") is None
    # the promotions are still history; only the good list shrank
    assert release_history(records) == ["v3", "v2", "v1"]
    assert good_releases(records) == ["v1"]


def test_rollback_from_a_release_that_is_still_deploying_targets_the_last_good():
    records = stored(promote("v1", "v2") + [rec("started", "v3", run_id="r3")])
    assert previous_good_release(records, "v3") == "v2"
    records += stored([rollback("v2", "v3")], start=T0 + 10)
    assert good_releases(records) == ["v2", "v1"]
    assert previous_good_release(records, "v2") == "v1"


def test_rollback_to_a_named_release():
    records = stored(promote("v1", "v2", "v3") + [rollback("v1", "v3")])
    assert last_good_release(records) == "v1"
    assert good_releases(records) == ["v1", "v2"]
    assert previous_good_release(records, "v1") == "v2"


def test_rollback_to_a_release_the_ledger_never_saw_makes_it_good():
    records = stored(promote("v2") + [rollback("v1", "v2")])
    assert good_releases(records) == ["v1"]


def test_previous_good_of_an_unknown_current_is_the_last_good():
    records = stored(promote("v1", "v2"))
    assert previous_good_release(records, "v9") == "v2"


def test_summarize_run():
    gate_fail = dict(verdict="fail", failed=["error_ratio"], measurements={"error_ratio": 0.05})
    records = stored([
        rec("promoted", "2.0.0", run_id="r2"),
        rec("started", "3.0.0", run_id="r3", operator="alice", change_id="CHG-3", checksum="c3", slot="green"),
        rec("gate", "3.0.0", run_id="r3", slot="green", gate=dict(verdict="pass")),
        rec("gate", "3.0.0", run_id="r3", slot="green", gate=gate_fail),
        rec("rolled_back", "3.0.0", run_id="r3", message="error_ratio 0.05 > 0.01"),
        rec("started", "4.0.0", run_id="r4"),
    ])
    assert summarize_run(records, "r3") == dict(
        run_id="r3", release="3.0.0", from_release=None, checksum="c3", operator="alice",
        change_id="CHG-3", started="2023-11-14T22:13:21.000Z", finished="2023-11-14T22:13:24.000Z",
        outcome="rolled_back", events=["started", "gate", "gate", "rolled_back"],
        gates=[dict(ts="2023-11-14T22:13:22.000Z", slot="green", stage=None, gate=dict(verdict="pass")),
               dict(ts="2023-11-14T22:13:23.000Z", slot="green", stage=None, gate=gate_fail)],
        message="error_ratio 0.05 > 0.01", records=4,
    )
    running = summarize_run(records, "r4")
    assert running["outcome"] == "in_progress" and running["finished"] is None
    assert summarize_run(records, "nope") is None
    back = summarize_run(stored([rollback("2.0.0", "3.0.0", run_id="rb")]), "rb")
    assert (back["outcome"], back["release"], back["from_release"]) == ("rollback", "2.0.0", "3.0.0")


def test_ledger_view():
    parsed = read_records(text_of(promote("v1", "v2", "v3")) + "junk\n" + '{"torn')
    view = ledger_view(parsed, limit=2, run_id="deploy-v2")
    assert [r["release"] for r in view["records"]] == ["v2", "v3"]
    assert view["count"] == 3
    assert (view["last_good"], view["previous_good"]) == ("v3", "v2")
    assert view["good"] == view["history"] == ["v3", "v2", "v1"]
    assert view["torn_lines"] == 1
    assert view["bad_lines"] == [dict(line=4, error="not JSON: Expecting value: line 1 column 1 (char 0)")]
    assert view["run"]["outcome"] == "promoted"
    assert ledger_view(parsed, current="v2")["previous_good"] == "v3"
    assert "run" not in ledger_view(parsed)
    empty = ledger_view(read_records(""))
    assert (empty["last_good"], empty["previous_good"], empty["records"]) == (None, None, [])
    assert view["unfinished"] == empty["unfinished"] == []


def test_unfinished_runs_are_started_runs_without_an_outcome():
    records = stored([
        rec("started", "2.0.0", run_id="a", slot="green", operator="bob"),
        rec("gate", "2.0.0", run_id="a"),
        rec("started", "3.0.0", run_id="b"),
        rec("rolled_back", "3.0.0", run_id="b"),
        rec("started", "4.0.0", run_id="c"),
        rec("gate", "4.0.0", run_id="c"),
        rollback("1.0.0", "2.0.0", run_id="d"),
    ])
    assert unfinished_runs(records) == [
        dict(run_id="a", release="2.0.0", slot="green", operator="bob", started="2023-11-14T22:13:20.000Z"),
        dict(run_id="c", release="4.0.0", slot=None, operator=None, started="2023-11-14T22:13:24.000Z"),
    ]
    closed = records + stored([rec("interrupted", "2.0.0", run_id="a", message="no outcome")], start=T0 + 10)
    assert [run["run_id"] for run in unfinished_runs(closed)] == ["c"]


def test_an_interrupted_run_leaves_its_release_as_good_as_it_was():
    records = stored(promote("1.0.0", "2.0.0") + [
        rec("started", "1.0.0", run_id="x"),
        rec("interrupted", "1.0.0", run_id="x"),
    ])
    assert good_releases(records) == ["2.0.0", "1.0.0"]
    assert summarize_run(records, "x")["outcome"] == "interrupted"


# ------------------------------------------------------------------------- the file


@pytest.mark.parametrize("path, message", [
    ("ledger.jsonl", "path: 'ledger.jsonl' must be an absolute path"),
    (None, "path: None must be an absolute path"),
    ("/var/lib/fleetops/", "path: '/var/lib/fleetops/' names a directory; give the ledger file's path"),
])
def test_check_path(path, message):
    with pytest.raises(LedgerError) as info:
        check_path(path)
    assert info.value.msg == message


@pytest.fixture
def ledger_path(tmp_path):
    return str(tmp_path / "state" / "ledger.jsonl")


def test_append_creates_the_file_and_appends_lines(ledger_path):
    first = append_record(ledger_path, rec("promoted", "1.0.0"), T0)
    assert first["created"] is True and first["terminated_torn_line"] is False
    assert first["record"] == build_record(rec("promoted", "1.0.0"), T0)
    second = append_record(ledger_path, rec("promoted", "2.0.0"), T0 + 1)
    assert second["created"] is False
    with open(ledger_path) as handle:
        assert handle.read() == first["line"] + second["line"]
    assert oct(os.stat(ledger_path).st_mode & 0o777) == "0o644"
    assert read_records(read_ledger(ledger_path))["records"] == [first["record"], second["record"]]


def test_check_mode_appends_nothing(ledger_path):
    predicted = append_record(ledger_path, rec("promoted", "1.0.0"), T0, check_mode=True)
    assert predicted["created"] is True
    assert not os.path.exists(os.path.dirname(ledger_path))
    actual = append_record(ledger_path, rec("promoted", "1.0.0"), T0)
    assert predicted == actual
    size = os.path.getsize(ledger_path)
    append_record(ledger_path, rec("promoted", "2.0.0"), T0, check_mode=True)
    assert os.path.getsize(ledger_path) == size


def test_append_after_a_torn_line_starts_a_line_of_its_own(ledger_path):
    append_record(ledger_path, rec("promoted", "1.0.0"), T0)
    with open(ledger_path, "a") as handle:
        handle.write('{"ts":"2023-11-14T22:13:21.000Z","run_id":"r1","ev')
    assert append_record(ledger_path, rec("promoted", "2.0.0"), T0 + 2, check_mode=True)[
        "terminated_torn_line"] is True
    result = append_record(ledger_path, rec("promoted", "2.0.0"), T0 + 2)
    assert result["terminated_torn_line"] is True
    parsed = read_records(read_ledger(ledger_path))
    assert [r["release"] for r in parsed["records"]] == ["1.0.0", "2.0.0"]
    assert parsed["torn_lines"] == 0
    assert [b["line"] for b in parsed["bad_lines"]] == [2]


def test_bad_record_writes_nothing(ledger_path):
    with pytest.raises(LedgerError) as info:
        append_record(ledger_path, dict(event="promoted", release="1.0.0"), T0)
    assert info.value.msg == "record.run_id is required (a ledger record needs run_id, event, release)"
    assert not os.path.exists(os.path.dirname(ledger_path))


def test_read_ledger_of_a_missing_file_is_none(ledger_path):
    assert read_ledger(ledger_path) is None


def test_path_that_is_a_directory(tmp_path):
    with pytest.raises(LedgerError) as info:
        append_record(str(tmp_path), rec("promoted", "1.0.0"), T0)
    assert info.value.msg == "path: %s is a directory; give the ledger file's path" % tmp_path
    with pytest.raises(LedgerError) as info:
        read_ledger(str(tmp_path))
    assert info.value.msg == "path: %s is a directory; give the ledger file's path" % tmp_path


def test_path_under_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    path = str(blocker / "ledger.jsonl")
    with pytest.raises(LedgerError) as info:
        append_record(path, rec("promoted", "1.0.0"), T0)
    assert info.value.msg == "path: %s: a parent of the ledger is not a directory" % path
    with pytest.raises(LedgerError) as info:
        read_ledger(path)
    assert info.value.msg == "path: %s: a parent of the ledger is not a directory" % path


def test_short_write_is_reported(ledger_path, monkeypatch):
    monkeypatch.setattr(ledger.os, "write", lambda fd, data: len(data) - 1)
    with pytest.raises(LedgerError) as info:
        append_record(ledger_path, rec("promoted", "1.0.0"), T0)
    assert info.value.msg.startswith("path: cannot append to ledger %s: short write (" % ledger_path)


def test_unwritable_ledger_is_reported(ledger_path, monkeypatch):
    def denied(*args, **kwargs):
        raise OSError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(ledger.os, "open", denied)
    with pytest.raises(LedgerError) as info:
        append_record(ledger_path, rec("promoted", "1.0.0"), T0)
    assert info.value.msg == "path: cannot append to ledger %s: Permission denied" % ledger_path


def _append_many(path, writer, count, barrier):
    barrier.wait()
    for index in range(count):
        append_record(path, rec("gate", "1.0.0", run_id="w%d" % writer,
                                gate={"index": index, "pad": "x" * 3000}), T0 + index)


def test_concurrent_appends_from_processes_never_interleave(tmp_path):
    context = multiprocessing.get_context("fork")
    path = str(tmp_path / "ledger.jsonl")
    writers, count = 6, 60
    barrier = context.Barrier(writers)
    processes = [context.Process(target=_append_many, args=(path, writer, count, barrier))
                 for writer in range(writers)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
        assert process.exitcode == 0
    parsed = read_records(read_ledger(path))
    assert parsed["torn_lines"] == 0 and parsed["bad_lines"] == []
    assert len(parsed["records"]) == writers * count
    for writer in range(writers):
        mine = [r["gate"]["index"] for r in parsed["records"] if r["run_id"] == "w%d" % writer]
        assert mine == list(range(count))


# ------------------------------------------------------------------------ properties

releases = st.sampled_from(["1.0.0", "1.1.0", "2.0.0", "2.1.0", "3.0.0", "3.1.0", "4.0.0"])
never_promoted = st.sampled_from(["9.0.0", "9.1.0", "9.2.0"])


@st.composite
def deploy_histories(draw):
    """Promotions (repeats allowed) interleaved with failed deploys of other releases."""
    records = []
    for index in range(draw(st.integers(min_value=1, max_value=8))):
        release = draw(releases)
        run_id = "d%d" % index
        if draw(st.booleans()):
            records.append(rec("started", release, run_id=run_id))
            records.append(rec("gate", release, run_id=run_id, gate={"verdict": "pass"}))
        records.append(rec("promoted", release, run_id=run_id))
        if draw(st.booleans()):
            bad_release = draw(never_promoted)
            records.append(rec("started", bad_release, run_id="x%d" % index))
            records.append(rec(draw(st.sampled_from(["rolled_back", "failed"])), bad_release,
                               run_id="x%d" % index))
    return records


@settings(max_examples=300)
@given(deploy_histories())
def test_consecutive_rollbacks_walk_back_through_the_promoted_history(history_records):
    """(a) Each rollback to "previous" lands on the next older promoted release, then on None."""
    records = stored(history_records)
    history = release_history(records)
    assert good_releases(records) == history
    current = last_good_release(records)
    assert current == history[0]
    for step in range(1, len(history) + 1):
        target = previous_good_release(records, current)
        expected = history[step] if step < len(history) else None
        assert target == expected
        if target is None:
            break
        assert target != current
        records = records + stored([rollback(target, current, run_id="rb%d" % step)], start=T0 + 1000 + step)
        assert last_good_release(records) == target
        current = target


@settings(max_examples=200)
@given(deploy_histories(), st.integers(min_value=0, max_value=5))
def test_rollback_never_returns_to_a_release_it_left(history_records, rollbacks):
    records = stored(history_records)
    left = set()
    current = last_good_release(records)
    for step in range(rollbacks):
        target = previous_good_release(records, current)
        if target is None:
            break
        assert target not in left
        left.add(current)
        records = records + stored([rollback(target, current, run_id="rb%d" % step)], start=T0 + 1000 + step)
        current = target


gate_values = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=20)),
    max_size=4,
)


@st.composite
def valid_records(draw):
    event = draw(st.sampled_from(EVENTS))
    release = draw(releases)
    record = dict(run_id=draw(st.from_regex(r"[A-Za-z0-9_.:-]{1,12}", fullmatch=True)),
                  event=event, release=release)
    if event == "rollback":
        record["from_release"] = draw(releases.filter(lambda other: other != release))
    if event == "gate":
        record["gate"] = draw(gate_values.filter(bool))
    if draw(st.booleans()):
        record["message"] = draw(st.text(max_size=40))
    if draw(st.booleans()):
        record["operator"] = draw(st.text(min_size=1, max_size=10))
    return record


def derived(parsed):
    records = parsed["records"]
    return (records, last_good_release(records), previous_good_release(records, "2.0.0"),
            release_history(records), good_releases(records), parsed["bad_lines"])


@settings(max_examples=300)
@given(st.lists(valid_records(), max_size=10), valid_records(), st.data())
def test_a_torn_final_line_never_changes_the_complete_lines(records, torn_record, data):
    """(b) Any prefix of a line (or stray text) at the end without a newline is ignored."""
    complete = text_of(records)
    line = format_line(build_record(torn_record, T0 + 99))
    torn = data.draw(st.one_of(
        st.integers(min_value=1, max_value=len(line) - 1).map(lambda cut: line[:cut]),
        st.text(min_size=1, max_size=50).filter(lambda text: "\n" not in text),
    ))
    whole = read_records(complete)
    cut = read_records(complete + torn)
    assert whole["torn_lines"] == 0
    assert cut["torn_lines"] == 1
    assert derived(cut) == derived(whole)
    assert whole["records"] == stored(records)


@settings(max_examples=200)
@given(st.lists(valid_records(), max_size=8), st.lists(st.text(max_size=60), max_size=5), st.randoms())
def test_garbage_lines_never_crash_and_never_hide_good_records(records, garbage, rnd):
    lines = [format_line(record) for record in stored(records)]
    junk = [text.replace("\n", " ") + "\n" for text in garbage]
    for text in junk:
        try:
            check_record(json.loads(text), option="", stored=True)
            assume(False)  # stray text that happens to be a valid record
        except (ValueError, LedgerError):
            pass
    mixed = list(lines)
    for text in junk:
        mixed.insert(rnd.randint(0, len(mixed)), text)
    parsed = read_records("".join(mixed))
    assert parsed["records"] == stored(records)
    assert len(parsed["bad_lines"]) == len([text for text in junk if text.strip()])
