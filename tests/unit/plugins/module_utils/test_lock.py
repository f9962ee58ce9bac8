# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for module_utils.lock: validation, parsing, staleness, planning, the file.

File tests use real temporary directories; time is passed in, never read.
"""

from __future__ import annotations

import errno
import json
import multiprocessing
import os
import tempfile
import threading

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import lock
from ansible_collections.fleetops.lifecycle.plugins.module_utils.lock import (
    DEFAULT_PATH,
    LockError,
    create_lock_file,
    describe_lock,
    ensure_lock,
    expires,
    expiry_clause,
    holder_phrase,
    is_readable,
    is_stale,
    iso_time,
    new_lock,
    parse_lock,
    plan_lock,
    read_lock_text,
    remove_lock_file,
    render_lock,
    validate_request,
)
from hypothesis import given, settings
from hypothesis import strategies as st

T0 = 1700000000  # 2023-11-14T22:13:20Z
P = "/var/lib/fleetops/deploy.lock"


def alice_lock(**overrides):
    values = dict(holder="alice", ttl=3600, now=T0, message="upgrade to 2.0.0", change_id="CHG-1",
                  pid=4242, host="lb1")
    values.update(overrides)
    return new_lock(values.pop("holder"), values.pop("ttl"), values.pop("now"), **values)


def request(**params):
    return validate_request(params)


def refusal(req, current, now):
    with pytest.raises(LockError) as info:
        plan_lock(req, current, now)
    return info.value


# ------------------------------------------------------------------------- time


def test_iso_time_is_utc_whole_seconds():
    assert iso_time(T0) == "2023-11-14T22:13:20Z"
    assert iso_time(T0 + 0.999) == "2023-11-14T22:13:20Z"
    assert iso_time(0) == "1970-01-01T00:00:00Z"


# ---------------------------------------------------------------- validate_request


def test_defaults():
    assert validate_request({"holder": "alice"}) == dict(
        path=DEFAULT_PATH, state="acquired", holder="alice", message=None, change_id=None,
        ttl=3600, force=False,
    )


def test_holder_is_stripped_and_empty_texts_are_none():
    req = request(holder="  alice ", reason="", change_id="")
    assert (req["holder"], req["message"], req["change_id"]) == ("alice", None, None)


def test_broken_needs_no_holder():
    assert request(state="broken")["holder"] is None
    assert request(state="broken", force=True)["force"] is True


@pytest.mark.parametrize("params, message", [
    ({"path": "deploy.lock", "holder": "a"}, "path: 'deploy.lock' must be an absolute path"),
    ({"path": 5, "holder": "a"}, "path: 5 must be an absolute path"),
    ({"path": "/var/lib/fleetops/", "holder": "a"},
     "path: '/var/lib/fleetops/' names a directory; give the lock file's path"),
    ({"state": "locked", "holder": "a"}, "state: 'locked' is not one of acquired, released, broken"),
    ({}, "holder: required with state=acquired (who takes or gives back the lock)"),
    ({"holder": "  "}, "holder: required with state=acquired (who takes or gives back the lock)"),
    ({"state": "released"}, "holder: required with state=released (who takes or gives back the lock)"),
    ({"holder": 7}, "holder: expected a string, got 7 (int)"),
    ({"holder": "unknown"},
     "holder: 'unknown' is reserved for lock files that cannot be read; use a name that says who "
     "deploys (e.g. user@controller)"),
    ({"holder": "alice\nbob"}, "holder: 'alice\\nbob' must be a single line"),
    ({"holder": "a", "ttl": 0}, "ttl: 0 must be a whole number of seconds above 0"),
    ({"holder": "a", "ttl": -5}, "ttl: -5 must be a whole number of seconds above 0"),
    ({"holder": "a", "ttl": "60"}, "ttl: '60' must be a whole number of seconds above 0"),
    ({"holder": "a", "ttl": 1.5}, "ttl: 1.5 must be a whole number of seconds above 0"),
    ({"holder": "a", "ttl": True}, "ttl: True must be a whole number of seconds above 0"),
    ({"holder": "a", "force": True},
     "force: only used with state=broken (got state=acquired); a held lock is taken over by "
     "breaking it first"),
    ({"holder": "a", "state": "released", "force": True},
     "force: only used with state=broken (got state=released); a held lock is taken over by "
     "breaking it first"),
    ({"state": "broken", "force": "yes"}, "force: expected true or false, got 'yes'"),
    ({"holder": "a", "reason": 3}, "reason: expected a string, got 3 (int)"),
    ({"holder": "a", "change_id": ["CHG-1"]}, "change_id: expected a string, got ['CHG-1'] (list)"),
])
def test_bad_requests_name_the_option_and_value(params, message):
    with pytest.raises(LockError) as info:
        validate_request(params)
    assert info.value.msg == message


# ------------------------------------------------------------- content and parsing


def test_new_lock_and_render_round_trip():
    made = alice_lock(now=T0 + 0.7)
    assert made == dict(holder="alice", message="upgrade to 2.0.0", change_id="CHG-1", started=T0,
                        started_iso="2023-11-14T22:13:20Z", ttl=3600, pid=4242, host="lb1")
    text = render_lock(made)
    assert text.endswith("}\n") and text.count("\n") == 1
    assert json.loads(text) == made
    assert parse_lock(text) == made
    assert parse_lock(text.encode("utf-8")) == made


def test_parse_lock_recomputes_started_iso_and_keeps_known_keys():
    text = json.dumps(dict(holder=" bob ", started=T0 + 0.5, ttl=60, started_iso="garbage", extra=1))
    assert parse_lock(text) == dict(holder="bob", message=None, change_id=None, started=T0,
                                    started_iso="2023-11-14T22:13:20Z", ttl=60, pid=None, host=None)


@pytest.mark.parametrize("text, reason", [
    ("", "the file is empty"),
    ("  \n", "the file is empty"),
    ('{"holder": "alice", "star', "it is not JSON"),
    ("[1, 2]", "it holds JSON list, not an object"),
    ('"alice"', "it holds JSON str, not an object"),
    ('{"started": 1, "ttl": 1}', "it has no holder"),
    ('{"holder": "", "started": 1, "ttl": 1}', "it has no holder"),
    ('{"holder": 5, "started": 1, "ttl": 1}', "it has no holder"),
    ('{"holder": "a", "ttl": 1}', "started is None, not epoch seconds"),
    ('{"holder": "a", "started": "yesterday", "ttl": 1}', "started is 'yesterday', not epoch seconds"),
    ('{"holder": "a", "started": -1, "ttl": 1}', "started is -1, not epoch seconds"),
    ('{"holder": "a", "started": true, "ttl": 1}', "started is True, not epoch seconds"),
    ('{"holder": "a", "started": NaN, "ttl": 1}', "started is nan, not epoch seconds"),
    ('{"holder": "a", "started": 1}', "ttl is None, not seconds above 0"),
    ('{"holder": "a", "started": 1, "ttl": 0}', "ttl is 0, not seconds above 0"),
    ('{"holder": "a", "started": 1, "ttl": 1.5}', "ttl is 1.5, not seconds above 0"),
    ('{"holder": "a", "started": 1, "ttl": 1, "message": 5}', "message is 5, not a string"),
    ('{"holder": "a", "started": 1, "ttl": 1, "host": []}', "host is [], not a string"),
    ('{"holder": "a", "started": 1, "ttl": 1, "pid": "12"}', "pid is '12', not a number"),
])
def test_unreadable_locks_are_held_by_unknown(text, reason):
    parsed = parse_lock(text)
    assert parsed["holder"] == "unknown"
    assert parsed["unreadable"] == reason
    assert parsed["content"] == text
    assert parsed["started"] is None and parsed["ttl"] is None
    assert not is_readable(parsed)
    assert expires(parsed) is None
    assert is_stale(parsed, 10 ** 12) is False


def test_unreadable_content_is_cut_to_an_excerpt():
    text = "x" * 500
    assert parse_lock(text)["content"] == "x" * 120 + "..."


def test_parse_lock_never_raises_on_binary_garbage():
    assert parse_lock(b"\xff\xfe\x00garbage")["holder"] == "unknown"


# ------------------------------------------------------------------------ staleness


def test_stale_only_after_started_plus_ttl():
    held = alice_lock()
    assert expires(held) == T0 + 3600
    assert is_stale(held, T0) is False
    assert is_stale(held, T0 + 3600) is False  # the last second of the TTL
    assert is_stale(held, T0 + 3600.001) is True
    assert is_stale(None, T0) is False


@settings(max_examples=300)
@given(st.integers(min_value=0, max_value=2 ** 40), st.integers(min_value=1, max_value=10 ** 7),
       st.integers(min_value=0, max_value=2 ** 41))
def test_stale_is_exactly_started_plus_ttl_before_now(started, ttl, now):
    held = new_lock("alice", ttl, started)
    assert is_stale(held, now) is (started + ttl < now)


def test_expiry_clause():
    held = alice_lock()
    assert expiry_clause(held, T0 + 600) == " (expires in 3000s at 2023-11-14T23:13:20Z)"
    assert expiry_clause(held, T0 + 3599.5) == " (expires in 1s at 2023-11-14T23:13:20Z)"
    assert expiry_clause(held, T0 + 3600) == " (expires in 0s at 2023-11-14T23:13:20Z)"
    assert expiry_clause(held, T0 + 4200) == " (stale: expired 600s ago at 2023-11-14T23:13:20Z)"
    assert expiry_clause(parse_lock(""), T0) == ""


@pytest.mark.parametrize("message, change_id, phrase", [
    ("upgrade to 2.0.0", "CHG-1", "alice (change CHG-1: 'upgrade to 2.0.0') since 2023-11-14T22:13:20Z, ttl 3600s"),
    (None, "CHG-1", "alice (change CHG-1) since 2023-11-14T22:13:20Z, ttl 3600s"),
    ("upgrade to 2.0.0", None, "alice ('upgrade to 2.0.0') since 2023-11-14T22:13:20Z, ttl 3600s"),
    (None, None, "alice since 2023-11-14T22:13:20Z, ttl 3600s"),
])
def test_describe_lock(message, change_id, phrase):
    held = alice_lock(message=message, change_id=change_id)
    assert holder_phrase(held) == phrase
    assert describe_lock(P, held) == "deploy lock %s is held by %s" % (P, phrase)


def test_describe_unreadable_lock():
    assert describe_lock(P, parse_lock("{oops")) == (
        "deploy lock /var/lib/fleetops/deploy.lock is held by unknown: it is not JSON (content: '{oops')"
    )


# -------------------------------------------------------------------------- planning

HELD = ("deploy lock /var/lib/fleetops/deploy.lock is held by alice (change CHG-1: 'upgrade to 2.0.0') "
        "since 2023-11-14T22:13:20Z, ttl 3600s")
FRESH = " (expires in 3000s at 2023-11-14T23:13:20Z)"
STALE = " (stale: expired 600s ago at 2023-11-14T23:13:20Z)"
UNREADABLE = ("deploy lock /var/lib/fleetops/deploy.lock is held by unknown: it is not JSON "
              "(content: '{oops')")


def test_acquire_free_lock_creates_it():
    req = request(holder="bob", reason="upgrade to 3.0.0", change_id="CHG-2", ttl=900)
    plan = plan_lock(req, None, T0, pid=7, host="lb1")
    assert plan == dict(
        action="create", changed=True, previous=None, stale=False, broken_lock=None,
        lock=dict(holder="bob", message="upgrade to 3.0.0", change_id="CHG-2", started=T0,
                  started_iso="2023-11-14T22:13:20Z", ttl=900, pid=7, host="lb1"),
        msg="acquired deploy lock /var/lib/fleetops/deploy.lock for bob",
    )


def test_acquire_own_lock_is_reentrant():
    held = alice_lock()
    plan = plan_lock(request(holder="alice", reason="something else"), held, T0 + 600)
    assert plan["action"] is None and plan["changed"] is False
    assert plan["lock"] == plan["previous"] == held
    assert plan["msg"] == HELD + FRESH + "; the same holder acquires it again (re-entrant), nothing changed"
    assert "warnings" not in plan


def test_acquire_own_stale_lock_is_reentrant_with_a_warning():
    plan = plan_lock(request(holder="alice"), alice_lock(), T0 + 4200)
    assert plan["changed"] is False and plan["stale"] is True
    assert plan["warnings"] == [
        "deploy lock /var/lib/fleetops/deploy.lock held by alice is past its ttl (3600s); other deploys "
        "may break it. Release it and acquire it again to start a new ttl"
    ]


def test_acquire_held_lock_is_refused_naming_the_holder():
    held = alice_lock()
    error = refusal(request(holder="bob"), held, T0 + 600)
    assert error.msg == HELD + FRESH + "; cannot acquire it for bob"
    assert error.result == dict(lock=held, previous=held, stale=False, broken_lock=None)


def test_acquire_stale_lock_is_refused_and_says_how_to_break_it():
    held = alice_lock()
    error = refusal(request(holder="bob"), held, T0 + 4200)
    assert error.msg == (
        HELD + STALE + "; cannot acquire it for bob. If no deploy by alice is still running, break it "
        "with state=broken, then acquire it again"
    )
    assert error.result["stale"] is True


@pytest.mark.parametrize("state", ["acquired", "released"])
def test_unreadable_lock_is_never_acquired_or_released(state):
    current = parse_lock("{oops")
    error = refusal(request(holder="bob", state=state), current, T0)
    assert error.msg == (
        UNREADABLE + "; make sure no deploy is running, then break it with state=broken force=true"
    )
    assert error.result["lock"]["holder"] == "unknown"
    assert error.result["stale"] is False


def test_release_own_lock_removes_it():
    held = alice_lock()
    plan = plan_lock(request(holder="alice", state="released"), held, T0 + 600)
    assert plan == dict(action="remove", changed=True, lock=None, previous=held, stale=False,
                        broken_lock=None,
                        msg="released deploy lock /var/lib/fleetops/deploy.lock held by alice")


def test_release_own_stale_lock_removes_it():
    plan = plan_lock(request(holder="alice", state="released"), alice_lock(), T0 + 4200)
    assert plan["action"] == "remove" and plan["stale"] is True


def test_release_of_someone_elses_lock_is_refused():
    error = refusal(request(holder="bob", state="released"), alice_lock(), T0 + 600)
    assert error.msg == HELD + FRESH + ", not by bob; cannot release it"


def test_release_of_someone_elses_stale_lock_is_refused_with_a_hint():
    error = refusal(request(holder="bob", state="released"), alice_lock(), T0 + 4200)
    assert error.msg == (
        HELD + STALE + ", not by bob; cannot release it. It is stale: if no deploy by alice is "
        "still running, break it with state=broken"
    )


@pytest.mark.parametrize("state, verb", [("released", "release"), ("broken", "break")])
def test_release_or_break_without_a_lock_changes_nothing(state, verb):
    plan = plan_lock(request(holder="alice", state=state), None, T0)
    assert plan == dict(action=None, changed=False, lock=None, previous=None, stale=False,
                        broken_lock=None,
                        msg="deploy lock /var/lib/fleetops/deploy.lock is not held; nothing to %s" % verb)


def test_break_stale_lock():
    held = alice_lock()
    plan = plan_lock(request(state="broken"), held, T0 + 4200)
    assert plan == dict(
        action="remove", changed=True, lock=None, previous=held, stale=True, broken_lock=held,
        msg="broke stale deploy lock /var/lib/fleetops/deploy.lock, held by alice (change CHG-1: "
            "'upgrade to 2.0.0') since 2023-11-14T22:13:20Z, ttl 3600s" + STALE,
    )


def test_break_fresh_lock_needs_force():
    held = alice_lock()
    error = refusal(request(state="broken"), held, T0 + 600)
    assert error.msg == HELD + FRESH + "; it is not stale, set force=true to break it anyway"
    plan = plan_lock(request(state="broken", force=True), held, T0 + 600)
    assert plan["broken_lock"] == held and plan["stale"] is False
    assert plan["msg"].startswith("broke forced deploy lock /var/lib/fleetops/deploy.lock, held by alice")


def test_break_unreadable_lock_needs_force():
    current = parse_lock("{oops")
    error = refusal(request(state="broken"), current, T0)
    assert error.msg == (
        UNREADABLE + "; it cannot be judged stale; make sure no deploy is running, then break it with "
        "state=broken force=true"
    )
    plan = plan_lock(request(state="broken", force=True), current, T0)
    assert plan["action"] == "remove" and plan["broken_lock"] == current
    assert plan["msg"] == (
        "broke forced deploy lock /var/lib/fleetops/deploy.lock, held by unknown: it is not JSON "
        "(content: '{oops')"
    )


# -------------------------------------------------------------------- the lock file


@pytest.fixture
def lock_path(tmp_path):
    return str(tmp_path / "state" / "deploy.lock")


def run(path, now, check_mode=False, diff_mode=False, **params):
    params["path"] = path
    return ensure_lock(params, now=now, check_mode=check_mode, diff_mode=diff_mode, pid=4242, host="lb1")


def run_refused(path, now, **params):
    with pytest.raises(LockError) as info:
        run(path, now, **params)
    return info.value


def listing(path):
    directory = os.path.dirname(path)
    return sorted(os.listdir(directory)) if os.path.isdir(directory) else None


def test_acquire_writes_the_lock_and_leaves_no_temporary_file(lock_path):
    result = run(lock_path, T0, holder="alice", reason="upgrade to 2.0.0", change_id="CHG-1")
    assert result == dict(
        changed=True, path=lock_path, lock=alice_lock(), previous=None, stale=False, broken_lock=None,
        msg="acquired deploy lock %s for alice" % lock_path,
    )
    with open(lock_path) as handle:
        assert handle.read() == render_lock(alice_lock())
    assert listing(lock_path) == ["deploy.lock"]
    assert oct(os.stat(os.path.dirname(lock_path)).st_mode & 0o777) in ("0o755", "0o775")


def test_check_mode_predicts_and_writes_nothing(lock_path):
    predicted = run(lock_path, T0, check_mode=True, holder="alice", reason="upgrade to 2.0.0",
                    change_id="CHG-1")
    assert listing(lock_path) is None
    actual = run(lock_path, T0, holder="alice", reason="upgrade to 2.0.0", change_id="CHG-1")
    assert predicted == actual
    with open(lock_path) as handle:
        before = handle.read()
    for params in (dict(holder="alice", state="released"), dict(state="broken", force=True)):
        predicted = run(lock_path, T0 + 5, check_mode=True, **params)
        assert predicted["changed"] is True and predicted["lock"] is None
        with open(lock_path) as handle:
            assert handle.read() == before
    error = run_refused(lock_path, T0 + 5, check_mode=True, holder="bob")
    assert error.msg.endswith("; cannot acquire it for bob")


def test_acquire_is_idempotent_and_keeps_the_first_lock(lock_path):
    first = run(lock_path, T0, holder="alice", ttl=60)
    second = run(lock_path, T0 + 30, holder="alice", ttl=999, reason="again")
    assert second["changed"] is False
    assert second["lock"] == second["previous"] == first["lock"]
    assert parse_lock(read_lock_text(lock_path)) == first["lock"]


def test_full_cycle_acquire_refuse_release(lock_path):
    run(lock_path, T0, holder="alice", reason="upgrade to 2.0.0", change_id="CHG-1")
    error = run_refused(lock_path, T0 + 600, holder="bob")
    assert error.msg == HELD.replace(P, lock_path) + FRESH + "; cannot acquire it for bob"
    error = run_refused(lock_path, T0 + 600, holder="bob", state="released")
    assert error.msg.endswith(", not by bob; cannot release it")
    released = run(lock_path, T0 + 700, holder="alice", state="released")
    assert released["changed"] is True and released["previous"]["holder"] == "alice"
    assert listing(lock_path) == []
    assert run(lock_path, T0 + 701, holder="alice", state="released")["changed"] is False
    assert run(lock_path, T0 + 702, holder="bob")["lock"]["holder"] == "bob"


def test_stale_lock_is_refused_then_broken_then_acquired(lock_path):
    run(lock_path, T0, holder="alice", ttl=60)
    error = run_refused(lock_path, T0 + 120, holder="bob")
    assert error.result["stale"] is True
    assert "stale: expired 60s ago" in error.msg
    broken = run(lock_path, T0 + 120, state="broken")
    assert broken["changed"] is True and broken["stale"] is True
    assert broken["broken_lock"]["holder"] == "alice"
    assert run(lock_path, T0 + 121, state="broken")["changed"] is False
    assert run(lock_path, T0 + 122, holder="bob")["changed"] is True


def test_unreadable_lock_file_is_never_overwritten(lock_path):
    os.makedirs(os.path.dirname(lock_path))
    with open(lock_path, "w") as handle:
        handle.write("")
    error = run_refused(lock_path, T0, holder="bob")
    assert error.msg == (
        "deploy lock %s is held by unknown: the file is empty (content: ''); make sure no deploy is "
        "running, then break it with state=broken force=true" % lock_path
    )
    assert read_lock_text(lock_path) == ""
    run_refused(lock_path, T0, state="broken")
    assert run(lock_path, T0, state="broken", force=True)["broken_lock"]["holder"] == "unknown"
    assert listing(lock_path) == []


def test_diff_shows_the_file_before_and_after(lock_path):
    acquired = run(lock_path, T0, diff_mode=True, holder="alice")
    text = read_lock_text(lock_path)
    assert acquired["diff"] == dict(before="", after=text, before_header=lock_path, after_header=lock_path)
    again = run(lock_path, T0, diff_mode=True, holder="alice")
    assert again["diff"]["before"] == again["diff"]["after"] == text
    released = run(lock_path, T0, diff_mode=True, check_mode=True, holder="alice", state="released")
    assert released["diff"]["before"] == text and released["diff"]["after"] == ""


def test_reentrant_diff_keeps_a_hand_formatted_file(lock_path):
    os.makedirs(os.path.dirname(lock_path))
    text = '{\n  "holder": "alice",\n  "started": %d,\n  "ttl": 60\n}\n' % T0
    with open(lock_path, "w") as handle:
        handle.write(text)
    result = run(lock_path, T0, diff_mode=True, holder="alice")
    assert result["changed"] is False
    assert result["diff"]["before"] == result["diff"]["after"] == text


def test_create_lock_file_refuses_an_existing_path(lock_path):
    assert create_lock_file(lock_path, "first\n") is True
    assert create_lock_file(lock_path, "second\n") is False
    assert read_lock_text(lock_path) == "first\n"
    assert listing(lock_path) == ["deploy.lock"]


def test_lock_created_between_read_and_create_is_planned_again(lock_path, monkeypatch):
    run(lock_path, T0, holder="alice")
    real = lock.read_lock_text
    calls = []

    def first_read_misses(path):
        calls.append(path)
        return None if len(calls) == 1 else real(path)

    monkeypatch.setattr(lock, "read_lock_text", first_read_misses)
    error = run_refused(lock_path, T0 + 1, holder="bob")
    assert len(calls) == 2
    assert error.msg.startswith("deploy lock %s is held by alice since" % lock_path)
    assert parse_lock(real(lock_path))["holder"] == "alice"


def test_remove_refuses_a_lock_that_changed_since_it_was_read(lock_path):
    run(lock_path, T0, holder="bob")
    with pytest.raises(LockError) as info:
        remove_lock_file(lock_path, render_lock(alice_lock()))
    assert info.value.msg == (
        "deploy lock %s changed while this task was deciding; it is now held by bob, run the task again"
        % lock_path
    )
    assert parse_lock(read_lock_text(lock_path))["holder"] == "bob"
    assert remove_lock_file(lock_path + ".missing", "x") is False


def test_path_that_is_a_directory(tmp_path):
    error = run_refused(str(tmp_path), T0, holder="alice")
    assert error.msg == "path: %s is a directory; give the lock file's path" % tmp_path


def test_path_under_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    path = str(blocker / "deploy.lock")
    error = run_refused(path, T0, holder="alice")
    assert error.msg == "path: %s: a parent of the lock file is not a directory" % path


def test_unreadable_path_is_reported(lock_path, monkeypatch):
    def denied(path, mode="r"):
        raise OSError(errno.EACCES, "Permission denied", path)

    monkeypatch.setattr(lock, "open", denied, raising=False)
    error = run_refused(lock_path, T0, holder="alice")
    assert error.msg == "path: cannot read deploy lock %s: Permission denied" % lock_path


def test_unwritable_directory_is_reported(lock_path, monkeypatch):
    def denied(*args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(lock.os, "makedirs", denied)
    error = run_refused(lock_path, T0, holder="alice")
    assert error.msg == "path: cannot create directory %s: Read-only file system" % os.path.dirname(lock_path)


# -------------------------------------------------------------------- concurrency


def test_concurrent_acquires_from_threads_have_exactly_one_winner(tmp_path):
    for round_number in range(10):
        path = str(tmp_path / ("round%d" % round_number) / "deploy.lock")
        holders = ["deploy-%02d" % i for i in range(16)]
        barrier = threading.Barrier(len(holders))
        outcomes = {}

        def contend(holder, path=path, barrier=barrier, outcomes=outcomes):
            barrier.wait()
            try:
                outcomes[holder] = ensure_lock(dict(path=path, holder=holder), now=T0)
            except LockError as exc:
                outcomes[holder] = exc

        threads = [threading.Thread(target=contend, args=(holder,)) for holder in holders]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        winners = [h for h, outcome in outcomes.items() if isinstance(outcome, dict)]
        assert len(winners) == 1, outcomes
        winner = winners[0]
        assert outcomes[winner]["changed"] is True
        assert parse_lock(read_lock_text(path))["holder"] == winner
        for holder, outcome in outcomes.items():
            if holder != winner:
                assert outcome.msg.startswith("deploy lock %s is held by %s since" % (path, winner))
                assert outcome.msg.endswith("; cannot acquire it for %s" % holder)
        assert os.listdir(os.path.dirname(path)) == ["deploy.lock"]


def _acquire_in_process(path, holder, barrier, results):
    barrier.wait()
    try:
        result = ensure_lock(dict(path=path, holder=holder), now=T0)
        results.put((holder, "won", result["lock"]["holder"]))
    except LockError as exc:
        results.put((holder, "refused", exc.msg))


def test_concurrent_acquires_from_processes_have_exactly_one_winner(tmp_path):
    context = multiprocessing.get_context("fork")
    path = str(tmp_path / "deploy.lock")
    holders = ["proc-%d" % i for i in range(8)]
    barrier = context.Barrier(len(holders))
    results = context.Queue()
    processes = [context.Process(target=_acquire_in_process, args=(path, holder, barrier, results))
                 for holder in holders]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=60) for _ in holders]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    winners = [holder for holder, kind, _ in outcomes if kind == "won"]
    assert len(winners) == 1, outcomes
    assert parse_lock(read_lock_text(path))["holder"] == winners[0]
    for _holder, kind, detail in outcomes:
        if kind == "refused":
            assert "is held by %s since" % winners[0] in detail


# ------------------------------------------------------------- model-based property

operations = st.lists(
    st.tuples(
        st.sampled_from(["acquired", "released", "broken", "broken-force"]),
        st.sampled_from(["alice", "bob"]),
        st.integers(min_value=0, max_value=200),  # seconds since the previous operation
        st.integers(min_value=1, max_value=150),  # ttl
    ),
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(operations)
def test_the_file_behaves_like_the_rules(ops):
    """Against a real file: one holder at a time, stale only after the TTL, breaks as documented."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "deploy.lock")
        model = None  # (holder, started, ttl)
        now = T0
        for state, holder, step, ttl in ops:
            now += step
            params = dict(path=path, state=state.split("-")[0], ttl=ttl)
            if state == "broken-force":
                params["force"] = True
            elif state != "broken":
                params["holder"] = holder
            stale = model is not None and model[1] + model[2] < now
            if model is None:
                expect = "create" if state == "acquired" else "noop"
            elif state == "acquired":
                expect = "noop" if model[0] == holder else "refuse"
            elif state == "released":
                expect = "remove" if model[0] == holder else "refuse"
            elif state == "broken":
                expect = "remove" if stale else "refuse"
            else:
                expect = "remove"
            if expect == "refuse":
                with pytest.raises(LockError) as info:
                    ensure_lock(params, now=now)
                assert info.value.result["stale"] is stale
                assert "is held by %s" % model[0] in info.value.msg
            else:
                result = ensure_lock(params, now=now)
                assert result["changed"] is (expect in ("create", "remove"))
                assert result["stale"] is stale
                if expect == "create":
                    model = (holder, now, ttl)
                elif expect == "remove":
                    assert result["previous"]["holder"] == model[0]
                    model = None
            on_disk = read_lock_text(path)
            if model is None:
                assert on_disk is None
            else:
                assert (parse_lock(on_disk)["holder"], parse_lock(on_disk)["started"]) == model[:2]
