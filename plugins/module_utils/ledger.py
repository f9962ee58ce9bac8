# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The release ledger: an append-only JSON-lines history of deploys and rollbacks.

One line per event, written by :func:`append_record`::

    {"ts": "2024-05-01T12:00:00.000Z", "run_id": "20240501T1200-ab12", "event": "promoted",
     "release": "2.0.0", "checksum": "...", "operator": "alice", "change_id": "CHG-1",
     "slot": "green", "message": "all stages passed"}

Keys: ``ts`` (set when written, UTC), ``run_id``, ``event`` and ``release`` (required),
``from_release`` (required for ``rollback``), ``gate`` (required for ``gate``: the
verdict, measurements and thresholds), and the optional ``checksum``, ``operator``,
``change_id``, ``slot``, ``message`` and ``details`` (a mapping of anything else).

Events:

``started``
    a run begins to deploy ``release``.
``gate``
    a gate decision during that deploy.
``promoted``
    ``release`` took all traffic and passed validation: it is good.
``rolled_back``
    the deploy of ``release`` was undone (traffic went back to the old slot).
``failed``
    the run for ``release`` failed (e.g. the new slot did not start).
``rollback``
    a rollback run moved traffic from ``from_release`` to ``release`` and the
    release answered its health checks afterwards. Written only on success; a
    rollback that fails writes ``failed`` for the release it could not bring up.

Good releases (:func:`good_releases`), replayed in file order:

- ``promoted`` R: R becomes the newest good release (moved to the front if it
  was good already);
- ``rolled_back`` R and ``failed`` R: R is no longer good;
- ``rollback`` to R from F: F is no longer good, and R becomes the newest good
  release;
- ``started`` and ``gate`` change nothing, and neither does ``interrupted``: it closes
  a run whose controller died before an outcome (found by the next run that holds the
  lock), and a rollout that never finished proved nothing about its release.

The newest good release is the *last good* release (:func:`last_good_release`); what a
rollback to "previous" targets is the newest good release other than the one running
(:func:`previous_good_release`). Because a rollback demotes the release it leaves,
consecutive rollbacks walk back through the promoted history (v3 -> v2 -> v1) instead
of bouncing between the last two releases; directory mtimes are never consulted.

Appends are atomic per line: the file is opened with ``O_APPEND`` and each record is
one ``write()`` of a complete line ending in ``\\n``, then fsynced. Readers
(:func:`read_records`) count a final line without ``\\n`` as torn and ignore it, and
skip lines that are not valid records, counting them; they never raise on content.
When an append finds the file ending in a torn line, it starts its own line with
``\\n`` so that its record stays whole (the torn rest becomes one bad line).

