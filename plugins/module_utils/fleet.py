# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What runs where in a fleet, and which probes prove it started or stopped.

The inventory describes tiers (``fleet_tiers``, see ``tiers.py`` for the order)::

    fleet_tiers:
      app:
        group: app
        depends_on: []
        units:
          - {name: demo@blue, port: 8081, ready_path: /readyz, server: blue,
             check_argv: [python3, /opt/demo/current-blue/app.py, --check-config]}
      edge:
        group: loadbalancers
        depends_on: [app]
        units: [{name: haproxy, port: 80, ready_path: /healthz}]

A unit belongs to a host when the host is in the tier's group. Only *enabled* units
are part of what a host runs: the deploy role disables the slot it leaves, so the
enabled ``demo@`` instance is the live slot. ``server`` ties a unit to the HAProxy
server ``<host>-<server>``; ``check_argv`` is a read-only command that must succeed
before the unit starts (config valid, release present); ``stopped_check`` one that
must succeed once it stopped (state consistent).

Pure functions over plain data, standard library only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

UNIT_KEYS = ("name", "port", "ready_path", "server", "check_argv", "stopped_check")
PHASES = ("prestart", "ready", "stopped", "health")


def _argv(value, where):
    if value is None:
        return None
    if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)) or not value:
        raise ValueError("%s must be a non-empty list of arguments, got %r" % (where, value))
    return [str(arg) for arg in value]


def tier_units(fleet_tiers, tier, name="fleet_tiers"):
    """The checked unit definitions of one tier."""
    if not isinstance(fleet_tiers, Mapping) or tier not in fleet_tiers:
        raise ValueError("%s has no tier %r" % (name, tier))
    settings = fleet_tiers[tier] or {}
    units = settings.get("units") or []
    if not isinstance(units, (list, tuple)):
        raise ValueError("%s[%r].units must be a list of units, got %r" % (name, tier, units))
    checked = []
    for index, entry in enumerate(units):
        where = "%s[%r].units[%d]" % (name, tier, index)
        unit = {"name": entry} if isinstance(entry, str) else entry
        if not isinstance(unit, Mapping) or not isinstance(unit.get("name"), str) or not unit["name"]:
            raise ValueError("%s must be a unit name or a mapping with a name, got %r" % (where, unit))
        unknown = sorted(set(unit) - set(UNIT_KEYS))
        if unknown:
            raise ValueError("%s has unknown key(s) %s; known: %s" % (where, ", ".join(unknown), ", ".join(UNIT_KEYS)))
        port = unit.get("port")
        if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536):
            raise ValueError("%s.port must be a TCP port from 1 to 65535, got %r" % (where, port))
        if unit.get("ready_path") is not None and port is None:
            raise ValueError("%s.ready_path needs a port" % where)
        checked.append(dict(
            tier=tier, name=unit["name"], port=port, ready_path=unit.get("ready_path"), server=unit.get("server"),
            check_argv=_argv(unit.get("check_argv"), where + ".check_argv"),
            stopped_check=_argv(unit.get("stopped_check"), where + ".stopped_check"),
        ))
    return checked


def host_units(fleet_tiers, group_names, states=None, tiers=None, name="fleet_tiers"):
    """Units of the tiers this host belongs to, with their state on the host.

    ``states`` maps unit name -> ``{"enabled": "enabled"|..., "active": "active"|...}``
    as read from systemctl. ``tiers`` limits the result to these tiers. Each unit gets
    ``enabled`` and ``active`` booleans.
    """
    if not isinstance(fleet_tiers, Mapping):
        raise ValueError("%s must be a mapping of tiers, got %r" % (name, fleet_tiers))
    groups = set(group_names or [])
    states = states or {}
    units = []
    for tier in sorted(fleet_tiers):
        if tiers is not None and tier not in tiers:
            continue
        group = (fleet_tiers[tier] or {}).get("group")
        if not isinstance(group, str) or not group:
            raise ValueError("%s[%r].group must name an inventory group, got %r" % (name, tier, group))
        if group not in groups:
            continue
        for unit in tier_units(fleet_tiers, tier, name):
            state = states.get(unit["name"]) or {}
            unit.update(enabled=state.get("enabled") == "enabled", active=state.get("active") == "active")
            units.append(unit)
    return units


def unit_states(text, names):
    """Unit name -> {"enabled", "active"} from ``systemctl show --property=UnitFileState,
    ActiveState NAME...``, one call for all units instead of two per unit.

    systemctl prints one block of ``Key=value`` lines per name, in the order named, blocks
    separated by an empty line; a unit that does not exist has empty values. The blocks
    are matched to ``names`` by position (an alias reports its target's Id, not the name).
    """
    if not isinstance(text, str):
        raise ValueError("unit_states needs the text of systemctl show, got %r" % (text,))
    names = list(names or [])
    blocks = text.strip("\n").split("\n\n") if text.strip() else []
    if len(blocks) != len(names):
        raise ValueError("systemctl show printed %d block(s) for %d unit(s) (%s)"
                         % (len(blocks), len(names), ", ".join(names)))
    states = {}
    for name, block in zip(names, blocks):
        values = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        states[name] = {"enabled": values.get("UnitFileState", ""), "active": values.get("ActiveState", "")}
    return states


