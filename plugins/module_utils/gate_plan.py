# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The SLO gate's options checked into the plan :func:`gate_run.run_gate` follows.

Every option and condition is refused here, naming the option and the value, before
anything is measured; so is a condition the chosen provider cannot measure as asked.
No AnsibleModule inside; Python 3.8 compatible.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from fractions import Fraction
from urllib import parse as urlparse

from ansible_collections.fleetops.lifecycle.plugins.module_utils import gate_judgment as judgment
from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo
from ansible_collections.fleetops.lifecycle.plugins.module_utils.gate_numbers import g6
from ansible_collections.fleetops.lifecycle.plugins.module_utils.gate_providers import (
    HTTP_HEALTH_PATH,
    HTTP_METRICS_PATH,
    HaproxyProvider,
    HttpProvider,
    PrometheusProvider,
    runtime_api_reader,
    stats_url_reader,
)

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

_CONDITION_OPTIONS = ("type", "name", "threshold", "percentile", "sustained_for", "min_requests")
_METRIC_NAME_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
_LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")


def _url_path(option, value, default):
    """A page's path on the http provider's targets: absolute, without query or host."""
    if value is None:
        return default
    if not isinstance(value, str) or not value.startswith("/") or "?" in value or "#" in value:
        raise ValueError("%s must be a URL path starting with / (no query), got %r" % (option, value))
    return value


def _check_url(option, value):
    if not isinstance(value, str) or not value.strip():
        raise ValueError("%s must be an http:// or https:// URL, got %r" % (option, value))
    parts = urlparse.urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("%s must be an http:// or https:// URL, got %r" % (option, value))
    return value.strip().rstrip("/")


def _needs(conditions, compare):
    """The parts (requests, latency, health) each side must scrape."""
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
    _counted_share(condition, where)
    return condition


def _counted_share(condition, where):
    """The share of bad requests a counted condition allows: the error ratio itself,
    or for latency ``1 - percentile`` (p95 < X is "at most 5 % slower than X")."""
    if condition["type"] == "latency":
        condition["threshold_seconds"] = condition["threshold"]
        condition["bad_share"] = 1 - condition["percentile"]
    elif condition["type"] == "error_ratio":
        condition["bad_share"] = condition["threshold"]
    else:
        return
    judgment.evidence_plan(condition["bad_share"], name=where)


def refuse_unmeasurable(provider, conditions):
    """A condition the provider cannot measure as asked is refused by name before
    any traffic moves; an approximation is never substituted for it."""
    for condition in conditions:
        if provider == "haproxy" and condition["type"] == "latency":
            raise ValueError(
                "conditions[%d] (%s: p%s of request latency above %ss) cannot be measured by provider=haproxy: "
                "HAProxy's stats give rtime/ttime, a moving mean over each server's last 1024 requests that "
                "carries the slot's previous release into the verdict, not the share of this stage's requests "
                "slower than the threshold; use provider=prometheus or provider=http, which count it from the "
                "service's latency histogram" % (
                    condition["index"], condition["name"], g6(condition["percentile"] * 100),
                    g6(condition["threshold"])))


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
            "interval (%s) must not exceed window (%s): the window would hold no sample" % (g6(interval), g6(window))
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
    max_window = params.get("max_window")
    if max_window is None:
        max_window = window * (1 + max_waits) if on_inconclusive == "wait" else window * DEFAULT_MAX_WINDOW_FACTOR
    max_window = _option_number("max_window", max_window, 0, lo_open=True)
    if max_window < window:
        raise ValueError("max_window (%s) must not be shorter than window (%s): the stage observes at least the "
                         "window" % (g6(max_window), g6(window)))
    alpha = params.get("false_rollback_rate")
    beta = params.get("false_promotion_rate")
    alpha = judgment.DEFAULT_ALPHA if alpha is None else alpha
    beta = judgment.DEFAULT_BETA if beta is None else beta
    judgment.evidence_plan(0.01, alpha, beta)
    refuse_unmeasurable(provider, conditions)
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
        "max_window": max_window,
        "max_samples": sample_count(max_window, interval),
        "alpha": float(alpha),
        "beta": float(beta),
        "stop_on_fail": params.get("stop_on_fail", True) is not False,
        "compare": compare,
        "timeout": timeout,
        "metrics": metrics,
        "http_paths": {
            "metrics_path": _url_path("http_metrics_path", params.get("http_metrics_path"), HTTP_METRICS_PATH),
            "health_path": _url_path("http_health_path", params.get("http_health_path"), HTTP_HEALTH_PATH),
        },
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
            providers[side] = HttpProvider(what, metrics, timeout, **plan["http_paths"])
    return providers
