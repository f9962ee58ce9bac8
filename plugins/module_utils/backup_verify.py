# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verify backup archives, and extract them safely (for restore tests and restores).

:func:`scan_archive` reads an archive once through ``zstd -dc`` (hashing the members
asked for) and :func:`manifest_problems` compares what it saw with the MANIFEST.
:func:`verify_archive` runs one mode: ``structure`` (decompresses, tar readable,
METADATA first and MANIFEST last, member list equal to the manifest), ``full`` (also
every member's size and sha256), ``subset`` (the sha256 of the members in part ``n``
of ``t``, see :func:`in_subset`) or ``restore_test`` (extract into a scratch
directory, compare with the manifest, remove it). Every mode decompresses the whole
archive (so zstd checks its frame checksum) and compares the MANIFEST's sha256 with
the sidecar. :func:`record_verification` writes
``<archive>.verified.json`` atomically.

:func:`extract` writes the members of chosen roots into staging paths, checking each
file's sha256 against the manifest as it is written; call it only for archives whose
members ``archive_safety.unsafe_members`` accepted. No AnsibleModule inside; Python
3.8+, standard library only, ``zstd`` CLI.
"""

from __future__ import annotations

import errno
import grp
import hashlib
import json
import os
import pwd
import re
import stat
import time

from ansible_collections.fleetops.lifecycle.plugins.module_utils.archive_safety import member_parts, unsafe_members
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup import (
    list_archives,
    resolve_dest_dir,
    validate_abs_dir,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_archive import (
    FORMAT,
    MANIFEST,
    METADATA,
    BackupError,
    iso_time,
    load_sidecar,
    load_verified,
    sha256_file,
    verified_path,
    write_all,
    write_json_atomic,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_runs import TempRun
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_tarstream import (
    ArchiveReader,
    member_kind,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import fsync_dir

MODES = ("structure", "full", "subset", "restore_test")
CONTENT_MODES = ("full", "restore_test")
_SUBSET_RE = re.compile(r"\s*([0-9]+)\s*/\s*([0-9]+)\s*\Z")
_CONTROL_LIMIT = 256 << 20
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


# --- subsets -----------------------------------------------------------------------------


def parse_subset(value, option="subset"):
    """``(n, t)`` from ``"n/t"`` with ``1 <= n <= t``; raises BackupError naming the option."""
    match = _SUBSET_RE.match(value) if isinstance(value, str) else None
    if not match:
        raise BackupError("%s: %r is not of the form n/t (e.g. 3/7: part 3 of 7)" % (option, value))
    part, total = int(match.group(1)), int(match.group(2))
    if total < 1 or not 1 <= part <= total:
        raise BackupError("%s: %r needs 1 <= n <= t (part n of t parts), got n=%d, t=%d"
                          % (option, value, part, total))
    return part, total


def subset_index(path, total):
    """The part (1..total) a member path belongs to: fixed by the path alone."""
    digest = hashlib.sha256(path.encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(digest[:8], "big") % total + 1


def in_subset(path, part, total):
    return subset_index(path, total) == part


# --- reading an archive ------------------------------------------------------------------


class Scan(object):
    """What one pass over an archive saw."""

    def __init__(self):
        self.metadata = None
        self.manifest = None
        self.metadata_sha256 = None
        self.manifest_sha256 = None
        self.members = []
        self.digests = {}
        self.sizes = {}
        self.problems = []
        self.bytes_hashed = 0

    def problem(self, member, text):
        self.problems.append(dict(member=member, problem=text))


def _read_control(stream, member, scan):
    if member.size > _CONTROL_LIMIT:
        raise ValueError("%s is larger than %d bytes" % (member.name, _CONTROL_LIMIT))
    chunks = []
    stream.read_data(lambda chunk: chunks.append(bytes(chunk)))
    data = b"".join(chunks)
    try:
        value = json.loads(data.decode("utf-8"))
    except ValueError as exc:
        scan.problem(member.name, "not valid JSON: %s" % exc)
        value = None
    return data, value if isinstance(value, dict) else None


def _hash_member(stream, member, scan):
    digest = hashlib.sha256()
    count = [0]

    def sink(chunk):
        digest.update(chunk)
        count[0] += len(chunk)

    stream.read_data(sink)
    scan.digests[member.name] = digest.hexdigest()
    scan.sizes[member.name] = count[0]
    scan.bytes_hashed += count[0]


def _scan_member(stream, member, scan, position, hash_filter):
    if position == 0:
        if member.name != METADATA or member_kind(member.type) != "file":
            scan.problem(member.name, "the first member must be METADATA")
        else:
            data, scan.metadata = _read_control(stream, member, scan)
            scan.metadata_sha256 = hashlib.sha256(data).hexdigest()
            return
    if scan.manifest is not None:
        scan.problem(member.name, "member after MANIFEST (MANIFEST must be the last member)")
    if member.name == MANIFEST and member_kind(member.type) == "file":
        scan.members.append(member)
        data, scan.manifest = _read_control(stream, member, scan)
        scan.manifest_sha256 = hashlib.sha256(data).hexdigest()
        if scan.manifest is None:
            scan.manifest = {}
        return
    scan.members.append(member)
    if member_kind(member.type) == "file" and hash_filter(member.name):
        _hash_member(stream, member, scan)


def scan_archive(archive, hash_filter=lambda name: False):
    """Read ``archive`` once; hash the regular members ``hash_filter`` accepts."""
    scan = Scan()
    try:
        with ArchiveReader(archive) as stream:
            for position, member in enumerate(stream):
                _scan_member(stream, member, scan, position, hash_filter)
    except ValueError as exc:
        last = scan.members[-1].name if scan.members else None
        scan.problem(last, "unreadable: %s" % exc)
    if scan.metadata is None and not any(p["member"] == METADATA for p in scan.problems):
        scan.problem(METADATA, "METADATA is missing")
    if scan.manifest is None:
        scan.problem(MANIFEST, "MANIFEST is missing")
    return scan


def manifest_roots(manifest):
    """``{root parts: "dir"|"file"}`` of a manifest's paths, or raise ValueError."""
    roots = {}
    for item in manifest.get("paths") or ():
        if not isinstance(item, dict) or item.get("kind") not in ("config", "state") \
                or not _NAME_RE.match(str(item.get("name"))) or item.get("type") not in ("dir", "file") \
                or not isinstance(item.get("path"), str) or not os.path.isabs(item["path"]) \
                or item.get("root") != "%s/%s" % (item.get("kind"), item.get("name")):
            raise ValueError("MANIFEST has a bad paths entry %r" % (item,))
        roots[(item["kind"], item["name"])] = item["type"]
    if not roots:
        raise ValueError("MANIFEST lists no backed-up paths")
    return roots


