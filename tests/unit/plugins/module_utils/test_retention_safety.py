"""Safety archives (pre-upgrade, pre-restore) are kept for a while, whatever the policy."""

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils.retention import retention_select

NOW = "2026-12-06T12:00:00Z"


def archive(name, created, kind="scheduled"):
    return {"name": name, "created": created, "kind": kind}


def reasons(result):
    return {item["name"]: item["reasons"] for item in result["keep"]}


def test_a_prune_right_after_a_deploy_and_a_restore_keeps_their_safety_archives():
    archives = [
        archive("daily", "2026-12-06T02:00:00Z"),
        archive("upgrade", "2026-12-06T11:00:00Z", "pre-upgrade"),
        archive("restore", "2026-12-06T11:30:00Z", "pre-restore"),
        archive("manual", "2026-12-06T11:45:00Z", "manual"),
    ]
    # keep_daily=1: the day's newest successful backup only; the safety ones stay anyway.
    result = retention_select(archives, keep_daily=1, keep_weekly=0, keep_monthly=0, keep_oldest=False, now=NOW)
    kept = reasons(result)
    assert kept["upgrade"] == ["safety archive (pre-upgrade), kept for 7 days after it was made "
                               "(until 2026-12-13T11:00:00Z)"]
    assert kept["restore"] == ["safety archive (pre-restore), kept for 7 days after it was made "
                               "(until 2026-12-13T11:30:00Z)"]
    assert [item["name"] for item in result["delete"]] == ["daily"]


def test_a_safety_archive_goes_after_its_days_like_any_other():
    archives = [archive("new", "2026-12-06T02:00:00Z"), archive("old-upgrade", "2026-11-20T02:00:00Z", "pre-upgrade")]
    result = retention_select(archives, keep_daily=1, keep_weekly=0, keep_monthly=0, keep_oldest=False, now=NOW)
    assert [item["name"] for item in result["delete"]] == ["old-upgrade"]


def test_zero_days_still_keeps_it_on_the_day_it_was_made():
    archives = [archive("new", "2026-12-06T11:59:00Z"), archive("upgrade", "2026-12-06T01:00:00Z", "pre-upgrade")]
    result = retention_select(archives, keep_daily=1, keep_weekly=0, keep_monthly=0, keep_oldest=False, now=NOW,
                              safety_days=0)
    assert reasons(result)["upgrade"] == ["safety archive (pre-upgrade), made today: never pruned the day it was made"]


def test_without_now_the_newest_archive_anchors_the_safety_window():
    archives = [archive("new", "2026-12-20T02:00:00Z"), archive("upgrade", "2026-12-15T02:00:00Z", "pre-upgrade")]
    result = retention_select(archives, keep_daily=1, keep_weekly=0, keep_monthly=0, keep_oldest=False)
    assert "upgrade" in reasons(result)


def test_other_kinds_are_not_safety_archives():
    archives = [archive("new", "2026-12-06T11:00:00Z"), archive("manual", "2026-12-06T10:00:00Z", "manual")]
    result = retention_select(archives, keep_daily=1, keep_weekly=0, keep_monthly=0, keep_oldest=False, now=NOW)
    assert [item["name"] for item in result["delete"]] == ["manual"]


@pytest.mark.parametrize("bad", [-1, 1.5, True, "7", 4000])
def test_bad_safety_days_are_refused_by_name(bad):
    with pytest.raises(ValueError) as exc:
        retention_select([], safety_days=bad)
    assert str(exc.value) == "safety_days must be a whole number of days from 0 to 3650, got %r" % (bad,)
