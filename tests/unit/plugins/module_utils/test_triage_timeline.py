"""The triage window, log line times and the merged timeline."""

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError
from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_timeline import (
    backup_events,
    iso,
    ledger_events,
    line_time,
    merge,
    parse_since,
    render,
    window_lines,
)

NOW = 1796535000.0  # 2026-12-06T05:30:00Z


def test_since_as_a_duration_or_a_time():
    assert parse_since("2h", NOW) == NOW - 7200
    assert parse_since("30m", NOW) == NOW - 1800
    assert parse_since("2026-12-06T05:00:00Z", NOW) == NOW - 1800
    assert parse_since("2026-12-06T06:00:00+01:00", NOW) == NOW - 1800


def test_since_in_the_future_is_refused_by_name():
    with pytest.raises(ResultError) as error:
        parse_since("2026-12-06T07:30:00Z", NOW)
    assert error.value.msg == ("since: 2026-12-06T07:30:00Z is in the future (now is 2026-12-06T05:30:00.000Z); "
                               "the window must start in the past")


@pytest.mark.parametrize("value", ["yesterday", "2026-13-01T00:00:00Z", "", "2h ago", None])
def test_since_that_is_no_time_is_refused(value):
    with pytest.raises(ResultError, match=r"^since: .* is not a time; give an ISO 8601 UTC time"):
        parse_since(value, NOW)


@pytest.mark.parametrize("line,expected", [
    ("2026-12-06T05:00:00Z start", "2026-12-06T05:00:00.000Z"),
    ("2026-12-06 05:00:00,250 INFO x", "2026-12-06T05:00:00.250Z"),
    ("2026-12-06T06:00:00.5+01:00 x", "2026-12-06T05:00:00.500Z"),
    ("Dec  6 05:00:00 app1 demo[1]: x", "2026-12-06T05:00:00.000Z"),
    ('10.0.0.1 - - [06/Dec/2026:05:00:00 +0000] "GET / HTTP/1.1" 200', "2026-12-06T05:00:00.000Z"),
])
def test_line_times(line, expected):
    assert iso(line_time(line, NOW)) == expected


def test_a_line_without_time_has_none():
    assert line_time("    at frame 3", NOW) is None


def test_window_drops_older_lines_and_untimed_lines_inherit():
    lines = ["2026-12-06T04:00:00Z old\n", "  continuation of old\n", "2026-12-06T05:10:00Z new\n", "  trace\n"]
    kept, times = window_lines(lines, NOW - 1800, NOW)
    assert kept == lines[2:]
    assert times == [NOW - 1200, NOW - 1200]


def test_a_file_without_times_is_kept_whole():
    kept, times = window_lines(["a\n", "b\n"], NOW - 60, NOW)
    assert kept == ["a\n", "b\n"] and times == [None, None]


def test_ledger_gate_events_in_the_window():
    records = [
        {"ts": "2026-12-06T04:00:00.000Z", "event": "started", "release": "2.0.0", "run_id": "r0"},
        {"ts": "2026-12-06T05:10:00.000Z", "event": "gate", "release": "2.0.0", "run_id": "r1",
         "gate": {"verdict": "fail", "action": "rollback", "summary": "error ratio 5%"},
         "details": {"stage": {"percent": 10}}},
    ]
    events = ledger_events(records, "app1", NOW - 1800)
    assert events == [dict(ts=NOW - 1200, host="app1", source="ledger",
                           text="ledger gate release=2.0.0 run=r1 gate verdict=fail action=rollback stage=10 "
                                "(error ratio 5%)")]


def test_backup_events():
    archives = [{"name": "a.tar.zst", "kind": "scheduled", "release": "1.0.0", "created_epoch": NOW - 100,
                 "verified_epoch": NOW - 50, "last_verification_ok": True},
                {"name": "old.tar.zst", "created_epoch": NOW - 9000}]
    events = backup_events(archives, "app1", NOW - 1800)
    assert [e["text"] for e in events] == ["backup a.tar.zst kind=scheduled release=1.0.0",
                                           "backup a.tar.zst verified ok=True"]


def test_merge_sorts_across_hosts_and_keeps_source_order_for_equal_times():
    a = [dict(ts=3.0, host="app1", source="log", text="a3"), dict(ts=3.0, host="app1", source="log", text="a3b")]
    b = [dict(ts=1.0, host="app2", source="journal", text="b1"), dict(ts=5.0, host="app2", source="ledger", text="b5")]
    merged = merge(a, b)
    assert [e["text"] for e in merged] == ["b1", "a3", "a3b", "b5"]
    assert render(merged[:1]) == "1970-01-01T00:00:01.000Z app2 journal b1\n"
