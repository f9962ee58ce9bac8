#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: capacity_report
short_description: Write the capacity report (utilisation, growth trend, projections, host counts) from Prometheus
version_added: 0.2.0
description:
  - Reads CPU, memory, requests/s and p95 per instance (host and slot) and per host from Prometheus, fits a
    least-squares trend to the fleet's request rate over O(trend_days), projects it 6, 12 and 24 months ahead,
    computes the CPU each projection needs at the measured CPU per request and the hosts it needs at
    O(target_utilisation), and lists the scaling triggers that fire.
  - Writes C(capacity_report.json), C(capacity_report.md) and C(capacity_report.html) (charts drawn by
    matplotlib; run it with the controller's Python, as C(playbooks/capacity_report.yml) does) into O(dest).
author:
  - fleetops maintainers (@fleetops)
options:
  prometheus_url:
    description: Base URL of Prometheus.
    type: str
    required: true
  dest:
    description: Directory that receives the three files (created when missing).
    type: path
    required: true
  selector:
    description: Label matchers of the service's series.
    type: str
    default: '{job="demo"}'
  requests_metric:
    description: The service's request counter.
    type: str
    default: demo_http_requests_total
  latency_histogram:
    description: Base name of the service's request duration histogram.
    type: str
    default: demo_http_request_duration_seconds
  trend_days:
    description: Days of request rate the trend is fitted to.
    type: float
    default: 30
  host_cpus:
    description: CPUs of one app host.
    type: float
    default: 1
  target_utilisation:
    description: Largest share of a host's CPUs the projections may use, in (0, 1].
    type: float
    default: 0.6
  cpu_trigger:
    description: CPU utilisation (share of the fleet's CPUs) above which scaling out is due.
    type: float
    default: 0.7
  p95_trigger:
    description: Fleet p95 latency (seconds) above which scaling out is due.
    type: float
    default: 0.2
  timeout:
    description: Seconds to wait for each query.
    type: float
    default: 20
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
attributes:
  check_mode:
    support: full
    details: Measures as in a real run; writes nothing.
  diff_mode:
    support: none
seealso:
  - module: fleetops.lifecycle.slo_report
"""

EXAMPLES = r"""
- name: Capacity report
  fleetops.lifecycle.capacity_report:
    prometheus_url: http://10.89.77.10:9090
    dest: reports/capacity
"""

RETURN = r"""
report:
  description: The report written to C(capacity_report.json), without the trend series.
  returned: success
  type: dict
  sample: {host_count: 3, projections: [{months: 6, rps: 40.2, cpu: 0.8, hosts: 2}], triggers: []}
files:
  description: Paths written (empty in check mode).
  returned: success
  type: list
  elements: str
  sample: [reports/capacity/capacity_report.json]
"""

import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils import capacity_report, slo_charts, slo_policy


def _write(module, dest, name, text):
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=".%s." % name)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    path = os.path.join(dest, name)
    module.atomic_move(tmp, path)
    return path


def main():
    module = AnsibleModule(
        argument_spec=dict(
            prometheus_url=dict(type="str", required=True),
            dest=dict(type="path", required=True),
            selector=dict(type="str", default='{job="demo"}'),
            requests_metric=dict(type="str", default="demo_http_requests_total"),
            latency_histogram=dict(type="str", default="demo_http_request_duration_seconds"),
            trend_days=dict(type="float", default=30),
            host_cpus=dict(type="float", default=1),
            target_utilisation=dict(type="float", default=0.6),
            cpu_trigger=dict(type="float", default=0.7),
            p95_trigger=dict(type="float", default=0.2),
            timeout=dict(type="float", default=20),
        ),
        supports_check_mode=True,
    )
    p = module.params
    for option in ("trend_days", "host_cpus"):
        if p[option] <= 0:
            module.fail_json(msg="%s must be above 0, got %r" % (option, p[option]))
    if not 0 < p["target_utilisation"] <= 1:
        module.fail_json(msg="target_utilisation must be above 0 and at most 1, got %r" % p["target_utilisation"])
    url, timeout = p["prometheus_url"], p["timeout"]
    at = int(time.time())
    options = {key: p[key] for key in ("selector", "requests_metric", "latency_histogram", "trend_days", "host_cpus",
                                       "target_utilisation")}
    options["triggers"] = {"cpu_utilisation": p["cpu_trigger"], "p95_seconds": p["p95_trigger"]}
    try:
        report = capacity_report.build(
            lambda expr: slo_policy.query_vector(url, expr, timeout),
            lambda expr, start, end, step: slo_policy.query_range(url, expr, (start, end, step), timeout),
            at, options)
        charts = slo_charts.capacity_charts(report)
    except (ValueError, slo_policy.PolicyError) as exc:
        module.fail_json(msg=str(exc))
    except ImportError as exc:
        module.fail_json(msg="the capacity report draws its charts with matplotlib, which this Python lacks: %s" % exc)
    files = []
    if not module.check_mode:
        os.makedirs(p["dest"], exist_ok=True)
        files = [_write(module, p["dest"], "capacity_report.json", capacity_report.to_json(report)),
                 _write(module, p["dest"], "capacity_report.md", capacity_report.to_markdown(report)),
                 _write(module, p["dest"], "capacity_report.html", capacity_report.to_html(report, charts))]
    module.exit_json(changed=bool(files), files=files,
                     report={k: v for k, v in report.items() if k != "trend_series"})


if __name__ == "__main__":
    main()
