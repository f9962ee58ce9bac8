# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The DR drill's scenario, report (RTO, RPO, checks, verdict) and its JUnit form.

Pure functions over plain data, standard library only, run as filters by the DR drill.
Bad input raises ``ValueError`` naming the option and the value.
"""

from __future__ import annotations

import time
from xml.sax.saxutils import escape, quoteattr

from ansible_collections.fleetops.lifecycle.plugins.module_utils.durations import positive_seconds, seconds

DRILL_SCENARIOS = {"host_loss": "both", "data_corruption": "state", "config_loss": "config"}


def scenario_what(scenario, option="drill_scenario"):
    """What a drill scenario restores: host_loss both, data_corruption state, config_loss config."""
    if scenario not in DRILL_SCENARIOS:
        raise ValueError("%s=%r: must be one of %s" % (option, scenario, ", ".join(sorted(DRILL_SCENARIOS))))
    return DRILL_SCENARIOS[scenario]


def drill_report(drill):
    """RTO, RPO and the verdict of a DR drill.

    ``drill``: ``source``, ``target``, ``scenario``, ``started`` (epoch of the drill start),
    ``backup`` (``created_epoch`` required; archive, release, manifest_sha256 are reported),
    ``phases`` (``[{"name", "start", "end"}]`` epochs, in order) or ``marks``
    (``[{"phase", "at"}]``, the end of each phase, the first starting at ``started``), ``rto_target`` and
    ``rpo_target`` (seconds > 0), ``healthy`` (bool) and ``state`` (the result of
    :func:`restore_check.manifest_compare`). RTO is the drill start to the end of the last phase (the
    service answering healthy); RPO is the drill start minus the backup's created time,
    the data a real loss at the drill start would have lost.
    """
    rto_target = positive_seconds(drill.get("rto_target"), "drill_rto_target")
    rpo_target = positive_seconds(drill.get("rpo_target"), "drill_rpo_target")
    scenario_what(drill.get("scenario"))
    started = seconds(drill.get("started"), "started")
    created = seconds((drill.get("backup") or {}).get("created_epoch"), "backup.created_epoch")
    phases = []
    marks = drill.get("marks")
    if marks is not None:
        # Marks taken at the end of each phase: a phase runs from the mark before it.
        points = [started] + [seconds(m.get("at"), "marks.at") for m in marks]
        drill = dict(drill, phases=[dict(name=m.get("phase"), start=points[i], end=points[i + 1])
                                    for i, m in enumerate(marks)])
    for phase in drill.get("phases") or []:
        start, end = seconds(phase.get("start"), "phases.start"), seconds(phase.get("end"), "phases.end")
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