Everything except :func:`append_record` and :func:`read_ledger` is a pure function of
its arguments; time comes in as an argument. No AnsibleModule inside. This file runs
on managed hosts, so it stays compatible with Python 3.8 and uses the standard library
only.
"""

from __future__ import annotations

import datetime
import errno
import json
import os
import re
from collections.abc import Mapping

from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError, fsync_dir

DEFAULT_PATH = "/var/lib/fleetops/ledger.jsonl"
EVENTS = ("started", "gate", "promoted", "rolled_back", "failed", "interrupted", "rollback")
TERMINAL_EVENTS = ("promoted", "rolled_back", "failed", "interrupted", "rollback")
REQUIRED_KEYS = ("run_id", "event", "release")
OPTIONAL_TEXT_KEYS = ("from_release", "checksum", "operator", "change_id", "slot", "message")
MAPPING_KEYS = ("gate", "details")
RECORD_KEYS = ("run_id", "event", "release", "from_release", "checksum", "operator",
               "change_id", "slot", "gate", "message", "details")
STORED_KEYS = ("ts",) + RECORD_KEYS
MAX_LINE_BYTES = 1024 * 1024

_TOKEN_RE = re.compile(r"[^\s]+\Z")


class LedgerError(ResultError):
    """A refusal or failure to report with fail_json: a message plus result keys."""


def iso_timestamp(now):
    """``now`` (epoch seconds) as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` in UTC."""
    moment = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --- records ---------------------------------------------------------------------


def _name(option, key):
    return "%s.%s" % (option, key) if option else key


def _kind(value):
    return type(value).__name__


def _token(data, key, option):
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or not _TOKEN_RE.match(value):
        raise LedgerError(
            "%s: expected a non-empty string without spaces, got %r (%s)"
            % (_name(option, key), value, _kind(value))
        )
    return value


def _text(data, key, option):
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise LedgerError("%s: expected a string, got %r (%s)" % (_name(option, key), value, _kind(value)))
    return value


def _mapping(data, key, option, what):
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise LedgerError(
            "%s: expected a mapping of %s, got %r (%s)" % (_name(option, key), what, value, _kind(value))
        )
    return dict(value)


def check_record(data, option="record", stored=False):
    """Validate one record; return it with its keys in :data:`STORED_KEYS` order.

    ``stored=False`` (a record to append): ``ts`` must be left out, unknown keys are
    refused. ``stored=True`` (a line read back): ``ts`` is required and unknown keys
    are kept after the known ones. Optional keys that are None or ``""`` are dropped.
    Raises LedgerError naming ``<option>.<key>`` and the value.
    """
    if not isinstance(data, Mapping):
        prefix = option + ": " if option else ""
        raise LedgerError("%sexpected a mapping, got %r (%s)" % (prefix, data, _kind(data)))
    known = STORED_KEYS if stored else RECORD_KEYS
    extra = [key for key in data if key not in known]
    if not stored:
        if "ts" in data:
            raise LedgerError("%s: set when the record is written; leave it out" % _name(option, "ts"))
        if extra:
            raise LedgerError(
                "%s: unknown key; a ledger record takes %s"
                % (_name(option, sorted(extra, key=str)[0]), ", ".join(RECORD_KEYS))
            )
    for key in REQUIRED_KEYS:
        if data.get(key) is None or data.get(key) == "":
            raise LedgerError(
                "%s is required (a ledger record needs %s)" % (_name(option, key), ", ".join(REQUIRED_KEYS))
            )
    out = {}
    if stored:
        ts = data.get("ts")
        if not isinstance(ts, str) or not ts:
            raise LedgerError("%s: expected the time the record was written, got %r" % (_name(option, "ts"), ts))
        out["ts"] = ts
    out["run_id"] = _token(data, "run_id", option)
    event = data.get("event")
    if event not in EVENTS:
        raise LedgerError("%s: %r is not one of %s" % (_name(option, "event"), event, ", ".join(EVENTS)))
    out["event"] = event
    out["release"] = _token(data, "release", option)
    from_release = _token(data, "from_release", option)
    if event == "rollback":
        if from_release is None:
            raise LedgerError(
                "%s is required when %s is rollback (the release traffic moved away from)"
                % (_name(option, "from_release"), _name(option, "event"))
            )
        if from_release == out["release"]:
            raise LedgerError(
                "%s: %r is the same as %s; a rollback moves to another release"
                % (_name(option, "from_release"), from_release, _name(option, "release"))
            )
    values = dict(from_release=from_release)
    for key in OPTIONAL_TEXT_KEYS[1:]:
        values[key] = _text(data, key, option)
    values["gate"] = _mapping(data, "gate", option, "the gate's verdict, measurements and thresholds")
    values["details"] = _mapping(data, "details", option, "extra facts")
    if event == "gate" and not values["gate"]:
        raise LedgerError(
            "%s is required when %s is gate (the gate's verdict, measurements and thresholds)"
            % (_name(option, "gate"), _name(option, "event"))
        )
    for key in RECORD_KEYS:
        if key in values and values[key] is not None:
            out[key] = values[key]
    for key in extra:
        out[key] = data[key]
    return out


def build_record(record, now, option="record"):
    """The record as it will be stored: validated, with ``ts`` from ``now``."""
    checked = check_record(record, option=option, stored=False)
    stored = dict(ts=iso_timestamp(now))
    stored.update(checked)
    return stored


def format_line(record, option="record"):
    """One JSON line (ASCII, ending in ``\\n``) for a record from :func:`build_record`.

    Raises LedgerError naming the key whose value JSON cannot hold (NaN, Infinity,
    objects) and when the line would exceed :data:`MAX_LINE_BYTES`.
    """
    for key, value in record.items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise LedgerError("%s: cannot be stored as JSON: %s" % (_name(option, key), exc)) from exc
    line = json.dumps(record, separators=(",", ":"), allow_nan=False) + "\n"
    if len(line) > MAX_LINE_BYTES:
        raise LedgerError(
            "%s: %d bytes as a JSON line; a ledger record may be at most %d bytes"
            % (option, len(line), MAX_LINE_BYTES)
        )
    return line


def read_records(text):
    """Parse ledger text; never raises on content.

    Returns ``{"records": [...], "torn_lines": 0|1, "bad_lines": [{"line", "error"}]}``.
    Only lines ending in ``\\n`` are records: a final line without it is torn (an append
    cut short) and counted in ``torn_lines``. Blank lines are skipped; other lines that
    are not JSON objects or not valid records (:func:`check_record` with
    ``stored=True``) are listed in ``bad_lines`` with their 1-based number and why.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    lines = text.split("\n")
    tail = lines.pop()
    records, bad = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError as exc:
            bad.append(dict(line=number, error="not JSON: %s" % exc))
            continue
        try:
            records.append(check_record(data, option="", stored=True))
        except LedgerError as exc:
            bad.append(dict(line=number, error=exc.msg))
    return dict(records=records, torn_lines=1 if tail else 0, bad_lines=bad)


# --- what the history says -------------------------------------------------------


def good_releases(records):
    """Good releases, newest first, replaying the rules in the module docstring."""
    good = []
    for record in records:
        event, release = record.get("event"), record.get("release")
        if event == "promoted":
            if release in good:
                good.remove(release)
            good.append(release)
        elif event in ("rolled_back", "failed"):
            if release in good:
                good.remove(release)
        elif event == "rollback":
            for name in (record.get("from_release"), release):
                if name in good:
                    good.remove(name)
            good.append(release)
    good.reverse()
    return good


def last_good_release(records):
    """The newest good release (:func:`good_releases`), None when there is none.

    Without rollbacks this is the release of the newest ``promoted`` record that no
    later ``rolled_back`` or ``failed`` record of the same release follows.
    """
    good = good_releases(records)
    return good[0] if good else None


def previous_good_release(records, current):
    """What a rollback to "previous" targets when ``current`` runs.

    The newest good release other than ``current``, None when there is none. When
    ``current`` is not good (a deploy in progress or rolled back), that is the last
    good release.
    """
    for release in good_releases(records):
        if release != current:
            return release
    return None


def release_history(records):
    """Releases that were ever promoted, each once, newest promotion first."""
    history = []
    for record in reversed(records):
        if record.get("event") == "promoted" and record.get("release") not in history:
            history.append(record.get("release"))
    return history


def summarize_run(records, run_id):
    """What one run did, from its records; None when the ledger has none of it.

    Returns ``run_id``, ``release`` (of its first record), ``from_release``,
    ``checksum``, ``operator`` and ``change_id`` (the first given), ``started`` (ts of
    the first record), ``finished`` (ts of the last terminal record, else None),
    ``outcome`` (event of the last terminal record - promoted, rolled_back, failed,
    rollback - else ``in_progress``), ``events`` (in order), ``gates`` (ts, slot, stage
    (from its details) and gate of every gate record), ``message`` (of the last record that has one) and
    ``records`` (how many).
    """
    run = [record for record in records if record.get("run_id") == run_id]
    if not run:
        return None
    terminal = [record for record in run if record.get("event") in TERMINAL_EVENTS]
    summary = dict(run_id=run_id, release=run[0].get("release"))
    for key in ("from_release", "checksum", "operator", "change_id"):
        summary[key] = next((record[key] for record in run if record.get(key)), None)
    summary.update(
        started=run[0].get("ts"),
        finished=terminal[-1].get("ts") if terminal else None,
        outcome=terminal[-1]["event"] if terminal else "in_progress",
        events=[record["event"] for record in run],
        gates=[
            dict(ts=record.get("ts"), slot=record.get("slot"), stage=(record.get("details") or {}).get("stage"),
                 gate=record.get("gate"))
            for record in run if record.get("event") == "gate"
        ],
        message=next((record["message"] for record in reversed(run) if record.get("message")), None),
        records=len(run),
    )
    return summary


def unfinished_runs(records):
    """Runs that started but recorded no outcome: a controller killed mid-run.

    Oldest first, each as ``{"run_id", "release", "slot", "operator", "started"}`` from
    the run's first record. ``rollback`` runs record a single terminal record, so
    only deploy runs (a ``started`` record) can be unfinished.
    """
    finished = {record.get("run_id") for record in records if record.get("event") in TERMINAL_EVENTS}
    unfinished = []
    for record in records:
        run_id = record.get("run_id")
        if record.get("event") == "started" and run_id not in finished:
            if all(run["run_id"] != run_id for run in unfinished):
                unfinished.append(dict(run_id=run_id, release=record.get("release"), slot=record.get("slot"),
                                       operator=record.get("operator"), started=record.get("ts")))
    return unfinished


def ledger_view(parsed, current=None, limit=None, run_id=None):
    """The module's ``read`` result from :func:`read_records` output.

    ``current`` defaults to the last good release; ``limit`` keeps the newest N
    records in ``records`` (the other keys always use the whole ledger).
    """
    records = parsed["records"]
    last_good = last_good_release(records)
    base = current if current else last_good
    view = dict(
        records=records[-limit:] if limit else list(records),
        count=len(records),
        last_good=last_good,
        previous_good=previous_good_release(records, base) if base else None,
        good=good_releases(records),
        history=release_history(records),
        unfinished=unfinished_runs(records),
        torn_lines=parsed["torn_lines"],
        bad_lines=parsed["bad_lines"],
    )
    if run_id is not None:
        view["run"] = summarize_run(records, run_id)
    return view


# --- the file --------------------------------------------------------------------


def check_path(path, option="path"):
    if not isinstance(path, str) or not os.path.isabs(path):
        raise LedgerError("%s: %r must be an absolute path" % (option, path))
    if path.endswith("/"):
        raise LedgerError("%s: %r names a directory; give the ledger file's path" % (option, path))
    return path


def _os_error(action, path, exc):
    if exc.errno == errno.EISDIR:
        return LedgerError("path: %s is a directory; give the ledger file's path" % path)
    if exc.errno == errno.ENOTDIR:
        return LedgerError("path: %s: a parent of the ledger is not a directory" % path)
    return LedgerError("path: cannot %s ledger %s: %s" % (action, path, exc.strerror or exc))


def read_ledger(path):
    """The ledger's text, or None when the file does not exist."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            return None
        raise _os_error("read", path, exc) from exc
    return data.decode("utf-8", "replace")


def append_record(path, record, now, check_mode=False):
    """Validate ``record``, stamp it with ``now`` and append it as one line.

    Returns ``{"record" (as stored), "line", "created" (the file is new),
    "terminated_torn_line" (a torn last line was ended first)}``; in check mode,
    what would be written, and nothing is. The file (mode 0644) and missing parent
    directories (0755) are created. The line goes out in one ``write()`` on an
    ``O_APPEND`` descriptor, followed by fsync (and a directory fsync when the file
    is new). Raises LedgerError for a bad record or when the file cannot be written.
    """
    check_path(path)
    stored = build_record(record, now)
    line = format_line(stored)
    exists = os.path.lexists(path)
    if exists and os.path.isdir(path):
        raise LedgerError("path: %s is a directory; give the ledger file's path" % path)
    result = dict(record=stored, line=line, created=not exists, terminated_torn_line=False)
    if check_mode:
        text = read_ledger(path) if exists else None
        result["terminated_torn_line"] = bool(text) and not text.endswith("\n")
        return result
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o755, exist_ok=True)
    except OSError as exc:
        if exc.errno == errno.EEXIST:  # something that is not a directory is in the way
            exc = OSError(errno.ENOTDIR, os.strerror(errno.ENOTDIR))
        raise _os_error("append to", path, exc) from exc
    try:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
    except OSError as exc:
        raise _os_error("append to", path, exc) from exc
    try:
        data = line.encode("ascii")
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            data = b"\n" + data
            result["terminated_torn_line"] = True
        written = os.write(fd, data)
        if written != len(data):
            raise OSError(errno.EIO, "short write (%d of %d bytes); the line is torn" % (written, len(data)))
        os.fsync(fd)
    except OSError as exc:
        raise _os_error("append to", path, exc) from exc
    finally:
        os.close(fd)
    if not exists:
        fsync_dir(directory)
    return result


def close_unfinished(path, closer, operator, now, check_mode=False):
    """Append an ``interrupted`` record for every run of the ledger at ``path`` that started
    and recorded no outcome (a controller killed mid-run), naming ``closer``.

    Meant to run under the deploy lock, so no run that could still finish is closed.
    Returns the runs closed, oldest first, as :func:`unfinished_runs` lists them, each
    with ``run``: :func:`summarize_run` of it, its ``interrupted`` record included (what a
    read of the ledger would give after the closing, so a report of the closed run needs
    no second read); and the lines appended (in check mode: that would be).
    """
    if not isinstance(closer, str) or not closer.strip():
        raise LedgerError("close_unfinished_by: %r must name the run that closes them" % (closer,))
    text = read_ledger(path)
    records = read_records(text or "")["records"]
    closed = unfinished_runs(records)
    lines = []
    for run in closed:
        record = dict(run_id=run["run_id"], event="interrupted", release=run["release"], slot=run["slot"] or "",
                      operator=operator or "",
                      message="run %s started %s and recorded no outcome; closed by %s"
                              % (run["run_id"], run["started"], closer))
        appended = append_record(path, record, now, check_mode=check_mode)
        lines.append(appended["line"])
        records.append(appended["record"])
    for run in closed:
        run["run"] = summarize_run(records, run["run_id"])
    return closed, lines
