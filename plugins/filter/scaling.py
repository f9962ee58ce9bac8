# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scaling filters; the logic (and why these are filters, not a module) lives in module_utils.scaling.

Each filter is documented in its own sidecar file (``vertical_limits.yml``,
``scale_in_check.yml``, ``scaling_decision.yml``) next to this one.
"""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils import scaling
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def vertical_limits(requested, facts, host=None, *, reserve_mb=scaling.DEFAULT_RESERVE_MB,
                    reserve_percent=scaling.DEFAULT_RESERVE_PERCENT, workers_per_cpu=scaling.DEFAULT_WORKERS_PER_CPU):
    """Validated CPU quota, memory limit and workers for a host, with the systemd drop-in."""
    return wrap("vertical_limits", scaling.vertical_limits, requested, facts, host=host, reserve_mb=reserve_mb,
                 reserve_percent=reserve_percent, workers_per_cpu=workers_per_cpu)


def scale_in_check(pool, remove, min_hosts=1):
    """The hosts to remove and those remaining, or an error when the scale-in is unsafe."""
    return wrap("scale_in_check", scaling.scale_in_check, pool, remove, min_hosts)


def scaling_decision(metrics, hosts, *, min_hosts=1, max_hosts=None, cpu_high=scaling.DEFAULT_CPU_HIGH,
                     cpu_low=scaling.DEFAULT_CPU_LOW, latency_budget_ms=None,
                     error_ratio_max=scaling.DEFAULT_ERROR_RATIO_MAX):
    """scale_out / scale_in / none from pool measurements, with the reasons."""
    return wrap("scaling_decision", scaling.scaling_decision, metrics, hosts, min_hosts=min_hosts,
                 max_hosts=max_hosts, cpu_high=cpu_high, cpu_low=cpu_low, latency_budget_ms=latency_budget_ms,
                 error_ratio_max=error_ratio_max)


class FilterModule(object):
    def filters(self):
        return {
            "vertical_limits": vertical_limits,
            "scale_in_check": scale_in_check,
            "scaling_decision": scaling_decision,
        }
