# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The service contract (docs/service_contract.md): checks an argument spec cannot
express, and the names derived from it that several roles need.

Every role that operates a service reads the same ``service_*`` variables; the role
``service_contract`` validates their types and runs :func:`contract_problems` on them
before any role uses them.
"""

from __future__ import annotations

import json
import re

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible_collections.fleetops.lifecycle.plugins.module_utils import release

SLOTS = ("blue", "green")
# Used in file names (HAProxy conf.d, Prometheus file-SD, /var/lib/fleetops/<name>/) and
# as the Prometheus job label.
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
# HAProxy proxy names: letters, digits, '-', '_', '.', ':'.
_BACKEND = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# A systemd template instance: <prefix>@{slot}.service.
_UNIT = re.compile(r"^[A-Za-z0-9_.:-]+@\{slot\}\.service$")
_ABSOLUTE_PATHS = ("service_root", "service_config_dir", "service_log_dir", "service_config_file", "service_state_dir",
                   "service_lock_path", "service_ledger_path", "service_drill_record", "service_backup_dir")
_URL_PATHS = ("service_health_path", "service_ready_path", "service_version_path", "service_metrics_path")


def _port_problem(name, value):
    # Extra vars given as key=value arrive as strings.
    number = int(value) if isinstance(value, str) and value.isdigit() else value
    if isinstance(number, bool) or not isinstance(number, int) or not 1 <= number <= 65535:
        return "%s=%r is not a port (an integer from 1 to 65535)" % (name, value)
    return None


def type_problems(contract, spec_options):
    """The argument spec's messages for the contract's values of the wrong type.

    ``spec_options`` is the ``options`` of the role's argument spec; the values are
    converted as a role's argument spec converts them (``"80"`` is an int)."""
    # Plain values: the validator deep-copies what it gets, and a templating engine's own
    # containers and strings cost far more to copy than the JSON they hold.
    plain = json.loads(json.dumps(dict((name, value) for name, value in contract.items() if name in spec_options),
                                  default=str))
    result = ArgumentSpecValidator(spec_options).validate(plain)
    return list(result.error_messages)


def contract_problems(contract, spec_options=None):
    """One message per contract variable that is set wrong, naming it and its value.

    ``contract`` maps each ``service_*`` variable to its value; a variable left out is
    not checked (the argument spec requires the ones every role needs). With
    ``spec_options`` (the argument spec's options) the types are checked first, so one
    task per host does what an argument spec and this check did in two."""
    if not isinstance(contract, dict):
        raise TypeError("the contract must be a dict of service_* variables, got %s" % type(contract).__name__)
    problems = type_problems(contract, spec_options) if spec_options else []

    def check(name, ok, why):
        if name in contract and not ok(contract[name]):
            problems.append("%s=%r %s" % (name, contract[name], why))

    check("service_name", lambda v: isinstance(v, str) and _NAME.match(v),
          "is not a short name (lower-case letter, then lower-case letters, digits, '-' or '_'; at most 63)")
    check("service_backend", lambda v: isinstance(v, str) and _BACKEND.match(v),
          "is not an HAProxy backend name (letters, digits, '-', '_', '.', ':'; at most 64)")
    check("service_unit", lambda v: isinstance(v, str) and _UNIT.match(v),
          "is not a systemd template instance with one {slot}, such as shop@{slot}.service")
    check("service_artifact_name", lambda v: isinstance(v, str) and v.count("{version}") == 1 and "/" not in v,
          "must be a file name with one {version}, such as shop-{version}.tar.gz")
    check("service_snapshot_command", lambda v: isinstance(v, str) and "{snapshot_dir}" in v,
          "must write the snapshot under {snapshot_dir}")
    check("service_config_check_command", lambda v: isinstance(v, list) and v and all(isinstance(a, str) for a in v),
          "must be a non-empty argv list of strings")
    check("service_state_check_command", lambda v: isinstance(v, list) and v and all(isinstance(a, str) for a in v),
          "must be a non-empty argv list of strings")
    for name in _ABSOLUTE_PATHS:
        check(name, lambda v: isinstance(v, str) and v.startswith("/") and ".." not in v.split("/"),
              "must be an absolute path without '..'")
    for name in _URL_PATHS:
        check(name, lambda v: isinstance(v, str) and v.startswith("/") and not any(c.isspace() for c in v),
              "must be a URL path starting with '/' and without spaces")
    for name in ("service_frontend_port", "service_lb_stats_port"):
        if name in contract:
            problem = _port_problem(name, contract[name])
            if problem:
                problems.append(problem)
    if "service_ports" in contract:
        problems.extend(_slot_port_problems(contract["service_ports"]))
    frontend = contract.get("service_frontend_port")
    if frontend is not None and str(frontend) == str(contract.get("service_lb_stats_port")):
        problems.append("service_frontend_port=%r is also service_lb_stats_port: the LB cannot serve both on one port"
                        % contract["service_frontend_port"])
    return problems


def _slot_port_problems(ports):
    if not isinstance(ports, dict) or sorted(ports) != sorted(SLOTS):
        return ["service_ports=%r must give a port to each slot and nothing else, such as {blue: 8081, green: 8082}"
                % (ports,)]
    problems = [p for p in (_port_problem("service_ports.%s" % slot, ports[slot]) for slot in SLOTS) if p]
    if not problems and str(ports["blue"]) == str(ports["green"]):
        problems.append("service_ports=%r gives both slots one port" % (ports,))
    return problems


def unit_name(unit, slot):
    """The systemd unit of ``slot``: ``service_unit`` with {slot} replaced."""
    if not isinstance(unit, str) or unit.count("{slot}") != 1:
        raise ValueError("service_unit=%r must contain {slot} once" % (unit,))
    if slot not in SLOTS:
        raise ValueError("slot=%r is not one of %s" % (slot, ", ".join(SLOTS)))
    return unit.replace("{slot}", slot)


def unit_template(unit):
    """The file name of the template unit behind ``service_unit`` (shop@{slot}.service -> shop@.service)."""
    if not isinstance(unit, str) or not _UNIT.match(unit):
        raise ValueError("service_unit=%r is not a systemd template instance with one {slot}" % (unit,))
    return unit.replace("{slot}", "")


def prometheus_selector(job, **labels):
    """A label selector of the service's series: {job="<name>",label="value",...}."""
    if not isinstance(job, str) or not job:
        raise ValueError("job=%r must be a non-empty string" % (job,))
    pairs = [("job", job)] + sorted(labels.items())
    return "{%s}" % ",".join('%s="%s"' % (k, str(v).replace("\\", "\\\\").replace('"', '\\"')) for k, v in pairs)


def install_input_problems(version, slot, ports, api_token, version_from="service_version"):
    """Messages for the service role's own inputs that cannot install a release, empty
    when they can: the version, the slot's port and the API token. ``version_from`` is
    the variable the user gave the version in (deploy_version, rollback_release), so the
    message names it."""
    problems = []
    # The same rule as the release module's, which unpacks it (a trailing newline is no version).
    if not release.is_release_version(version):
        problems.append("%s=%s is not a release version (expected e.g. 1.0.0)" % (version_from, json.dumps(version)))
    if not isinstance(ports, dict) or slot not in ports:
        problems.append("service_slot=%s has no entry in service_ports=%s" % (slot, json.dumps(ports)))
    if not api_token:
        problems.append("service_api_token is empty; set it (from ansible-vault) in the inventory")
    return problems
