# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canary rollout planning filters; the logic lives in module_utils.rollout.

This file holds several filters, so each one is documented in its own sidecar file
(``canary_stages.yml``, ``traffic_weights.yml``, ...) next to it, where ansible-doc
looks for a filter whose plugin file carries no DOCUMENTATION of its own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.module_utils import rollout, slot_info
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def canary_stages(stages=None, option="canary_stages"):
    """Validated cumulative traffic targets (default [10, 50, 100]); ``option`` names
    the list in messages (the variable the user set)."""
    return wrap("canary_stages", rollout.validate_stages, stages, option)


def traffic_weights(target_percent, hosts, max_weight=rollout.HAPROXY_MAX_WEIGHT):
    """Weights per host: a list for a host count, a host-keyed dict for a host list."""
    if isinstance(hosts, Sequence) and not isinstance(hosts, (str, bytes)):
        return wrap("traffic_weights", rollout.host_weights, target_percent, hosts, max_weight)
    if isinstance(hosts, Mapping) or isinstance(hosts, (str, bytes)):
        raise AnsibleFilterError(
            "traffic_weights: hosts must be a host count or a list of host names, got %r" % (hosts,)
        )
    return wrap("traffic_weights", rollout.traffic_weights, target_percent, hosts, max_weight)


def traffic_share(weights):
    """Realized percent of traffic on the new slot."""
    return wrap("traffic_share", rollout.traffic_share, weights)


def canary_batches(hosts, stages=None):
    """Host batches from cumulative traffic targets."""
    return wrap("canary_batches", rollout.canary_batches, hosts, stages)


def rollout_plan(hosts, stages=None, max_weight=rollout.HAPROXY_MAX_WEIGHT):
    """Per-stage target, weights, realized share and host batch."""
    return wrap("rollout_plan", rollout.plan_rollout, hosts, stages, max_weight)


def slot_servers(host_weights_by_name, new_slot, old_slot):
    """HAProxy server settings for per-host new/old slot weights."""
    return wrap("slot_servers", rollout.slot_servers, host_weights_by_name, new_slot, old_slot)


def live_slots(servers, hosts, releases=None):
    """The slot carrying traffic now (old) and the idle one (new), from HAProxy state."""
    return wrap("live_slots", rollout.live_slots, servers, hosts, releases)


def analysis_window(window):
    """The analysis window in whole seconds; 0 turns the gate off."""
    return wrap("analysis_window", rollout.analysis_window, window)


def ungated_stage(stage, window):
    """The gate record of a stage left unanalysed (window 0), else None."""
    return wrap("ungated_stage", rollout.ungated_stage, stage, window)


def release_probes(url, field, version, count=rollout.RELEASE_CHECK_REQUESTS):
    """health_check probes: count GETs of url, each answering 200 with field = version."""
    return wrap("release_probes", rollout.release_probes, url, field, version, count)


def slot_releases(infos, hosts):
    """Host -> what each slot runs, the last good and the good releases, from slot_info results."""
    return wrap("slot_releases", slot_info.releases_by_host, infos, hosts)


def short_of_space(infos, hosts, min_mb, option="deploy_min_free_mb"):
    """A line per host whose slot_info free_mb is below min_mb, naming the option."""
    return wrap("short_of_space", slot_info.short_of_space, infos, hosts, min_mb, option)


class FilterModule(object):
    def filters(self):
        return {
            "canary_stages": canary_stages,
            "traffic_weights": traffic_weights,
            "traffic_share": traffic_share,
            "canary_batches": canary_batches,
            "rollout_plan": rollout_plan,
            "slot_servers": slot_servers,
            "live_slots": live_slots,
            "analysis_window": analysis_window,
            "ungated_stage": ungated_stage,
            "release_probes": release_probes,
            "slot_releases": slot_releases,
            "short_of_space": short_of_space,
        }
