# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Fleet view of health_check results: a text table and a healthy / degraded / down state.

Pure functions, standard library only (Python 3.8+). Bad input raises ``ValueError``
whose message names the argument and the value.

Input
-----
``results`` is either a mapping host -> the registered result of ``health_check`` on
that host, or a list of such results each with a ``host`` key (``inventory_hostname``
is accepted too). A host counts as healthy when its result has ``probes`` and every
probe passed. A result marked ``unreachable``, one without ``probes`` (the task failed
before probing, was skipped, or nothing was registered) makes the host unhealthy with
the reason in the result's ``msg``.

State
-----
:func:`fleet_state` classifies the fleet from the results and the tier membership
(``tiers``: tier -> list of hosts):

``down``
    some tier has no healthy host (a host of a tier with no result counts as
    unhealthy), or the through-LB probe (``lb_probe``) failed on every host that ran
    it, or ran on none.
``degraded``
    not down, but some host is unhealthy (in a tier or not), or the through-LB probe
    failed on some of the hosts that ran it.
``healthy``
    every host has a result and every probe passed.
"""

from __future__ import annotations

from collections.abc import Mapping

STATES = ("healthy", "degraded", "down")


def _entry(host, result):
    """{host, ok, probes, problem}: ``problem`` explains a host without probe results."""
    if not isinstance(result, Mapping):
        return {"host": host, "ok": False, "probes": [], "problem": "no health_check result"}
    if result.get("unreachable"):
        return {"host": host, "ok": False, "probes": [],
                "problem": "unreachable: %s" % (result.get("msg") or "no message")}
    probes = result.get("probes")
    if not isinstance(probes, list) or not probes:
        if result.get("skipped"):
            problem = "health check skipped"
        elif result.get("failed"):
            problem = "health check failed: %s" % (result.get("msg") or "no message")
        else:
            problem = "no health_check result"
        return {"host": host, "ok": False, "probes": [], "problem": problem}
    clean = []
    for index, probe in enumerate(probes):
        if not isinstance(probe, Mapping) or "name" not in probe or "ok" not in probe:
            raise ValueError("results[%r].probes[%d] is not a health_check probe result (name, ok, message): %r"
                             % (host, index, probe))
        clean.append(probe)
    return {"host": host, "ok": all(bool(p["ok"]) for p in clean), "probes": clean, "problem": None}


def normalize(results):
    """Host entries in input order; raises ValueError for results of the wrong shape."""
    entries = []
    if isinstance(results, Mapping):
        items = list(results.items())
    elif isinstance(results, (list, tuple)):
        items = []
        for index, result in enumerate(results):
            host = result.get("host", result.get("inventory_hostname")) if isinstance(result, Mapping) else None
            if not isinstance(host, str) or not host:
                raise ValueError("results[%d] has no host name (a 'host' key), got %r" % (index, result))
            items.append((host, result))
    else:
        raise ValueError("results must be a mapping host -> health_check result or a list of results with a "
                         "'host' key, got %r" % (results,))
    seen = set()
    for host, result in items:
        if not isinstance(host, str) or not host:
            raise ValueError("results: host names must be non-empty strings, got %r" % (host,))
        if host in seen:
            raise ValueError("results: host %r appears twice" % host)
        seen.add(host)
        entries.append(_entry(host, result))
    return entries


def _one_line(text):
    return " ".join(str(text).split())


def health_table(results):
    """A fixed-width table host x probe (``ok``, ``FAIL [n]``, ``-`` not run) and a legend.

    The last column is the host's state: ``ok``, ``FAIL`` or the host-level problem with
    its legend number. The legend lists every failing probe's message, ``[n] host probe:
    message``, and every host-level problem.
    """
    entries = normalize(results)
    if not entries:
        return "no health results"
    columns = []
    for entry in entries:
        for probe in entry["probes"]:
            if probe["name"] not in columns:
                columns.append(probe["name"])
    header = ["host"] + columns + ["state"]
    rows, legend = [], []
    for entry in entries:
        by_name = dict((probe["name"], probe) for probe in entry["probes"])
        row = [entry["host"]]
        for name in columns:
            probe = by_name.get(name)
            if probe is None:
                row.append("-")
            elif probe["ok"]:
                row.append("ok")
            else:
                legend.append("[%d] %s %s: %s" % (len(legend) + 1, entry["host"], name,
                                                   _one_line(probe.get("message") or "failed")))
                row.append("FAIL [%d]" % len(legend))
        if entry["problem"]:
            legend.append("[%d] %s: %s" % (len(legend) + 1, entry["host"], _one_line(entry["problem"])))
            row.append("%s [%d]" % ("UNREACHABLE" if entry["problem"].startswith("unreachable") else "NO RESULT",
                                    len(legend)))
        else:
            row.append("ok" if entry["ok"] else "FAIL")
        rows.append(row)
    widths = [max(len(row[i]) for row in [header] + rows) for i in range(len(header))]

    def line(cells):
        return "  ".join(cell.ljust(width) for cell, width in zip(cells, widths)).rstrip()

    lines = [line(header), line(["-" * width for width in widths])]
    lines.extend(line(row) for row in rows)
    healthy = sum(1 for entry in entries if entry["ok"])
    lines.append("")
    lines.append("%d of %d hosts healthy" % (healthy, len(entries)))
    if legend:
        lines.append("")
        lines.extend(legend)
    return "\n".join(lines) + "\n"


def _tier_hosts(tiers):
    """``(tier -> hosts, tier -> probe names or None)`` from the ``tiers`` argument."""
    if not isinstance(tiers, Mapping) or not tiers:
        raise ValueError("tiers must be a non-empty mapping tier -> list of hosts, got %r" % (tiers,))
    out, probes = {}, {}
    for tier, listed in tiers.items():
        members = listed.get("hosts") if isinstance(listed, Mapping) else listed
        if (not isinstance(members, (list, tuple)) or not members
                or not all(isinstance(host, str) and host for host in members)):
            raise ValueError("tiers[%r] must be a non-empty list of host names (or a mapping with 'hosts'), got %r"
                             % (tier, members))
        out[str(tier)] = list(members)
        owned = listed.get("probes") if isinstance(listed, Mapping) else None
        if owned is not None and (not isinstance(owned, (list, tuple)) or not all(isinstance(n, str) for n in owned)):
            raise ValueError("tiers[%r].probes must be a list of probe names, got %r" % (tier, owned))
        probes[str(tier)] = None if owned is None else set(owned)
    return out, probes


def _bad_for_tier(entry, tier_probes, owned):
    """Whether a host fails a tier: any failure, or with ``tier_probes`` only the tier's
    own failing probes and those no tier owns (e.g. disk)."""
    if not entry:
        return True
    if tier_probes is None or entry["problem"]:
        return not entry["ok"]
    return any(not p["ok"] and (p["name"] in tier_probes or p["name"] not in owned) for p in entry["probes"])


def _why(entry):
    if entry is None:
        return "no health result"
    if entry["problem"]:
        return entry["problem"]
    return "failed %s" % ", ".join(p["name"] for p in entry["probes"] if not p["ok"])


def fleet_state(results, tiers, lb_probe=None):
    """Classify the fleet as healthy, degraded or down (see the module docstring).

    :param results: mapping host -> health_check result, or a list of results with ``host``.
    :param tiers: mapping tier -> list of host names, or -> ``{hosts: [...], probes: [...]}``
        where ``probes`` names the probes of the tier: a host then fails the tier only on
        those or on probes no tier names (two tiers on one host are judged apart).
    :param lb_probe: name (or list of names) of the probe(s) that check the service
        through the load balancer; optional.
    :returns: ``{state, reasons, tiers: {tier: {hosts, healthy, unhealthy, unhealthy_hosts}},
        hosts: {total, healthy, unhealthy}, unhealthy_hosts, lb}``.
    """
    entries = normalize(results)
    by_host = dict((entry["host"], entry) for entry in entries)
    tier_hosts, tier_probes = _tier_hosts(tiers)
    owned = set().union(*[names for names in tier_probes.values() if names])
    if lb_probe is None:
        lb_names = []
    elif isinstance(lb_probe, str) and lb_probe:
        lb_names = [lb_probe]
    elif isinstance(lb_probe, (list, tuple)) and all(isinstance(n, str) and n for n in lb_probe):
        lb_names = list(lb_probe)
    else:
        raise ValueError("lb_probe must be a probe name or a list of probe names, got %r" % (lb_probe,))

    down, degraded = [], []
    tier_counts = {}
    tiered = set()
    for tier, members in tier_hosts.items():
        bad = [host for host in members if _bad_for_tier(by_host.get(host), tier_probes[tier], owned)]
        tiered.update(members)
        tier_counts[tier] = {"hosts": len(members), "healthy": len(members) - len(bad), "unhealthy": len(bad),
                             "unhealthy_hosts": bad}
        details = "; ".join("%s: %s" % (host, _why(by_host.get(host))) for host in bad)
        if len(bad) == len(members):
            down.append("tier %s has no healthy host (%s)" % (tier, details))
        elif bad:
            degraded.append("tier %s has %d of %d hosts unhealthy (%s)" % (tier, len(bad), len(members), details))
    for entry in entries:
        if entry["host"] not in tiered and not entry["ok"]:
            degraded.append("host %s (in no tier) is unhealthy: %s" % (entry["host"], _why(entry)))

    lb = {}
    for name in lb_names:
        ran = [(entry["host"], probe) for entry in entries for probe in entry["probes"] if probe["name"] == name]
        failed = [(host, probe) for host, probe in ran if not probe["ok"]]
        lb[name] = {"ran_on": [host for host, _ in ran], "failed_on": [host for host, _ in failed]}
        details = "; ".join("%s: %s" % (host, _one_line(probe.get("message") or "failed")) for host, probe in failed)
        if not ran:
            down.append("through-LB probe %s ran on no host, the service path is unknown" % name)
        elif len(failed) == len(ran):
            down.append("through-LB probe %s failed on every host that ran it (%s)" % (name, details))
        elif failed:
            degraded.append("through-LB probe %s failed on %d of %d hosts (%s)"
                            % (name, len(failed), len(ran), details))

    unhealthy = [entry["host"] for entry in entries if not entry["ok"]]
    unhealthy += [host for host in sorted(tiered) if host not in by_host]
    if down:
        state, reasons = "down", down + degraded
    elif degraded:
        state, reasons = "degraded", degraded
    else:
        state = "healthy"
        reasons = ["every probe passed on all %d hosts" % len(entries)]
    total = len(set(by_host) | tiered)
    return {
        "state": state,
        "reasons": reasons,
        "tiers": tier_counts,
        "hosts": {"total": total, "healthy": total - len(unhealthy), "unhealthy": len(unhealthy)},
        "unhealthy_hosts": unhealthy,
        "lb": lb,
    }
