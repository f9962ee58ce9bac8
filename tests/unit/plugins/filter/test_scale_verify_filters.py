# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""scale_verify_probes and scale_verify_result: thin wrappers over module_utils.scale_verify."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter import scale_verify_probes, scale_verify_result


def test_each_file_provides_the_filter_it_is_named_after():
    assert list(scale_verify_probes.FilterModule().filters()) == ["scale_verify_probes"]
    assert list(scale_verify_result.FilterModule().filters()) == ["scale_verify_result"]


def test_probes_filter_refuses_zero_requests_naming_the_filter_and_the_option():
    with pytest.raises(AnsibleFilterError) as exc:
        scale_verify_probes.scale_verify_probes(0, "http://lb/")
    assert str(exc.value) == ("scale_verify_probes: scale_verify_requests=0: must be 1 or more; the p95 latency and "
                              "the error ratio of no requests are unknown")


def test_result_filter_judges_and_refuses():
    probes = [{"ok": True, "duration_ms": 5.0}, {"ok": False, "duration_ms": 7.0}]
    result = scale_verify_result.scale_verify_result(probes, "2", 500, 0.01)
    assert (result["p95_ms"], result["error_ratio"], result["ok"]) == (7.0, 0.5, False)
    with pytest.raises(AnsibleFilterError) as exc:
        scale_verify_result.scale_verify_result([], 0, 500, 0.01)
    assert str(exc.value).startswith("scale_verify_result: scale_verify_requests=0: must be 1 or more")