def _compare_member(member, entry, scan):
    kind = member_kind(member.type)
    if entry.get("type") != kind:
        return "is a %s, the MANIFEST says %s" % (kind, entry.get("type"))
    if kind == "file" and entry.get("size") != member.size:
        return "has %d bytes, the MANIFEST says %s" % (member.size, entry.get("size"))
    if entry.get("mode") != "%04o" % member.mode:
        return "has mode %04o, the MANIFEST says %s" % (member.mode, entry.get("mode"))
    if kind == "symlink" and entry.get("linkname") != member.linkname:
        return "links to %s, the MANIFEST says %s" % (member.linkname, entry.get("linkname"))
    if member.name in scan.digests:
        if scan.sizes[member.name] != entry.get("size"):
            return "has %d bytes of data, the MANIFEST says %s" % (scan.sizes[member.name], entry.get("size"))
        if scan.digests[member.name] != entry.get("sha256"):
            return "sha256 %s differs from the MANIFEST's %s" % (scan.digests[member.name], entry.get("sha256"))
    return None


def manifest_problems(scan, sidecar=None):
    """Differences between what :func:`scan_archive` saw, the MANIFEST and ``sidecar``, as problem dicts."""
    manifest = scan.manifest
    if not manifest:
        return []
    problems = []
    if sidecar is not None and scan.manifest_sha256 != sidecar.get("manifest_sha256"):
        problems.append(dict(member=MANIFEST, problem="sha256 %s differs from the sidecar's manifest_sha256 %s" % (
            scan.manifest_sha256, sidecar.get("manifest_sha256"))))
    if manifest.get("format") != FORMAT:
        problems.append(dict(member=MANIFEST, problem="format %r is not %d" % (manifest.get("format"), FORMAT)))
    if scan.metadata_sha256 and manifest.get("metadata_sha256") != scan.metadata_sha256:
        problems.append(dict(member=METADATA, problem="sha256 differs from the MANIFEST's metadata_sha256"))
    try:
        manifest_roots(manifest)
    except ValueError as exc:
        problems.append(dict(member=MANIFEST, problem=str(exc)))
    entries = manifest.get("members") if isinstance(manifest.get("members"), list) else []
    by_name = dict((e.get("path"), e) for e in entries if isinstance(e, dict))
    seen = set()
    for member in scan.members:
        if member.name == MANIFEST:
            continue
        seen.add(member.name)
        entry = by_name.get(member.name)
        text = "not in the MANIFEST" if entry is None else _compare_member(member, entry, scan)
        if text:
            problems.append(dict(member=member.name, problem=text))
    names = [m.name for m in scan.members if m.name != MANIFEST]
    problems.extend(dict(member=name, problem="listed in the MANIFEST but missing from the archive")
                    for name in by_name if name not in seen)
    if not problems and names != [e.get("path") for e in entries]:
        problems.append(dict(member=MANIFEST, problem="members are not in the MANIFEST's order"))
    return problems


