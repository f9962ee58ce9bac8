# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore a backup archive onto a host, so that a failed restore changes nothing.

Order: the whole archive is decompressed (zstd checks its frame checksum), every
member is compared with the MANIFEST (sizes and sha256) and the MANIFEST with the
sha256 in its sidecar, every member is checked by
``archive_safety.unsafe_members`` -- all before anything is written. Then, unless
disabled, a safety backup of the current paths is taken (kind ``pre-restore``, with
the same backup code). Each restored path is extracted into a staging path next to
it (``.<name>.fleetops-staged-<hex>``; each file's sha256 is checked as it is
written), then swapped in: the live path is renamed aside
(``.<name>.fleetops-old-<hex>``), the staged one renamed in, and when every path is
swapped the old ones are removed. On any failure the swaps done so far are undone.
A restore killed halfway leaves those names behind; the next restore puts an aside
path back when its live path is missing and removes the rest.

The service must be stopped while its state is restored (the playbook does that).
No AnsibleModule inside; Python 3.8+, standard library only, ``zstd`` CLI.
"""

from __future__ import annotations

import os
import re
import time

from ansible_collections.fleetops.lifecycle.plugins.module_utils.archive_safety import unsafe_members
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup import (
    DEFAULT_SNAPSHOT_TIMEOUT,
    create_backup,
    validate_abs_dir,
    validate_backup,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_archive import (
    MANIFEST,
    BackupError,
    load_sidecar,
    remove_path,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_verify import (
    extract,
    manifest_problems,
    manifest_roots,
    scan_archive,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import fsync_dir

WHAT = ("config", "state", "both")
_LEFTOVER_RE = r"\.%s\.fleetops-(staged|old|failed)-[0-9a-f]{8}\Z"


def validate_restore(params):
    """Check the restore module's options; return them normalised (raises BackupError)."""
    path = params.get("path")
    if not isinstance(path, str) or not os.path.isabs(path):
        raise BackupError("path: %r must be the absolute path of an archive" % (path,))
    if not os.path.isfile(path):
        raise BackupError("path: %s does not exist or is not a file" % path)
    what = params.get("what") or "both"
    if what not in WHAT:
        raise BackupError("what: %r is not one of %s" % (what, ", ".join(WHAT)))
    dest_root = params.get("dest_root")
    safety_dest_dir = params.get("safety_dest_dir")
    return dict(
        path=os.path.normpath(path), what=what,
        safety_backup=params.get("safety_backup") is not False,
        safety_dest_dir=validate_abs_dir(safety_dest_dir, "safety_dest_dir") if safety_dest_dir else None,
        dest_root=validate_abs_dir(dest_root, "dest_root") if dest_root else None,
        release=params.get("release"),
    )


# --- checking the archive ---------------------------------------------------------------


def verified_scan(archive):
    """Check sidecar, content and member safety; return ``(sidecar, scan)`` or raise BackupError."""
    sidecar, reason = load_sidecar(archive)
    if sidecar is None:
        raise BackupError("path: %s is incomplete, nothing was restored: %s" % (archive, reason), archive=archive)
    scan = scan_archive(archive, lambda name: True)
    problems = scan.problems + manifest_problems(scan, sidecar)
    if problems:
        raise BackupError("path: archive %s is damaged, nothing was restored: %s" % (
            archive, "; ".join("%s: %s" % (p["member"], p["problem"]) if p["member"] else p["problem"]
                               for p in problems[:5])),
            archive=archive, problems=problems)
    try:
        roots = manifest_roots(scan.manifest)
    except ValueError as exc:
        raise BackupError("path: archive %s: %s; nothing was restored" % (archive, exc), archive=archive) from exc
    unsafe = unsafe_members(scan.members, roots, control=(MANIFEST,))
    if unsafe:
        raise BackupError(
            "path: archive %s has unsafe members, nothing was restored: %s"
            % (archive, "; ".join("%s (%s)" % item for item in unsafe)),
            archive=archive, unsafe_members=[dict(name=name, reason=reason) for name, reason in unsafe])
    return sidecar, scan


def plan_targets(scan, what, dest_root=None):
    """The roots to restore: ``[{"root", "path", "kind", "name", "type", "target"}]``."""
    kinds = ("config", "state") if what == "both" else (what,)
    targets = []
    for item in scan.manifest["paths"]:
        if item["kind"] not in kinds:
            continue
        target = item["path"] if dest_root is None else os.path.join(dest_root, item["path"].lstrip("/"))
        targets.append(dict(item, root=(item["kind"], item["name"]), target=os.path.normpath(target)))
    if not targets:
        raise BackupError("what: archive has no %s paths (it holds: %s)" % (
            " or ".join(kinds), ", ".join("%s %s" % (i["kind"], i["path"]) for i in scan.manifest["paths"])))
    for item in targets:
        if os.path.islink(item["target"]):
            raise BackupError("path: restore target %s is a symbolic link; refusing to replace it" % item["target"])
        if os.path.lexists(item["target"]) and os.path.isdir(item["target"]) != (item["type"] == "dir"):
            raise BackupError("path: restore target %s is not a %s as in the archive; refusing to replace it"
                              % (item["target"], "directory" if item["type"] == "dir" else "file"))
    return targets


