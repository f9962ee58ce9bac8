# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLO gate measurements: read counters from a provider, turn them into samples, judge.

The judgement itself (sustained breaches, min_requests, verdicts, canary comparison,
what inconclusive leads to) is :mod:`slo`; this file only measures and drives the
sampling loop. No AnsibleModule inside. It runs where the ``slo_gate`` module runs,
normally the controller (``delegate_to: localhost``); it stays Python 3.8 compatible.

Measuring
---------
A provider *scrapes* cumulative counters of the canary (``target``) and, for the
canary-vs-stable comparison, of the stable slot (``compare_to``):

* ``prometheus``: instant queries (``/api/v1/query``) for the raw series of the
  request counter, the latency histogram's ``_bucket`` series and ``up``;
* ``haproxy``: ``show stat`` (runtime API socket or ``stats;csv`` page) rows of the
  backend's servers whose name matches a regex: ``hrsp_*`` counters, ``rtime`` or
  ``ttime`` and ``status``;
* ``http``: each base URL's ``/metrics`` page (Prometheus text format) and its
  ``/readyz`` answer.

Counters are cumulative, so the sample of an interval is the DELTA between the
scrapes that bound it, computed per series. A series whose value went down (the
process restarted, HAProxy reloaded) or disappeared makes that interval inconclusive:
its value is unknown and never negative. A scrape that fails (provider unreachable,
error reply, query returned no series) makes the intervals it bounds inconclusive,
with the reason kept beside the sample. Health is read from each scrape, not as a
delta: the number of failing probes out of those seen.

A sample is ``{"timestamp", "value", "request_count", "note"}``; ``note`` says why
``value`` is None.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import http.client
import json
import math
import re
import time
from collections.abc import Mapping, Sequence
from fractions import Fraction
from urllib import error as urlerror
from urllib import parse as urlparse
from urllib import request as urlrequest

from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo
from ansible_collections.fleetops.lifecycle.plugins.module_utils.haproxy import (
    RuntimeApi,
    RuntimeApiError,
    backend_names,
    parse_show_stat,
    server_rows,
)

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:  # pragma: no cover - the tiny parser below takes over
    text_string_to_metric_families = None

PROVIDERS = ("prometheus", "haproxy", "http")
CONDITION_TYPES = tuple(sorted(slo.KINDS))
REQUEST_TYPES = ("error_ratio", "availability")
ON_INCONCLUSIVE = slo.ON_INCONCLUSIVE
DEFAULT_ON_INCONCLUSIVE = "fail"
DEFAULT_PERCENTILE = 0.95
DEFAULT_PROMETHEUS_URL = "http://127.0.0.1:9090"
DEFAULT_TIMEOUT = 5.0
DEFAULT_COMPARE_MARGIN = 0.01

# The mission: error ratio > 1% or availability < 99.5% sustained, or any failing
# health check, fails the stage. Thresholds and sustained_for come from slo.KINDS.
DEFAULT_CONDITIONS = ({"type": "error_ratio"}, {"type": "availability"}, {"type": "health"})

DEFAULT_METRICS = {
    "requests": "demo_http_requests_total",
    "latency": "demo_http_request_duration_seconds",
    "health": "up",
    "code_label": "code",
    "error_codes": "5..",
    "path_label": "path",
    "exclude_paths": ["/metrics", "/healthz", "/readyz"],
    "haproxy_latency": "rtime",
}
HAPROXY_LATENCY_FIELDS = ("rtime", "ttime")
HAPROXY_RESPONSE_FIELDS = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")
HAPROXY_ERROR_FIELDS = ("hrsp_5xx",)
HTTP_METRICS_PATH = "/metrics"
HTTP_HEALTH_PATH = "/readyz"

_CONDITION_OPTIONS = ("type", "name", "threshold", "percentile", "sustained_for", "min_requests")
_METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_MAX_HTTP_WORKERS = 16
_NOTE_LIMIT = 3


class ProviderError(Exception):
    """A scrape could not measure something; the message says what and why."""


# ------------------------------------------------------------------------ helpers


def _g(value):
    return "%.6g" % value


def _short(value):
    """A number for the one-line summary: 3 significant digits."""
    return "n/a" if value is None else "%.3g" % value


def _round(value):
    return None if value is None else float("%.6g" % value)


def _count_out(value):
    if value is None:
        return None
    return int(value) if float(value).is_integer() else _round(value)


def _finite(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _iso(timestamp):
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _http_get(url, timeout, accept=None):
    """GET ``url``: ``(status, body bytes)`` for any HTTP answer; ProviderError when
    there is none (refused, timeout, DNS, bad URL)."""
    headers = {"User-Agent": "fleetops.lifecycle.slo_gate"}
    if accept:
        headers["Accept"] = accept
    req = urlrequest.Request(url, headers=headers)
    try:
        with urlrequest.urlopen(req, timeout=timeout) as reply:  # noqa: S310 - http(s) only, checked
            return reply.status, reply.read()
    except urlerror.HTTPError as exc:
        try:
            body = exc.read()
        except (OSError, http.client.HTTPException):
            body = b""
        return exc.code, body
    except urlerror.URLError as exc:
        raise ProviderError("GET %s failed: %s" % (url, exc.reason)) from exc
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise ProviderError("GET %s failed: %s" % (url, exc or type(exc).__name__)) from exc


def _check_url(option, value):
    if not isinstance(value, str) or not value.strip():
        raise ValueError("%s must be an http:// or https:// URL, got %r" % (option, value))
    parts = urlparse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("%s must be an http:// or https:// URL, got %r" % (option, value))
    return value.strip().rstrip("/")


# ------------------------------------------------------------- metrics text format

_SAMPLE_RE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s+(\S+)(?:\s+-?[0-9]+)?\s*\Z")
_LABEL_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"\s*(?:,|\Z)')
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}


def _parse_labels(text, number):
    labels = {}
    position = 0
    text = text.strip()
    while position < len(text):
        match = _LABEL_RE.match(text, position)
        if not match:
            raise ValueError("metrics line %d: bad labels {%s}" % (number, text))
        labels[match.group(1)] = re.sub(r"\\[\\\"n]", lambda m: _ESCAPES[m.group(0)], match.group(2))
        position = match.end()
    return labels


def parse_metrics_text_simple(text):
    """Samples ``(name, labels, value)`` of a Prometheus text-format page.

    A small parser for controllers without ``prometheus_client``: comments and
    ``# HELP``/``# TYPE`` lines are skipped, timestamps ignored. Raises ValueError on a
    line it cannot read.
    """
    samples = []
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE_RE.match(line)
        if not match:
            raise ValueError("metrics line %d is not a sample: %r" % (number, line[:200]))
        try:
            value = float(match.group(3))
        except ValueError:
            raise ValueError("metrics line %d has no numeric value: %r" % (number, line[:200])) from None
        samples.append((match.group(1), _parse_labels(match.group(2) or "", number), value))
    return samples


