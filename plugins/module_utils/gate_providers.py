# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLO gate measurements: read counters from a provider and turn them into samples;
the plan they follow is :mod:`gate_plan`.

Judging counted evidence is :mod:`gate_judgment` (health streaks and the canary
comparison :mod:`slo`); the sampling loop and the result are :mod:`gate_run`. No
AnsibleModule inside. It runs where the ``slo_gate`` module runs,
normally the controller (``delegate_to: localhost``); it stays Python 3.8 compatible.

Measuring
---------
A provider *scrapes* cumulative counters of the canary (``target``) and, for the
canary-vs-stable comparison, of the stable slot (``compare_to``):

* ``prometheus``: instant queries (``/api/v1/query``) for the raw series of the
  request counter, the latency histogram's ``_bucket`` series and ``up``;
* ``haproxy``: ``show stat`` (runtime API socket or ``stats;csv`` page) rows of the
  backend's servers whose name matches a regex: ``hrsp_*`` counters and ``status``
  (no latency: ``rtime`` is a moving mean, not this stage's requests);
* ``http``: each base URL's ``/metrics`` page (Prometheus text format) and its
  ``/readyz`` answer.

Counters are cumulative, so the sample of an interval is the DELTA between the
scrapes that bound it, computed per series: for requests, the bad (5xx) and total
counts; for latency, the requests slower than the threshold (a bucket bound) and all
of them, from the histogram's bucket increases. A series whose value went down (the
process restarted, HAProxy reloaded) or disappeared makes that interval inconclusive:
its value is unknown and never negative. A scrape that fails (provider unreachable,
error reply, query returned no series) leaves its interval unmeasured, with the
reason kept beside the sample; the next measured interval counts from the newest
scrape that succeeded, so no request is lost. Health is read from each scrape, not as a
delta: the number of failing probes out of those seen (``availability`` sums them over
the stage).

