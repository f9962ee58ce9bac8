#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: slo_gate
short_description: Sample a canary's metrics over an analysis window and return a pass, fail or inconclusive verdict
version_added: 0.1.0
description:
  - Measures the canary (the O(target)) through a provider for O(window) seconds, one sample
    every O(interval) seconds, judges every condition and returns the verdict, what the rollout
    should do next and every measurement and threshold behind it.
  - Run it once per canary stage on the controller, with C(delegate_to=localhost) and C(run_once=true).
    The task takes about O(window) seconds, longer when O(on_inconclusive=wait) extends it.
  - Counters are cumulative, so each sample is the increase between the two scrapes that bound
    its interval, computed per series. A counter that went down (a process restarted, HAProxy
    reloaded) or a series that disappeared makes that interval inconclusive, never negative.
  - A provider that cannot be reached, answers with an error or returns no series leaves the
    intervals it should have measured unmeasured, with the reason in the result; their requests
    are counted in the next interval that is measured. A stage whose newest interval was not
    measured never passes.
  - B(How a verdict is reached.) C(error_ratio) and C(latency) are judged on counted evidence,
    the new slot's bad requests (5xx answers; requests slower than the threshold) out of all its
    requests. Over the stage, a sequential probability ratio test between half and twice the
    threshold fails the stage once the counts show the ratio is too high and passes it once they
    show it is low enough; O(false_rollback_rate) bounds how often a release at half the
    threshold is rolled back, O(false_promotion_rate) how often one at twice the threshold is
    promoted, whatever the traffic. Beside it, the runbooks' sustained rule fails a condition
    breached for O(conditions[].sustained_for) consecutive samples, where a sample breaches only
    when its own counts show the ratio above the threshold with 95% confidence (at a 1%
    threshold, one error in a sample of 6 requests or more is no breach). At a 1% threshold 303
    requests without an error pass, and each error adds about 92; docs/runbooks/deploy.md has
    the tables.
  - The stage samples at least O(window) seconds. While a condition cannot be decided it goes on,
    up to O(max_window), and ends at once when a condition fails (O(stop_on_fail)). Still undecided
    then, the verdict is C(inconclusive) and the summary says what was missing and how to get it.
  - C(availability) is the share of the new slot's health probes that succeeded over the stage
    (not derived from the request counts, so it never restates the error ratio with another
    threshold), C(health) the failing probes of each sample.
  - A condition a provider cannot measure as asked is refused before anything is sampled
    (C(latency) with O(provider=haproxy)); O(probe=true) with O(validate_only=true) also asks the
    provider once and fails with its own error when it cannot answer.
  - The module only reads; it never changes anything and reports C(changed=false). A C(fail)
    verdict does not fail the task unless O(fail_on_verdict=true); the play decides to roll back
    from RV(action).
author:
  - fleetops maintainers (@fleetops)
