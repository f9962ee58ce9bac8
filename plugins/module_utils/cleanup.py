# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Age-based cleanup with a keep-minimum: which entries of a directory go, and why.

The decision (``plan``) is pure; ``scan`` reads one directory without following
symlinks and ``apply`` removes what the plan says, re-checking each entry first.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import stat

MAX_ENTRIES = 100000  # one directory's scan is bounded


class CleanupError(ValueError):
    """Bad input, naming the option and the value."""


def check_set(item, index):
    """A cleanup set with its defaults, or CleanupError naming the bad key."""
    where = "sets[%d]" % index
    if not isinstance(item, dict):
        raise CleanupError("%s=%r: must be a mapping with name, path, max_age and keep_min" % (where, item))
    name = item.get("name") or where
    path = item.get("path")
    if not isinstance(path, str) or not os.path.isabs(path) or os.path.normpath(path) in ("/", ""):
        raise CleanupError("%s (%s) path=%r: must be an absolute directory other than /" % (where, name, path))
    max_age = item.get("max_age")
    if isinstance(max_age, bool) or not isinstance(max_age, (int, float)) or max_age <= 0:
        raise CleanupError("%s (%s) max_age=%r: must be a positive number of seconds" % (where, name, max_age))
    keep_min = item.get("keep_min", 1)
    if isinstance(keep_min, bool) or not isinstance(keep_min, int) or keep_min < 0:
        raise CleanupError("%s (%s) keep_min=%r: must be an integer >= 0" % (where, name, keep_min))
    return {
        "name": name, "path": os.path.normpath(path), "pattern": item.get("pattern") or "*",
        "max_age": float(max_age), "keep_min": keep_min,
        "protect": [os.path.normpath(p) for p in item.get("protect") or []],
        "directories": bool(item.get("directories", False)),
    }


def plan(entries, cleanup_set, now):
    """entries: [{path, mtime, is_dir}] of one set. Returns (delete, keep), each a list of
    {path, age, reason}. The newest ``keep_min`` are kept whatever their age; protected
    paths are kept and do not count toward the minimum; the rest go when older than
    ``max_age``."""
    protect = set(cleanup_set["protect"])
    ordered = sorted(entries, key=lambda e: (-e["mtime"], e["path"]))
    delete, keep, kept_for_minimum = [], [], 0
    for entry in ordered:
        age = round(max(0.0, now - entry["mtime"]), 1)
        row = {"path": entry["path"], "age": age}
        if entry["path"] in protect:
            keep.append(dict(row, reason="protected (in use)"))
        elif kept_for_minimum < cleanup_set["keep_min"]:
            kept_for_minimum += 1
            keep.append(dict(row, reason="one of the newest %d kept" % cleanup_set["keep_min"]))
        elif age > cleanup_set["max_age"]:
            delete.append(dict(row, reason="older than %d s" % cleanup_set["max_age"]))
        else:
            keep.append(dict(row, reason="younger than %d s" % cleanup_set["max_age"]))
    return delete, keep


def scan(cleanup_set):
    """The set's matching entries (files, and directories when the set allows them);
    symlinks are never entries. A missing directory has none."""
    found = []
    try:
        iterator = os.scandir(cleanup_set["path"])
    except FileNotFoundError:
        return found
    with iterator:
        for entry in iterator:
            if len(found) >= MAX_ENTRIES:
                raise CleanupError("%s: more than %d entries; narrow the pattern" % (cleanup_set["path"], MAX_ENTRIES))
            if not fnmatch.fnmatchcase(entry.name, cleanup_set["pattern"]):
                continue
            info = entry.stat(follow_symlinks=False)
            is_dir = stat.S_ISDIR(info.st_mode)
            if stat.S_ISLNK(info.st_mode) or (is_dir and not cleanup_set["directories"]):
                continue
            if not is_dir and not stat.S_ISREG(info.st_mode):
                continue
            found.append({"path": entry.path, "mtime": info.st_mtime, "is_dir": is_dir})
    return found


def remove(path):
    """Remove one planned entry, unless it changed into a symlink since the scan."""
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        return False
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)
    return True


def run_sets(sets, now, dry_run=False, removed=None):
    """Check, plan and (unless ``dry_run``) apply every set: ``(actions, removed)``.

    ``sets`` are raw mappings: CleanupError names the first bad one before any entry is
    removed. Removed paths are appended to ``removed`` as they go, so a caller whose run
    stops on an OSError still knows what was already removed."""
    removed = [] if removed is None else removed
    checked = [check_set(item, index) for index, item in enumerate(sets)]
    actions, planned = [], []
    for cleanup_set in checked:
        delete, keep = plan(scan(cleanup_set), cleanup_set, now)
        planned.append(delete)
        actions += [dict(row, set=cleanup_set["name"], action="delete") for row in delete]
        actions += [dict(row, set=cleanup_set["name"], action="keep") for row in keep]
    if not dry_run:
        for delete in planned:
            for row in delete:
                if remove(row["path"]):
                    removed.append(row["path"])
    return actions, removed


# ---- maintenance helpers: listening ports, timer schedule, the action table ----------

def listening_ports(ss_output):
    """Sorted TCP ports from ``ss -Htln`` output (local address is the 4th column)."""
    ports = set()
    for line in ss_output.splitlines():
        fields = line.split()
        if len(fields) >= 4 and ":" in fields[3]:
            port = fields[3].rsplit(":", 1)[1]
            if port.isdigit():
                ports.add(int(port))
    return sorted(ports)


def unexpected_ports(listening, allowed):
    """Listening ports not in the allow-list."""
    return sorted(set(listening) - {int(p) for p in allowed})


_DAY_RANGES = {"first": "01..07", "second": "08..14", "third": "15..21", "fourth": "22..28"}
_SYSTEMD_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def window_calendar(window, schedule):
    """systemd OnCalendar for a parsed maintenance window (change_policy.parse_window):
    ``window`` runs at the window's start on the days it opens; ``weekly`` on the window's
    weekday at its start; ``daily`` every day at its start time."""
    hhmm = "%02d:%02d:00" % divmod(window["start"], 60)
    day = _SYSTEMD_DAYS[window["weekday"]]
    if schedule == "daily":
        return "*-*-* %s" % hhmm
    if schedule == "weekly" or window["which"] == "every":
        return "%s *-*-* %s" % (day, hhmm)
    if schedule != "window":
        raise CleanupError("schedule=%r: must be daily, weekly or window" % schedule)
    if window["which"] == "last":
        return "%s *-*~07/1 %s" % (day, hhmm)
    return "%s *-*-%s %s" % (day, _DAY_RANGES[window["which"]], hhmm)


def table_row(row, dry_run=False):
    """A table row from a row of the table or a maintenance_cleanup action."""
    if "set" in row:
        return ("cleanup %s" % row["set"], row["path"], ("would " if dry_run and row["action"] == "delete" else "")
                + row["action"], "%s (age %d s)" % (row["reason"], row["age"]))
    return tuple(str(row.get(k, "")) for k in ("what", "target", "action", "detail"))


def action_table(rows, dry_run=False):
    """rows ({what, target, action, detail} or cleanup actions) as an aligned text table."""
    header = ("what", "target", "action", "detail")
    table = [header] + [table_row(r, dry_run) for r in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    return "\n".join("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in table)
