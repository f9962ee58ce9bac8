# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""HAProxy runtime API: read ``show stat`` and ``show servers state``, plan server changes, talk to the socket.

Everything here except :class:`RuntimeApi` and :func:`wait_until_drained` is a pure
function over plain data. No AnsibleModule inside. This file runs on managed hosts,
so it stays compatible with Python 3.8.

Server states use one shape throughout::

    {"app1-blue": {"weight": 100, "admin": "ready"}, ...}

``weight`` is the user weight (0..256, what ``set server ... weight`` sets) and
``admin`` the administrative state (``ready``, ``drain`` or ``maint``, what
``set server ... state`` sets). A server *serves* when it is ``ready`` with a
weight above 0.
"""

from __future__ import annotations

import csv
import errno
import io
import re
import socket
import time
from collections.abc import Mapping

ADMIN_STATES = ("ready", "drain", "maint")
MIN_WEIGHT = 0
MAX_WEIGHT = 256
DEFAULT_SOCKET = "/run/haproxy/admin.sock"

# Fields that stay strings even when they look like numbers.
_TEXT_FIELDS = frozenset((
    "pxname", "svname", "status", "check_status", "agent_status", "check_desc",
    "agent_desc", "last_chk", "last_agt", "addr", "cookie", "mode", "algo", "tracked",
    "proto",
))
_INT_RE = re.compile(r"-?[0-9]+\Z")
# HAProxy proxy and server names: letters, digits, '-', '_', '.', ':'.
_NAME_RE = re.compile(r"[A-Za-z0-9_.:-]+\Z")
_ROW_TYPE_SERVER = 2
# Operational states in which `show stat` reports the admin drain flag. While a
# server is DOWN or NOLB the status column shows that instead, and drain is hidden.
_DRAIN_VISIBLE = ("UP", "NO CHECK", "DRAIN", "MAINT")
_KNOWN_STATUS = ("MAINT", "DRAIN", "UP", "DOWN", "NOLB", "NO CHECK")
# srv_admin_state of `show servers state` (HAProxy >= 1.6): the bits of maintenance
# (forced, inherited from a tracked server, failed DNS resolution) and of drain
# (forced, inherited). 0x04 marks a server `disabled` in the configuration; it stays
# when `set server ... state ready` clears 0x01, and HAProxy itself leaves it out of its
# maintenance mask. 0x40 only records an FQDN change.
_ADMIN_MAINT_BITS = 0x01 | 0x02 | 0x20
_ADMIN_DRAIN_BITS = 0x08 | 0x10
_STATE_COLUMNS = ("be_name", "srv_name", "srv_admin_state")
_DESIRED_KEYS = ("weight", "state", "admin")


class RuntimeApiError(Exception):
    """The runtime API could not be reached, or HAProxy refused a command."""


class NotRunning(RuntimeApiError):
    """The socket is missing or refuses connections: HAProxy is not running."""


class DrainTimeout(RuntimeApiError):
    """Servers still had sessions when the drain timeout ran out."""

    def __init__(self, message, sessions):
        super().__init__(message)
        self.sessions = sessions


# --- show stat -------------------------------------------------------------------


def _convert(field, value):
    if value == "":
        return None
    if field not in _TEXT_FIELDS and _INT_RE.match(value):
        return int(value)
    return value


def parse_show_stat(csv_text):
    """Rows of ``show stat`` CSV as dicts keyed by the header's field names.

    Empty values become None; numeric values become ints, except name and text
    fields (``pxname``, ``svname``, ``status``, ``addr``, ...). The ``-`` column that
    ends HAProxy's static fields and the empty column after the trailing comma are
    dropped. Raises ValueError when the text has no ``# pxname,...`` header, which is
    what an error reply from HAProxy looks like.
    """
    if isinstance(csv_text, bytes):
        csv_text = csv_text.decode("utf-8", "replace")
    if not isinstance(csv_text, str):
        raise TypeError("show stat output must be text, got %s" % type(csv_text).__name__)
    lines = csv_text.splitlines()
    start = 0
    while start < len(lines) and not lines[start].strip():
        start += 1
    if start == len(lines) or not lines[start].startswith("# pxname,"):
        first = lines[start].strip() if start < len(lines) else ""
        raise ValueError(
            "show stat output has no '# pxname,svname,...' header; HAProxy said: %r"
            % first[:200]
        )
    header = next(csv.reader([lines[start][2:]]))
    columns = [(index, name) for index, name in enumerate(header) if name not in ("", "-")]
    body = "\n".join(line for line in lines[start + 1:] if line.strip())
    rows = []
    for number, values in enumerate(csv.reader(io.StringIO(body)), start=start + 2):
        if len(values) < 2:
            raise ValueError("show stat line %d is not a CSV row: %r" % (number, ",".join(values)))
        rows.append(dict(
            (name, _convert(name, values[index]) if index < len(values) else None)
            for index, name in columns
        ))
    return rows


def backend_names(rows):
    """Names of the backends (proxies with a BACKEND row), in show stat order."""
    names = []
    for row in rows:
        if row.get("svname") == "BACKEND" and row.get("pxname") not in names:
            names.append(row.get("pxname"))
    return names


def server_rows(rows, backend):
    """The server rows of ``backend``: not its FRONTEND/BACKEND rows nor listeners."""
    return [
        row for row in rows
        if row.get("pxname") == backend
        and row.get("svname") not in ("FRONTEND", "BACKEND")
        and row.get("type") in (None, _ROW_TYPE_SERVER)
    ]


def _status(row):
    status = row.get("status")
    if not isinstance(status, str) or not status.strip():
        raise ValueError(
            "server %s/%s has no status in show stat" % (row.get("pxname"), row.get("svname"))
        )
    normalized = status.strip().upper()
    if not normalized.startswith(_KNOWN_STATUS):
        raise ValueError(
            "server %s/%s has an unrecognised status %r in show stat"
            % (row.get("pxname"), row.get("svname"), status)
        )
    return normalized


def current_admin_state(row):
    """Administrative state (ready, drain, maint) from a server row's ``status``.

    ``MAINT``, ``MAINT (via be/srv)`` and ``MAINT (resolution)`` are maint;
    ``DRAIN``, ``DRAIN 1/2`` and ``DRAIN (agent)`` are drain. ``UP``, ``UP 1/3``,
    ``DOWN``, ``DOWN 1/2``, ``NOLB`` and ``no check`` describe the operational state of
    a server that is administratively ready as far as show stat can tell: HAProxy
    hides the drain flag while a server is DOWN or NOLB (see
    :func:`admin_state_visible`).
    """
    status = _status(row)
    if status.startswith("MAINT"):
        return "maint"
    if status.startswith("DRAIN"):
        return "drain"
    return "ready"


def admin_state_visible(row):
    """Whether the status column can show the drain flag for this row (UP-like)."""
    return _status(row).startswith(_DRAIN_VISIBLE)


def server_weight(row):
    """The user weight of a server row: ``uweight`` (HAProxy >= 2.3), else ``weight``.

    ``weight`` is the effective weight, which slowstart lowers for a while.
    """
    for field in ("uweight", "weight"):
        value = row.get(field)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    raise ValueError(
        "server %s/%s has no numeric weight in show stat" % (row.get("pxname"), row.get("svname"))
    )


def current_servers(rows, backend, admin_states=None):
    """``{name: {"weight", "admin"}}`` for every server of ``backend``.

    ``admin_states`` (``{name: admin}``, from :func:`parse_servers_state`) gives the
    administrative state as HAProxy holds it; without it the state is read from the
    status column, which hides the drain flag of a server that is DOWN or NOLB.
    Raises ValueError naming the option ``backend`` when show stat lists no such
    backend, and naming a server ``admin_states`` lacks.
    """
    if not any(row.get("pxname") == backend for row in rows):
        raise ValueError(
            "backend: no proxy named %r in show stat (backends: %s)"
            % (backend, ", ".join(backend_names(rows)) or "none")
        )
    servers = {}
    for row in server_rows(rows, backend):
        name = row["svname"]
        servers[name] = {"weight": server_weight(row), "admin": _admin_of(row, admin_states)}
    return servers


def _admin_of(row, admin_states):
    if admin_states is None:
        return current_admin_state(row)
    if row["svname"] not in admin_states:
        raise ValueError(
            "server %s/%s is in show stat but not in show servers state (servers: %s)"
            % (row.get("pxname"), row["svname"], ", ".join(sorted(admin_states)) or "none")
        )
    return admin_states[row["svname"]]


def admin_from_flags(flags):
    """``maint``, ``drain`` or ``ready`` from a ``srv_admin_state`` bit field."""
    if flags & _ADMIN_MAINT_BITS:
        return "maint"
    if flags & _ADMIN_DRAIN_BITS:
        return "drain"
    return "ready"


def parse_servers_state(text, backend):
    """``{server: admin}`` of ``backend`` from a reply to ``show servers state``.

    The reply is a version line, a ``# be_id be_name srv_id srv_name ...`` header and
    one space-separated line per server. Unlike show stat's status column, the
    ``srv_admin_state`` field carries the drain flag whatever the health checks say.
    Raises ValueError quoting the start of anything else (an error reply).
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = [line for line in str(text).splitlines() if line.strip()]
    if len(lines) < 2 or not lines[0].strip().isdigit() or not lines[1].startswith("# "):
        raise ValueError(
            "show servers state did not answer with a version line and a '# be_id ...' header; "
            "HAProxy said: %r" % str(text)[:200]
        )
    header = lines[1][2:].split()
    missing = [name for name in _STATE_COLUMNS if name not in header]
    if missing:
        raise ValueError("show servers state has no %s column (header: %s)" % (", ".join(missing), lines[1][:200]))
    be_name, srv_name, admin = (header.index(name) for name in _STATE_COLUMNS)
    states = {}
    for number, line in enumerate(lines[2:], start=3):
        if line.startswith("#"):
            continue
        fields = line.split()
        if len(fields) <= max(be_name, srv_name, admin) or not _INT_RE.match(fields[admin]):
            raise ValueError("show servers state line %d is not a server line: %r" % (number, line[:200]))
        if fields[be_name] == backend:
            states[fields[srv_name]] = admin_from_flags(int(fields[admin]))
    return states


