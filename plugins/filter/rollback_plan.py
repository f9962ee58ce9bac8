# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``rollback_plan`` filter (documented in ``rollback_plan.yml``); the logic lives in
module_utils.rollback."""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils import rollback
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def rollback_plan(live, releases, hosts, requested="", ledger_path="the ledger"):
    return wrap("rollback_plan", rollback.rollback_plan, live, releases, hosts, requested, ledger_path)


class FilterModule(object):
    def filters(self):
        return {"rollback_plan": rollback_plan}
