# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the haproxy_server module, with a fake runtime API in place of HAProxy."""

from __future__ import annotations

import os
import shutil
import tempfile
import time

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils.haproxy import (
    RuntimeApiError,
    parse_servers_state,
    parse_show_stat,
)
from ansible_collections.fleetops.lifecycle.plugins.modules import haproxy_server
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import (
    AnsibleFailJson,
    run_module,
)

pytestmark = pytest.mark.usefixtures("ansible_module_exits")

SET = "set server "


class FakeRuntimeApi(object):
    """HAProxy's runtime API for one backend, held in memory.

    ``servers``: name -> {"weight", "admin", "op" (UP/DOWN), "scur"}. ``show stat``
    renders them as HAProxy does (status MAINT/DRAIN over the operational state);
    ``set server`` commands change them and fail like HAProxy for unknown servers.
    """

    def __init__(self, servers, backend="demo"):
        self.backend = backend
        self.servers = servers
        self.sent = []
        self.refuse = {}          # command -> HAProxy's error reply
        self.ignore_states = False  # HAProxy "forgets" state changes (MAINT via ...)
        self.scur_script = []     # successive {name: scur} for show stat calls
        self.socket_path = None

    def __call__(self, socket_path, timeout=10.0):
        self.socket_path = socket_path
        return self

    def _status(self, server):
        if server["admin"] == "maint":
            return "MAINT"
        if server["admin"] == "drain" and server.get("op", "UP") == "UP":
            return "DRAIN"
        return server.get("op", "UP")

    def show_stat(self):
        self.sent.append("show stat")
        if self.scur_script:
            counts = self.scur_script.pop(0) if len(self.scur_script) > 1 else self.scur_script[0]
            for name, count in counts.items():
                self.servers[name]["scur"] = count
        lines = ["# pxname,svname,scur,status,weight,type,uweight,-,"]
        lines.append("app,FRONTEND,0,OPEN,,0,,,")
        for name, server in sorted(self.servers.items()):
            lines.append("%s,%s,%d,%s,%d,2,%d,,"
                         % (self.backend, name, server.get("scur", 0), self._status(server),
                            server["weight"], server["weight"]))
        lines.append("%s,BACKEND,0,UP,0,1,0,," % self.backend)
        return parse_show_stat("\n".join(lines) + "\n")

    def servers_admin(self, backend):
        self.sent.append("show servers state")
        # A server `disabled` in the configuration keeps 0x04 whatever its state, as in HAProxy.
        flags = {"ready": 0, "drain": 0x08, "maint": 0x01}
        lines = ["1", "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight"]
        for number, (name, server) in enumerate(sorted(self.servers.items()), start=1):
            lines.append("3 %s %d %s 10.0.0.%d %d %d %d" % (
                self.backend, number, name, number, 2 if server.get("op", "UP") == "UP" else 0,
                flags[server["admin"]] | (0x04 if server.get("disabled") else 0), server["weight"]))
        return parse_servers_state("\n".join(lines) + "\n", backend)

    def command(self, cmd, expect_empty=False):
        self.sent.append(cmd)
        if cmd in self.refuse:
            raise RuntimeApiError("HAProxy refused %r: %s" % (cmd, self.refuse[cmd]))
        target, key, value = cmd[len(SET):].split(" ")
        backend, name = target.split("/")
        if backend != self.backend or name not in self.servers:
            raise RuntimeApiError("HAProxy refused %r: No such server." % cmd)
        if key == "weight":
            self.servers[name]["weight"] = int(value)
        elif not self.ignore_states:
            self.servers[name]["admin"] = value
        return "\n"

    @property
    def changes(self):
        return [cmd for cmd in self.sent if cmd.startswith(SET)]


@pytest.fixture
def haproxy(monkeypatch):
    fake = FakeRuntimeApi({
        "app1-blue": {"weight": 100, "admin": "ready", "op": "UP", "scur": 2},
        "app1-green": {"weight": 0, "admin": "maint", "op": "DOWN", "scur": 0, "disabled": True},
        "app2-blue": {"weight": 100, "admin": "ready", "op": "UP", "scur": 1},
    })
    monkeypatch.setattr(haproxy_server, "RuntimeApi", fake)
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    return fake


