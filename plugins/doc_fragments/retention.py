# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    # The retention policy options shared by the retention_select filter and the
    # backup_prune module (both read them through module_utils.retention).
    DOCUMENTATION = r"""
options:
  mode:
    description: How O(keep_daily), O(keep_weekly) and O(keep_monthly) are read (see C(retention_select)).
    type: str
    choices:
      counts: Numbers of days, ISO weeks and months B(that have a backup) (restic C(forget)).
      age: Windows of calendar days, ISO weeks and months ending at the newest successful backup that is not dated
        in the future (archives created after the current time never anchor the windows; they are kept and reported).
    default: counts
  keep_daily:
    description: Days with a backup to keep (counts), or the daily window in days (age).
    type: int
    default: 30
  keep_weekly:
    description: ISO weeks with a backup to keep (counts), or the weekly window in weeks (age).
    type: int
    default: 12
  keep_monthly:
    description: Months with a backup to keep (counts), or the monthly window in months (age).
    type: int
    default: 12
notes:
  - "O(timezone=archive) differs from restic when archives carry different UTC offsets: this takes each
    archive's period in its own offset and counts a period once however many archives share it, while restic
    walks the snapshots newest first and starts a new period whenever one differs from the I(last kept) one, so it
    may keep two archives of the same local day when another day lies between them. O(timezone=UTC) (or one fixed
    offset) gives restic's result."
  - "A policy whose three counts are all 0 is refused. restic 0.14 does not refuse it: C(forget) without any
    C(--keep-*) option keeps every snapshot and exits 0."
"""
