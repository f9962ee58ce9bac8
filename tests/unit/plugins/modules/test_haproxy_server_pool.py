# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""haproxy_server's pool operations (wait for a status, save the state file) against a
fake HAProxy runtime socket: a real unix socket that answers ``show stat`` from a script
of replies and ``show servers state`` with a state dump."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import tempfile
import threading
import time

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import haproxy_pool
from ansible_collections.fleetops.lifecycle.plugins.module_utils.haproxy import RuntimeApi
from ansible_collections.fleetops.lifecycle.plugins.module_utils.haproxy_pool import (
    StatusTimeout,
    check_state_dump,
    check_wait_options,
    status_word,
    wait_for_status,
)
from ansible_collections.fleetops.lifecycle.plugins.modules import haproxy_server
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import (
    AnsibleFailJson,
    run_module,
)

pytestmark = pytest.mark.usefixtures("ansible_module_exits")

STATE_DUMP = (
    "1\n"
    "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight "
    "srv_iweight srv_time_since_last_change srv_check_status srv_check_result "
    "srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id "
    "srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr "
    "srv_agent_port\n"
    "3 shop 1 app1-blue 10.89.1.11 2 0 100 100 41 6 3 4 6 0 0 0 - 8081 - 0 0 - - 0\n"
    "3 shop 2 app1-green 10.89.1.11 0 1 0 100 41 1 0 0 14 0 0 0 - 8082 - 0 0 - - 0\n"
)


def show_stat(statuses, backend="shop"):
    lines = ["# pxname,svname,scur,status,weight,type,uweight,-,", "fe,FRONTEND,0,OPEN,,0,,,"]
    for name, status in sorted(statuses.items()):
        lines.append("%s,%s,0,%s,100,2,100,," % (backend, name, status))
    lines.append("%s,BACKEND,0,UP,200,1,200,," % backend)
    return "\n".join(lines) + "\n\n"


class FakeRuntimeSocket(object):
    """A unix socket answering like HAProxy: ``show stat`` from ``stats`` (the last entry
    repeats), ``show servers state`` with ``state``; one reply per connection."""

    def __init__(self, path, stats, state=STATE_DUMP):
        self.path = path
        self.stats = list(stats)
        self.state = state
        self.received = []
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _reply(self, command):
        if command == "show stat":
            return self.stats.pop(0) if len(self.stats) > 1 else self.stats[0]
        if command == "show servers state":
            return self.state
        return "Unknown command.\n"

    def _serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while not data.endswith(b"\n"):
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    data += chunk
                command = data.decode().strip()
                self.received.append(command)
                conn.sendall(self._reply(command).encode())

    def close(self):
        self.listener.close()


