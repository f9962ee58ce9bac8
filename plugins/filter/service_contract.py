# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service contract filters; the logic lives in module_utils.service_contract
(documented in ``service_contract_problems.yml``, ``install_input_problems.yml``,
``slot_unit.yml``, ``unit_template.yml`` and ``service_selector.yml``)."""

from __future__ import annotations

import os

import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.module_utils import service_contract
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap

CONTRACT_ENTRY_POINT = "contract"
# The contract's argument spec, read once per process (the preload callback imports this
# file before the workers fork).
_SPEC_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, os.pardir,
                          "roles", "service_contract", "meta", "argument_specs.yml")


def _read_spec(path=_SPEC_PATH):
    try:
        with open(path, encoding="utf-8") as handle:
            return yaml.safe_load(handle)["argument_specs"][CONTRACT_ENTRY_POINT]["options"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None


_SPEC = _read_spec()


def service_contract_problems(contract, types=False):
    """Messages for service_* variables set wrong, empty when the contract holds; with
    types=true also those of the wrong type, by the service_contract role's argument spec."""
    if types and _SPEC is None:
        raise AnsibleFilterError("service_contract_problems: types=true needs the service_contract role's argument "
                                 "spec at %s, which could not be read" % os.path.normpath(_SPEC_PATH))
    return wrap("service_contract_problems", service_contract.contract_problems, contract, _SPEC if types else None)


def install_input_problems(version, slot, ports, api_token, version_from="service_version"):
    """Messages for a version, slot or API token the service role cannot install with."""
    return wrap("install_input_problems", service_contract.install_input_problems, version, slot, ports, api_token,
                version_from)


def slot_unit(unit, slot):
    """The systemd unit of a slot: service_unit with {slot} replaced."""
    return wrap("slot_unit", service_contract.unit_name, unit, slot)


def unit_template(unit):
    """The template unit file name behind service_unit."""
    return wrap("unit_template", service_contract.unit_template, unit)


def service_selector(job, labels=None):
    """A Prometheus label selector of the service's series."""
    if labels is not None and not isinstance(labels, dict):
        raise AnsibleFilterError("service_selector: labels must be a dict, got %r" % (labels,))
    return wrap("service_selector", service_contract.prometheus_selector, job, **(labels or {}))


class FilterModule(object):
    def filters(self):
        return {
            "service_contract_problems": service_contract_problems,
            "install_input_problems": install_input_problems,
            "slot_unit": slot_unit,
            "unit_template": unit_template,
            "service_selector": service_selector,
        }