# --- extracting --------------------------------------------------------------------------


def _owner_ids(member):
    uid, gid = member.uid, member.gid
    try:
        uid = pwd.getpwnam(member.uname).pw_uid if member.uname else uid
    except KeyError:
        pass
    try:
        gid = grp.getgrnam(member.gname).gr_gid if member.gname else gid
    except KeyError:
        pass
    return uid, gid


def _write_file(stream, member, path, expected):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | getattr(os, "O_CLOEXEC", 0), 0o600)
    digest = hashlib.sha256()
    try:
        stream.read_data(digest.update, lambda chunk: write_all(fd, chunk))
        os.fsync(fd)
    finally:
        os.close(fd)
    if expected is not None and (digest.hexdigest() != expected.get("sha256") or member.size != expected.get("size")):
        raise BackupError("path: member %s: sha256 %s differs from the MANIFEST's %s; nothing was restored"
                          % (member.name, digest.hexdigest(), expected.get("sha256")), member=member.name)


def _place(stream, member, path, staged_root, expected):
    kind = member_kind(member.type)
    if kind == "dir":
        os.mkdir(path, 0o700)
    elif kind == "file":
        _write_file(stream, member, path, expected)
    elif kind == "symlink":
        os.symlink(member.linkname, path)
    elif kind == "hardlink":
        parts, _problem = member_parts(member.linkname)
        os.link(os.path.join(staged_root, *parts[2:]), path, follow_symlinks=False)
    else:
        raise OSError(errno.EINVAL, "refusing to create a special file", path)


def _finish(path, member, owners):
    if member_kind(member.type) == "hardlink":
        return
    if owners:
        uid, gid = _owner_ids(member)
        os.lchown(path, uid, gid)
    if member_kind(member.type) != "symlink":
        os.chmod(path, member.mode & 0o777)
    try:
        os.utime(path, (member.mtime, member.mtime), follow_symlinks=False)
    except (OSError, NotImplementedError, OverflowError):
        pass


