# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The deploy lock: one JSON file that says who is deploying, since when, for how long.

A lock file holds one JSON object::

    {"holder": "alice", "message": "upgrade to 2.0.0", "change_id": "CHG-1",
     "started": 1700000000, "started_iso": "2023-11-14T22:13:20Z", "ttl": 3600,
     "pid": 4242, "host": "lb1"}

``started`` (whole epoch seconds) and ``ttl`` (seconds) decide staleness;
``started_iso`` is the same instant for people reading the file. ``pid`` and ``host``
name the process and machine that wrote the lock; the module process ends right after
acquiring, so a dead pid proves nothing, and staleness is decided by the TTL alone.

A lock is *stale* when ``started + ttl < now``. A stale lock still blocks: it is only
removed by an explicit ``broken`` request. A file that is not such an object (empty,
truncated, edited by hand) is read as held by :data:`UNKNOWN_HOLDER`, is never stale,
and only ``broken`` with ``force`` removes it.

Acquiring never overwrites: the lock is written in full to a unique temporary file
(created with ``O_CREAT | O_EXCL``), fsynced, and then hard-linked to the lock path.
``link(2)`` fails when the path exists, so of two deploys racing for the lock exactly
one wins, and nobody ever reads a half-written lock. Releasing and breaking re-read
the file just before unlinking it and refuse when it changed since it was judged.

