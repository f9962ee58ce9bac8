#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_status
short_description: Read the backup archives of a service on a host (newest, newest verified, latest, last drill)
version_added: 0.1.0
description:
  - Lists the complete archives in O(dest_dir) (those with a valid sidecar, see M(fleetops.lifecycle.backup)),
    newest first, with their metadata and verification record. Reads only.
  - RV(latest) is the newest archive whose kind is not in O(exclude_kinds); by default a C(pre-restore)
    safety backup is never "the latest backup" a restore or a drill picks.
  - With O(drill_record), also returns the record of the last disaster-recovery drill of this host's
    backups (written by C(playbooks/dr_drill.yml)).
  - Optionally (O(textfile)) writes the node-exporter textfile metric with the last backup and last
    verified backup time, the metric an RPO alert needs; that is the only write.
author:
  - fleetops maintainers (@fleetops)
options:
  dest_dir:
    description: Absolute path of the archive directory. Defaults to C(/var/backups/fleetops/<service>).
    type: path
  service:
    description: Only archives of this service count; also gives the default O(dest_dir).
    type: str
  exclude_kinds:
    description: Archive kinds never returned as RV(latest).
    type: list
    elements: str
    default: [pre-restore]
  drill_record:
    description: Absolute path of the last drill record (JSON) to return as RV(last_drill); a missing file is no drill.
    type: path
  textfile:
    description:
      - Absolute path of a Prometheus node-exporter textfile (C(*.prom)) to write atomically, e.g.
        V(/var/lib/prometheus/node-exporter/fleetops_backup.prom). Its directory must exist, unless
        O(textfile_only_if_dir=true).
    type: path
  textfile_only_if_dir:
    description:
      - Write O(textfile) only when its directory exists (the node-exporter textfile directory the backup
        schedule installs); without it nobody reads the metric, and RV(textfile) is null. One task where a
        C(stat) of the directory and this one would be two on every host.
    type: bool
    default: false
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
attributes:
  check_mode:
    support: full
    details: Reads as in a real run; does not write O(textfile).
  diff_mode:
    support: none
seealso:
  - module: fleetops.lifecycle.backup
  - module: fleetops.lifecycle.backup_verify
"""

EXAMPLES = r"""
- name: Find the latest backup to restore
  fleetops.lifecycle.backup_status:
    service: demo
  register: status

- name: Refresh the RPO metric
  fleetops.lifecycle.backup_status:
    service: demo
    textfile: /var/lib/prometheus/node-exporter/fleetops_backup.prom
"""

RETURN = r"""
dest_dir:
  description: The archive directory read.
  returned: always
  type: str
  sample: /var/backups/fleetops/demo
count:
  description: Number of complete archives.
  returned: always
  type: int
  sample: 3
archives:
  description:
    - Complete archives, newest first, each with C(path), C(name), C(kind), C(release), C(host), C(created),
      C(created_epoch), C(pinned), C(manifest_sha256), C(size), C(verified_epoch) (last content verification or null)
      and C(last_verification_ok).
  returned: always
  type: list
  elements: dict
  sample: []
newest:
  description: The newest complete archive (any kind), or null.
  returned: always
  type: dict
  sample: {name: demo-app1-20261130T020000Z-scheduled.tar.zst, created_epoch: 1796004000.0}
newest_verified:
  description: The newest archive whose content was verified, or null.
  returned: always
  type: dict
  sample: null
latest:
  description: The newest archive whose kind is not in O(exclude_kinds), or null.
  returned: always
  type: dict
  sample: {name: demo-app1-20261130T020000Z-scheduled.tar.zst, release: 1.0.0}
incomplete:
  description: Archives without a valid sidecar, each with C(path) and C(reason).
  returned: always
  type: list
  elements: dict
  sample: []
last_drill:
  description: The drill record from O(drill_record), or null.
  returned: always
  type: dict
  sample: {started_iso: "2026-11-30T10:00:00Z", passed: true, rto_seconds: 41.2, rpo_seconds: 3600.0}
textfile:
  description: Path of the textfile written, or null.
  returned: always
  type: str
  sample: /var/lib/prometheus/node-exporter/fleetops_backup.prom
"""

import json
import os
import socket

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup import resolve_dest_dir, validate_name
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_archive import BackupError
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_report import (
    archive_status,
    prometheus_textfile,
    textfile_problem,
    write_textfile,
)

ARGUMENT_SPEC = dict(
    dest_dir=dict(type="path"),
    service=dict(type="str"),
    exclude_kinds=dict(type="list", elements="str", default=["pre-restore"]),
    drill_record=dict(type="path"),
    textfile=dict(type="path"),
    textfile_only_if_dir=dict(type="bool", default=False),
)


def read_drill_record(path):
    try:
        with open(path, encoding="utf-8") as handle:
            record = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise BackupError("drill_record: cannot read %s: %s" % (path, exc)) from exc
    if not isinstance(record, dict):
        raise BackupError("drill_record: %s does not hold a JSON object" % path)
    return record


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           required_one_of=[("dest_dir", "service")])
    params = module.params
    try:
        if params["service"] is not None:
            validate_name(params["service"], "service")
        dest_dir = resolve_dest_dir(params)
        status = archive_status(dest_dir, params["service"], tuple(params["exclude_kinds"]))
        status["last_drill"] = read_drill_record(params["drill_record"]) if params["drill_record"] else None
        status["textfile"] = None
        wanted = params["textfile"] and (not params["textfile_only_if_dir"]
                                         or os.path.isdir(os.path.dirname(params["textfile"])))
        if wanted and not module.check_mode:
            host = status["newest"]["host"] if status["newest"] else socket.gethostname().split(".")[0]
            try:
                write_textfile(params["textfile"], prometheus_textfile(status, params["service"] or "", host))
            except (OSError, ValueError) as exc:
                raise BackupError(textfile_problem(params["textfile"], exc)) from exc
            status["textfile"] = params["textfile"]
    except BackupError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    module.exit_json(changed=False, **status)


if __name__ == "__main__":
    main()
