# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The shared preflight's decisions: which needed inventory groups are missing or
empty, which required inputs were not given, which hosts could not be reached. Each
message names the variable the user sets."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def _entries(value, option, keys, required_keys=2):
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise ValueError("%s must be a list of {%s}, got %r" % (option, ", ".join(keys), value))
    for index, entry in enumerate(value):
        if not isinstance(entry, Mapping) or not entry.get(keys[0]) or (required_keys == 2 and not entry.get(keys[1])):
            raise ValueError("%s[%d] must be a mapping with %s, got %r" % (
                option, index, " and ".join(keys[:required_keys]), entry))
    return value


def group_problems(needed, inventory_groups):
    """``needed``: ``[{group, variable}]`` (variable: the one that names the group, if
    any); ``inventory_groups``: group -> hosts (the ``groups`` magic variable). One
    message per group that is missing or has no host."""
    problems = []
    for entry in _entries(needed, "preflight_groups", ("group", "variable"), required_keys=1):
        group, variable = entry["group"], entry.get("variable")
        named = "group %s (%s=%s)" % (group, variable, group) if variable else "group %s" % group
        if group not in inventory_groups:
            problems.append("%s is not in the inventory" % named)
        elif not inventory_groups[group]:
            problems.append("%s has no hosts" % named)
    return problems


def input_problems(required):
    """``required``: ``[{variable, example, value}]``. One message per input left empty."""
    problems = []
    for entry in _entries(required, "preflight_required", ("variable", "example")):
        value = entry.get("value")
        if value is None or (isinstance(value, (str, list, dict)) and len(value) == 0):
            problems.append("%s is required: pass -e %s=%s" % (entry["variable"], entry["variable"], entry["example"]))
    return problems


def preflight_problems(needed_groups, inventory_groups, required=None):
    """Every group and input problem, groups first."""
    return group_problems(needed_groups, inventory_groups) + input_problems(required)


def unreachable_verdict(all_hosts, reachable, per_host):
    """What to do about the hosts the play could not reach: ``(stop, message)``.

    ``per_host``: the playbook may go on with the hosts it reached (it says so)."""
    missing = [host for host in all_hosts if host not in set(reachable)]
    if not missing:
        return False, "every host reached: %s" % ", ".join(all_hosts)
    if per_host:
        return False, "unreachable: %s; going on with the %d reachable host(s) (this playbook works per host)" % (
            ", ".join(missing), len(all_hosts) - len(missing))
    return True, "unreachable: %s; nothing was changed (every host must be reachable for this playbook)" % (
        ", ".join(missing))
