# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup, restore and DR drill filters; the logic lives in module_utils (backup_report,
restore_check, drill_report, backup_fleet_report, durations).

Each filter is documented in its sidecar file next to this one (``backup_live_slot.yml``,
``backup_restore_what.yml``, ``drill_scenario_what.yml``, ``positive_seconds.yml``,
``backup_manifest_compare.yml``, ``drill_report.yml``, ``drill_junit.yml``,
``backup_fleet_report.yml``, ``backup_fleet_table.yml``, ``drill_inputs.yml``,
``drill_damage.yml``).
"""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils import backup_fleet_report as fleet_utils
from ansible_collections.fleetops.lifecycle.plugins.module_utils import (
    backup_report,
    drill_plan,
    durations,
    restore_check,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils import drill_report as drill_utils
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def backup_live_slot(slots, last_good=""):
    return wrap("backup_live_slot", backup_report.live_slot, slots, last_good)


def backup_restore_what(value, option="restore_what"):
    return wrap("backup_restore_what", restore_check.restore_kinds, value, option)


def drill_scenario_what(value, option="drill_scenario"):
    return wrap("drill_scenario_what", drill_utils.scenario_what, value, option)


def positive_seconds(value, option):
    return wrap("positive_seconds", durations.positive_seconds, value, option)


def backup_manifest_compare(manifest, what, stats):
    return wrap("backup_manifest_compare", restore_check.manifest_compare, manifest, what, stats)


def drill_inputs(params, hosts, prefix=drill_plan.DEFAULT_PREFIX):
    return wrap("drill_inputs", drill_plan.drill_inputs, params, hosts, prefix)


def drill_damage(manifest, scenario):
    return wrap("drill_damage", drill_plan.drill_damage, manifest, scenario)


def drill_report(drill):
    return wrap("drill_report", drill_utils.drill_report, drill)


def drill_junit(report):
    return wrap("drill_junit", drill_utils.drill_junit, report)


def backup_fleet_report(hosts, now, rpo_target, at_risk_ratio=0.75, **limits):
    """limits: verify_max_age, drill_max_age (seconds)."""
    return wrap("backup_fleet_report", fleet_utils.fleet_report, hosts, now, rpo_target, at_risk_ratio, **limits)


def backup_fleet_table(report):
    return wrap("backup_fleet_table", fleet_utils.fleet_table, report)


class FilterModule(object):
    def filters(self):
        return {
            "backup_live_slot": backup_live_slot,
            "backup_restore_what": backup_restore_what,
            "drill_scenario_what": drill_scenario_what,
            "positive_seconds": positive_seconds,
            "backup_manifest_compare": backup_manifest_compare,
            "drill_inputs": drill_inputs,
            "drill_damage": drill_damage,
            "drill_report": drill_report,
            "drill_junit": drill_junit,
            "backup_fleet_report": backup_fleet_report,
            "backup_fleet_table": backup_fleet_table,
        }
