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
      age: Windows of calendar days, ISO weeks and months ending at the newest successful backup.
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
"""
