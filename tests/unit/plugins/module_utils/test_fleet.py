# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which units a host runs for the fleet's tiers, and the probes of each phase."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.fleetops.lifecycle.plugins.filter.fleet import (
    fleet_health_tiers,
    fleet_probes,
    fleet_servers,
    fleet_units,
    phase_durations,
    prometheus_scalar,
    server_states,
    unit_states,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils import fleet

TIERS = {
    "app": {
        "group": "app",
        "depends_on": [],
        "units": [
            {"name": "demo@blue", "port": 8081, "ready_path": "/readyz", "server": "blue",
             "check_argv": ["python3", "/opt/demo/current-blue/app.py", "--check-config"],
             "stopped_check": ["sqlite3", "/var/lib/demo/state.db", "PRAGMA quick_check"]},
            {"name": "demo@green", "port": 8082, "ready_path": "/readyz", "server": "green"},
        ],
    },
    "edge": {"group": "loadbalancers", "depends_on": ["app"], "units": [{"name": "haproxy", "port": 80}]},
    "monitoring": {"group": "monitoring", "depends_on": ["edge"], "units": ["prometheus"]},
}
STATES = {
    "demo@blue": {"enabled": "enabled", "active": "active"},
    "demo@green": {"enabled": "disabled", "active": "inactive"},
}


def test_host_units_follow_the_groups_and_carry_the_state():
    units = fleet.host_units(TIERS, ["app"], STATES)
    assert [(u["name"], u["enabled"], u["active"]) for u in units] == [
        ("demo@blue", True, True), ("demo@green", False, False)]
    lb = fleet.host_units(TIERS, ["loadbalancers", "monitoring"], {})
    assert [(u["tier"], u["name"]) for u in lb] == [("edge", "haproxy"), ("monitoring", "prometheus")]
    assert fleet.host_units(TIERS, ["loadbalancers", "monitoring"], {}, tiers=["edge"])[0]["name"] == "haproxy"
    assert fleet.host_units(TIERS, ["other"]) == []


def test_prestart_probes_only_for_enabled_units_that_are_not_running():
    stopped = {"demo@blue": {"enabled": "enabled", "active": "inactive"}}
    units = fleet.host_units(TIERS, ["app"], stopped)
    assert fleet.unit_probes(units, "prestart", 10) == [
        {"name": "disk", "type": "disk", "path": "/", "min_free_percent": 10},
        {"name": "demo_blue_port_free", "type": "tcp", "host": "127.0.0.1", "port": 8081, "expect": "closed"},
        {"name": "demo_blue_config", "type": "command",
         "argv": ["python3", "/opt/demo/current-blue/app.py", "--check-config"]},
    ]
    running = fleet.host_units(TIERS, ["app"], STATES)
    assert [p["name"] for p in fleet.unit_probes(running, "prestart")] == ["disk"]


def test_ready_stopped_and_health_probes():
    units = fleet.host_units(TIERS, ["app"], STATES)
    assert fleet.unit_probes(units, "ready") == [
        {"name": "demo_blue_active", "type": "systemd", "unit": "demo@blue"},
        {"name": "demo_blue_ready", "type": "http", "url": "http://127.0.0.1:8081/readyz"},
    ]
    assert fleet.unit_probes(units, "stopped") == [
        {"name": "demo_blue_stopped", "type": "systemd", "unit": "demo@blue", "state": ["inactive", "failed"]},
        {"name": "demo_blue_state", "type": "command",
         "argv": ["sqlite3", "/var/lib/demo/state.db", "PRAGMA quick_check"]},
    ]
    assert [p["name"] for p in fleet.unit_probes(units, "health")] == ["disk", "demo_blue_active", "demo_blue_ready"]


def test_pool_servers_of_enabled_units():
    units = fleet.host_units(TIERS, ["app"], STATES)
    assert fleet.pool_servers(units, "app1", "drain") == {"app1-blue": {"state": "drain"}}
    assert fleet.pool_servers(units, "app1", "drain", only_active=False) == {}
    assert fleet.pool_servers(fleet.host_units(TIERS, ["loadbalancers"], {}), "lb1", "ready") == {}


@pytest.mark.parametrize("tiers, message", [
    ({"app": {"group": "app", "units": [{"name": "demo", "prot": 1}]}},
     "fleet_tiers['app'].units[0] has unknown key(s) prot; known: name, port, ready_path, server, check_argv"),
    ({"app": {"group": "app", "units": [{"name": "demo", "port": 70000}]}},
     "fleet_tiers['app'].units[0].port must be a TCP port from 1 to 65535, got 70000"),
    ({"app": {"group": "app", "units": [{"name": "demo", "ready_path": "/r"}]}},
     "fleet_tiers['app'].units[0].ready_path needs a port"),
    ({"app": {"group": "app", "units": [{"name": "demo", "check_argv": "app --check"}]}},
     "fleet_tiers['app'].units[0].check_argv must be a non-empty list of arguments, got 'app --check'"),
    ({"app": {"units": []}}, "fleet_tiers['app'].group must name an inventory group, got None"),
    ({"app": {"group": "app", "units": [{"port": 1}]}},
     "fleet_tiers['app'].units[0] must be a unit name or a mapping with a name, got {'port': 1}"),
])
def test_bad_tiers_are_refused_naming_the_tier_and_unit(tiers, message):
    with pytest.raises(AnsibleFilterError) as info:
        fleet_units(tiers, ["app"])
    assert message in str(info.value)


