# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet unit filters for startup/shutdown/health; the logic lives in module_utils.fleet.

Each filter is documented in its sidecar file (``fleet_units.yml``, ``unit_states.yml``, ``fleet_probes.yml``,
``fleet_servers.yml``, ``phase_durations.yml``,
``fleet_health_tiers.yml``, ``server_states.yml``,
``prometheus_scalar.yml``) next to this one.
"""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils import fleet
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def fleet_units(fleet_tiers, group_names, states=None, tiers=None):
    """The host's units, from its groups, with their systemd state."""
    return wrap("fleet_units", fleet.host_units, fleet_tiers, group_names, states, tiers)


def unit_states(text, names):
    """Unit name -> its systemd state, from one ``systemctl show`` of every unit."""
    return wrap("unit_states", fleet.unit_states, text, names)


def fleet_probes(units, phase, min_free_percent=5):
    """health_check probes proving the units are ready to start, ready, stopped or healthy."""
    return wrap("fleet_probes", fleet.unit_probes, units, phase, min_free_percent)


def fleet_servers(units, host, state, only_active=None):
    """haproxy_server settings for the host's enabled units that are pool members."""
    return wrap("fleet_servers", fleet.pool_servers, units, host, state, only_active)


def fleet_health_tiers(fleet_tiers, groups):
    """Tier -> hosts and the names of the tier's probes, for health_state."""
    return wrap("fleet_health_tiers", fleet.health_tiers, fleet_tiers, groups)


def server_states(names, state, weight=None):
    """haproxy_server settings putting every named server in one state (and weight)."""
    return wrap("server_states", fleet.server_states, names, state, weight)


def prometheus_scalar(result):
    """The first sample's value of a Prometheus instant query result, None when none or NaN."""
    return wrap("prometheus_scalar", fleet.prometheus_scalar, result)


def phase_durations(clock):
    """Seconds of each phase from the marks a playbook took at the end of each."""
    return wrap("phase_durations", fleet.phase_durations, clock)


class FilterModule(object):
    def filters(self):
        return {
            "fleet_units": fleet_units,
            "unit_states": unit_states,
            "fleet_probes": fleet_probes,
            "fleet_servers": fleet_servers,
            "phase_durations": phase_durations,
            "fleet_health_tiers": fleet_health_tiers,
            "server_states": server_states,
            "prometheus_scalar": prometheus_scalar,
        }
