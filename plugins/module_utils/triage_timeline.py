# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Time in a triage: the ``since`` window, timestamps of log lines, and the cross-host timeline.

An event is a dict ``{"ts": epoch seconds, "host", "source", "text"}``. Each host turns
its journal lines, log lines, ledger records and backups into events
(:func:`log_events`, :func:`ledger_events`, :func:`backup_events`); the controller
sorts all hosts' events into one timeline (:func:`merge`). Sorting is stable on
``(ts, host, source)`` and keeps each source's own order for equal times.

Log lines carry their time in one of three shapes: ISO 8601 at the start
(``2026-12-06T05:00:00.123Z``, ``2026-12-06 05:00:00,123``; without a zone it is
UTC), syslog (``Dec  6 05:00:00``, the year taken from the reference time) or
common log format anywhere in the line (``[06/Dec/2026:05:00:00 +0000]``). A line
without a time (a traceback's continuation) takes the time of the line before it.

Pure functions; time comes in as an argument. Python 3.8+, standard library only.
"""

from __future__ import annotations

import calendar
import datetime
import re

from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError

_MONTHS = dict((name, number) for number, name in enumerate(
    ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1))
_ISO_RE = re.compile(
    r"\s*\[?(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s?(Z|[+-]\d{2}:?\d{2})?")
_SYSLOG_RE = re.compile(r"([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2})\b")
_CLF_RE = re.compile(r"\[(\d{2})/([A-Z][a-z]{2})/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-]\d{4})\]")
_DURATION_RE = re.compile(r"(\d+)\s*(s|m|h|d)\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Clock skew between controller and hosts that a "since" a little ahead is forgiven for.
FUTURE_GRACE = 60


def iso(epoch):
    """``epoch`` as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` (UTC)."""
    moment = datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _offset(zone):
    if not zone or zone == "Z":
        return 0
    sign = -1 if zone[0] == "-" else 1
    digits = zone[1:].replace(":", "")
    return sign * (int(digits[:2]) * 3600 + int(digits[2:4]) * 60)


def _epoch(fields, fraction="", zone=""):
    year, month, day, hour, minute, second = fields
    try:
        seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
        datetime.datetime(year, month, day, hour, minute, second)  # refuses 2026-02-31
    except (ValueError, OverflowError):
        return None
    fraction_seconds = float("0." + fraction) if fraction else 0.0
    return seconds + fraction_seconds - _offset(zone)


def parse_since(value, now, option="since"):
    """Epoch seconds of a ``since`` option: ISO 8601 time or a duration back from ``now``.

    Durations: ``90s``, ``30m``, ``2h``, ``1d``. Raises ResultError naming the option
    and value when it is neither, or when it lies in the future.
    """
    if isinstance(value, bool) or value is None:
        raise ResultError("%s: %r is not a time; give an ISO 8601 UTC time (2026-12-06T05:00:00Z) or a duration "
                          "back from now (30m, 2h, 1d)" % (option, value))
    text = str(value).strip()
    duration = _DURATION_RE.match(text)
    if duration:
        return now - int(duration.group(1)) * _UNITS[duration.group(2)]
    match = _ISO_RE.match(text)
    epoch = None
    if match and match.end() == len(text):
        epoch = _epoch([int(g) for g in match.groups()[:6]], fraction=match.group(7) or "", zone=match.group(8) or "")
    if epoch is None:
        raise ResultError("%s: %r is not a time; give an ISO 8601 UTC time (2026-12-06T05:00:00Z) or a duration "
                          "back from now (30m, 2h, 1d)" % (option, value))
    if epoch > now + FUTURE_GRACE:
        raise ResultError("%s: %s is in the future (now is %s); the window must start in the past"
                          % (option, text, iso(now)))
    return epoch


def line_time(line, now):
    """The time a log line carries (epoch seconds), or None."""
    match = _ISO_RE.match(line)
    if match:
        return _epoch([int(g) for g in match.groups()[:6]], fraction=match.group(7) or "", zone=match.group(8) or "")
    match = _SYSLOG_RE.match(line)
    if match and match.group(1) in _MONTHS:
        year = datetime.datetime.fromtimestamp(now, datetime.timezone.utc).year
        epoch = _epoch([year, _MONTHS[match.group(1)]] + [int(g) for g in match.groups()[1:]])
        if epoch is not None and epoch > now + 86400:  # December's lines read in January
            epoch = _epoch([year - 1, _MONTHS[match.group(1)]] + [int(g) for g in match.groups()[1:]])
        return epoch
    match = _CLF_RE.search(line)
    if match and match.group(2) in _MONTHS:
        return _epoch([int(match.group(3)), _MONTHS[match.group(2)], int(match.group(1))]
                      + [int(g) for g in match.groups()[3:6]], zone=match.group(7))
    return None


def window_lines(lines, since, now):
    """The lines from the first one at or after ``since`` on, and their times.

    Returns ``(kept_lines, times)``: a line without a time inherits the one before
    it; lines before the first timed line are kept only when no timed line precedes
    ``since`` (a file without times is kept whole, untimed).
    """
    kept, times = [], []
    current = None
    started = False
    for line in lines:
        stamp = line_time(line, now)
        if stamp is not None:
            current = stamp
        if not started:
            if current is not None and current < since:
                continue
            started = True
        kept.append(line)
        times.append(current)
    return kept, times


def log_events(lines, times, host, source):
    """Events for timed lines (untimed ones stay in the file only)."""
    return [dict(ts=stamp, host=host, source=source, text=line.rstrip("\n"))
            for line, stamp in zip(lines, times) if stamp is not None]


def ledger_events(records, host, since):
    """Deploy, gate and rollback events of the release ledger at or after ``since``."""
    events = []
    for record in records:
        stamp = line_time(str(record.get("ts", "")), 0)
        if stamp is None or stamp < since:
            continue
        text = "ledger %s release=%s run=%s" % (record.get("event"), record.get("release"), record.get("run_id"))
        gate = record.get("gate")
        if isinstance(gate, dict):
            details = record.get("details") if isinstance(record.get("details"), dict) else {}
            stage = details.get("stage")
            if isinstance(stage, dict):
                stage = stage.get("percent", stage.get("weight", stage.get("name")))
            text += " gate verdict=%s action=%s stage=%s" % (gate.get("verdict"), gate.get("action", "-"),
                                                             "-" if stage is None else stage)
            if gate.get("summary"):
                text += " (%s)" % gate["summary"]
        if record.get("from_release"):
            text += " from=%s" % record["from_release"]
        if record.get("message"):
            text += ": %s" % record["message"]
        events.append(dict(ts=stamp, host=host, source="ledger", text=text))
    return events


def backup_events(archives, host, since):
    """A backup's creation and last verification, when they fall at or after ``since``."""
    events = []
    for archive in archives:
        created = archive.get("created_epoch")
        if isinstance(created, (int, float)) and created >= since:
            events.append(dict(ts=float(created), host=host, source="backup", text="backup %s kind=%s release=%s" % (
                archive.get("name"), archive.get("kind"), archive.get("release"))))
        verified = archive.get("verified_epoch")
        if isinstance(verified, (int, float)) and verified >= since:
            events.append(dict(ts=float(verified), host=host, source="backup", text="backup %s verified ok=%s" % (
                archive.get("name"), archive.get("last_verification_ok"))))
    return events


def merge(*event_lists):
    """All events in one list sorted by time, then host and source (stable otherwise)."""
    events = [event for events in event_lists for event in events]
    events.sort(key=lambda e: (e["ts"], e["host"], e["source"]))
    return events


def render(events):
    """The timeline as text: one ``time host source text`` line per event."""
    return "".join("%s %s %s %s\n" % (iso(e["ts"]), e["host"], e["source"], e["text"]) for e in events)
