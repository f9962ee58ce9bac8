# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the health_check module, run in-process against loopback ports and commands."""

from __future__ import annotations

import socket
import time

import pytest
import yaml
from ansible_collections.fleetops.lifecycle.plugins.doc_fragments import health_run
from ansible_collections.fleetops.lifecycle.plugins.module_utils import health
from ansible_collections.fleetops.lifecycle.plugins.modules import health_check
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.module_utils.gate_fakes import free_port
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import (
    AnsibleFailJson,
    assert_options_match_spec,
    run_module,
)

pytestmark = pytest.mark.usefixtures("ansible_module_exits")


@pytest.fixture
def port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def fail(args, **kwargs):
    with pytest.raises(AnsibleFailJson) as exc:
        run_module(health_check.main, args, **kwargs)
    return exc.value.result


@pytest.mark.parametrize("check_mode", [False, True])
def test_healthy_host(port, check_mode, tmp_path):
    marker = tmp_path / "ran"
    result = run_module(health_check.main, {"probes": [
        {"name": "port", "type": "tcp", "port": port},
        {"name": "cmd", "type": "command", "argv": ["touch", str(marker)]},
    ]}, check_mode=check_mode)
    assert result["changed"] is False and "failed" not in result
    assert (result["ok"], result["failed_probes"], result["summary"]) == (True, [], "all 2 probes passed")
    assert [p["name"] for p in result["probes"]] == ["port", "cmd"]
    assert result["probes"][0]["value"] == "open"
    assert marker.exists()  # command probes run in check mode too: the caller passes read-only ones


def test_unhealthy_host_fails_the_task_listing_every_failing_probe(port):
    closed = free_port()
    result = fail({"probes": [
        {"name": "port", "type": "tcp", "port": port},
        {"name": "free", "type": "tcp", "port": port, "expect": "closed"},
        {"name": "app", "type": "tcp", "port": closed},
    ]})
    assert result["msg"] == (
        "health check failed, 2 of 3 probes failed: free: 127.0.0.1:%d is open (a connection was accepted), "
        "expected closed; app: 127.0.0.1:%d is closed (connection refused), expected open" % (port, closed))
    assert (result["ok"], result["failed_probes"]) == (False, ["free", "app"])
    assert len(result["probes"]) == 3


def test_fail_on_unhealthy_false_returns_the_result():
    result = run_module(health_check.main, {"fail_on_unhealthy": False, "probes": [
        {"name": "app", "type": "tcp", "port": free_port()}]})
    assert (result["ok"], result["failed_probes"], result["changed"]) == (False, ["app"], False)
    assert "failed" not in result


def test_global_retries_delay_and_per_probe_override(monkeypatch):
    sleeps = []
    monkeypatch.setattr(health.System, "sleep", staticmethod(sleeps.append))
    result = run_module(health_check.main, {"retries": 2, "delay": 3, "fail_on_unhealthy": False, "probes": [
        {"name": "a", "type": "command", "argv": ["false"]},
        {"name": "b", "type": "command", "argv": ["false"], "retries": 0},
    ]})
    assert [p["attempts"] for p in result["probes"]] == [3, 1]
    assert sleeps == [3, 3]


def test_probes_run_concurrently_in_the_module():
    started = time.monotonic()
    result = run_module(health_check.main, {"probes": [
        {"name": "s%d" % i, "type": "command", "argv": ["sleep", "1"]} for i in range(3)]})
    assert time.monotonic() - started < 2.0
    assert result["ok"] is True


def test_bad_definitions_fail_before_any_probe_runs(tmp_path):
    marker = tmp_path / "ran"
    result = fail({"probes": [
        {"name": "cmd", "type": "command", "argv": ["touch", str(marker)]},
        {"name": "disk", "type": "disk", "path": "/", "min_free_percent": 150},
        {"name": "cmd", "type": "tcp", "port": 80},
    ]})
    assert result["msg"] == (
        "bad probe definition: probe 'disk' (probes[1]): min_free_percent=150.0 must be between 0 and 100; "
        "probe 'cmd' (probes[2]): name='cmd' is already used by probes[0]; probe names must be unique")
    assert not marker.exists()


def test_unknown_type_and_missing_option_name_the_probe():
    assert fail({"probes": [{"name": "web", "type": "https", "url": "https://x"}]})["msg"] == (
        "bad probe definition: probe 'web' (probes[0]): type='https' is not a probe type; use one of command, "
        "disk, file_age, http, process, systemd, tcp")
    assert fail({"probes": [{"name": "unit", "type": "systemd"}]})["msg"] == (
        "bad probe definition: probe 'unit' (probes[0]): unit is required for type=systemd")


def test_ansible_refuses_unknown_probe_options():
    msg = fail({"probes": [{"name": "web", "type": "http", "url": "http://x", "expected": 200}]})["msg"]
    assert "Unsupported parameters" in msg and "probes.expected" in msg


def test_bad_concurrency():
    assert fail({"concurrency": 0, "probes": [{"name": "a", "type": "command", "argv": ["true"]}]})["msg"] == (
        "concurrency: 0 must be a whole number from 1 to 64")


def test_documentation_matches_the_argument_spec():
    doc = yaml.safe_load(health_check.DOCUMENTATION)
    yaml.safe_load(health_check.EXAMPLES)
    yaml.safe_load(health_check.RETURN)

    options = dict(doc["options"], **yaml.safe_load(health_run.ModuleDocFragment.DOCUMENTATION)["options"])
    assert_options_match_spec(options, health_check.ARGUMENT_SPEC)
    assert doc["attributes"]["check_mode"]["support"] == "full"
    # every probe option of module_utils is an option of the module, and no more
    assert sorted(health_check.PROBE_SPEC) == sorted(health.PROBE_OPTIONS)