def _files_of(scan, targets):
    files = []
    for item in targets:
        prefix = "%s/%s" % item["root"]
        for member in scan.members:
            if member.name == prefix or member.name.startswith(prefix + "/"):
                files.append(item["target"] + member.name[len(prefix):])
    return files


# --- writing ---------------------------------------------------------------------------


def _sibling(target, tag):
    parent, base = os.path.split(target)
    return os.path.join(parent, ".%s.fleetops-%s-%s" % (base, tag, os.urandom(4).hex()))


def recover_leftovers(targets):
    """Finish what an interrupted restore left next to the targets; return what was done."""
    done = []
    for item in targets:
        parent, base = os.path.split(item["target"])
        pattern = re.compile(_LEFTOVER_RE % re.escape(base))
        try:
            names = sorted(os.listdir(parent))
        except FileNotFoundError:
            continue
        for name in names:
            match = pattern.match(name)
            if not match:
                continue
            path = os.path.join(parent, name)
            if match.group(1) == "old" and not os.path.lexists(item["target"]):
                os.rename(path, item["target"])
                done.append("put back %s as %s" % (path, item["target"]))
            else:
                remove_path(path)
                done.append("removed %s" % path)
        fsync_dir(parent)
    return done


def _safety_backup(request, sidecar, targets):
    existing = [t for t in targets if os.path.lexists(t["target"])]
    if not request["safety_backup"] or not existing:
        return None
    metadata = sidecar["metadata"]
    params = dict(
        service=metadata.get("service"), host=metadata.get("host"), kind="pre-restore", release=request["release"],
        dest_dir=request["safety_dest_dir"] or os.path.dirname(request["path"]),
        paths=[dict(path=t["target"], kind=t["kind"], name=t["name"]) for t in existing],
        snapshot_timeout=DEFAULT_SNAPSHOT_TIMEOUT,
    )
    try:
        return create_backup(validate_backup(params))
    except BackupError as exc:
        raise BackupError("safety_backup: the backup of the current state failed, nothing was restored: %s"
                          % exc.msg, **exc.result) from exc


def _swap_in(pairs):
    """Rename each live target aside and its staged copy in; undo everything on failure."""
    swapped = []
    try:
        for target, staged in pairs:
            aside = None
            if os.path.lexists(target):
                aside = _sibling(target, "old")
                os.rename(target, aside)
            try:
                os.rename(staged, target)
            except BaseException:
                if aside:
                    os.rename(aside, target)
                raise
            swapped.append((target, aside))
            fsync_dir(os.path.dirname(target))
    except BaseException:
        for target, aside in reversed(swapped):
            failed = _sibling(target, "failed")
            os.rename(target, failed)
            if aside:
                os.rename(aside, target)
            remove_path(failed)
            fsync_dir(os.path.dirname(target))
        raise
    return [aside for _target, aside in swapped if aside]


def apply_restore(archive, scan, targets):
    """Extract into staging paths next to the targets and swap them in; return the files restored."""
    staging = {}
    try:
        for item in targets:
            os.makedirs(os.path.dirname(item["target"]), mode=0o755, exist_ok=True)
            staging[item["root"]] = _sibling(item["target"], "staged")
        extract(archive, staging, scan.manifest, owners=os.geteuid() == 0)
        asides = _swap_in([(item["target"], staging[item["root"]]) for item in targets])
    except BaseException:
        for path in staging.values():
            remove_path(path)
        raise
    for aside in asides:
        remove_path(aside)
        fsync_dir(os.path.dirname(aside))
    return _files_of(scan, targets)


def restore(request, check_mode=False):
    """Verify, back up the current state, restore; return the result dict."""
    clock = time.monotonic()
    archive = request["path"]
    sidecar, scan = verified_scan(archive)
    targets = plan_targets(scan, request["what"], request["dest_root"])
    result = dict(
        changed=True, archive=archive, what=request["what"], metadata=sidecar["metadata"],
        targets=[t["target"] for t in targets], files=_files_of(scan, targets), safety_backup=None,
        recovered=[],
    )
    if check_mode:
        result["safety_backup_planned"] = request["safety_backup"] and any(
            os.path.lexists(t["target"]) for t in targets)
        return result
    try:
        result["recovered"] = recover_leftovers(targets)
    except OSError as exc:
        raise BackupError("path: cannot clean up after an earlier restore: %s" % exc) from exc
    safety = _safety_backup(request, sidecar, targets)
    result["safety_backup"] = safety["archive"] if safety else None
    try:
        result["files"] = apply_restore(archive, scan, targets)
    except BackupError as exc:
        exc.result.setdefault("safety_backup", result["safety_backup"])
        raise
    except (OSError, ValueError) as exc:
        raise BackupError("path: restoring %s failed, the previous state is in place: %s" % (archive, exc),
                          safety_backup=result["safety_backup"]) from exc
    result["duration"] = round(time.monotonic() - clock, 3)
    return result
