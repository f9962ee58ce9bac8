# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scaling: vertical limits against host facts, safe scale-in, trigger evaluation."""

from __future__ import annotations

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import scaling
from hypothesis import given, settings
from hypothesis import strategies as st

FACTS = {"ansible_memtotal_mb": 7987, "ansible_processor_vcpus": 4, "inventory_hostname": "app1"}
SMALL = {"memtotal_mb": 1024, "processor_vcpus": 1}


def test_vertical_limits_and_dropin():
    result = scaling.vertical_limits({"cpu_quota_percent": 150, "memory_max_mb": 1024, "workers": 8}, FACTS)
    assert result == {
        "host": "app1",
        "cpu_quota_percent": 150,
        "memory_max_mb": 1024,
        "workers": 8,
        "limits": {"memtotal_mb": 7987, "vcpus": 4, "reserve_mb": 799, "max_memory_mb": 7188,
                   "max_cpu_quota_percent": 400, "max_workers": 16, "workers_per_cpu": 4,
                   "reserve_rule": "the larger of 256 MB and 10%"},
        "dropin": "[Service]\nCPUQuota=150%\nMemoryMax=1024M\n",
    }


def test_vertical_limits_boundaries_and_partial_requests():
    assert scaling.vertical_limits({"cpu_quota_percent": 400}, FACTS)["dropin"] == "[Service]\nCPUQuota=400%\n"
    assert scaling.vertical_limits({"memory_max_mb": 7188}, FACTS)["memory_max_mb"] == 7188
    only_workers = scaling.vertical_limits({"workers": "16"}, FACTS)
    assert (only_workers["workers"], only_workers["dropin"], only_workers["memory_max_mb"]) == (16, "", None)
    # small hosts: the 256 MB floor is larger than 10%
    small = scaling.vertical_limits({"memory_max_mb": 768}, SMALL, host="tiny")
    assert small["limits"]["reserve_mb"] == 256 and small["limits"]["max_memory_mb"] == 768


@pytest.mark.parametrize("requested, facts, kwargs, message", [
    ({"memory_max_mb": 99999}, FACTS, {},
     "memory_max_mb=99999 is above what app1 can give: 7188 MB (7987 MB total minus 799 MB reserve, the larger of "
     "256 MB and 10%)"),
    ({"memory_max_mb": 7476}, FACTS, {"reserve_mb": 512, "reserve_percent": 5},
     "memory_max_mb=7476 is above what app1 can give: 7475 MB (7987 MB total minus 512 MB reserve, the larger of "
     "512 MB and 5%)"),
    ({"cpu_quota_percent": 450}, FACTS, {}, "cpu_quota_percent=450 is above what app1 can give: 400% (4 vCPUs x 100%)"),
    ({"cpu_quota_percent": 0}, FACTS, {}, "cpu_quota_percent=0 must be a whole number of 1 or more"),
    ({"cpu_quota_percent": 12.5}, FACTS, {}, "cpu_quota_percent=12.5 must be a whole number of 1 or more"),
    ({"memory_max_mb": -1}, FACTS, {}, "memory_max_mb=-1 must be a whole number of 1 or more"),
    ({"workers": 0}, FACTS, {}, "workers=0 must be a whole number of 1 or more"),
    ({"workers": 17}, FACTS, {}, "workers=17 is above the limit for app1: 16 (4 per vCPU x 4 vCPUs)"),
    ({"workers": 3}, SMALL, {"workers_per_cpu": 2, "host": "tiny"},
     "workers=3 is above the limit for tiny: 2 (2 per vCPU x 1 vCPUs)"),
    ({"workers": True}, FACTS, {}, "workers=True must be a whole number of 1 or more"),
    ({"cpu_quota_percent": 999, "memory_max_mb": 99999}, FACTS, {},
     "cpu_quota_percent=999 is above what app1 can give: 400% (4 vCPUs x 100%); memory_max_mb=99999 is above what "
     "app1 can give: 7188 MB (7987 MB total minus 799 MB reserve, the larger of 256 MB and 10%)"),
    ({}, FACTS, {}, "requested: give at least one of cpu_quota_percent, memory_max_mb, workers"),
    ({"memory_mb": 5}, FACTS, {},
     "requested: unknown option(s) memory_mb; use cpu_quota_percent, memory_max_mb, workers"),
    ("1024", FACTS, {}, "requested must be a mapping with cpu_quota_percent, memory_max_mb and/or workers, got '1024'"),
    ({"workers": 1}, {"processor_vcpus": 2}, {},
     "facts: memtotal_mb=None must be the host's memory in MB (gather facts first)"),
    ({"workers": 1}, {"memtotal_mb": 512}, {},
     "facts: processor_vcpus=None must be the host's vCPU count (gather facts first)"),
    ({"workers": 1}, FACTS, {"reserve_percent": 100}, "reserve_percent=100 must be a number from 0 to below 100"),
    ({"workers": 1}, FACTS, {"reserve_mb": -1}, "reserve_mb=-1 must be a whole number of MB, 0 or more"),
])
def test_vertical_limit_errors(requested, facts, kwargs, message):
    with pytest.raises(ValueError) as exc:
        scaling.vertical_limits(requested, facts, **kwargs)
    assert str(exc.value) == message


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=300, max_value=1 << 20), st.integers(min_value=1, max_value=256),
       st.integers(min_value=1, max_value=1 << 21))
