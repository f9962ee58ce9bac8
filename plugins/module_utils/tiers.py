# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Start and stop order of a fleet's tiers from their dependencies.

Pure functions, standard library only (Python 3.8+). Bad input raises ``ValueError``
whose message names the option and the value.

Input is the mapping kept in inventory, tier -> settings, where ``depends_on`` lists
the tiers that must be up before this one starts; other keys (``group``, ``hosts``)
are carried along untouched::

    fleet_tiers:
      data: {group: data, depends_on: []}
      app: {group: app, depends_on: [data]}
      edge: {group: loadbalancers, depends_on: [app]}

Output is a list of *waves*, lists of tier names that can start together:
``[["data"], ["app"], ["edge"]]``. A tier's wave is one after the latest wave of its
dependencies (the longest dependency chain below it), so every dependency starts in
an earlier wave and independent tiers start as early as they can. Tiers in a wave are
sorted by name, so the order depends only on the mapping's content, never on its key
order. The shutdown order is the same waves reversed: every tier stops before the
tiers it depends on.
"""

from __future__ import annotations

from collections.abc import Mapping


def _dependencies(fleet_tiers, name):
    """tier -> sorted list of dependencies, after checking the shape of every entry."""
    if not isinstance(fleet_tiers, Mapping) or not fleet_tiers:
        raise ValueError("%s must be a non-empty mapping tier -> {depends_on: [tiers], group: ...}, got %r"
                         % (name, fleet_tiers))
    deps = {}
    for tier, entry in fleet_tiers.items():
        if not isinstance(tier, str) or not tier:
            raise ValueError("%s: tier names must be non-empty strings, got %r" % (name, tier))
        settings = {} if entry is None else entry
        if not isinstance(settings, Mapping):
            raise ValueError("%s[%r] must be a mapping (depends_on, group, hosts), got %r" % (name, tier, settings))
        wanted = settings.get("depends_on")
        if wanted is None:
            wanted = []
        elif isinstance(wanted, str):
            wanted = [wanted]
        if not isinstance(wanted, (list, tuple)) or not all(isinstance(dep, str) and dep for dep in wanted):
            raise ValueError("%s[%r].depends_on must be a list of tier names, got %r"
                             % (name, tier, settings.get("depends_on")))
        deps[tier] = sorted(set(wanted))
    known = ", ".join(sorted(deps))
    for tier in sorted(deps):
        for dep in deps[tier]:
            if dep not in deps:
                raise ValueError("%s: tier %r depends_on unknown tier %r (known tiers: %s)" % (name, tier, dep, known))
    return deps


def find_cycle(deps):
    """A dependency cycle as a list of tiers whose first and last are the same, or None.

    Tiers and their dependencies are visited in sorted order, so the same map always
    reports the same cycle.
    """
    state = {}  # tier -> "visiting" | "done"
    path = []

    def visit(tier):
        state[tier] = "visiting"
        path.append(tier)
        for dep in deps[tier]:
            if state.get(dep) == "visiting":
                return path[path.index(dep):] + [dep]
            if dep not in state:
                cycle = visit(dep)
                if cycle:
                    return cycle
        path.pop()
        state[tier] = "done"
        return None

    for tier in sorted(deps):
        if tier not in state:
            cycle = visit(tier)
            if cycle:
                return cycle
    return None


def waves(fleet_tiers, name="fleet_tiers"):
    """Start waves of every tier (see the module docstring); raises ValueError."""
    deps = _dependencies(fleet_tiers, name)
    cycle = find_cycle(deps)
    if cycle:
        raise ValueError("%s has a dependency cycle: %s" % (name, " -> ".join(cycle)))
    level = {}
    remaining = set(deps)
    while remaining:
        ready = [tier for tier in remaining if all(dep in level for dep in deps[tier])]
        for tier in ready:
            level[tier] = 1 + max([level[dep] for dep in deps[tier]] or [-1])
        remaining.difference_update(ready)
    result = [[] for _ in range(max(level.values()) + 1)]
    for tier in sorted(level):
        result[level[tier]].append(tier)
    return result


def tier_order(fleet_tiers, reverse=False, only=None, name="fleet_tiers"):
    """Waves of tiers to start (``reverse=False``) or stop (``reverse=True``).

    :param only: a tier name or list of names to keep (the others are left out, their
        position in the order is still decided by the whole map); every name must be
        a tier of the map.
    """
    if not isinstance(reverse, bool):
        raise ValueError("reverse must be true or false, got %r" % (reverse,))
    order = waves(fleet_tiers, name)
    if only is not None:
        wanted = [only] if isinstance(only, str) else only
        if not isinstance(wanted, (list, tuple)) or not wanted:
            raise ValueError("only must be a tier name or a non-empty list of tier names, got %r" % (only,))
        for tier in wanted:
            if tier not in fleet_tiers:
                raise ValueError("only: tier %r is not in %s (known tiers: %s)"
                                 % (tier, name, ", ".join(sorted(fleet_tiers))))
        order = [[tier for tier in wave if tier in wanted] for wave in order]
        order = [wave for wave in order if wave]
    if reverse:
        order.reverse()
    return order