def parse_metrics_text(text):
    """Samples ``(name, labels, value)`` of a Prometheus text-format page, read with
    ``prometheus_client.parser`` when it is installed, else with
    :func:`parse_metrics_text_simple`. Raises ValueError on unreadable text."""
    if text_string_to_metric_families is None:
        return parse_metrics_text_simple(text)
    samples = []
    try:
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                samples.append((sample.name, dict(sample.labels), float(sample.value)))
    except (ValueError, TypeError, IndexError) as exc:
        raise ValueError("not Prometheus text format: %s" % exc) from None
    return samples


# ------------------------------------------------------------- pure measurements


def _series_key(labels):
    return tuple(sorted(labels.items()))


def _excluded(labels, metrics):
    path = labels.get(metrics["path_label"])
    return path is not None and path in metrics["exclude_paths"]


def request_series(samples, metrics, prefix=()):
    """``{key: (is_error, value)}`` from ``(labels, value)`` pairs of the request
    counter, without excluded paths; ``is_error`` when the code label fully matches
    ``metrics["error_codes"]``."""
    pattern = re.compile(metrics["error_codes"])
    series = {}
    for labels, value in samples:
        if _excluded(labels, metrics):
            continue
        is_error = bool(pattern.fullmatch(str(labels.get(metrics["code_label"], ""))))
        series[prefix + _series_key(labels)] = (is_error, value)
    return series


def bucket_series(samples, metrics, prefix=()):
    """``{key: (le, value)}`` from ``(labels, value)`` pairs of ``*_bucket`` series,
    without excluded paths. Series without a readable ``le`` label are skipped."""
    series = {}
    for labels, value in samples:
        if _excluded(labels, metrics):
            continue
        try:
            le = float(labels.get("le"))
        except (TypeError, ValueError):
            continue
        series[prefix + _series_key(labels)] = (le, value)
    return series


def _describe_key(key):
    parts = []
    for item in key:
        if isinstance(item, tuple) and len(item) == 2:
            parts.append("%s=%s" % item)
        else:
            parts.append(str(item))
    return "{%s}" % ",".join(parts)


def counter_deltas(previous, current):
    """Per-series increase of cumulative counters between two scrapes.

    ``previous``/``current``: ``{key: value}``. A series new in ``current`` counts
    from 0. Returns ``(deltas, note)``: ``deltas`` is None and ``note`` says why when a
    series went down (counter reset), disappeared or is not a finite number; an
    interval with a reset is inconclusive, never negative.
    """
    deltas = {}
    resets = []
    for key, value in current.items():
        if not _finite(value):
            return None, "series %s has no finite value (%r)" % (_describe_key(key), value)
        before = previous.get(key, 0.0)
        if not _finite(before):
            return None, "series %s had no finite value (%r)" % (_describe_key(key), before)
        if value < before:
            resets.append("%s %s -> %s" % (_describe_key(key), _g(before), _g(value)))
        deltas[key] = value - before
    if resets:
        return None, "counter reset (value decreased) in %d series, e.g. %s: the interval is not measured" % (
            len(resets),
            resets[0],
        )
    gone = [key for key in previous if key not in current]
    if gone:
        return None, "%d series disappeared since the previous scrape, e.g. %s: the interval is not measured" % (
            len(gone),
            _describe_key(gone[0]),
        )
    return deltas, None


def request_counts(previous, current):
    """``(errors, requests, note)`` in the interval between two request scrapes
    (``{key: (is_error, value)}``); counts are None when ``note`` says why."""
    deltas, note = counter_deltas(
        {key: value for key, (_, value) in previous.items()},
        {key: value for key, (_, value) in current.items()},
    )
    if deltas is None:
        return None, None, note
    errors = sum(delta for key, delta in deltas.items() if current[key][0])
    return errors, sum(deltas.values()), None


def histogram_quantile(quantile, buckets):
    """The ``quantile`` (0 < q < 1) of a histogram ``{upper_bound: cumulative count}``.

    Interpolates linearly inside the bucket that holds the rank, like PromQL's
    ``histogram_quantile``: the first bucket starts at 0 (when its bound is positive),
    a rank in the ``+Inf`` bucket gives the highest finite bound. Returns None without
    observations or without a ``+Inf`` bucket.
    """
    if not buckets or math.inf not in buckets:
        return None
    bounds = sorted(buckets)
    counts = []
    highest = 0.0
    for bound in bounds:
        highest = max(highest, float(buckets[bound]))  # deltas of a scrape may be uneven
        counts.append(highest)
    total = counts[-1]
    if total <= 0:
        return None
    rank = quantile * total
    for index, bound in enumerate(bounds):
        if counts[index] < rank:
            continue
        if bound == math.inf:
            return bounds[index - 1] if index > 0 else None
        lower = bounds[index - 1] if index > 0 else min(0.0, bound)
        below = counts[index - 1] if index > 0 else 0.0
        inside = counts[index] - below
        if inside <= 0:
            return bound
        return lower + (bound - lower) * (rank - below) / inside
    return None  # pragma: no cover - the +Inf bucket holds every rank


def latency_from_buckets(previous, current, quantile):
    """``(seconds, observations, note)`` of an interval from two ``_bucket`` scrapes
    (``{key: (le, value)}``)."""
    deltas, note = counter_deltas(
        {key: value for key, (_, value) in previous.items()},
        {key: value for key, (_, value) in current.items()},
    )
    if deltas is None:
        return None, None, note
    histogram = {}
    for key, delta in deltas.items():
        le = current[key][0]
        histogram[le] = histogram.get(le, 0.0) + delta
    if histogram and math.inf not in histogram:
        return None, None, "the histogram has no le=\"+Inf\" bucket"
    observations = histogram.get(math.inf, 0.0)
    if observations <= 0:
        return None, 0.0, "no requests observed in the interval"
    return histogram_quantile(quantile, histogram), observations, None


def latency_from_means(previous, current):
    """``(seconds, requests, note)`` of an interval from per-server running averages
    (``{key: (average_seconds, cumulative_requests)}``, HAProxy ``rtime``/``ttime``):
    the averages weighted by each server's requests in the interval."""
    deltas, note = counter_deltas(
        {key: count for key, (_, count) in previous.items()},
        {key: count for key, (_, count) in current.items()},
    )
    if deltas is None:
        return None, None, note
    requests = sum(deltas.values())
    if requests <= 0:
        return None, 0.0, "no requests in the interval"
    weighted = 0.0
    for key, delta in deltas.items():
        average = current[key][0]
        if delta and not _finite(average):
            return None, requests, "server %s reports no average time" % _describe_key(key)
        weighted += (average or 0.0) * delta
    return weighted / requests, requests, None