Decisions are pure functions over plain data (:func:`validate_request`,
:func:`parse_lock`, :func:`is_stale`, :func:`plan_lock`); time comes in as an
argument. :func:`ensure_lock` reads the file, plans and acts. No AnsibleModule
inside. This file runs on managed hosts, so it stays compatible with Python 3.8 and
uses the standard library only.
"""

from __future__ import annotations

import binascii
import errno
import json
import math
import os
import socket
import time

from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import CREATE_FLAGS, ResultError, fsync_dir

DEFAULT_PATH = "/var/lib/fleetops/deploy.lock"
DEFAULT_TTL = 3600
STATES = ("acquired", "released", "broken")
UNKNOWN_HOLDER = "unknown"
LOCK_KEYS = ("holder", "message", "change_id", "started", "started_iso", "ttl", "pid", "host")

_MAX_READ = 1024 * 1024
_EXCERPT = 120


class LockError(ResultError):
    """A refusal or failure to report with fail_json: a message plus result keys."""


# --- time ------------------------------------------------------------------------


def iso_time(epoch):
    """``epoch`` seconds as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, whole seconds)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def _is_number(value):
    return (
        isinstance(value, (int, float)) and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


# --- request ---------------------------------------------------------------------


def _optional_text(params, key):
    value = params.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise LockError("%s: expected a string, got %r (%s)" % (key, value, type(value).__name__))
    return value


def validate_request(params):
    """Check the module options; return them normalised.

    Returns ``{"path", "state", "holder", "message", "change_id", "ttl", "force"}``; ``message``
    is the ``reason`` option, the key the lock file keeps it under.
    Raises LockError naming the option and the value.
    """
    path = params.get("path") or DEFAULT_PATH
    if not isinstance(path, str) or not os.path.isabs(path):
        raise LockError("path: %r must be an absolute path" % (path,))
    if path.endswith("/"):
        raise LockError("path: %r names a directory; give the lock file's path" % path)
    state = params.get("state") or "acquired"
    if state not in STATES:
        raise LockError("state: %r is not one of %s" % (state, ", ".join(STATES)))
    holder = params.get("holder")
    if holder is not None and not isinstance(holder, str):
        raise LockError("holder: expected a string, got %r (%s)" % (holder, type(holder).__name__))
    holder = holder.strip() if holder else None
    if state in ("acquired", "released") and not holder:
        raise LockError("holder: required with state=%s (who takes or gives back the lock)" % state)
    if holder == UNKNOWN_HOLDER:
        raise LockError(
            "holder: %r is reserved for lock files that cannot be read; use a name that "
            "says who deploys (e.g. user@controller)" % UNKNOWN_HOLDER
        )
    if holder is not None and any(c in holder for c in "\r\n"):
        raise LockError("holder: %r must be a single line" % holder)
    ttl = params.get("ttl")
    ttl = DEFAULT_TTL if ttl is None else ttl
    if not _is_int(ttl) or ttl <= 0:
        raise LockError("ttl: %r must be a whole number of seconds above 0" % (ttl,))
    force = params.get("force") or False
    if not isinstance(force, bool):
        raise LockError("force: expected true or false, got %r" % (force,))
    if force and state != "broken":
        raise LockError(
            "force: only used with state=broken (got state=%s); a held lock is taken over by "
            "breaking it first" % state
        )
    return dict(
        path=path,
        state=state,
        holder=holder,
        message=_optional_text(params, "reason"),
        change_id=_optional_text(params, "change_id"),
        ttl=ttl,
        force=force,
    )


# --- lock content ----------------------------------------------------------------


def new_lock(holder, ttl, now, *, message=None, change_id=None, pid=None, host=None):
    """The lock ``holder`` takes at ``now`` (epoch seconds, truncated to whole seconds)."""
    started = int(now)
    return dict(
        holder=holder,
        message=message,
        change_id=change_id,
        started=started,
        started_iso=iso_time(started),
        ttl=ttl,
        pid=pid,
        host=host,
    )


def render_lock(lock):
    """The lock file's text: sorted JSON and a newline."""
    return json.dumps(dict((key, lock.get(key)) for key in LOCK_KEYS), sort_keys=True) + "\n"


def _unreadable(reason, text):
    lock = dict((key, None) for key in LOCK_KEYS)
    lock["holder"] = UNKNOWN_HOLDER
    excerpt = text[:_EXCERPT] + ("..." if len(text) > _EXCERPT else "")
    lock.update(unreadable=reason, content=excerpt)
    return lock


def _lock_problem(data):
    if not isinstance(data, dict):
        return "it holds JSON %s, not an object" % type(data).__name__
    holder = data.get("holder")
    if not isinstance(holder, str) or not holder.strip():
        return "it has no holder"
    if not _is_number(data.get("started")) or data["started"] < 0:
        return "started is %r, not epoch seconds" % (data.get("started"),)
    if not _is_int(data.get("ttl")) or data["ttl"] <= 0:
        return "ttl is %r, not seconds above 0" % (data.get("ttl"),)
    for key in ("message", "change_id", "host"):
        if data.get(key) is not None and not isinstance(data[key], str):
            return "%s is %r, not a string" % (key, data[key])
    if data.get("pid") is not None and not _is_int(data["pid"]):
        return "pid is %r, not a number" % (data["pid"],)
    return None


def parse_lock(text):
    """The lock in a lock file's ``text``; never raises.

    A valid lock comes back with the keys of :data:`LOCK_KEYS` (``started`` as whole
    seconds, ``started_iso`` recomputed from it). Anything else, including an empty
    file, comes back as held by :data:`UNKNOWN_HOLDER` with ``started`` and ``ttl``
    None, ``unreadable`` (why) and ``content`` (the start of the text).
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not text.strip():
        return _unreadable("the file is empty", text)
    try:
        data = json.loads(text)
    except ValueError:
        return _unreadable("it is not JSON", text)
    problem = _lock_problem(data)
    if problem:
        return _unreadable(problem, text)
    lock = dict((key, data.get(key)) for key in LOCK_KEYS)
    lock["holder"] = data["holder"].strip()
    lock["started"] = int(data["started"])
    lock["started_iso"] = iso_time(lock["started"])
    return lock


def is_readable(lock):
    return lock is not None and "unreadable" not in lock


def expires(lock):
    """Epoch second after which the lock is stale (``started + ttl``), None if unknown."""
    if not is_readable(lock):
        return None
    return lock["started"] + lock["ttl"]


def is_stale(lock, now):
    """True when ``started + ttl < now``. Unreadable locks are never stale."""
    end = expires(lock)
    return end is not None and end < now


def describe_lock(path, lock):
    """``deploy lock <path> is held by alice (change CHG-1: 'msg') since <iso>, ttl 3600s``."""
    return "deploy lock %s is held by %s" % (path, holder_phrase(lock))


def holder_phrase(lock):
    """``alice (change CHG-1: 'msg') since <iso>, ttl 3600s``, or why it is unknown."""
    if not is_readable(lock):
        return "%s: %s (content: %r)" % (UNKNOWN_HOLDER, lock["unreadable"], lock["content"])
    change, message = lock.get("change_id"), lock.get("message")
    if change and message:
        detail = " (change %s: %r)" % (change, message)
    elif change:
        detail = " (change %s)" % change
    elif message:
        detail = " (%r)" % message
    else:
        detail = ""
    return "%s%s since %s, ttl %ds" % (lock["holder"], detail, lock["started_iso"], lock["ttl"])


def expiry_clause(lock, now):
    """`` (expires in 600s at <iso>)`` or `` (stale: expired 60s ago at <iso>)``."""
    end = expires(lock)
    if end is None:
        return ""
    if end < now:
        return " (stale: expired %ds ago at %s)" % (int(now - end), iso_time(end))
    return " (expires in %ds at %s)" % (int(math.ceil(end - now)), iso_time(end))


# --- planning --------------------------------------------------------------------

_BREAK_UNREADABLE = "; make sure no deploy is running, then break it with state=broken force=true"


def _refusal(msg, current, now):
    return LockError(msg, lock=current, previous=current, stale=is_stale(current, now), broken_lock=None)


def plan_lock(request, current, now, *, pid=None, host=None):
    """Decide what a request does to the lock ``current`` (None when there is none).

    ``request`` is what :func:`validate_request` returns; ``now`` is epoch seconds.
    Returns ``{"action": "create"|"remove"|None, "changed", "lock" (after),
    "previous", "stale", "broken_lock", "msg"}`` and ``"warnings"`` when the holder
    re-acquires its own stale lock. Raises LockError when the request is refused; its
    result carries ``lock``, ``previous``, ``stale`` and ``broken_lock``.

    - acquired: no lock -> create; same holder -> nothing (re-entrant, even when
      stale); another holder, stale or not, or an unreadable file -> refused.
    - released: no lock -> nothing; same holder -> remove; another holder or an
      unreadable file -> refused.
    - broken: no lock -> nothing; a stale lock, or any lock (unreadable ones
      included) with force -> remove; else refused.
    """
    state, path, holder = request["state"], request["path"], request["holder"]
    stale = is_stale(current, now)
    plan = dict(action=None, changed=False, lock=current, previous=current, stale=stale, broken_lock=None)
    if current is None:
        if state == "acquired":
            lock = new_lock(holder, request["ttl"], now, message=request["message"],
                            change_id=request["change_id"], pid=pid, host=host)
            plan.update(action="create", changed=True, lock=lock,
                        msg="acquired deploy lock %s for %s" % (path, holder))
        else:
            plan["msg"] = "deploy lock %s is not held; nothing to %s" % (
                path, "release" if state == "released" else "break")
        return plan
    held = describe_lock(path, current) + expiry_clause(current, now)
    readable = is_readable(current)
    if state == "broken":
        if not (stale or request["force"]):
            if not readable:
                raise _refusal(held + "; it cannot be judged stale" + _BREAK_UNREADABLE, current, now)
            raise _refusal(held + "; it is not stale, set force=true to break it anyway", current, now)
        how = "stale" if stale else "forced"
        plan.update(action="remove", changed=True, lock=None, broken_lock=current,
                    msg="broke %s deploy lock %s, held by %s%s" % (
                        how, path, holder_phrase(current), expiry_clause(current, now)))
        return plan
    if not readable:
        raise _refusal(held + _BREAK_UNREADABLE, current, now)
    mine = current["holder"] == holder
    if state == "acquired":
        if mine:
            plan["msg"] = held + "; the same holder acquires it again (re-entrant), nothing changed"
            if stale:
                plan["warnings"] = [
                    "deploy lock %s held by %s is past its ttl (%ds); other deploys may break it. "
                    "Release it and acquire it again to start a new ttl" % (path, holder, current["ttl"])
                ]
            return plan
        msg = held + "; cannot acquire it for %s" % holder
        if stale:
            msg += (". If no deploy by %s is still running, break it with state=broken, then "
                    "acquire it again" % current["holder"])
        raise _refusal(msg, current, now)
    if not mine:
        msg = held + ", not by %s; cannot release it" % holder
        if stale:
            msg += (". It is stale: if no deploy by %s is still running, break it with "
                    "state=broken" % current["holder"])
        raise _refusal(msg, current, now)
    plan.update(action="remove", changed=True, lock=None,
                msg="released deploy lock %s held by %s" % (path, holder))
    return plan


# --- the file --------------------------------------------------------------------


def read_lock_text(path):
    """The lock file's text, or None when there is no lock file."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(_MAX_READ)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        if exc.errno == errno.ENOTDIR:
            raise LockError("path: %s: a parent of the lock file is not a directory" % path) from exc
        if exc.errno == errno.EISDIR:
            raise LockError("path: %s is a directory; give the lock file's path" % path) from exc
        raise LockError("path: cannot read deploy lock %s: %s" % (path, exc.strerror or exc)) from exc
    return data.decode("utf-8", "replace")


def create_lock_file(path, text):
    """Create ``path`` with ``text`` unless it exists; True when this call created it.

    The text is written to a unique ``.<name>.<hex>.tmp`` next to the lock (made
    with O_CREAT|O_EXCL, fsynced) and hard-linked to ``path``; link(2) fails with
    EEXIST when another deploy got there first, and the lock never exists partly
    written. Missing parent directories are made (mode 0755).
    """
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
    except OSError as exc:
        raise LockError("path: cannot create directory %s: %s" % (directory, exc.strerror or exc)) from exc
    tmp = os.path.join(directory, ".%s.%s.tmp" % (os.path.basename(path),
                                                  binascii.hexlify(os.urandom(6)).decode("ascii")))
    try:
        fd = os.open(tmp, CREATE_FLAGS, 0o644)
        try:
            data = text.encode("utf-8")
            if os.write(fd, data) != len(data):
                raise OSError(errno.EIO, "short write")
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except OSError as exc:
            if exc.errno == errno.EEXIST:
                return False
            raise
    except OSError as exc:
        raise LockError("path: cannot write deploy lock %s: %s" % (path, exc.strerror or exc)) from exc
    finally:
        try:
            os.unlink(tmp)
        except OSError:
            pass
    fsync_dir(directory)
    return True


def remove_lock_file(path, expected_text):
    """Unlink ``path`` if it still holds ``expected_text``; False when it is gone already.

    Raises LockError when the file changed since it was read (another deploy
    released, broke or took the lock in between).
    """
    text = read_lock_text(path)
    if text is None:
        return False
    if text != expected_text:
        current = parse_lock(text)
        raise LockError(
            "deploy lock %s changed while this task was deciding; it is now held by %s, "
            "run the task again" % (path, current["holder"]),
            lock=current, previous=current, stale=False, broken_lock=None,
        )
    try:
        os.unlink(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return False
        raise LockError("path: cannot remove deploy lock %s: %s" % (path, exc.strerror or exc)) from exc
    fsync_dir(os.path.dirname(path))
    return True


def ensure_lock(params, *, now=None, check_mode=False, diff_mode=False, pid=None, host=None):
    """Validate, read the lock, plan, act unless ``check_mode``; return the result.

    ``now`` defaults to time.time(), ``pid`` to os.getpid() and ``host`` to the
    host name: pass them to make the outcome independent of the clock and machine.
    When another deploy creates the lock between the read and the create, the
    request is planned once more against that lock (and then usually refused).
    """
    request = validate_request(params)
    now = time.time() if now is None else now
    pid = os.getpid() if pid is None else pid
    host = socket.gethostname() if host is None else host
    path = request["path"]
    for _attempt in range(2):
        text = read_lock_text(path)
        current = None if text is None else parse_lock(text)
        plan = plan_lock(request, current, now, pid=pid, host=host)
        if check_mode or plan["action"] is None:
            break
        if plan["action"] == "create":
            if create_lock_file(path, render_lock(plan["lock"])):
                break
            continue
        remove_lock_file(path, text)
        break
    else:  # pragma: no cover - the lock appeared and vanished again between attempts
        raise LockError("deploy lock %s kept changing while this task ran; run it again" % path)
    result = dict(
        changed=plan["changed"],
        path=path,
        lock=plan["lock"],
        previous=plan["previous"],
        stale=plan["stale"],
        broken_lock=plan["broken_lock"],
        msg=plan["msg"],
    )
    if plan.get("warnings"):
        result["warnings"] = plan["warnings"]
    if diff_mode:
        if plan["action"] is None:
            after = text
        else:
            after = render_lock(plan["lock"]) if plan["lock"] else None
        result["diff"] = dict(before=text or "", after=after or "", before_header=path, after_header=path)
    return result