options:
  provider:
    description:
      - Where the measurements come from.
      - C(prometheus) queries the Prometheus HTTP API at O(prometheus_url) with instant queries of
        the raw series of O(metrics.requests), O(metrics.latency)C(_bucket) and O(metrics.health)
        restricted by the O(target) label selector.
      - C(haproxy) reads C(show stat) from the runtime API socket O(haproxy_socket) or the stats
        page O(haproxy_stats_url) and sums the counters of the backend's servers whose names match
        the O(target) regex. No Prometheus needed, but no latency either (see the notes).
      - C(http) scrapes the O(http_metrics_path) page (Prometheus text format) and asks O(http_health_path) of every
        base URL in O(target).
    type: str
    choices: [prometheus, haproxy, http]
    default: prometheus
  target:
    description:
      - What to measure, the canary.
      - For C(prometheus), a label selector such as C({job="demo",slot="green"}); it is appended to
        the metric names.
      - For C(haproxy), a mapping with C(backend) (the backend name) and C(servers), a regular
        expression searched in the server names, such as C(-green$) for the servers of the green slot.
      - For C(http), a list of base URLs such as C(http://app1:8081).
    type: raw
    required: true
  compare_to:
    description:
      - The stable slot, measured the same way as O(target) (a selector, a C(backend)/C(servers)
        mapping or a servers regex in the target's backend, or a list of URLs).
      - When given, the error ratio of the canary over the whole analysis is compared with the
        stable slot's; the gate fails when the canary's is higher by more than O(compare_margin),
        and is inconclusive when either side saw fewer than O(compare_min_requests) requests.
    type: raw
  compare_margin:
    description:
      - How much higher (as a ratio, 0 to 1) the canary's error ratio may be than the stable slot's.
    type: float
    default: 0.01
  compare_min_requests:
    description:
      - Requests each side must have served over the analysis for the comparison to be conclusive.
    type: int
    default: 10
  window:
    description:
      - Seconds of analysis. The window holds C(floor(window / interval)) samples.
    type: float
    default: 60
  interval:
    description:
      - Seconds between two scrapes; each sample covers one interval.
      - With C(prometheus), use the Prometheus scrape interval (15s in the lab) or a multiple of it;
        an interval that sees no new scrape has no requests and is inconclusive.
    type: float
    default: 15
  conditions:
    description:
      - What fails the gate. Each condition is judged on its own samples.
      - The default follows the mission, an error ratio above 1% (over the stage, or sustained for 3
        consecutive samples, or every sample when the window holds fewer), an availability of the
        new slot's health probes below 99.5%, or any failing health check, fails the stage.
    type: list
    elements: dict
    suboptions:
      type:
        description:
          - C(error_ratio), the share of requests answered with a 5xx code (bad when above the
            threshold).
          - C(availability), the share of the new slot's health probes that succeeded over the stage
            (bad when below the threshold). C(prometheus), C(up) series at 1. C(haproxy), matching
            servers C(UP) among the health-checked ones. C(http), O(http_health_path) answering 200.
          - C(latency), the O(conditions[].percentile) of the request duration must stay below the
            threshold in seconds, counted as "at most 1 - percentile of the requests slower than the
            threshold" from the service's histogram, whose bucket bounds must include the threshold.
            Refused with C(haproxy).
          - C(health), the number of failing health probes (bad when above the threshold).
            C(prometheus), C(up) series below 1. C(haproxy), matching servers that are C(DOWN) or
            C(NOLB) (servers in C(MAINT) or C(DRAIN) are not probed). C(http), URLs whose
            O(http_health_path) does not answer 200.
        type: str
        choices: [availability, error_ratio, health, latency]
        required: true
      name:
        description:
          - Name of the condition in the result and messages; defaults to its type. Two conditions of
            the same type need different names.
        type: str
      threshold:
        description:
          - C(error_ratio) in (0, 1), default 0.01; C(availability) in [0, 1], default 0.995.
          - C(latency) in seconds, above 0, a bucket bound of the histogram; required.
          - C(health) a number of failing probes, 0 or more; default 0 (any failing probe breaches).
        type: float
      percentile:
        description:
          - For C(latency), the quantile that must stay below the threshold, between 0 and 1
            exclusive. Default 0.95 (at most 5% of requests slower than the threshold). The
            interpolated quantile over the stage is reported with the bucket it lies in. Refused on
            other types.
        type: float
      sustained_for:
        description:
          - Consecutive breaching samples (not seconds; the summary prints both) that fail the
            condition.
          - Defaults to 3 (1 for C(health)), or the number of samples of the window when it holds
            fewer. A value above that number is refused, the condition could never fail.
        type: int
      min_requests:
        description:
          - Requests a sample needs to end a run of breaching samples (a lighter sample neither
            ends nor extends it; for C(health), the probes a sample needs to be conclusive).
            Default 10 (1 probe for C(health)).
        type: int
  on_inconclusive:
    description:
      - What an inconclusive verdict leads to.
      - C(fail), RV(action=rollback).
      - C(pass), RV(action=proceed).
      - C(wait), kept for compatibility, RV(action=rollback) like C(fail); every policy already
        samples up to O(max_window) while the evidence cannot decide. Without O(max_window),
        C(wait) sets it to O(window) times (1 + O(max_waits)).
    type: str
    choices: [wait, fail, pass]
    default: fail
  max_waits:
    description:
      - With O(on_inconclusive=wait) and no O(max_window), the stage may last O(window) times
        (1 + O(max_waits)).
    type: int
    default: 1
  max_window:
    description:
      - Seconds the stage may sample while a condition cannot be decided; at least O(window).
      - Default O(window) times 10 (times 1 + O(max_waits) with O(on_inconclusive=wait)).
    type: float
  false_rollback_rate:
    description:
      - The sequential test's alpha, in (0, 0.5), the largest share of stages that roll back a
        release whose bad ratio is half the threshold or better.
    type: float
    default: 0.01
  false_promotion_rate:
    description:
      - The sequential test's beta, in (0, 0.5), the largest share of stages that pass a release
        whose bad ratio is twice the threshold or worse.
      - Larger rates decide on fewer requests (at a 1% threshold, 0.1 and 0.1 pass after 145 clean
        requests instead of 303).
    type: float
    default: 0.01
  stop_on_fail:
    description:
      - End the analysis as soon as a condition has failed; more samples cannot undo a failure,
        and the rollback starts sooner.
    type: bool
    default: true
  fail_on_verdict:
    description:
      - Fail the task, with the one-line RV(summary) as message, when RV(action=rollback).
      - By default the task succeeds whatever the verdict and the play decides from RV(action).
    type: bool
    default: false
  validate_only:
    description:
      - Check every option and condition, return RV(plan) and measure nothing. A play
        runs this before any traffic moves, so that a typo in a condition stops the
        rollout at preflight instead of at the first stage.
    type: bool
    default: false
  probe:
    description:
      - With O(validate_only=true), also scrape O(target) (and O(compare_to)) once and fail, with
        the provider's own error, when it cannot give what the conditions need (Prometheus does
        not answer or returns no series, the stats page does not parse, O(http_metrics_path) lacks a named
        metric) or when a latency threshold is not a bucket bound. Point O(target) at the slot
        that serves now.
    type: bool
    default: false
  prometheus_url:
    description:
      - Base URL of the Prometheus HTTP API for O(provider=prometheus).
    type: str
    default: http://127.0.0.1:9090
  haproxy_socket:
    description:
      - Path of the HAProxy runtime API socket on the host that runs the module, for
        O(provider=haproxy), so delegate the task to the load balancer to use it. Mutually
        exclusive with O(haproxy_stats_url); one of them is required.
    type: path
  haproxy_stats_url:
    description:
      - URL of the HAProxy stats page in CSV, such as C(http://lb:8404/stats;csv), for
        O(provider=haproxy).
    type: str
  timeout:
    description:
      - Seconds each HTTP request or socket exchange may take.
    type: float
    default: 5
  http_metrics_path:
    description:
      - Path of the metrics page (Prometheus text format) on each O(target) URL, for the
        C(http) provider; the service contract's C(service_metrics_path).
    type: str
    default: /metrics
  http_health_path:
    description:
      - Path on each O(target) URL that answers 200 while the instance is ready, for the
        C(http) provider; the service contract's C(service_ready_path).
    type: str
    default: /readyz
  metrics:
    description:
      - Names of the metrics and labels read by the C(prometheus) and C(http) providers, and the
        HAProxy field used for latency. Keys left out keep their default.
    type: dict
    suboptions:
      requests:
        description: Counter of HTTP requests with a status code label.
        type: str
        default: demo_http_requests_total
      latency:
        description: Base name of the request duration histogram (C(_bucket) is appended).
        type: str
        default: demo_http_request_duration_seconds
      health:
        description: Metric whose series are 1 when a target is healthy (Prometheus provider).
        type: str
        default: up
      code_label:
        description: Label holding the HTTP status code.
        type: str
        default: code
      error_codes:
        description: Regular expression that must match the whole status code of an error.
        type: str
        default: 5..
      path_label:
        description: Label holding the request path.
        type: str
        default: path
      exclude_paths:
        description:
          - Values of O(metrics.path_label) that are not user traffic (scrapes and probes) and are
            left out of the request and latency measurements.
        type: list
        elements: str
        default: [/metrics, /healthz, /readyz]
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: The module only reads metrics; check mode runs the same analysis and returns the same verdict.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in check_mode), when in diff mode.
    support: none
  platform:
    description: Target OS/families that can be operated against.
    support: N/A
    platforms: posix
notes:
  - With O(provider=haproxy), C(latency) conditions are refused, HAProxy's C(rtime)/C(ttime) is a
    moving mean over each server's last 1024 requests, which carries the slot's previous release
    into the verdict and is no percentile.
  - With O(provider=haproxy), requests are the sum of the C(hrsp_1xx) to C(hrsp_5xx) and
    C(hrsp_other) counters of the matching servers, errors are C(hrsp_5xx).
  - The C(http) provider parses O(http_metrics_path) with C(prometheus_client) when the controller's Python
    has it, else with a small built-in parser.
  - Requests to O(metrics.exclude_paths) (Prometheus scrapes, health probes, the gate's own scrapes)
    do not count as traffic.
  - The canary-vs-stable comparison uses the requests of the intervals each side could measure;
    intervals with a counter reset are left out on that side.
seealso:
  - name: Prometheus HTTP API
    description: The instant query endpoint used by the C(prometheus) provider.
    link: https://prometheus.io/docs/prometheus/latest/querying/api/
  - name: HAProxy management guide, show stat
    description: The CSV fields read by the C(haproxy) provider.
    link: https://docs.haproxy.org/2.6/management.html
  - module: fleetops.lifecycle.haproxy_server
"""

EXAMPLES = r"""
- name: Gate the 10% stage on Prometheus with the mission's default conditions
  fleetops.lifecycle.slo_gate:
    provider: prometheus
    prometheus_url: http://10.89.77.10:9090
    target: '{job="demo",slot="green"}'
    compare_to: '{job="demo",slot="blue"}'
    window: 60
    interval: 15
  delegate_to: localhost
  run_once: true
  register: gate

- name: Roll back when the gate says so
  ansible.builtin.include_tasks: rollback_stage.yml
  when: gate.action == 'rollback'

- name: Gate on HAProxy counters only, giving a quiet stage up to 5 minutes to decide
  fleetops.lifecycle.slo_gate:
    provider: haproxy
    haproxy_stats_url: http://10.89.77.10:8404/stats;csv
    target: {backend: demo, servers: '-green$'}
    compare_to: '-blue$'
    window: 60
    max_window: 300
    interval: 10
    conditions:
      - type: error_ratio
        threshold: 0.01
      - type: health
  delegate_to: localhost
  run_once: true
  register: gate

- name: Scrape the canaries directly and fail the task on a failed gate
  fleetops.lifecycle.slo_gate:
    provider: http
    target:
      - http://10.89.77.21:8081
      - http://10.89.77.22:8081
    window: 30
    interval: 5
    fail_on_verdict: true
    conditions:
      - {type: error_ratio, threshold: 0.02, sustained_for: 2, min_requests: 20}
      - {type: latency, name: latency_p99, percentile: 0.99, threshold: 1.0}  # 1.0 is a bucket bound
      - {type: health}
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
plan:
  description:
    - With O(validate_only=true), the checked analysis plan; nothing else is returned.
  returned: when O(validate_only=true)
  type: dict
  sample:
    provider: haproxy
    window: 60.0
    max_window: 300.0
    interval: 10.0
    samples: 6
    on_inconclusive: fail
    false_rollback_rate: 0.01
    false_promotion_rate: 0.01
    conditions: [{name: error_ratio, type: error_ratio, threshold: 0.01, sustained_for: 3, min_requests: 10}]
    probe: {target: [health, requests]}
fleetops_decision:
  description:
    - The verdict for the audit trail (callback C(fleetops.lifecycle.audit)) - C(kind=gate),
      C(verdict), C(action), C(summary) and C(provider).
  returned: unless O(validate_only=true)
  type: dict
  sample: {kind: gate, verdict: fail, action: rollback, provider: haproxy, summary: "FAIL: ..."}
verdict:
  description: C(pass), C(fail) or C(inconclusive).
  returned: unless O(validate_only=true)
  type: str
  sample: fail
action:
  description:
    - What the rollout should do next, C(proceed) or C(rollback) (an inconclusive verdict per
      O(on_inconclusive)).
  returned: unless O(validate_only=true)
  type: str
  sample: rollback
action_reason:
  description: Why this action.
  returned: unless O(validate_only=true)
  type: str
  sample: gate failed
summary:
  description:
    - One line with the verdict, each condition's measurement over the stage with the counts
      behind it, the samples that breached, the action and how long the stage sampled; when
      inconclusive, what was missing and how to get it.
  returned: unless O(validate_only=true)
  type: str
  sample: >-
    PASS: error_ratio over the stage 0.25 % (4 of 1,600) <= 1 %: the sequential test accepts it (a
    release at 2 % or worse passes at most 1 % of stages); breached in 1 of 6 samples (worst 90 % at
    14:03:10), not sustained (3 samples = 30s needed); health: no failing probe in 6 sample(s);
    action proceed (6 sample(s) in 60s)
reason:
  description: The reasons of every condition behind the verdict.
  returned: unless O(validate_only=true)
  type: str
failed_conditions:
  description: Names of the failed conditions (and C(canary_vs_stable)).
  returned: unless O(validate_only=true)
  type: list
  elements: str
  sample: [error_ratio]
inconclusive_conditions:
  description: Names of the inconclusive conditions (and C(canary_vs_stable)).
  returned: unless O(validate_only=true)
  type: list
  elements: str
  sample: []
conditions:
  description: Every condition with its thresholds, samples, counts and verdict.
  returned: unless O(validate_only=true)
  type: list
  elements: dict
  contains:
    name:
      description: Name of the condition.
      type: str
      sample: error_ratio
    type:
      description: Condition type.
      type: str
      sample: error_ratio
    threshold:
      description: The threshold (seconds for latency).
      type: float
      sample: 0.01
    comparison:
      description: When a value is bad, C(value <comparison> threshold).
      type: str
      sample: ">"
    percentile:
      description: The quantile, for latency conditions.
      type: float
      sample: 0.95
    stage_quantile:
      description: For latency, the quantile interpolated from the stage's summed bucket increases.
      type: float
      sample: 0.297
    bad_share_threshold:
      description: For counted conditions, the share of bad requests allowed (1 - percentile for latency).
      type: float
      sample: 0.05
    sustained_for:
      description: Consecutive breaching samples that fail the condition.
      type: int
      sample: 3
    min_requests:
      description: Requests a sample needs to end a run of breaches (probes for health).
      type: float
      sample: 10
    measure:
      description: What exactly was measured (query, fields, URLs).
      type: str
    samples:
      description:
        - One entry per interval, oldest first, timestamps in epoch seconds at the end of the interval.
        - Counted conditions C([timestamp, value, bad, total]) (value is the bad ratio, or the
          interpolated quantile for latency), availability C([timestamp, share up, probes]), health
          C([timestamp, failing probes, probes]). Values are null when the interval was not measured.
      type: list
      elements: list
      sample: [[1767139215.01, 0.052, 21, 404], [1767139230.0, 0.0503, 20, 398]]
    states:
      description: For counted conditions, C(ok), C(breach), C(unclear) or C(unmeasured) for each sample.
      type: list
      elements: str
      sample: [breach, breach]
    bad:
      description: For counted conditions, bad requests over the stage.
      type: int
      sample: 41
    total:
      description: For counted conditions, requests over the stage.
      type: int
      sample: 802
    stage_ratio:
      description: For counted conditions, C(bad / total).
      type: float
      sample: 0.0511
    breaches:
      description: For counted conditions, samples that breached with confidence.
      type: int
      sample: 2
    test:
      description:
        - For counted conditions, the sequential test, C(acceptable) and C(unacceptable) ratios,
          C(alpha), C(beta), its log-likelihood ratio C(llr) and bounds C(fail_at), C(pass_at),
          C(decision), C(more_clean_requests) and C(clean_requests_to_pass).
      type: dict
    up:
      description: For availability, probes that succeeded over the stage.
      type: int
    probes:
      description: For availability, probes over the stage.
      type: int
    stage_availability:
      description: For availability, C(up / probes).
      type: float
    verdict:
      description: Verdict of the condition.
      type: str
      sample: fail
    reason:
      description: The verdict explained with the counts, the threshold and when samples breached.
      type: str
    problems:
      description: Why intervals were not measured (provider unreachable, no series, counter reset, ...).
      type: list
      elements: str
      sample: ["query returned no series: demo_http_requests_total{job=\"demo\",slot=\"green\"} (this scrape)"]
comparison:
  description:
    - The canary-vs-stable comparison of error ratios over the analysis (C(slo.compare_canary)
      result), with the notes of intervals either side could not measure.
  returned: when O(compare_to) is given
  type: dict
  sample:
    verdict: fail
    canary_error_ratio: 0.05
    stable_error_ratio: 0.001
    difference: 0.049
    margin: 0.01
    canary_requests: 1215
    stable_requests: 10890
provider:
  description: The provider used.
  returned: unless O(validate_only=true)
  type: str
  sample: prometheus
window:
  description: The minimum analysis in seconds.
  returned: unless O(validate_only=true)
  type: float
  sample: 60
max_window:
  description: The longest the stage could sample while undecided.
  returned: unless O(validate_only=true)
  type: float
  sample: 300
interval:
  description: Seconds between samples.
  returned: unless O(validate_only=true)
  type: float
  sample: 15
samples:
  description: Samples taken.
  returned: unless O(validate_only=true)
  type: int
  sample: 4
stopped_early:
  description: Whether the analysis ended at a failure before O(max_window).
  returned: unless O(validate_only=true)
  type: bool
  sample: false
on_inconclusive:
  description: The O(on_inconclusive) policy applied.
  returned: unless O(validate_only=true)
  type: str
  sample: fail
started:
  description: Time of the baseline scrape, ISO 8601 UTC.
  returned: unless O(validate_only=true)
  type: str
  sample: "2025-12-30T10:00:00.000Z"
ended:
  description: End of the analysis, ISO 8601 UTC.
  returned: unless O(validate_only=true)
  type: str
  sample: "2025-12-30T10:01:00.012Z"
duration:
  description: Seconds from the baseline scrape to the end of the analysis.
  returned: unless O(validate_only=true)
  type: float
  sample: 60.012
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.gate_judgment import DEFAULT_ALPHA, DEFAULT_BETA
from ansible_collections.fleetops.lifecycle.plugins.module_utils.gate_plan import (
    DEFAULT_COMPARE_MARGIN,
    DEFAULT_METRICS,
    DEFAULT_ON_INCONCLUSIVE,
    DEFAULT_PROMETHEUS_URL,
    DEFAULT_TIMEOUT,
    HTTP_HEALTH_PATH,
    HTTP_METRICS_PATH,
    ON_INCONCLUSIVE,
    PROVIDERS,
    build_plan,
    make_providers,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.gate_run import probe_providers, run_gate
from ansible_collections.fleetops.lifecycle.plugins.module_utils.slo import DEFAULT_MIN_REQUESTS, KINDS

ARGUMENT_SPEC = dict(
    provider=dict(type="str", choices=list(PROVIDERS), default="prometheus"),
    target=dict(type="raw", required=True),
    compare_to=dict(type="raw"),
    compare_margin=dict(type="float", default=DEFAULT_COMPARE_MARGIN),
    compare_min_requests=dict(type="int", default=DEFAULT_MIN_REQUESTS),
    window=dict(type="float", default=60),
    interval=dict(type="float", default=15),
    conditions=dict(
        type="list",
        elements="dict",
        options=dict(
            type=dict(type="str", required=True, choices=sorted(KINDS)),
            name=dict(type="str"),
            threshold=dict(type="float"),
            percentile=dict(type="float"),
            sustained_for=dict(type="int"),
            min_requests=dict(type="int"),
        ),
    ),
    on_inconclusive=dict(type="str", choices=list(ON_INCONCLUSIVE), default=DEFAULT_ON_INCONCLUSIVE),
    max_waits=dict(type="int", default=1),
    max_window=dict(type="float"),
    false_rollback_rate=dict(type="float", default=DEFAULT_ALPHA),
    false_promotion_rate=dict(type="float", default=DEFAULT_BETA),
    probe=dict(type="bool", default=False),
    stop_on_fail=dict(type="bool", default=True),
    fail_on_verdict=dict(type="bool", default=False),
    validate_only=dict(type="bool", default=False),
    prometheus_url=dict(type="str", default=DEFAULT_PROMETHEUS_URL),
    haproxy_socket=dict(type="path"),
    haproxy_stats_url=dict(type="str"),
    timeout=dict(type="float", default=DEFAULT_TIMEOUT),
    http_metrics_path=dict(type="str", default=HTTP_METRICS_PATH),
    http_health_path=dict(type="str", default=HTTP_HEALTH_PATH),
    metrics=dict(
        type="dict",
        options=dict(
            requests=dict(type="str", default=DEFAULT_METRICS["requests"]),
            latency=dict(type="str", default=DEFAULT_METRICS["latency"]),
            health=dict(type="str", default=DEFAULT_METRICS["health"]),
            code_label=dict(type="str", default=DEFAULT_METRICS["code_label"]),
            error_codes=dict(type="str", default=DEFAULT_METRICS["error_codes"]),
            path_label=dict(type="str", default=DEFAULT_METRICS["path_label"]),
            exclude_paths=dict(type="list", elements="str", default=list(DEFAULT_METRICS["exclude_paths"])),
        ),
    ),
)


MUTUALLY_EXCLUSIVE = [("haproxy_socket", "haproxy_stats_url")]


def gate(params, clock=None, on_sample=None):
    """Validate, sample, judge. Raises ValueError for bad options. ``on_sample`` gets
    the plan and each sample's progress (the action plugin prints it)."""
    plan = build_plan(params)
    report = None if on_sample is None else (lambda progress: on_sample(plan, progress))
    return run_gate(plan, make_providers(plan), clock=clock, on_sample=report)


def checked_plan(params):
    """The validated plan, for O(validate_only): conditions with names, thresholds, windows;
    with O(probe), one real scrape of O(target) (ValueError naming the provider when it
    cannot measure a condition)."""
    plan = build_plan(params)
    checked = dict(
        provider=plan["provider"],
        window=plan["window"],
        max_window=plan["max_window"],
        interval=plan["interval"],
        samples=plan["samples"],
        on_inconclusive=plan["on_inconclusive"],
        false_rollback_rate=plan["alpha"],
        false_promotion_rate=plan["beta"],
        conditions=[{key: condition.get(key) for key in ("name", "type", "threshold", "sustained_for", "min_requests")}
                    for condition in plan["conditions"]],
    )
    if params.get("probe"):
        checked["probe"] = probe_providers(plan, make_providers(plan))
    return checked


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        mutually_exclusive=MUTUALLY_EXCLUSIVE,
        supports_check_mode=True,
    )
    try:
        if module.params["validate_only"]:
            module.exit_json(changed=False, plan=checked_plan(module.params))
        result = gate(module.params)
    except ValueError as exc:
        module.fail_json(msg=str(exc))
    # The verdict as the audit trail records it (key fleetops_decision, see the audit callback).
    result["fleetops_decision"] = {key: result[key] for key in ("verdict", "action", "summary", "provider")}
    result["fleetops_decision"]["kind"] = "gate"
    if module.params["fail_on_verdict"] and result["action"] == "rollback":
        module.fail_json(msg=result["summary"], **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
