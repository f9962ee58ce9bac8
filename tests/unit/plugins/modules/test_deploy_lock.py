# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for the deploy_lock module on a real temporary directory, with a fixed clock."""

from __future__ import annotations

import os
import socket
import time

import pytest
from ansible.module_utils import basic
from ansible_collections.fleetops.lifecycle.plugins.module_utils import lock
from ansible_collections.fleetops.lifecycle.plugins.modules import deploy_lock
from ansible_collections.fleetops.lifecycle.tests.unit.plugins.modules.utils import (
    AnsibleFailJson,
    run_module,
)

pytestmark = pytest.mark.usefixtures("ansible_module_exits")

T0 = 1700000000  # 2023-11-14T22:13:20Z


class Clock(object):
    """Stands in for the ``time`` module inside module_utils.lock."""

    def __init__(self, now):
        self.now = now
        self.gmtime = time.gmtime
        self.strftime = time.strftime

    def time(self):
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = Clock(T0)
    monkeypatch.setattr(lock, "time", fake)
    return fake


@pytest.fixture
def warnings(monkeypatch):
    seen = []
    monkeypatch.setattr(basic.AnsibleModule, "warn", lambda self, warning, **kw: seen.append(warning))
    return seen


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "fleetops" / "deploy.lock")


def run(args, **kwargs):
    return run_module(deploy_lock.main, args, **kwargs)


def fail(args, **kwargs):
    with pytest.raises(AnsibleFailJson) as info:
        run(args, **kwargs)
    return info.value.result


def content(path):
    with open(path) as handle:
        return handle.read()


def alice(path, **extra):
    args = dict(path=path, holder="alice", reason="upgrade to 2.0.0", change_id="CHG-1")
    args.update(extra)
    return args


def expected_lock(holder="alice", started=T0, ttl=3600, message="upgrade to 2.0.0", change_id="CHG-1"):
    return dict(holder=holder, message=message, change_id=change_id, started=started,
                started_iso=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)), ttl=ttl,
                pid=os.getpid(), host=socket.gethostname())


HELD = ("deploy lock {path} is held by alice (change CHG-1: 'upgrade to 2.0.0') "
        "since 2023-11-14T22:13:20Z, ttl 3600s")


def test_check_mode_predicts_and_writes_nothing(clock, path):
    predicted = run(alice(path), check_mode=True)
    assert predicted["changed"] is True
    assert predicted["lock"] == expected_lock()
    assert not os.path.exists(os.path.dirname(path))
    actual = run(alice(path))
    assert actual == predicted
    assert lock.parse_lock(content(path)) == expected_lock()


def test_acquire_is_idempotent(clock, path):
    first = run(alice(path))
    assert first["changed"] is True
    assert first["msg"] == "acquired deploy lock %s for alice" % path
    assert (first["previous"], first["stale"], first["broken_lock"]) == (None, False, None)
    before = content(path)
    clock.now += 60
    second = run(alice(path, reason="a different reason"))
    assert second["changed"] is False
    assert second["lock"] == second["previous"] == first["lock"]
    assert content(path) == before
    assert run(alice(path), check_mode=True)["changed"] is False


def test_second_holder_is_refused_naming_the_first(clock, path):
    run(alice(path))
    before = content(path)
    clock.now += 600
    result = fail(dict(path=path, holder="bob", reason="hotfix"))
    assert result["msg"] == (
        HELD.format(path=path) + " (expires in 3000s at 2023-11-14T23:13:20Z); cannot acquire it for bob"
    )
    assert result["lock"] == result["previous"] == expected_lock()
    assert result["stale"] is False
    assert result["path"] == path
    assert content(path) == before
    # check mode refuses the same way
    assert fail(dict(path=path, holder="bob"), check_mode=True)["msg"] == result["msg"]


def test_stale_lock_is_refused_and_reported(clock, path):
    run(alice(path, ttl=60))
    clock.now += 3600
    result = fail(dict(path=path, holder="bob"))
    assert result["stale"] is True
    assert result["msg"] == (
        "deploy lock %s is held by alice (change CHG-1: 'upgrade to 2.0.0') since 2023-11-14T22:13:20Z, "
        "ttl 60s (stale: expired 3540s ago at 2023-11-14T22:14:20Z); cannot acquire it for bob. If no "
        "deploy by alice is still running, break it with state=broken, then acquire it again" % path
    )


def test_holder_reacquiring_its_stale_lock_gets_a_warning(clock, path, warnings):
    run(alice(path, ttl=60))
    clock.now += 61
    result = run(alice(path))
    assert result["changed"] is False and result["stale"] is True
    assert warnings == [
        "deploy lock %s held by alice is past its ttl (60s); other deploys may break it. Release it "
        "and acquire it again to start a new ttl" % path
    ]


