# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the fleet_probe module: the units' state read once, then the phase's probes.

systemctl is replaced by a fake answering from a table of unit states (the module reads
it twice: once for every unit's state, once per ``systemd`` probe); the readiness
endpoints are real HTTP servers on loopback.
"""

from __future__ import annotations

import http.server
import threading

import pytest
import yaml
from ansible_collections.fleetops.lifecycle.plugins.doc_fragments import health_run
from ansible_collections.fleetops.lifecycle.plugins.module_utils import health
from ansible_collections.fleetops.lifecycle.plugins.modules import fleet_probe
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.module_utils.gate_fakes import free_port
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import (
    AnsibleFailJson,
    assert_options_match_spec,
    run_module,
)

pytestmark = pytest.mark.usefixtures("ansible_module_exits")


class _Ready(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (the name http.server calls)
        self.send_response(200 if self.path == "/readyz" else 404)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def ready_port():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ready)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def systemd(monkeypatch):
    """Unit name -> (UnitFileState, ActiveState) the fake systemctl reports; calls are recorded."""
    units, calls = {}, []

    def run(argv, timeout):
        if "systemctl" not in argv[0]:
            raise AssertionError("only systemctl is expected, got %r" % (argv,))
        calls.append(list(argv))
        if "--property=UnitFileState,ActiveState" in argv:
            names = argv[3:]
            blocks = ["UnitFileState=%s\nActiveState=%s" % units.get(name, ("", "")) for name in names]
            return 0, "\n\n".join(blocks) + "\n", ""
        name = argv[-1]
        enabled, active = units.get(name, ("", "inactive"))
        return 0, "ActiveState=%s\nSubState=running\nLoadState=loaded\nResult=success\n" % active, ""

    monkeypatch.setattr(health.System, "run", staticmethod(run))
    systemd.units, systemd.calls = units, calls
    return systemd


def tiers(port):
    return {
        "app": {"group": "app", "units": [
            {"name": "shop@blue", "port": port, "ready_path": "/readyz", "server": "blue"},
            {"name": "shop@green", "port": port + 1 if port < 65535 else port - 1, "ready_path": "/readyz",
             "server": "green"}]},
        "edge": {"group": "loadbalancers", "depends_on": ["app"], "units": ["haproxy"]},
    }


def fail(args, **kwargs):
    with pytest.raises(AnsibleFailJson) as exc:
        run_module(fleet_probe.main, args, **kwargs)
    return exc.value.result


def test_documentation_matches_the_argument_spec():
    options = dict(yaml.safe_load(fleet_probe.DOCUMENTATION)["options"],
                   **yaml.safe_load(health_run.ModuleDocFragment.DOCUMENTATION)["options"])
    assert_options_match_spec(options, fleet_probe.ARGUMENT_SPEC)


@pytest.mark.parametrize("check_mode", [False, True])
def test_the_enabled_slot_is_probed_and_the_disabled_one_only_reported(systemd, ready_port, check_mode):
    systemd.units.update({"shop@blue": ("enabled", "active"), "shop@green": ("disabled", "inactive")})
    result = run_module(fleet_probe.main, {"fleet_tiers": tiers(ready_port), "groups": ["app", "all_apps"],
                                           "min_free_percent": 0}, check_mode=check_mode)
    assert (result["ok"], result["changed"], result["summary"]) == (True, False, "all 3 probes passed")
    assert [p["name"] for p in result["probes"]] == ["disk", "shop_blue_active", "shop_blue_ready"]
    assert [(u["name"], u["enabled"], u["active"]) for u in result["units"]] == [
        ("shop@blue", True, True), ("shop@green", False, False)]
    # every unit's state in one systemctl call, before the one systemd probe
    assert systemd.calls[0][3:] == ["shop@blue", "shop@green"]
    assert sum("--property=UnitFileState,ActiveState" in call for call in systemd.calls) == 1


def test_an_enabled_unit_that_does_not_answer_fails_the_task_by_name(systemd):
    port = free_port()
    systemd.units.update({"shop@blue": ("enabled", "active"), "shop@green": ("enabled", "active")})
    result = fail({"fleet_tiers": tiers(port), "groups": ["app"], "min_free_percent": 0, "timeout": 1})
    assert result["failed_probes"] == ["shop_blue_ready", "shop_green_ready"]
    assert result["msg"].startswith("health check failed, 2 of 5 probes failed: shop_blue_ready: ")


def test_without_failing_the_unhealthy_result_is_returned(systemd):
    systemd.units.update({"haproxy": ("enabled", "failed")})
    result = run_module(fleet_probe.main, {"fleet_tiers": tiers(free_port()), "groups": ["loadbalancers"],
                                           "phase": "ready", "fail_on_unhealthy": False})
    assert (result["ok"], result["failed_probes"]) == (False, ["haproxy_active"])
    assert "failed" not in result
    assert [u["name"] for u in result["units"]] == ["haproxy"]


def test_extra_probes_run_after_the_units_probes(systemd, ready_port):
    systemd.units.update({"shop@blue": ("enabled", "active")})
    result = run_module(fleet_probe.main, {
        "fleet_tiers": tiers(ready_port), "groups": ["app"], "phase": "ready",
        "extra_probes": [{"name": "ready_again", "type": "http", "url": "http://127.0.0.1:%d/readyz" % ready_port}]})
    assert [p["name"] for p in result["probes"]] == ["shop_blue_active", "shop_blue_ready", "ready_again"]
    assert result["ok"] is True


def test_a_host_of_no_tier_gets_the_disk_probe_only_for_health_and_nothing_for_ready(systemd):
    result = run_module(fleet_probe.main, {"fleet_tiers": tiers(free_port()), "groups": ["db"],
                                           "min_free_percent": 0})
    assert ([p["name"] for p in result["probes"]], result["units"]) == (["disk"], [])
    result = run_module(fleet_probe.main, {"fleet_tiers": tiers(free_port()), "groups": ["db"], "phase": "ready"})
    assert (result["probes"], result["ok"], result["summary"]) == ([], True, "all 0 probes passed")
    assert systemd.calls == []  # no unit, nothing to read


def test_a_bad_tier_is_named_before_the_host_is_read(systemd):
    bad = {"app": {"group": "app", "units": [{"name": "shop@blue", "port": 70000}]}}
    result = fail({"fleet_tiers": bad, "groups": ["app"]})
    assert result["msg"] == "fleet_tiers['app'].units[0].port must be a TCP port from 1 to 65535, got 70000"
    assert systemd.calls == []


def test_a_bad_extra_probe_is_named_by_its_index_in_extra_probes(systemd):
    result = fail({"fleet_tiers": tiers(free_port()), "groups": ["app"],
                   "extra_probes": [{"name": "ok", "type": "tcp", "port": 1}, {"name": "x", "type": "smoke"}]})
    assert result["msg"].startswith(
        "bad probe definition: probe 'x' (extra_probes[1]): type='smoke' is not a probe type")
    assert systemd.calls == []


def test_an_extra_probe_may_not_take_a_units_probe_name(systemd):
    systemd.units.update({"shop@blue": ("enabled", "active")})
    result = fail({"fleet_tiers": tiers(free_port()), "groups": ["app"], "phase": "ready",
                   "extra_probes": [{"name": "shop_blue_active", "type": "tcp", "port": 1}]})
    assert "name='shop_blue_active' is already used by probes[0]" in result["msg"]


def test_systemctl_failing_is_named_with_the_units(systemd, monkeypatch):
    monkeypatch.setattr(health.System, "run", staticmethod(lambda argv, timeout: (1, "", "Failed to connect to bus")))
    result = fail({"fleet_tiers": tiers(free_port()), "groups": ["app"]})
    assert result["msg"] == ("reading the state of shop@blue, shop@green failed: systemctl show exited 1: "
                             "Failed to connect to bus")