SWITCH = {
    "backend": "demo",
    "servers": {
        "app1-green": {"weight": 100, "state": "ready"},
        "app1-blue": {"state": "drain"},
    },
}
SWITCH_COMMANDS = [
    "set server demo/app1-green weight 100",
    "set server demo/app1-green state ready",
    "set server demo/app1-blue state drain",
]
BEFORE = {
    "app1-blue": {"weight": 100, "state": "ready"},
    "app1-green": {"weight": 0, "state": "maint"},
    "app2-blue": {"weight": 100, "state": "ready"},
}
AFTER = {
    "app1-blue": {"weight": 100, "state": "drain"},
    "app1-green": {"weight": 100, "state": "ready"},
    "app2-blue": {"weight": 100, "state": "ready"},
}


def run(args, **kwargs):
    return run_module(haproxy_server.main, args, **kwargs)


def fail(args, **kwargs):
    with pytest.raises(AnsibleFailJson) as info:
        run(args, **kwargs)
    return info.value.result


def test_check_mode_sends_nothing_and_predicts_the_change(haproxy):
    result = run(SWITCH, check_mode=True)
    assert result["changed"] is True
    assert result["commands"] == SWITCH_COMMANDS
    assert result["servers"] == AFTER
    assert haproxy.sent == ["show stat", "show servers state"]
    assert haproxy.socket_path == "/run/haproxy/admin.sock"
    assert "diff" not in result


def test_apply_sends_the_planned_commands_and_reads_back(haproxy):
    predicted = run(SWITCH, check_mode=True)
    result = run(SWITCH)
    assert result["changed"] is True
    assert result["commands"] == haproxy.changes == SWITCH_COMMANDS
    assert result["servers"] == predicted["servers"] == AFTER
    assert haproxy.sent[-2:] == ["show stat", "show servers state"]  # read back after the changes


def test_second_run_changes_nothing(haproxy):
    run(SWITCH)
    sent = len(haproxy.changes)
    result = run(SWITCH)
    assert result["changed"] is False
    assert result["commands"] == []
    assert len(haproxy.changes) == sent
    assert result["servers"] == AFTER


def test_diff_mode_shows_every_server_before_and_after(haproxy):
    for check_mode in (True, False):
        result = run(SWITCH, check_mode=check_mode, diff=True)
    assert result["diff"] == {"before": BEFORE, "after": AFTER}
    result = run(SWITCH, diff=True)
    assert result["diff"] == {"before": AFTER, "after": AFTER}


def test_socket_option_is_used(haproxy):
    run(dict(SWITCH, socket="/var/run/haproxy/other.sock"), check_mode=True)
    assert haproxy.socket_path == "/var/run/haproxy/other.sock"


def test_unknown_server_is_named(haproxy):
    result = fail({"backend": "demo", "servers": {"app9-blue": {"weight": 10}}})
    assert result["msg"] == (
        "servers.app9-blue: no such server in backend demo "
        "(servers: app1-blue, app1-green, app2-blue)"
    )
    assert haproxy.changes == []


def test_weight_out_of_range_names_option_and_value(haproxy):
    result = fail({"backend": "demo", "servers": {"app1-blue": {"weight": 300}}})
    assert result["msg"] == "servers.app1-blue.weight: 300 is out of range; HAProxy weights are 0..256"
    assert haproxy.changes == []


def test_bad_state_names_option_and_value(haproxy):
    result = fail({"backend": "demo", "servers": {"app1-blue": {"state": "off"}}})
    assert result["msg"] == "servers.app1-blue.state: 'off' is not one of ready, drain, maint"


def test_unknown_backend_is_named(haproxy):
    result = fail({"backend": "web", "servers": {"app1-blue": {"weight": 1}}})
    assert result["msg"] == "backend: no proxy named 'web' in show stat (backends: demo)"


def test_empty_servers_is_refused(haproxy):
    result = fail({"backend": "demo", "servers": {}})
    assert result["msg"] == "servers: name at least one server of backend demo"


def test_missing_required_options_are_reported_by_ansible(haproxy):
    result = fail({"servers": {"app1-blue": {"weight": 1}}})
    assert result["msg"] == "missing parameter(s) required by 'servers': backend"


def test_negative_drain_timeout_is_named(haproxy):
    result = fail(dict(SWITCH, drain_timeout=-1))
    assert result["msg"] == "drain_timeout: -1 must be 0 or more seconds"
    assert haproxy.sent == []


