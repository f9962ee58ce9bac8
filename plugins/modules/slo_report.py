#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: slo_report
short_description: Write the SLO report (JSON, Markdown, HTML with charts) from Prometheus
version_added: 0.2.0
description:
  - Queries Prometheus over each SLO's window and writes C(slo_report.json), C(slo_report.md) and
    C(slo_report.html) into O(dest) - per SLO the objective, the measured SLI, the error budget left, the burn
    rate over each alert window and a status (C(ok), C(burning), C(exhausted), C(no data)).
  - The HTML embeds charts of the SLI and of the budget left over the window, drawn by matplotlib; run it on the
    controller with the Python that has matplotlib (C(playbooks/slo_report.yml) does).
  - An SLO without data over its window is reported as no data, never as 100 %.
author:
  - fleetops maintainers (@fleetops)
options:
  prometheus_url:
    description: Base URL of Prometheus.
    type: str
    required: true
  definitions:
    description: The SLO definitions (docs/slo.md).
    type: list
    elements: dict
    required: true
  dest:
    description: Directory that receives the three files (created when missing).
    type: path
    required: true
  at:
    description: Epoch seconds the report is taken at; default now.
    type: float
  points:
    description: Points per chart over the window.
    type: int
    default: 60
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
  - module: fleetops.lifecycle.slo_budget
"""

EXAMPLES = r"""
- name: Monthly SLO report
  fleetops.lifecycle.slo_report:
    prometheus_url: http://10.89.77.10:9090
    definitions: "{{ slo_definitions }}"
    dest: reports/slo
"""

RETURN = r"""
report:
  description: The report written to C(slo_report.json) (without the series, to keep the result small).
  returned: success
  type: dict
  sample: {generated_at: 1796000000, slos: [{slo: availability, sli: 0.9995, remaining: 0.5, status: ok}]}
files:
  description: Paths written (empty in check mode).
  returned: success
  type: list
  elements: str
  sample: [reports/slo/slo_report.json, reports/slo/slo_report.md, reports/slo/slo_report.html]
"""

import os
import tempfile
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils import slo_charts, slo_policy, slo_report


def _write(module, dest, name, text):
    path = os.path.join(dest, name)
    fd, tmp = tempfile.mkstemp(dir=dest, prefix=".%s." % name)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.chmod(tmp, 0o644)
    module.atomic_move(tmp, path)
    return path


def main():
    module = AnsibleModule(
        argument_spec=dict(
            prometheus_url=dict(type="str", required=True),
            definitions=dict(type="list", elements="dict", required=True),
            dest=dict(type="path", required=True),
            at=dict(type="float"),
            points=dict(type="int", default=60),
            timeout=dict(type="float", default=20),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if p["points"] < 2:
        module.fail_json(msg="points must be at least 2, got %d" % p["points"])
    at = int(p["at"] if p["at"] is not None else time.time())
    url, timeout = p["prometheus_url"], p["timeout"]

    def query(expr, when):
        return slo_policy.query_scalar(url, expr, timeout, at=when)

    def query_range(expr, start, end, step):
        return slo_policy.query_range(url, expr, (start, end, step), timeout)

    try:
        report = slo_report.build(p["definitions"], query, query_range, at, p["points"])
    except (ValueError, slo_policy.PolicyError) as exc:
        module.fail_json(msg=str(exc))
    try:
        charts = slo_charts.charts(report)
    except ImportError as exc:
        module.fail_json(msg="the SLO report draws its charts with matplotlib, which this Python (%s) lacks: %s"
                         % (os.sys.executable, exc))
    files = []
    if not module.check_mode:
        os.makedirs(p["dest"], exist_ok=True)
        files = [_write(module, p["dest"], "slo_report.json", slo_report.to_json(report)),
                 _write(module, p["dest"], "slo_report.md", slo_report.to_markdown(report)),
                 _write(module, p["dest"], "slo_report.html", slo_report.to_html(report, charts))]
    summary = {"generated_at": report["generated_at"],
               "slos": [{k: v for k, v in s.items() if k != "series"} for s in report["slos"]]}
    module.exit_json(changed=bool(files), report=summary, files=files)


if __name__ == "__main__":
    main()