def interval_sample(condition, previous, current):
    """The sample of ``condition`` for the interval between two snapshots.

    A snapshot is ``{"timestamp", "parts": {part: data}, "notes": {part: why it is
    missing}}`` (see :meth:`Provider.scrape`); ``previous`` may be None (no baseline).
    """
    kind = condition["type"]
    sample = {"timestamp": current["timestamp"], "value": None, "request_count": None, "note": None}
    if kind == "health":
        part = "health"
        if part in current["parts"]:
            health = current["parts"][part]
            sample["value"] = float(health["failing"])
            sample["request_count"] = float(health["probes"])
            if health["failing"]:
                sample["note"] = "failing: %s" % ", ".join(health["failed"][:_NOTE_LIMIT])
        else:
            sample["note"] = current["notes"].get(part, "no health data")
        return sample
    part = "latency" if kind == "latency" else "requests"
    for snapshot, which in ((current, "this"), (previous, "the previous")):
        if snapshot is None:
            sample["note"] = "no baseline scrape before this interval"
            return sample
        if part not in snapshot["parts"]:
            sample["note"] = "%s (%s scrape)" % (snapshot["notes"].get(part, "no data"), which)
            return sample
    before, after = previous["parts"][part], current["parts"][part]
    if kind == "latency":
        if after["kind"] == "histogram":
            value, count, note = latency_from_buckets(before["series"], after["series"], condition["percentile"])
        else:
            value, count, note = latency_from_means(before["series"], after["series"])
    else:
        errors, count, note = request_counts(before, after)
        value = None
        if count:
            ratio = Fraction(repr(float(errors))) / Fraction(repr(float(count)))
            value = float(ratio if kind == "error_ratio" else 1 - ratio)
        elif count is not None:
            note = "no requests in the interval"
    sample.update(value=value, request_count=count, note=note)
    return sample


# ---------------------------------------------------------------------- providers


def _needs(conditions, compare):
    needs = {"target": set(), "compare_to": set()}
    for condition in conditions:
        if condition["type"] in REQUEST_TYPES:
            needs["target"].add("requests")
        elif condition["type"] == "latency":
            needs["target"].add("latency")
        else:
            needs["target"].add("health")
    if compare is not None:
        needs["target"].add("requests")
        needs["compare_to"].add("requests")
    return needs


class Provider(object):
    """Base: :meth:`scrape` returns ``{"parts": {...}, "notes": {...}}`` for the parts
    asked for (``requests``, ``latency``, ``health``); a part that could not be read
    is left out of ``parts`` and explained in ``notes``."""

    name = None

    def describe(self, kind, percentile=None):  # pragma: no cover - overridden
        raise NotImplementedError

    def _read(self, part):  # pragma: no cover - overridden
        raise NotImplementedError

    def scrape(self, needs):
        parts, notes = {}, {}
        for part in sorted(needs):
            try:
                parts[part] = self._read(part)
            except ProviderError as exc:
                notes[part] = str(exc)
        return {"parts": parts, "notes": notes}


class PrometheusProvider(Provider):
    """Raw series through instant queries; deltas are computed here."""

    name = "prometheus"

    def __init__(self, url, selector, metrics, timeout):
        self.url = url
        self.selector = selector
        self.metrics = metrics
        self.timeout = timeout

    def queries(self):
        return {
            "requests": self.metrics["requests"] + self.selector,
            "latency": self.metrics["latency"] + "_bucket" + self.selector,
            "health": self.metrics["health"] + self.selector,
        }

    def describe(self, kind, percentile=None):
        queries = self.queries()
        excluded = ""
        if self.metrics["exclude_paths"]:
            excluded = " (%s %s excluded)" % (self.metrics["path_label"], ", ".join(self.metrics["exclude_paths"]))
        if kind in REQUEST_TYPES:
            share = "errors" if kind == "error_ratio" else "1 - errors"
            return "%s over all requests per interval from increases of %s, errors: %s=~%r%s" % (
                share,
                queries["requests"],
                self.metrics["code_label"],
                self.metrics["error_codes"],
                excluded,
            )
        if kind == "latency":
            return "p%s from the increases of %s per interval%s" % (_g(percentile * 100), queries["latency"], excluded)
        return "series of %s with a value below 1, out of all its series" % queries["health"]

    def query(self, promql):
        """``[(labels, value)]`` of an instant vector query; ProviderError when
        Prometheus cannot be asked, says no, or returns no series."""
        url = "%s/api/v1/query?%s" % (self.url, urlparse.urlencode({"query": promql}))
        status, body = _http_get(url, self.timeout, accept="application/json")
        try:
            reply = json.loads(body.decode("utf-8", "replace"))
        except ValueError:
            raise ProviderError(
                "Prometheus at %s answered HTTP %s to %s with something that is not JSON: %r"
                % (self.url, status, promql, body[:200])
            ) from None
        if not isinstance(reply, Mapping) or reply.get("status") != "success" or status != 200:
            what = reply.get("error") if isinstance(reply, Mapping) else None
            kind = reply.get("errorType") if isinstance(reply, Mapping) else None
            raise ProviderError(
                "Prometheus at %s rejected query %s (HTTP %s): %s%s"
                % (self.url, promql, status, "%s: " % kind if kind else "", what or "no error message")
            )
        data = reply.get("data") or {}
        if data.get("resultType") != "vector":
            raise ProviderError(
                "Prometheus at %s returned a %s for %s, expected an instant vector"
                % (self.url, data.get("resultType"), promql)
            )
        result = []
        for item in data.get("result") or ():
            try:
                result.append((dict(item["metric"]), float(item["value"][1])))
            except (KeyError, IndexError, TypeError, ValueError):
                raise ProviderError("Prometheus at %s returned an unreadable sample for %s: %r" % (
                    self.url, promql, item)) from None
        if not result:
            raise ProviderError("query returned no series: %s" % promql)
        return result

    def _read(self, part):
        promql = self.queries()[part]
        samples = self.query(promql)
        if part == "requests":
            return request_series(samples, self.metrics)
        if part == "latency":
            return {"kind": "histogram", "series": bucket_series(samples, self.metrics)}
        failed = [_describe_key(_series_key(labels)) for labels, value in samples if not value >= 1]
        return {"failing": len(failed), "probes": len(samples), "failed": failed}


