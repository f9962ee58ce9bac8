# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Age-based cleanup: the keep-minimum, protected paths, symlinks, bad sets."""

from __future__ import annotations

import os

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import cleanup
from ansible_collections.fleetops.lifecycle.plugins.module_utils.change_policy import parse_window
from hypothesis import given
from hypothesis import strategies as st

NOW = 1_800_000_000.0
DAY = 86400.0


def a_set(**overrides):
    return cleanup.check_set(dict({"name": "logs", "path": "/var/log/demo", "max_age": 7 * DAY, "keep_min": 2},
                                  **overrides), 0)


def entries(ages_in_days):
    return [{"path": "/var/log/demo/f%d" % i, "mtime": NOW - age * DAY, "is_dir": False}
            for i, age in enumerate(ages_in_days)]


def test_old_entries_go_but_the_newest_minimum_stays():
    delete, keep = cleanup.plan(entries([30, 20, 10, 1]), a_set(), NOW)
    assert [d["path"] for d in delete] == ["/var/log/demo/f1", "/var/log/demo/f0"]
    assert {k["path"]: k["reason"] for k in keep} == {
        "/var/log/demo/f3": "one of the newest 2 kept", "/var/log/demo/f2": "one of the newest 2 kept"}


def test_everything_old_still_keeps_the_minimum():
    delete, keep = cleanup.plan(entries([90, 80, 70]), a_set(keep_min=1), NOW)
    assert [k["path"] for k in keep] == ["/var/log/demo/f2"] and len(delete) == 2


def test_protected_paths_stay_and_do_not_count_toward_the_minimum():
    delete, keep = cleanup.plan(entries([90, 80, 70]), a_set(keep_min=1, protect=["/var/log/demo/f0"]), NOW)
    assert [d["path"] for d in delete] == ["/var/log/demo/f1"]
    assert {k["path"] for k in keep} == {"/var/log/demo/f0", "/var/log/demo/f2"}


@given(st.lists(st.floats(min_value=0, max_value=400), max_size=30), st.integers(0, 10), st.floats(0.5, 100))
def test_never_below_the_minimum_and_never_a_young_entry(ages, keep_min, max_age_days):
    cleanup_set = a_set(keep_min=keep_min, max_age=max_age_days * DAY)
    delete, keep = cleanup.plan(entries(ages), cleanup_set, NOW)
    assert len(keep) >= min(keep_min, len(ages)) and len(delete) + len(keep) == len(ages)
    assert all(d["age"] > cleanup_set["max_age"] for d in delete)
    # Entries of the same age are taken in path order (plan's documented tie-break).
    newest = sorted(entries(ages), key=lambda e: (-e["mtime"], e["path"]))[:keep_min]
    assert {e["path"] for e in newest} <= {k["path"] for k in keep}


@pytest.mark.parametrize("item, message", [
    ({"name": "x", "path": "/", "max_age": 1}, "sets[0] (x) path='/': must be an absolute directory other than /"),
    ({"name": "x", "path": "rel", "max_age": 1}, "sets[0] (x) path='rel': must be an absolute directory"),
    ({"name": "x", "path": "/tmp/a", "max_age": 0}, "sets[0] (x) max_age=0: must be a positive number of seconds"),
    ({"name": "x", "path": "/tmp/a", "max_age": 1, "keep_min": -1}, "sets[0] (x) keep_min=-1: must be an integer >= 0"),
    ("logs", "sets[0]='logs': must be a mapping"),
])
def test_bad_sets_are_refused_by_name(item, message):
    with pytest.raises(cleanup.CleanupError) as exc:
        cleanup.check_set(item, 0)
    assert str(exc.value).startswith(message)


def test_scan_skips_symlinks_and_directories_unless_asked(tmp_path):
    (tmp_path / "a.log").write_text("x")
    (tmp_path / "b.txt").write_text("x")
    (tmp_path / "dir.log").mkdir()
    (tmp_path / "link.log").symlink_to("/etc/passwd")
    files = cleanup.scan(cleanup.check_set({"path": str(tmp_path), "pattern": "*.log", "max_age": 1}, 0))
    assert [os.path.basename(e["path"]) for e in files] == ["a.log"]
    both = cleanup.scan(cleanup.check_set({"path": str(tmp_path), "pattern": "*.log", "max_age": 1,
                                           "directories": True}, 0))
    assert sorted(os.path.basename(e["path"]) for e in both) == ["a.log", "dir.log"]
    assert cleanup.scan(cleanup.check_set({"path": str(tmp_path / "missing"), "max_age": 1}, 0)) == []