def sessions(rows, backend, names):
    """Current sessions (``scur``) of the named servers of ``backend``."""
    wanted = set(names)
    return dict(
        (row["svname"], row.get("scur") or 0)
        for row in server_rows(rows, backend)
        if row["svname"] in wanted
    )


# --- planning --------------------------------------------------------------------


def is_serving(state):
    """A server takes new traffic when it is ready with a weight above 0."""
    return state.get("admin") == "ready" and (state.get("weight") or 0) > 0


def _check_name(option, value):
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValueError(
            "%s: %r is not a valid HAProxy name (letters, digits, '-', '_', '.', ':')"
            % (option, value)
        )
    return value


def _check_weight(path, value):
    if isinstance(value, str) and _INT_RE.match(value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            "%s: expected an integer %d..%d, got %r (%s)"
            % (path, MIN_WEIGHT, MAX_WEIGHT, value, type(value).__name__)
        )
    if not MIN_WEIGHT <= value <= MAX_WEIGHT:
        raise ValueError(
            "%s: %d is out of range; HAProxy weights are %d..%d"
            % (path, value, MIN_WEIGHT, MAX_WEIGHT)
        )
    return value


def _check_admin(path, value):
    if value not in ADMIN_STATES:
        raise ValueError("%s: %r is not one of %s" % (path, value, ", ".join(ADMIN_STATES)))
    return value