class HaproxyProvider(Provider):
    """Per-server counters from ``show stat``, summed over the matching servers."""

    name = "haproxy"

    def __init__(self, backend, servers, metrics, read_stat, source):
        self.backend = backend
        self.servers = servers
        self.pattern = re.compile(servers)
        self.metrics = metrics
        self.read_stat = read_stat
        self.source = source
        self._rows = None

    def describe(self, kind, percentile=None):
        where = "servers of backend %s matching %r (%s)" % (self.backend, self.servers, self.source)
        if kind in REQUEST_TYPES:
            share = "hrsp_5xx" if kind == "error_ratio" else "1 - hrsp_5xx"
            return "%s over the sum of hrsp_1xx..hrsp_5xx and hrsp_other per interval, %s" % (share, where)
        if kind == "latency":
            return (
                "approximate: HAProxy's %s (average over each server's last 1024 requests) weighted by the "
                "server's requests in the interval, not a percentile, %s" % (self.metrics["haproxy_latency"], where)
            )
        return "servers DOWN or NOLB out of the health-checked ones (UP, DOWN, NOLB), %s" % where

    def scrape(self, needs):
        try:
            rows = self.read_stat()
            self._rows = self._matching(rows)
        except ProviderError as exc:
            return {"parts": {}, "notes": dict((part, str(exc)) for part in needs)}
        return Provider.scrape(self, needs)

    def _matching(self, rows):
        if not any(row.get("pxname") == self.backend for row in rows):
            raise ProviderError(
                "backend %r is not in show stat from %s (backends: %s)"
                % (self.backend, self.source, ", ".join(backend_names(rows)) or "none")
            )
        servers = server_rows(rows, self.backend)
        matching = [row for row in servers if self.pattern.search(str(row.get("svname")))]
        if not matching:
            raise ProviderError(
                "no server of backend %s matches %r (servers: %s)"
                % (self.backend, self.servers, ", ".join(str(r.get("svname")) for r in servers) or "none")
            )
        return matching

    def _read(self, part):
        rows = self._rows
        if part == "requests":
            return dict(
                ((row["svname"], field), (field in HAPROXY_ERROR_FIELDS, float(row.get(field) or 0)))
                for row in rows
                for field in HAPROXY_RESPONSE_FIELDS
            )
        if part == "latency":
            field = self.metrics["haproxy_latency"]
            series = {}
            for row in rows:
                average = row.get(field)
                seconds = average / 1000.0 if isinstance(average, int) else None
                total = float(sum(row.get(f) or 0 for f in HAPROXY_RESPONSE_FIELDS))
                series[(row["svname"],)] = (seconds, total)
            return {"kind": "mean", "series": series}
        failed, probes = [], 0
        for row in rows:
            status = str(row.get("status") or "").strip().upper()
            if status.startswith(("DOWN", "NOLB")):
                failed.append("%s (%s)" % (row["svname"], status))
            if status.startswith(("UP", "DOWN", "NOLB")):
                probes += 1
        return {"failing": len(failed), "probes": probes, "failed": failed}


def runtime_api_reader(socket_path, timeout):
    """``show stat`` rows over the runtime API socket; ProviderError on failure."""

    def read():
        try:
            return RuntimeApi(socket_path, timeout=timeout).show_stat()
        except RuntimeApiError as exc:
            raise ProviderError(str(exc)) from exc

    return read


def stats_url_reader(url, timeout):
    """``show stat`` rows from the stats page's CSV (``http://lb:8404/stats;csv``)."""

    def read():
        status, body = _http_get(url, timeout, accept="text/csv")
        if status != 200:
            raise ProviderError("HAProxy stats page %s answered HTTP %s: %r" % (url, status, body[:200]))
        try:
            return parse_show_stat(body)
        except ValueError as exc:
            raise ProviderError("HAProxy stats page %s: %s" % (url, exc)) from exc

    return read


class HttpProvider(Provider):
    """Scrape each base URL's ``/metrics`` and ``/readyz`` directly."""

    name = "http"

    def __init__(self, urls, metrics, timeout, metrics_path=HTTP_METRICS_PATH, health_path=HTTP_HEALTH_PATH):
        self.urls = list(urls)
        self.metrics = metrics
        self.timeout = timeout
        self.metrics_path = metrics_path
        self.health_path = health_path
        self._pages = None

    def describe(self, kind, percentile=None):
        where = ", ".join(url + (self.health_path if kind == "health" else self.metrics_path) for url in self.urls)
        if kind in REQUEST_TYPES:
            share = "errors" if kind == "error_ratio" else "1 - errors"
            return "%s over all requests per interval from increases of %s (errors: %s=~%r) at %s" % (
                share,
                self.metrics["requests"],
                self.metrics["code_label"],
                self.metrics["error_codes"],
                where,
            )
        if kind == "latency":
            return "p%s from the increases of %s_bucket at %s" % (_g(percentile * 100), self.metrics["latency"], where)
        return "URLs whose %s does not answer HTTP 200, out of %s" % (self.health_path, where)

    def _fetch(self, url, path):
        try:
            status, body = _http_get(url + path, self.timeout)
        except ProviderError as exc:
            return None, str(exc)
        return status, body

    def scrape(self, needs):
        jobs = []
        if needs & {"requests", "latency"}:
            jobs.extend((url, self.metrics_path) for url in self.urls)
        if "health" in needs:
            jobs.extend((url, self.health_path) for url in self.urls)
        workers = max(1, min(_MAX_HTTP_WORKERS, len(jobs)))
        with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
            answers = dict(zip(jobs, pool.map(lambda job: self._fetch(*job), jobs)))
        self._pages = answers
        return Provider.scrape(self, needs)

    def _metric_samples(self, name):
        samples, problems = [], []
        for url in self.urls:
            status, body = self._pages[(url, self.metrics_path)]
            where = url + self.metrics_path
            if status is None:
                problems.append(body)
                continue
            if status != 200:
                problems.append("GET %s answered HTTP %s" % (where, status))
                continue
            try:
                parsed = parse_metrics_text(body.decode("utf-8", "replace"))
            except ValueError as exc:
                problems.append("%s: %s" % (where, exc))
                continue
            samples.extend((url, labels, value) for sample_name, labels, value in parsed if sample_name == name)
        if problems:
            raise ProviderError("; ".join(problems))
        return samples

    def _read(self, part):
        if part == "requests":
            series = {}
            for url, labels, value in self._metric_samples(self.metrics["requests"]):
                series.update(request_series([(labels, value)], self.metrics, prefix=(url,)))
            return series
        if part == "latency":
            series = {}
            for url, labels, value in self._metric_samples(self.metrics["latency"] + "_bucket"):
                series.update(bucket_series([(labels, value)], self.metrics, prefix=(url,)))
            return {"kind": "histogram", "series": series}
        failed = []
        for url in self.urls:
            status, body = self._pages[(url, self.health_path)]
            if status is None:
                failed.append("%s%s (%s)" % (url, self.health_path, body))
            elif status != 200:
                failed.append("%s%s (HTTP %s)" % (url, self.health_path, status))
        return {"failing": len(failed), "probes": len(self.urls), "failed": failed}


