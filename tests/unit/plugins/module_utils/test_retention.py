# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup retention: restic-compatible counts, age windows, safety invariants.

Expected results are computed here with plain date arithmetic (Mondays, month numbers,
``strftime('%G-W%V')``), never by calling module_utils.retention a second way.

Import path: tests/unit/conftest.py puts the collection on sys.path.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import retention
from hypothesis import given, settings
from hypothesis import strategies as st

UTC = timezone.utc
BUCKET_PREFIXES = ("daily ", "weekly ", "monthly ", "oldest ")


def select(archives, **options):
    return retention.retention_select(archives, **options)


def kept(result):
    return [item["name"] for item in result["keep"]]


def deleted(result):
    return [item["name"] for item in result["delete"]]


def reasons(result):
    return {item["name"]: item["reasons"] for item in result["keep"]}


def archive(name, created, **extra):
    item = {"name": name, "created": created}
    item.update(extra)
    return item


def daily_archives(days, hour=2):
    """One archive per date, named after it, newest first."""
    return [
        archive("host-%s" % day.isoformat(), "%sT%02d:00:00+00:00" % (day.isoformat(), hour))
        for day in sorted(days, reverse=True)
    ]


def names_of(days):
    return {"host-%s" % day.isoformat() for day in days}


def monday(day):
    return day - timedelta(days=day.weekday())


def week_label(day):
    return day.strftime("%G-W%V")


# ------------------------------------------------ examples from restic's documentation

# restic doc, "Removing snapshots according to a policy": one backup every Sunday for
# 12 weeks; `forget --keep-daily 4` keeps the last four snapshots (the last four
# Sundays), because only days that have a snapshot are counted.
RESTIC_SUNDAYS = [
    ("0a1f9759", "2019-09-01 11:00:00"),
    ("46cfe4d5", "2019-09-08 11:00:00"),
    ("f6b1f037", "2019-09-15 11:00:00"),
    ("eb430a5d", "2019-09-22 11:00:00"),
    ("8cf1cb9a", "2019-09-29 11:00:00"),
    ("5d33b116", "2019-10-06 11:00:00"),
    ("b9553125", "2019-10-13 11:00:00"),
    ("e1a7b58b", "2019-10-20 11:00:00"),
    ("8f8018c0", "2019-10-27 11:00:00"),
    ("59403279", "2019-11-03 11:00:00"),
    ("dfee9fb4", "2019-11-10 11:00:00"),
    ("e1ae2f40", "2019-11-17 11:00:00"),
]


def test_restic_doc_twelve_sundays_keep_daily_4():
    archives = [archive(name, created + "+01:00") for name, created in RESTIC_SUNDAYS]
    result = select(archives, keep_daily=4, keep_weekly=0, keep_monthly=0)
    assert kept(result) == ["e1ae2f40", "dfee9fb4", "59403279", "8f8018c0"]
    assert deleted(result) == [
        "e1a7b58b",
        "b9553125",
        "5d33b116",
        "8cf1cb9a",
        "eb430a5d",
        "f6b1f037",
        "46cfe4d5",
        "0a1f9759",
    ]
    assert reasons(result) == {
        "e1ae2f40": ["daily 2019-11-17", "newest successful"],
        "dfee9fb4": ["daily 2019-11-10"],
        "59403279": ["daily 2019-11-03"],
        "8f8018c0": ["daily 2019-10-27"],
    }
    assert result["delete"][0] == {
        "name": "e1a7b58b",
        "created": "2019-10-20 11:00:00+01:00",
        "reason": "older than every period the policy keeps (4 daily; only periods with a successful backup count)",
    }


def test_restic_doc_twelve_sundays_age_mode_is_calendar_days_instead():
    # The same history with a 4-day *window* keeps only the newest Sunday: the other
    # Sundays are 7 or more calendar days before it.
    archives = [archive(name, created + "+01:00") for name, created in RESTIC_SUNDAYS]
    result = select(archives, mode="age", keep_daily=4, keep_weekly=0, keep_monthly=0)
    assert kept(result) == ["e1ae2f40"]
    assert result["delete"][0]["reason"] == (
        "outside every window (daily within 4 days) ending at the newest successful backup 'e1ae2f40' of 2019-11-17"
    )


