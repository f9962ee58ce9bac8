# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HAProxy pool operations beside setting weights: wait for a server status, save the
server state file.

Pure functions over ``show stat`` rows plus two that use a :class:`RuntimeApi`
(``wait_for_status``, ``save_server_state``). No AnsibleModule inside. Runs on managed
hosts: Python 3.8, standard library only.
"""

from __future__ import annotations

import os
import time

from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import (
    READ_FLAGS,
    replace_atomic,
    unlink_quietly,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.haproxy import (
    RuntimeApiError,
    server_rows,
)

# What the ``wait_status`` option accepts: the first word(s) of show stat's status.
WAIT_STATUSES = ("UP", "DOWN", "DRAIN", "MAINT", "NOLB", "NO CHECK")
# A state file larger than this is not one HAProxy wrote for a few backends.
MAX_STATE_FILE = 16 * 1024 * 1024
STATE_FILE_MODE = 0o644


class StatusTimeout(RuntimeApiError):
    """Servers were not in a wanted status when the wait ran out."""

    def __init__(self, message, statuses):
        super().__init__(message)
        self.statuses = statuses


def status_word(status):
    """The settled status of a show stat ``status`` value, or None while in transition.

    ``UP``, ``DOWN``, ``DRAIN``, ``NOLB``, ``no check`` are themselves; ``MAINT (via
    be/srv)`` and ``DRAIN (agent)`` are ``MAINT`` and ``DRAIN``. ``UP 1/3`` (going down)
    and ``DOWN 1/2`` (going up) are in transition: None, so a wait does not stop on them.
    """
    if not isinstance(status, str):
        return None
    text = status.strip().upper()
    for word in sorted(WAIT_STATUSES, key=len, reverse=True):
        if text == word or text.startswith(word + " ("):
            return word
    return None


def check_wait_options(names, wanted, timeout, backend):
    """Validate the wait options; returns ``(names, wanted)`` normalised.

    Raises ValueError naming the option and the value.
    """
    if not isinstance(names, (list, tuple)) or not names:
        raise ValueError("wait_servers: name at least one server of backend %s, got %r" % (backend, names))
    for name in names:
        if not isinstance(name, str) or not name.strip():
            raise ValueError("wait_servers: %r is not a server name" % (name,))
    if not isinstance(wanted, (list, tuple)) or not wanted:
        raise ValueError("wait_status: give at least one of %s, got %r" % (", ".join(WAIT_STATUSES), wanted))
    normalised = []
    for status in wanted:
        word = status.strip().upper() if isinstance(status, str) else None
        if word not in WAIT_STATUSES:
            raise ValueError("wait_status: %r is not one of %s" % (status, ", ".join(WAIT_STATUSES)))
        normalised.append(word)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or timeout < 0:
        raise ValueError("wait_timeout: %r must be 0 or more seconds" % (timeout,))
    return sorted(set(names)), sorted(set(normalised))


def server_statuses(rows, backend, names):
    """``{name: status as show stat spells it}`` for the named servers of ``backend``.

    Raises ValueError naming ``wait_servers`` for a server the backend does not have.
    """
    found = dict((row["svname"], row.get("status")) for row in server_rows(rows, backend))
    missing = [name for name in names if name not in found]
    if missing:
        raise ValueError(
            "wait_servers: no server %s in backend %s (servers: %s)"
            % (", ".join(missing), backend, ", ".join(sorted(found)) or "none")
        )
    return dict((name, found[name]) for name in names)


def not_yet(statuses, wanted):
    """The servers whose status is not (settled) one of ``wanted``."""
    return dict((name, status) for name, status in statuses.items() if status_word(status) not in wanted)


def wait_for_status(api, backend, names, wanted, timeout, *, interval=0.5, clock=None, sleep=None):
    """Poll show stat until every named server's status is one of ``wanted``.

    Returns the last ``{name: status}``. Raises StatusTimeout naming each server that
    was not there with its last seen status when ``timeout`` seconds pass first, and
    ValueError (see :func:`server_statuses`) for an unknown server or backend.
    """
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    deadline = clock() + timeout
    while True:
        rows = api.show_stat()
        if not any(row.get("pxname") == backend for row in rows):
            raise ValueError("backend: no proxy named %r in show stat" % (backend,))
        statuses = server_statuses(rows, backend, names)
        waiting = not_yet(statuses, wanted)
        if not waiting:
            return statuses
        if clock() >= deadline:
            raise StatusTimeout(
                "wait_timeout=%ss passed before %s was %s: %s"
                % (timeout, "every server" if len(names) > 1 else "the server", " or ".join(wanted),
                   ", ".join("%s/%s is %s" % (backend, name, status or "without a status")
                             for name, status in sorted(waiting.items()))),
                statuses,
            )
        sleep(max(0.0, min(interval, deadline - clock())))


# --- server state file -----------------------------------------------------------


def check_state_dump(text):
    """``text`` as a reply to ``show servers state``: a version line, then a ``#`` header.

    Returns the number of server lines. Raises ValueError quoting the start of anything
    else (an error reply, an empty answer).
    """
    lines = text.splitlines()
    if len(lines) < 2 or not lines[0].strip().isdigit() or not lines[1].startswith("# be_id"):
        raise ValueError(
            "'show servers state' did not answer with a state file (version line, '# be_id ...' "
            "header); HAProxy said: %r" % text[:200]
        )
    return sum(1 for line in lines[2:] if line.strip() and not line.startswith("#"))


def read_state_file(path):
    """The text of the state file at ``path``, None when there is none.

    Does not follow a link at ``path``; a file above :data:`MAX_STATE_FILE` bytes
    raises ValueError naming the path.
    """
    try:
        fd = os.open(path, READ_FLAGS)
    except FileNotFoundError:
        return None
    try:
        data = os.read(fd, MAX_STATE_FILE + 1)
        while len(data) <= MAX_STATE_FILE:
            more = os.read(fd, MAX_STATE_FILE + 1 - len(data))
            if not more:
                break
            data += more
    finally:
        os.close(fd)
    if len(data) > MAX_STATE_FILE:
        raise ValueError("save_state: %s is larger than %d bytes; not a server state file" % (path, MAX_STATE_FILE))
    return data.decode("utf-8", "replace")


def write_state_file(path, text):
    """Replace ``path`` with ``text``: a new file beside it, fsync, rename, fsync the dir."""
    directory = os.path.dirname(path) or "."
    temp = os.path.join(directory, ".%s.%d.tmp" % (os.path.basename(path), os.getpid()))
    unlink_quietly(temp)
    replace_atomic(path, text.encode("utf-8"), temp, STATE_FILE_MODE)


def save_server_state(api, path, check_mode=False):
    """Write HAProxy's ``show servers state`` to ``path`` (what a reload reads back).

    Returns ``{"changed", "servers"}``: changed when the file's text differs (it holds
    the seconds since each server's last change, so it nearly always does); servers is
    the number of server lines. In check mode nothing is written.
    """
    if not isinstance(path, str) or not os.path.isabs(path):
        raise ValueError("save_state: %r is not an absolute path" % (path,))
    if not os.path.isdir(os.path.dirname(path)):
        raise ValueError("save_state: the directory of %s does not exist" % path)
    text = api.command("show servers state")
    try:
        count = check_state_dump(text)
    except ValueError as exc:
        raise RuntimeApiError(str(exc)) from exc
    changed = read_state_file(path) != text
    if changed and not check_mode:
        write_state_file(path, text)
    return {"changed": changed, "servers": count}
