# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scaling decisions: vertical limits of a host, safe scale-in, and when to scale.

Pure functions, standard library only (Python 3.8+). Bad input raises ``ValueError``
whose message names the option, the value and, for host limits, what the host can give.

They are exposed as filters (``vertical_limits``, ``scale_in_check``,
``scaling_decision``) rather than a module: each is a computation over values the play
already has (gathered facts, inventory groups, numbers fetched from Prometheus), so a
filter decides on the controller without a round trip to the host, and its result
(such as the systemd drop-in text) feeds the ``ansible.builtin.copy`` task that applies
it, which brings check and diff mode for free.

Vertical limits (:func:`vertical_limits`)
    ``cpu_quota_percent``: a whole number above 0, at most ``100 * vCPUs`` (systemd's
    ``CPUQuota=`` is relative to one CPU, so 200% is two full CPUs).
    ``memory_max_mb``: a whole number above 0, at most the host's memory minus a
    reserve for the OS and agents, the larger of ``reserve_mb`` (256) and
    ``reserve_percent`` (10%) of the memory.
    ``workers``: a whole number from 1 to ``workers_per_cpu * vCPUs`` (4 per vCPU by
    default, twice the common ``2 * cores + 1`` rule for I/O-bound workers: more
    processes than that only add context switches and memory).

Scale-in safety (:func:`scale_in_check`)
    removing hosts that are not in the pool, or leaving fewer than ``min_hosts`` (at
    least 1) in it, is refused.

Triggers (:func:`scaling_decision`)
    ``scale_out`` when any measured signal breaches: CPU above ``cpu_high`` (70%),
    p95 latency above ``latency_budget_ms``, error ratio above ``error_ratio_max``;
    unless the pool is at ``max_hosts``. ``scale_in`` only when every signal is
    comfortably low: CPU below ``cpu_low`` (30%) and latency and errors within
    their limits, and the pool is above ``min_hosts``. Otherwise ``none``. A signal
    that is missing (None) cannot trigger a scale-out and prevents a scale-in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

