# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The closing report of a restore run and of a DR drill: JSON (the restore's report is
built here; the drill's by ``drill_report.drill_report``), a Markdown page and a few
human lines for the end of the run. Pure functions; the wording follows run_report's."""

from __future__ import annotations

import math
import time

from ansible_collections.fleetops.lifecycle.plugins.module_utils.run_report import _number, _one_line

RESTORED = "restored"
FAILED = "failed"
NOT_RUN = "not_run"
HOST_KEYS = ("archive", "release", "taken", "targets", "safety_backup", "error")
KINDS = ("restore", "drill")


def _iso(epoch):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)) if epoch is not None else None


def _epoch(value, name):
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError("%s: expected epoch seconds, got %r" % (name, value)) from None
    if math.isnan(number) or number < 0:
        raise ValueError("%s: expected epoch seconds, got %r" % (name, value))
    return number


def restore_report(run, host_results):
    """The report of one restore run.

    ``run``: ``run_id``, ``what`` (config, state or both), ``archive`` (as asked:
    ``latest`` or a path), ``operator``, ``change_id``. ``host_results``: host -> its
    result, or None for a host the run did not reach (an earlier host failed):
    ``outcome`` (``restored`` or ``failed``), ``started`` and ``finished`` (epoch
    seconds), and the optional ``archive`` (the path restored from), ``release``,
    ``taken`` (when the archive was made), ``targets``, ``safety_backup`` and ``error``.

    The run's ``outcome`` is ``restored`` when every host was restored, else
    ``failed``; ``failure`` names the first failed host and its error.
    """
    if not isinstance(host_results, dict) or not host_results:
        raise ValueError("host_results must name at least one host, got %r" % (host_results,))
    hosts = {}
    for host in sorted(host_results):
        result = host_results[host]
        if not result:
            hosts[host] = dict(outcome=NOT_RUN)
            continue
        if not isinstance(result, dict) or result.get("outcome") not in (RESTORED, FAILED):
            raise ValueError("host_results.%s.outcome: expected restored or failed, got %r"
                             % (host, result.get("outcome") if isinstance(result, dict) else result))
        started = _epoch(result.get("started"), "host_results.%s.started" % host)
        finished = _epoch(result.get("finished"), "host_results.%s.finished" % host)
        entry = dict(outcome=result["outcome"], started=_iso(started), finished=_iso(finished),
                     duration=round(finished - started, 1) if started is not None and finished is not None else None)
        entry.update((key, result[key]) for key in HOST_KEYS if result.get(key) not in (None, "", []))
        entry["_epochs"] = (started, finished)
        hosts[host] = entry
    starts = [h["_epochs"][0] for h in hosts.values() if "_epochs" in h and h["_epochs"][0] is not None]
    ends = [h["_epochs"][1] for h in hosts.values() if "_epochs" in h and h["_epochs"][1] is not None]
    for entry in hosts.values():
        entry.pop("_epochs", None)
    outcomes = sorted(set(h["outcome"] for h in hosts.values()))
    failed = [(host, h) for host, h in hosts.items() if h["outcome"] == FAILED]
    report = dict((key, run.get(key)) for key in ("run_id", "what", "archive", "operator", "change_id"))
    report.update(
        kind="restore",
        outcome=RESTORED if outcomes == [RESTORED] else FAILED,
        outcomes=outcomes,
        hosts=hosts,
        failure=("%s: %s" % (failed[0][0], _one_line(failed[0][1].get("error") or "failed")) if failed
                 else "%s not reached" % ", ".join(h for h, e in hosts.items() if e["outcome"] == NOT_RUN)
                 if NOT_RUN in outcomes else None),
        started=_iso(min(starts)) if starts else None,
        finished=_iso(max(ends)) if ends else None,
        duration=round(max(ends) - min(starts), 1) if starts and ends else None,
    )
    return report


def _seconds(value):
    return "%s s" % _number(value) if value is not None else "-"


def _restore_markdown(report):
    lines = [
        "# Restore of %s: %s" % (report.get("what"), report.get("outcome")),
        "",
        "| run | archive asked | operator | change | started | finished | duration |",
        "|---|---|---|---|---|---|---|",
        "| %s | %s | %s | %s | %s | %s | %s |" % (
            report.get("run_id"), report.get("archive") or "-", report.get("operator") or "-",
            report.get("change_id") or "-", report.get("started") or "-", report.get("finished") or "-",
            _seconds(report.get("duration"))),
        "",
    ]
    if report.get("failure"):
        lines += ["**Why:** %s" % report["failure"], ""]
    lines += ["## Hosts", "", "| host | outcome | archive | release | taken | restored | safety backup | duration |",
              "|---|---|---|---|---|---|---|---|"]
    for host, entry in sorted(report["hosts"].items()):
        lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
            host, entry["outcome"], entry.get("archive") or "-", entry.get("release") or "-",
            entry.get("taken") or "-", ", ".join(entry.get("targets") or []) or "-",
            entry.get("safety_backup") or "-", _seconds(entry.get("duration"))))
    errors = [(host, e["error"]) for host, e in sorted(report["hosts"].items()) if e.get("error")]
    if errors:
        lines += ["", "## Errors", ""] + ["- %s: %s" % (host, _one_line(error)) for host, error in errors]
    return lines