def extract(archive, staging, manifest, owners=False):
    """Write the members under each root of ``staging`` (``{root parts: staging path}``).

    The staging paths must not exist. Each file's sha256 is compared with
    ``manifest`` while it is written. Owners are set from the archive (by name,
    else by number) when ``owners``; modes lose set-id and sticky bits. Returns the
    member names written. Raises BackupError/OSError/ValueError; the caller removes
    the staging paths on failure.
    """
    expected = dict((e["path"], e) for e in manifest.get("members", []) if isinstance(e, dict))
    written, dirs = [], []
    with ArchiveReader(archive) as stream:
        for member in stream:
            parts, problem = member_parts(member.name)
            root = parts[:2] if problem is None else None
            if root not in staging:
                continue
            path = os.path.join(staging[root], *parts[2:]) if len(parts) > 2 else staging[root]
            _place(stream, member, path, staging[root], expected.get(member.name))
            written.append(member.name)
            if member_kind(member.type) == "dir":
                dirs.append((path, member))
            else:
                _finish(path, member, owners)
    for path, member in reversed(dirs):
        _finish(path, member, owners)
        fsync_dir(path)
    for root_path in staging.values():
        if os.path.lexists(root_path):
            fsync_dir(os.path.dirname(root_path))
    return written


def _tree_problems(root_path, root_name, entries):
    """Differences between an extracted tree and the manifest entries under ``root_name``."""
    problems = []
    found = set()
    for directory, dirs, files in os.walk(root_path) if os.path.isdir(root_path) else [(None, [], [])]:
        for name in dirs + files:
            full = os.path.join(directory, name)
            found.add(root_name + "/" + os.path.relpath(full, root_path))
    if os.path.lexists(root_path):
        found.add(root_name)
    for name, entry in entries.items():
        path = root_path if name == root_name else os.path.join(root_path, name[len(root_name) + 1:])
        text = _compare_file(path, entry)
        if text:
            problems.append(dict(member=name, problem="after extraction: " + text))
        found.discard(name)
    problems.extend(dict(member=name, problem="extracted but not in the MANIFEST") for name in sorted(found))
    return problems


def _compare_file(path, entry):
    try:
        info = os.lstat(path)
    except OSError as exc:
        return "missing (%s)" % (exc.strerror or exc)
    kind = "dir" if stat.S_ISDIR(info.st_mode) else "symlink" if stat.S_ISLNK(info.st_mode) else "file"
    if kind != entry.get("type"):
        return "is a %s, the MANIFEST says %s" % (kind, entry.get("type"))
    if kind != "symlink" and "%04o" % stat.S_IMODE(info.st_mode) != entry.get("mode"):
        return "has mode %04o, the MANIFEST says %s" % (stat.S_IMODE(info.st_mode), entry.get("mode"))
    if kind == "file":
        digest, size = sha256_file(path)
        if size != entry.get("size") or digest != entry.get("sha256"):
            return "sha256 %s (%d bytes) differs from the MANIFEST's %s (%s bytes)" % (
                digest, size, entry.get("sha256"), entry.get("size"))
    if kind == "symlink" and os.readlink(path) != entry.get("linkname"):
        return "links to %s, the MANIFEST says %s" % (os.readlink(path), entry.get("linkname"))
    return None


def restore_test(archive, scan, scratch_parent):
    """Extract every root into a scratch directory, compare with the manifest, remove it.

    The scratch directory is a temporary file of a run (``.fleetops-tmp-<id>.restore-test``
    in ``scratch_parent``), so one left by a killed run is found as a leftover.
    """
    roots = manifest_roots(scan.manifest)
    with TempRun(scratch_parent, "restore-test") as run:
        scratch = run.path("restore-test")
        os.mkdir(scratch, 0o700)
        staging = dict((root, os.path.join(scratch, *root)) for root in roots)
        for kind in set(root[0] for root in roots):
            os.mkdir(os.path.join(scratch, kind), 0o700)
        extract(archive, staging, scan.manifest)
        problems = []
        entries = [e for e in scan.manifest.get("members", []) if isinstance(e, dict)]
        for root in roots:
            name = "/".join(root)
            mine = dict((e["path"], e) for e in entries if e["path"] == name or e["path"].startswith(name + "/"))
            problems.extend(_tree_problems(staging[root], name, mine))
        return problems


