#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: restore
short_description: Restore a service's configuration and/or state from a verified backup archive
version_added: 0.1.0
description:
  - Restores the paths recorded in an archive made by M(fleetops.lifecycle.backup) to where they were
    backed up from (or under O(dest_root)).
  - The archive is opened once and read once. Every member is checked before it is written and
    extracted into a staging path next to its target through a directory file-descriptor walk
    (C(O_NOFOLLOW) at every component, so no symbolic link is ever followed); every file is hashed
    as it is written. Only when the whole stream was read (zstd checks its frame checksum), every
    member matched the manifest (type, mode, size, sha256) and the manifest's sha256 matched the
    sidecar is anything live touched.
  - Refused members (the whole restore is refused, naming the member and why) are absolute paths,
    paths with C(..), members outside the backed-up paths, paths through a symbolic link, duplicates,
    symbolic links that are absolute or that lead out of their path or loop, resolved through the
    links before them and again against the finished tree (so C(l1 -> .) then
    C(esc -> l1/l1/../../outside) is refused), hard links to anything but a regular file earlier in
    the same path, device nodes, FIFOs and other special files. pax/GNU headers over 1 MiB are refused.
  - Targets come from the archive's manifest but are only written when they are normalised absolute
    paths listed in O(allowed_paths) (when set), stay under O(dest_root) (when set), are not the same
    as or inside one another and have no name too long for the filesystem; all of this, and the
    declared size against the free space, is checked in check mode too, so the role finds it before
    the host leaves the pool.
  - Unless O(safety_backup=false), the current paths are backed up first (kind C(pre-restore), same
    code as M(fleetops.lifecycle.backup)) into O(safety_dest_dir); its path is returned in
    RV(safety_backup).
  - The staged paths are then swapped in; the live path is renamed aside, the staged one renamed in, and the
    old one removed once every path is in place. On any failure the swaps are undone, so the
    previous state stays in place. A restore killed halfway is cleaned up by the next one.
  - Owners are restored by name (else by number) when running as root. Directories keep their whole
    mode (set-group-ID and sticky included); files lose their set-user-ID and set-group-ID bits, and
    each such file is listed in RV(dropped_mode_bits).
  - Stop the service first (the restore playbook does); its state is replaced underneath it.
author:
  - fleetops maintainers (@fleetops)
options:
  path:
    description: Absolute path of the archive to restore.
    type: path
    required: true
  what:
    description: Restore the C(config) paths, the C(state) paths, or V(both).
    type: str
    choices: [config, state, both]
    default: both
  safety_backup:
    description: Back up the current paths before replacing them.
    type: bool
    default: true
  safety_dest_dir:
    description: Absolute path of the directory for the safety backup. Defaults to the archive's directory.
    type: path
  dest_root:
    description:
      - Restore under this absolute directory instead of C(/), e.g. V(/srv/drill) restores
        C(/etc/demo) to C(/srv/drill/etc/demo) (for disaster-recovery drills).
    type: path
  release:
    description: Release recorded in the safety backup's metadata (the release running before the restore).
    type: str
  allowed_paths:
    description:
      - The only paths restore may replace (absolute, normalised), e.g. the role's C(backup_paths).
        A manifest naming any other path is refused by name before anything is written.
      - Unset means any path the archive names (use O(dest_root) for drills of foreign archives).
    type: list
    elements: path
  max_unpacked_bytes:
    description:
      - Refuse an archive whose sidecar declares more than this many bytes of data. Whatever it is
        set to, the restore also refuses a declared size that would leave less than 5% (at least
        64 MiB) of the filesystem free, and stops when the stream holds more than it declared.
    type: int
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
attributes:
  check_mode:
    support: full
    details:
      - Verifies the archive as in a real run and returns the paths and files that would be restored;
        takes no safety backup and writes nothing.
  diff_mode:
    support: none
seealso:
  - module: fleetops.lifecycle.backup
  - module: fleetops.lifecycle.backup_verify
"""

EXAMPLES = r"""
- name: Restore the demo service's state from last night's backup
  fleetops.lifecycle.restore:
    path: /var/backups/fleetops/demo/demo-app1-20261130T020000Z-scheduled.tar.zst
    what: state
    release: "{{ service_version }}"
  register: restored

