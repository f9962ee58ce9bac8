# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The severity a triage proposes (P0-P3), its reasons, and the deadlines that follow from it.

:func:`propose` judges the evidence the hosts returned, worst rule first:

P0 (full outage)
    no server of the backend takes traffic; no app host answered; or a probe whose
    impact is ``P0`` failed (e.g. the request through the load balancer).
P1 (major degradation)
    fewer than ``major_capacity_share`` of the app hosts serve; the error ratio is at or
    above ``major_error_ratio``; no load balancer state could be read; or a ``P1`` probe failed.
P2 (partial)
    some app host does not serve, did not answer or failed its collection; the error
    ratio is at or above the SLO's ``slo_error_ratio``; or a ``P2`` probe failed.
P3 (minor)
    anything else: a failed probe without a listed impact, or no user impact found.

Every matched rule is a reason; the severity is the worst one. :func:`deadlines` turns
the severity and the policy table (response, update and resolution minutes, and the
escalation path) into times.

Pure functions; time comes in as an argument. Python 3.8+, standard library only.
"""

from __future__ import annotations

from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError
from ansible_collections.fleetops.lifecycle.plugins.module_utils.haproxy import (
    current_admin_state,
    server_rows,
    server_weight,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_timeline import iso

SEVERITIES = ("P0", "P1", "P2", "P3")
POLICY_MINUTES = ("response_minutes", "update_minutes", "resolution_minutes")
RULE_DEFAULTS = dict(major_capacity_share=0.5, major_error_ratio=0.05, slo_error_ratio=0.01)


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate_policy(policy, option="severity_policy"):
    """The policy table checked: P0..P3 each with positive minutes and an escalation path."""
    if not isinstance(policy, dict):
        raise ResultError("%s: expected a mapping of P0..P3, got %r" % (option, policy))
    missing = [s for s in SEVERITIES if s not in policy]
    if missing:
        raise ResultError("%s: no entry for %s (every one of P0, P1, P2, P3 needs one)" % (option, ", ".join(missing)))
    for severity in SEVERITIES:
        entry = policy[severity]
        if not isinstance(entry, dict):
            raise ResultError("%s.%s: expected a mapping, got %r" % (option, severity, entry))
        for key in POLICY_MINUTES:
            if not _number(entry.get(key)) or entry[key] <= 0:
                raise ResultError("%s.%s.%s: %r must be a number of minutes above 0"
                                  % (option, severity, key, entry.get(key)))
        path = entry.get("escalation")
        if not isinstance(path, list) or not path:
            raise ResultError("%s.%s.escalation: %r must be a non-empty list of {level, after_minutes, who}"
                              % (option, severity, path))
        for index, step in enumerate(path):
            if not isinstance(step, dict) or not step.get("level") or not _number(step.get("after_minutes")) \
                    or step["after_minutes"] < 0:
                raise ResultError("%s.%s.escalation[%d]: %r needs a level and after_minutes of 0 or more"
                                  % (option, severity, index, step))
    return policy


def validate_rules(rules, option="severity_rules"):
    rules = dict(RULE_DEFAULTS, **(rules or {}))
    for key, value in rules.items():
        if key not in RULE_DEFAULTS:
            raise ResultError("%s.%s: unknown rule (known: %s)" % (option, key, ", ".join(sorted(RULE_DEFAULTS))))
        if not _number(value) or not 0 < value <= 1:
            raise ResultError("%s.%s: %r must be a number above 0 and at most 1" % (option, key, value))
    return rules


def host_serving(rows, backend, host, prefix="{host}-"):
    """Servers of ``host`` in ``backend`` (named ``prefix`` + slot) and whether any takes traffic."""
    start = prefix.replace("{host}", host)
    servers = []
    for row in server_rows(rows, backend):
        if not str(row.get("svname", "")).startswith(start):
            continue
        status = str(row.get("status") or "").upper()
        weight = server_weight(row)
        serving = status.startswith("UP") and weight > 0 and current_admin_state(row) == "ready"
        servers.append(dict(name=row["svname"], status=status, weight=weight, serving=serving))
    return servers


def propose(evidence, rules=None):
    """``{"severity", "reasons": [(severity, text)...]}`` from the triage evidence.

    ``evidence``: ``app_hosts`` (names), ``hosts`` ({name: {"status", "message", "probes"}}),
    ``servers`` ({host: [server dicts]} or None without load balancer state), ``backend``,
    ``error_ratio`` (float or None), ``probe_impact`` ({probe name: severity}).
    """
    rules = validate_rules(rules)
    reasons = []
    hosts = evidence.get("hosts", {})
    app_hosts = list(evidence.get("app_hosts", []))
    servers = evidence.get("servers")
    impact = evidence.get("probe_impact", {})

    def reason(severity, text):
        reasons.append((severity, text))

    answered = [h for h in app_hosts if hosts.get(h, {}).get("status") == "collected"]
    for host in app_hosts:
        state = hosts.get(host, {"status": "missing", "message": "no result"})
        if state.get("status") != "collected":
            reason("P2", "%s: %s (%s)" % (host, state.get("status"), state.get("message") or "no message"))
    if app_hosts and not answered:
        reason("P0", "no app host answered the triage (%d of %d)" % (len(app_hosts), len(app_hosts)))

    if servers is None:
        reason("P1", "no load balancer state could be read: serving capacity unknown")
    elif app_hosts:
        serving = [h for h in app_hosts if any(s["serving"] for s in servers.get(h, []))]
        not_serving = [h for h in app_hosts if h not in serving]
        backend = evidence.get("backend", "?")
        if not serving:
            reason("P0", "no server of backend %s takes traffic (0 of %d app hosts serve)" % (backend, len(app_hosts)))
        elif len(serving) < rules["major_capacity_share"] * len(app_hosts):
            reason("P1", "only %d of %d app hosts serve in backend %s (below %g%%)"
                   % (len(serving), len(app_hosts), backend, 100 * rules["major_capacity_share"]))
        for host in not_serving:
            states = ", ".join("%s %s w=%s" % (s["name"], s["status"], s["weight"]) for s in servers.get(host, []))
            reason("P2", "%s serves no traffic (%s)" % (host, states or "no server in backend %s" % backend))

    ratio = evidence.get("error_ratio")
    if _number(ratio):
        if ratio >= rules["major_error_ratio"]:
            reason("P1", "error ratio %.4f at or above %.4f" % (ratio, rules["major_error_ratio"]))
        elif ratio >= rules["slo_error_ratio"]:
            reason("P2", "error ratio %.4f at or above the SLO's %.4f" % (ratio, rules["slo_error_ratio"]))

    for host in sorted(hosts):
        for probe in hosts[host].get("probes") or []:
            if not probe.get("ok"):
                level = impact.get(probe.get("name"), "P3")
                if level not in SEVERITIES:
                    level = "P3"
                reason(level, "%s: probe %s failed: %s" % (host, probe.get("name"), probe.get("message")))

    if not reasons:
        reason("P3", "no user impact found: every app host serves and every probe passed")
    severity = min(level for level, _ in reasons)
    reasons.sort(key=lambda item: item[0])
    return dict(severity=severity, reasons=["%s: %s" % item for item in reasons])


def deadlines(severity, policy, now):
    """Response, update and resolution times and the escalation steps for ``severity``."""
    entry = policy[severity]
    return dict(
        severity=severity,
        meaning=entry.get("meaning", ""),
        response_minutes=entry["response_minutes"],
        update_minutes=entry["update_minutes"],
        resolution_minutes=entry["resolution_minutes"],
        respond_by=iso(now + 60 * entry["response_minutes"]),
        first_update_by=iso(now + 60 * entry["update_minutes"]),
        resolve_by=iso(now + 60 * entry["resolution_minutes"]),
        escalation=[dict(step, at=iso(now + 60 * step["after_minutes"])) for step in entry["escalation"]],
    )
