# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The report of one deploy run: built from each host's ledger summary of the run
(``ledger.summarize_run``), written as JSON and Markdown and printed as a short human
summary. Pure functions, so every outcome (promoted, rolled back, failed, interrupted)
is tested.

Outcomes: ``promoted``; ``rolled_back`` (traffic had moved to the new release and went
back); ``failed`` (the run stopped before any traffic moved, e.g. the release could not
start, or a host ended without an outcome); ``interrupted`` (the run started and its
controller stopped before it recorded an outcome: closed by the next run that holds the
deploy lock, or seen by the report command while no live lock holds it); ``rollback``
(rollback.yml's own run); ``in_progress`` (a live run, seen by the report command)."""

from __future__ import annotations

import datetime

from ansible_collections.fleetops.lifecycle.plugins.module_utils import lock as deploy_lock

# A host whose ledger holds no terminal record of a run that has ended: the run failed
# there (e.g. the rollback itself failed) or the host could not be read.
FAILED = "failed"
UNKNOWN = "unknown"
# Outcomes a run has when every host reached the same one (rollback: rollback.yml's run).
SHARED_OUTCOMES = ("promoted", "rolled_back", "rollback", "interrupted")


def _parse_ts(value):
    if not value:
        return None
    try:
        return datetime.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ")
    except ValueError:
        return None


def _percent(value):
    if value is None:
        return "n/a"
    text = "%.3g" % (value * 100)
    return "%s %%" % text


def _number(value):
    if value is None:
        return "n/a"
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return "%s" % value


def condition_values(condition):
    """One line for a gate condition: verdict, the measurement over the stage with its
    counts, and the threshold it was held to."""
    name, kind = condition.get("name", "?"), condition.get("type")
    verdict = condition.get("verdict", "?")
    comparison = condition.get("comparison", ">")
    threshold = condition.get("threshold")
    if kind == "availability":
        value = "%s (%s of %s probes up)" % (_percent(condition.get("stage_availability")),
                                            _number(condition.get("up")), _number(condition.get("probes")))
        limit = "%s %s" % (comparison, _percent(threshold))
    elif kind == "health":
        failing = [sample[1] for sample in condition.get("samples") or [] if sample and sample[1] is not None]
        value = "%s failing probe(s) at most in %d sample(s)" % (_number(max(failing) if failing else None),
                                                                len(condition.get("samples") or []))
        limit = "%s %s" % (comparison, _number(threshold))
    elif kind == "latency":
        value = "p%s %s s, %s slower (%s of %s)" % (
            _number(round((condition.get("percentile") or 0) * 100, 3)), _number(condition.get("stage_quantile")),
            _percent(condition.get("stage_ratio")), _number(condition.get("bad")), _number(condition.get("total")))
        limit = "%s %s s" % (comparison, _number(threshold))
    else:
        value = "%s (%s of %s requests)" % (_percent(condition.get("stage_ratio")), _number(condition.get("bad")),
                                            _number(condition.get("total")))
        limit = "%s %s" % (comparison, _percent(threshold))
    return "%s %s: %s, bad when %s" % (name, verdict, value, limit)


def _stage(gate_entry):
    gate = gate_entry.get("gate") or {}
    conditions = gate.get("conditions") or []
    return dict(
        stage=gate_entry.get("stage"),
        slot=gate_entry.get("slot"),
        verdict=gate.get("verdict"),
        action=gate.get("action"),
        summary=gate.get("summary"),
        conditions=[condition_values(c) for c in conditions],
        failed_conditions=[
            dict((key, c.get(key)) for key in (
                "name", "type", "verdict", "threshold", "comparison", "stage_ratio", "bad", "total",
                "stage_availability", "up", "probes", "stage_quantile", "percentile", "reason")
                if c.get(key) is not None)
            for c in conditions if c.get("verdict") not in ("pass", None)
        ],
    )


INTERRUPTED = "interrupted"
IN_PROGRESS = "in_progress"


def unfinished_verdict(run_id, lock_text, now):
    """Whether a run whose ledger has no outcome is still running or was interrupted.

    ``lock_text``: the deploy lock file's text, or None when there is no lock file.
    The run is alive only while the lock names it (its holder ends in ``run
    <run_id>``) and has not outlived its TTL; otherwise its controller stopped before
    the end. Returns ``(outcome, why)``: ``in_progress`` or ``interrupted``.
    """
    if not isinstance(run_id, str) or not run_id.strip():
        raise ValueError("run_id must be a run's id, got %r" % (run_id,))
    if not _is_number(now):
        raise ValueError("now must be epoch seconds, got %r" % (now,))
    if lock_text is None:
        held = "no deploy lock is held"
    else:
        lock = deploy_lock.parse_lock(lock_text)
        if not deploy_lock.is_readable(lock):
            held = "the deploy lock cannot be read (%s)" % lock["unreadable"]
        elif lock["holder"].endswith(" run %s" % run_id):
            if not deploy_lock.is_stale(lock, now):
                return IN_PROGRESS, "run %s holds the deploy lock and is still running" % run_id
            held = "its deploy lock outlived its TTL (since %s, ttl %s s)" % (lock["started_iso"], lock["ttl"])
        else:
            held = "the deploy lock is held by %s" % lock["holder"]
    return INTERRUPTED, ("run %s recorded no outcome and %s: its controller stopped before the end; the next "
                         "deploy or rollback closes it in the ledger" % (run_id, held))


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def closed_run_by_host(closings, run_id):
    """``{host: summary}`` of one run closed as interrupted, from each host's ``closed``.

    ``closings``: ``{host: the closed list release_ledger's close_unfinished_by returned
    there}`` (None or absent where the task did not run). A host that did not close the
    run gets ``{}``, as a read finding no record of it would."""
    if not isinstance(closings, dict):
        raise ValueError("closings must map each host to the runs closed there, got %r" % (closings,))
    if not isinstance(run_id, str) or not run_id.strip():
        raise ValueError("run_id must be a run's id, got %r" % (run_id,))
    by_host = {}
    for host, closed in closings.items():
        if closed is not None and not isinstance(closed, list):
            raise ValueError("closings[%r] must be the list of runs closed there, got %r" % (host, closed))
        found = [entry.get("run") for entry in closed or []
                 if isinstance(entry, dict) and entry.get("run_id") == run_id]
        by_host[host] = (found[0] or {}) if found else {}
    return by_host


def build_report(run, host_runs, failure=None, ended=True, *, interrupted=False, host_errors=None):
    """The run's report.

    ``run``: ``run_id``, ``release``, ``operator``, ``change_id`` (what the play knows).
    ``host_runs``: host -> the ledger's summary of the run on that host, or None when
    it has none (a host that could not be read). ``failure``: why the run did not
    promote, if it did not. ``ended``: the run is over, so a host still
    ``in_progress`` failed there. ``interrupted``: the run's controller stopped before
    the end (:func:`unfinished_verdict`), so a host still ``in_progress`` counts as
    ``interrupted``. ``host_errors``: host -> what failed there (e.g. why its new slot
    did not start), kept as that host's ``error``. ``run`` may carry ``closed``: the
    interrupted runs this run closed (run_id, release, started, report), kept as is.

    Returns the run's fields, ``outcome`` (``promoted``, ``rolled_back``, ``rollback``
    or ``interrupted`` when every host reached it, else ``failed``), ``outcomes`` (the
    distinct host outcomes), ``hosts`` (host -> its summary with its outcome),
    ``stages`` (per gate of the first host that has gates: stage, verdict, one line
    per condition and the failed conditions with their values), ``failure``,
    ``started``, ``finished`` and ``duration`` (seconds, or None).
    """
    if not isinstance(host_runs, dict) or not host_runs:
        raise ValueError("host_runs must name at least one host, got %r" % (host_runs,))
    if host_errors is not None and not isinstance(host_errors, dict):
        raise ValueError("host_errors must map a host to its error, got %r" % (host_errors,))
    hosts = {}
    for host in sorted(host_runs):
        summary = dict(host_runs[host] or {})
        outcome = summary.get("outcome") or UNKNOWN
        if outcome == IN_PROGRESS and interrupted:
            outcome = INTERRUPTED
        elif outcome == IN_PROGRESS and ended:
            outcome = FAILED
        summary["outcome"] = outcome
        error = (host_errors or {}).get(host)
        if error:
            summary["error"] = error
        hosts[host] = summary
    outcomes = sorted(set(summary["outcome"] for summary in hosts.values()))
    if len(outcomes) == 1 and outcomes[0] in SHARED_OUTCOMES:
        outcome = outcomes[0]
    elif failure is None and outcomes == [IN_PROGRESS]:
        outcome = IN_PROGRESS
    else:
        outcome = FAILED
    gates = next((summary.get("gates") for summary in hosts.values() if summary.get("gates")), []) or []
    starts = [t for t in (_parse_ts(s.get("started")) for s in hosts.values()) if t]
    ends = [t for t in (_parse_ts(s.get("finished")) for s in hosts.values()) if t]
    duration = (max(ends) - min(starts)).total_seconds() if starts and ends else None
    report = dict((key, run.get(key)) for key in ("run_id", "release", "operator", "change_id"))
    report.update(
        outcome=outcome,
        outcomes=outcomes,
        hosts=hosts,
        stages=[_stage(gate) for gate in gates],
        failure=failure or next((s.get("message") for s in hosts.values() if s.get("message")), None),
        started=min(starts).strftime("%Y-%m-%dT%H:%M:%SZ") if starts else None,
        finished=max(ends).strftime("%Y-%m-%dT%H:%M:%SZ") if ends else None,
        duration=round(duration, 1) if duration is not None else None,
    )
    if run.get("closed"):
        report["closed"] = list(run["closed"])
    return report


def _one_line(text):
    return " ".join(("%s" % text).split())


def _stage_title(stage):
    where = "%s%%" % _number(stage["stage"]) if stage.get("stage") is not None else "stage"
    return "%s: %s" % (where, (stage.get("verdict") or "?").upper())


def render_markdown(report, title="Deploy"):
    """The report as a Markdown page."""
    lines = [
        "# %s %s: %s" % (title, report.get("release"), report.get("outcome")),
        "",
        "| run | operator | change | started | finished | duration |",
        "|---|---|---|---|---|---|",
        "| %s | %s | %s | %s | %s | %s |" % (
            report.get("run_id"), report.get("operator") or "-", report.get("change_id") or "-",
            report.get("started") or "-", report.get("finished") or "-",
            "%s s" % _number(report["duration"]) if report.get("duration") is not None else "-"),
        "",
    ]
    if report.get("failure"):
        lines += ["**Why:** %s" % report["failure"], ""]
    lines += ["## Hosts", "", "| host | outcome | events |", "|---|---|---|"]
    for host, summary in sorted(report.get("hosts", {}).items()):
        lines.append("| %s | %s | %s |" % (host, summary.get("outcome"), ", ".join(summary.get("events") or []) or "-"))
    lines.append("")
    errors = [(host, summary["error"]) for host, summary in sorted(report.get("hosts", {}).items())
              if summary.get("error")]
    if errors:
        lines += ["## Errors", ""] + ["- %s: %s" % (host, _one_line(error)) for host, error in errors] + [""]
    if report.get("closed"):
        lines += ["## Interrupted runs closed by this run", "", "| run | release | started | report |",
                  "|---|---|---|---|"]
        lines += ["| %s | %s | %s | %s |" % (c.get("run_id"), c.get("release") or "-", c.get("started") or "-",
                                             c.get("report") or "-") for c in report["closed"]]
        lines.append("")
    if report.get("stages"):
        lines += ["## Stages", ""]
        for stage in report["stages"]:
            lines.append("### %s" % _stage_title(stage))
            lines.append("")
            lines += ["- %s" % line for line in stage["conditions"]]
            if stage.get("summary"):
                lines += ["", "> %s" % stage["summary"]]
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def human_summary(report, paths=None, title="deploy"):
    """A few lines for the end of a run: release, stages with verdicts and values,
    duration, outcome per host and where the reports are."""
    duration = "%s s" % _number(report["duration"]) if report.get("duration") is not None else "unknown time"
    lines = ["%s %s: %s after %s (run %s)" % (title, report.get("release"), report.get("outcome"), duration,
                                             report.get("run_id"))]
    for stage in report.get("stages") or []:
        lines.append("  %s  %s" % (_stage_title(stage), "; ".join(stage["conditions"]) or "-"))
    by_outcome = {}
    for host, summary in sorted(report.get("hosts", {}).items()):
        by_outcome.setdefault(summary.get("outcome"), []).append(host)
    lines.append("  hosts: %s" % "; ".join("%s %s" % (outcome, ", ".join(hosts))
                                           for outcome, hosts in sorted(by_outcome.items())))
    if report.get("failure") and report.get("outcome") != "promoted":
        lines.append("  why: %s" % report["failure"])
    for host, summary in sorted(report.get("hosts", {}).items()):
        if summary.get("error"):
            lines.append("  %s: %s" % (host, _one_line(summary["error"])))
    for closed in report.get("closed") or []:
        lines.append("  closed interrupted run %s (%s, started %s)%s" % (
            closed.get("run_id"), closed.get("release") or "?", closed.get("started") or "?",
            ": report %s" % closed["report"] if closed.get("report") else ""))
    paths = [p for p in (paths or []) if p]
    lines.append("  reports: %s" % (", ".join(paths) if paths else "none written (no report directory set)"))
    return lines
