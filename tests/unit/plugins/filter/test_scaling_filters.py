# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scaling filters: thin wrappers over module_utils.scaling."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter.scaling import FilterModule

FILTERS = FilterModule().filters()
FACTS = {"ansible_memtotal_mb": 1800, "ansible_processor_vcpus": 2}


def test_filter_map():
    assert sorted(FILTERS) == ["scale_in_check", "scaling_decision", "vertical_limits"]


def test_vertical_limits():
    result = FILTERS["vertical_limits"]({"cpu_quota_percent": 200, "memory_max_mb": 1024}, FACTS, "app1")
    assert result["dropin"] == "[Service]\nCPUQuota=200%\nMemoryMax=1024M\n"
    with pytest.raises(AnsibleFilterError) as exc:
        FILTERS["vertical_limits"]({"memory_max_mb": 99999}, FACTS, "app1")
    assert str(exc.value) == ("vertical_limits: memory_max_mb=99999 is above what app1 can give: 1544 MB "
                              "(1800 MB total minus 256 MB reserve, the larger of 256 MB and 10%)")


def test_scale_in_check():
    assert FILTERS["scale_in_check"](["app1", "app2"], "app2")["remaining"] == ["app1"]
    with pytest.raises(AnsibleFilterError) as exc:
        FILTERS["scale_in_check"](["app1"], ["app1"])
    assert str(exc.value) == ("scale_in_check: removing app1 would leave 0 hosts in the pool, "
                              "fewer than min_hosts=1")


def test_scaling_decision():
    result = FILTERS["scaling_decision"]({"cpu_percent": 91, "error_ratio": 0}, 2, max_hosts=4)
    assert (result["action"], result["target_hosts"]) == ("scale_out", 3)
    with pytest.raises(AnsibleFilterError) as exc:
        FILTERS["scaling_decision"]({"cpu_percent": 91}, 2, cpu_low=90, cpu_high=80)
    assert str(exc.value) == "scaling_decision: cpu_low=90 must be below cpu_high=80"