def _desired_entry(name, spec, backend, current, option):
    path = "%s.%s" % (option, name)
    if not isinstance(name, str) or name not in current:
        raise ValueError(
            "%s: no such server in backend %s (servers: %s)"
            % (path, backend, ", ".join(sorted(current)) or "none")
        )
    if not isinstance(spec, Mapping):
        raise ValueError(
            "%s: expected a mapping with weight and/or state, got %r (%s)"
            % (path, spec, type(spec).__name__)
        )
    for key in spec:
        if key not in _DESIRED_KEYS:
            raise ValueError("%s.%s: unknown key; expected weight and/or state" % (path, key))
    entry = {}
    if spec.get("weight") is not None:
        entry["weight"] = _check_weight(path + ".weight", spec["weight"])
    for key in ("state", "admin"):
        if spec.get(key) is not None:
            admin = _check_admin("%s.%s" % (path, key), spec[key])
            if entry.get("admin", admin) != admin:
                raise ValueError(
                    "%s: state %r and admin %r disagree" % (path, spec["state"], spec["admin"])
                )
            entry["admin"] = admin
    if not entry:
        raise ValueError("%s: give weight and/or state" % path)
    return entry


def plan_server_changes(current, desired, backend, option="servers"):
    """Runtime API commands that turn ``current`` into ``desired``, safely ordered.

    ``current``: ``{name: {"weight": int, "admin": "ready"|"drain"|"maint"}}`` for
    every server of the backend. ``desired``: the same shape, partial (either key
    may be left out, ``state`` is accepted for ``admin``) and naming only some
    servers. Returns ``(commands, {"before": ..., "after": ...})`` where before and
    after cover every server of the backend.

    The order never leaves the backend without a serving server when the desired
    state has one: first servers that serve afterwards get their weight and are
    made ready, then weights of servers that keep serving are lowered, last the
    servers that stop serving are drained, put in maintenance or weighted to 0
    (state before weight, or weight 0 before ready, so that they never take traffic
    on the way). Within a step servers go in name order.

    Raises ValueError naming ``<option>.<server>[.weight|.state]`` and the value.
    """
    _check_name("backend", backend)
    if not isinstance(desired, Mapping):
        raise ValueError(
            "%s: expected a mapping of server name to weight/state, got %s"
            % (option, type(desired).__name__)
        )
    if not desired:
        raise ValueError("%s: name at least one server of backend %s" % (option, backend))
    before = dict((name, dict(state)) for name, state in current.items())
    after = dict((name, dict(state)) for name, state in current.items())
    for name in sorted(desired, key=str):
        entry = _desired_entry(name, desired[name], backend, current, option)
        after[name].update(entry)

    def command(name, key):
        value = after[name][key]
        if key == "weight":
            return "set server %s/%s weight %d" % (backend, name, value)
        return "set server %s/%s state %s" % (backend, name, value)

    raising, lowering, retiring = [], [], []
    for name in sorted(after):
        old, new = before[name], after[name]
        weight = command(name, "weight") if old.get("weight") != new["weight"] else None
        admin = command(name, "admin") if old.get("admin") != new["admin"] else None
        if is_serving(new):
            if weight and is_serving(old) and new["weight"] < old["weight"]:
                lowering.append(weight)
            elif weight:
                raising.append(weight)
            if admin:
                raising.append(admin)
        elif new["admin"] == "ready":
            retiring.extend(c for c in (weight, admin) if c)
        else:
            retiring.extend(c for c in (admin, weight) if c)
    return raising + lowering + retiring, {"before": before, "after": after}


