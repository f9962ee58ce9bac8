# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Scale verification: the requests sent through the load balancer after a scaling change,
and their p95 latency and error ratio judged against the limits.

p95 is the nearest-rank 95th percentile of the requests' durations (the smallest duration
that at least 95 % of them do not exceed; no interpolation, so it is always a measured
duration). The error ratio is the share of requests that did not pass their probe. Both
need at least one request: ``scale_verify_requests`` below 1 is refused before anything
is sent, and a result that holds a different number of requests than asked for is
refused, never judged on what came back.

Pure functions, standard library only (Python 3.8+). Bad input raises ``ValueError``
naming the option and the value. Exposed as the ``scale_verify_probes`` and
``scale_verify_result`` filters.
"""

from __future__ import annotations

import math

P95 = 95
# How many distinct error messages a verdict quotes.
ERROR_KINDS_SHOWN = 3


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def verify_requests(count, option="scale_verify_requests"):
    """``count`` as an int of 1 or more (a whole number, also given as text)."""
    number = count
    if isinstance(count, str) and count.strip().lstrip("-").isdigit():
        number = int(count.strip())
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    if isinstance(number, bool) or not isinstance(number, int):
        raise ValueError("%s=%r: must be a whole number of requests, 1 or more" % (option, count))
    if number < 1:
        raise ValueError("%s=%d: must be 1 or more; the p95 latency and the error ratio of no requests are unknown"
                         % (option, number))
    return number


def verify_probes(count, url, option="scale_verify_requests"):
    """The ``health_check`` probes of the verification: ``count`` GETs of ``url``."""
    number = verify_requests(count, option)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError("url=%r: must be an http:// or https:// URL" % (url,))
    return [{"name": "request_%d" % index, "type": "http", "url": url} for index in range(number)]


def nearest_rank(values, percent):
    """The nearest-rank ``percent`` percentile (0 < percent <= 100) of a non-empty list."""
    ordered = sorted(values)
    rank = -(-len(ordered) * percent // 100)  # ceil without floats
    return ordered[max(rank, 1) - 1]


def _limit(value, option, maximum=None):
    if not _is_number(value) or value < 0 or (maximum is not None and value > maximum):
        bounds = "0 or more" if maximum is None else "from 0 to %s" % maximum
        raise ValueError("%s=%r: must be a number %s" % (option, value, bounds))
    return value


def verify_result(probes, requests, max_p95_ms, max_error_ratio):
    """p95 latency and error ratio of the verification's ``health_check`` probes, judged.

    ``probes``: the module's ``probes`` (each with ``ok`` and ``duration_ms``);
    ``requests``: ``scale_verify_requests``, how many were asked for. Returns
    ``{"requests", "errors", "error_ratio", "p95_ms", "max_p95_ms", "max_error_ratio",
    "p95_ok", "error_ratio_ok", "ok", "error_kinds"}``; ``error_kinds`` is the failed
    requests' messages, most frequent first, as ``"<message> (N of M)"`` (at most
    ``ERROR_KINDS_SHOWN``), so that a failed verification says what the requests met.
    """
    requests = verify_requests(requests)
    max_p95_ms = _limit(max_p95_ms, "scale_max_p95_ms")
    max_error_ratio = _limit(max_error_ratio, "scale_max_error_ratio", maximum=1)
    if not isinstance(probes, (list, tuple)):
        raise ValueError("probes=%r: must be the list of probes health_check returned" % (probes,))
    durations, errors, messages = [], 0, {}
    for index, probe in enumerate(probes):
        if not isinstance(probe, dict) or not isinstance(probe.get("ok"), bool) \
                or not _is_number(probe.get("duration_ms")):
            raise ValueError("probes[%d]=%r: needs ok (true/false) and duration_ms (a number)" % (index, probe))
        durations.append(probe["duration_ms"])
        if not probe["ok"]:
            errors += 1
            message = str(probe.get("message") or "no message")
            messages[message] = messages.get(message, 0) + 1
    if len(durations) != requests:
        raise ValueError("probes: %d request(s) measured, scale_verify_requests=%d asked for; nothing is judged on "
                         "part of the requests" % (len(durations), requests))
    p95 = nearest_rank(durations, P95)
    ratio = errors / requests
    # Most frequent first; equal counts in the order they were first met.
    kinds = sorted(messages.items(), key=lambda item: -item[1])[:ERROR_KINDS_SHOWN]
    return dict(requests=requests, errors=errors, error_ratio=ratio, p95_ms=p95, max_p95_ms=max_p95_ms,
                max_error_ratio=max_error_ratio, p95_ok=p95 <= max_p95_ms, error_ratio_ok=ratio <= max_error_ratio,
                ok=p95 <= max_p95_ms and ratio <= max_error_ratio,
                error_kinds=["%s (%d of %d)" % (message, count, requests) for message, count in kinds])
