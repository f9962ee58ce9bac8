#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup
short_description: Back up a service's configuration and state into a verified zstd archive
version_added: 0.1.0
description:
  - Writes one archive C(<service>-<host>-<YYYYmmddTHHMMSSZ>-<kind>.tar.zst) into O(dest_dir), a POSIX
    tar stream piped into C(zstd -T<compression_threads> -<compression_level>). Its first member is
    C(METADATA) (host, service, release, created time as ISO 8601 and epoch seconds, kind, pinned,
    tool version, the backed-up paths); then each of O(paths) as C(<kind>/<name>); the last member is
    C(MANIFEST) (path, type, size, mode and sha256 of every member). Each file is read once; its
    sha256 is computed while it is streamed. A file with several names inside one path is archived
    once, its other names as hard links to it (restored as hard links). Directory modes are kept
    whole (set-group-ID and sticky included). zstd writes the archive file itself, with its frame
    checksum; the compressed bytes are not hashed again (see M(fleetops.lifecycle.backup_verify)).
  - The live state is not read while the service writes it when O(snapshot_command) is given; the
    command writes a consistent copy (for the demo service, C(app.py --backup-to {snapshot_dir}/state.db),
    an SQLite online backup) and that copy is archived as the state path. Files of the copy take the
    owner and mode of the live file of the same name.
  - The archive is written under a temporary name in O(dest_dir) (mode 0600), fsynced, linked to its
    final name (never replacing an archive), and the directory fsynced. Then the sidecar
    C(<archive>.json) (the metadata, the archive's size and the sha256 of its MANIFEST) is written
    atomically. An
    archive without a valid sidecar is incomplete; M(fleetops.lifecycle.backup_verify),
    M(fleetops.lifecycle.backup_prune) and M(fleetops.lifecycle.restore) never treat it as a backup.
  - Temporary files of runs that were killed (their lock file in O(dest_dir) is no longer held) are
    removed at the start of each run and returned in RV(leftovers_removed); so is an archive such a
    run renamed into place without writing its sidecar.
  - On a failure (disk full, a file that cannot be read, the snapshot command failing) nothing of
    the run is kept and the message names the cause, e.g. C(No space left on device).
author:
  - fleetops maintainers (@fleetops)
options:
  service:
    description:
      - Service name, used in the archive name and the metadata, and for the default O(dest_dir).
      - Letters, digits, C(_), C(.) and C(-).
    type: str
    required: true
  paths:
    description:
      - The paths to back up. A directory is archived with everything below it (regular files,
        directories and symbolic links that stay inside it; other special files are skipped and
        returned in RV(skipped)). A symbolic link leading out of the path is refused, since restore
        would refuse it.
      - Paths must not contain each other.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of a file or directory, e.g. C(/etc/demo).
        type: path
        required: true
      kind:
        description:
          - V(config) or V(state); M(fleetops.lifecycle.restore) restores either kind or both.
        type: str
        required: true
        choices: [config, state]
      name:
        description:
          - Name of the path in the archive (C(<kind>/<name>)); unique per kind. Defaults to the
            last component of O(paths[].path).
        type: str
  dest_dir:
    description:
      - Absolute path of the archive directory; made with mode 0700 when missing.
      - Defaults to C(/var/backups/fleetops/<service>).
    type: path
  snapshot_command:
    description:
      - Command that writes a consistent copy of the live state into the directory given by the
        placeholder C({snapshot_dir}) (also in the environment as C(FLEETOPS_SNAPSHOT_DIR)). What it
        writes there is archived instead of the O(paths) entry with C(kind=state) (there must be
        exactly one).
      - A string (split like a shell would, but run without a shell) or a list of arguments. It must
        contain C({snapshot_dir}).
      - Not run in check mode.
    type: raw
  snapshot_timeout:
    description: Seconds the O(snapshot_command) may take (1 to 86400).
    type: int
    default: 600
  release:
    description: Release of the service whose data this is, recorded in the metadata.
    type: str
  kind:
    description:
      - Why the backup is taken; part of the archive name and the metadata.
      - V(pre-restore) is what M(fleetops.lifecycle.restore) uses for its safety backup.
    type: str
    choices: [scheduled, pre-upgrade, manual, pre-restore]
    default: manual
  pinned:
    description: A pinned archive is never deleted by M(fleetops.lifecycle.backup_prune).
    type: bool
    default: false
  host:
    description: Host name recorded in the archive name and metadata. Defaults to the short host name.
    type: str
  compression_threads:
    description: zstd worker threads, V(0) for one per CPU core (0 to 256).
    type: int
    default: 0
  compression_level:
    description: zstd compression level (1 to 19).
    type: int
    default: 3
  textfile:
    description:
      - After the archive is complete, rewrite this Prometheus node-exporter textfile (C(*.prom))
        atomically with the metric of the archives in O(dest_dir), as M(fleetops.lifecycle.backup_status)
        writes it, e.g. V(/var/lib/prometheus/node-exporter/fleetops_backup.prom). Its directory must
        exist, unless O(textfile_only_if_dir=true).
      - A textfile that cannot be written fails the task and names it; the archive is kept.
    type: path
  textfile_only_if_dir:
    description:
      - Write O(textfile) only when its directory exists (the backup schedule installs it); without it
        nobody reads the metric, and RV(textfile) is null.
    type: bool
    default: false
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
attributes:
  check_mode:
    support: full
    details:
      - Lists the members that would be archived (the snapshot command is not run, the state path it
        replaces is listed in RV(snapshot_paths)) and the leftovers that would be removed; writes nothing,
        not even O(textfile).
  diff_mode:
    support: none
notes:
  - Copy the archive off the host with M(ansible.builtin.fetch) and compare the copy's sha256 with
    the archive's on the host (the backup role's C(backup_fetch_dir) does both).