def test_missing_socket_gives_a_clear_message():
    # The real client: no fake in place.
    directory = tempfile.mkdtemp(prefix="hap")
    path = os.path.join(directory, "admin.sock")
    try:
        result = fail(dict(SWITCH, socket=path))
    finally:
        shutil.rmtree(directory)
    assert result["msg"] == (
        "HAProxy runtime API socket %s does not exist; is HAProxy running with "
        "'stats socket %s level admin'?" % (path, path)
    )
    assert "exception" not in result


def test_a_refused_command_reports_what_was_sent(haproxy):
    haproxy.refuse["set server demo/app1-green state ready"] = "Permission denied"
    result = fail(SWITCH)
    assert result["msg"] == (
        "HAProxy refused 'set server demo/app1-green state ready': Permission denied; "
        "sent before the failure: ['set server demo/app1-green weight 100']"
    )
    assert result["changed"] is True
    assert result["commands_sent"] == ["set server demo/app1-green weight 100"]
    assert result["commands"] == SWITCH_COMMANDS
    # Nothing after the failed command was sent: app1-blue still serves.
    assert haproxy.servers["app1-blue"]["admin"] == "ready"


def test_a_change_haproxy_did_not_take_fails(haproxy):
    haproxy.ignore_states = True
    result = fail(SWITCH)
    assert result["msg"] == (
        "HAProxy did not take the changes: demo/app1-blue is ready (status 'UP'), expected drain; "
        "demo/app1-green is maint (status 'MAINT'), expected ready"
    )
    assert result["changed"] is True
    assert result["commands"] == SWITCH_COMMANDS


def test_drain_of_a_down_server_reads_back_as_drain(haproxy):
    haproxy.servers["app2-blue"]["op"] = "DOWN"
    result = run({"backend": "demo", "servers": {"app2-blue": {"state": "drain"}}})
    assert result["commands"] == ["set server demo/app2-blue state drain"]
    # show stat says DOWN; show servers state keeps the drain flag.
    assert result["servers"]["app2-blue"] == {"weight": 100, "state": "drain"}
    again = run({"backend": "demo", "servers": {"app2-blue": {"state": "drain"}}})
    assert again["changed"] is False and again["commands"] == []


def test_a_server_drained_then_down_is_made_ready(haproxy):
    # A restart out of the pool: drained while UP, then its checks fail (DOWN), then
    # it is let back in before they pass again. show stat alone reads it as ready.
    run({"backend": "demo", "servers": {"app2-blue": {"state": "drain"}}})
    haproxy.servers["app2-blue"]["op"] = "DOWN"
    result = run({"backend": "demo", "servers": {"app2-blue": {"state": "ready"}}})
    assert result["changed"] is True
    assert result["commands"] == ["set server demo/app2-blue state ready"]
    assert haproxy.servers["app2-blue"]["admin"] == "ready"
    again = run({"backend": "demo", "servers": {"app2-blue": {"state": "ready"}}})
    assert again["changed"] is False and again["commands"] == []


def test_wait_drained_waits_for_sessions_to_end(haproxy):
    haproxy.scur_script = [{"app1-blue": 2}, {"app1-blue": 2}, {"app1-blue": 1}, {"app1-blue": 0}]
    result = run(dict(SWITCH, wait_drained=True))
    assert result["changed"] is True
    assert result["drained"] == {"app1-blue": 0}
    assert haproxy.sent.count("show stat") == 4  # plan, read back, 2 polls
    assert haproxy.sent.count("show servers state") == 2  # plan, read back


def test_wait_drained_times_out_with_a_clear_message(haproxy):
    result = fail(dict(SWITCH, wait_drained=True, drain_timeout=0))
    assert result["msg"] == (
        "servers still have current sessions after drain_timeout=0s: demo/app1-blue=2"
    )
    assert result["sessions"] == {"app1-blue": 2}
    assert result["changed"] is True
    assert result["commands"] == SWITCH_COMMANDS


def test_wait_drained_is_skipped_in_check_mode(haproxy):
    result = run(dict(SWITCH, wait_drained=True), check_mode=True)
    assert "drained" not in result
    assert haproxy.sent == ["show stat", "show servers state"]


def test_wait_drained_also_runs_when_nothing_changes(haproxy):
    run(SWITCH)
    haproxy.scur_script = [{"app1-blue": 1}, {"app1-blue": 0}]
    result = run(dict(SWITCH, wait_drained=True))
    assert result["changed"] is False
    assert result["drained"] == {"app1-blue": 0}