# --- one verification -----------------------------------------------------------------


def _hash_filter(mode, subset):
    if mode == "full":
        return lambda name: True
    if mode == "subset":
        part, total = subset
        return lambda name: in_subset(name, part, total)
    return lambda name: False


def verify_archive(archive, mode="full", subset=None, scratch_parent=None):
    """Verify ``archive`` in ``mode``; return the per-archive result (never raises for bad content)."""
    clock = time.monotonic()
    result = dict(archive=archive, mode=mode, subset="%d/%d" % subset if subset else None, ok=False,
                  problems=[], members=0, checked_members=0, checked_bytes=0)
    sidecar, reason = load_sidecar(archive)
    if sidecar is None:
        result["problems"].append(dict(member=None, problem="incomplete archive: %s" % reason))
        return _done(result, clock)
    scan = scan_archive(archive, _hash_filter(mode, subset))
    problems = scan.problems + manifest_problems(scan, sidecar)
    if not problems and mode == "restore_test":
        problems = _safety_problems(scan)
        if not problems:
            try:
                problems = restore_test(archive, scan, scratch_parent)
            except (BackupError, OSError, ValueError) as exc:
                problems = [dict(member=getattr(exc, "result", {}).get("member"), problem=str(exc))]
    result["problems"].extend(problems)
    result["members"] = len([m for m in scan.members if m.name != MANIFEST])
    result["checked_members"] = len(scan.digests) if mode != "restore_test" else result["members"]
    result["checked_bytes"] = scan.bytes_hashed
    result["ok"] = not result["problems"]
    return _done(result, clock)


def _safety_problems(scan):
    try:
        roots = manifest_roots(scan.manifest)
    except ValueError as exc:
        return [dict(member=MANIFEST, problem=str(exc))]
    return [dict(member=name, problem="unsafe member: " + reason)
            for name, reason in unsafe_members(scan.members, roots, control=(MANIFEST,))]


def _done(result, clock):
    result["duration"] = round(time.monotonic() - clock, 3)
    return result


def describe_failure(result):
    """One line naming the archive and the first bad members."""
    parts = []
    for item in result["problems"][:5]:
        parts.append("%s: %s" % (item["member"], item["problem"]) if item["member"] else item["problem"])
    more = len(result["problems"]) - 5
    return "archive %s failed %s verification: %s%s" % (
        result["archive"], result["mode"] + (" " + result["subset"] if result["subset"] else ""),
        "; ".join(parts), "; and %d more problems" % more if more > 0 else "")


def record_verification(result, now=None):
    """Write ``<archive>.verified.json`` (atomically) with this result; return the record."""
    now = time.time() if now is None else now
    archive = result["archive"]
    record = load_verified(archive)
    entry = dict(time=iso_time(now), epoch=round(now, 3), mode=result["mode"], subset=result["subset"],
                 ok=result["ok"], problems=result["problems"][:10])
    modes = record.get("modes") if isinstance(record.get("modes"), dict) else {}
    modes[result["mode"] + (" " + result["subset"] if result["subset"] else "")] = entry
    record.update(format=FORMAT, archive=os.path.basename(archive), last=entry, modes=modes)
    if not result["ok"]:
        record.update(content_verified=None, content_verified_epoch=None, last_failure_epoch=entry["epoch"])
    elif result["mode"] in CONTENT_MODES:
        record.update(content_verified=entry["time"], content_verified_epoch=entry["epoch"])
    elif result["mode"] == "subset":
        cycle = _subset_cycle(modes, result["subset"], record.get("last_failure_epoch") or 0)
        if cycle is not None and not record.get("content_verified_epoch"):
            record.update(content_verified=iso_time(cycle), content_verified_epoch=cycle)
    directory = os.path.dirname(archive)
    with TempRun(directory, "verify") as run:
        write_json_atomic(verified_path(archive), record, run.path("verified"))
    return record