seealso:
  - module: fleetops.lifecycle.backup_verify
  - module: fleetops.lifecycle.backup_prune
  - module: fleetops.lifecycle.restore
"""

EXAMPLES = r"""
- name: Back up the demo service before an upgrade
  fleetops.lifecycle.backup:
    service: demo
    release: "{{ service_version }}"
    kind: pre-upgrade
    paths:
      - {path: /etc/demo, kind: config}
      - {path: /var/lib/demo, kind: state}
    snapshot_command: >-
      /opt/demo/current-blue/app.py --config /etc/demo/demo.ini --backup-to {snapshot_dir}/state.db
  register: backup

- name: A pinned manual backup into another directory, one compression thread
  fleetops.lifecycle.backup:
    service: demo
    dest_dir: /srv/backups/demo
    paths:
      - {path: /etc/demo/demo.ini, kind: config, name: ini}
    pinned: true
    compression_threads: 1
"""

RETURN = r"""
textfile:
  description: Path of the textfile rewritten after the archive was made, or null.
  returned: always
  type: str
  sample: /var/lib/prometheus/node-exporter/fleetops_backup.prom
archive:
  description: Path of the archive (in check mode, the name it would get).
  returned: always
  type: str
  sample: /var/backups/fleetops/demo/demo-app1-20261130T020000Z-scheduled.tar.zst
sidecar:
  description: Path of the sidecar.
  returned: always
  type: str
  sample: /var/backups/fleetops/demo/demo-app1-20261130T020000Z-scheduled.tar.zst.json
size:
  description: Size of the archive in bytes; null in check mode.
  returned: always
  type: int
  sample: 73400320
manifest_sha256:
  description: sha256 of the archive's MANIFEST member (also in the sidecar); null in check mode.
  returned: always
  type: str
  sample: 7829ea2d71d4702dc6e48eb251c967a9ceb4afc4abfcd9a2228688533183bc0f
