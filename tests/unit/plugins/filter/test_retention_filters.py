# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Retention filter: a thin wrapper over module_utils.retention.

Import path: tests/unit/conftest.py puts the collection on sys.path.
"""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter.retention_select import FilterModule

FILTERS = FilterModule().filters()

# The example of the filter's documentation.
ARCHIVES = [
    {"name": "b3", "created": "2026-11-30T02:00:00+00:00"},
    {"name": "b2", "created": "2026-11-29T02:00:00+00:00", "ok": False},
    {"name": "b1", "created": "2026-11-29T01:00:00+00:00"},
    {"name": "b0", "created": "2026-11-29T00:30:00+00:00"},
]


def test_filter_map():
    assert sorted(FILTERS) == ["retention_select"]


def test_documented_example():
    result = FILTERS["retention_select"](ARCHIVES, keep_daily=7, keep_weekly=0, keep_monthly=0, keep_oldest=False)
    assert result == {
        "keep": [
            {
                "name": "b3",
                "created": "2026-11-30T02:00:00+00:00",
                "reasons": ["daily 2026-11-30", "newest successful"],
            },
            {"name": "b1", "created": "2026-11-29T01:00:00+00:00", "reasons": ["daily 2026-11-29"]},
        ],
        "delete": [
            {
                "name": "b2",
                "created": "2026-11-29T02:00:00+00:00",
                "reason": "failed backup (ok: false) older than the newest successful backup 'b3'",
            },
            {
                "name": "b0",
                "created": "2026-11-29T00:30:00+00:00",
                "reason": "not the newest successful backup of daily 2026-11-29 (kept: 'b1')",
            },
        ],
    }


def test_defaults_and_positional_arguments():
    # Defaults: counts mode, 30 daily, 12 weekly, 12 monthly, keep oldest.
    result = FILTERS["retention_select"](ARCHIVES)
    assert [item["name"] for item in result["keep"]] == ["b3", "b1", "b0"]
    assert result["keep"][0]["reasons"] == [
        "daily 2026-11-30",
        "weekly 2026-W49",
        "monthly 2026-11",
        "newest successful",
    ]
    assert result["keep"][2]["reasons"] == [
        "oldest daily 2026-11-29",
        "oldest weekly 2026-W48",
        "oldest monthly 2026-11",
    ]
    # Positional order: mode, keep_daily, keep_weekly, keep_monthly.
    assert FILTERS["retention_select"](ARCHIVES, "age", 1, 0, 0) == FILTERS["retention_select"](
        ARCHIVES, mode="age", keep_daily=1, keep_weekly=0, keep_monthly=0
    )
    assert [item["name"] for item in FILTERS["retention_select"](ARCHIVES, "age", 1, 0, 0)["keep"]] == ["b3"]


def test_age_mode_and_timezone():
    result = FILTERS["retention_select"](
        ARCHIVES, mode="age", keep_daily=2, keep_weekly=0, keep_monthly=0, timezone="-03:00"
    )
    # At -03:00, b3 is on 2026-11-29 and b1, b0 on 2026-11-28.
    assert [(item["name"], item["reasons"]) for item in result["keep"]] == [
        ("b3", ["daily 2026-11-29", "newest successful"]),
        ("b1", ["daily 2026-11-28"]),
    ]


@pytest.mark.parametrize(
    "args, options, message",
    [
        ((ARCHIVES,), {"keep_daily": -1}, "retention_select: keep_daily must be a non-negative integer, got -1"),
        ((ARCHIVES, "fifo"), {}, "retention_select: mode must be one of counts, age, got 'fifo'"),
        (
            ([{"name": "b1", "created": "last night"}],),
            {},
            "retention_select: archive 'b1': created 'last night' cannot be parsed: not an ISO 8601 date and time "
            "(YYYY-MM-DDTHH:MM[:SS[.ffffff]]+HH:MM) or epoch seconds",
        ),
        (
            ([{"name": "b1", "created": "2026-11-30T02:00:00"}],),
            {},
            "retention_select: archive 'b1': created '2026-11-30T02:00:00' cannot be parsed: it has no timezone: "
            "add Z or an offset such as +00:00, or give epoch seconds",
        ),
        (
            ([{"name": "b1", "created": 1}, {"name": "b1", "created": 2}],),
            {},
            "retention_select: archives[1].name 'b1' is a duplicate of archives[0]: archive names must be unique",
        ),
        (
            (ARCHIVES, "counts", 0, 0, 0),
            {},
            "retention_select: keep_daily, keep_weekly and keep_monthly are all 0: such a policy keeps no period "
            "at all; set at least one of them (restic would keep everything; here that is refused as a likely "
            "mistake)",
        ),
        (
            ("b1",),
            {},
            "retention_select: archives must be a list of archive dicts (name, created, ...), got 'b1'",
        ),
        (
            (ARCHIVES,),
            {"timezone": "CET"},
            "retention_select: timezone must be 'archive', 'UTC' or a UTC offset such as '+02:00', got 'CET'",
        ),
        (
            (ARCHIVES, "age"),
            {"keep_oldest": True},
            "retention_select: keep_oldest applies to mode 'counts' only (age windows end at the newest successful "
            "backup), got true",
        ),
    ],
)
def test_errors_name_option_and_value(args, options, message):
    with pytest.raises(AnsibleFilterError) as exc:
        FILTERS["retention_select"](*args, **options)
    assert str(exc.value) == message
