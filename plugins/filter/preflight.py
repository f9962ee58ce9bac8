# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Preflight filters; the logic lives in module_utils.preflight (documented in
``preflight_problems.yml`` and ``unreachable_verdict.yml``)."""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils import preflight
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def preflight_problems(needed_groups, inventory_groups, required=None):
    """Messages for missing or empty groups and inputs left empty."""
    return wrap("preflight_problems", preflight.preflight_problems, needed_groups, inventory_groups, required)


def unreachable_verdict(all_hosts, reachable, per_host=False):
    """{stop, message} for the hosts a play could not reach."""
    stop, message = wrap("unreachable_verdict", preflight.unreachable_verdict, all_hosts, reachable, per_host)
    return {"stop": stop, "message": message}


class FilterModule(object):
    def filters(self):
        return {"preflight_problems": preflight_problems, "unreachable_verdict": unreachable_verdict}