members:
  description: Members in the archive besides METADATA and MANIFEST (in check mode, without the snapshot).
  returned: always
  type: int
  sample: 12
data_bytes:
  description: Bytes of file data archived (before compression).
  returned: always
  type: int
  sample: 104857600
duration:
  description: Seconds the backup took.
  returned: always
  type: float
  sample: 1.42
throughput_mib_s:
  description: RV(data_bytes) per second, in MiB/s; null in check mode.
  returned: always
  type: float
  sample: 70.4
metadata:
  description: The archive's METADATA.
  returned: always
  type: dict
  sample: {host: app1, service: demo, release: 1.2.0, kind: scheduled, pinned: false,
           created: "2026-11-30T02:00:00Z", created_epoch: 1796004000.0}
skipped:
  description: Files that were not archived (sockets, FIFOs, devices), each with C(path) and C(reason).
  returned: always
  type: list
  elements: dict
  sample: []
snapshot_output:
  description: The end of the O(snapshot_command) standard output; null without one and in check mode.
  returned: always
  type: str
  sample: '{"rows": 10, "bytes": 8192}'
would_archive:
  description: Member names that would be archived.
  returned: in check mode
  type: list
  elements: str
  sample: [config/demo, config/demo/demo.ini]
snapshot_paths:
  description: State paths that would be taken from O(snapshot_command).
  returned: in check mode
  type: list
  elements: str
  sample: [/var/lib/demo]
leftovers_removed:
  description: Temporary files of killed runs (and archives they left without a sidecar) that were (would be) removed.
  returned: always
  type: list
  elements: str
  sample: [/var/backups/fleetops/demo/.fleetops-tmp-3f9a1c2e4b5d6e7f.tar.zst]
runs_in_progress:
  description: Lock files of other runs that are still running in O(dest_dir).
  returned: always
  type: list
  elements: str
  sample: []
errno:
  description: The error number of the failure (28 is C(ENOSPC)).
  returned: on an I/O failure
  type: int
  sample: 28
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup import (
    DEFAULT_SNAPSHOT_TIMEOUT,
    KINDS,
    PATH_KINDS,
    create_backup,
    validate_backup,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_archive import BackupError
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_report import refresh_textfile, textfile_problem

ARGUMENT_SPEC = dict(
    service=dict(type="str", required=True),
    paths=dict(type="list", elements="dict", required=True, options=dict(
        path=dict(type="path", required=True),
        kind=dict(type="str", required=True, choices=list(PATH_KINDS)),
        name=dict(type="str"),
    )),
    dest_dir=dict(type="path"),
    snapshot_command=dict(type="raw"),
    snapshot_timeout=dict(type="int", default=DEFAULT_SNAPSHOT_TIMEOUT),
    release=dict(type="str"),
    kind=dict(type="str", default="manual", choices=list(KINDS)),
    pinned=dict(type="bool", default=False),
    host=dict(type="str"),
    compression_threads=dict(type="int", default=0),
    compression_level=dict(type="int", default=3),
    textfile=dict(type="path"),
    textfile_only_if_dir=dict(type="bool", default=False),
)


def wants_textfile(params):
    """A textfile is asked for, and its directory exists or need not."""
    return bool(params["textfile"]) and (not params["textfile_only_if_dir"]
                                         or os.path.isdir(os.path.dirname(params["textfile"])))


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        request = validate_backup(module.params)
        result = create_backup(request, check_mode=module.check_mode)
        result["textfile"] = None
        if not module.check_mode and wants_textfile(module.params):
            try:
                refresh_textfile(module.params["textfile"], request["dest_dir"], request["service"], request["host"])
            except (OSError, ValueError) as exc:
                # The archive is complete and kept: say so beside what failed.
                raise BackupError("%s (the archive %s is complete and kept)"
                                  % (textfile_problem(module.params["textfile"], exc), result["archive"]),
                                  **result) from exc
            result["textfile"] = module.params["textfile"]
    except BackupError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