def _drill_markdown(report):
    backup = report.get("backup") or {}
    lines = [
        "# DR drill %s: %s" % (report.get("scenario"), "passed" if report.get("passed") else "failed"),
        "",
        "| source | target | restored | release | archive | started | RTO | RPO |",
        "|---|---|---|---|---|---|---|---|",
        "| %s | %s | %s | %s | %s | %s | %s (target %s) | %s (target %s) |" % (
            report.get("source"), report.get("target"), report.get("what"), backup.get("release") or "-",
            backup.get("name") or backup.get("path") or "-", report.get("started_iso") or "-",
            _seconds(report.get("rto_seconds")), _seconds(report.get("rto_target")),
            _seconds(report.get("rpo_seconds")), _seconds(report.get("rpo_target"))),
        "",
        "## Checks",
        "",
    ]
    lines += ["- %s %s: %s" % ("ok" if c.get("ok") else "FAILED", c.get("name"), c.get("message"))
              for c in report.get("checks") or []]
    lines += ["", "## Phases", "", "| phase | seconds |", "|---|---|"]
    lines += ["| %s | %s |" % (p.get("name"), _number(p.get("seconds"))) for p in report.get("phases") or []]
    if (report.get("state") or {}).get("error"):
        lines += ["", "**Error:** %s" % _one_line(report["state"]["error"])]
    return lines


def _kind(kind):
    if kind not in KINDS:
        raise ValueError("kind: expected one of %s, got %r" % (", ".join(KINDS), kind))
    return kind


def render_markdown(report, kind):
    """The restore (``kind=restore``) or drill (``kind=drill``) report as Markdown."""
    if not isinstance(report, dict):
        raise ValueError("report: expected a %s report, got %r" % (kind, report))
    lines = _restore_markdown(report) if _kind(kind) == "restore" else _drill_markdown(report)
    return "\n".join(lines).rstrip("\n") + "\n"


def _paths_line(paths):
    paths = [p for p in (paths or []) if p]
    return "  reports: %s" % (", ".join(paths) if paths else "none written (no report directory set)")


def human_summary(report, paths=None, kind="restore"):
    """A few lines for the end of a restore or a drill: what, from which archive and
    release, duration, outcome (RTO and RPO for a drill), where the reports are."""
    if not isinstance(report, dict):
        raise ValueError("report: expected a %s report, got %r" % (kind, report))
    if _kind(kind) == "drill":
        backup = report.get("backup") or {}
        lines = [
            "drill %s %s -> %s: %s, RTO %s (target %s), RPO %s (target %s)" % (
                report.get("scenario"), report.get("source"), report.get("target"),
                "passed" if report.get("passed") else "FAILED " + ", ".join(report.get("failed_checks") or []),
                _seconds(report.get("rto_seconds")), _seconds(report.get("rto_target")),
                _seconds(report.get("rpo_seconds")), _seconds(report.get("rpo_target"))),
            "  restored %s of release %s from %s (made %s)" % (
                report.get("what"), backup.get("release") or "?", backup.get("name") or backup.get("path") or "?",
                backup.get("created") or "?"),
            "  phases: %s" % " ".join("%s=%s s" % (p.get("name"), _number(p.get("seconds")))
                                      for p in report.get("phases") or []),
        ]
        lines += ["  %s" % c.get("message") for c in report.get("checks") or [] if not c.get("ok")]
        if (report.get("state") or {}).get("error"):
            lines.append("  error: %s" % _one_line(report["state"]["error"]))
    else:
        duration = _seconds(report.get("duration")) if report.get("duration") is not None else "unknown time"
        lines = ["restore of %s: %s after %s (run %s)" % (report.get("what"), report.get("outcome"), duration,
                                                          report.get("run_id"))]
        for host, entry in sorted(report.get("hosts", {}).items()):
            if entry["outcome"] == NOT_RUN:
                lines.append("  %s: not reached" % host)
                continue
            lines.append("  %s: %s %s from %s (release %s, taken %s) in %s; state before: %s" % (
                host, entry["outcome"], ", ".join(entry.get("targets") or []) or report.get("what"),
                entry.get("archive") or "?", entry.get("release") or "?", entry.get("taken") or "?",
                _seconds(entry.get("duration")), entry.get("safety_backup") or "no safety backup"))
            if entry.get("error"):
                lines.append("    error: %s" % _one_line(entry["error"]))
        if report.get("failure"):
            lines.append("  why: %s" % report["failure"])
    lines.append(_paths_line(paths))
    return lines