def verify_applied(expected, rows, backend, admin_states=None):
    """Differences between the planned ``expected`` states and what HAProxy says.

    Returns a list of human-readable mismatches (empty when all is as planned).
    ``admin_states`` is as for :func:`current_servers`; without it the drain flag is
    only compared where show stat can show it (see :func:`admin_state_visible`).
    """
    actual = dict((row["svname"], row) for row in server_rows(rows, backend))
    problems = []
    for name in sorted(expected):
        want = expected[name]
        row = actual.get(name)
        if row is None:
            problems.append("%s/%s is no longer in show stat" % (backend, name))
            continue
        weight = server_weight(row)
        if weight != want["weight"]:
            problems.append("%s/%s has weight %s, expected %s" % (backend, name, weight, want["weight"]))
        admin = _admin_of(row, admin_states)
        hidden = (admin_states is None and admin == "ready" and want["admin"] == "drain"
                  and not admin_state_visible(row))
        if admin != want["admin"] and not hidden:
            problems.append(
                "%s/%s is %s (status %r), expected %s"
                % (backend, name, admin, row.get("status"), want["admin"])
            )
    return problems


def option_view(states):
    """States as the module's ``servers`` option spells them: weight and state."""
    return dict(
        (name, {"weight": state["weight"], "state": state["admin"]})
        for name, state in sorted(states.items())
    )


def drained_candidates(after, names):
    """Servers among ``names`` that take no new traffic in the ``after`` states."""
    return sorted(name for name in names if not is_serving(after[name]))


# --- runtime API client ----------------------------------------------------------

_ERROR_REPLIES = (
    "No such ", "Unknown command", "Permission denied", "Require ", "Missing ",
    "Invalid ", "Can't ", "Cannot ", "'set server", "Absolute weight", "Relative weight",
    "Trailing garbage", "Empty weight", "Backend is using a static LB algorithm",
)
_SEVERITY_PREFIX = re.compile(r"\[\d\]: ")


