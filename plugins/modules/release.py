#!/usr/bin/python
# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: release
short_description: Unpack a verified release artifact and point a slot at it atomically
version_added: 0.1.0
description:
  - Manages C(<root>/releases/<version>/) directories and the per-slot symlinks
    C(<root>/current-<slot>) on an app host.
  - With O(state=present) the release is unpacked unless it is already complete. A
    release directory is complete when it holds the marker file C(.fleetops-release),
    which is written last and holds the artifact's sha256. A release directory without
    the marker is an interrupted unpack; it is unpacked again.
  - Before anything is written, the artifact's sha256 must equal O(checksum) and every
    archive member must be safe. Refused members are absolute paths, paths with
    C(..), symbolic links that are absolute or lead out of the release directory, hard
    links to anything but a regular file earlier in the archive, paths through a
    symbolic link, duplicate paths, device nodes, FIFOs and other special files.
  - The archive is unpacked into C(<root>/releases/.tmp-<version>-<random>), fsynced,
    given its marker and renamed to C(<root>/releases/<version>), so the release never
    exists half-written under its own name. Files belong to the user running the module;
    set-id, sticky and group/other write bits are dropped.
  - With O(slot), C(<root>/current-<slot>) is then pointed at the absolute release path
    by making a new symlink under a temporary name in O(root) and renaming it over the
    old one, so the slot never has no link.
  - With O(state=absent) the release directory is removed, unless a C(current-*) link
    points at it.
author:
  - fleetops maintainers (@fleetops)
options:
  root:
    description:
      - Absolute path of the service root that holds C(releases/) and the
        C(current-<slot>) links, e.g. C(/opt/demo).
      - C(<root>/releases) is created (mode 0755) when a release is unpacked.
    type: path
    required: true
  version:
    description:
      - Release version, which is also the directory name under C(<root>/releases).
      - Three dot-separated numbers C(MAJOR.MINOR.PATCH), optionally followed by C(-) (a
        prerelease) or C(+) (build metadata) and letters, digits, C(.) and C(-); for
        example C(1.2.0), C(1.2.0-rc.1) or C(1.2.0+build.7).
      - Releases sort in semantic version order (C(1.10.0) after C(1.9.0), a
        prerelease before its release).
    type: str
    required: true
  artifact:
    description:
      - Path on the managed host of the release tarball (C(.tar.gz); C(.tar.bz2), C(.tar.xz)
        and an uncompressed C(.tar) are accepted too).
      - The artifact is opened once and read once; its sha256 is computed as it is unpacked
        into a temporary directory, which becomes the release only when the sha256 equals
        O(checksum) and every member was accepted. Members are refused like the
        M(fleetops.lifecycle.restore) module refuses them (one shared check and extraction
        path), symbolic links resolved through the links before them; pax/GNU headers over
        1 MiB are refused.
      - Required when the release is not unpacked yet (or its unpack was interrupted);
        not read when the release is already complete.
      - In check mode it may be missing (a copy task earlier in the same check run does
        not write it); the unpack is then predicted without verification and
        RV(artifact_missing_in_check_mode) is V(true).
    type: path
  checksum:
    description:
      - Expected sha256 of O(artifact), 64 hexadecimal digits (a C(sha256:) prefix is
        accepted). Required with O(artifact).
      - When the release is already complete, it must equal the checksum in the release's
        marker; the same version with other content is refused.
    type: str
  slot:
    description:
      - Point C(<root>/current-<slot>) at the release (O(state=present) only).
      - Letters, digits, C(_), C(.) and C(-), e.g. C(blue).
      - When a file or directory that is not a symbolic link has that name, the module fails.
    type: str
  state:
    description:
      - V(present) makes sure the release is unpacked (and the slot points at it).
      - V(absent) removes the release directory and leftovers of interrupted runs for
        this version. It fails, naming the slot, when a C(current-*) link points at the
        release.
    type: str
    choices: [present, absent]
    default: present
  shared:
    description:
      - Paths relative to the release (e.g. C(uploads), C(var/cache)) that live once under
        C(<root>/shared/) and are linked into every release as symbolic links, so their data
        outlives a release. Missing C(<root>/shared/<path>) directories are made (mode 0755).
      - Linked after the unpack and before the slot link switches, so a release never runs
        without them. A release that ships a real file or directory at a shared path is
        refused, not overwritten.
      - O(state=present) only.
    type: list
    elements: str
  keep:
    description:
      - Keep this many newest releases (semantic version order, the one being installed
        counts) and remove older ones after the slot link switched. A release a
        C(current-*) link points at, the O(version) being installed and every O(protect)
        version are never removed. Unset means no retention. A whole number of 1 or more.
      - O(state=present) only. Check mode lists what would be removed in RV(pruned).
    type: int
  protect:
    description:
      - Versions O(keep) never removes, e.g. the ledger's last good release.
    type: list
    elements: str
  max_unpacked_bytes:
    description:
      - Refuse an artifact whose members declare more than this many bytes in total
        (checked before each member is written). Whatever it is set to, the unpack also stops
        before it would leave less than 5% (at least 64 MiB) of the filesystem free.
    type: int
