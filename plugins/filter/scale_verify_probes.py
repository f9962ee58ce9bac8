# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``scale_verify_probes`` filter (documented in ``scale_verify_probes.yml``); the logic
lives in module_utils.scale_verify."""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils import scale_verify
from ansible_collections.fleetops.lifecycle.plugins.plugin_utils.filter_errors import wrap


def scale_verify_probes(count, url):
    return wrap("scale_verify_probes", scale_verify.verify_probes, count, url)


class FilterModule(object):
    def filters(self):
        return {"scale_verify_probes": scale_verify_probes}
