# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet backup report: per host the newest backup, newest verified backup and last
drill, their ages and RPO flags, and the report as a text table.

Pure functions over plain data (``backup_status`` results), standard library only, run
as filters by the backup role's report. Bad input raises ``ValueError`` naming the
option and the value.
"""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils.durations import positive_seconds, seconds


def _age(now, epoch):
    return None if epoch is None else round(now - epoch, 1)


def human_age(age):
    """``age`` seconds as ``3d 4h``, ``2h 05m``, ``45s``; ``never`` for None."""
    if age is None:
        return "never"
    days, rest = divmod(max(int(age), 0), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return "%dd %dh" % (days, hours)
    if hours:
        return "%dh %02dm" % (hours, minutes)
    return "%dm %02ds" % (minutes, secs) if minutes else "%ds" % secs


def fleet_report(hosts, now, rpo_target, at_risk_ratio=0.75, *, verify_max_age=8 * 86400, drill_max_age=90 * 86400):
    """Per host: newest backup, newest verified backup, last drill, their ages and flags.

    ``hosts``: host -> ``backup_status`` result (``newest``, ``newest_verified``,
    ``last_drill``) or ``{"error": message}`` / a failed task result (``failed``, ``msg``)
    for a host that could not be read. A host's
    RPO is *at risk* when it has no backup or its newest backup is older than
    ``at_risk_ratio`` x ``rpo_target`` (the next missed run breaches the target), and
    *missed* past ``rpo_target``.
    """
    rpo_target = positive_seconds(rpo_target, "backup_report_rpo_target")
    ratio = seconds(at_risk_ratio, "backup_report_at_risk_ratio")
    if not 0 < ratio <= 1:
        raise ValueError("backup_report_at_risk_ratio=%s: must be > 0 and <= 1" % at_risk_ratio)
    verify_max_age = positive_seconds(verify_max_age, "backup_report_verify_max_age")
    drill_max_age = positive_seconds(drill_max_age, "backup_report_drill_max_age")
    now = seconds(now, "now")
    rows = []
    for host in sorted(hosts):
        status = hosts[host] or {}
        if status.get("failed"):
            status = {"error": status.get("msg") or "could not be read"}
        newest = status.get("newest") or {}
        verified = status.get("newest_verified") or {}
        drill = status.get("last_drill") or {}
        row = dict(
            host=host, error=status.get("error"), archives=status.get("count", 0),
            newest=newest.get("name"), newest_release=newest.get("release"),
            newest_age=_age(now, newest.get("created_epoch")),
            newest_verified=verified.get("name"), newest_verified_age=_age(now, verified.get("created_epoch")),
            last_drill=drill.get("started_iso"), last_drill_passed=drill.get("passed"),
            last_drill_age=_age(now, drill.get("started")),
        )
        flags = []
        if row["error"]:
            flags.append("unreadable")
        if row["newest_age"] is None or row["newest_age"] > rpo_target:
            flags.append("rpo_missed")
        if row["newest_age"] is None or row["newest_age"] > rpo_target * ratio:
            flags.append("rpo_at_risk")
        if row["newest_verified_age"] is None or row["newest_verified_age"] > verify_max_age:
            flags.append("unverified")
        if row["last_drill_age"] is None or row["last_drill_age"] > drill_max_age:
            flags.append("no_recent_drill")
        elif row["last_drill_passed"] is False:
            flags.append("drill_failed")
        row["flags"] = flags
        row["rpo_at_risk"] = "rpo_at_risk" in flags
        rows.append(row)
    return dict(
        time=now, rpo_target=rpo_target, at_risk_ratio=ratio, hosts=rows,
        at_risk=[r["host"] for r in rows if r["rpo_at_risk"]],
        ok=not any(r["rpo_at_risk"] or r["error"] for r in rows),
    )


def fleet_table(report):
    """The fleet report as a fixed-width text table, one line per host."""
    header = ("host", "newest backup", "age", "newest verified", "age", "last drill", "age", "flags")
    rows = [header]
    for row in report["hosts"]:
        drill = row["last_drill"] or "-"
        if row["last_drill_passed"] is False:
            drill += " (failed)"
        rows.append((row["host"], row["newest"] or "-", human_age(row["newest_age"]), row["newest_verified"] or "-",
                     human_age(row["newest_verified_age"]), drill, human_age(row["last_drill_age"]),
                     ",".join(row["flags"]) or "ok"))
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(header))]
    return "\n".join("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows)
