# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLO definition filters; the logic lives in module_utils.slo_defs.

Three filters, each documented in its own sidecar file (``slo_definitions.yml``,
``slo_gate_conditions.yml``, ``slo_rules.yml``) next to this one.
"""

from __future__ import annotations

from decimal import Decimal

from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo_defs
from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo_rules as slo_rules_module
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def _plain(value):
    """Decimals as floats, so results serialise into facts and JSON."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def slo_definitions(definitions):
    """The SLO definitions checked and normalised (defaults filled in)."""
    return _plain(wrap("slo_definitions", slo_defs.definitions, definitions))


def slo_gate_conditions(definitions, provider):
    """The deploy gate's conditions derived from the SLO definitions."""
    return _plain(wrap("slo_gate_conditions", slo_defs.gate_conditions, definitions, provider))


def slo_rules(definitions):
    """Prometheus rule groups (recording and burn-rate alerts) for the SLOs."""
    return wrap("slo_rules", slo_rules_module.rule_groups, definitions)


class FilterModule(object):
    def filters(self):
        return {
            "slo_definitions": slo_definitions,
            "slo_gate_conditions": slo_gate_conditions,
            "slo_rules": slo_rules,
        }