def test_restic_doc_daily_backups_keep_daily_7_weekly_5_monthly_12():
    # restic doc: with one backup every day, `--keep-daily 7 --keep-weekly 5
    # --keep-monthly 12` keeps the 7 most recent dailies, 4 last-day-of-the-week ones
    # (the 7 dailies already include one weekly) and 12 or 11 last-day-of-the-month
    # ones. The newest day here is Sunday 2019-11-17, so its month's newest is a daily
    # too: 7 + 4 + 11 archives.
    newest = date(2019, 11, 17)
    days = [newest - timedelta(days=n) for n in range(3 * 365)]
    result = select(daily_archives(days), keep_daily=7, keep_weekly=5, keep_monthly=12)
    why = reasons(result)
    assert len(why) == 22

    dailies = {name for name, found in why.items() if any(r.startswith("daily ") for r in found)}
    weekly_only = {name for name, found in why.items() if all(r.startswith("weekly ") for r in found)}
    monthly_only = {name for name, found in why.items() if all(r.startswith("monthly ") for r in found)}
    assert dailies == names_of(newest - timedelta(days=n) for n in range(7))
    assert weekly_only == names_of(newest - timedelta(weeks=n) for n in range(1, 5))
    assert all(date.fromisoformat(name[5:]).weekday() == 6 for name in weekly_only)  # Sundays
    month_ends = set()
    for back in range(1, 12):
        first_of_next = date(2019 + (11 - back) // 12, (11 - back) % 12 + 1, 1)
        month_ends.add(first_of_next - timedelta(days=1))
    assert monthly_only == names_of(month_ends)
    # A snapshot needs to match only one option, and the newest one matches all three.
    assert why["host-2019-11-17"] == ["daily 2019-11-17", "weekly 2019-W46", "monthly 2019-11", "newest successful"]


def test_keep_daily_counts_days_that_have_a_backup_and_keeps_the_newest_of_each():
    # Several backups per day, and gaps: keep_daily=3 keeps the newest backup of the
    # last three days *with* backups, which span eleven calendar days here.
    archives = [
        archive("d11-late", "2026-11-11T23:59:59+00:00"),
        archive("d11-early", "2026-11-11T00:00:00+00:00"),
        archive("d08", "2026-11-08T12:00:00+00:00"),
        archive("d01-b", "2026-11-01T18:00:00+00:00"),
        archive("d01-a", "2026-11-01T06:00:00+00:00"),
        archive("d31", "2026-10-31T06:00:00+00:00"),
    ]
    result = select(archives, keep_daily=3, keep_weekly=0, keep_monthly=0)
    assert kept(result) == ["d11-late", "d08", "d01-b"]
    assert dict((item["name"], item["reason"]) for item in result["delete"]) == {
        "d11-early": "not the newest successful backup of daily 2026-11-11 (kept: 'd11-late')",
        "d01-a": "not the newest successful backup of daily 2026-11-01 (kept: 'd01-b')",
        "d31": "older than every period the policy keeps (3 daily; only periods with a successful backup count)",
    }


def test_buckets_are_independent_and_reasons_are_all_listed():
    # 14 daily backups, Mon 2026-11-16 .. Sun 2026-11-29. keep_daily=3 keeps Fri-Sun;
    # keep_weekly=2 keeps the newest of W48 (Sun 29th, already a daily) and of W47
    # (Sun 22nd): the weekly bucket is not reduced by what the daily bucket kept.
    days = [date(2026, 11, 16) + timedelta(days=n) for n in range(14)]
    result = select(daily_archives(days), keep_daily=3, keep_weekly=2, keep_monthly=0)
    assert reasons(result) == {
        "host-2026-11-29": ["daily 2026-11-29", "weekly 2026-W48", "newest successful"],
        "host-2026-11-28": ["daily 2026-11-28"],
        "host-2026-11-27": ["daily 2026-11-27"],
        "host-2026-11-22": ["weekly 2026-W47"],
    }


def test_weeks_are_iso_weeks_monday_to_sunday():
    # restic: weeks are Monday 00:00 to Sunday 23:59, on natural boundaries.
    archives = [
        archive("mon-0000", "2026-11-30T00:00:00+00:00"),
        archive("sun-2359", "2026-11-29T23:59:59+00:00"),
        archive("sun-0000", "2026-11-29T00:00:00+00:00"),
        archive("mon-prev", "2026-11-23T00:00:00+00:00"),
    ]
    result = select(archives, keep_daily=0, keep_weekly=2, keep_monthly=0, keep_oldest=False)
    assert reasons(result) == {
        "mon-0000": ["weekly 2026-W49", "newest successful"],
        "sun-2359": ["weekly 2026-W48"],
    }


def test_iso_week_year_at_new_year():
    # Thu 2020-12-31 and Sun 2021-01-03 are both in ISO week 2020-W53; Mon 2019-12-30
    # is in 2020-W01.
    archives = [
        archive("jan03", "2021-01-03T10:00:00Z"),
        archive("dec31", "2020-12-31T10:00:00Z"),
        archive("dec28", "2020-12-28T10:00:00Z"),
        archive("dec27", "2020-12-27T10:00:00Z"),
        archive("y19dec30", "2019-12-30T10:00:00Z"),
        archive("y19dec29", "2019-12-29T10:00:00Z"),
    ]
    result = select(archives, keep_daily=0, keep_weekly=10, keep_monthly=0, keep_oldest=False)
    assert reasons(result) == {
        "jan03": ["weekly 2020-W53", "newest successful"],
        "dec27": ["weekly 2020-W52"],
        "y19dec30": ["weekly 2020-W01"],
        "y19dec29": ["weekly 2019-W52"],
    }


def test_keep_oldest_when_a_bucket_is_not_used_up():
    # restic 0.17+: if there are fewer periods than a bucket's count, the oldest snapshot
    # is kept too, marked "oldest".
    archives = [
        archive("d3", "2026-11-03T02:00:00Z"),
        archive("d2", "2026-11-02T02:00:00Z"),
        archive("d1-second", "2026-11-01T14:00:00Z"),
        archive("d1-first", "2026-11-01T02:00:00Z"),
    ]
    result = select(archives, keep_daily=7, keep_weekly=0, keep_monthly=0)
    assert kept(result) == ["d3", "d2", "d1-second", "d1-first"]
    assert reasons(result)["d1-first"] == ["oldest daily 2026-11-01"]

    result = select(archives, keep_daily=7, keep_weekly=0, keep_monthly=0, keep_oldest=False)
    assert kept(result) == ["d3", "d2", "d1-second"]

    # A bucket that is used up keeps no oldest.
    result = select(archives, keep_daily=3, keep_weekly=0, keep_monthly=0)
    assert kept(result) == ["d3", "d2", "d1-second"]


def test_empty_policy_is_refused():
    # restic 0.14 keeps everything on an empty policy; we refuse it as a likely mistake, in both modes.
    for mode in ("counts", "age"):
        with pytest.raises(ValueError) as exc:
            select([archive("a", "2026-11-30T00:00:00Z")], mode=mode, keep_daily=0, keep_weekly=0, keep_monthly=0)
        assert str(exc.value).startswith("keep_daily, keep_weekly and keep_monthly are all 0")


# ---------------------------------------------------------------------- age windows


def test_age_windows_are_anchored_at_the_newest_successful_backup_not_now():
    # Backups stopped in 2020: the windows still end at the last successful backup,
    # so the host keeps 30 dailies. The newer failed backups do not move the anchor.
    ok_days = [date(2020, 6, 30) - timedelta(days=n) for n in range(60)]
    archives = daily_archives(ok_days)
    failed = [archive("failed-%d" % n, "2020-07-%02dT02:00:00Z" % n, ok=False) for n in range(1, 6)]
    result = select(failed + archives, mode="age", keep_daily=30, keep_weekly=0, keep_monthly=0)
    assert set(kept(result)) == names_of(ok_days[:30]) | {"failed-%d" % n for n in range(1, 6)}
    assert reasons(result)["failed-5"] == [
        "failed, kept: not older than the newest successful backup 'host-2020-06-30'"
    ]
    assert reasons(result)["host-2020-06-30"] == ["daily 2020-06-30", "newest successful"]


def test_age_weekly_and_monthly_windows_include_the_anchor_period():
    # Anchor Wed 2026-11-18 (W47). keep_weekly=2: W47 and W46; keep_monthly=2: Nov, Oct.
    archives = [
        archive("w47-wed", "2026-11-18T02:00:00Z"),
        archive("w47-mon", "2026-11-16T02:00:00Z"),
        archive("w46-sun", "2026-11-15T02:00:00Z"),
        archive("w46-mon", "2026-11-09T02:00:00Z"),
        archive("w45-sun", "2026-11-08T02:00:00Z"),
        archive("oct-31", "2026-10-31T02:00:00Z"),
        archive("oct-01", "2026-10-01T02:00:00Z"),
        archive("sep-30", "2026-09-30T02:00:00Z"),
    ]
    result = select(archives, mode="age", keep_daily=0, keep_weekly=2, keep_monthly=2)
    assert reasons(result) == {
        "w47-wed": ["weekly 2026-W47", "monthly 2026-11", "newest successful"],
        "w46-sun": ["weekly 2026-W46"],
        "oct-31": ["monthly 2026-10"],
    }
    assert dict((item["name"], item["reason"]) for item in result["delete"])["sep-30"] == (
        "outside every window (weekly within 2 weeks, monthly within 2 months) ending at the newest "
        "successful backup 'w47-wed' of 2026-11-18"
    )


# ------------------------------------------------------------------- safety rules


def test_pinned_and_newest_verified_are_kept_beyond_the_policy():
    archives = daily_archives([date(2026, 11, 30) - timedelta(days=n) for n in range(10)])
    archives.append(archive("golden", "2025-01-01T00:00:00Z", pinned=True))
    archives.append(archive("verified-old", "2025-06-01T00:00:00Z", verified="2025-06-02T00:00:00Z"))
    archives.append(archive("verified-older", "2025-05-01T00:00:00Z", verified=True))
    result = select(archives, keep_daily=2, keep_weekly=0, keep_monthly=0)
    assert kept(result) == ["host-2026-11-30", "host-2026-11-29", "verified-old", "golden"]
    assert reasons(result)["verified-old"] == ["newest verified"]
    assert reasons(result)["golden"] == ["pinned"]
    assert "verified-older" in deleted(result)


def test_failed_backups_never_count_and_older_ones_are_deleted():
    archives = [
        archive("newer-failed", "2026-11-30T03:00:00Z", ok=False),
        archive("today", "2026-11-30T02:00:00Z"),
        archive("yesterday-failed-late", "2026-11-29T23:00:00Z", ok=False),
        archive("yesterday", "2026-11-29T02:00:00Z"),
        archive("old-failed-pinned", "2026-11-01T02:00:00Z", ok=False, pinned=True),
    ]
    result = select(archives, keep_daily=7, keep_weekly=0, keep_monthly=0, keep_oldest=False)
    assert reasons(result) == {
        "newer-failed": ["failed, kept: not older than the newest successful backup 'today'"],
        "today": ["daily 2026-11-30", "newest successful"],
        "yesterday": ["daily 2026-11-29"],
        "old-failed-pinned": ["pinned"],
    }
    assert result["delete"] == [
        {
            "name": "yesterday-failed-late",
            "created": "2026-11-29T23:00:00Z",
            "reason": "failed backup (ok: false) older than the newest successful backup 'today'",
        }
    ]


def test_nothing_is_deleted_when_no_backup_succeeded():
    archives = [archive("f%d" % n, "2026-11-%02dT02:00:00Z" % n, ok=False) for n in range(1, 5)]
    for mode in ("counts", "age"):
        result = select(archives, mode=mode)
        assert kept(result) == ["f4", "f3", "f2", "f1"]
        assert result["delete"] == []
        assert reasons(result)["f1"] == ["failed, kept: no backup has succeeded yet"]


def test_no_archives():
    assert select([]) == {"keep": [], "delete": []}
    assert select([], mode="age") == {"keep": [], "delete": []}


# ------------------------------------------------------------ timestamps, time zones


@pytest.mark.parametrize(
    "created, expected",
    [
        ("2026-11-30T02:00:00Z", datetime(2026, 11, 30, 2, tzinfo=UTC)),
        ("2026-11-30T02:00:00+01:00", datetime(2026, 11, 30, 1, tzinfo=UTC)),
        ("2026-11-30 02:00+0100", datetime(2026, 11, 30, 1, tzinfo=UTC)),
        ("2026-11-30T02:00:00.250-05", datetime(2026, 11, 30, 7, 0, 0, 250000, tzinfo=UTC)),
        ("2026-11-30T02:00:00,123456789+00:00", datetime(2026, 11, 30, 2, 0, 0, 123456, tzinfo=UTC)),
        (1796004000, datetime(2026, 11, 30, 2, tzinfo=UTC)),
        (1796004000.5, datetime(2026, 11, 30, 2, 0, 0, 500000, tzinfo=UTC)),
        ("1796004000", datetime(2026, 11, 30, 2, tzinfo=UTC)),
        (datetime(2026, 11, 30, 2, tzinfo=UTC), datetime(2026, 11, 30, 2, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(created, expected):
    assert retention.parse_timestamp(created) == expected


def test_calendar_timezone_option():
    # 23:30 at -02:00 is 01:30 UTC the next day.
    archives = [
        archive("late", "2026-11-30T23:30:00-02:00"),
        archive("early", "2026-11-30T08:00:00-02:00"),
    ]
    as_written = select(archives, keep_daily=5, keep_weekly=0, keep_monthly=0, keep_oldest=False)
    assert reasons(as_written) == {"late": ["daily 2026-11-30", "newest successful"]}
    in_utc = select(archives, keep_daily=5, keep_weekly=0, keep_monthly=0, keep_oldest=False, timezone="UTC")
    assert reasons(in_utc) == {"late": ["daily 2026-12-01", "newest successful"], "early": ["daily 2026-11-30"]}
    in_tokyo = select(archives, keep_daily=5, keep_weekly=0, keep_monthly=0, keep_oldest=False, timezone="+09:00")
    assert reasons(in_tokyo) == {"late": ["daily 2026-12-01", "newest successful"], "early": ["daily 2026-11-30"]}


def test_same_instant_greater_name_is_newer_and_created_is_passed_through():
    archives = [archive("backup-1", 1796004000), archive("backup-2", "2026-11-30T03:00:00+01:00")]
    result = select(archives, keep_daily=1, keep_weekly=0, keep_monthly=0)
    assert result == {
        "keep": [
            {
                "name": "backup-2",
                "created": "2026-11-30T03:00:00+01:00",
                "reasons": ["daily 2026-11-30", "newest successful"],
            }
        ],
        "delete": [
            {
                "name": "backup-1",
                "created": 1796004000,
                "reason": "not the newest successful backup of daily 2026-11-30 (kept: 'backup-2')",
            }
        ],
    }


# ------------------------------------------------------------------------ validation


def _one(**extra):
    return [archive("b1", "2026-11-30T02:00:00Z", **extra)]


@pytest.mark.parametrize(
    "archives, options, message",
    [
        (_one(), {"keep_daily": -1}, "keep_daily must be a non-negative integer, got -1"),
        (_one(), {"keep_weekly": "12"}, "keep_weekly must be a non-negative integer, got '12'"),
        (_one(), {"keep_monthly": 1.5}, "keep_monthly must be a non-negative integer, got 1.5"),
        (_one(), {"keep_daily": True}, "keep_daily must be a non-negative integer, got True"),
        (_one(), {"mode": "fifo"}, "mode must be one of counts, age, got 'fifo'"),
        (
            _one(),
            {"timezone": "Europe/Berlin"},
            "timezone must be 'archive', 'UTC' or a UTC offset such as '+02:00', got 'Europe/Berlin'",
        ),
        (_one(), {"keep_oldest": "yes"}, "keep_oldest must be true, false or null, got 'yes'"),
        (
            _one(),
            {"mode": "age", "keep_oldest": True},
            "keep_oldest applies to mode 'counts' only (age windows end at the newest successful backup), got true",
        ),
        ("b1", {}, "archives must be a list of archive dicts (name, created, ...), got 'b1'"),
        ({"name": "b1"}, {}, "archives must be a list of archive dicts (name, created, ...), got {'name': 'b1'}"),
        (["b1"], {}, "archives[0] must be a dict with name and created, got 'b1'"),
        ([{"created": "2026-11-30T02:00:00Z"}], {}, "archives[0].name must be a non-empty string, got None"),
        ([{"name": "", "created": 1}], {}, "archives[0].name must be a non-empty string, got ''"),
        (
            _one() + _one(),
            {},
            "archives[1].name 'b1' is a duplicate of archives[0]: archive names must be unique",
        ),
        ([{"name": "b1"}], {}, "archive 'b1' (archives[0]) has no created time"),
        (
            [archive("b1", "yesterday")],
            {},
            "archive 'b1': created 'yesterday' cannot be parsed: not an ISO 8601 date and time "
            "(YYYY-MM-DDTHH:MM[:SS[.ffffff]]+HH:MM) or epoch seconds",
        ),
        (
            [archive("b1", "2026-11-30T02:00:00")],
            {},
            "archive 'b1': created '2026-11-30T02:00:00' cannot be parsed: it has no timezone: "
            "add Z or an offset such as +00:00, or give epoch seconds",
        ),
        (
            [archive("b1", "2026-02-30T02:00:00Z")],
            {},
            "archive 'b1': created '2026-02-30T02:00:00Z' cannot be parsed: not a valid date and time "
            "(day is out of range for month)",
        ),
        (
            [archive("b1", "2026-11-30T02:00:00+25:00")],
            {},
            "archive 'b1': created '2026-11-30T02:00:00+25:00' cannot be parsed: the UTC offset '+25:00' is not valid",
        ),
        (
            [archive("b1", datetime(2026, 11, 30))],
            {},
            "archive 'b1': created datetime.datetime(2026, 11, 30, 0, 0) cannot be parsed: the datetime has no "
            "timezone",
        ),
        (
            [archive("b1", True)],
            {},
            "archive 'b1': created True cannot be parsed: a boolean is not a timestamp",
        ),
        (
            [archive("b1", float("nan"))],
            {},
            "archive 'b1': created nan cannot be parsed: not a finite number",
        ),
        (_one(ok="false"), {}, "archive 'b1': ok must be true or false, got 'false'"),
        (_one(pinned=1), {}, "archive 'b1': pinned must be true or false, got 1"),
        (
            _one(verified="last week"),
            {},
            "archive 'b1': verified must be true, false or the time of the last verification, got 'last week': "
            "not an ISO 8601 date and time (YYYY-MM-DDTHH:MM[:SS[.ffffff]]+HH:MM) or epoch seconds",
        ),
    ],
)
def test_bad_input_names_option_and_value(archives, options, message):
    with pytest.raises(ValueError) as exc:
        select(archives, **options)
    assert str(exc.value) == message


@pytest.mark.parametrize("created", [10**20, 10**400, "99999999999999999999", -(10**20)])
def test_epoch_out_of_range_names_the_archive(created):
    with pytest.raises(ValueError) as exc:
        select([archive("huge", created)])
    assert str(exc.value).startswith("archive 'huge': created %r cannot be parsed: out of range" % (created,))


# ---------------------------------------------------- 400 synthetic daily archives

NEWEST = date(2026, 11, 30)  # a Monday, ISO week 2026-W49


def expected_counts(days, keep_daily, keep_weekly, keep_monthly):
    """The documented restic semantics by date arithmetic: newest day of each of the
    last n days / Monday-weeks / (year, month) months that have a backup."""
    days = sorted(days, reverse=True)
    daily = days[:keep_daily]
    weeks = {}
    months = {}
    for day in days:
        weeks.setdefault(monday(day), day)  # first seen while walking newest first
        months.setdefault((day.year, day.month), day)
    weekly = sorted(weeks.values(), reverse=True)[:keep_weekly]
    monthly = sorted(months.values(), reverse=True)[:keep_monthly]
    return daily, weekly, monthly


def expected_age(days, keep_daily, keep_weekly, keep_monthly):
    """Calendar windows ending with the newest backup's day, Monday-week and month."""
    days = sorted(days, reverse=True)
    anchor = days[0]
    daily = [day for day in days if (anchor - day).days < keep_daily]
    weeks = {}
    months = {}
    for day in days:
        if (monday(anchor) - monday(day)).days < 7 * keep_weekly:
            weeks.setdefault(monday(day), day)
        if (anchor.year - day.year) * 12 + anchor.month - day.month < keep_monthly:
            months.setdefault((day.year, day.month), day)
    return daily, sorted(weeks.values(), reverse=True), sorted(months.values(), reverse=True)


def expected_reasons(daily, weekly, monthly, newest):
    expected = {}
    for day in daily:
        expected.setdefault(day, []).append("daily %s" % day.isoformat())
    for day in weekly:
        expected.setdefault(day, []).append("weekly %s" % week_label(day))
    for day in monthly:
        expected.setdefault(day, []).append("monthly %s" % day.strftime("%Y-%m"))
    expected[newest].append("newest successful")
    return {"host-%s" % day.isoformat(): found for day, found in expected.items()}


FOUR_HUNDRED = [NEWEST - timedelta(days=n) for n in range(400)]


@pytest.mark.parametrize("mode, expected", [("counts", expected_counts), ("age", expected_age)])
def test_400_daily_archives_keep_exactly_the_documented_set(mode, expected):
    archives = daily_archives(FOUR_HUNDRED)
    result = select(archives, mode=mode, keep_daily=30, keep_weekly=12, keep_monthly=12)

    daily, weekly, monthly = expected(FOUR_HUNDRED, 30, 12, 12)
    assert len(daily) == 30
    assert len(weekly) == 12
    assert len(monthly) == 12
    assert reasons(result) == expected_reasons(daily, weekly, monthly, NEWEST)
    # 30 dailies (Nov 1-30), 6 Sundays of W38-W43 and 11 month ends Dec 2025 - Oct 2026.
    assert len(result["keep"]) == 47
    assert len(result["delete"]) == 353
    assert set(kept(result)) | set(deleted(result)) == names_of(FOUR_HUNDRED)
    assert reasons(result)["host-2026-09-20"] == ["weekly 2026-W38"]
    assert reasons(result)["host-2025-12-31"] == ["monthly 2025-12"]
    assert "host-2025-11-30" in deleted(result)
    assert "host-2026-09-13" in deleted(result)


def test_400_archives_with_gaps_counts_reach_further_back_than_age_windows():
    # Every 7th day missing and a 20-day outage just before the newest 5 days.
    days = [day for n, day in enumerate(FOUR_HUNDRED) if n % 7 != 3 and not 5 <= n < 25]
    assert len(days) == 326
    archives = daily_archives(days)
    results = {}
    for mode, expected in (("counts", expected_counts), ("age", expected_age)):
        result = select(archives, mode=mode)
        daily, weekly, monthly = expected(days, 30, 12, 12)
        assert reasons(result) == expected_reasons(daily, weekly, monthly, NEWEST), mode
        results[mode] = set(kept(result))
    # counts keeps 30 days *with* a backup (back to 2026-10-07), age only those within
    # the last 30 calendar days: Nov 1-5 and Nov 26-30 without the missing Nov 27.
    assert results["age"] < results["counts"]
    counts_daily, _weekly, _monthly = expected_counts(days, 30, 12, 12)
    age_daily, _weekly, _monthly = expected_age(days, 30, 12, 12)
    assert min(counts_daily) == date(2026, 10, 7)
    assert sorted(age_daily) == [date(2026, 11, d) for d in (1, 2, 3, 4, 5, 26, 28, 29, 30)]


# --------------------------------------------------------------- property tests

OFFSETS = [
    timezone.utc,
    timezone(timedelta(hours=2)),
    timezone(timedelta(hours=-5)),
    timezone(timedelta(hours=5, minutes=30)),
]
BASE = datetime(2025, 1, 1, tzinfo=UTC)


# Built once: a strategy made inside the draw loop is validated again at every draw,
# which took most of these tests' time.
_MINUTES = st.one_of(st.integers(0, 500 * 24 * 60), st.integers(0, 3 * 24 * 60))
_FORMS = st.sampled_from(["iso", "epoch", "datetime"])
_OFFSET_CHOICES = st.sampled_from(OFFSETS)
_OK_VALUES = st.sampled_from([True, True, True, False, None])
_PINNED_VALUES = st.sampled_from([False, False, False, False, True, None])
_VERIFIED_VALUES = st.sampled_from([None, False, False, True, "2027-01-01T00:00:00Z", 1798761600])


@st.composite
def archive_lists(draw, max_size=40):
    """Archives over ~500 days, clustered or spread, in several formats and offsets.

    Returns (archives, facts) where facts maps a name to (instant, local day as written,
    ok, pinned, verified).
    """
    count = draw(st.integers(min_value=0, max_value=max_size))
    archives = []
    facts = {}
    for index in range(count):
        minutes = draw(_MINUTES)
        instant = BASE + timedelta(minutes=minutes)
        form = draw(_FORMS)
        if form == "epoch":
            created = int(instant.timestamp())
            written = instant
        else:
            written = instant.astimezone(draw(_OFFSET_CHOICES))
            created = written.isoformat() if form == "iso" else written
        item = {"name": "a%02d" % index, "created": created}
        ok = draw(_OK_VALUES)
        pinned = draw(_PINNED_VALUES)
        verified = draw(_VERIFIED_VALUES)
        if ok is not None:
            item["ok"] = ok
        if pinned is not None:
            item["pinned"] = pinned
        if verified is not None:
            item["verified"] = verified
        archives.append(item)
        facts[item["name"]] = {
            "when": instant,
            "day": written.date(),
            "ok": ok is not False,
            "pinned": bool(pinned),
            "verified": verified not in (None, False),
        }
    draw(st.randoms()).shuffle(archives)
    return archives, facts


@st.composite
def policies(draw):
    mode = draw(st.sampled_from(["counts", "age"]))
    counts = draw(st.tuples(st.integers(0, 40), st.integers(0, 15), st.integers(0, 15)).filter(any))
    options = {"mode": mode, "keep_daily": counts[0], "keep_weekly": counts[1], "keep_monthly": counts[2]}
    if mode == "counts":
        options["keep_oldest"] = draw(st.sampled_from([None, True, False]))
    return options


def newest(facts, predicate):
    """Name of the newest archive matching predicate; at the same instant the greater
    name counts as the newer (the documented order)."""
    candidates = [(name, fact) for name, fact in facts.items() if predicate(fact)]
    if not candidates:
        return None
    top = max(fact["when"] for _name, fact in candidates)
    return max(name for name, fact in candidates if fact["when"] == top)


@settings(max_examples=400, deadline=None)
@given(archive_lists(), policies())
def test_invariants(data, options):
    archives, facts = data
    result = select(archives, **options)
    keep = kept(result)
    delete = deleted(result)

    # Every archive in exactly one list.
    assert sorted(keep + delete) == sorted(facts)
    assert not set(keep) & set(delete)
    # Newest first in both lists.
    for names in (keep, delete):
        order = [(facts[name]["when"], name) for name in names]
        assert order == sorted(order, reverse=True)
    # Never deletes everything.
    if archives:
        assert keep
    # Pinned, newest verified and newest successful are kept.
    assert {name for name, fact in facts.items() if fact["pinned"]} <= set(keep)
    for predicate in (lambda fact: fact["verified"], lambda fact: fact["ok"]):
        name = newest(facts, predicate)
        if name is not None:
            assert name in keep
    # Failed backups never count toward a bucket, and are deleted when older than the
    # newest successful one unless pinned or the newest verified.
    newest_ok = newest(facts, lambda fact: fact["ok"])
    newest_verified = newest(facts, lambda fact: fact["verified"])
    why = reasons(result)
    for name, fact in facts.items():
        if fact["ok"]:
            continue
        assert not any(r.startswith(BUCKET_PREFIXES) for r in why.get(name, []))
        older = newest_ok is not None and fact["when"] < facts[newest_ok]["when"]
        should_keep = not older or fact["pinned"] or name == newest_verified
        assert (name in keep) == should_keep, name
    # Reason labels are the archive's own calendar day, ISO week and month.
    for name, found in why.items():
        day = facts[name]["day"]
        for reason in found:
            kind, _sep, label = reason.replace("oldest ", "").partition(" ")
            if kind == "daily":
                assert label == day.isoformat()
            elif kind == "weekly":
                assert label == week_label(day)
            elif kind == "monthly":
                assert label == day.strftime("%Y-%m")
    # Counts mode keeps at most the policy's counts, plus pinned and safety keeps.
    if options["mode"] == "counts":
        by_bucket = [name for name, found in why.items() if any(r.startswith(BUCKET_PREFIXES) for r in found)]
        budget = options["keep_daily"] + options["keep_weekly"] + options["keep_monthly"]
        assert len(by_bucket) <= budget
        failed_not_older = sum(
            1
            for fact in facts.values()
            if not fact["ok"] and (newest_ok is None or fact["when"] >= facts[newest_ok]["when"])
        )
        pinned = sum(1 for fact in facts.values() if fact["pinned"])
        assert len(keep) <= budget + pinned + 2 + failed_not_older


def reference_bucket_keeps(facts, options):
    """Archives a bucket keeps, from the documented semantics, by grouping: the newest
    successful archive of each period; periods ordered newest first; counts mode takes
    the first n periods (plus the oldest archive while a bucket is not used up), age
    mode the periods within n of the newest successful backup's period."""
    ok = sorted(
        (name for name, fact in facts.items() if fact["ok"]),
        key=lambda name: (facts[name]["when"], name),
        reverse=True,
    )
    if not ok:
        return set()
    keys = {
        "keep_daily": lambda day: day.toordinal(),
        "keep_weekly": lambda day: monday(day).toordinal() // 7,
        "keep_monthly": lambda day: day.year * 12 + day.month,
    }
    found = set()
    for option, key in keys.items():
        count = options[option]
        if not count:
            continue
        representatives = {}
        for name in ok:
            representatives.setdefault(key(facts[name]["day"]), name)
        periods = sorted(representatives, key=lambda period: ok.index(representatives[period]))
        if options["mode"] == "counts":
            chosen = periods[:count]
            if len(periods) < count and options.get("keep_oldest") is not False:
                found.add(ok[-1])
        else:
            anchor = key(facts[ok[0]]["day"])
            chosen = [period for period in periods if anchor - period < count]
        found.update(representatives[period] for period in chosen)
    return found


@settings(max_examples=400, deadline=None)
@given(archive_lists(), policies())
def test_bucket_keeps_match_the_documented_semantics(data, options):
    archives, facts = data
    why = reasons(select(archives, **options))
    by_bucket = {name for name, found in why.items() if any(r.startswith(BUCKET_PREFIXES) for r in found)}
    assert by_bucket == reference_bucket_keeps(facts, options)


@settings(max_examples=400, deadline=None)
@given(archive_lists(), policies())
def test_idempotent(data, options):
    archives, _facts = data
    first = select(archives, **options)
    keep = set(kept(first))
    second = select([item for item in archives if item["name"] in keep], **options)
    assert second["delete"] == []
    assert second["keep"] == first["keep"]


@settings(max_examples=300, deadline=None)
@given(archive_lists(), policies(), st.sampled_from(["keep_daily", "keep_weekly", "keep_monthly"]), st.integers(1, 10))
def test_raising_a_count_never_deletes_more(data, options, option, more):
    archives, _facts = data
    before = set(kept(select(archives, **options)))
    options = dict(options, **{option: options[option] + more})
    after = set(kept(select(archives, **options)))
    assert before <= after


@settings(max_examples=200, deadline=None)
@given(archive_lists(max_size=25), policies(), st.sampled_from(["UTC", "+02:00", "-05:00"]))
def test_invariants_hold_in_any_calendar_timezone(data, options, tz):
    archives, facts = data
    result = select(archives, timezone=tz, **options)
    assert sorted(kept(result) + deleted(result)) == sorted(facts)
    if archives:
        assert kept(result)
    assert {name for name, fact in facts.items() if fact["pinned"]} <= set(kept(result))
    for predicate in (lambda fact: fact["verified"], lambda fact: fact["ok"]):
        name = newest(facts, predicate)
        if name is not None:
            assert name in kept(result)
    first = set(kept(result))
    second = select([item for item in archives if item["name"] in first], timezone=tz, **options)
    assert set(kept(second)) == first


# ----------------------------------------------------------- future-dated archives


def _daily_history(days, now):
    return [dict(name="b%03d" % index, created=now - index * 86400) for index in range(days)]


def test_a_future_dated_archive_does_not_anchor_the_age_windows():
    now = 1796004000.0
    history = _daily_history(400, now)
    forged = dict(name="forged", created=now + 14 * 86400)
    result = retention.retention_select(history + [forged], mode="age", keep_daily=30, keep_weekly=12,
                                        keep_monthly=12, timezone="UTC", now=now)
    assert result["future"] == ["forged"]
    assert "forged" in [k["name"] for k in result["keep"]]
    forged_reasons = next(k["reasons"] for k in result["keep"] if k["name"] == "forged")
    assert forged_reasons == ["dated in the future (created %s, after now): kept, not counted" % (now + 14 * 86400)]
    # The windows end at the newest real backup: the same selection as without the forged one.
    alone = retention.retention_select(history, mode="age", keep_daily=30, keep_weekly=12, keep_monthly=12,
                                       timezone="UTC", now=now)
    assert [d["name"] for d in result["delete"]] == [d["name"] for d in alone["delete"]]
    assert "b000" in [k["name"] for k in result["keep"]]
    # Without now (the old behaviour) the forged date would have moved every window.
    skewed = retention.retention_select(history + [forged], mode="age", keep_daily=30, keep_weekly=12,
                                        keep_monthly=12, timezone="UTC")
    assert len(skewed["delete"]) > len(result["delete"])


def test_only_future_dated_archives_anchor_on_now_and_keep_everything():
    now = 1796004000.0
    archives = [dict(name="f1", created=now + 86400), dict(name="f2", created=now + 2 * 86400)]
    result = retention.retention_select(archives, mode="age", keep_daily=1, keep_weekly=0, keep_monthly=0,
                                        timezone="UTC", now=now)
    assert result["delete"] == []
    assert result["future"] == ["f2", "f1"]


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1, max_value=60), st.integers(min_value=1, max_value=400))
def test_future_dated_archives_never_change_what_happens_to_real_ones(days, skew_days):
    now = 1796004000.0
    history = _daily_history(days, now)
    with_forged = history + [dict(name="zz-forged", created=now + skew_days * 86400)]
    options = dict(mode="age", keep_daily=7, keep_weekly=4, keep_monthly=3, timezone="UTC", now=now)
    plain = retention.retention_select(history, **options)
    forged = retention.retention_select(with_forged, **options)
    assert [d["name"] for d in forged["delete"]] == [d["name"] for d in plain["delete"]]
    assert forged["future"] == ["zz-forged"]