# -------------------------------------------------------------------- the plan


def _option_number(option, value, lo=None, hi=None, **kwargs):
    return slo.validate_threshold(option, value, lo, hi, **kwargs)


def _int_option(option, value, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError("%s must be an integer of at least %d, got %r" % (option, minimum, value))
    return value


def sample_count(window, interval):
    """Samples in a window: ``floor(window / interval)``, computed exactly."""
    return int(Fraction(repr(float(window))) / Fraction(repr(float(interval))))


def _condition(index, raw, samples):
    where = "conditions[%d]" % index
    if not isinstance(raw, Mapping):
        raise ValueError("%s must be a mapping with type and threshold, got %r" % (where, raw))
    unknown = sorted(str(key) for key in raw if key not in _CONDITION_OPTIONS)
    if unknown:
        raise ValueError(
            "%s has unknown option(s) %s; known: %s" % (where, ", ".join(unknown), ", ".join(_CONDITION_OPTIONS))
        )
    kind = raw.get("type")
    if kind not in slo.KINDS:
        raise ValueError("%s.type must be one of %s, got %r" % (where, ", ".join(CONDITION_TYPES), kind))
    spec = slo.KINDS[kind]
    threshold = raw.get("threshold")
    if threshold is None:
        threshold = spec["threshold"]
        if threshold is None:
            raise ValueError("%s.threshold is required for a %s condition (%s)" % (where, kind, spec["unit"]))
    lo, hi, lo_open, hi_open = spec["range"]
    threshold = _option_number("%s.threshold" % where, threshold, lo, hi, lo_open=lo_open, hi_open=hi_open)
    condition = {"index": index, "type": kind, "name": raw.get("name") or kind, "threshold": threshold}
    if not isinstance(condition["name"], str):
        raise ValueError("%s.name must be a string, got %r" % (where, condition["name"]))
    percentile = raw.get("percentile")
    if kind == "latency":
        condition["percentile"] = _option_number(
            "%s.percentile" % where,
            DEFAULT_PERCENTILE if percentile is None else percentile,
            0,
            1,
            lo_open=True,
            hi_open=True,
        )
    elif percentile is not None:
        raise ValueError("%s.percentile applies only to latency conditions, got %r" % (where, percentile))
    sustained_for = raw.get("sustained_for")
    if sustained_for is None:
        sustained_for = min(spec["sustained_for"], samples)
    _int_option("%s.sustained_for" % where, sustained_for, 1)
    if sustained_for > samples:
        raise ValueError(
            "%s.sustained_for (%d) exceeds the %d sample(s) of the window (window / interval): "
            "the condition could never fail" % (where, sustained_for, samples)
        )
    condition["sustained_for"] = sustained_for
    min_requests = raw.get("min_requests")
    if min_requests is None:
        min_requests = spec["min_requests"]
    condition["min_requests"] = _option_number("%s.min_requests" % where, min_requests, 0)
    condition["comparison"] = spec["comparison"]
    # Whatever else slo.evaluate_condition would refuse, refuse it before sampling.
    try:
        slo.evaluate_condition([], kind, **_slo_options(condition))
    except ValueError as exc:
        raise ValueError("%s: %s" % (where, exc)) from None
    return condition


def _slo_options(condition):
    return {
        "threshold": condition["threshold"],
        "sustained_for": condition["sustained_for"],
        "min_requests": condition["min_requests"],
        "comparison": condition["comparison"],
        "name": condition["name"],
    }


def slo_comparison_name():
    """The name slo.compare_canary gives the canary-vs-stable comparison."""
    return "canary_vs_stable"


def _owner(index):
    return "conditions[%d]" % index if isinstance(index, int) else "the %s comparison" % index


def _metrics(raw):
    metrics = dict(DEFAULT_METRICS)
    for key, value in (raw or {}).items():
        if key not in DEFAULT_METRICS:
            raise ValueError("metrics has an unknown key %r; known: %s" % (key, ", ".join(sorted(DEFAULT_METRICS))))
        if value is not None:
            metrics[key] = value
    for key in ("requests", "latency", "health"):
        if not isinstance(metrics[key], str) or not _METRIC_NAME_RE.match(metrics[key]):
            raise ValueError("metrics.%s must be a metric name, got %r" % (key, metrics[key]))
    for key in ("code_label", "path_label"):
        if not isinstance(metrics[key], str) or not _LABEL_NAME_RE.match(metrics[key]):
            raise ValueError("metrics.%s must be a label name, got %r" % (key, metrics[key]))
    try:
        re.compile(metrics["error_codes"])
    except (re.error, TypeError) as exc:
        raise ValueError("metrics.error_codes must be a regular expression, got %r: %s" % (
            metrics["error_codes"], exc)) from None
    paths = metrics["exclude_paths"]
    if isinstance(paths, str) or not isinstance(paths, Sequence) or not all(isinstance(p, str) for p in paths):
        raise ValueError("metrics.exclude_paths must be a list of paths, got %r" % (paths,))
    metrics["exclude_paths"] = list(paths)
    if metrics["haproxy_latency"] not in HAPROXY_LATENCY_FIELDS:
        raise ValueError("metrics.haproxy_latency must be one of %s, got %r" % (
            ", ".join(HAPROXY_LATENCY_FIELDS), metrics["haproxy_latency"]))
    return metrics


def _selector(option, value):
    if not isinstance(value, str) or not value.strip().startswith("{") or not value.strip().endswith("}"):
        raise ValueError(
            "%s must be a Prometheus label selector like {job=\"demo\",slot=\"green\"} for provider=prometheus, "
            "got %r" % (option, value)
        )
    return value.strip()


def _haproxy_target(option, value, default_backend=None):
    if isinstance(value, str) and default_backend is not None:
        value = {"backend": default_backend, "servers": value}
    if not isinstance(value, Mapping) or not value.get("servers") or not (value.get("backend") or default_backend):
        raise ValueError(
            "%s must be a mapping with backend and servers (a regular expression of server names, e.g. "
            "{backend: demo, servers: '-green$'}) for provider=haproxy, got %r" % (option, value)
        )
    unknown = sorted(str(key) for key in value if key not in ("backend", "servers"))
    if unknown:
        raise ValueError("%s has unknown key(s) %s; known: backend, servers" % (option, ", ".join(unknown)))
    servers = value["servers"]
    try:
        re.compile(servers)
    except (re.error, TypeError) as exc:
        raise ValueError("%s.servers must be a regular expression, got %r: %s" % (option, servers, exc)) from None
    return {"backend": value.get("backend") or default_backend, "servers": servers}


def _urls(option, value):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, Sequence) or not value:
        raise ValueError(
            "%s must be a list of base URLs (http://host:port) for provider=http, got %r" % (option, value)
        )
    return [_check_url("%s[%d]" % (option, index), url) for index, url in enumerate(value)]


