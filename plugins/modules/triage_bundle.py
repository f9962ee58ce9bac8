#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: triage_bundle
short_description: Merge the hosts' triage archives into one bundle with a timeline, severity, manifest and summary
version_added: 0.1.0
description:
  - Runs on the controller after M(fleetops.lifecycle.triage_collect) ran on the hosts and their archives were
    fetched. Extracts each host's archive under C(hosts/<host>/) (regular files only), merges the hosts' token maps
    into the obfuscation map O(map_path) (0600, outside the bundle), replaces any secret of the map still found in
    a bundle file, and writes C(timeline.txt)/C(timeline.jsonl) (all hosts' journal and log lines with the ledger's
    deploy and gate events and the backups, sorted by time), C(severity.json) (proposed P0-P3 with reasons,
    deadlines and escalation path from O(severity_policy)), C(manifest.json), C(SHA256SUMS) and C(summary.html).
  - Hosts that were unreachable or whose collection failed are listed with their message; they do not stop the
    bundle.
  - With O(validate_only), checks O(severity_policy), O(severity_rules), O(output_dir) and O(map_path) and the
    window O(since) and the caps, and returns; the playbook's preflight.
author:
  - fleetops maintainers (@fleetops)
options:
  results:
    description:
      - Host name -> the registered result of M(fleetops.lifecycle.triage_collect) on it (with C(unreachable) or
        C(failed) and C(msg) when it did not collect).
      - A host whose result has an archive counts as collected when C(<incoming_dir>/<host>.tar.gz) exists.
    type: dict
    default: {}
  incoming_dir:
    description: Controller directory holding the fetched C(<host>.tar.gz) archives and C(<host>.map.json) token maps.
    type: path
    default: ""
  map_path:
    description: The obfuscation map on the controller (token -> secret, 0600). Never part of a bundle.
    type: path
    required: true
  output_dir:
    description: Directory that receives C(triage-<time>.tar.gz).
    type: path
    required: true
  since:
    description: The window's start as the hosts were given it (in the manifest; checked with O(validate_only)).
    type: str
    required: true
  caps:
    description: The hosts' size caps (C(max_file_bytes), C(max_host_bytes), C(max_journal_lines),
      C(max_timeline_events)), checked with O(validate_only).
    type: dict
    default: {}
  app_hosts:
    description: Hosts of the service tier, whose serving share decides capacity loss.
    type: list
    elements: str
    default: []
  haproxy_backend:
    description: HAProxy backend of the service.
    type: str
    default: demo
  server_prefix:
    description: Prefix of a host's servers in the backend; C({host}) is replaced.
    type: str
    default: "{host}-"
  probe_impact:
    description: Probe name -> severity (P0..P3) its failure means; failed probes not listed count as P3.
    type: dict
    default: {}
  severity_rules:
    description: Thresholds C(major_capacity_share), C(major_error_ratio), C(slo_error_ratio) (fractions).
    type: dict
    default: {}
  severity_policy:
    description: P0..P3, each C({meaning, response_minutes, update_minutes, resolution_minutes, escalation})
      with escalation a list of C({level, who, after_minutes}).
    type: dict
    required: true
  max_host_archive_bytes:
    description: Bytes a host's archive may extract to, at most.
    type: int
    default: 1073741824
  summary_timeline_lines:
    description: Newest timeline lines shown in C(summary.html).
    type: int
    default: 200
  validate_only:
    description: Check the options and return.
    type: bool
    default: false
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
attributes:
  check_mode:
    support: full
    details: Builds the bundle as in a real run; it is the run's output and changes no host.
  diff_mode:
    support: none
seealso:
  - module: fleetops.lifecycle.triage_collect
"""

EXAMPLES = r"""
- name: Merge the hosts' archives
  fleetops.lifecycle.triage_bundle:
    results:
      app1: "{{ hostvars.app1.__collected }}"
      app2: {unreachable: true, msg: "ssh: connect to host 10.0.0.12 port 22: No route to host"}
    incoming_dir: /root/.fleetops/triage-map/incoming-1
    map_path: ~/.fleetops/triage/obfuscation-map.json
    output_dir: /srv/triage
    since: 2h
    app_hosts: [app1, app2]
    severity_policy: "{{ triage_severity_policy }}"
  delegate_to: localhost
"""

RETURN = r"""
bundle:
  description: The bundle archive.
  returned: unless validate_only
  type: str
  sample: /root/.fleetops/triage/triage-20261206T053000Z.tar.gz
bundle_bytes:
  description: Size of the bundle archive.
  returned: unless validate_only
  type: int
  sample: 412345
bundle_sha256:
  description: sha256 of the bundle archive.
  returned: unless validate_only
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
severity:
  description: Proposed severity, meaning, reasons, response/update/resolution deadlines and escalation steps.
  returned: unless validate_only
  type: dict
  sample: {severity: P2, reasons: ["P2: app3: unreachable (ssh timeout)"], respond_by: "2026-12-06T06:30:00.000Z"}
hosts:
  description: Each host's status (collected, unreachable, failed) and message.
  returned: unless validate_only
  type: dict
  sample: {app1: {status: collected, message: ""}}
timeline_events:
  description: Events in the merged timeline.
  returned: unless validate_only
  type: int
  sample: 5120
controller_sweep:
  description: Bundle files in which the controller's sweep still found a known secret, with counts.
  returned: unless validate_only
  type: dict
  sample: {}
map_path:
  description: The obfuscation map the hosts' tokens were merged into.
  returned: unless validate_only
  type: str
  sample: /root/.fleetops/triage/obfuscation-map.json
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError
from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_bundle import build, host_outcomes, validate
from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_host import CAP_OPTIONS
from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_timeline import parse_since

ARGUMENT_SPEC = dict(
    results=dict(type="dict", default={}),
    incoming_dir=dict(type="path", default=""),
    map_path=dict(type="path", required=True),
    output_dir=dict(type="path", required=True),
    since=dict(type="str", required=True),
    caps=dict(type="dict", default={}),
    app_hosts=dict(type="list", elements="str", default=[]),
    haproxy_backend=dict(type="str", default="demo"),
    server_prefix=dict(type="str", default="{host}-"),
    probe_impact=dict(type="dict", default={}),
    severity_rules=dict(type="dict", default={}),
    severity_policy=dict(type="dict", required=True),
    max_host_archive_bytes=dict(type="int", default=1073741824),
    summary_timeline_lines=dict(type="int", default=200),
    validate_only=dict(type="bool", default=False),
)


def check_window_and_caps(params, now):
    """The window and caps the hosts will get, checked once on the controller before any host is read."""
    parse_since(params["since"], now)
    for option in CAP_OPTIONS:
        if option in params["caps"]:
            value = params["caps"][option]
            if isinstance(value, str) and value.strip().isdigit():  # -e key=value gives strings
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ResultError("%s: %r must be a whole number above 0 (a cap of 0 would collect nothing)"
                                  % (option, value))


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    now = time.time()
    try:
        if module.params["validate_only"]:
            check_window_and_caps(module.params, now)
            validate(module.params)
            module.exit_json(changed=False)
        params = dict(module.params)
        params["hosts"], params["incoming_maps"] = host_outcomes(params["results"], params["incoming_dir"])
        result = build(params, now)
    except ResultError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    module.exit_json(changed=True, **result)


if __name__ == "__main__":
    main()