def test_accepted_memory_always_leaves_the_reserve(memtotal, vcpus, memory):
    facts = {"memtotal_mb": memtotal, "processor_vcpus": vcpus}
    try:
        result = scaling.vertical_limits({"memory_max_mb": memory}, facts, host="h")
    except ValueError as exc:
        assert memory > memtotal - max(256, -(-memtotal // 10)), exc
    else:
        assert memtotal - result["memory_max_mb"] >= max(256, memtotal * 0.1)


def test_scale_in_check():
    assert scaling.scale_in_check(["app1", "app2", "app3"], ["app3", "app1", "app3"]) == {
        "remove": ["app1", "app3"], "remaining": ["app2"], "pool_size": 3, "min_hosts": 1}
    assert scaling.scale_in_check(["app1", "app2"], "app2", min_hosts=1)["remaining"] == ["app1"]
    assert scaling.scale_in_check(["app1"], [])["remaining"] == ["app1"]


@pytest.mark.parametrize("pool, remove, min_hosts, message", [
    (["app1", "app2"], ["app1", "app2"], 1,
     "removing app1, app2 would leave 0 hosts in the pool, fewer than min_hosts=1"),
    (["app1", "app2", "app3"], ["app1", "app2"], 2,
     "removing app1, app2 would leave 1 host in the pool (app3), fewer than min_hosts=2"),
    (["app1", "app2"], ["app9"], 1, "remove: app9 is not in the pool (app1, app2)"),
    (["app1", "app2"], ["app9", "app8", "app1"], 1, "remove: app9, app8 are not in the pool (app1, app2)"),
    ([], ["app1"], 1, "remove: app1 is not in the pool (empty)"),
    (["app1"], [], 0, "min_hosts=0 must be a whole number of 1 or more (a pool is never emptied)"),
    ("app1,app2", ["app1"], 1, "pool must be a list of host names, got 'app1,app2'"),
    (["app1"], [5], 1, "remove must be a list of host names, got [5]"),
])
def test_scale_in_refusals(pool, remove, min_hosts, message):
    with pytest.raises(ValueError) as exc:
        scaling.scale_in_check(pool, remove, min_hosts)
    assert str(exc.value) == message


def decide(hosts=3, **metrics):
    options = dict((key, metrics.pop(key)) for key in list(metrics) if key not in
                   ("cpu_percent", "p95_latency_ms", "error_ratio"))
    return scaling.scaling_decision(metrics, hosts, **options)


def test_scale_out_triggers():
    result = decide(cpu_percent=83.5, p95_latency_ms=450, error_ratio=0.05, latency_budget_ms=300)
    assert (result["action"], result["target_hosts"]) == ("scale_out", 4)
    assert result["reasons"] == ["cpu 83.5% > cpu_high 70%", "p95 latency 450ms > budget 300ms",
                                 "error ratio 0.05 > error_ratio_max 0.01"]
    assert decide(cpu_percent=50, p95_latency_ms=301, error_ratio=0, latency_budget_ms=300)["action"] == "scale_out"
    assert decide(cpu_percent=None, error_ratio=0.2)["action"] == "scale_out"


def test_scale_out_blocked_at_max_hosts():
    result = decide(hosts=6, cpu_percent=90, error_ratio=0, max_hosts=6)
    assert (result["action"], result["target_hosts"]) == ("none", 6)
    assert result["reasons"] == ["cpu 90% > cpu_high 70%", "the pool is at max_hosts=6, cannot scale out"]


def test_scale_in_needs_every_signal_low():
    result = decide(cpu_percent=12, p95_latency_ms=40, error_ratio=0.001, latency_budget_ms=300)
    assert (result["action"], result["target_hosts"]) == ("scale_in", 2)
    assert result["reasons"] == ["cpu 12% < cpu_low 30%", "p95 latency 40ms within budget 300ms",
                                 "error ratio 0.001 within error_ratio_max 0.01"]
    missing = decide(cpu_percent=12, error_ratio=None)
    assert (missing["action"], missing["reasons"]) == ("none", ["error_ratio not measured", "cpu 12% < cpu_low 30%"])
    no_latency = decide(cpu_percent=12, error_ratio=0, latency_budget_ms=300)
    assert no_latency["action"] == "none" and "p95_latency_ms not measured" in no_latency["reasons"]
    at_min = decide(hosts=2, cpu_percent=5, error_ratio=0, min_hosts=2)
    assert at_min["action"] == "none" and at_min["reasons"][-1] == "the pool is at min_hosts=2, cannot scale in"


def test_in_between_is_none():
    result = decide(cpu_percent=50, error_ratio=0)
    assert result["action"] == "none"
    assert result["reasons"] == ["cpu 50% is between cpu_low 30% and cpu_high 70%",
                                 "error ratio 0 within error_ratio_max 0.01"]
    assert decide()["reasons"] == ["cpu_percent not measured", "error_ratio not measured"]


@pytest.mark.parametrize("kwargs, message", [
    ({"cpu_percent": -1}, "metrics.cpu_percent=-1 must be a number 0 or more (or null when not measured)"),
    ({"error_ratio": 1.5}, "metrics.error_ratio=1.5 must be a number from 0 to 1 (or null when not measured)"),
    ({"p95_latency_ms": "fast"},
     "metrics.p95_latency_ms='fast' must be a number 0 or more (or null when not measured)"),
    ({"cpu_low": 80}, "cpu_low=80 must be below cpu_high=70"),
    ({"cpu_high": 120}, "cpu_high=120 must be a percentage from 0 to 100"),
    ({"latency_budget_ms": 0}, "latency_budget_ms=0 must be a number of milliseconds above 0"),
    ({"error_ratio_max": 2}, "error_ratio_max=2 must be a ratio from 0 to 1"),
    ({"min_hosts": 0}, "min_hosts=0 must be a whole number of 1 or more"),
    ({"max_hosts": 1, "min_hosts": 2}, "max_hosts=1 must be a whole number of at least min_hosts=2"),
    ({"hosts": -1}, "hosts=-1 must be the number of hosts in the pool"),
])
def test_decision_errors(kwargs, message):
    with pytest.raises(ValueError) as exc:
        decide(**kwargs)
    assert str(exc.value) == message


def test_unknown_metric_keys():
    with pytest.raises(ValueError) as exc:
        scaling.scaling_decision({"cpu": 80}, 2)
    assert str(exc.value) == "metrics: unknown key(s) cpu; use cpu_percent, p95_latency_ms, error_ratio"