DEFAULT_RESERVE_MB = 256
DEFAULT_RESERVE_PERCENT = 10
DEFAULT_WORKERS_PER_CPU = 4
DEFAULT_CPU_HIGH = 70
DEFAULT_CPU_LOW = 30
DEFAULT_ERROR_RATIO_MAX = 0.01
VERTICAL_OPTIONS = ("cpu_quota_percent", "memory_max_mb", "workers")


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value):
    """``value`` as an int when it is a whole number (int, integral float or digits), else None."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    if _is_number(value) and float(value).is_integer():
        return int(value)
    return None


def _fact(facts, key):
    for name in (key, "ansible_" + key):
        if name in facts:
            return facts[name]
    return None


def host_capacity(facts, reserve_mb=DEFAULT_RESERVE_MB, reserve_percent=DEFAULT_RESERVE_PERCENT,
                  workers_per_cpu=DEFAULT_WORKERS_PER_CPU):
    """The limits a host allows, from its facts (``memtotal_mb``, ``processor_vcpus``)."""
    if not isinstance(facts, Mapping):
        raise ValueError("facts must be the host's facts (a mapping with memtotal_mb and processor_vcpus), got %r"
                         % (facts,))
    memtotal, vcpus = _whole(_fact(facts, "memtotal_mb")), _whole(_fact(facts, "processor_vcpus"))
    if memtotal is None or memtotal <= 0:
        raise ValueError("facts: memtotal_mb=%r must be the host's memory in MB (gather facts first)"
                         % (_fact(facts, "memtotal_mb"),))
    if vcpus is None or vcpus <= 0:
        raise ValueError("facts: processor_vcpus=%r must be the host's vCPU count (gather facts first)"
                         % (_fact(facts, "processor_vcpus"),))
    reserve_floor, per_cpu = _whole(reserve_mb), _whole(workers_per_cpu)
    if reserve_floor is None or reserve_floor < 0:
        raise ValueError("reserve_mb=%r must be a whole number of MB, 0 or more" % (reserve_mb,))
    if not _is_number(reserve_percent) or not 0 <= reserve_percent < 100:
        raise ValueError("reserve_percent=%r must be a number from 0 to below 100" % (reserve_percent,))
    if per_cpu is None or per_cpu < 1:
        raise ValueError("workers_per_cpu=%r must be a whole number of 1 or more" % (workers_per_cpu,))
    reserve = max(reserve_floor, int(math.ceil(memtotal * reserve_percent / 100.0)))
    return {
        "memtotal_mb": memtotal,
        "vcpus": vcpus,
        "reserve_mb": reserve,
        "max_memory_mb": memtotal - reserve,
        "max_cpu_quota_percent": 100 * vcpus,
        "max_workers": per_cpu * vcpus,
        "workers_per_cpu": per_cpu,
        "reserve_rule": "the larger of %d MB and %s%%" % (reserve_floor, _fmt(reserve_percent)),
    }


def vertical_limits(requested, facts, host=None, *, reserve_mb=DEFAULT_RESERVE_MB,
                    reserve_percent=DEFAULT_RESERVE_PERCENT, workers_per_cpu=DEFAULT_WORKERS_PER_CPU):
    """Validate requested CPU, memory and workers against a host; return them and the drop-in.

    :param requested: mapping with any of ``cpu_quota_percent``, ``memory_max_mb``, ``workers``.
    :param facts: the host's facts, ``memtotal_mb`` and ``processor_vcpus`` (with or
        without the ``ansible_`` prefix).
    :param host: name used in messages; default the facts' ``inventory_hostname`` or
        ``hostname``.
    :returns: ``{host, cpu_quota_percent, memory_max_mb, workers, limits, dropin}`` where
        the values not requested are None and ``dropin`` is the text of a systemd
        drop-in (``[Service]`` with ``CPUQuota=`` and ``MemoryMax=`` for those requested).
    """
    if not isinstance(requested, Mapping):
        raise ValueError("requested must be a mapping with cpu_quota_percent, memory_max_mb and/or workers, got %r"
                         % (requested,))
    unknown = sorted(str(key) for key in requested if key not in VERTICAL_OPTIONS)
    if unknown:
        raise ValueError("requested: unknown option(s) %s; use %s" % (", ".join(unknown), ", ".join(VERTICAL_OPTIONS)))
    given = dict((key, value) for key, value in requested.items() if value is not None)
    if not given:
        raise ValueError("requested: give at least one of %s" % ", ".join(VERTICAL_OPTIONS))
    limits = host_capacity(facts, reserve_mb, reserve_percent, workers_per_cpu)
    if host is None:
        host = facts.get("inventory_hostname") or _fact(facts, "hostname") or "the host"
    problems = []
    values = dict.fromkeys(VERTICAL_OPTIONS)
    for option in VERTICAL_OPTIONS:
        if option not in given:
            continue
        raw = given[option]
        number = _whole(raw)
        minimum = 1
        if number is None or number < minimum:
            problems.append("%s=%r must be a whole number of %d or more" % (option, raw, minimum))
            continue
        if option == "cpu_quota_percent" and number > limits["max_cpu_quota_percent"]:
            problems.append("%s=%r is above what %s can give: %d%% (%d vCPUs x 100%%)"
                            % (option, raw, host, limits["max_cpu_quota_percent"], limits["vcpus"]))
        elif option == "memory_max_mb" and number > limits["max_memory_mb"]:
            problems.append("%s=%r is above what %s can give: %d MB (%d MB total minus %d MB reserve, %s)"
                            % (option, raw, host, limits["max_memory_mb"], limits["memtotal_mb"],
                               limits["reserve_mb"], limits["reserve_rule"]))
        elif option == "workers" and number > limits["max_workers"]:
            problems.append("%s=%r is above the limit for %s: %d (%d per vCPU x %d vCPUs)"
                            % (option, raw, host, limits["max_workers"], limits["workers_per_cpu"], limits["vcpus"]))
        else:
            values[option] = number
    if problems:
        raise ValueError("; ".join(problems))
    lines = ["[Service]"]
    if values["cpu_quota_percent"] is not None:
        lines.append("CPUQuota=%d%%" % values["cpu_quota_percent"])
    if values["memory_max_mb"] is not None:
        lines.append("MemoryMax=%dM" % values["memory_max_mb"])
    result = {"host": host, "limits": limits, "dropin": "\n".join(lines) + "\n" if len(lines) > 1 else ""}
    result.update(values)
    return result


def _host_list(value, option, single=False):
    if single and isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(host, str) and host for host in value):
        raise ValueError("%s must be a list of host names, got %r" % (option, value))
    return list(value)


def scale_in_check(pool, remove, min_hosts=1):
    """Refuse a scale-in that removes unknown hosts or leaves fewer than ``min_hosts``.

    :returns: ``{remove, remaining, pool_size, min_hosts}``, both lists in pool order.
    """
    pool = _host_list(pool, "pool")
    remove = _host_list(remove, "remove", single=True)
    minimum = _whole(min_hosts)
    if minimum is None or minimum < 1:
        raise ValueError("min_hosts=%r must be a whole number of 1 or more (a pool is never emptied)" % (min_hosts,))
    unknown = [host for host in dict.fromkeys(remove) if host not in pool]
    if unknown:
        raise ValueError("remove: %s %s not in the pool (%s)"
                         % (", ".join(unknown), "is" if len(unknown) == 1 else "are", ", ".join(pool) or "empty"))
    removed = [host for host in dict.fromkeys(pool) if host in remove]
    remaining = [host for host in dict.fromkeys(pool) if host not in remove]
    if len(remaining) < minimum:
        raise ValueError("removing %s would leave %d host%s in the pool%s, fewer than min_hosts=%d"
                         % (", ".join(removed), len(remaining), "" if len(remaining) == 1 else "s",
                            " (%s)" % ", ".join(remaining) if remaining else "", minimum))
    return {"remove": removed, "remaining": remaining, "pool_size": len(remaining) + len(removed),
            "min_hosts": minimum}


def _metric(metrics, key, maximum=None):
    value = metrics.get(key)
    if value is None:
        return None
    if not _is_number(value) or value < 0 or (maximum is not None and value > maximum):
        bounds = "0 or more" if maximum is None else "from 0 to %s" % maximum
        raise ValueError("metrics.%s=%r must be a number %s (or null when not measured)" % (key, value, bounds))
    return value


def _fmt(number):
    return ("%d" % number) if float(number).is_integer() else ("%.4g" % number)


def _check_decision_options(metrics, hosts, min_hosts, max_hosts, thresholds):
    """Validate scaling_decision's options; (hosts, min_hosts, max_hosts) as ints (max may be None)."""
    cpu_high, cpu_low, latency_budget_ms, error_ratio_max = thresholds
    if not isinstance(metrics, Mapping):
        raise ValueError("metrics must be a mapping with cpu_percent, p95_latency_ms and error_ratio, got %r"
                         % (metrics,))
    unknown = sorted(str(key) for key in metrics if key not in ("cpu_percent", "p95_latency_ms", "error_ratio"))
    if unknown:
        raise ValueError("metrics: unknown key(s) %s; use cpu_percent, p95_latency_ms, error_ratio"
                         % ", ".join(unknown))
    count, low_bound = _whole(hosts), _whole(min_hosts)
    if count is None or count < 0:
        raise ValueError("hosts=%r must be the number of hosts in the pool" % (hosts,))
    if low_bound is None or low_bound < 1:
        raise ValueError("min_hosts=%r must be a whole number of 1 or more" % (min_hosts,))
    high_bound = None if max_hosts is None else _whole(max_hosts)
    if max_hosts is not None and (high_bound is None or high_bound < low_bound):
        raise ValueError("max_hosts=%r must be a whole number of at least min_hosts=%d" % (max_hosts, low_bound))
    for option, value in (("cpu_high", cpu_high), ("cpu_low", cpu_low)):
        if not _is_number(value) or not 0 <= value <= 100:
            raise ValueError("%s=%r must be a percentage from 0 to 100" % (option, value))
    if not cpu_low < cpu_high:
        raise ValueError("cpu_low=%r must be below cpu_high=%r" % (cpu_low, cpu_high))
    if latency_budget_ms is not None and (not _is_number(latency_budget_ms) or latency_budget_ms <= 0):
        raise ValueError("latency_budget_ms=%r must be a number of milliseconds above 0" % (latency_budget_ms,))
    if not _is_number(error_ratio_max) or not 0 <= error_ratio_max <= 1:
        raise ValueError("error_ratio_max=%r must be a ratio from 0 to 1" % (error_ratio_max,))
    return count, low_bound, high_bound