extends_documentation_fragment:
  - fleetops.lifecycle.attributes
attributes:
  check_mode:
    support: full
    details:
      - Reports whether it would unpack, remove or relink and the link target before and
        after; writes nothing.
      - When the artifact exists on the host, its checksum and members are verified as in
        a real run, so a bad artifact fails in check mode too.
  diff_mode:
    support: full
    details: Shows the release directory's state and the slot link's target before and after.
notes:
  - A slot's link target protects a release from removal, by O(keep) and by O(state=absent).
  - Directory mtimes are never used to tell releases apart; the slot links and the
    marker are the state.
seealso:
  - module: ansible.builtin.unarchive
    description: General archive extraction without the release layout, marker and atomic switch.
"""

EXAMPLES = r"""
- name: Copy the artifact to the host
  ansible.builtin.copy:
    src: dist/demo-service-1.2.0.tar.gz
    dest: /opt/demo/artifacts/demo-service-1.2.0.tar.gz
    mode: "0644"

- name: Unpack 1.2.0 and point the green slot at it
  fleetops.lifecycle.release:
    root: /opt/demo
    version: 1.2.0
    artifact: /opt/demo/artifacts/demo-service-1.2.0.tar.gz
    checksum: "{{ lookup('ansible.builtin.file', 'dist/demo-service-1.2.0.tar.gz.sha256').split()[0] }}"
    slot: green
  notify: Restart the demo slot

- name: Point the blue slot at an already unpacked release (no artifact needed)
  fleetops.lifecycle.release:
    root: /opt/demo
    version: 1.1.0
    slot: blue

- name: Remove an old release (fails if a slot still points at it)
  fleetops.lifecycle.release:
    root: /opt/demo
    version: 1.0.0
    state: absent
"""

RETURN = r"""
shared_linked:
  description: Links to O(shared) paths made or repointed in the release (in check mode, would be).
  returned: always
  type: list
  elements: str
  sample: [/opt/demo/releases/1.2.0/uploads]
pruned:
  description: Releases removed by O(keep) (in check mode, that would be), oldest first.
  returned: always
  type: list
  elements: str
  sample: [1.0.0, 1.1.0]
pruned_reasons:
  description: Why each release in RV(pruned) was removed.
  returned: always
  type: dict
  sample: {1.0.0: older than the 5 newest releases, not linked by a slot, not protected}
release_dir:
  description: Absolute path of the release directory.
  returned: always
  type: str
  sample: /opt/demo/releases/1.2.0
unpacked:
  description: Whether the artifact was unpacked (in check mode, would be).
  returned: always
  type: bool
  sample: true
replaced_incomplete:
  description: Whether a release directory without marker (an interrupted unpack) was replaced.
  returned: always
  type: bool
  sample: false
removed:
  description: Whether the release directory was removed (in check mode, would be). Always false with O(state=present).
  returned: always
  type: bool
  sample: false
leftovers_removed:
  description: Temporary directories of this version left by interrupted runs that were (would be) removed.
  returned: always
  type: list
  elements: str
  sample: [/opt/demo/releases/.tmp-1.2.0-3f9a1c2e]
slot:
  description: The slot whose link was managed, or null.
  returned: always
  type: str
  sample: green
link_before:
  description: Target of C(current-<slot>) before the task, null when there was no link or no O(slot).
  returned: always
  type: str
  sample: /opt/demo/releases/1.1.0
link_after:
  description: Target of C(current-<slot>) after the task (in check mode, as it would be); null without O(slot).
  returned: always
  type: str
  sample: /opt/demo/releases/1.2.0
checksum:
  description:
    - The release's sha256. After an unpack, the verified checksum of the artifact; for a
      complete release, the one in its marker; in check mode with the artifact missing,
      O(checksum).
  returned: always
  type: str
  sample: 35ac6d71a535b97c7aea09e3650ee71ec043ceabd600b33baed6852b90ca99ec
artifact_missing_in_check_mode:
  description:
    - V(true) when, in check mode, the release would be unpacked but O(artifact) does not
      exist yet, so it was not verified. A real run verifies it before unpacking.
  returned: always
  type: bool
  sample: false
expected_checksum:
  description: O(checksum), on a checksum failure.
  returned: on a checksum mismatch
  type: str
computed_checksum:
  description: The artifact's actual sha256, on a checksum failure.
  returned: on a checksum mismatch
  type: str
unsafe_members:
  description: Archive members that were refused, each with C(name) and C(reason).
  returned: when the artifact has unsafe members
  type: list
  elements: dict
  sample: [{name: ../evil, reason: "path contains '..'"}]
