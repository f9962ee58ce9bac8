# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Production readiness: judge what readiness.yml read on the hosts. Pure functions.

Input (``facts``), gathered by the readiness role:

- ``now``: epoch seconds.
- ``hosts``: {app host: {backup (backup_status result), ledger (release_ledger read
  result), live_releases ([release of each active slot]), timers ({unit: is-enabled
  word}), secrets ({path: {exists, mode (octal str), pw_name}}), error (str, when the host
  could not be read)}}.
- ``health``: {state: healthy|degraded|down, reasons: [...]} (the fleet role's verdict).
- ``lock``: {exists, path, holder, started, ttl} from the lock host, or {error}.
- ``prometheus``: {rules: [{name, type, health}], alertmanagers: int} or {error}, or
  null when there is no monitoring host.

Every item is pass, fail or not_configured (an optional capability nobody set up: it
is listed but does not count). The score is passed / (passed + failed) as a percentage.
"""

from __future__ import annotations

import json

PASS, FAIL, NOT_CONFIGURED = "pass", "fail", "not_configured"
DAY = 86400.0


def _age(now, epoch):
    return None if epoch is None else max(0.0, now - float(epoch))


def _human(seconds):
    if seconds is None:
        return "never"
    if seconds < 120:
        return "%d s" % seconds
    if seconds < 7200:
        return "%d min" % (seconds // 60)
    if seconds < 2 * DAY:
        return "%.1f h" % (seconds / 3600)
    return "%.1f d" % (seconds / DAY)


def _item(key, title, status, detail, hosts=None):
    return {"id": key, "title": title, "status": status, "detail": detail, "hosts": sorted(hosts or [])}


def _per_host(key, title, hosts, check):
    """One item from a per-host check returning (ok, detail); fails naming the hosts."""
    bad, details = [], []
    for host in sorted(hosts):
        if hosts[host].get("error"):
            ok, detail = False, "not read: %s" % hosts[host]["error"]
        else:
            ok, detail = check(host, hosts[host])
        if not ok:
            bad.append(host)
            details.append("%s: %s" % (host, detail))
    if not hosts:
        return _item(key, title, FAIL, "no app host in the inventory")
    if bad:
        return _item(key, title, FAIL, "; ".join(details), bad)
    return _item(key, title, PASS, "all %d host(s)" % len(hosts))


def backup_fresh(facts, max_age):
    now = facts["now"]

    def check(_host, data):
        status = data.get("backup") or {}
        if status.get("read_error"):
            return False, "backups not read: %s" % status["read_error"]
        newest = status.get("newest")
        if not newest:
            return False, "no complete backup"
        age = _age(now, newest.get("created_epoch"))
        if age > max_age:
            return False, "newest backup %s old (max %s)" % (_human(age), _human(max_age))
        return True, ""

    return _per_host("backup_fresh", "newest backup younger than %s" % _human(max_age), facts["hosts"], check)


def backup_verified(facts, max_age):
    now = facts["now"]

    def check(_host, data):
        status = data.get("backup") or {}
        if status.get("read_error"):
            return False, "backups not read: %s" % status["read_error"]
        verified = status.get("newest_verified")
        if not verified:
            return False, "no verified backup"
        age = _age(now, verified.get("created_epoch"))
        if age > max_age:
            return False, "newest verified backup %s old (max %s)" % (_human(age), _human(max_age))
        newest = status.get("newest") or {}
        if newest.get("last_verification_ok") is False:
            return False, "the newest backup %s failed its last verification" % newest.get("name")
        return True, ""

    return _per_host("backup_verified", "a verified backup younger than %s" % _human(max_age), facts["hosts"], check)


def drill_recent(facts, max_age):
    """At least one passed DR drill within max_age, of any app host's backups."""
    now, best = facts["now"], None
    for host, data in sorted(facts["hosts"].items()):
        drill = (data.get("backup") or {}).get("last_drill")
        if drill and drill.get("passed") and drill.get("started") is not None:
            age = _age(now, drill["started"])
            if best is None or age < best[0]:
                best = (age, host, drill)
    title = "a passed DR drill within %s" % _human(max_age)
    if best is None:
        return _item("drill_recent", title, FAIL, "no passed DR drill recorded on any app host")
    age, host, drill = best
    detail = "last passed drill %s ago (%s -> %s)" % (_human(age), host, drill.get("target"))
    return _item("drill_recent", title, PASS if age <= max_age else FAIL, detail)


def health_green(facts):
    health = facts.get("health") or {}
    state = health.get("state")
    if state == "healthy":
        return _item("health_green", "fleet health green", PASS, "healthy")
    return _item("health_green", "fleet health green", FAIL,
                 "%s: %s" % (state or "unknown", "; ".join(health.get("reasons") or []) or "no health result"))


def lock_free(facts):
    lock = facts.get("lock") or {}
    title = "deploy lock free"
    if lock.get("error"):
        return _item("lock_free", title, FAIL, "lock not read: %s" % lock["error"])
    if not lock.get("exists"):
        return _item("lock_free", title, PASS, "no lock at %s" % lock.get("path"))
    return _item("lock_free", title, FAIL, "%s is held by %s since %s" % (
        lock.get("path"), lock.get("holder") or "unknown", lock.get("started_iso") or lock.get("started") or "?"))


def ledger_consistent(facts):
    def check(_host, data):
        ledger = data.get("ledger") or {}
        if ledger.get("read_error"):
            return False, "ledger not read: %s" % ledger["read_error"]
        problems = []
        if ledger.get("bad_lines"):
            problems.append("%d bad line(s)" % len(ledger["bad_lines"]))
        if ledger.get("torn_lines"):
            problems.append("a torn last line")
        for run in ledger.get("unfinished") or []:
            problems.append("run %s (%s) never finished" % (run.get("run_id"), run.get("release")))
        live = data.get("live_releases") or []
        good = ledger.get("good") or []
        if ledger.get("exists") and ledger.get("last_good") and live and not set(live) & set(good):
            problems.append("live release %s is not a good release of the ledger (last good %s)"
                            % ("/".join(live), ledger.get("last_good")))
        if not live:
            problems.append("no slot is active")
        return not problems, "; ".join(problems)

    return _per_host("ledger_consistent", "release ledger consistent with the live release", facts["hosts"], check)


def timers_enabled(facts):
    def check(_host, data):
        timers = data.get("timers") or {}
        if not timers:
            return False, "no timer checked"
        off = ["%s (%s)" % (unit, word) for unit, word in sorted(timers.items()) if word != "enabled"]
        return not off, "not enabled: %s" % ", ".join(off)

    return _per_host("timers_enabled", "scheduled timers enabled", facts["hosts"], check)


def secrets_private(facts):
    def check(_host, data):
        problems = []
        for path, info in sorted((data.get("secrets") or {}).items()):
            if not info.get("exists"):
                problems.append("%s missing" % path)
            elif int(str(info.get("mode")), 8) & 0o007:
                problems.append("%s is mode %s (world bits set)" % (path, info.get("mode")))
        return not problems, "; ".join(problems)

    return _per_host("secrets_private", "secret files not world-readable", facts["hosts"], check)


def slo_rules(facts):
    title = "SLO rules loaded in Prometheus"
    prom = facts.get("prometheus")
    if prom is None:
        return _item("slo_rules", title, NOT_CONFIGURED, "no monitoring host in the inventory")
    if prom.get("error"):
        return _item("slo_rules", title, FAIL, "Prometheus not read: %s" % prom["error"])
    rules = prom.get("rules") or []
    if not rules:
        return _item("slo_rules", title, NOT_CONFIGURED, "no rule loaded (the slo role has not been applied)")
    broken = [r["name"] for r in rules if r.get("health") not in (None, "ok", "unknown")]
    if broken:
        return _item("slo_rules", title, FAIL, "rules in error: %s" % ", ".join(broken))
    return _item("slo_rules", title, PASS, "%d rule(s) loaded" % len(rules))


def alerts_routed(facts):
    title = "alerts routed to an Alertmanager"
    prom = facts.get("prometheus")
    if prom is None:
        return _item("alerts_routed", title, NOT_CONFIGURED, "no monitoring host in the inventory")
    if prom.get("error"):
        return _item("alerts_routed", title, FAIL, "Prometheus not read: %s" % prom["error"])
    alerting = [r for r in prom.get("rules") or [] if r.get("type") == "alerting"]
    managers = int(prom.get("alertmanagers") or 0)
    if managers:
        return _item("alerts_routed", title, PASS, "%d Alertmanager(s) active" % managers)
    if not alerting:
        return _item("alerts_routed", title, NOT_CONFIGURED, "no alerting rule and no Alertmanager configured")
    return _item("alerts_routed", title, FAIL, "%d alerting rule(s) but no active Alertmanager" % len(alerting))


def assess(facts, backup_max_age=1.1 * DAY, verify_max_age=8 * DAY, drill_max_age=30 * DAY):
    """The readiness report: items, score and the failing items."""
    for name, value in (("backup_max_age", backup_max_age), ("verify_max_age", verify_max_age),
                        ("drill_max_age", drill_max_age)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError("readiness_%s=%r: must be a positive number of seconds" % (name, value))
    facts = dict(facts, now=float(facts["now"]))
    items = [
        backup_fresh(facts, backup_max_age), backup_verified(facts, verify_max_age), drill_recent(facts, drill_max_age),
        health_green(facts), lock_free(facts), ledger_consistent(facts), timers_enabled(facts),
        secrets_private(facts), slo_rules(facts), alerts_routed(facts),
    ]
    passed = [i for i in items if i["status"] == PASS]
    failed = [i for i in items if i["status"] == FAIL]
    counted = len(passed) + len(failed)
    return {
        "time": facts["now"],
        "score": round(100.0 * len(passed) / counted, 1) if counted else 0.0,
        "passed": len(passed),
        "failed": len(failed),
        "not_configured": [i["id"] for i in items if i["status"] == NOT_CONFIGURED],
        "failing": [i["id"] for i in failed],
        "items": items,
    }


def markdown(report):
    """The report as a Markdown page."""
    lines = [
        "# Production readiness",
        "",
        "Score: **%s %%** (%d passed, %d failing, %d not configured)" % (
            report["score"], report["passed"], report["failed"], len(report["not_configured"])),
        "",
        "| check | status | detail |",
        "|---|---|---|",
    ]
    marks = {PASS: "pass", FAIL: "**FAIL**", NOT_CONFIGURED: "not configured"}
    for item in report["items"]:
        lines.append("| %s | %s | %s |" % (item["title"], marks[item["status"]], item["detail"].replace("|", "\\|")))
    if report["failing"]:
        lines += ["", "## Failing", ""]
        lines += ["- %s: %s" % (i["title"], i["detail"]) for i in report["items"] if i["status"] == FAIL]
    return "\n".join(lines) + "\n"


def to_json(report):
    return json.dumps(report, indent=2, sort_keys=True) + "\n"