def scaling_decision(metrics, hosts, *, min_hosts=1, max_hosts=None, cpu_high=DEFAULT_CPU_HIGH,
                     cpu_low=DEFAULT_CPU_LOW, latency_budget_ms=None, error_ratio_max=DEFAULT_ERROR_RATIO_MAX):
    """Recommend ``scale_out``, ``scale_in`` or ``none`` from pool-wide measurements.

    :param metrics: mapping with ``cpu_percent`` (average over the pool, 0-100),
        ``p95_latency_ms`` and ``error_ratio`` (0-1); each may be missing or None.
    :param hosts: hosts in the pool now.
    :returns: ``{action, reasons, hosts, target_hosts, measurements, thresholds}``.
    """
    count, low_bound, high_bound = _check_decision_options(
        metrics, hosts, min_hosts, max_hosts, (cpu_high, cpu_low, latency_budget_ms, error_ratio_max))
    cpu = _metric(metrics, "cpu_percent")
    latency = _metric(metrics, "p95_latency_ms")
    errors = _metric(metrics, "error_ratio", maximum=1)

    out, calm, unknown_signals = [], [], []
    if cpu is None:
        unknown_signals.append("cpu_percent not measured")
    elif cpu > cpu_high:
        out.append("cpu %s%% > cpu_high %s%%" % (_fmt(cpu), _fmt(cpu_high)))
    elif cpu < cpu_low:
        calm.append("cpu %s%% < cpu_low %s%%" % (_fmt(cpu), _fmt(cpu_low)))
    else:
        unknown_signals.append("cpu %s%% is between cpu_low %s%% and cpu_high %s%%"
                               % (_fmt(cpu), _fmt(cpu_low), _fmt(cpu_high)))
    if latency_budget_ms is not None:
        if latency is None:
            unknown_signals.append("p95_latency_ms not measured")
        elif latency > latency_budget_ms:
            out.append("p95 latency %sms > budget %sms" % (_fmt(latency), _fmt(latency_budget_ms)))
        else:
            calm.append("p95 latency %sms within budget %sms" % (_fmt(latency), _fmt(latency_budget_ms)))
    if errors is None:
        unknown_signals.append("error_ratio not measured")
    elif errors > error_ratio_max:
        out.append("error ratio %s > error_ratio_max %s" % (_fmt(errors), _fmt(error_ratio_max)))
    else:
        calm.append("error ratio %s within error_ratio_max %s" % (_fmt(errors), _fmt(error_ratio_max)))

    if out:
        if high_bound is not None and count >= high_bound:
            action, reasons = "none", out + ["the pool is at max_hosts=%d, cannot scale out" % high_bound]
        else:
            action, reasons = "scale_out", out
    elif not unknown_signals and calm:
        if count <= low_bound:
            action, reasons = "none", calm + ["the pool is at min_hosts=%d, cannot scale in" % low_bound]
        else:
            action, reasons = "scale_in", calm
    else:
        action, reasons = "none", unknown_signals + calm
    target = count + (1 if action == "scale_out" else -1 if action == "scale_in" else 0)
    return {
        "action": action,
        "reasons": reasons,
        "hosts": count,
        "target_hosts": target,
        "measurements": {"cpu_percent": cpu, "p95_latency_ms": latency, "error_ratio": errors},
        "thresholds": {"cpu_high": cpu_high, "cpu_low": cpu_low, "latency_budget_ms": latency_budget_ms,
                       "error_ratio_max": error_ratio_max, "min_hosts": low_bound, "max_hosts": high_bound},
    }