def _subset_cycle(modes, subset, since):
    """The time all parts of ``n/t`` were last verified ok after ``since``, or None."""
    total = int(subset.split("/")[1])
    epochs = []
    for part in range(1, total + 1):
        entry = modes.get("subset %d/%d" % (part, total))
        if not isinstance(entry, dict) or not entry.get("ok") or (entry.get("epoch") or 0) < since:
            return None
        epochs.append(entry["epoch"])
    return min(epochs)


# --- the module's work ------------------------------------------------------------------


SELECT = ("latest", "all")


def validate_verify(params):
    """Check the backup_verify module's options; return them normalised (raises BackupError)."""
    mode = params.get("mode") or "full"
    if mode not in MODES:
        raise BackupError("mode: %r is not one of %s" % (mode, ", ".join(MODES)))
    subset = params.get("subset")
    if mode == "subset":
        subset = parse_subset(subset)
    elif subset is not None:
        raise BackupError("subset: %r is only used with mode=subset (mode is %s)" % (subset, mode))
    select = params.get("select") or "latest"
    if select not in SELECT:
        raise BackupError("select: %r is not one of %s" % (select, ", ".join(SELECT)))
    path = params.get("path")
    if path is not None:
        path = validate_abs_dir(path, "path")
        if not os.path.isfile(path):
            raise BackupError("path: archive %s does not exist or is not a file" % path)
    dest_dir = resolve_dest_dir(params, required_service=path is None)
    tmp_dir = params.get("tmp_dir")
    return dict(mode=mode, subset=subset, select=select, path=path, dest_dir=dest_dir,
                service=params.get("service"),
                tmp_dir=validate_abs_dir(tmp_dir, "tmp_dir") if tmp_dir else None)


def _select_archives(request):
    if request["path"]:
        return [request["path"]], []
    if not os.path.isdir(request["dest_dir"]):
        raise BackupError("dest_dir: %s does not exist or is not a directory" % request["dest_dir"])
    complete, incomplete = list_archives(request["dest_dir"], request["service"])
    if not complete:
        raise BackupError("dest_dir: no complete archive%s in %s (%d incomplete)" % (
            " of service %s" % request["service"] if request["service"] else "", request["dest_dir"],
            len(incomplete)), incomplete=[dict(path=i["path"], reason=i["reason"]) for i in incomplete])
    complete.sort(key=lambda a: (a["sidecar"]["metadata"]["created_epoch"], a["name"]), reverse=True)
    chosen = complete[:1] if request["select"] == "latest" else complete
    return [a["path"] for a in chosen], [dict(path=i["path"], reason=i["reason"]) for i in incomplete]


def run_verify(request, check_mode=False, now=None):
    """Verify the selected archives, record each result (not in check mode); return the result dict.

    Raises BackupError (with ``results``) when an archive fails.
    """
    archives, incomplete = _select_archives(request)
    results = []
    for archive in archives:
        result = verify_archive(archive, request["mode"], request["subset"],
                                request["tmp_dir"] or os.path.dirname(archive))
        if not check_mode and load_sidecar(archive)[0] is not None:
            try:
                result["record"] = verified_path(archive)
                record_verification(result, now)
            except OSError as exc:
                raise BackupError("path: cannot record the verification of %s: %s" % (archive, exc),
                                  results=results + [result]) from exc
        results.append(result)
    failed = [r for r in results if not r["ok"]]
    summary = dict(changed=False, results=results, verified=len(results) - len(failed), failed=len(failed),
                   incomplete=incomplete)
    if failed:
        raise BackupError("; ".join(describe_failure(r) for r in failed), **summary)
    return summary
