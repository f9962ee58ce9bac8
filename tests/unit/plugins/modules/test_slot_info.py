# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the slot_info module and module_utils.slot_info, over a temporary install root
and ledger, with systemctl answered by a double."""

from __future__ import annotations

import json
import os

import pytest
from ansible.module_utils import basic
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError
from ansible_collections.fleetops.lifecycle.plugins.module_utils.slot_info import (
    check_options,
    read_unit_state,
    release_of,
    releases_by_host,
    short_of_space,
    slot_report,
)
from ansible_collections.fleetops.lifecycle.plugins.modules import slot_info
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import (
    AnsibleFailJson,
    run_module,
)

pytestmark = pytest.mark.usefixtures("ansible_module_exits")


def ledger_lines(*records):
    return "".join(json.dumps(dict(ts="2026-12-0%dT10:00:00.000Z" % (i + 1), run_id="r%d" % i, **record)) + "\n"
                   for i, record in enumerate(records))


@pytest.fixture
def shop(tmp_path, monkeypatch):
    """An install root with blue -> 2.0.0 (active), green -> 3.0.0 (failed), and a ledger
    where 3.0.0 was rolled back."""
    root = tmp_path / "opt" / "shop"
    for release in ("2.0.0", "3.0.0"):
        (root / "releases" / release).mkdir(parents=True)
    os.symlink(str(root / "releases" / "2.0.0"), str(root / "current-blue"))
    os.symlink(str(root / "releases" / "3.0.0"), str(root / "current-green"))
    ledger = tmp_path / "ledger.jsonl"
    ledger.write_text(ledger_lines(
        {"event": "promoted", "release": "1.0.0"},
        {"event": "promoted", "release": "2.0.0"},
        {"event": "rolled_back", "release": "3.0.0"},
    ))
    states = {"shop@blue.service": (0, "active\n", ""), "shop@green.service": (3, "failed\n", "")}
    calls = []

    def run_command(self, argv, **kwargs):
        calls.append(argv)
        return states[argv[-1]]

    monkeypatch.setattr(basic.AnsibleModule, "run_command", run_command)
    return {"root": str(root), "ledger": str(ledger), "states": states, "calls": calls}


def args(shop, **extra):
    return dict(service_root=shop["root"], service_unit="shop@{slot}.service", ledger_path=shop["ledger"], **extra)


def test_reads_each_slot_and_the_ledger_without_a_change(shop):
    result = run_module(slot_info.main, args(shop))
    assert result["changed"] is False
    assert result["slots"] == {
        "blue": {"slot": "blue", "release": "2.0.0", "unit": "shop@blue.service", "unit_state": "active",
                 "active": True, "haproxy": None},
        "green": {"slot": "green", "release": "3.0.0", "unit": "shop@green.service", "unit_state": "failed",
                  "active": False, "haproxy": None},
    }
    assert (result["last_good"], result["good"], result["ledger_records"]) == ("2.0.0", ["2.0.0", "1.0.0"], 3)
    assert shop["calls"] == [["systemctl", "is-active", "shop@blue.service"],
                             ["systemctl", "is-active", "shop@green.service"]]


def test_check_mode_reads_the_same(shop):
    normal = run_module(slot_info.main, args(shop))
    checked = run_module(slot_info.main, args(shop), check_mode=True)
    assert checked == normal


def test_haproxy_state_of_each_slot_comes_from_the_servers_given(shop):
    servers = {"app1-blue": {"weight": 100, "admin": "ready"}, "app1-green": {"weight": 0, "state": "maint"},
               "app2-blue": {"weight": 100, "admin": "ready"}}
    result = run_module(slot_info.main, args(shop, haproxy_servers=servers, host="app1"))
    assert result["slots"]["blue"]["haproxy"] == {"weight": 100, "admin": "ready", "serving": True}
    assert result["slots"]["green"]["haproxy"] == {"weight": 0, "admin": "maint", "serving": False}
    result = run_module(slot_info.main, args(shop, haproxy_servers=servers, host="app9"))
    assert result["slots"]["blue"]["haproxy"] is None


def test_missing_links_ledger_and_stopped_units_are_empty_not_errors(shop, tmp_path):
    os.unlink(os.path.join(shop["root"], "current-green"))
    os.unlink(shop["ledger"])
    shop["states"]["shop@blue.service"] = (3, "inactive\n", "")
    result = run_module(slot_info.main, args(shop))
    assert result["slots"]["green"]["release"] == ""
    assert result["slots"]["blue"]["unit_state"] == "inactive"
    assert (result["last_good"], result["good"], result["ledger_records"]) == ("", [], 0)


def test_a_directory_where_a_link_belongs_has_no_release(shop):
    os.unlink(os.path.join(shop["root"], "current-green"))
    os.mkdir(os.path.join(shop["root"], "current-green"))
    assert run_module(slot_info.main, args(shop))["slots"]["green"]["release"] == ""


def test_any_slot_names_and_unit_template(shop):
    shop["states"]["shop@a.service"] = (0, "active\n", "")
    os.symlink(os.path.join(shop["root"], "releases", "3.0.0"), os.path.join(shop["root"], "current-a"))
    result = run_module(slot_info.main, args(shop, slots=["a"]))
    assert list(result["slots"]) == ["a"]
    assert result["slots"]["a"]["release"] == "3.0.0"


@pytest.mark.parametrize("extra, message", [
    ({"service_unit": "shop.service"},
     "service_unit: 'shop.service' must be a unit name with one {slot}, such as shop@{slot}.service"),
    ({"service_root": "opt/shop"}, "service_root: 'opt/shop' must be an absolute path"),
    ({"ledger_path": "/var/lib/fleetops/shop/"},
     "ledger_path: '/var/lib/fleetops/shop/' names a directory; give the ledger file's path"),
    ({"slots": ["blue", "blue"]}, "slots: ['blue', 'blue'] must be a list of different slot names"),
    ({"slots": ["Blue"]}, "slots: 'Blue' is not a slot name (lower-case letters, digits, '-', '_')"),
    ({"haproxy_servers": {"app1-blue": {"weight": 1, "admin": "ready"}}},
     "host: give the host's name in its HAProxy servers (<host>-<slot>) with haproxy_servers"),
    ({"haproxy_servers": {"app1-blue": "up"}, "host": "app1"},
     "haproxy_servers: 'up' is not a mapping with weight and admin"),
    ({"free_space_path": "opt"}, "free_space_path: 'opt' must be an absolute path"),
    ({"free_space_path": "/nonexistent/fleetops"},
     "free_space_path: cannot measure the free space of /nonexistent/fleetops: No such file or directory"),
])
def test_bad_options_are_named_with_their_value(shop, extra, message):
    with pytest.raises(AnsibleFailJson) as info:
        run_module(slot_info.main, dict(args(shop), **extra))
    assert info.value.result["msg"] == message


def test_a_systemctl_that_does_not_answer_a_state_is_an_error():
    with pytest.raises(ResultError) as info:
        read_unit_state(lambda argv: (1, "", "Failed to connect to bus"), "shop@blue.service")
    assert info.value.msg == "systemctl is-active shop@blue.service failed (rc=1): Failed to connect to bus"


def test_release_of_a_link_target():
    assert release_of("/opt/shop/releases/2.0.0") == "2.0.0"
    assert release_of("releases/2.0.0/") == "2.0.0"
    assert release_of(None) == ""


def test_slot_report_is_pure():
    ledger = {"last_good": None, "good": [], "count": 0}
    report = slot_report({"blue": {"link": None, "unit": "u@blue", "unit_state": "active"}}, ledger)
    assert report == {"slots": {"blue": {"slot": "blue", "release": "", "unit": "u@blue", "unit_state": "active",
                                         "active": True, "haproxy": None}},
                      "last_good": "", "good": [], "ledger_records": 0}


def test_check_options_accepts_the_contract():
    check_options({"service_root": "/opt/demo", "service_unit": "demo@{slot}.service", "slots": ["blue", "green"],
                   "ledger_path": "/var/lib/fleetops/demo/ledger.jsonl"})


def test_free_space_is_measured_only_when_asked_and_matches_statvfs(shop, tmp_path):
    assert "free_mb" not in run_module(slot_info.main, args(shop))
    result = run_module(slot_info.main, args(shop, free_space_path=str(tmp_path)))
    stat = os.statvfs(str(tmp_path))
    expected = stat.f_bavail * stat.f_frsize // (1024 * 1024)
    assert abs(result["free_mb"] - expected) <= 8  # other writers on the machine may move it a little
    assert isinstance(result["free_mb"], int)


def test_releases_by_host_pairs_results_with_hosts_and_leaves_out_a_host_without_one():
    infos = [
        {"slots": {"blue": {"release": "1.0.0"}, "green": {"release": "2.0.0"}}, "last_good": "2.0.0",
         "good": ["2.0.0", "1.0.0"]},
        {"failed": True, "msg": "unreachable"},
        {"slots": {"blue": {"release": "1.0.0"}, "green": {"release": None}}, "last_good": "1.0.0", "good": ["1.0.0"]},
    ]
    assert releases_by_host(infos, ["app1", "app2", "app3"]) == {
        "app1": {"blue": "1.0.0", "green": "2.0.0", "last_good": "2.0.0", "good": ["2.0.0", "1.0.0"]},
        "app3": {"blue": "1.0.0", "green": None, "last_good": "1.0.0", "good": ["1.0.0"]},
    }


def test_short_of_space_names_every_host_below_the_minimum_and_the_option():
    infos = [{"free_mb": 150}, {"free_mb": 200}, {}, {"free_mb": 3}]
    assert short_of_space(infos, ["app1", "app2", "app3", "app4"], 200, "deploy_min_free_mb") == [
        "app1 has 150 MB free, deploy_min_free_mb=200", "app4 has 3 MB free, deploy_min_free_mb=200"]
    assert short_of_space(infos, ["app1", "app2", "app3", "app4"], "100", "deploy_min_free_mb") == [
        "app4 has 3 MB free, deploy_min_free_mb=100"]  # an extra var arrives as text


@pytest.mark.parametrize("bad", [-1, "lots", 1.5, True, None])
def test_short_of_space_refuses_a_minimum_that_is_no_whole_number(bad):
    with pytest.raises(ValueError) as info:
        short_of_space([{"free_mb": 1}], ["app1"], bad, "deploy_min_free_mb")
    assert str(info.value) == "deploy_min_free_mb must be a whole number of MB, 0 or more, got %r" % (bad,)