def test_release(clock, path):
    run(alice(path))
    assert fail(dict(path=path, holder="bob", state="released"))["msg"] == (
        HELD.format(path=path) + " (expires in 3600s at 2023-11-14T23:13:20Z), not by bob; cannot release it"
    )
    predicted = run(dict(path=path, holder="alice", state="released"), check_mode=True)
    assert predicted["changed"] is True and predicted["lock"] is None
    assert os.path.exists(path)
    released = run(dict(path=path, holder="alice", state="released"))
    assert released == dict(predicted, changed=True)
    assert released["previous"] == expected_lock()
    assert not os.path.exists(path)
    again = run(dict(path=path, holder="alice", state="released"))
    assert again["changed"] is False
    assert again["msg"] == "deploy lock %s is not held; nothing to release" % path


def test_break_stale_lock_then_acquire(clock, path):
    run(alice(path, ttl=60))
    clock.now += 600
    predicted = run(dict(path=path, state="broken"), check_mode=True)
    assert predicted["changed"] is True and os.path.exists(path)
    broken = run(dict(path=path, state="broken"))
    assert broken == predicted
    assert broken["broken_lock"] == expected_lock(ttl=60)
    assert broken["stale"] is True and broken["lock"] is None
    assert broken["msg"] == (
        "broke stale deploy lock %s, held by alice (change CHG-1: 'upgrade to 2.0.0') since "
        "2023-11-14T22:13:20Z, ttl 60s (stale: expired 540s ago at 2023-11-14T22:14:20Z)" % path
    )
    assert run(dict(path=path, state="broken"))["changed"] is False
    assert run(dict(path=path, holder="bob"))["lock"]["holder"] == "bob"


def test_break_fresh_lock_needs_force(clock, path):
    run(alice(path))
    result = fail(dict(path=path, state="broken"))
    assert result["msg"] == (
        HELD.format(path=path)
        + " (expires in 3600s at 2023-11-14T23:13:20Z); it is not stale, set force=true to break it anyway"
    )
    assert os.path.exists(path)
    broken = run(dict(path=path, state="broken", force=True))
    assert broken["changed"] is True and broken["stale"] is False
    assert broken["broken_lock"]["holder"] == "alice"
    assert not os.path.exists(path)


def test_unparseable_lock_is_held_by_unknown(clock, path):
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as handle:
        handle.write("holder=alice\n")
    result = fail(dict(path=path, holder="bob"))
    assert result["msg"] == (
        "deploy lock %s is held by unknown: it is not JSON (content: 'holder=alice\\n'); make sure no "
        "deploy is running, then break it with state=broken force=true" % path
    )
    assert result["lock"]["holder"] == "unknown"
    assert content(path) == "holder=alice\n"
    assert fail(dict(path=path, state="broken"))["msg"].endswith(
        "; it cannot be judged stale; make sure no deploy is running, then break it with state=broken force=true"
    )
    assert run(dict(path=path, state="broken", force=True))["broken_lock"]["unreadable"] == "it is not JSON"


def test_diff_mode(clock, path):
    result = run(alice(path), diff=True)
    assert result["diff"] == dict(before="", after=content(path), before_header=path, after_header=path)
    released = run(dict(path=path, holder="alice", state="released"), diff=True, check_mode=True)
    assert released["diff"]["before"] == content(path) and released["diff"]["after"] == ""


def test_default_path_and_state():
    spec = deploy_lock.ARGUMENT_SPEC
    assert spec["path"]["default"] == "/var/lib/fleetops/deploy.lock"
    assert spec["state"]["default"] == "acquired"
    assert spec["ttl"]["default"] == 3600


@pytest.mark.parametrize("args, message", [
    ({}, "state is acquired but all of the following are missing: holder"),
    ({"state": "released"}, "state is released but all of the following are missing: holder"),
    ({"holder": "a", "ttl": 0}, "ttl: 0 must be a whole number of seconds above 0"),
    ({"holder": "a", "ttl": -1}, "ttl: -1 must be a whole number of seconds above 0"),
    ({"holder": "a", "force": True},
     "force: only used with state=broken (got state=acquired); a held lock is taken over by breaking it first"),
    ({"holder": "unknown"},
     "holder: 'unknown' is reserved for lock files that cannot be read; use a name that says who deploys "
     "(e.g. user@controller)"),
    ({"holder": "a", "path": "deploy.lock"}, "path: 'deploy.lock' must be an absolute path"),
])
def test_bad_input_is_refused_with_a_clear_message(args, message, tmp_path):
    args = dict(args)
    args.setdefault("path", str(tmp_path / "deploy.lock"))
    assert fail(args)["msg"] == message
    assert os.listdir(str(tmp_path)) == []


def test_path_that_is_a_directory(tmp_path):
    assert fail(dict(path=str(tmp_path), holder="alice"))["msg"] == (
        "path: %s is a directory; give the lock file's path" % tmp_path
    )
