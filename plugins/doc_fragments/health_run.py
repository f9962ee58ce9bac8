# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment(object):

    # The options of every module that runs probes (health_check, fleet_probe), as
    # module_utils.health.RUN_OPTIONS_SPEC declares them.
    DOCUMENTATION = r"""
options:
  timeout:
    description: Default seconds one attempt of a probe may take.
    type: float
    default: 5
  retries:
    description: Default number of extra attempts of a probe that is not ok.
    type: int
    default: 0
  delay:
    description: Default seconds between two attempts.
    type: float
    default: 1
  concurrency:
    description: How many probes may run at the same time, 1 to 64.
    type: int
    default: 8
  fail_on_unhealthy:
    description:
      - Fail the task when a probe is not ok. With C(false) the task succeeds and the play decides
        from RV(ok) and RV(failed_probes).
    type: bool
    default: true
"""
