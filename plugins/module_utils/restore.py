# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Restore a backup archive onto a host, so that a failed restore changes nothing.

Check mode (which the role runs before the host leaves the pool) reads the whole
archive, compares every member with the MANIFEST and the MANIFEST with its sidecar,
refuses unsafe members (``archive_safety``), plans the targets -- only paths in
``allowed_paths``, normalised, under ``dest_root``, none inside another, no name too
long -- and checks the declared size against the free space.

A real restore opens the archive once and reads it once (``backup_verify.ExtractPass``):
METADATA plans the targets, each restored path is extracted by ``safe_extract`` into
a staging path next to it (``.<name>.fleetops-staged-<hex>``), every file hashed as
it is written; at the end the digests are compared with the MANIFEST and the
MANIFEST with the sidecar. Only then, unless disabled, a safety backup of the current
paths is taken (kind ``pre-restore``) and the staged paths are swapped in: the live
path is renamed aside (``.<name>.fleetops-old-<hex>``), the staged one renamed in,
and when every path is swapped the old ones are removed. On any failure the swaps
done so far are undone. A restore killed halfway leaves those names behind; the next
restore puts an aside path back when its live path is missing and removes the rest.

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
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_scan import (
    Scan,
    manifest_problems,
    manifest_roots,
    scan_archive,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_verify import (
    ExtractPass,
    extraction_budget,
    open_archive,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import fsync_dir, remove_path
from ansible_collections.fleetops.lifecycle.plugins.module_utils.safe_extract import Refused

WHAT = ("config", "state", "both")
NAME_MAX = 255
PATH_MAX = 4096
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
        allowed_paths=validate_allowed_paths(params.get("allowed_paths")),
        max_unpacked_bytes=validate_max_bytes(params.get("max_unpacked_bytes")),
        safety_backup=params.get("safety_backup") is not False,
        safety_dest_dir=validate_abs_dir(safety_dest_dir, "safety_dest_dir") if safety_dest_dir else None,
        dest_root=validate_abs_dir(dest_root, "dest_root") if dest_root else None,
        release=params.get("release"),
    )


def validate_allowed_paths(paths, option="allowed_paths"):
    """Normalised absolute paths (None: no allow-list); raises BackupError naming the entry."""
    if paths is None:
        return None
    if isinstance(paths, (str, bytes)) or not isinstance(paths, (list, tuple)):
        raise BackupError("%s: %r must be a list of absolute paths" % (option, paths))
    normal = []
    for index, entry in enumerate(paths):
        path = entry.get("path") if isinstance(entry, dict) else entry
        if not isinstance(path, str) or not os.path.isabs(path) or os.path.normpath(path) != (path.rstrip("/") or "/"):
            raise BackupError("%s[%d]: %r must be a normalised absolute path" % (option, index, path))
        normal.append(os.path.normpath(path))
    return normal


def validate_max_bytes(value, option="max_unpacked_bytes"):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BackupError("%s: %r must be a whole number of bytes, 1 or more" % (option, value))
    return value


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


def _name_problem(path):
    for part in path.split("/"):
        if len(part.encode("utf-8", "surrogateescape")) > NAME_MAX:
            return "a name longer than %d bytes (%s...)" % (NAME_MAX, part[:40])
    if len(path.encode("utf-8", "surrogateescape")) >= PATH_MAX:
        return "a path of %d bytes or more" % PATH_MAX
    return None


def plan_targets(scan, what, dest_root=None, allowed=None):
    """The roots to restore: ``[{"root", "path", "kind", "name", "type", "target"}]``.

    Every problem a path can have is found here, before anything is written (and in
    check mode, which the role runs before the host leaves the pool): a target the
    allow-list does not hold, one that is not a normalised absolute path, that leaves
    ``dest_root``, that is named twice or lies inside another, or whose name (or a
    member's under it, or the staging name next to it) is too long.
    """
    manifest = scan.manifest if isinstance(scan, Scan) else scan
    kinds = ("config", "state") if what == "both" else (what,)
    targets = []
    for item in manifest["paths"]:
        if item["kind"] not in kinds:
            continue
        path = item["path"]
        if not os.path.isabs(path) or os.path.normpath(path) != path:
            raise BackupError("path: the archive names the target %r for %s, which is not a normalised "
                              "absolute path; nothing was restored" % (path, item["root"]))
        if allowed is not None and path not in allowed:
            raise BackupError("path: the archive names the target %s for %s, which is not one of the paths "
                              "restore may write (allowed_paths: %s); nothing was restored"
                              % (path, item["root"], ", ".join(allowed) or "none"))
        target = path if dest_root is None else os.path.normpath(os.path.join(dest_root, path.lstrip("/")))
        if dest_root is not None and os.path.commonpath([dest_root, target]) != dest_root:
            raise BackupError("path: the target %s of %s leaves dest_root %s; nothing was restored"
                              % (target, item["root"], dest_root))
        targets.append(dict(item, root=(item["kind"], item["name"]), target=target))
    if not targets:
        raise BackupError("what: archive has no %s paths (it holds: %s)" % (
            " or ".join(kinds), ", ".join("%s %s" % (i["kind"], i["path"]) for i in manifest["paths"])))
    for index, item in enumerate(targets):
        for other in targets[:index]:
            if os.path.commonpath([item["target"], other["target"]]) in (item["target"], other["target"]):
                raise BackupError("path: the targets %s (%s) and %s (%s) are the same or one holds the other; "
                                  "nothing was restored" % (other["target"], "/".join(other["root"]),
                                                            item["target"], "/".join(item["root"])))
        problem = _name_problem(_sibling(item["target"], "staged"))
        if problem:
            raise BackupError("path: the target %s has %s; nothing was restored" % (item["target"], problem))
    for item in targets:
        if os.path.islink(item["target"]):
            raise BackupError("path: restore target %s is a symbolic link; refusing to replace it" % item["target"])
        if os.path.lexists(item["target"]) and os.path.isdir(item["target"]) != (item["type"] == "dir"):
            raise BackupError("path: restore target %s is not a %s as in the archive; refusing to replace it"
                              % (item["target"], "directory" if item["type"] == "dir" else "file"))
    return targets


def member_name_problems(scan, targets):
    """``[(member, problem)]`` for members whose restored path would be too long."""
    problems = []
    for item in targets:
        prefix = "%s/%s" % item["root"]
        staged = _sibling(item["target"], "staged")
        for member in scan.members:
            if member.name.startswith(prefix + "/"):
                problem = _name_problem(staged + member.name[len(prefix):])
                if problem:
                    problems.append((member.name, problem))
    return problems


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


def _space_check(request, sidecar, targets):
    """Refuse before anything is written when the declared data does not fit (raises BackupError)."""
    where = os.path.dirname(targets[0]["target"])
    while not os.path.isdir(where):
        where = os.path.dirname(where)
    try:
        return extraction_budget(sidecar, where, request["max_unpacked_bytes"])
    except Refused as exc:
        raise BackupError("path: archive %s: %s; nothing was restored" % (request["path"], exc.reason),
                          archive=request["path"]) from exc


def _extract_verified(request, sidecar, fd, budget):
    """One pass over ``fd``: plan from METADATA, extract to staging while hashing, check everything.

    Returns ``(targets, staging, scan, dropped)``; on any problem the staging paths are
    removed and BackupError raised (nothing live was touched).
    """
    archive = request["path"]
    state = dict(targets=None, staging={})

    def plan(metadata):
        targets = plan_targets(metadata, request["what"], request["dest_root"], request["allowed_paths"])
        state["recovered"] = recover_leftovers(targets)
        for item in targets:
            os.makedirs(os.path.dirname(item["target"]), mode=0o755, exist_ok=True)
            state["staging"][item["root"]] = _sibling(item["target"], "staged")
        state["targets"] = targets
        return dict(state["staging"])

    extract = ExtractPass(fd, sidecar, plan, budget, owners=os.geteuid() == 0)
    try:
        try:
            problems = extract.run()
        except Refused as exc:
            problems = None
            raise BackupError(
                "path: archive %s has unsafe members, nothing was restored: %s" % (archive, exc),
                archive=archive, unsafe_members=[dict(name=exc.member, reason=exc.reason)]) from exc
        finally:
            extract.close()
        if problems:
            raise BackupError("path: archive %s is damaged, nothing was restored: %s" % (
                archive, "; ".join("%s: %s" % (p["member"], p["problem"]) if p["member"] else p["problem"]
                                   for p in problems[:5])), archive=archive, problems=problems)
    except BaseException:
        for path in state["staging"].values():
            remove_path(path)
        raise
    return state, extract.scan, extract.extractor.dropped_bits


def restore(request, check_mode=False):
    """Verify, back up the current state, restore; return the result dict."""
    clock = time.monotonic()
    archive = request["path"]
    if check_mode:
        sidecar, scan = verified_scan(archive)
        targets = plan_targets(scan, request["what"], request["dest_root"], request["allowed_paths"])
        long_names = member_name_problems(scan, targets)
        if long_names:
            raise BackupError("path: archive %s has members whose restored path is too long, nothing was "
                              "restored: %s" % (archive, "; ".join("%s (%s)" % p for p in long_names[:5])))
        _space_check(request, sidecar, targets)
        result = _result(request, sidecar, scan, targets)
        result["safety_backup_planned"] = request["safety_backup"] and any(
            os.path.lexists(t["target"]) for t in targets)
        return result
    sidecar, reason = load_sidecar(archive)
    if sidecar is None:
        raise BackupError("path: %s is incomplete, nothing was restored: %s" % (archive, reason), archive=archive)
    fd = open_archive(archive, sidecar)
    try:
        budget = _space_check(request, sidecar, plan_targets(
            sidecar["metadata"], request["what"], request["dest_root"], request["allowed_paths"]))
        try:
            state, scan, dropped = _extract_verified(request, sidecar, fd, budget)
        except OSError as exc:
            raise BackupError("path: restoring %s failed, the previous state is in place: %s" % (archive, exc)) \
                from exc
    finally:
        os.close(fd)
    targets, staging = state["targets"], state["staging"]
    result = _result(request, sidecar, scan, targets)
    result.update(dropped_mode_bits=dropped, recovered=state.get("recovered", []))
    try:
        safety = _safety_backup(request, sidecar, targets)
        result["safety_backup"] = safety["archive"] if safety else None
        asides = _swap_in([(item["target"], staging[item["root"]]) for item in targets])
    except BaseException as exc:
        for path in staging.values():
            remove_path(path)
        if isinstance(exc, BackupError):
            exc.result.setdefault("safety_backup", result["safety_backup"])
            raise
        if isinstance(exc, (OSError, ValueError)):
            raise BackupError("path: restoring %s failed, the previous state is in place: %s" % (archive, exc),
                              safety_backup=result["safety_backup"]) from exc
        raise
    for aside in asides:
        remove_path(aside)
        fsync_dir(os.path.dirname(aside))
    result["duration"] = round(time.monotonic() - clock, 3)
    return result


def _result(request, sidecar, scan, targets):
    return dict(
        changed=True, archive=request["path"], what=request["what"], metadata=sidecar["metadata"],
        targets=[t["target"] for t in targets], files=_files_of(scan, targets), safety_backup=None,
        recovered=[], dropped_mode_bits=[],
        # The MANIFEST as read from the archive (bounded) and checked against every member
        # and the sidecar: what a caller compares the restored files with.
        manifest=scan.manifest, manifest_sha256=scan.manifest_sha256,
    )