def test_remove_leaves_an_entry_that_became_a_symlink(tmp_path):
    victim = tmp_path / "keep-me"
    victim.write_text("x")
    swapped = tmp_path / "old.log"
    swapped.symlink_to(victim)
    assert cleanup.remove(str(swapped)) is False and victim.exists()
    release = tmp_path / "release"
    (release / "sub").mkdir(parents=True)
    assert cleanup.remove(str(release)) is True and not release.exists()


def test_listening_ports_and_the_allow_list():
    output = ("LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\nLISTEN 0 4096 [::]:8081 [::]:*\n"
              "LISTEN 0 5 127.0.0.1:6000 0.0.0.0:*\nnonsense\n")
    assert cleanup.listening_ports(output) == [22, 6000, 8081]
    assert cleanup.unexpected_ports([22, 6000, 8081], [22, "8081"]) == [6000]


@pytest.mark.parametrize("spec, schedule, calendar", [
    ("first sun 02:00-04:00", "window", "Sun *-*-01..07 02:00:00"),
    ("first sun 02:00-04:00", "weekly", "Sun *-*-* 02:00:00"),
    ("first sun 02:00-04:00", "daily", "*-*-* 02:00:00"),
    ("last fri 22:30-23:30", "window", "Fri *-*~07/1 22:30:00"),
    ("every wed 01:00-02:00", "window", "Wed *-*-* 01:00:00"),
])
def test_timers_start_with_the_window(spec, schedule, calendar):
    assert cleanup.window_calendar(parse_window(spec), schedule) == calendar


def test_action_table_aligns_columns():
    table = cleanup.action_table([{"what": "cleanup", "target": "/var/log/demo/a.gz", "action": "delete",
                                   "detail": "older than 5 s"}, {"what": "logrotate", "target": "x", "action": "ok"}])
    lines = table.splitlines()
    assert lines[0].split() == ["what", "target", "action", "detail"] and len(lines) == 3
    assert lines[0].index("target") == lines[1].index("/var/log/demo/a.gz")


def test_cleanup_actions_become_rows_and_the_dry_run_says_would():
    action = {"set": "logs", "path": "/var/log/demo/a.gz", "age": 100.0, "action": "delete", "reason": "older than 5 s"}
    assert cleanup.table_row(action, dry_run=True) == ("cleanup logs", "/var/log/demo/a.gz", "would delete",
                                                       "older than 5 s (age 100 s)")
    assert cleanup.table_row(action)[2] == "delete"


def test_run_sets_reports_what_it_removed_before_a_failure(tmp_path, monkeypatch):
    for n in range(3):
        path = tmp_path / ("old.%d" % n)
        path.write_text("x")
        os.utime(path, (1000 + n, 1000 + n))
    calls = []

    def remove_or_fail(path):
        calls.append(path)
        if len(calls) == 2:
            raise PermissionError(13, "Permission denied", path)
        os.unlink(path)
        return True

    monkeypatch.setattr(cleanup, "remove", remove_or_fail)
    removed = []
    sets = [{"name": "logs", "path": str(tmp_path), "max_age": 10, "keep_min": 0}]
    with pytest.raises(PermissionError):
        cleanup.run_sets(sets, 1_000_000, removed=removed)
    assert removed == [calls[0]]


def test_run_sets_checks_every_set_before_removing_anything(tmp_path):
    (tmp_path / "old").write_text("x")
    os.utime(tmp_path / "old", (1000, 1000))
    sets = [{"name": "logs", "path": str(tmp_path), "max_age": 10, "keep_min": 0},
            {"name": "bad", "path": "relative", "max_age": 10}]
    with pytest.raises(cleanup.CleanupError, match=r"sets\[1\] \(bad\) path='relative'"):
        cleanup.run_sets(sets, 1_000_000)
    assert (tmp_path / "old").exists()