def _slug(text):
    return "".join(ch if ch.isalnum() else "_" for ch in text)


def unit_probes(units, phase, min_free_percent=5, path="/"):
    """health_check probes for the host's enabled units in one phase.

    - ``prestart``: free disk; for enabled units not running yet, their port is free
      and their ``check_argv`` succeeds;
    - ``ready``: each enabled unit is active and answers ``ready_path``;
    - ``stopped``: each enabled unit is inactive and its ``stopped_check`` succeeds;
    - ``health``: free disk plus ``ready``.
    """
    if phase not in PHASES:
        raise ValueError("phase must be one of %s, got %r" % (", ".join(PHASES), phase))
    probes = []
    if phase in ("prestart", "health"):
        probes.append(dict(name="disk", type="disk", path=path, min_free_percent=min_free_percent))
    for unit in units:
        if not unit.get("enabled"):
            continue
        slug = _slug(unit["name"])
        if phase == "prestart" and not unit.get("active"):
            if unit.get("port"):
                probes.append(dict(name="%s_port_free" % slug, type="tcp", host="127.0.0.1", port=unit["port"],
                                   expect="closed"))
            if unit.get("check_argv"):
                probes.append(dict(name="%s_config" % slug, type="command", argv=unit["check_argv"]))
        elif phase in ("ready", "health"):
            probes.append(dict(name="%s_active" % slug, type="systemd", unit=unit["name"]))
            if unit.get("ready_path"):
                probes.append(dict(name="%s_ready" % slug, type="http",
                                   url="http://127.0.0.1:%d%s" % (unit["port"], unit["ready_path"])))
        elif phase == "stopped":
            # "failed" is how a unit killed after its TimeoutStopSec ends; stopped all the same.
            probes.append(dict(name="%s_stopped" % slug, type="systemd", unit=unit["name"],
                               state=["inactive", "failed"]))
            if unit.get("stopped_check"):
                probes.append(dict(name="%s_state" % slug, type="command", argv=unit["stopped_check"]))
    return probes


PROBE_SUFFIXES = ("port_free", "config", "active", "ready", "stopped", "state")


def health_tiers(fleet_tiers, groups, name="fleet_tiers"):
    """``{tier: {"hosts": [...], "probes": [...]}}`` for the ``health_state`` filter.

    ``probes`` are the names :func:`unit_probes` gives the tier's units, so two tiers on
    one host (HAProxy and Prometheus on a load balancer) are judged apart. Tiers whose
    group is empty or missing are left out.
    """
    result = {}
    for tier in sorted(fleet_tiers):
        hosts = list((groups or {}).get((fleet_tiers[tier] or {}).get("group"), []) or [])
        if not hosts:
            continue
        probes = ["%s_%s" % (_slug(unit["name"]), suffix)
                  for unit in tier_units(fleet_tiers, tier, name) for suffix in PROBE_SUFFIXES]
        result[tier] = {"hosts": hosts, "probes": probes}
    return result


def pool_servers(units, host, state, only_active=None):
    """``{"<host>-<server>": {"state": state}}`` for the host's enabled units with a server.

    ``only_active`` true keeps the units that run now, false those that do not.
    """
    servers = {}
    for unit in units:
        if not unit.get("enabled") or not unit.get("server"):
            continue
        if only_active is not None and bool(unit.get("active")) != bool(only_active):
            continue
        servers["%s-%s" % (host, unit["server"])] = {"state": state}
    return servers


def phase_durations(clock):
    """``[{"phase", "seconds"}]`` between consecutive ``{"phase", "at"}`` marks, plus a total.

    The first mark is the start; each later mark ends the phase it names.
    """
    if not isinstance(clock, (list, tuple)) or not clock:
        raise ValueError("clock must be a non-empty list of {phase, at} marks, got %r" % (clock,))
    phases = []
    for before, mark in zip(clock, clock[1:]):
        phases.append(dict(phase=mark["phase"], seconds=round(float(mark["at"]) - float(before["at"]), 1)))
    phases.append(dict(phase="total", seconds=round(float(clock[-1]["at"]) - float(clock[0]["at"]), 1)))
    return phases


def server_states(names, state, weight=None):
    """``{name: {"state": state[, "weight": weight]}}`` for the ``haproxy_server`` module."""
    if isinstance(names, (str, bytes)) or not isinstance(names, (list, tuple)):
        raise ValueError("server names must be a list, got %r" % (names,))
    setting = {"state": state}
    if weight is not None:
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 256:
            raise ValueError("weight must be a whole number from 0 to 256, got %r" % (weight,))
        setting["weight"] = weight
    return dict((name, dict(setting)) for name in names)


def prometheus_scalar(result):
    """The value of the first sample of an instant query's ``data.result``, or None.

    None when the query matched nothing or gave NaN (e.g. a ratio over no traffic).
    """
    if not isinstance(result, (list, tuple)) or not result:
        return None
    sample = result[0].get("value") if isinstance(result[0], dict) else None
    try:
        value = float(sample[1])
    except (TypeError, ValueError, IndexError):
        return None
    return None if math.isnan(value) else value