def build_plan(params):
    """Validate the module's options and return the plan :func:`run_gate` follows.

    Raises ValueError naming the option and the value, e.g.
    ``conditions[0].threshold must be a number in [0, 1], got 1.5``.
    """
    provider = params.get("provider") or "prometheus"
    if provider not in PROVIDERS:
        raise ValueError("provider must be one of %s, got %r" % (", ".join(PROVIDERS), provider))
    window = _option_number("window", params.get("window"), 0, lo_open=True)
    interval = _option_number("interval", params.get("interval"), 0, lo_open=True)
    if interval > window:
        raise ValueError(
            "interval (%s) must not exceed window (%s): the window would hold no sample" % (_g(interval), _g(window))
        )
    samples = sample_count(window, interval)
    raw_conditions = params.get("conditions")
    if raw_conditions is None:
        raw_conditions = [dict(c) for c in DEFAULT_CONDITIONS]
    if isinstance(raw_conditions, (str, bytes, Mapping)) or not isinstance(raw_conditions, Sequence):
        raise ValueError("conditions must be a list of condition mappings, got %r" % (raw_conditions,))
    if not raw_conditions:
        raise ValueError("conditions must not be empty: a gate without conditions can never fail")
    conditions = [_condition(index, raw, samples) for index, raw in enumerate(raw_conditions)]
    seen = {slo_comparison_name(): "compare_to"}
    for condition in conditions:
        if condition["name"] in seen:
            raise ValueError(
                "conditions[%d].name %r is already used by %s; give each condition its own name"
                % (condition["index"], condition["name"], _owner(seen[condition["name"]]))
            )
        seen[condition["name"]] = condition["index"]
    on_inconclusive = params.get("on_inconclusive") or DEFAULT_ON_INCONCLUSIVE
    if on_inconclusive not in ON_INCONCLUSIVE:
        raise ValueError("on_inconclusive must be one of %s, got %r" % (", ".join(ON_INCONCLUSIVE), on_inconclusive))
    max_waits = params.get("max_waits")
    max_waits = _int_option("max_waits", 1 if max_waits is None else max_waits, 0)
    timeout = _option_number("timeout", DEFAULT_TIMEOUT if params.get("timeout") is None else params["timeout"],
                             0, lo_open=True)
    metrics = _metrics(params.get("metrics"))
    compare = None
    if params.get("compare_to") is not None:
        margin = params.get("compare_margin")
        min_requests = params.get("compare_min_requests")
        compare = {
            "margin": _option_number(
                "compare_margin", DEFAULT_COMPARE_MARGIN if margin is None else margin, 0, 1
            ),
            "min_requests": _option_number(
                "compare_min_requests", slo.DEFAULT_MIN_REQUESTS if min_requests is None else min_requests, 0
            ),
        }
    plan = {
        "provider": provider,
        "window": window,
        "interval": interval,
        "samples": samples,
        "conditions": conditions,
        "on_inconclusive": on_inconclusive,
        "max_waits": max_waits,
        "stop_on_fail": params.get("stop_on_fail", True) is not False,
        "compare": compare,
        "timeout": timeout,
        "metrics": metrics,
        "needs": _needs(conditions, compare),
    }
    plan["sources"] = _sources(provider, params, metrics)
    return plan


def _sources(provider, params, metrics):
    target, compare_to = params.get("target"), params.get("compare_to")
    if target is None:
        raise ValueError("target is required: %s" % {
            "prometheus": "a label selector of the canary, e.g. {job=\"demo\",slot=\"green\"}",
            "haproxy": "the backend and a regular expression of the canary's server names",
            "http": "the canary's base URLs",
        }[provider])
    sources = {}
    if provider == "prometheus":
        sources["url"] = _check_url("prometheus_url", params.get("prometheus_url") or DEFAULT_PROMETHEUS_URL)
        sources["target"] = _selector("target", target)
        if compare_to is not None:
            sources["compare_to"] = _selector("compare_to", compare_to)
    elif provider == "haproxy":
        socket_path, stats_url = params.get("haproxy_socket"), params.get("haproxy_stats_url")
        if bool(socket_path) == bool(stats_url):
            raise ValueError(
                "provider=haproxy needs exactly one of haproxy_socket (the runtime API socket) or "
                "haproxy_stats_url (e.g. http://lb:8404/stats;csv), got haproxy_socket=%r, haproxy_stats_url=%r"
                % (socket_path, stats_url)
            )
        sources["socket"] = socket_path
        sources["stats_url"] = stats_url and _check_url("haproxy_stats_url", stats_url)
        sources["target"] = _haproxy_target("target", target)
        if compare_to is not None:
            sources["compare_to"] = _haproxy_target("compare_to", compare_to, sources["target"]["backend"])
    else:
        sources["target"] = _urls("target", target)
        if compare_to is not None:
            sources["compare_to"] = _urls("compare_to", compare_to)
    return sources


def make_providers(plan):
    """``{"target": Provider, "compare_to": Provider}`` (the latter with compare_to)."""
    sources, metrics, timeout = plan["sources"], plan["metrics"], plan["timeout"]
    providers = {}
    for side in ("target", "compare_to"):
        if side not in sources:
            continue
        what = sources[side]
        if plan["provider"] == "prometheus":
            providers[side] = PrometheusProvider(sources["url"], what, metrics, timeout)
        elif plan["provider"] == "haproxy":
            if sources["socket"]:
                reader, source = runtime_api_reader(sources["socket"], timeout), sources["socket"]
            else:
                reader, source = stats_url_reader(sources["stats_url"], timeout), sources["stats_url"]
            providers[side] = HaproxyProvider(what["backend"], what["servers"], metrics, reader, source)
        else:
            providers[side] = HttpProvider(what, metrics, timeout)
    return providers


# -------------------------------------------------------------------- the loop


class SystemClock(object):
    """Time for :func:`run_gate`; tests pass a fake one with the same three methods."""

    @staticmethod
    def monotonic():
        return time.monotonic()

    @staticmethod
    def time():
        return time.time()

    @staticmethod
    def sleep(seconds):
        time.sleep(seconds)