@pytest.fixture
def tmpdir_short():
    # Unix socket paths are limited to about 108 bytes.
    path = tempfile.mkdtemp(prefix="hap")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def lb(tmpdir_short, monkeypatch):
    monkeypatch.setattr(time, "sleep", lambda seconds: None)
    servers = []

    def start(*stats, **kwargs):
        server = FakeRuntimeSocket(os.path.join(tmpdir_short, "admin.sock"), stats, **kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def run(args, **kwargs):
    return run_module(haproxy_server.main, args, **kwargs)


def fail(args, **kwargs):
    with pytest.raises(AnsibleFailJson) as info:
        run(args, **kwargs)
    return info.value.result


# --- status words ----------------------------------------------------------------------


@pytest.mark.parametrize("status, word", [
    ("UP", "UP"), ("DOWN", "DOWN"), ("DRAIN", "DRAIN"), ("NOLB", "NOLB"), ("no check", "NO CHECK"),
    ("MAINT", "MAINT"), ("MAINT (via shop/app1-blue)", "MAINT"), ("DRAIN (agent)", "DRAIN"),
    ("UP 1/3", None), ("DOWN 1/2", None), ("", None), (None, None), ("UPWARD", None),
])
def test_status_word_settles_only_on_a_settled_status(status, word):
    assert status_word(status) == word


@pytest.mark.parametrize("names, wanted, timeout, message", [
    ([], ["UP"], 5, "wait_servers: name at least one server of backend shop, got []"),
    (["  "], ["UP"], 5, "wait_servers: '  ' is not a server name"),
    (["a"], [], 5, "wait_status: give at least one of UP, DOWN, DRAIN, MAINT, NOLB, NO CHECK, got []"),
    (["a"], ["READY"], 5, "wait_status: 'READY' is not one of UP, DOWN, DRAIN, MAINT, NOLB, NO CHECK"),
    (["a"], ["UP"], -1, "wait_timeout: -1 must be 0 or more seconds"),
])
def test_bad_wait_options_are_named_with_their_value(names, wanted, timeout, message):
    with pytest.raises(ValueError) as info:
        check_wait_options(names, wanted, timeout, "shop")
    assert str(info.value) == message


def test_wait_options_are_normalised():
    assert check_wait_options(["b", "a", "b"], ["drain", "UP"], 0, "shop") == (["a", "b"], ["DRAIN", "UP"])


# --- wait_for_status over the socket ------------------------------------------------------


def test_wait_returns_once_every_server_has_a_wanted_status(lb):
    server = lb(show_stat({"app1-blue": "DOWN", "app1-green": "MAINT"}),
                show_stat({"app1-blue": "DOWN 1/2", "app1-green": "MAINT"}),
                show_stat({"app1-blue": "DRAIN", "app1-green": "MAINT"}))
    statuses = wait_for_status(RuntimeApi(server.path), "shop", ["app1-blue"], ["DRAIN", "UP"], 30,
                               sleep=lambda s: None)
    assert statuses == {"app1-blue": "DRAIN"}
    assert server.received == ["show stat"] * 3


def test_wait_timeout_names_backend_server_and_last_status(lb):
    server = lb(show_stat({"app1-blue": "DOWN", "app1-green": "UP 1/3"}))
    ticks = iter(range(100))
    with pytest.raises(StatusTimeout) as info:
        wait_for_status(RuntimeApi(server.path), "shop", ["app1-blue", "app1-green"], ["UP"], 3,
                        clock=lambda: next(ticks), sleep=lambda s: None)
    assert str(info.value) == (
        "wait_timeout=3s passed before every server was UP: shop/app1-blue is DOWN, shop/app1-green is UP 1/3"
    )
    assert info.value.statuses == {"app1-blue": "DOWN", "app1-green": "UP 1/3"}


def test_wait_for_an_unknown_server_or_backend_is_refused(lb):
    server = lb(show_stat({"app1-blue": "UP"}))
    with pytest.raises(ValueError) as info:
        wait_for_status(RuntimeApi(server.path), "shop", ["app9-blue"], ["UP"], 3)
    assert str(info.value) == "wait_servers: no server app9-blue in backend shop (servers: app1-blue)"
    with pytest.raises(ValueError) as info:
        wait_for_status(RuntimeApi(server.path), "web", ["app1-blue"], ["UP"], 3)
    assert str(info.value) == "backend: no proxy named 'web' in show stat"


# --- the module: wait ---------------------------------------------------------------------


def test_module_waits_and_reports_the_statuses_without_a_change(lb):
    server = lb(show_stat({"app1-blue": "DOWN", "app1-green": "MAINT"}),
                show_stat({"app1-blue": "UP", "app1-green": "MAINT"}))
    result = run({"socket": server.path, "backend": "shop", "wait_servers": ["app1-blue"],
                  "wait_status": ["DRAIN", "UP"], "wait_timeout": 10})
    assert result["changed"] is False
    assert result["statuses"] == {"app1-blue": "UP"}
    assert result["commands"] == []
    assert server.received == ["show stat", "show stat"]


def test_module_wait_timeout_fails_naming_server_and_status(lb):
    server = lb(show_stat({"app1-blue": "DOWN", "app1-green": "MAINT"}))
    result = fail({"socket": server.path, "backend": "shop", "wait_servers": ["app1-blue"],
                   "wait_status": ["DRAIN", "UP"], "wait_timeout": 0})
    assert result["msg"] == "wait_timeout=0s passed before the server was DRAIN or UP: shop/app1-blue is DOWN"
    assert result["statuses"] == {"app1-blue": "DOWN"}


def test_module_wait_in_check_mode_reads_once_and_does_not_fail(lb):
    server = lb(show_stat({"app1-blue": "DOWN", "app1-green": "MAINT"}))
    result = run({"socket": server.path, "backend": "shop", "wait_servers": ["app1-blue"],
                  "wait_status": ["UP"], "wait_timeout": 30}, check_mode=True)
    assert result["changed"] is False
    assert result["statuses"] == {"app1-blue": "DOWN"}
    assert server.received == ["show stat"]


def test_module_wait_for_an_unknown_server_names_it(lb):
    server = lb(show_stat({"app1-blue": "UP"}))
    result = fail({"socket": server.path, "backend": "shop", "wait_servers": ["app2-blue"],
                   "wait_status": ["UP"]})
    assert result["msg"] == "wait_servers: no server app2-blue in backend shop (servers: app1-blue)"


@pytest.mark.parametrize("args, message", [
    ({"wait_servers": ["a"], "backend": "shop"}, "parameters are required together: wait_servers, wait_status"),
    ({"wait_servers": ["a"], "wait_status": ["UP"]}, "missing parameter(s) required by 'wait_servers': backend"),
    ({"backend": "shop"}, "one of the following is required: servers, wait_servers, save_state"),
    ({"backend": "shop", "wait_servers": ["a"], "wait_status": ["READY"]},
     "value of wait_status must be one or more of: UP, DOWN, DRAIN, MAINT, NOLB, NO CHECK. Got no match for: READY"),
])
def test_module_option_combinations_are_checked(args, message):
    assert fail(args)["msg"] == message


# --- the module: save the state file ----------------------------------------------------


def test_check_state_dump_counts_servers_and_refuses_anything_else():
    assert check_state_dump(STATE_DUMP) == 2
    assert check_state_dump("1\n# be_id be_name\n") == 0
    with pytest.raises(ValueError) as info:
        check_state_dump("Unknown command.\n")
    assert str(info.value) == (
        "'show servers state' did not answer with a state file (version line, '# be_id ...' header); "
        "HAProxy said: 'Unknown command.\\n'"
    )


def test_save_state_writes_the_dump_atomically_with_mode_0644(lb, tmpdir_short):
    server = lb(show_stat({"app1-blue": "UP"}))
    path = os.path.join(tmpdir_short, "server-state")
    result = run({"socket": server.path, "save_state": path})
    assert result["changed"] is True
    assert result["state_servers"] == 2
    with open(path) as handle:
        assert handle.read() == STATE_DUMP
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert sorted(os.listdir(tmpdir_short)) == ["admin.sock", "server-state"]
    assert server.received == ["show servers state"]
    # The same state again: nothing to write.
    assert run({"socket": server.path, "save_state": path})["changed"] is False


def test_save_state_in_check_mode_writes_nothing(lb, tmpdir_short):
    server = lb(show_stat({"app1-blue": "UP"}))
    path = os.path.join(tmpdir_short, "server-state")
    result = run({"socket": server.path, "save_state": path}, check_mode=True)
    assert result["changed"] is True
    assert not os.path.exists(path)


def test_save_state_refuses_a_symlink_and_leaves_its_target(lb, tmpdir_short):
    server = lb(show_stat({"app1-blue": "UP"}))
    target = os.path.join(tmpdir_short, "elsewhere")
    with open(target, "w") as handle:
        handle.write("keep")
    path = os.path.join(tmpdir_short, "server-state")
    os.symlink(target, path)
    result = fail({"socket": server.path, "save_state": path})
    assert result["msg"].startswith("save_state: [Errno 40]")
    with open(target) as handle:
        assert handle.read() == "keep"


def test_save_state_refuses_an_error_reply(lb, tmpdir_short):
    server = lb(show_stat({"app1-blue": "UP"}), state="Permission denied\n")
    path = os.path.join(tmpdir_short, "server-state")
    result = fail({"socket": server.path, "save_state": path})
    assert result["msg"] == (
        "HAProxy refused 'show servers state': Permission denied (the stats socket needs 'level admin')")
    assert not os.path.exists(path)


def test_save_state_into_a_missing_directory_is_named(lb, tmpdir_short):
    server = lb(show_stat({"app1-blue": "UP"}))
    path = os.path.join(tmpdir_short, "nope", "server-state")
    result = fail({"socket": server.path, "save_state": path})
    assert result["msg"] == "save_state: the directory of %s does not exist" % path


def test_a_stopped_haproxy_fails_unless_if_running(tmpdir_short):
    path = os.path.join(tmpdir_short, "admin.sock")
    state = os.path.join(tmpdir_short, "server-state")
    result = fail({"socket": path, "save_state": state})
    assert result["msg"] == (
        "HAProxy runtime API socket %s does not exist; is HAProxy running with "
        "'stats socket %s level admin'?" % (path, path)
    )
    result = run({"socket": path, "save_state": state, "if_running": True})
    assert result == {"changed": False, "commands": [], "running": False}
    assert not os.path.exists(state)


def test_if_running_does_not_hide_other_errors(lb, tmpdir_short):
    server = lb(show_stat({"app1-blue": "UP"}))
    result = fail({"socket": server.path, "backend": "shop", "wait_servers": ["app7"],
                   "wait_status": ["UP"], "if_running": True})
    assert result["msg"] == "wait_servers: no server app7 in backend shop (servers: app1-blue)"


def test_the_state_file_size_is_bounded(tmpdir_short, monkeypatch):
    monkeypatch.setattr(haproxy_pool, "MAX_STATE_FILE", 10)
    path = os.path.join(tmpdir_short, "server-state")
    with open(path, "w") as handle:
        handle.write("x" * 11)
    with pytest.raises(ValueError) as info:
        haproxy_pool.read_state_file(path)
    assert str(info.value) == "save_state: %s is larger than 10 bytes; not a server state file" % path
