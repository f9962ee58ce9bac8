# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLO gate providers: where the counters of a slot are read.

A provider *scrapes* cumulative counters of the canary (``target``) and, for the
canary-vs-stable comparison, of the stable slot (``compare_to``):

* ``prometheus``: instant queries (``/api/v1/query``) for the raw series of the
  request counter, the latency histogram's ``_bucket`` series and ``up``;
* ``haproxy``: ``show stat`` (runtime API socket or ``stats;csv`` page) rows of the
  backend's servers whose name matches a regex: ``hrsp_*`` counters and ``status``
  (no latency: ``rtime`` is a moving mean, not this stage's requests);
* ``http``: each base URL's ``/metrics`` page (Prometheus text format) and its
  ``/readyz`` answer.

What two scrapes measure is :mod:`gate_measure`; the plan that picks a provider is
:mod:`gate_plan`. No AnsibleModule inside. It runs where the ``slo_gate`` module runs,
normally the controller (``delegate_to: localhost``); it stays Python 3.8 compatible.
"""

from __future__ import annotations

import concurrent.futures
import http.client
import json
import re
from collections.abc import Mapping
from urllib import error as urlerror
from urllib import parse as urlparse
from urllib import request as urlrequest

from ansible_collections.fleetops.lifecycle.plugins.module_utils.gate_measure import (
    bucket_series,
    describe_key,
    request_series,
    series_key,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.gate_numbers import g6
from ansible_collections.fleetops.lifecycle.plugins.module_utils.haproxy import (
    RuntimeApi,
    RuntimeApiError,
    backend_names,
    parse_show_stat,
    server_rows,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.metrics_text import parse_metrics_text

HAPROXY_RESPONSE_FIELDS = ("hrsp_1xx", "hrsp_2xx", "hrsp_3xx", "hrsp_4xx", "hrsp_5xx", "hrsp_other")
HAPROXY_ERROR_FIELDS = ("hrsp_5xx",)
HTTP_METRICS_PATH = "/metrics"
HTTP_HEALTH_PATH = "/readyz"

_MAX_HTTP_WORKERS = 16


class ProviderError(Exception):
    """A scrape could not measure something; the message says what and why."""


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
                "p%s reported%s" % (queries["latency"], g6(percentile * 100), excluded)
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
        failed = [describe_key(series_key(labels)) for labels, value in samples if not value >= 1]
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
                "p%s reported" % (self.metrics["latency"], where, g6(percentile * 100))
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