def _plain(samples):
    return [{k: s[k] for k in ("timestamp", "value", "request_count")} for s in samples]


def _evaluate_conditions(plan, samples):
    """``{name: slo.evaluate_condition result}`` over ``samples`` per condition."""
    return dict(
        (c["name"], slo.evaluate_condition(_plain(samples[c["name"]]), c["type"], **_slo_options(c)))
        for c in plan["conditions"]
    )


def carried_breaches(samples, evaluated):
    """The breaching samples of the streak still open at the end of ``samples`` (those
    after the newest ``ok`` sample), by the states ``slo`` gave them.

    An extra window (``on_inconclusive=wait``) is judged on its own samples plus these:
    a streak that straddles the windows still counts, while the earlier windows'
    inconclusive samples, which waiting is meant to replace, no longer keep the gate
    inconclusive (an inconclusive sample neither extends nor ends a streak).
    """
    states = [m["state"] for m in evaluated["measurements"]]
    last_ok = max([index for index, state in enumerate(states) if state == slo.OK] or [-1])
    return [samples[i] for i in range(last_ok + 1, len(samples)) if states[i] == slo.BREACH]


def run_gate(plan, providers, clock=None):
    """Sample for the window, judge with :mod:`slo`, return the module's result.

    One baseline scrape, then one scrape every ``interval`` seconds (on a fixed
    schedule: a slow scrape does not shift the next ones) until the window holds its
    samples. With ``stop_on_fail`` the loop ends as soon as a condition has failed
    (more samples cannot undo a sustained breach). With ``on_inconclusive=wait`` an
    inconclusive window is followed by another one, up to ``max_waits`` times, judged
    on its own samples plus the breaches of a streak still open before it (see
    :func:`carried_breaches`); the result shows every sample taken.
    """
    clock = clock or SystemClock()
    sides = [side for side in ("target", "compare_to") if side in providers]
    base_mono, base_wall = clock.monotonic(), clock.time()
    last_stamp = [None]

    def stamp():
        now = base_wall + (clock.monotonic() - base_mono)
        if last_stamp[0] is not None and now <= last_stamp[0]:
            now = last_stamp[0] + 1e-6
        last_stamp[0] = now
        return now

    def scrape(side):
        snapshot = providers[side].scrape(plan["needs"][side])
        snapshot["timestamp"] = stamp()
        return snapshot

    started = stamp()
    previous = {side: scrape(side) for side in sides}
    names = [c["name"] for c in plan["conditions"]]
    samples = dict((name, []) for name in names)
    carried = dict((name, []) for name in names)
    round_start = 0

    def judged():
        return dict((name, carried[name] + samples[name][round_start:]) for name in names)

    totals = {side: {"errors": 0.0, "requests": 0.0, "intervals": 0, "notes": []} for side in sides}
    taken = waits = 0
    stopped_early = False
    while True:
        for _ in range(plan["samples"]):
            taken += 1
            clock.sleep(max(0.0, base_mono + taken * plan["interval"] - clock.monotonic()))
            current = {side: scrape(side) for side in sides}
            for condition in plan["conditions"]:
                samples[condition["name"]].append(interval_sample(condition, previous["target"], current["target"]))
            if plan["compare"] is not None:
                _add_to_totals(totals, previous, current)
            previous = current
            if plan["stop_on_fail"] and any(
                r["verdict"] == slo.FAIL for r in _evaluate_conditions(plan, judged()).values()
            ):
                stopped_early = True
                break
        judged_samples = judged()
        evaluation = slo.evaluate_gate(
            [
                dict(_slo_options(c), kind=c["type"], samples=_plain(judged_samples[c["name"]]))
                for c in plan["conditions"]
            ],
            _comparisons(plan, totals),
        )
        if (
            stopped_early
            or evaluation["verdict"] != slo.INCONCLUSIVE
            or plan["on_inconclusive"] != "wait"
            or waits >= plan["max_waits"]
        ):
            break
        waits += 1
        everything = _evaluate_conditions(plan, samples)
        carried = dict((name, carried_breaches(samples[name], everything[name])) for name in names)
        round_start = len(samples[names[0]])
    ended = stamp()
    waits_remaining = plan["max_waits"] - waits if plan["on_inconclusive"] == "wait" else None
    decision = slo.gate_action(evaluation["verdict"], plan["on_inconclusive"], waits_remaining)
    measured = {
        "samples": samples,
        "judged": judged_samples,
        "round_start": round_start,
        "overall": _evaluate_conditions(plan, samples),
        "totals": totals,
        "started": started,
        "ended": ended,
        "samples_taken": taken,
        "waits": waits,
        "stopped_early": stopped_early,
    }
    return gate_result(plan, providers["target"], evaluation, decision, measured)


def _add_to_totals(totals, previous, current):
    """Add an interval's request counts of each side to the comparison totals."""
    for side, total in totals.items():
        errors, requests, note = request_counts_between(previous[side], current[side])
        if note:
            total["notes"].append(note)
        else:
            total["errors"] += errors
            total["requests"] += requests
            total["intervals"] += 1


def request_counts_between(previous, current):
    """``(errors, requests, note)`` of the request part between two snapshots."""
    for snapshot, which in ((previous, "previous"), (current, "this")):
        if "requests" not in snapshot["parts"]:
            return None, None, "%s (%s scrape)" % (snapshot["notes"].get("requests", "no data"), which)
    return request_counts(previous["parts"]["requests"], current["parts"]["requests"])


def _comparisons(plan, totals):
    if plan["compare"] is None:
        return None
    return [{
        "canary_errors": totals["target"]["errors"],
        "canary_requests": totals["target"]["requests"],
        "stable_errors": totals["compare_to"]["errors"],
        "stable_requests": totals["compare_to"]["requests"],
        "margin": plan["compare"]["margin"],
        "min_requests": plan["compare"]["min_requests"],
    }]


# ------------------------------------------------------------------ the result


def _distinct(notes, limit=_NOTE_LIMIT):
    seen = []
    for note in notes:
        if note and note not in seen:
            seen.append(note)
    extra = len(seen) - limit
    return seen[:limit] + (["... and %d more" % extra] if extra > 0 else [])


def _negate(comparison):
    return {">": "<=", ">=": "<", "<": ">=", "<=": ">"}[comparison]


def _notes(samples, evaluated, state):
    return _distinct(
        sample["note"] or measured["note"]
        for sample, measured in zip(samples, evaluated["measurements"])
        if measured["state"] == state
    )


