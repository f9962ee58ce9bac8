# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Backup retention: which archives to keep, which to delete, and why.

Pure functions, standard library only (they may run on managed hosts, Python 3.8+).
Bad input raises ``ValueError`` whose message names the option and the value.

Archives
--------
Each archive is a mapping with

``name``
    unique, non-empty string;
``created``
    ISO 8601 date and time *with* a timezone (``2026-11-30T02:00:00+01:00``, ``...Z``),
    epoch seconds (int, float or a numeric string, UTC), or an aware ``datetime``;
``verified``
    optional: ``true`` / a timestamp of the last successful verification (verified) or
    ``false`` / ``null`` (not verified);
``pinned``
    optional bool: a pinned archive is never deleted;
``ok``
    optional bool, default ``true``: ``false`` marks a failed or partial backup;
``kind``
    optional string, the backup's kind (``scheduled``, ``manual``, ``pre-upgrade``,
    ``pre-restore``): safety kinds are kept for a while (see the safety rules).

Other keys are ignored.

Periods
-------
A *day* is a calendar day, a *week* an ISO 8601 week (Monday 00:00 to Sunday 23:59,
labelled ``2026-W48`` with the ISO week-numbering year), a *month* a calendar month.
They are taken in the time zone chosen by ``timezone``: ``archive`` (default) uses
each archive's own UTC offset as written in ``created`` (epoch times are UTC),
``UTC`` or a fixed offset such as ``+02:00`` converts every archive first.

