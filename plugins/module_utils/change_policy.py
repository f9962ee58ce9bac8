# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Change policy: may this run change this inventory now? Pure functions.

- ``standard`` changes (routine, pre-approved: backups, maintenance) run any time, but
  only from a playbook that declares itself a standard change.
- ``normal`` changes to an inventory marked production need a change id, and must run
  inside the maintenance window unless the operator overrides it explicitly (the
  override is returned, so the audit trail records it).
- ``emergency`` changes are always allowed and marked as such.

The maintenance window is a string ``"<which> <weekday> HH:MM-HH:MM"`` in UTC, where
``which`` is first, second, third, fourth, last or every; e.g. the default
``"first sun 02:00-04:00"``. It ends on the same day (end after start).
"""

from __future__ import annotations

import datetime
import re

CHANGE_TYPES = ("standard", "normal", "emergency")
DEFAULT_WINDOW = "first sun 02:00-04:00"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ORDINALS = ("first", "second", "third", "fourth", "last", "every")
_WINDOW = re.compile(r"^\s*(\w+)\s+(\w+)\s+(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*$")
# A change id is a ticket reference, not free text: bounded, no spaces or quotes.
_CHANGE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/#-]{0,63}$")


class PolicyError(ValueError):
    """Bad input, with a message naming the option and the value."""


def parse_window(text, option="change_policy_window"):
    """{'which', 'weekday' (0 = Monday), 'start', 'end' (minutes after midnight), 'spec'}."""
    if not isinstance(text, str):
        raise PolicyError("%s=%r: must be a string like %r" % (option, text, DEFAULT_WINDOW))
    match = _WINDOW.match(text)
    hint = "must look like %r (<first|second|third|fourth|last|every> <mon..sun> HH:MM-HH:MM, UTC)" % DEFAULT_WINDOW
    if not match:
        raise PolicyError("%s=%r: %s" % (option, text, hint))
    which, day, sh, sm, eh, em = match.groups()
    which, day = which.lower(), day.lower()[:3]
    if which not in ORDINALS:
        raise PolicyError("%s=%r: %r is not one of %s" % (option, text, which, ", ".join(ORDINALS)))
    if day not in WEEKDAYS:
        raise PolicyError("%s=%r: %r is not a weekday (%s)" % (option, text, match.group(2), ", ".join(WEEKDAYS)))
    start, end = int(sh) * 60 + int(sm), int(eh) * 60 + int(em)
    for hours, minutes in ((int(sh), int(sm)), (int(eh), int(em))):
        if hours > 24 or minutes > 59 or (hours == 24 and minutes):
            raise PolicyError("%s=%r: %02d:%02d is not a time of day" % (option, text, hours, minutes))
    if end <= start:
        raise PolicyError("%s=%r: the window must end after it starts on the same day" % (option, text))
    return {"which": which, "weekday": WEEKDAYS.index(day), "start": start, "end": end, "spec": text.strip()}


def _window_days(window, year, month):
    """The dates of the month on which the window opens."""
    first = datetime.date(year, month, 1)
    following = datetime.date(year + (month == 12), month % 12 + 1, 1)
    days = [first + datetime.timedelta(d) for d in range((following - first).days)]
    matching = [d for d in days if d.weekday() == window["weekday"]]
    if window["which"] == "every":
        return matching
    if window["which"] == "last":
        return matching[-1:]
    return matching[ORDINALS.index(window["which"]):][:1]


def window_bounds(window, day):
    midnight = datetime.datetime.combine(day, datetime.time(), datetime.timezone.utc)
    return midnight + datetime.timedelta(minutes=window["start"]), midnight + datetime.timedelta(minutes=window["end"])


def window_state(window, now):
    """(inside, current_or_next_start, its_end) at ``now`` (aware UTC datetime)."""
    year, month = now.year, now.month
    for _ in range(14):  # every ordinal recurs within two months; 14 is a safe bound
        for day in _window_days(window, year, month):
            start, end = window_bounds(window, day)
            if start <= now < end:
                return True, start, end
            if start > now:
                return False, start, end
        year, month = year + (month == 12), month % 12 + 1
    raise PolicyError("change_policy_window=%r: no window opens in the next year" % window["spec"])


def parse_now(value, option="now"):
    """An ISO 8601 time with a zone (or Z) as an aware UTC datetime."""
    try:
        parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise PolicyError("%s=%r: not an ISO 8601 time (e.g. 2026-12-06T02:30:00Z)" % (option, value)) from None
    if parsed.tzinfo is None:
        raise PolicyError("%s=%r: needs a time zone (e.g. Z)" % (option, value))
    return parsed.astimezone(datetime.timezone.utc)


def decide(change_type, change_id, production, window_spec, now, *, override=False, standard_ok=False,
           playbook="this playbook"):
    """The ruling: a dict with kind=change_policy, allowed, message and the facts behind it.
    Raises PolicyError for bad input (unknown type, malformed window or change id)."""
    if change_type not in CHANGE_TYPES:
        raise PolicyError("change_type=%r: must be one of %s" % (change_type, ", ".join(CHANGE_TYPES)))
    change_id = "" if change_id is None else str(change_id).strip()
    if change_id and not _CHANGE_ID.match(change_id):
        raise PolicyError(
            "change_id=%r: must be a ticket reference (letters, digits, . _ : / # -, at most 64)" % change_id)
    window = parse_window(window_spec)
    inside, start, end = window_state(window, now)
    ruling = {
        "kind": "change_policy",
        "change_type": change_type,
        "change_id": change_id or None,
        "production": bool(production),
        "window": window["spec"],
        "in_window": inside,
        "window_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "window_end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "window_override": False,
        "now": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "emergency": change_type == "emergency",
    }
    when = "inside the window until %s" % ruling["window_end"] if inside else "outside the window (next %s to %s)" % (
        ruling["window_start"], ruling["window_end"])
    if change_type == "standard" and not standard_ok:
        return dict(ruling, allowed=False, message=(
            "change_type=standard: %s is not a standard change; run it as normal (with change_id) or emergency"
            % playbook))
    if change_type == "standard":
        return dict(ruling, allowed=True, message="standard change: pre-approved, %s" % when)
    if change_type == "emergency":
        return dict(ruling, allowed=True,
                    message="EMERGENCY change %s: allowed at any time, %s" % (change_id or "(no id)", when))
    if not production:
        return dict(ruling, allowed=True,
                    message="normal change to an inventory not marked production: allowed, %s" % when)
    if not change_id:
        return dict(ruling, allowed=False, message=(
            "a normal change to a production inventory needs a change id: -e change_id=<ticket> "
            "(or -e change_type=emergency)"))
    if inside:
        return dict(ruling, allowed=True, message="normal change %s: %s" % (change_id, when))
    if override:
        return dict(ruling, allowed=True, window_override=True, message=(
            "normal change %s %s: allowed by change_window_override (recorded)" % (change_id, when)))
    return dict(ruling, allowed=False, message=(
        "normal change %s is %s; wait for it, or set -e change_window_override=true "
        "(recorded in the audit trail), or run as emergency" % (change_id, when)))
