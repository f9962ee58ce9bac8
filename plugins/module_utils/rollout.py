# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Canary rollout planning: traffic stages, HAProxy weights and host batches.

Pure functions, standard library only (they may run on managed hosts, Python 3.8+).
Bad input raises ``ValueError`` whose message names the option and the value.

Model
-----
A rollout walks through *cumulative* traffic targets in percent, e.g. the default
``[10, 50, 100]``: after stage 1 the new release serves 10% of the traffic, after
stage 2 50%, after stage 3 all of it.

Traffic weights: every app host has two servers in the HAProxy backend, the old slot
and the new slot. With ``balance roundrobin`` HAProxy shares requests in proportion to
server weights across *all* servers of the backend, so the new release's share is
``sum(new) / sum(new + old)``. Each host keeps ``new + old == max_weight`` so that
every host keeps receiving the same share of traffic as before the rollout; only the
split inside each host moves. See :func:`traffic_weights` for the exact rounding.

Host batches: when a stage must be rolled host by host (instead of by weights), the
batch of stage *i* brings the cumulative number of converted hosts to
``ceil(target_i * n / 100)``. This differs from Ansible's ``serial: ['10%', '50%',
'100%']``, whose percentages are *batch sizes*: 10% then 50% *more* (60% cumulative)
then the rest.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from fractions import Fraction

DEFAULT_STAGES = (10, 50, 100)
HAPROXY_MAX_WEIGHT = 256


