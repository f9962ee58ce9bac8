# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The rollback decision: which release to go back to and which slot takes it, for
every app host, from each host's own slots and ledger (not the first host's).

Pure functions over plain data; no AnsibleModule inside.
"""

from __future__ import annotations

from collections.abc import Mapping

from ansible_collections.fleetops.lifecycle.plugins.module_utils.rollout import SLOTS


def _other(slot):
    return "green" if slot == "blue" else "blue"


def _host_facts(releases, host):
    info = releases.get(host)
    if not isinstance(info, Mapping):
        raise ValueError(
            "releases: no slot facts for app host %s (expected {blue, green, last_good, good}), got %r"
            % (host, info)
        )
    good = info.get("good") or []
    if not isinstance(good, (list, tuple)):
        raise ValueError("releases.%s.good: expected a list of releases, newest first, got %r" % (host, good))
    return dict((slot, info.get(slot) or "") for slot in SLOTS), info.get("last_good") or "", list(good)


def _check_live(live):
    if not isinstance(live, Mapping):
        raise ValueError("live: expected the result of the live_slots filter, got %r" % (live,))
    for key in ("old", "new"):
        if live.get(key) not in SLOTS:
            raise ValueError("live.%s: expected blue or green, got %r" % (key, live.get(key)))
    if live["old"] == live["new"]:
        raise ValueError("live: old and new are both %s" % live["old"])


def rollback_plan(live, releases, hosts, requested="", ledger_path="the ledger"):
    """Plan a rollback on ``hosts``.

    :param live: the ``live_slots`` result (``old``, ``new``, ``interrupted``, ``decided_by``).
    :param releases: ``{host: {"blue", "green", "last_good", "good"}}``: what each slot's
        ``current`` link points to, the ledger's last good release and its good releases
        (newest first), per host.
    :param hosts: the app hosts to roll back.
    :param requested: ``rollback_release`` (empty: take it from each host's ledger).
    :param ledger_path: named in the refusal when a ledger has no release to go back to.
    :returns: ``{"target", "target_from", "back_to_last_good", "from_slot", "to_slot",
        "hosts": {host: {"from_release", "target_slot", "swap_to"}}, "refusal"}``.

    After an interrupted rollout (traffic on the slot that does not run the last good
    release, as decided by the ledger) going back means all traffic to the slot of the
    last good release (it still runs) and away from the other. Otherwise the target is
    ``requested`` or the newest good release other than the one the serving slot runs,
    and it goes to the idle slot. Each host is planned from its own facts.

    ``refusal`` is empty when the plan can run; else it says why not, naming the hosts:
    a host whose ledger has no release to go back to, hosts whose ledgers name different
    targets, or a target that already serves all traffic. ``target_slot`` is the slot
    that already holds the target on that host (None: it is installed into ``swap_to``).
    """
    _check_live(live)
    if not isinstance(hosts, (list, tuple)) or not hosts:
        raise ValueError("hosts: expected a non-empty list of app hosts, got %r" % (hosts,))
    if not isinstance(releases, Mapping):
        raise ValueError("releases: expected a mapping of host to slot releases, got %r" % (releases,))
    if requested is None:
        requested = ""
    if not isinstance(requested, str):
        raise ValueError("rollback_release: expected a release id, got %r" % (requested,))
    requested = requested.strip()
    back = bool(live.get("interrupted")) and live.get("decided_by") == "ledger" and not requested
    from_slot = live["new"] if back else live["old"]
    to_slot = _other(from_slot)
    targets, per_host, lacking = {}, {}, []
    for host in hosts:
        slots, last_good, good = _host_facts(releases, host)
        from_release = slots[from_slot]
        if requested:
            target = requested
        elif back:
            target = last_good
        else:
            target = next((release for release in good if release and release != slots[live["old"]]), "")
        if not target:
            lacking.append("%s (serving %s)" % (host, from_release or "nothing"))
        targets[host] = target
        holding = [slot for slot in SLOTS if target and slots[slot] == target]
        per_host[host] = {
            "from_release": from_release,
            "target_slot": to_slot if to_slot in holding else (holding[0] if holding else None),
            "swap_to": to_slot,
        }
    named = sorted(set(target for target in targets.values() if target))
    target = named[0] if len(named) == 1 else ""
    target_from = "rollback_release" if requested else ("last_good" if back else "previous_good")
    refusal = ""
    if lacking:
        refusal = "no previous good release in %s before the serving one on %s" % (ledger_path, ", ".join(lacking))
    elif len(named) > 1:
        refusal = (
            "the hosts' ledgers disagree on the release to roll back to (%s); name one with rollback_release"
            % ", ".join("%s: %s" % (host, targets[host]) for host in hosts)
        )
    elif all(per_host[host]["from_release"] == target for host in hosts):
        refusal = "%s already serves all traffic" % (
            "rollback_release=%s" % target if requested else "the previous good release %s" % target)
    return {
        "target": target,
        "target_from": target_from,
        "back_to_last_good": back,
        "from_slot": from_slot,
        "to_slot": to_slot,
        "hosts": per_host,
        "refusal": refusal,
    }