A sample is ``{"timestamp", "value", "bad", "total", "request_count", "note"}``
(``up``/``probes`` for availability); ``note`` says why a count is None.
"""

from __future__ import annotations

import concurrent.futures
import datetime
import http.client
import json
import math
import re
from collections.abc import Mapping
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
ON_INCONCLUSIVE = slo.ON_INCONCLUSIVE
DEFAULT_ON_INCONCLUSIVE = slo.DEFAULT_ON_INCONCLUSIVE
DEFAULT_PERCENTILE = 0.95
DEFAULT_PROMETHEUS_URL = "http://127.0.0.1:9090"
DEFAULT_TIMEOUT = 5.0
DEFAULT_COMPARE_MARGIN = 0.01
# While the evidence cannot decide, a stage samples up to this many windows.
DEFAULT_MAX_WINDOW_FACTOR = 10

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
}
HAPROXY_RESPONSE_FIELDS = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")
HAPROXY_ERROR_FIELDS = ("hrsp_5xx",)
HTTP_METRICS_PATH = "/metrics"
HTTP_HEALTH_PATH = "/readyz"

_MAX_HTTP_WORKERS = 16
_NOTE_LIMIT = 3


class ProviderError(Exception):
    """A scrape could not measure something; the message says what and why."""


# ------------------------------------------------------------------------ helpers


def _g(value):
    return "%.6g" % value


# Numbers in results: 6 significant digits; counts as ints when whole.
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


def slow_requests(histogram, threshold):
    """``(slower, observations, note)``: requests above ``threshold`` seconds in a
    histogram of increases ``{upper bound: cumulative count}``. The threshold must be a
    bucket bound: inside a bucket the count is unknown, and a percentile interpolated
    there is a guess (0.487 s reported for a real 0.254 s), not a measurement."""
    if math.inf not in histogram:
        return None, None, "the histogram has no le=\"+Inf\" bucket"
    bound = next((le for le in histogram if abs(le - threshold) <= 1e-9 * max(1.0, threshold)), None)
    if bound is None:
        bounds = ", ".join(_g(le) for le in sorted(histogram) if le != math.inf)
        return None, None, (
            "the latency threshold %ss is not a bucket bound of the histogram (bounds: %s): the share of "
            "requests slower than it cannot be counted; use a bound as threshold or add one to the service's "
            "histogram" % (_g(threshold), bounds))
    observations = histogram[math.inf]
    return max(0.0, observations - histogram[bound]), observations, None


def bucket_increases(previous, current):
    """``(histogram, note)``: ``{upper bound: increase}`` summed over series between two
    ``_bucket`` scrapes (``{key: (le, value)}``); None and why on a reset."""
    deltas, note = counter_deltas(
        {key: value for key, (_, value) in previous.items()},
        {key: value for key, (_, value) in current.items()},
    )
    if deltas is None:
        return None, note
    histogram = {}
    for key, delta in deltas.items():
        le = current[key][0]
        histogram[le] = histogram.get(le, 0.0) + delta
    return histogram, None


def interval_sample(condition, previous, current):
    """The sample of ``condition`` for the interval between two snapshots.

    A snapshot is ``{"timestamp", "parts": {part: data}, "notes": {part: why it is
    missing}}`` (see :meth:`Provider.scrape`); ``previous`` is the newest earlier
    snapshot that holds the part (None: no baseline), so an interval that could not be
    measured hands its requests to the next one instead of losing them.

    Counted kinds carry ``bad``/``total`` (5xx answers or requests slower than the
    threshold, out of all requests); ``availability`` carries ``up``/``probes``;
    ``health`` ``value`` (failing probes) and ``request_count`` (probes).
    """
    kind = condition["type"]
    sample = {"timestamp": current["timestamp"], "value": None, "request_count": None, "note": None,
              "bad": None, "total": None}
    if kind in ("health", "availability"):
        if "health" not in current["parts"]:
            sample["note"] = current["notes"].get("health", "no health data")
            if kind == "availability":
                sample.update(up=None, probes=None)
            return sample
        health = current["parts"]["health"]
        if kind == "availability":
            sample.update(up=float(health["probes"] - health["failing"]), probes=float(health["probes"]))
            sample["value"] = sample["up"] / sample["probes"] if health["probes"] else None
        else:
            sample["value"] = float(health["failing"])
            sample["request_count"] = float(health["probes"])
        if health["failing"]:
            sample["note"] = "failing: %s" % ", ".join(health["failed"][:_NOTE_LIMIT])
        return sample
    part = "latency" if kind == "latency" else "requests"
    if part not in current["parts"]:
        sample["note"] = "%s (this scrape)" % current["notes"].get(part, "no data")
        return sample
    if previous is None:
        sample["note"] = "no earlier scrape to measure the interval from"
        return sample
    before, after = previous["parts"][part], current["parts"][part]
    if kind == "latency":
        histogram, note = bucket_increases(before["series"], after["series"])
        bad = total = None
        if histogram is not None:
            bad, total, note = slow_requests(histogram, condition["threshold_seconds"])
        if total is not None:
            sample["histogram"] = histogram
            sample["value"] = histogram_quantile(condition["percentile"], histogram)
    else:
        bad, total, note = request_counts(before, after)
    if total is not None and total <= 0:
        note = "no requests in the interval"
    sample.update(bad=bad, total=total, request_count=total, note=note)
    if kind == "error_ratio" and total:
        sample["value"] = bad / total
    return sample


# ---------------------------------------------------------------------- providers


def _needs(conditions, compare):
    needs = {"target": set(), "compare_to": set()}
    for condition in conditions:
        if condition["type"] == "error_ratio":
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
        if kind == "availability":
            return "share of the series of %s at 1 over the stage's scrapes" % queries["health"]
        if kind == "error_ratio":
            return "errors over all requests per interval from increases of %s, errors: %s=~%r%s" % (
                queries["requests"],
                self.metrics["code_label"],
                self.metrics["error_codes"],
                excluded,
            )
        if kind == "latency":
            return "requests slower than the threshold (a bucket bound) from the increases of %s per interval, " \
                "p%s reported%s" % (queries["latency"], _g(percentile * 100), excluded)
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
        if kind == "error_ratio":
            return "hrsp_5xx over the sum of hrsp_1xx..hrsp_5xx and hrsp_other per interval, %s" % where
        if kind == "availability":
            return "share of UP servers among the health-checked ones (UP, DOWN, NOLB) at each scrape, %s" % where
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
        if kind == "availability":
            return "share of %s answering HTTP 200 over the stage's scrapes, out of %s" % (self.health_path, where)
        if kind == "error_ratio":
            return "errors over all requests per interval from increases of %s (errors: %s=~%r) at %s" % (
                self.metrics["requests"],
                self.metrics["code_label"],
                self.metrics["error_codes"],
                where,
            )
        if kind == "latency":
            return "requests slower than the threshold (a bucket bound) from the increases of %s_bucket at %s, " \
                "p%s reported" % (self.metrics["latency"], where, _g(percentile * 100))
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
