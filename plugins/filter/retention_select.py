# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup retention filter; the logic lives in module_utils.retention."""

from __future__ import annotations

DOCUMENTATION = r"""
name: retention_select
short_description: Select which backup archives to keep and which to delete, and why
version_added: 0.1.0
author: fleetops maintainers (@fleetops)
description:
  - Applies a daily / weekly / monthly retention policy to a list of backup archives and
    returns every archive either in C(keep) (with all the reasons it is kept) or in
    C(delete) (with the reason it is not), newest first. Nothing is deleted by the
    filter itself; module C(fleetops.lifecycle.backup_prune) applies the result.
  - "Periods: a day is a calendar day, a week an ISO 8601 week (Monday 00:00 to Sunday
    23:59, labelled like V(2026-W48) with the ISO week-numbering year), a month a
    calendar month, in the time zone chosen by O(timezone)."
  - "O(mode=counts) (default) has restic's C(forget --keep-daily/--keep-weekly/--keep-monthly)
    semantics. Each bucket is applied independently to the successful archives, newest
    first: O(keep_daily=7) keeps the newest archive of each of the last 7 days B(that
    have a backup) (days without one do not count, so the kept days may span more than
    7 calendar days); weeks and months likewise. An archive kept by several buckets lists
    every reason. With O(keep_oldest) (default in this mode, as in restic 0.17 and later)
    a bucket with fewer periods than its count also keeps the oldest successful archive."
  - "O(mode=age) keeps the newest archive of each day within a window of O(keep_daily)
    calendar days, of each ISO week within O(keep_weekly) weeks and of each month within
    O(keep_monthly) months. Every window ends with (and includes) the day, week or month
    of the B(newest successful backup), never the current time, so a host whose backups
    stopped does not lose its last backups. With O(now), archives created after it are
    dated in the future: they are kept and listed in C(future) but never anchor the
    windows (the newest successful archive not in the future does, or O(now) when there
    is none) and never count toward a bucket."
  - "Both modes always keep the newest successful backup, the newest verified backup and
    every pinned archive, so if any archive exists at least one is kept. Failed backups
    (C(ok=false)) never count toward a bucket; a failed backup older than the newest
    successful one is deleted unless pinned or the newest verified, one that is not older
    is kept for inspection, and if no backup has succeeded nothing is deleted."
  - Both lists are ordered newest first; of archives created at the same instant the one
    with the greater name counts as the newer.
  - Fails with a message naming the option and the value on a negative count, an unknown
    mode, a policy whose three counts are all 0, an unparseable or timezone-less
    C(created) (naming the archive) and duplicate archive names.
positional: mode, keep_daily, keep_weekly, keep_monthly
options:
  _input:
    description:
      - The archives. Each is a dict with C(name) (unique), C(created) (ISO 8601 date and
        time with a timezone such as V(2026-11-30T02:00:00+01:00) or V(...Z), or epoch
        seconds), and optionally C(verified) (V(true) or the time of the last successful
        verification), C(pinned) (bool) and C(ok) (bool, default V(true); V(false) marks a
        failed or partial backup). Other keys are ignored.
    type: list
    elements: dict
    required: true
  keep_oldest:
    description:
      - In O(mode=counts), also keep the oldest successful archive when a bucket has fewer
        periods than its count (restic 0.17 and later do this); V(false) gives the
        behaviour of older restic releases.
      - V(null) means V(true) in O(mode=counts) and V(false) in O(mode=age); V(true) is refused in O(mode=age).
    type: bool
  timezone:
    description:
      - Time zone of the calendar. V(archive) uses each archive's own UTC offset as written
        in C(created) (epoch seconds are UTC); V(UTC) or a fixed offset such as V(+02:00)
        converts every archive first.
    type: str
    default: archive
  now:
    description:
      - The current time (as C(created) accepts it, e.g. V({{ now(utc=true).timestamp() }})). Archives
        created after it are reported in C(future) and kept, and never anchor the age windows.
      - Unset means no archive counts as dated in the future.
extends_documentation_fragment:
  - fleetops.lifecycle.retention
"""

EXAMPLES = r"""
- name: What would prune delete (restic semantics, 30 daily, 12 weekly, 12 monthly)
  ansible.builtin.debug:
    msg: "{{ backup_archives | fleetops.lifecycle.retention_select }}"

- name: Age windows from the newest successful backup
  ansible.builtin.set_fact:
    _backup_retention: >-
      {{ backup_archives | fleetops.lifecycle.retention_select(mode='age', keep_daily=30,
         keep_weekly=12, keep_monthly=12) }}

# [{'name': 'b3', 'created': '2026-11-30T02:00:00+00:00'},
#  {'name': 'b2', 'created': '2026-11-29T02:00:00+00:00', 'ok': false},
#  {'name': 'b1', 'created': '2026-11-29T01:00:00+00:00'},
#  {'name': 'b0', 'created': '2026-11-29T00:30:00+00:00'}]
#   | retention_select(keep_daily=7, keep_weekly=0, keep_monthly=0, keep_oldest=false)
# -> keep:   b3 [daily 2026-11-30, newest successful], b1 [daily 2026-11-29]
#    delete: b2 failed backup (ok: false) older than the newest successful backup 'b3'
#            b0 not the newest successful backup of daily 2026-11-29 (kept: 'b1')
"""

RETURN = r"""
_value:
  description: Every archive in exactly one of the two lists, newest first.
  type: dict
  contains:
    keep:
      description: Archives to keep, with C(name), C(created) (as given) and C(reasons).
      type: list
      elements: dict
      sample:
        - name: b3
          created: "2026-11-30T02:00:00+00:00"
          reasons: [daily 2026-11-30, weekly 2026-W49, monthly 2026-11, newest successful]
    future:
      description: Names of the archives created after O(now) (only when O(now) is given).
      type: list
      elements: str
    delete:
      description: Archives to delete, with C(name), C(created) (as given) and C(reason).
      type: list
      elements: dict
      sample:
        - name: b0
          created: "2026-11-29T00:30:00+00:00"
          reason: "not the newest successful backup of daily 2026-11-29 (kept: 'b1')"
"""

from ansible_collections.fleetops.lifecycle.plugins.module_utils import retention
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def retention_select(
    archives,
    mode=retention.DEFAULT_MODE,
    keep_daily=retention.DEFAULT_KEEP_DAILY,
    keep_weekly=retention.DEFAULT_KEEP_WEEKLY,
    keep_monthly=retention.DEFAULT_KEEP_MONTHLY,
    *,
    keep_oldest=None,
    timezone=retention.DEFAULT_TIMEZONE,
    now=None,
):
    """Keep/delete selection with reasons (see module_utils.retention)."""
    return wrap("retention_select", retention.retention_select, archives, mode=mode, keep_daily=keep_daily,
                keep_weekly=keep_weekly, keep_monthly=keep_monthly, keep_oldest=keep_oldest, timezone=timezone, now=now)


class FilterModule(object):
    def filters(self):
        return {"retention_select": retention_select}