Modes
-----
``counts`` (restic ``forget --keep-daily/--keep-weekly/--keep-monthly``)
    Each bucket is applied independently to the successful archives, newest first:
    ``keep_daily = n`` keeps the newest archive of each of the last ``n`` days *that
    have an archive* (days without one are not counted, so the kept days may span more
    than ``n`` calendar days), likewise for ISO weeks and months. An archive kept by
    several buckets lists every reason. With ``keep_oldest`` (the default in this mode,
    as restic 0.17 and later do) a bucket that is not used up because there are fewer
    periods than its count also keeps the oldest successful archive ("oldest daily
    ..."), so a short history never loses its first backup.
``age`` (windows anchored at the newest successful backup)
    ``keep_daily`` is a window of calendar days, ``keep_weekly`` of ISO weeks and
    ``keep_monthly`` of calendar months, each ending with (and including) the period of
    the newest successful backup. Within each window the newest archive of each period
    is kept. The windows are measured from the newest successful backup, never from the
    current time, so a host whose backups stopped keeps its last ones.

Safety rules (both modes)
-------------------------
* The newest successful backup, the newest verified backup and every pinned archive
  are always kept.
* Failed backups (``ok: false``) never count toward a bucket. A failed backup older
  than the newest successful one is deleted (unless pinned or the newest verified);
  one at the same time or newer is kept for inspection; if no backup succeeded,
  nothing is deleted.
* A safety archive (``kind`` in ``safety_kinds``, by default ``pre-upgrade`` and
  ``pre-restore``: the backups a deploy and a restore take before they change data) is
  kept for ``safety_days`` days after it was made (default 7), and always on the
  calendar day it was made, counted from ``now`` (or, without ``now``, from the newest
  archive): a prune run right after a deploy or a restore never deletes them.
* Hence, if any archive exists, at least one is kept.
* A policy whose three counts are all 0 is refused. (restic 0.14 does not refuse it:
  ``forget`` without any ``--keep-*`` keeps every snapshot and exits 0; here such a
  policy is far more likely a mistake in a variable than a wish to keep everything.)
* Archives dated in the future (``created`` after ``now``, when ``now`` is given:
  clock skew or a forged ``created_epoch``) are kept and reported in ``future``, but
  never anchor the age windows and never count toward a bucket: the windows end at
  the newest successful backup that is not in the future, or at ``now`` when there is
  none. Otherwise one forged date would make the windows delete almost every real
  backup.

Time zone ``archive`` and restic
--------------------------------
With ``timezone='archive'`` each archive's period is taken in its own UTC offset and
a period counts once however many archives share it. restic instead walks the
snapshots newest first and starts a new period whenever an archive's period differs
from the *last kept* one, so with archives written under different UTC offsets (a
host moved between zones, daylight saving) restic may keep two archives of the same
local day (if another day lies between them in time order) where this keeps one.
Use ``timezone='UTC'`` (or one fixed offset) for results identical to restic's.

Both lists of the result are ordered newest first; of archives created at the same
instant the one with the greater name counts as the newer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from datetime import timezone as fixed_zone

MODES = ("counts", "age")
DEFAULT_MODE = "counts"
DEFAULT_KEEP_DAILY = 30
DEFAULT_KEEP_WEEKLY = 12
DEFAULT_KEEP_MONTHLY = 12
DEFAULT_TIMEZONE = "archive"
# Backups taken before a change (deploy, restore), kept a while whatever the policy.
SAFETY_KINDS = ("pre-upgrade", "pre-restore")
DEFAULT_SAFETY_DAYS = 7

_ISO = re.compile(
    r"^(?P<year>\d{4})-(?P<month>\d{2})-(?P<day>\d{2})[Tt ]"
    r"(?P<hour>\d{2}):(?P<minute>\d{2})(?::(?P<second>\d{2})(?:[.,](?P<fraction>\d+))?)?"
    r"\s*(?P<zone>[Zz]|[+-]\d{2}(?::?\d{2})?)?$"
)
_EPOCH = re.compile(r"^[+-]?\d+(?:\.\d*)?$")
_OFFSET = re.compile(r"^(?P<sign>[+-])(?P<hours>\d{2})(?::?(?P<minutes>\d{2}))?$")


# ----------------------------------------------------------------------- timestamps


def _offset(text):
    """A fixed UTC offset for ``Z``, ``+HH``, ``+HHMM`` or ``+HH:MM``; None if invalid."""
    if text in ("Z", "z"):
        return fixed_zone.utc
    match = _OFFSET.match(text)
    if not match:
        return None
    hours = int(match.group("hours"))
    minutes = int(match.group("minutes") or 0)
    if hours > 23 or minutes > 59:
        return None
    delta = timedelta(hours=hours, minutes=minutes)
    return fixed_zone(-delta if match.group("sign") == "-" else delta)


def _from_epoch(seconds):
    try:
        seconds = float(seconds)
    except OverflowError as exc:
        raise ValueError("out of range (%s)" % exc) from exc
    if not math.isfinite(seconds):
        raise ValueError("not a finite number")
    try:
        return datetime.fromtimestamp(seconds, tz=fixed_zone.utc)
    except (OverflowError, OSError, ValueError) as exc:
        raise ValueError("out of range (%s)" % exc) from exc


def parse_timestamp(value):
    """Return ``value`` as an aware ``datetime``.

    Accepts an ISO 8601 date and time with a timezone (``Z``, ``+HH:MM``, ``+HHMM`` or
    ``+HH``; ``T`` or a space between date and time; optional seconds and fraction),
    epoch seconds (int, float or numeric string; UTC), or an aware ``datetime``.

    :raises ValueError: with a short explanation (the caller adds which value it was).
    """
    if isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("the datetime has no timezone")
        return value
    if isinstance(value, (int, float)):
        return _from_epoch(value)
    if not isinstance(value, str):
        raise ValueError("expected an ISO 8601 string or epoch seconds")
    text = value.strip()
    if _EPOCH.match(text):
        return _from_epoch(float(text))
    match = _ISO.match(text)
    if not match:
        raise ValueError("not an ISO 8601 date and time (YYYY-MM-DDTHH:MM[:SS[.ffffff]]+HH:MM) or epoch seconds")
    if match.group("zone") is None:
        raise ValueError("it has no timezone: add Z or an offset such as +00:00, or give epoch seconds")
    tzinfo = _offset(match.group("zone"))
    if tzinfo is None:
        raise ValueError("the UTC offset %r is not valid" % match.group("zone"))
    fraction = (match.group("fraction") or "")[:6].ljust(6, "0")
    try:
        return datetime(
            int(match.group("year")),
            int(match.group("month")),
            int(match.group("day")),
            int(match.group("hour")),
            int(match.group("minute")),
            int(match.group("second") or 0),
            int(fraction),
            tzinfo=tzinfo,
        )
    except ValueError as exc:
        raise ValueError("not a valid date and time (%s)" % exc) from exc


# ------------------------------------------------------------------------- periods


def day_label(day):
    return day.isoformat()


def week_label(day):
    iso = day.isocalendar()
    return "%04d-W%02d" % (iso[0], iso[1])


def month_label(day):
    return "%04d-%02d" % (day.year, day.month)


def _day_index(day):
    return day.toordinal()


def _week_index(day):
    # Ordinal 1 (0001-01-01) is a Monday, so Mondays are 1, 8, 15, ...: the week's
    # Monday ordinal // 7 numbers ISO weeks consecutively.
    return (day.toordinal() - day.weekday()) // 7


def _month_index(day):
    return day.year * 12 + day.month - 1


# (bucket kind, option name, unit in age mode, index of the period, label of the period)
_BUCKETS = (
    ("daily", "keep_daily", "days", _day_index, day_label),
    ("weekly", "keep_weekly", "weeks", _week_index, week_label),
    ("monthly", "keep_monthly", "months", _month_index, month_label),
)


# ---------------------------------------------------------------------- validation


def _validate_count(option, value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("%s must be a non-negative integer, got %r" % (option, value))
    return value


def _validate_mode(mode):
    if mode not in MODES:
        raise ValueError("mode must be one of %s, got %r" % (", ".join(MODES), mode))
    return mode


def _calendar(tz):
    """A function mapping an aware datetime to the calendar day it falls on."""
    if tz == "archive":
        return lambda when: when.date()
    zone = None
    if isinstance(tz, str):
        zone = fixed_zone.utc if tz.strip().upper() == "UTC" else _offset(tz.strip())
    if zone is None:
        raise ValueError("timezone must be 'archive', 'UTC' or a UTC offset such as '+02:00', got %r" % (tz,))
    return lambda when: when.astimezone(zone).date()


def _validate_keep_oldest(keep_oldest, mode):
    if keep_oldest is not None and not isinstance(keep_oldest, bool):
        raise ValueError("keep_oldest must be true, false or null, got %r" % (keep_oldest,))
    if mode == "age":
        if keep_oldest:
            raise ValueError(
                "keep_oldest applies to mode 'counts' only (age windows end at the newest successful backup), got true"
            )
        return False
    return True if keep_oldest is None else keep_oldest


class _Archive(object):
    __slots__ = ("created", "day", "kind", "name", "ok", "pinned", "reasons", "verified", "when")

    def __init__(self, *, name, created, when, day, ok, pinned, verified, kind=None):
        self.name = name
        self.kind = kind
        self.created = created
        self.when = when
        self.day = day
        self.ok = ok
        self.pinned = pinned
        self.verified = verified
        self.reasons = []


def _flag(archive, name, key, default):
    value = archive.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ValueError("archive %r: %s must be true or false, got %r" % (name, key, value))
    return value


def _verified(archive, name):
    value = archive.get("verified")
    if value is None or value is False:
        return False
    if value is True:
        return True
    try:
        parse_timestamp(value)
    except ValueError as exc:
        raise ValueError(
            "archive %r: verified must be true, false or the time of the last verification, got %r: %s"
            % (name, value, exc)
        ) from exc
    return True


def _load(archives, day_of):
    if isinstance(archives, (str, bytes, Mapping)) or not isinstance(archives, Sequence):
        raise ValueError("archives must be a list of archive dicts (name, created, ...), got %r" % (archives,))
    loaded = []
    seen = {}
    for index, archive in enumerate(archives):
        if not isinstance(archive, Mapping):
            raise ValueError("archives[%d] must be a dict with name and created, got %r" % (index, archive))
        name = archive.get("name")
        if not isinstance(name, str) or not name:
            raise ValueError("archives[%d].name must be a non-empty string, got %r" % (index, name))
        if name in seen:
            raise ValueError(
                "archives[%d].name %r is a duplicate of archives[%d]: archive names must be unique"
                % (index, name, seen[name])
            )
        seen[name] = index
        if "created" not in archive or archive["created"] is None:
            raise ValueError("archive %r (archives[%d]) has no created time" % (name, index))
        created = archive["created"]
        try:
            when = parse_timestamp(created)
        except ValueError as exc:
            raise ValueError("archive %r: created %r cannot be parsed: %s" % (name, created, exc)) from exc
        loaded.append(
            _Archive(
                name=name,
                created=created,
                when=when,
                day=day_of(when),
                ok=_flag(archive, name, "ok", True),
                pinned=_flag(archive, name, "pinned", False),
                verified=_verified(archive, name),
                kind=archive.get("kind") if isinstance(archive.get("kind"), str) else None,
            )
        )
    # Newest first; of archives created at the same instant the greater name counts as
    # the newer one (names with a sequence number or sub-second suffix sort that way).
    loaded.sort(key=lambda item: (item.when, item.name), reverse=True)
    return loaded


# ----------------------------------------------------------------------- selection


def _select_counts(successful, counts, keep_oldest):
    """restic-style buckets. Returns {kind: {period index: archive kept}}."""
    kept = {}
    for kind, option, _unit, index_of, label_of in _BUCKETS:
        count = counts[option]
        periods = {}
        kept[kind] = periods
        if count == 0:
            continue
        for item in successful:
            if len(periods) >= count:
                break
            period = index_of(item.day)
            if period not in periods:
                periods[period] = item
                item.reasons.append("%s %s" % (kind, label_of(item.day)))
        if keep_oldest and successful and len(periods) < count:
            # Fewer periods than the count: restic (0.17+) keeps the oldest snapshot too.
            oldest = successful[-1]
            if periods.get(index_of(oldest.day)) is not oldest:
                oldest.reasons.append("oldest %s %s" % (kind, label_of(oldest.day)))
    return kept


def _select_age(successful, counts, anchor_day=None):
    """Calendar windows ending at the newest successful backup's period (or ``anchor_day``)."""
    kept = {}
    if anchor_day is None and successful:
        anchor_day = successful[0].day
    for kind, option, _unit, index_of, label_of in _BUCKETS:
        window = counts[option]
        periods = {}
        kept[kind] = periods
        if window == 0 or anchor_day is None:
            continue
        last = index_of(anchor_day)
        for item in successful:
            period = index_of(item.day)
            # Negative distances (an older instant on a later local day, possible with
            # mixed UTC offsets) are inside the window too.
            if last - period < window and period not in periods:
                periods[period] = item
                item.reasons.append("%s %s" % (kind, label_of(item.day)))
    return kept


def _policy_text(mode, counts):
    parts = []
    for kind, option, unit, _index_of, _label_of in _BUCKETS:
        if counts[option]:
            if mode == "counts":
                parts.append("%d %s" % (counts[option], kind))
            else:
                parts.append("%s within %d %s" % (kind, counts[option], unit if counts[option] > 1 else unit[:-1]))
    return ", ".join(parts)


def _validate_safety_days(value):
    if isinstance(value, bool) or not isinstance(value, int) or value < 0 or value > 3650:
        raise ValueError("safety_days must be a whole number of days from 0 to 3650, got %r" % (value,))
    return value


def _safety_reason(item, safety_kinds, safety_days, anchor, day_of):
    """Why a safety archive is kept, or None: within safety_days of the anchor, or made
    on the anchor's calendar day."""
    if item.kind not in safety_kinds or anchor is None:
        return None
    until = item.when + timedelta(days=safety_days)
    if anchor < until:
        return "safety archive (%s), kept for %d days after it was made (until %s)" % (
            item.kind, safety_days, until.strftime("%Y-%m-%dT%H:%M:%SZ") if until.utcoffset() == timedelta(0)
            else until.isoformat())
    if day_of(item.when) == day_of(anchor):
        return "safety archive (%s), made today: never pruned the day it was made" % (item.kind,)
    return None


def _mark_safety(items, safety_kinds, safety_days, anchor, day_of):
    for item in items:
        reason = _safety_reason(item, safety_kinds, safety_days, anchor, day_of)
        if reason:
            item.reasons.append(reason)


def _delete_reason(item, mode, counts, kept, newest_ok):
    if not item.ok:
        return "failed backup (ok: false) older than the newest successful backup %r" % (newest_ok.name,)
    for kind, _option, _unit, index_of, label_of in _BUCKETS:
        keeper = kept[kind].get(index_of(item.day))
        if keeper is not None:
            return "not the newest successful backup of %s %s (kept: %r)" % (kind, label_of(item.day), keeper.name)
    policy = _policy_text(mode, counts)
    if mode == "counts":
        return "older than every period the policy keeps (%s; only periods with a successful backup count)" % (policy,)
    return "outside every window (%s) ending at the newest successful backup %r of %s" % (
        policy,
        newest_ok.name,
        day_label(newest_ok.day),
    )


def retention_select(
    archives,
    mode=DEFAULT_MODE,
    keep_daily=DEFAULT_KEEP_DAILY,
    keep_weekly=DEFAULT_KEEP_WEEKLY,
    keep_monthly=DEFAULT_KEEP_MONTHLY,
    *,
    keep_oldest=None,
    timezone=DEFAULT_TIMEZONE,
    now=None,
    safety_days=DEFAULT_SAFETY_DAYS,
    safety_kinds=SAFETY_KINDS,
):
    """Select which archives to keep and which to delete, with the reasons.

    :param archives: list of archive mappings (see the module docstring).
    :param mode: ``counts`` (restic-compatible, default) or ``age``.
    :param keep_daily: days with a backup to keep (counts) or window in days (age).
    :param keep_weekly: ISO weeks with a backup (counts) or window in ISO weeks (age).
    :param keep_monthly: months with a backup (counts) or window in months (age).
    :param keep_oldest: counts mode: also keep the oldest successful archive when a
        bucket has fewer periods than its count (restic 0.17+). ``None`` means true in
        counts mode and false in age mode; true is refused in age mode.
    :param timezone: ``archive`` (each archive's own UTC offset), ``UTC`` or a fixed
        offset such as ``+02:00``; decides calendar days, weeks and months.
    :param now: the current time (anything ``created`` accepts); archives created after
        it are *future-dated*: kept, listed in ``future``, never an anchor or a bucket's
        archive. ``None`` (default) treats no archive as future-dated.
    :param safety_days: days a safety archive is kept after it was made (0: only on the
        day it was made), counted from ``now`` or else the newest archive.
    :param safety_kinds: the kinds that are safety archives.
    :returns: ``{"keep": [{"name", "created", "reasons": [...]}], "delete": [{"name",
        "created", "reason"}]}`` plus ``"future": [names]`` when ``now`` is given; every archive is in exactly one of
        keep and delete, newest first (same instant: greater name first); ``created``
        is passed through as given.
    """
    mode = _validate_mode(mode)
    counts = {
        "keep_daily": _validate_count("keep_daily", keep_daily),
        "keep_weekly": _validate_count("keep_weekly", keep_weekly),
        "keep_monthly": _validate_count("keep_monthly", keep_monthly),
    }
    if not any(counts.values()):
        raise ValueError(
            "keep_daily, keep_weekly and keep_monthly are all 0: such a policy keeps no period at all; "
            "set at least one of them (restic would keep everything; here that is refused as a likely mistake)"
        )
    keep_oldest = _validate_keep_oldest(keep_oldest, mode)
    day_of = _calendar(timezone)
    items = _load(archives, day_of)
    future = []
    if now is not None:
        try:
            now_when = parse_timestamp(now)
        except ValueError as exc:
            raise ValueError("now: %r cannot be parsed: %s" % (now, exc)) from exc
        future = [item for item in items if item.when > now_when]
        for item in future:
            item.reasons.append("dated in the future (created %s, after now): kept, not counted" % (item.created,))

    successful = [item for item in items if item.ok and item not in future]
    if mode == "counts":
        kept = _select_counts(successful, counts, keep_oldest)
    else:
        anchor_day = day_of(now_when) if future and not successful else None
        kept = _select_age(successful, counts, anchor_day)

    newest_ok = successful[0] if successful else None
    if newest_ok is None and future:
        newest_ok = next((item for item in future if item.ok), None)
    if newest_ok is not None:
        newest_ok.reasons.append("newest successful")
    for item in items:
        if item.verified:
            item.reasons.append("newest verified")
            break
    _mark_safety(items, safety_kinds, _validate_safety_days(safety_days),
                 now_when if now is not None else (items[0].when if items else None), day_of)
    for item in items:
        if item.pinned:
            item.reasons.append("pinned")
        if not item.ok:
            if newest_ok is None:
                item.reasons.append("failed, kept: no backup has succeeded yet")
            elif item.when >= newest_ok.when:
                item.reasons.append("failed, kept: not older than the newest successful backup %r" % (newest_ok.name,))

    keep = []
    delete = []
    for item in items:
        if item.reasons:
            keep.append({"name": item.name, "created": item.created, "reasons": list(item.reasons)})
        else:
            delete.append(
                {
                    "name": item.name,
                    "created": item.created,
                    "reason": _delete_reason(item, mode, counts, kept, newest_ok),
                }
            )
    result = {"keep": keep, "delete": delete}
    if now is not None:
        result["future"] = [item.name for item in future]
    return result