def _percent(value):
    """Return ``value`` as an exact Fraction, or None if it is not a finite number.

    Floats are converted through their shortest repr so ``33.3`` means 333/10, the
    number the user wrote, not the binary approximation.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return None
        return Fraction(repr(float(value)))
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            text = text[:-1].strip()
        try:
            number = float(text)
        except ValueError:
            return None
        if not math.isfinite(number):
            return None
        try:
            return Fraction(text)
        except ValueError:
            return Fraction(repr(number))
    return None


def _plain(number):
    """A Fraction as an int when integral, else a float."""
    if number.denominator == 1:
        return int(number)
    return float(number)


def list_from_text(text, option):
    """A list given as text, as ``-e option=[10,50,100]`` or ``-e option=10,50,100``
    pass it (key=value extra vars are strings): the items between the commas, without
    brackets, quotes or blanks. Empty text, or brackets left open, are refused."""
    body = text.strip()
    opened, closed = body.startswith("["), body.endswith("]")
    if opened != closed:
        raise ValueError(
            "%s=%s: unbalanced brackets; pass the list as -e %s=10,50,100 or as JSON, -e '{\"%s\": [10, 50, 100]}'"
            % (option, text, option, option))
    if opened:
        body = body[1:-1]
    items = [item.strip().strip("'\"").strip() for item in body.split(",")]
    if not body.strip() or any(item == "" for item in items):
        raise ValueError(
            "%s=%r: an empty item; pass the list as -e %s=10,50,100 or as JSON, -e '{\"%s\": [10, 50, 100]}'"
            % (option, text, option, option))
    return items


def validate_stages(stages=None, option="canary_stages"):
    """Validate cumulative canary traffic targets and return them as numbers.

    :param stages: cumulative targets in percent; ``None`` means ``[10, 50, 100]``.
        Items may be ints, floats or numeric strings (a trailing ``%`` is allowed); a
        string is read as a list (``"[10,50,100]"`` or ``"10,50,100"``, key=value form).
    :param option: the name messages give the list (the variable the user set).
    :returns: the targets as a list of ints (floats where not integral).
    :raises ValueError: unless the list is non-empty, every target is in (0, 100],
        targets are strictly increasing and the last one is 100.
    """
    if stages is None:
        return list(DEFAULT_STAGES)
    if isinstance(stages, str):
        stages = list_from_text(stages, option)
    if isinstance(stages, (str, bytes, Mapping)) or not isinstance(stages, Sequence):
        raise ValueError(
            "%s must be a list of cumulative traffic percentages such as [10, 50, 100], got %r" % (option, stages)
        )
    if not stages:
        raise ValueError(
            "%s must not be empty: give cumulative traffic percentages ending at 100, such as [10, 50, 100]" % option
        )
    result = []
    previous = None
    for index, raw in enumerate(stages):
        target = _percent(raw)
        if target is None:
            raise ValueError(
                "%s[%d] = %r is not a number: every stage is a cumulative "
                "traffic percentage in (0, 100]" % (option, index, raw)
            )
        if target <= 0 or target > 100:
            raise ValueError(
                "%s[%d] = %r is out of range: every stage must be greater "
                "than 0 and at most 100 percent" % (option, index, raw)
            )
        if previous is not None and target <= previous:
            raise ValueError(
                "%s[%d] = %r does not increase over the previous stage %s: "
                "stages are cumulative targets and must be strictly increasing, got %r"
                % (option, index, raw, _plain(previous), list(stages))
            )
        previous = target
        result.append(_plain(target))
    if previous != 100:
        raise ValueError(
            "%s must end at 100 (all traffic on the new release), the last "
            "stage is %r in %r" % (option, stages[-1], list(stages))
        )
    return result

def _validate_host_count(host_count):
    if isinstance(host_count, bool) or not isinstance(host_count, int) or host_count < 1:
        raise ValueError("host_count must be a positive integer, got %r" % (host_count,))
    return host_count


def _validate_max_weight(max_weight):
    if isinstance(max_weight, bool) or not isinstance(max_weight, int) or not 1 <= max_weight <= HAPROXY_MAX_WEIGHT:
        raise ValueError(
            "max_weight must be an integer from 1 to %d (HAProxy's weight range), got %r"
            % (HAPROXY_MAX_WEIGHT, max_weight)
        )
    return max_weight


def _validate_target(target_percent):
    target = _percent(target_percent)
    if target is None or target < 0 or target > 100:
        raise ValueError("target_percent must be a number from 0 to 100, got %r" % (target_percent,))
    return target


def validate_hosts(hosts):
    """Return ``hosts`` as a list after checking it is a non-empty list of unique names."""
    if isinstance(hosts, (str, bytes, Mapping)) or not isinstance(hosts, Sequence):
        raise ValueError("hosts must be a list of host names, got %r" % (hosts,))
    if not hosts:
        raise ValueError("hosts must not be empty: a rollout needs at least one host")
    seen = set()
    for index, host in enumerate(hosts):
        if not isinstance(host, str) or not host:
            raise ValueError("hosts[%d] = %r is not a host name (a non-empty string)" % (index, host))
        if host in seen:
            raise ValueError(
                "hosts[%d] = %r appears more than once: every host must be listed exactly once" % (index, host)
            )
        seen.add(host)
    return list(hosts)


def new_weight_total(target_percent, host_count, max_weight=HAPROXY_MAX_WEIGHT):
    """Total weight of all new-slot servers for a target share.

    ``N = floor(target / 100 * host_count * max_weight + 1/2)`` computed exactly
    (round half up), then clamped to ``1 .. host_count * max_weight - 1`` when the
    target is strictly between 0 and 100, so a non-zero stage always sends the new
    release some traffic and a stage below 100 never empties the old slot.
    """
    target = _validate_target(target_percent)
    host_count = _validate_host_count(host_count)
    max_weight = _validate_max_weight(max_weight)
    capacity = host_count * max_weight
    total = math.floor(target * capacity / 100 + Fraction(1, 2))
    if 0 < target < 100:
        if capacity < 2:
            raise ValueError(
                "max_weight must be at least 2 to split traffic on a single host, got %r "
                "(target_percent %r)" % (max_weight, target_percent)
            )
        total = min(max(total, 1), capacity - 1)
    return total


def traffic_weights(target_percent, host_count, max_weight=HAPROXY_MAX_WEIGHT):
    """HAProxy weights of the new and old slot server on each of ``host_count`` hosts.

    Rounding rule (exact arithmetic, no float error):

    1. Every host keeps ``new + old == max_weight``, so each host's share of total
       traffic is unchanged by the rollout.
    2. The total new weight is ``N = round_half_up(target / 100 * host_count *
       max_weight)``, clamped to ``[1, host_count * max_weight - 1]`` when
       ``0 < target < 100`` (see :func:`new_weight_total`).
    3. ``N`` is spread as evenly as possible: with ``q, r = divmod(N, host_count)``
       the first ``r`` hosts get ``new = q + 1``, the others ``new = q``; ``old =
       max_weight - new``.

    The realized share ``N / (host_count * max_weight)`` is then within one weight step
    (``1 / (host_count * max_weight)``, at most ``1 / max_weight``) of the target,
    whatever the host count; 0% gives ``new == 0`` and 100% gives ``old == 0``
    everywhere.

    :returns: a list of ``{"new": int, "old": int}``, one per host, in host order.
    """
    host_count = _validate_host_count(host_count)
    max_weight = _validate_max_weight(max_weight)
    total = new_weight_total(target_percent, host_count, max_weight)
    base, extra = divmod(total, host_count)
    weights = []
    for index in range(host_count):
        new = base + 1 if index < extra else base
        weights.append({"new": new, "old": max_weight - new})
    return weights


def host_weights(target_percent, hosts, max_weight=HAPROXY_MAX_WEIGHT):
    """:func:`traffic_weights` keyed by host name (hosts in the given order)."""
    hosts = validate_hosts(hosts)
    weights = traffic_weights(target_percent, len(hosts), max_weight)
    return dict(zip(hosts, weights))


def _weight(value, where):
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= HAPROXY_MAX_WEIGHT:
        raise ValueError("%s must be an integer weight from 0 to %d, got %r" % (where, HAPROXY_MAX_WEIGHT, value))
    return value


def traffic_share(weights):
    """Realized share of traffic on the new slot, in percent, for a set of weights.

    :param weights: a list of ``{"new": w, "old": w}`` (as from :func:`traffic_weights`)
        or a mapping of host name to such a dict (as from :func:`host_weights`).
    :returns: ``100 * sum(new) / sum(new + old)`` as a float.
    :raises ValueError: on malformed weights or when every weight is 0 (no server would
        receive traffic, so there is no share to speak of).
    """
    if isinstance(weights, Mapping):
        items = [("weights[%r]" % (key,), value) for key, value in weights.items()]
    elif isinstance(weights, Sequence) and not isinstance(weights, (str, bytes)):
        items = [("weights[%d]" % index, value) for index, value in enumerate(weights)]
    else:
        raise ValueError("weights must be a list (or host mapping) of {new, old} weights, got %r" % (weights,))
    new_total = 0
    all_total = 0
    for where, item in items:
        if not isinstance(item, Mapping) or "new" not in item or "old" not in item:
            raise ValueError("%s must be a mapping with keys new and old, got %r" % (where, item))
        new = _weight(item["new"], where + ".new")
        old = _weight(item["old"], where + ".old")
        new_total += new
        all_total += new + old
    if all_total == 0:
        raise ValueError("weights are all 0, no server would receive traffic: %r" % (weights,))
    return float(Fraction(100 * new_total, all_total))


def _cumulative_counts(targets, host_count):
    counts = []
    for target in targets:
        count = math.ceil(Fraction(target) * host_count / 100)
        counts.append(max(1, min(count, host_count)))
    return counts


def stage_batches(hosts, stages=None):
    """Hosts newly converted at each stage, one list per stage (lists may be empty).

    Stage *i* brings the cumulative number of hosts to ``ceil(target_i * n / 100)``
    (at least 1); order of ``hosts`` is preserved.
    """
    hosts = validate_hosts(hosts)
    targets = validate_stages(stages)
    batches = []
    done = 0
    for count in _cumulative_counts(targets, len(hosts)):
        batches.append(hosts[done:count])
        done = count
    return batches


def canary_batches(hosts, stages=None):
    """Host batches for a host-by-host rollout over cumulative traffic targets.

    Batch *i* brings the cumulative number of hosts to ``ceil(target_i * n / 100)``
    (the first batch has at least one host). Every host appears exactly once, in the
    given order; stages that would add no host are dropped.

    With 10 hosts and ``[10, 50, 100]`` the batches hold 1, 4 and 5 hosts (1, 5, 10
    cumulative), not 1, 5 and 4 as ``serial: ['10%', '50%', '100%']`` would give.
    """
    return [batch for batch in stage_batches(hosts, stages) if batch]


def plan_rollout(hosts, stages=None, max_weight=HAPROXY_MAX_WEIGHT):
    """The full plan: one entry per stage.

    Each entry holds ``stage`` (1-based), ``target`` (percent), ``weights`` (host name
    to ``{"new", "old"}``), ``share`` (realized percent), ``batch`` (hosts converted at
    this stage in a host-by-host rollout, possibly empty) and ``hosts_done``
    (cumulative number of converted hosts after the stage).
    """
    hosts = validate_hosts(hosts)
    targets = validate_stages(stages)
    max_weight = _validate_max_weight(max_weight)
    plan = []
    done = 0
    for index, (target, count) in enumerate(zip(targets, _cumulative_counts(targets, len(hosts)))):
        weights = host_weights(target, hosts, max_weight)
        plan.append(
            {
                "stage": index + 1,
                "target": target,
                "weights": weights,
                "share": traffic_share(weights),
                "batch": hosts[done:count],
                "hosts_done": count,
            }
        )
        done = count
    return plan


SLOTS = ("blue", "green")


def _validate_slot(slot, option):
    if slot not in SLOTS:
        raise ValueError("%s must be one of %s, got %r" % (option, ", ".join(SLOTS), slot))
    return slot


def slot_servers(host_weights_by_name, new_slot, old_slot):
    """HAProxy server settings (``<host>-<slot>``) for per-host new/old weights.

    A slot with weight 0 is put in maintenance rather than left ``ready`` at weight 0,
    so health checks and the stats page show plainly that it takes no traffic.
    """
    _validate_slot(new_slot, "new_slot")
    _validate_slot(old_slot, "old_slot")
    if new_slot == old_slot:
        raise ValueError("new_slot and old_slot must differ, both are %r" % (new_slot,))
    if not isinstance(host_weights_by_name, Mapping) or not host_weights_by_name:
        raise ValueError("weights must be a non-empty mapping of host to {new, old}, got %r" % (host_weights_by_name,))
    servers = {}
    for host, weights in host_weights_by_name.items():
        for key, slot in (("new", new_slot), ("old", old_slot)):
            weight = _weight(weights.get(key) if isinstance(weights, Mapping) else None, "weights[%r].%s" % (host, key))
            servers["%s-%s" % (host, slot)] = {"weight": weight, "state": "ready" if weight else "maint"}
    return servers


def _slot_of_release(hosts, releases):
    """The one slot that runs the last good release on every host, else None.

    ``releases`` maps host -> ``{"blue": id, "green": id, "last_good": id}`` (ids may be
    empty). None when any host lacks a last good release, runs it in both slots or in
    neither, or the hosts disagree on the slot.
    """
    slots = set()
    for host in hosts:
        info = releases.get(host)
        if not isinstance(info, Mapping):
            return None
        last_good = info.get("last_good")
        matching = [slot for slot in SLOTS if last_good and info.get(slot) == last_good]
        if len(matching) != 1:
            return None
        slots.add(matching[0])
    return slots.pop() if len(slots) == 1 else None


def live_slots(servers, hosts, releases=None):
    """Which slot carries traffic now, read from HAProxy server state and the ledger.

    :param servers: ``{"<host>-<slot>": {"weight": int, "admin": "ready"|"drain"|"maint"}}``
        as returned by the ``haproxy_server`` module.
    :param hosts: app host names.
    :param releases: optional ``{host: {"blue": id, "green": id, "last_good": id}}``: what
        each slot's ``current`` link points to and the ledger's last good release.
    :returns: ``{"old": slot, "new": other slot, "serving": {host: [slots]},
        "interrupted": bool, "decided_by": "ledger"|"weights", "new_serving": {host:
        release}}``; ``new_serving`` names the hosts whose new slot carries traffic, with
        what that slot runs (None without ``releases``): a deploy must not restart it with
        another release.

    *old* is the slot that runs the ledger's last good release on every host when
    ``releases`` says so unambiguously: after an interrupted rollout the new slot may
    carry more weight than the old one, and weights alone would swap them. Otherwise
    *old* is the slot with the most ready weight across the fleet (blue when nothing
    serves, as on a first deploy). *interrupted* is true when traffic reaches the slot
    that does not run the last good release (with ``releases``), or else when a host
    serves from both slots: the trace of a rollout that stopped before its outcome.
    """
    hosts = validate_hosts(hosts)
    if releases is not None and not isinstance(releases, Mapping):
        raise ValueError("releases must be a mapping of host to slot releases, got %r" % (releases,))
    totals = dict.fromkeys(SLOTS, 0)
    serving = {}
    for host in hosts:
        serving[host] = []
        for slot in SLOTS:
            state = servers.get("%s-%s" % (host, slot))
            if state is None:
                raise ValueError("HAProxy has no server %s-%s for app host %s" % (host, slot, host))
            if state.get("admin", "ready") == "ready" and state.get("weight", 0) > 0:
                totals[slot] += state["weight"]
                serving[host].append(slot)
    old = _slot_of_release(hosts, releases) if releases else None
    decided_by = "ledger" if old else "weights"
    if old is None:
        old = "green" if totals["green"] > totals["blue"] else "blue"
    new = "blue" if old == "green" else "green"
    if decided_by == "ledger":
        # Traffic on the slot that does not run the last good release: a rollout
        # started and has not been promoted or rolled back (even at 100%).
        interrupted = any(new in slots for slots in serving.values())
    else:
        interrupted = any(len(slots) > 1 for slots in serving.values())
    new_serving = dict(
        (host, (releases or {}).get(host, {}).get(new) if releases else None)
        for host in hosts if new in serving[host]
    )
    return {"old": old, "new": new, "serving": serving, "interrupted": interrupted, "decided_by": decided_by,
            "new_serving": new_serving}


# The verdict a stage records when deploy_analysis_window=0 turned its gate off: not a
# pass, and no reader of the ledger may take it for one.
NOT_ANALYSED = "not_analysed"


def analysis_window(window):
    """The deploy role's analysis window in whole seconds; 0 means "no gate".

    :raises ValueError: naming deploy_analysis_window, for anything but a whole number
        of seconds of at least 0 (an int, or a string of digits as ``-e`` gives it).
    """
    seconds = None
    if isinstance(window, int) and not isinstance(window, bool):
        seconds = window
    elif isinstance(window, str) and window.strip() and window.strip().strip("0123456789") == "":
        seconds = int(window.strip())
    if seconds is None or seconds < 0:
        raise ValueError(
            "deploy_analysis_window must be a whole number of seconds, at least 0 (0: no gate, traffic moves "
            "through the stages unanalysed), got %r" % (window,)
        )
    return seconds


def ungated_stage(stage, window):
    """The gate record of a canary stage whose analysis is turned off, or ``None``.

    ``None`` when ``window`` > 0: the SLO gate analyses the stage. With ``window`` 0
    the stage is not analysed, and the record says so in the ledger in the gate's
    own fields: verdict ``not_analysed`` (never ``pass``), action ``proceed``, no
    conditions. For measuring a rollout's orchestration, or a fleet without traffic.
    """
    if analysis_window(window) > 0:
        return None
    target = _percent(stage)
    if target is None or target <= 0 or target > 100:
        raise ValueError("stage must be a traffic percentage in (0, 100], got %r" % (stage,))
    return {
        "verdict": NOT_ANALYSED,
        "action": "proceed",
        "summary": "%s%% of traffic moved to the new release without analysis: deploy_analysis_window=0 turns "
                   "the gate off, so no verdict was reached" % _plain(target),
        "conditions": [],
    }


# Requests through the load balancer that must all reach the release after a promotion
# or a rollback: with every slot at its final weight, round robin sends them to every server.
RELEASE_CHECK_REQUESTS = 10


def release_probes(url, field, version, count=RELEASE_CHECK_REQUESTS):
    """The ``health_check`` probes of the check after a promotion or a rollback: ``count``
    GETs of ``url`` (the load balancer's version path), each answering 200 with the JSON
    ``field`` equal to ``version``. One module run sends them all, one after another.

    :raises ValueError: naming the argument, for a URL that is not http(s), an empty field
        or version, or a count that is not a whole number of at least 1.
    """
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError("url=%r: must be an http:// or https:// URL" % (url,))
    for name, value in (("field", field), ("version", version)):
        if not isinstance(value, str) or not value.strip():
            raise ValueError("%s=%r: must be a non-empty string" % (name, value))
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ValueError("count=%r: must be a whole number of at least 1" % (count,))
    return [{"name": "request %d" % number, "type": "http", "url": url, "status": [200],
             "json_field": field, "json_value": version} for number in range(1, count + 1)]
