# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Error-budget filters; the logic lives in module_utils.slo.

This file holds several filters, so each one is documented in its own sidecar file
(``error_budget.yml``, ``burn_rate.yml``, ``burn_rate_alerts.yml``) next to it.
"""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def error_budget(slo_target, good, total):
    """Budget, consumed, remaining and exhausted for good/total counts."""
    return wrap("error_budget", slo.error_budget, slo_target, good, total)


def burn_rate(error_ratio, slo_target):
    """error_ratio / (1 - slo_target)."""
    return wrap("burn_rate", slo.burn_rate, error_ratio, slo_target)


def burn_rate_alerts(error_ratios, slo_target, rules=None):
    """Multi-window multi-burn-rate alert check."""
    return wrap("burn_rate_alerts", slo.burn_rate_alerts, error_ratios, slo_target, rules)


class FilterModule(object):
    def filters(self):
        return {
            "error_budget": error_budget,
            "burn_rate": burn_rate,
            "burn_rate_alerts": burn_rate_alerts,
        }
