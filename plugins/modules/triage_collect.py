#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: triage_collect
short_description: Collect one host's incident evidence, redacted, into an archive for a triage bundle
version_added: 0.1.0
description:
  - Reads, within the window from O(since) to now and within size caps, the host's system state (uptime, load,
    memory, disk and inodes, processes, listening sockets), the status and journal of O(units), the files under
    O(log_paths) and O(config_paths), the release ledger, the backups in O(backup_dir), HAProxy's state through
    O(haproxy_socket), SLO queries against O(prometheus_url), and runs the health O(probes).
  - Every command has O(command_timeout); a read that fails or times out is reported in the archive's
    C(collection.json), not fatal.
  - Every text is redacted before it is written (secret-looking keys' values, bearer tokens, private keys, cloud
    access keys, passwords in URLs and connection strings) with tokens keyed by O(redaction_key), so one secret
    is the same token on every host; a catch-all pass over all collected files follows before the archive is made.
  - Writes a C(tar.gz) archive and, separately, a 0600 JSON file mapping tokens to the secrets they replace, both
    in a new private directory under O(tmp_dir); the controller fetches both and removes the directory. Reads only
    otherwise.
author:
  - fleetops maintainers (@fleetops)
options:
  host:
    description: Name of the host in the bundle (its inventory name).
    type: str
    required: true
  since:
    description: Start of the window, an ISO 8601 UTC time (V(2026-12-06T05:00:00Z)) or a duration back from now
      (V(30m), V(2h), V(1d)). A time in the future is refused.
    type: str
    required: true
  redaction_key:
    description: Key of the redaction tokens (from the controller's obfuscation map).
    type: str
    required: true
  units:
    description: systemd units whose status and journal are collected.
    type: list
    elements: str
    default: []
  log_paths:
    description: Log files, globs or directories (walked without following links); C(.gz) rotations are read too.
    type: list
    elements: str
    default: []
  config_paths:
    description: Configuration files, globs or directories.
    type: list
    elements: str
    default: []
  ledger_path:
    description: The release ledger (JSON lines); empty skips it.
    type: str
    default: ""
  backup_dir:
    description: Archive directory of M(fleetops.lifecycle.backup); empty skips it.
    type: str
    default: ""
  backup_service:
    description: Only archives of this service count.
    type: str
    default: ""
  haproxy_socket:
    description: HAProxy runtime API socket to read C(show stat) and C(show servers state) from; empty skips it.
    type: str
    default: ""
  prometheus_url:
    description: Prometheus base URL for O(slo_queries); empty skips them.
    type: str
    default: ""
  slo_queries:
    description: Name -> PromQL instant query, e.g. C(error_ratio) (the severity uses that name).
    type: dict
    default: {}
  probes:
    description: Health probes as M(fleetops.lifecycle.health_check) takes them.
    type: list
    elements: dict
    default: []
  max_file_bytes:
    description: Bytes kept of any one file or command output (the newest part of logs and journals).
    type: int
    default: 2097152
  max_host_bytes:
    description: Bytes collected on this host in all; once reached, the remaining items are listed as omitted.
    type: int
    default: 20971520
  max_journal_lines:
    description: Journal entries read per unit (the newest).
    type: int
    default: 5000
  max_timeline_events:
    description: Timeline events kept from this host (the newest).
    type: int
    default: 20000
  command_timeout:
    description: Seconds any one command, socket or HTTP read may take.
    type: float
    default: 10
  tmp_dir:
    description: Directory for the private work directory; empty uses the system's temporary directory.
    type: str
    default: ""
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
attributes:
  check_mode:
    support: full
    details: Collects as in a real run; the archive is the point of the run and changes nothing on the host.
  diff_mode:
    support: none
seealso:
  - module: fleetops.lifecycle.triage_bundle
"""

EXAMPLES = r"""
- name: Collect the last two hours
  fleetops.lifecycle.triage_collect:
    host: "{{ inventory_hostname }}"
    since: 2h
    redaction_key: "{{ triage_key }}"
    units: [demo@blue.service, demo@green.service]
    config_paths: [/etc/demo]
    ledger_path: /var/lib/fleetops/ledger.jsonl
  register: collected
"""

RETURN = r"""
workdir:
  description: Private directory holding the archive and the map; remove it after fetching both.
  returned: success
  type: str
  sample: /tmp/fleetops-triage-k2j3
archive:
  description: The host's archive (members under C(<host>/)).
  returned: success
  type: str
  sample: /tmp/fleetops-triage-k2j3/triage-app1.tar.gz
map_path:
  description: JSON file (0600) mapping each token to the secret it replaced; never part of a bundle.
  returned: success
  type: str
  sample: /tmp/fleetops-triage-k2j3/obfuscation-app1.json
archive_bytes:
  description: Size of the host's archive.
  returned: success
  type: int
  sample: 81234
collected_bytes:
  description: Bytes of collected text (at most O(max_host_bytes)).
  returned: success
  type: int
  sample: 1048576
items:
  description: Items collected, omitted or failed (see the archive's C(collection.json)).
  returned: success
  type: int
  sample: 31
problems:
  description: Items that failed or timed out, with their messages.
  returned: success
  type: list
  elements: dict
  sample: []
truncated:
  description: Items cut to a cap.
  returned: success
  type: list
  elements: str
  sample: [/var/log/demo/app.log]
redactions:
  description: Replacements made, by kind (no values).
  returned: success
  type: dict
  sample: {key_value: 4, auth_header: 1}
seconds:
  description: Time the collection took on the host.
  returned: success
  type: float
  sample: 1.8
"""

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError
from ansible_collections.fleetops.lifecycle.plugins.module_utils.triage_host import collect, validate

ARGUMENT_SPEC = dict(
    host=dict(type="str", required=True),
    since=dict(type="str", required=True),
    redaction_key=dict(type="str", required=True, no_log=True),
    units=dict(type="list", elements="str", default=[]),
    log_paths=dict(type="list", elements="str", default=[]),
    config_paths=dict(type="list", elements="str", default=[]),
    ledger_path=dict(type="str", default=""),
    backup_dir=dict(type="str", default=""),
    backup_service=dict(type="str", default=""),
    haproxy_socket=dict(type="str", default=""),
    prometheus_url=dict(type="str", default=""),
    slo_queries=dict(type="dict", default={}),
    probes=dict(type="list", elements="dict", default=[]),
    max_file_bytes=dict(type="int", default=2097152),
    max_host_bytes=dict(type="int", default=20971520),
    max_journal_lines=dict(type="int", default=5000),
    max_timeline_events=dict(type="int", default=20000),
    command_timeout=dict(type="float", default=10),
    tmp_dir=dict(type="str", default=""),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    now = time.time()
    try:
        options = validate(module.params, now)
        result = collect(options, now)
    except ResultError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
