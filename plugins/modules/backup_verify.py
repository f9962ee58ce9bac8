#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: backup_verify
short_description: Verify backup archives made by fleetops.lifecycle.backup and record the result
version_added: 0.1.0
description:
  - Verifies one archive (O(path)) or the newest or every complete archive in O(dest_dir). Every mode
    compares the archive's size with its sidecar (an archive without a valid sidecar is incomplete and
    fails), decompresses the whole archive so zstd checks its frame checksum (a damaged byte anywhere
    fails), and compares the sha256 of the C(MANIFEST) member with the sidecar's C(manifest_sha256).
  - O(mode=structure) decompresses the archive and reads the tar stream; C(METADATA) must be the first
    member and C(MANIFEST) the last, and the member list (names, types, sizes, modes, link targets)
    must equal the manifest.
  - O(mode=full) also checks every file's size and sha256 against the manifest.
  - O(mode=subset) checks the sha256 of the files in part C(n) of C(t) (O(subset)); the parts are
    fixed by each member's path, so the runs C(1/t) to C(t/t) together check every file exactly
    once (for example one part per night).
  - O(mode=restore_test) opens the archive once and, in one pass, checks every member is safe to
    extract and extracts it with the restore module's own extraction path into a scratch directory
    under O(tmp_dir) (every file hashed as written, compared with the manifest), then compares the
    files on disk (type, mode, size, sha256, link target, hard links) with the manifest, and removes
    the scratch directory. Modes are compared as restore gives them back (directories whole, files
    without set-user-ID/set-group-ID bits). It refuses an archive whose declared size does not fit in
    the free space under O(tmp_dir) less a margin.
  - Each result is recorded in C(<archive>.verified.json) (written atomically), the last verification
    and, after a successful O(mode=full) or O(mode=restore_test) (or all parts of a subset cycle),
    C(content_verified), which M(fleetops.lifecycle.backup_prune) treats as the archive's
    verification time. A failed verification clears it.
  - Fails when any archive fails, with a message naming the archive and the bad members.
author:
  - fleetops maintainers (@fleetops)
options:
  path:
    description: Absolute path of one archive to verify. Give this or O(dest_dir)/O(service).
    type: path
  dest_dir:
    description:
      - Absolute path of an archive directory; O(select) says which complete archives to verify.
      - Defaults to C(/var/backups/fleetops/<service>) when O(service) is given and O(path) is not.
    type: path
  service:
    description: Only archives of this service (from their metadata); also gives the default O(dest_dir).
    type: str
  select:
    description: With O(dest_dir), verify the newest complete archive (V(latest)) or all of them (V(all)).
    type: str
    choices: [latest, all]
    default: latest
  mode:
    description: How deep to verify; see the description.
    type: str
    choices: [structure, full, subset, restore_test]
    default: full
  subset:
    description:
      - With O(mode=subset), the part to check as C(n/t), 1 <= n <= t, e.g. V(3/7). Only used with
        O(mode=subset), where it is required.
    type: str
  tmp_dir:
    description:
      - Absolute path of the directory that holds the scratch directory of O(mode=restore_test).
        Defaults to the archive's directory (a scratch directory left by a killed run is then removed
        by the next backup run as a leftover).
    type: path
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
attributes:
  check_mode:
    support: full
    details: Verifies as in a real run (it only reads), but does not write the verification record.
  diff_mode:
    support: none
notes:
  - C(changed) is always false; the verification record is bookkeeping, not managed state.
seealso:
  - module: fleetops.lifecycle.backup
  - module: fleetops.lifecycle.backup_prune
"""

EXAMPLES = r"""
- name: Fully verify the newest backup of the demo service
  fleetops.lifecycle.backup_verify:
    service: demo

- name: Check one seventh of every archive's files each night
  fleetops.lifecycle.backup_verify:
    service: demo
    select: all
    mode: subset
    subset: "{{ (ansible_date_time.weekday_number | int) + 1 }}/7"

- name: Restore test of one archive into a scratch directory on /var/tmp
  fleetops.lifecycle.backup_verify:
    path: /var/backups/fleetops/demo/demo-app1-20261130T020000Z-scheduled.tar.zst
    mode: restore_test
    tmp_dir: /var/tmp
"""

RETURN = r"""
results:
  description: One result per archive verified.
  returned: always
  type: list
  elements: dict
  contains:
    archive:
      description: Path of the archive.
      type: str
      returned: always
    mode:
      description: The mode.
      type: str
      returned: always
    subset:
      description: The part checked (C(n/t)), or null.
      type: str
      returned: always
    ok:
      description: Whether the archive passed.
      type: bool
      returned: always
    problems:
      description: What did not match, each with C(member) (null for the archive as a whole) and C(problem).
      type: list
      elements: dict
      returned: always
    members:
      description: Members in the archive besides C(MANIFEST).
      type: int
      returned: always
    checked_members:
      description: Members whose content was checked.
      type: int
      returned: always
    checked_bytes:
      description: Bytes of member data hashed while reading the archive.
      type: int
      returned: always
    duration:
      description: Seconds the verification took.
      type: float
      returned: always
    record:
      description: Path of the verification record written (not in check mode).
      type: str
      returned: when a record was written
  sample:
    - archive: /var/backups/fleetops/demo/demo-app1-20261130T020000Z-scheduled.tar.zst
      mode: full
      subset: null
      ok: true
      problems: []
      members: 12
      checked_members: 9
      checked_bytes: 104857600
      duration: 0.31
verified:
  description: Number of archives that passed.
  returned: always
  type: int
  sample: 1
failed:
  description: Number of archives that failed.
  returned: always
  type: int
  sample: 0
incomplete:
  description: Archives in O(dest_dir) without a valid sidecar, each with C(path) and C(reason); not verified.
  returned: always
  type: list
  elements: dict
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_archive import BackupError
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_verify import (
    MODES,
    SELECT,
    run_verify,
    validate_verify,
)

ARGUMENT_SPEC = dict(
    path=dict(type="path"),
    dest_dir=dict(type="path"),
    service=dict(type="str"),
    select=dict(type="str", default="latest", choices=list(SELECT)),
    mode=dict(type="str", default="full", choices=list(MODES)),
    subset=dict(type="str"),
    tmp_dir=dict(type="path"),
)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        required_one_of=[("path", "dest_dir", "service")],
        mutually_exclusive=[("path", "dest_dir")],
        required_if=[("mode", "subset", ["subset"])],
    )
    try:
        result = run_verify(validate_verify(module.params), check_mode=module.check_mode)
    except BackupError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