slots:
  description: Slots whose link points at the release, when O(state=absent) is refused.
  returned: when O(state=absent) is refused
  type: list
  elements: str
  sample: [blue]
diff:
  description: The release directory and the slot link before and after.
  returned: when diff mode is on
  type: dict
  contains:
    before:
      description: State before the task.
      type: dict
      returned: when diff mode is on
      sample: {release_dir: /opt/demo/releases/1.2.0, release: absent, link: /opt/demo/current-green,
               link_target: /opt/demo/releases/1.1.0}
    after:
      description: State after the task.
      type: dict
      returned: when diff mode is on
      sample: {release_dir: /opt/demo/releases/1.2.0, release: complete, link: /opt/demo/current-green,
               link_target: /opt/demo/releases/1.2.0}
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.fleetops.lifecycle.plugins.module_utils.release import (
    ReleaseError,
    apply_plan,
    observe,
    parse_request,
    plan_release,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.release_layout import (
    apply_prune,
    apply_shared,
    plan_prune,
    plan_shared,
    validate_shared,
)

ARGUMENT_SPEC = dict(
    root=dict(type="path", required=True),
    version=dict(type="str", required=True),
    artifact=dict(type="path"),
    checksum=dict(type="str"),
    slot=dict(type="str"),
    state=dict(type="str", default="present", choices=["present", "absent"]),
    shared=dict(type="list", elements="str"),
    keep=dict(type="int"),
    protect=dict(type="list", elements="str"),
    max_unpacked_bytes=dict(type="int"),
)


def _view(release_dir, status, link_path, link_target):
    view = dict(release_dir=release_dir, release=status)
    if link_path:
        view.update(link=link_path, link_target=link_target)
    return view


def ensure_release(params, check_mode, diff_mode):
    """Observe, plan, apply (unless check mode); return the result dict."""
    request = parse_request(params)
    try:
        state = observe(request, check_mode)
    except OSError as exc:
        raise ReleaseError("root: cannot read %s: %s" % (request["root"], exc)) from exc
    shared = validate_shared(params.get("shared"))
    if request["state"] == "absent" and (shared or params.get("keep") is not None):
        raise ReleaseError("shared, keep: only used with state=present")
    actions = plan_release(state)
    limit = params.get("max_unpacked_bytes")
    if limit is not None and limit < 1:
        raise ReleaseError("max_unpacked_bytes: %r must be a whole number of bytes, 1 or more" % (limit,))
    for action in actions:
        if action["action"] == "unpack":
            action["max_unpacked_bytes"] = limit
    # Order: unpack, link the shared paths into the release, switch the slot, prune.
    outcome = apply_plan([a for a in actions if a["action"] != "link"], check_mode)
    shared_actions = plan_shared(request["root"], state["release_dir"], shared,
                                 os.path.isdir(state["release_dir"]))
    if not check_mode:
        apply_shared(shared_actions)
    apply_plan([a for a in actions if a["action"] == "link"], check_mode)
    removals = []
    if request["state"] == "present":
        removals = plan_prune(request["root"], params.get("keep"), params.get("protect"), request["version"],
                              request["slot"])
        if not check_mode:
            apply_prune(removals)
    by_kind = dict((action["action"], action) for action in actions)
    unpack = by_kind.get("unpack")
    present = request["state"] == "present"
    slot = request["slot"]
    link_after = state["release_dir"] if slot else None
    result = dict(
        changed=bool(actions or shared_actions or removals),
        shared_linked=[a["path"] for a in shared_actions if a["action"] == "link"],
        pruned=[removal["version"] for removal in removals],
        pruned_reasons=dict((removal["version"], removal["reason"]) for removal in removals),
        release_dir=state["release_dir"],
        unpacked=unpack is not None,
        replaced_incomplete=bool(unpack and unpack["replace"]),
        removed="remove" in by_kind,
        leftovers_removed=[a["path"] for a in actions if a["action"] == "remove_leftover"],
        slot=slot,
        link_before=state["link_target"] if slot else None,
        link_after=link_after,
        checksum=outcome["checksum"] or (request["checksum"] if unpack else state["marker_checksum"]),
        artifact_missing_in_check_mode=bool(unpack and check_mode and not state["artifact_exists"]),
    )
    if diff_mode:
        after_status = "complete" if present else "absent"
        result["diff"] = dict(
            before=_view(state["release_dir"], state["release"], state["link_path"], result["link_before"]),
            after=_view(state["release_dir"], after_status, state["link_path"], link_after),
        )
    return result


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        required_together=[["artifact", "checksum"]],
    )
    try:
        result = ensure_release(module.params, module.check_mode, module._diff)
    except ReleaseError as exc:
        module.fail_json(msg=exc.msg, **exc.result)
    except OSError as exc:
        module.fail_json(msg="root: %s: %s" % (module.params["root"], exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