def _condition_result(condition, judged, overall, provider, round_start=0):
    """One entry of ``conditions``: every sample taken (``overall``) and the verdict
    (``judged``: the samples the verdict was judged on, the same ones unless a window
    was extended: then those after ``round_start`` and the carried breaches). Each is
    ``(samples, slo result)``."""
    samples, everything = overall
    judged_samples, evaluated = judged
    problems = _notes(samples, everything, slo.INCONCLUSIVE)
    breach_notes = _distinct(
        s["note"] for s, m in zip(samples, everything["measurements"]) if m["state"] == slo.BREACH
    )
    reason = evaluated["reason"]
    if len(judged_samples) != len(samples):
        last_window = len(samples) - round_start
        reason = "judged on the last window's %d sample(s) and %d breach(es) of a streak open before it: %s" % (
            last_window,
            len(judged_samples) - last_window,
            reason,
        )
    if problems:
        reason += "; measurement problems: %s" % "; ".join(problems)
    if breach_notes:
        reason += "; %s" % "; ".join(breach_notes)
    result = {
        "name": condition["name"],
        "type": condition["type"],
        "threshold": condition["threshold"],
        "comparison": condition["comparison"],
        "sustained_for": condition["sustained_for"],
        "min_requests": condition["min_requests"],
        "measure": provider.describe(condition["type"], condition.get("percentile")),
        "samples": [
            [round(s["timestamp"], 3), _round(s["value"]), _count_out(s["request_count"])] for s in samples
        ],
        "states": [m["state"] for m in everything["measurements"]],
        "judged_samples": len(judged_samples),
        "verdict": evaluated["verdict"],
        "reason": reason,
        "breaches": everything["breaches"],
        "longest_streak": evaluated["longest_streak"],
        "inconclusive_samples": everything["inconclusive_samples"],
        "worst_value": _round(everything["worst_value"]),
        "last_value": _round(everything["last_value"]),
        "problems": problems,
        "details": breach_notes,
    }
    if condition["type"] == "latency":
        result["percentile"] = condition["percentile"]
    return result


def _summary_part(condition, samples, evaluated):
    """A condition's part of the one-line summary, from the samples it was judged on."""
    name = condition["name"]
    if evaluated["verdict"] == slo.FAIL:
        streak = evaluated["failing_streak"]
        values = [p["value"] for p in streak]
        worst = max(values) if condition["comparison"] in (">", ">=") else min(values)
        return "%s %s %s %s for %d consecutive samples (requests %s)" % (
            name,
            _short(worst),
            condition["comparison"],
            _short(condition["threshold"]),
            len(streak),
            ", ".join(_short(p["request_count"]) for p in streak),
        )
    if evaluated["verdict"] == slo.INCONCLUSIVE:
        count = evaluated["inconclusive_samples"]
        if count:
            return "%s %d of %d samples inconclusive (%s)" % (
                name, count, evaluated["samples"], "; ".join(_notes(samples, evaluated, slo.INCONCLUSIVE))
            )
        return "%s %s" % (name, evaluated["reason"].split("; fail when ")[0])
    return "%s worst %s %s %s" % (
        name,
        _short(evaluated["worst_value"]),
        _negate(condition["comparison"]),
        _short(condition["threshold"]),
    )


def _comparison_summary(comparison):
    if comparison["verdict"] == slo.INCONCLUSIVE:
        return "canary_vs_stable not enough traffic (canary %s, stable %s requests, min_requests %s)" % (
            _short(comparison["canary_requests"]),
            _short(comparison["stable_requests"]),
            _short(comparison["min_requests"]),
        )
    return "canary error_ratio %s vs stable %s (difference %s %s margin %s)" % (
        _short(comparison["canary_error_ratio"]),
        _short(comparison["stable_error_ratio"]),
        _short(comparison["difference"]),
        ">" if comparison["verdict"] == slo.FAIL else "<=",
        _short(comparison["margin"]),
    )


def gate_result(plan, provider, evaluation, decision, measured):
    """The module's return value (see the module's RETURN documentation).

    ``measured`` (built by :func:`run_gate`): ``samples`` (every sample per condition),
    ``judged`` (those the verdict was judged on) and ``overall`` (slo results over
    every sample), ``round_start``, ``totals`` (comparison counts per side) and the
    timing: ``started``, ``ended``, ``samples_taken``, ``waits``, ``stopped_early``.
    """
    samples, totals, timing = measured["samples"], measured["totals"], measured
    verdict = evaluation["verdict"]
    by_name = dict((r["name"], r) for r in evaluation["conditions"])
    conditions, parts = [], []
    for condition in plan["conditions"]:
        name = condition["name"]
        judged = (measured["judged"][name], by_name[name])
        overall = (samples[name], measured["overall"][name])
        conditions.append(_condition_result(condition, judged, overall, provider, measured["round_start"]))
        if by_name[name]["verdict"] == verdict or verdict == slo.PASS:
            parts.append(_summary_part(condition, *judged))
    comparison = None
    if plan["compare"] is not None:
        comparison = dict(by_name[slo_comparison_name()])
        comparison["canary_notes"] = _distinct(totals["target"]["notes"])
        comparison["stable_notes"] = _distinct(totals["compare_to"]["notes"])
        comparison["intervals"] = {"canary": totals["target"]["intervals"], "stable": totals["compare_to"]["intervals"]}
        if comparison["verdict"] == verdict or verdict == slo.PASS:
            parts.append(_comparison_summary(comparison))
    samples_note = " over %d samples" % timing["samples_taken"] if verdict == slo.PASS else ""
    summary = "%s: %s%s; action %s" % (verdict.upper(), "; ".join(parts), samples_note, decision["action"])
    if timing["stopped_early"]:
        summary += " (stopped early after %d of %d samples)" % (
            timing["samples_taken"], plan["samples"] * (1 + timing["waits"]))
    elif timing["waits"]:
        summary += " (window extended %d time(s), on_inconclusive=wait)" % timing["waits"]
    result = {
        "verdict": verdict,
        "action": decision["action"],
        "action_reason": decision["reason"],
        "on_inconclusive": plan["on_inconclusive"],
        "summary": summary,
        "reason": evaluation["reason"],
        # not "failed": Ansible would read a non-empty list as a failed task
        "failed_conditions": evaluation["failed"],
        "inconclusive_conditions": evaluation["inconclusive"],
        "conditions": conditions,
        "provider": plan["provider"],
        "window": plan["window"],
        "interval": plan["interval"],
        "samples": timing["samples_taken"],
        "waits": timing["waits"],
        "stopped_early": timing["stopped_early"],
        "started": _iso(timing["started"]),
        "ended": _iso(timing["ended"]),
        "duration": round(timing["ended"] - timing["started"], 3),
    }
    if comparison is not None:
        result["comparison"] = comparison
    return result
