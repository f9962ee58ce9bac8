# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet_probe module's work: read the state of this host's fleet units, then probe them.

One task per host instead of two (``systemctl show``, then health_check with probes
made from its output): on a fleet of tens of hosts every task is a round over all of
them, so the health check costs what its tasks per host cost.
"""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils import fleet, health
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError

# Seconds systemctl may take to report the units (it answers in milliseconds on a
# healthy host; a wedged systemd is named instead of hanging the run).
SYSTEMCTL_TIMEOUT = 30


def read_unit_states(system, names):
    """Unit name -> {"enabled", "active"}, read with one ``systemctl show`` of every unit."""
    if not names:
        return {}
    argv = ["systemctl", "show", "--property=UnitFileState,ActiveState"] + list(names)
    rc, out, err = system.run(argv, SYSTEMCTL_TIMEOUT)
    if rc != 0:
        raise ResultError("reading the state of %s failed: systemctl show exited %d: %s"
                          % (", ".join(names), rc, (err or out).strip()[-300:]))
    try:
        return fleet.unit_states(out, names)
    except ValueError as exc:
        raise ResultError("reading the state of %s failed: %s" % (", ".join(names), exc)) from None


def probe_host(params, system=None):
    """The module's result: health_check's keys for the host's units in ``phase``, plus ``units``.

    Every input is checked before the host is read: ``fleet_tiers`` (named by the
    message), the phase, and ``extra_probes`` by their own index.
    """
    system = system or health.System()
    tiers, groups, phase = params.get("fleet_tiers"), params.get("groups") or [], params.get("phase")
    if phase not in fleet.PHASES:
        raise ResultError("phase=%r is not a phase; use one of %s" % (phase, ", ".join(fleet.PHASES)))
    try:
        names = [unit["name"] for unit in fleet.host_units(tiers, groups)]
    except ValueError as exc:
        raise ResultError(str(exc)) from None
    defaults = dict((key, getattr(health, "DEFAULT_" + key.upper()) if params.get(key) is None else params[key])
                    for key in ("timeout", "retries", "delay"))
    extra = list(params.get("extra_probes") or [])
    if extra:
        health.validate_probes(extra, option="extra_probes", **defaults)
    units = fleet.host_units(tiers, groups, read_unit_states(system, names))
    probes = fleet.unit_probes(units, phase, params.get("min_free_percent", 5)) + extra
    if not probes:  # a host of no tier, probed for a phase without a disk probe
        result = health.summarize([])
    else:
        result = health.check_health(dict(params, probes=probes, **defaults), system)
    result["units"] = units
    return result
