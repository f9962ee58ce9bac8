# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Readiness filters; the logic lives in module_utils.readiness.

Each filter is documented in its sidecar file next to this one (``readiness_assess.yml``,
``readiness_markdown.yml``).
"""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils import readiness
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def readiness_assess(facts, backup_max_age=1.1 * readiness.DAY, verify_max_age=8 * readiness.DAY,
                     drill_max_age=30 * readiness.DAY):
    return wrap("readiness_assess", readiness.assess, facts, backup_max_age=backup_max_age,
                 verify_max_age=verify_max_age, drill_max_age=drill_max_age)


def readiness_markdown(report):
    return wrap("readiness_markdown", readiness.markdown, report)


class FilterModule(object):
    def filters(self):
        return {"readiness_assess": readiness_assess, "readiness_markdown": readiness_markdown}