def test_filters_wrap_errors():
    with pytest.raises(AnsibleFilterError, match="fleet_probes: phase must be one of prestart, ready, stopped, health"):
        fleet_probes([], "later")
    assert fleet_servers([], "app1", "ready") == {}


def test_phase_durations():
    clock = [{"phase": "begin", "at": 100.0}, {"phase": "checks", "at": 101.24}, {"phase": "start app", "at": 104.0}]
    assert phase_durations(clock) == [
        {"phase": "checks", "seconds": 1.2}, {"phase": "start app", "seconds": 2.8}, {"phase": "total", "seconds": 4.0}]
    with pytest.raises(AnsibleFilterError, match="clock must be a non-empty list"):
        phase_durations([])


def test_health_tiers_name_each_tiers_probes():
    tiers = fleet_health_tiers(TIERS, {"app": ["app1", "app2"], "loadbalancers": ["lb1"], "monitoring": []})
    assert sorted(tiers) == ["app", "edge"]
    assert tiers["app"]["hosts"] == ["app1", "app2"]
    assert "demo_blue_ready" in tiers["app"]["probes"] and "haproxy_ready" in tiers["edge"]["probes"]


def test_server_states():
    assert server_states(["app4-green"], "ready", 256) == {"app4-green": {"state": "ready", "weight": 256}}
    assert server_states(["a-blue", "a-green"], "drain") == {
        "a-blue": {"state": "drain"}, "a-green": {"state": "drain"}}
    with pytest.raises(AnsibleFilterError, match="server_states: weight must be a whole number from 0 to 256, got 300"):
        server_states(["a-blue"], "ready", 300)


def test_prometheus_scalar():
    assert prometheus_scalar([{"metric": {}, "value": [1700000000.1, "42.5"]}]) == 42.5
    assert prometheus_scalar([]) is None
    assert prometheus_scalar([{"metric": {}, "value": [1700000000.1, "NaN"]}]) is None
    assert prometheus_scalar([{"metric": {}}]) is None


# systemctl show --property=UnitFileState,ActiveState demo@blue demo@green nosuch sshd,
# as printed on a lab host (sshd is an alias of ssh.service).
SHOWN = ("ActiveState=active\nUnitFileState=enabled\n\n"
         "ActiveState=inactive\nUnitFileState=disabled\n\n"
         "ActiveState=inactive\nUnitFileState=\n\n"
         "ActiveState=active\nUnitFileState=enabled\n")


def test_unit_states_match_the_blocks_to_the_names_in_order():
    states = fleet.unit_states(SHOWN, ["demo@blue", "demo@green", "nosuch", "sshd"])
    assert states == {
        "demo@blue": {"enabled": "enabled", "active": "active"},
        "demo@green": {"enabled": "disabled", "active": "inactive"},
        "nosuch": {"enabled": "", "active": "inactive"},
        "sshd": {"enabled": "enabled", "active": "active"},
    }


def test_unit_states_feed_host_units():
    tiers = {"app": {"group": "app", "units": [{"name": "demo@blue"}, {"name": "demo@green"}]}}
    two_blocks = "\n\n".join(SHOWN.split("\n\n")[:2])
    states = fleet.unit_states(two_blocks, ["demo@blue", "demo@green"])
    units = fleet.host_units(tiers, ["app"], states)
    assert [(u["name"], u["enabled"], u["active"]) for u in units] == [
        ("demo@blue", True, True), ("demo@green", False, False)]


def test_unit_states_of_no_unit_is_empty():
    assert fleet.unit_states("", []) == {}


def test_unit_states_refuses_a_count_that_does_not_match():
    with pytest.raises(ValueError, match=r"printed 4 block\(s\) for 2 unit\(s\) \(a, b\)"):
        fleet.unit_states(SHOWN, ["a", "b"])
    with pytest.raises(ValueError, match="printed 0 block"):
        fleet.unit_states("", ["a"])


def test_unit_states_refuses_what_is_not_text():
    with pytest.raises(ValueError, match="needs the text of systemctl show"):
        fleet.unit_states(None, [])


def test_the_unit_states_filter_names_itself_on_bad_input():
    assert unit_states(SHOWN, ["a", "b", "c", "d"])["d"] == {"enabled": "enabled", "active": "active"}
    with pytest.raises(AnsibleFilterError, match="unit_states"):
        unit_states(SHOWN, ["a"])