class RuntimeApi(object):
    """A minimal client for HAProxy's runtime API over a unix socket.

    One connection per command, in non-interactive mode: send ``cmd\\n`` and read
    the reply until HAProxy closes the connection.
    """

    def __init__(self, socket_path=DEFAULT_SOCKET, timeout=10.0):
        self.socket_path = socket_path
        self.timeout = timeout

    def _connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError as exc:
            sock.close()
            error = NotRunning if exc.errno in (errno.ENOENT, errno.ECONNREFUSED) else RuntimeApiError
            raise error(self._connect_error(exc)) from exc
        return sock

    def _connect_error(self, exc):
        path = self.socket_path
        if exc.errno == errno.ENOENT:
            return (
                "HAProxy runtime API socket %s does not exist; is HAProxy running with "
                "'stats socket %s level admin'?" % (path, path)
            )
        if exc.errno == errno.ECONNREFUSED:
            return (
                "HAProxy runtime API socket %s refused the connection; HAProxy is not "
                "running or the socket file is stale" % path
            )
        if exc.errno in (errno.EACCES, errno.EPERM):
            return (
                "permission denied on HAProxy runtime API socket %s; run the task with "
                "become or as a member of the socket's group" % path
            )
        if isinstance(exc, socket.timeout):
            return "HAProxy runtime API socket %s did not accept within %ss" % (path, self.timeout)
        return "cannot connect to HAProxy runtime API socket %s: %s" % (path, exc)

    def command(self, cmd, expect_empty=False):
        """Send one command and return HAProxy's reply.

        Raises RuntimeApiError when the socket cannot be used, when the reply is an
        error message (``No such server.``, ``Permission denied``, ...), or, with
        ``expect_empty``, when the reply is not empty (``set server`` answers
        nothing on success).
        """
        if not isinstance(cmd, str) or not cmd.strip() or any(c in cmd for c in ";\r\n"):
            raise ValueError("a runtime API command is one line without ';', got %r" % (cmd,))
        sock = self._connect()
        chunks = []
        try:
            sock.sendall(cmd.encode("utf-8") + b"\n")
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
        except socket.timeout as exc:
            raise RuntimeApiError(
                "no complete reply from HAProxy runtime API socket %s within %ss to %r"
                % (self.socket_path, self.timeout, cmd)
            ) from exc
        except OSError as exc:
            raise RuntimeApiError(
                "HAProxy runtime API socket %s failed during %r: %s" % (self.socket_path, cmd, exc)
            ) from exc
        finally:
            sock.close()
        reply = b"".join(chunks).decode("utf-8", "replace")
        message = _SEVERITY_PREFIX.sub("", reply.strip(), count=1)
        if message.startswith(_ERROR_REPLIES) or (expect_empty and message):
            hint = " (the stats socket needs 'level admin')" if "Permission denied" in message else ""
            raise RuntimeApiError("HAProxy refused %r: %s%s" % (cmd, message, hint))
        return reply

    def servers_admin(self, backend):
        """``{server: admin}`` of ``backend`` from ``show servers state``."""
        reply = self.command("show servers state %s" % _check_name("backend", backend))
        try:
            return parse_servers_state(reply, backend)
        except ValueError as exc:
            raise RuntimeApiError(
                "unexpected reply to 'show servers state %s' on %s: %s" % (backend, self.socket_path, exc)
            ) from exc

    def show_stat(self):
        """``show stat`` parsed with :func:`parse_show_stat`."""
        reply = self.command("show stat")
        try:
            return parse_show_stat(reply)
        except ValueError as exc:
            raise RuntimeApiError(
                "unexpected reply to 'show stat' on %s: %s" % (self.socket_path, exc)
            ) from exc


def wait_until_drained(api, backend, names, timeout, *, interval=0.5, clock=None, sleep=None):
    """Poll show stat until the named servers have no current sessions.

    Returns the last ``{name: sessions}`` (all 0). Raises DrainTimeout, carrying the
    last counts, when ``timeout`` seconds pass first. ``clock`` and ``sleep`` default
    to time.monotonic and time.sleep.
    """
    clock = clock or time.monotonic
    sleep = sleep or time.sleep
    deadline = clock() + timeout
    while True:
        counts = sessions(api.show_stat(), backend, names)
        busy = dict((name, count) for name, count in counts.items() if count)
        if not busy:
            return counts
        if clock() >= deadline:
            raise DrainTimeout(
                "servers still have current sessions after drain_timeout=%ss: %s"
                % (timeout, ", ".join("%s/%s=%d" % (backend, n, c) for n, c in sorted(busy.items()))),
                counts,
            )
        sleep(max(0.0, min(interval, deadline - clock())))
