# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the backup role, the restore and DR drill playbooks and the fleet report decide.

Pure functions over plain data, standard library only: they run on the controller (as
filters), in the ``backup_status`` module and in the host-side scheduled backup script
(``roles/backup/files/fleetops-backup``), so the timers and the playbooks share one logic.
Bad input raises ``ValueError`` naming the option and the value.
"""

from __future__ import annotations

import math
import time
from xml.sax.saxutils import escape, quoteattr

from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup import list_archives

RESTORE_WHAT = ("config", "state", "both")
DRILL_SCENARIOS = {"host_loss": "both", "data_corruption": "state", "config_loss": "config"}
# Kinds that are not a backup of the service as it ran: "latest" never picks them.
NOT_LATEST_KINDS = ("pre-restore",)


def _number(value, option):
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("%s=%r: must be a number of seconds" % (option, value))
    try:
        number = float(value)
    except ValueError:
        raise ValueError("%s=%r: must be a number of seconds" % (option, value)) from None
    if math.isnan(number) or math.isinf(number):
        raise ValueError("%s=%r: must be a finite number of seconds" % (option, value))
    return number


def positive_seconds(value, option):
    """``value`` as float seconds, refusing anything that is not > 0."""
    number = _number(value, option)
    if number <= 0:
        raise ValueError("%s=%s: must be a number of seconds greater than 0" % (option, value))
    return number


def restore_kinds(what, option="restore_what"):
    """Check a restore_what value; return it."""
    if what not in RESTORE_WHAT:
        raise ValueError("%s=%r: must be one of %s" % (option, what, ", ".join(RESTORE_WHAT)))
    return what


def scenario_what(scenario, option="drill_scenario"):
    """What a drill scenario restores: host_loss both, data_corruption state, config_loss config."""
    if scenario not in DRILL_SCENARIOS:
        raise ValueError("%s=%r: must be one of %s" % (option, scenario, ", ".join(sorted(DRILL_SCENARIOS))))
    return DRILL_SCENARIOS[scenario]


# --- the live slot ----------------------------------------------------------------------


def live_slot(slots, last_good=""):
    """The slot whose release a backup records and whose app.py takes the snapshot.

    ``slots``: ``[{"slot", "active" (unit active), "release" ("" without a current link)}]``
    or ``[slot, active, release]`` sequences.
    A running slot wins over a stopped one; of several running slots (mid-deploy) the one
    running the ledger's last good release, else the first. A host where no slot has a
    release has nothing to back up. Returns ``{"slot", "release", "decided_by"}``.
    """
    if not isinstance(slots, (list, tuple)) or not slots:
        raise ValueError("slots=%r: must be a non-empty list of {slot, active, release}" % (slots,))
    # [slot, active, release] triples too, as a playbook zips them; "active" may be the
    # output of systemctl is-active.
    slots = [dict(zip(("slot", "active", "release"), item)) if isinstance(item, (list, tuple))
             else dict(item) if isinstance(item, dict) else item
             for item in slots]
    for item in slots:
        if not isinstance(item, dict) or not item.get("slot"):
            raise ValueError("slots: %r has no slot name" % (item,))
        item["active"] = item.get("active") in (True, "active")
    installed = [s for s in slots if s.get("release")]
    if not installed:
        raise ValueError("slots: no slot has a release installed (%s); nothing to back up"
                         % ", ".join(s["slot"] for s in slots))
    running = [s for s in installed if s.get("active")]
    candidates = running or installed
    decided_by = "running" if running else "installed"
    if len(candidates) > 1:
        matching = [s for s in candidates if last_good and s["release"] == last_good]
        if matching:
            candidates, decided_by = matching, "ledger"
        else:
            decided_by = "first"
    return dict(slot=candidates[0]["slot"], release=candidates[0]["release"], decided_by=decided_by)


# --- archives on a host -------------------------------------------------------------------


def _summary(archive):
    metadata = archive["sidecar"]["metadata"]
    verified = archive["verified"] if isinstance(archive["verified"], dict) else {}
    content = verified.get("content_verified_epoch")
    last = verified.get("last") if isinstance(verified.get("last"), dict) else {}
    return dict(
        path=archive["path"], name=archive["name"], kind=metadata.get("kind"), release=metadata.get("release"),
        host=metadata.get("host"), created=metadata.get("created"), created_epoch=metadata.get("created_epoch"),
        pinned=metadata.get("pinned") is True, manifest_sha256=archive["sidecar"].get("manifest_sha256"),
        size=archive["sidecar"].get("size"),
        verified_epoch=content if isinstance(content, (int, float)) and not isinstance(content, bool) else None,
        last_verification_ok=last.get("ok") if isinstance(last.get("ok"), bool) else None,
    )


def archive_status(dest_dir, service=None, exclude_kinds=NOT_LATEST_KINDS):
    """The complete archives in ``dest_dir`` and the newest, newest verified and latest restorable one.

    ``latest`` is the newest archive whose kind is not in ``exclude_kinds`` (a safety
    backup taken by a restore is not what "restore the latest backup" means).
    """
    complete, incomplete = list_archives(dest_dir, service)
    archives = sorted((_summary(a) for a in complete), key=lambda a: (a["created_epoch"] or 0, a["name"]),
                      reverse=True)
    verified = [a for a in archives if a["verified_epoch"] is not None]
    latest = [a for a in archives if a["kind"] not in exclude_kinds]
    return dict(
        dest_dir=dest_dir, count=len(archives), archives=archives,
        newest=archives[0] if archives else None,
        newest_verified=verified[0] if verified else None,
        latest=latest[0] if latest else None,
        incomplete=[dict(path=i["path"], reason=i["reason"]) for i in incomplete],
    )


def _label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def prometheus_textfile(status, service, host, now=None):
    """Node-exporter textfile lines: last backup and last verified backup time of ``service``.

    A metric without a backup is left out (absent() is what an alert on a host that never
    backed up tests for), never written as 0, which would read as 1970.
    """
    now = time.time() if now is None else now
    labels = 'service="%s",host="%s"' % (_label(service), _label(host))
    lines = [
        "# HELP fleetops_backup_last_success_timestamp_seconds Created time of the newest complete backup.",
        "# TYPE fleetops_backup_last_success_timestamp_seconds gauge",
    ]
    if status["newest"]:
        lines.append("fleetops_backup_last_success_timestamp_seconds{%s} %.3f"
                     % (labels, status["newest"]["created_epoch"]))
    lines += [
        "# HELP fleetops_backup_last_verified_timestamp_seconds Created time of the newest content-verified backup.",
        "# TYPE fleetops_backup_last_verified_timestamp_seconds gauge",
    ]
    if status["newest_verified"]:
        lines.append("fleetops_backup_last_verified_timestamp_seconds{%s} %.3f"
                     % (labels, status["newest_verified"]["created_epoch"]))
    lines += [
        "# HELP fleetops_backup_archives Complete backup archives kept.",
        "# TYPE fleetops_backup_archives gauge",
        "fleetops_backup_archives{%s} %d" % (labels, status["count"]),
        "# HELP fleetops_backup_incomplete_archives Archives without a valid sidecar (killed or failed runs).",
        "# TYPE fleetops_backup_incomplete_archives gauge",
        "fleetops_backup_incomplete_archives{%s} %d" % (labels, len(status["incomplete"])),
        "# HELP fleetops_backup_textfile_timestamp_seconds When this file was written.",
        "# TYPE fleetops_backup_textfile_timestamp_seconds gauge",
        "fleetops_backup_textfile_timestamp_seconds{%s} %.3f" % (labels, now),
    ]
    return "\n".join(lines) + "\n"


# --- comparing a restore with the manifest ----------------------------------------------------


def manifest_compare(manifest, what, stats):
    """Compare restored files with the archive's MANIFEST.

    ``manifest``: the MANIFEST (``paths`` and ``members``); ``what``: config, state or
    both; ``stats``: host path -> ``{"exists", "isdir", "islnk", "size", "checksum"}``
    (as ``ansible.builtin.stat`` with sha256 returns them). Returns ``{"ok", "checked",
    "problems"}``; each problem names the member and the path.
    """
    restore_kinds(what, "what")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("members"), list) \
            or not isinstance(manifest.get("paths"), list):
        raise ValueError("manifest: not a MANIFEST of a fleetops backup (needs paths and members)")
    kinds = ("config", "state") if what == "both" else (what,)
    roots = dict(("%s/%s" % (p["kind"], p["name"]), p["path"]) for p in manifest["paths"] if p["kind"] in kinds)
    problems, checked = [], 0
    for member in manifest["members"]:
        root = next((r for r in roots if member["path"] == r or member["path"].startswith(r + "/")), None)
        if root is None:
            continue
        path = roots[root] + member["path"][len(root):]
        checked += 1
        found = stats.get(path) or {}
        if not found.get("exists"):
            problems.append(dict(member=member["path"], path=path, problem="missing"))
        elif member["type"] == "dir" and not found.get("isdir"):
            problems.append(dict(member=member["path"], path=path, problem="not a directory"))
        elif member["type"] == "symlink" and not found.get("islnk"):
            problems.append(dict(member=member["path"], path=path, problem="not a symbolic link"))
        elif member["type"] == "file":
            if found.get("size") != member["size"]:
                problems.append(dict(member=member["path"], path=path,
                                     problem="size %s, manifest %s" % (found.get("size"), member["size"])))
            elif found.get("checksum") != member.get("sha256"):
                problems.append(dict(member=member["path"], path=path,
                                     problem="sha256 %s, manifest %s" % (found.get("checksum"), member.get("sha256"))))
    if not checked:
        raise ValueError("manifest: no %s members to compare" % " or ".join(kinds))
    return dict(ok=not problems, checked=checked, problems=problems)


# --- the DR drill report ----------------------------------------------------------------------


def drill_report(drill):
    """RTO, RPO and the verdict of a DR drill.

    ``drill``: ``source``, ``target``, ``scenario``, ``started`` (epoch of the drill start),
    ``backup`` (``created_epoch`` required; archive, release, manifest_sha256 are reported),
    ``phases`` (``[{"name", "start", "end"}]`` epochs, in order) or ``marks``
    (``[{"phase", "at"}]``, the end of each phase, the first starting at ``started``), ``rto_target`` and
    ``rpo_target`` (seconds > 0), ``healthy`` (bool) and ``state`` (the result of
    :func:`manifest_compare`). RTO is the drill start to the end of the last phase (the
    service answering healthy); RPO is the drill start minus the backup's created time,
    the data a real loss at the drill start would have lost.
    """
    rto_target = positive_seconds(drill.get("rto_target"), "drill_rto_target")
    rpo_target = positive_seconds(drill.get("rpo_target"), "drill_rpo_target")
    scenario_what(drill.get("scenario"))
    started = _number(drill.get("started"), "started")
    created = _number((drill.get("backup") or {}).get("created_epoch"), "backup.created_epoch")
    phases = []
    marks = drill.get("marks")
    if marks is not None:
        # Marks taken at the end of each phase: a phase runs from the mark before it.
        points = [started] + [_number(m.get("at"), "marks.at") for m in marks]
        drill = dict(drill, phases=[dict(name=m.get("phase"), start=points[i], end=points[i + 1])
                                    for i, m in enumerate(marks)])
    for phase in drill.get("phases") or []:
        start, end = _number(phase.get("start"), "phases.start"), _number(phase.get("end"), "phases.end")
        if end < start:
            raise ValueError("phases: %s ends (%s) before it starts (%s)" % (phase.get("name"), end, start))
        phases.append(dict(name=phase["name"], start=start, end=end, seconds=round(end - start, 3)))
    if not phases:
        raise ValueError("phases: a drill report needs the timed phases")
    rto = round(phases[-1]["end"] - started, 3)
    rpo = round(started - created, 3)
    state = drill.get("state") or {}
    checks = [
        dict(name="rto", ok=rto <= rto_target, message="RTO %.1f s, target %.0f s" % (rto, rto_target)),
        dict(name="rpo", ok=rpo <= rpo_target, message="RPO %.1f s, target %.0f s" % (rpo, rpo_target)),
        dict(name="healthy", ok=drill.get("healthy") is True,
             message="service healthy on %s" % drill.get("target") if drill.get("healthy") is True
             else "service not healthy on %s" % drill.get("target")),
        dict(name="state_matches_manifest", ok=state.get("ok") is True,
             message="%s restored members match the manifest" % state.get("checked", 0) if state.get("ok") is True
             else "restored members differ from the manifest: %s" % ("; ".join(
                 "%s: %s" % (p["path"], p["problem"]) for p in state.get("problems", [])) or "not compared")),
    ]
    return dict(
        source=drill.get("source"), target=drill.get("target"), scenario=drill.get("scenario"),
        what=DRILL_SCENARIOS[drill["scenario"]], started=started,
        started_iso=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        backup=drill.get("backup"), phases=phases, rto_seconds=rto, rpo_seconds=rpo,
        rto_target=rto_target, rpo_target=rpo_target, checks=checks, state=state,
        passed=all(c["ok"] for c in checks), failed_checks=[c["name"] for c in checks if not c["ok"]],
    )


def drill_junit(report):
    """The drill report as JUnit XML: one test case per check, one per timed phase."""
    cases = []
    for check in report["checks"]:
        body = "" if check["ok"] else "<failure message=%s/>" % quoteattr(check["message"])
        cases.append('  <testcase classname="dr_drill.%s" name=%s time="0">%s<system-out>%s</system-out></testcase>'
                     % (report["scenario"], quoteattr(check["name"]), body, escape(check["message"])))
    for phase in report["phases"]:
        cases.append('  <testcase classname="dr_drill.%s.phase" name=%s time="%.3f"/>'
                     % (report["scenario"], quoteattr(phase["name"]), phase["seconds"]))
    failures = len([c for c in report["checks"] if not c["ok"]])
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<testsuite name=%s tests="%d" failures="%d" errors="0" time="%.3f" timestamp=%s>\n%s\n</testsuite>\n'
            % (quoteattr("dr_drill %s -> %s" % (report["source"], report["target"])), len(cases), failures,
               report["rto_seconds"], quoteattr(report["started_iso"]), "\n".join(cases)))


# --- the fleet report -------------------------------------------------------------------------


def _age(now, epoch):
    return None if epoch is None else round(now - epoch, 1)


def human_age(seconds):
    """``3d 4h``, ``2h 05m``, ``45s``; ``never`` for None."""
    if seconds is None:
        return "never"
    seconds = max(int(seconds), 0)
    days, rest = divmod(seconds, 86400)
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
    ratio = _number(at_risk_ratio, "backup_report_at_risk_ratio")
    if not 0 < ratio <= 1:
        raise ValueError("backup_report_at_risk_ratio=%s: must be > 0 and <= 1" % at_risk_ratio)
    verify_max_age = positive_seconds(verify_max_age, "backup_report_verify_max_age")
    drill_max_age = positive_seconds(drill_max_age, "backup_report_drill_max_age")
    now = _number(now, "now")
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