- name: Restore everything into a drill directory, without a safety backup
  fleetops.lifecycle.restore:
    path: "{{ verified.results[0].archive }}"
    dest_root: /srv/drill
    safety_backup: false
"""

RETURN = r"""
fleetops_decision:
  description:
    - The restore for the audit trail (callback C(fleetops.lifecycle.audit)) - C(kind=restore), C(archive),
      C(what), C(targets), C(safety_backup) and C(check_mode).
  returned: success
  type: dict
  sample:
    {kind: restore, archive: /var/backups/fleetops/demo/x.tar.zst, what: both, targets: [/etc/demo],
     safety_backup: null, check_mode: false}
archive:
  description: The archive restored.
  returned: always
  type: str
  sample: /var/backups/fleetops/demo/demo-app1-20261130T020000Z-scheduled.tar.zst
what:
  description: O(what).
  returned: always
  type: str
  sample: both
targets:
  description: The paths replaced (would be).
  returned: always
  type: list
  elements: str
  sample: [/etc/demo, /var/lib/demo]
files:
  description: Every file, directory and link restored (would be), as paths on the host.
  returned: always
  type: list
  elements: str
  sample: [/etc/demo, /etc/demo/demo.ini, /var/lib/demo, /var/lib/demo/state.db]
safety_backup:
  description: Path of the safety backup; null when none was taken (disabled, nothing existed, check mode).
  returned: always
  type: str
  sample: /var/backups/fleetops/demo/demo-app1-20261130T101500Z-pre-restore.tar.zst
safety_backup_planned:
  description: Whether a real run would take a safety backup.
  returned: in check mode
  type: bool
  sample: true
dropped_mode_bits:
  description: Files restored without their set-user-ID/set-group-ID bits, each with C(member), C(mode) and C(restored).
  returned: always
  type: list
  elements: dict
  sample: [{member: state/demo/bin/helper, mode: "4755", restored: "0755"}]
recovered:
  description: What was done about leftovers of an interrupted restore.
  returned: always
  type: list
  elements: str
  sample: []
manifest:
  description:
    - The archive's MANIFEST (C(format), C(paths), C(members) with C(path), C(type), C(mode), C(size), C(sha256)),
      read from the archive in the same bounded pass that checked every member against it and its sha256 against
      the sidecar; compare the restored files with it (filter C(fleetops.lifecycle.backup_manifest_compare)).
  returned: always
  type: dict
  sample:
    {format: 1, paths: [{kind: state, name: demo, path: /var/lib/demo, type: dir}],
     members: [{path: state/demo/state.db, type: file, mode: "0640", size: 8192, sha256: "9f86d0..."}]}
manifest_sha256:
  description: sha256 of the MANIFEST, equal to the sidecar's C(manifest_sha256).
  returned: always
  type: str
  sample: 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
metadata:
  description: The archive's metadata.
  returned: always
  type: dict
  sample: {service: demo, host: app1, release: 1.2.0, kind: scheduled, created: "2026-11-30T02:00:00Z"}
unsafe_members:
  description: Refused members, each with C(name) and C(reason).
  returned: when the archive has unsafe members
  type: list
  elements: dict
  sample: [{name: ../evil, reason: "path contains '..'"}]
problems:
  description: Members that do not match the manifest, each with C(member) and C(problem).
  returned: when the archive does not match its manifest
  type: list
  elements: dict
  sample: [{member: state/demo/state.db, problem: "sha256 ... differs from the MANIFEST's ..."}]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_archive import BackupError
from ansible_collections.fleetops.lifecycle.plugins.module_utils.restore import WHAT, restore, validate_restore

ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    what=dict(type="str", default="both", choices=list(WHAT)),
    safety_backup=dict(type="bool", default=True),
    safety_dest_dir=dict(type="path"),
    dest_root=dict(type="path"),
    release=dict(type="str"),
    allowed_paths=dict(type="list", elements="path"),
    max_unpacked_bytes=dict(type="int"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        result = restore(validate_restore(module.params), check_mode=module.check_mode)
    except BackupError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    # What was restored (or would be), for the audit trail.
    result["fleetops_decision"] = {"kind": "restore", "archive": result["archive"], "what": result["what"],
                                   "targets": result["targets"], "safety_backup": result.get("safety_backup"),
                                   "check_mode": module.check_mode}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
