# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The bundle's ``summary.html``: severity and deadlines, hosts, problems, the newest timeline lines.

One self-contained page (no scripts, no external resources); every value is escaped,
since collected text is hostile input. Pure function; standard library only.
"""

from __future__ import annotations

import html

from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_timeline import iso

_STYLE = ("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
          "td,th{border:1px solid #bbb;padding:2px 6px;text-align:left;vertical-align:top}"
          "pre{background:#f4f4f4;padding:6px;overflow-x:auto}.P0,.P1{color:#b00}.P2{color:#b60}")


def _e(value):
    return html.escape("" if value is None else str(value))


def _table(headers, rows):
    head = "".join("<th>%s</th>" % _e(h) for h in headers)
    body = "".join("<tr>%s</tr>" % "".join("<td>%s</td>" % _e(c) for c in row) for row in rows)
    return "<table><tr>%s</tr>%s</table>" % (head, body)


def summary_html(manifest, severity, reports, timeline, lines=200):
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'><title>%s</title><style>%s</style></head><body>"
             % (_e(manifest["name"]), _STYLE)]
    parts.append("<h1>Incident triage %s</h1><p>Created %s, window since %s.</p>"
                 % (_e(manifest["name"]), _e(manifest["created"]), _e(manifest.get("since"))))
    parts.append("<h2 class='%s'>Proposed severity %s: %s</h2>"
                 % (_e(severity["severity"]), _e(severity["severity"]), _e(severity.get("meaning"))))
    parts.append("<ul>%s</ul>" % "".join("<li>%s</li>" % _e(r) for r in severity["reasons"]))
    parts.append(_table(["respond by", "first update by (then every)", "resolve by"], [[
        "%s (%s min)" % (severity["respond_by"], severity["response_minutes"]),
        "%s (%s min)" % (severity["first_update_by"], severity["update_minutes"]),
        "%s (%s min)" % (severity["resolve_by"], severity["resolution_minutes"]),
    ]]))
    parts.append("<h3>Escalation</h3>")
    parts.append(_table(["level", "who", "after (min)", "at"],
                        [[s.get("level"), s.get("who", ""), s.get("after_minutes"), s.get("at")]
                         for s in severity["escalation"]]))
    parts.append("<h2>Hosts</h2>")
    rows = []
    for host, state in sorted(manifest["hosts"].items()):
        report = reports.get(host) or {}
        problems = [i for i in report.get("items", []) if i.get("status") in ("error", "timeout", "truncated",
                                                                                "omitted")]
        rows.append([host, state["status"], state.get("message", ""), report.get("bytes", ""),
                     ", ".join("%s=%s" % kv for kv in sorted((report.get("redactions") or {}).items())),
                     "; ".join("%s %s: %s" % (p["status"], p["name"], p.get("message", "")) for p in problems[:12])])
    parts.append(_table(["host", "status", "message", "bytes", "redactions", "items not fully collected"], rows))
    probe_rows = [[host, p.get("name"), "ok" if p.get("ok") else "FAILED", p.get("message")]
                  for host, report in sorted(reports.items()) for p in report.get("probes") or []]
    if probe_rows:
        parts.append("<h2>Health probes</h2>" + _table(["host", "probe", "result", "message"], probe_rows))
    unit_rows = [[host, unit, s.get("ActiveState"), s.get("SubState"), s.get("NRestarts"), s.get("Result")]
                 for host, report in sorted(reports.items()) for unit, s in sorted((report.get("units") or {}).items())]
    if unit_rows:
        parts.append("<h2>Units</h2>" + _table(["host", "unit", "active", "sub", "restarts", "result"], unit_rows))
    newest = timeline[-lines:]
    parts.append("<h2>Timeline (newest %d of %d events; all in timeline.txt)</h2><pre>%s</pre>" % (
        len(newest), len(timeline),
        _e("".join("%s %s %s %s\n" % (iso(e["ts"]), e["host"], e["source"], e["text"]) for e in newest))))
    parts.append("<p>Files and their sha256 are in manifest.json and SHA256SUMS. Secrets are replaced by "
                 "REDACTED-&lt;token&gt;; the map back is on the controller that made this bundle, not in it.</p>")
    parts.append("</body></html>\n")
    return "".join(parts)
