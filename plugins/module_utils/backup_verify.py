# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Verify backup archives, and extract them safely (for restore tests and restores).

:func:`backup_scan.scan_archive` reads an archive once through ``zstd -dc`` (hashing
the members asked for) and :func:`backup_scan.manifest_problems` compares what it saw
with the MANIFEST.
:func:`verify_archive` runs one mode: ``structure`` (decompresses, tar readable,
METADATA first and MANIFEST last, member list equal to the manifest), ``full`` (also
every member's size and sha256), ``subset`` (the sha256 of the members in part ``n``
of ``t``, see :func:`in_subset`) or ``restore_test`` (verify and extract in one
pass over one open fd into a scratch directory, compare with the manifest, remove it). Every mode decompresses the whole
archive (so zstd checks its frame checksum) and compares the MANIFEST's sha256 with
the sidecar. :func:`record_verification` writes
``<archive>.verified.json`` atomically.

:class:`ExtractPass` is that pass, shared with restore: members go through
``safe_extract`` (checked by ``archive_safety.Checker``, written under a directory-fd
walk, hashed as written), then the digests are compared with the MANIFEST, whose
sha256 is compared with the sidecar's. No AnsibleModule inside; Python 3.8+, standard
library only, ``zstd`` CLI.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import time

from ansible_collections.fleetops.lifecycle.plugins.module_utils.archive_safety import Checker, unsafe_members
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
    verified_path,
    write_json_atomic,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_runs import TempRun
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_scan import (
    Scan,
    manifest_problems,
    manifest_roots,
    scan_archive,
)
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import READ_FLAGS, sha256_and_size
from ansible_collections.fleetops.lifecycle.plugins.module_utils.safe_extract import (
    Budget,
    Extractor,
    Refused,
    file_mode_keep,
    space_limit,
)

MODES = ("structure", "full", "subset", "restore_test")
CONTENT_MODES = ("full", "restore_test")
_SUBSET_RE = re.compile(r"\s*([0-9]+)\s*/\s*([0-9]+)\s*\Z")


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


# --- extracting --------------------------------------------------------------------------


def open_archive(archive, sidecar):
    """An fd of ``archive`` (no symlink followed) whose size is the sidecar's; raises BackupError."""
    try:
        fd = os.open(archive, READ_FLAGS)
    except OSError as exc:
        raise BackupError("path: cannot open archive %s: %s" % (archive, exc.strerror or exc)) from exc
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode) or info.st_size != sidecar.get("size"):
        os.close(fd)
        raise BackupError("path: archive %s changed after its sidecar was read (%d bytes, the sidecar says %s)"
                          % (archive, info.st_size, sidecar.get("size")), archive=archive)
    return fd


def declared_bytes(sidecar):
    """The data bytes the sidecar declares (None when it does not)."""
    value = sidecar.get("data_bytes")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def extraction_budget(sidecar, where, max_unpacked_bytes=None):
    """The Budget of an extraction next to ``where``: refuses up front when the declared total is too much."""
    limit, why = space_limit(where, max_unpacked_bytes)
    declared = declared_bytes(sidecar)
    if declared is not None and declared > limit:
        raise Refused(None, "the archive declares %d bytes of data, more than the %d bytes allowed by %s"
                      % (declared, limit, why))
    if declared is not None:
        return Budget(declared, "the %d bytes of data the sidecar declares" % declared)
    return Budget(limit, why)


class ExtractPass(object):
    """One pass over an archive fd that verifies and extracts at once (restore and restore_test).

    ``plan(metadata)`` returns ``{root parts: staging path}`` for the roots to write; it
    is called when the first member after METADATA arrives. After :meth:`run`, the
    scan holds every digest, and ``problems`` what the MANIFEST and sidecar say.
    """

    def __init__(self, fd, sidecar, plan, budget, *, owners=False, durable=True):
        self.durable = durable
        self.fd = fd
        self.sidecar = sidecar
        self.plan = plan
        self.budget = budget
        self.owners = owners
        self.extractor = None
        self.scan = None

    def _place(self, stream, member):
        if self.extractor is None:
            self._start()
        self.extractor.add(stream, member)

    def _start(self):
        metadata = self.scan.metadata
        if metadata is None:
            raise Refused(None, "METADATA is missing or unreadable, nothing can be planned")
        try:
            roots = manifest_roots(metadata)
        except ValueError as exc:
            raise Refused(METADATA, str(exc).replace("MANIFEST", "METADATA")) from exc
        staging = self.plan(metadata)
        self.extractor = Extractor(Checker(roots, control=(MANIFEST, METADATA)), staging, budget=self.budget,
                                   owners=self.owners, fsync="filesystem" if self.durable else None)

    def run(self):
        """Read the archive once; return the problems (empty when everything matched)."""
        self.scan = Scan()
        scan_archive(self.fd, place=self._place, scan=self.scan)
        return self._problems()

    def _problems(self):
        scan = self.scan
        if self.extractor is None and not scan.problems and scan.metadata is not None:
            self._start()
        if self.extractor is not None:
            scan.digests.update(self.extractor.digests)
            scan.sizes.update(self.extractor.sizes)
            scan.bytes_hashed = sum(self.extractor.sizes.values())
        problems = scan.problems + manifest_problems(scan, self.sidecar)
        if not problems and self.extractor is not None:
            self.extractor.finish()
        return problems

    def close(self):
        if self.extractor is not None:
            self.extractor.close()


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
        text = _compare_file(path, entry, root_path, root_name)
        if text:
            problems.append(dict(member=name, problem="after extraction: " + text))
        found.discard(name)
    problems.extend(dict(member=name, problem="extracted but not in the MANIFEST") for name in sorted(found))
    return problems


def _compare_file(path, entry, root_path=None, root_name=None):
    try:
        info = os.lstat(path)
    except OSError as exc:
        return "missing (%s)" % (exc.strerror or exc)
    kind = "dir" if stat.S_ISDIR(info.st_mode) else "symlink" if stat.S_ISLNK(info.st_mode) else "file"
    wanted = entry.get("type")
    if wanted == "hardlink" and kind == "file" and root_path is not None:
        target = entry.get("linkname") or ""
        if not target.startswith(root_name + "/"):
            return "hard link to %s outside %s" % (target, root_name)
        try:
            other = os.lstat(os.path.join(root_path, target[len(root_name) + 1:]))
        except OSError as exc:
            return "hard link target %s missing (%s)" % (target, exc.strerror or exc)
        if (other.st_dev, other.st_ino) != (info.st_dev, info.st_ino):
            return "is a separate file, the MANIFEST says a hard link to %s" % target
        return None
    if kind != wanted:
        return "is a %s, the MANIFEST says %s" % (kind, wanted)
    expected_mode = _restored_mode(kind, entry.get("mode"))
    if kind != "symlink" and "%04o" % stat.S_IMODE(info.st_mode) != expected_mode:
        return "has mode %04o, the MANIFEST says %s" % (stat.S_IMODE(info.st_mode), entry.get("mode"))
    if kind == "file":
        digest, size = sha256_and_size(path)
        if size != entry.get("size") or digest != entry.get("sha256"):
            return "sha256 %s (%d bytes) differs from the MANIFEST's %s (%s bytes)" % (
                digest, size, entry.get("sha256"), entry.get("size"))
    if kind == "symlink" and os.readlink(path) != entry.get("linkname"):
        return "links to %s, the MANIFEST says %s" % (os.readlink(path), entry.get("linkname"))
    return None


def _restored_mode(kind, mode):
    """The mode restore gives a member the MANIFEST lists with ``mode`` (set-id bits of files dropped)."""
    try:
        value = int(mode, 8)
    except (TypeError, ValueError):
        return mode
    return "%04o" % (file_mode_keep(value) if kind == "file" else value)


def restore_test(fd, sidecar, scratch_parent, max_unpacked_bytes=None):
    """Extract every root into a scratch directory in the verifying pass, compare, remove it.

    ``fd`` is the archive, open once: the same bytes are verified and extracted. The
    scratch directory is a temporary file of a run (``.fleetops-tmp-<id>.restore-test``
    in ``scratch_parent``), so one left by a killed run is found as a leftover.
    Returns ``(scan, problems)``.
    """
    with TempRun(scratch_parent, "restore-test") as run:
        scratch = run.path("restore-test")
        os.mkdir(scratch, 0o700)
        planned = {}

        def plan(metadata):
            roots = manifest_roots(metadata)
            for kind in set(root[0] for root in roots):
                os.mkdir(os.path.join(scratch, kind), 0o700)
            planned.update((root, os.path.join(scratch, *root)) for root in roots)
            return dict(planned)

        extract = ExtractPass(fd, sidecar, plan, extraction_budget(sidecar, scratch_parent, max_unpacked_bytes),
                              durable=False)
        try:
            problems = extract.run()
        except Refused as exc:
            return extract.scan, [dict(member=exc.member, problem="unsafe member: " + exc.reason
                                       if exc.member else exc.reason)]
        finally:
            extract.close()
        if problems:
            return extract.scan, problems
        entries = [e for e in extract.scan.manifest.get("members", []) if isinstance(e, dict)]
        for root, path in sorted(planned.items()):
            name = "/".join(root)
            mine = dict((e["path"], e) for e in entries if e["path"] == name or e["path"].startswith(name + "/"))
            problems.extend(_tree_problems(path, name, mine))
        return extract.scan, problems


# --- one verification -----------------------------------------------------------------


def _hash_filter(mode, subset):
    if mode == "full":
        return lambda name: True
    if mode == "subset":
        part, total = subset
        return lambda name: in_subset(name, part, total)
    return lambda name: False


def _restore_test_problems(archive, sidecar, scratch_parent, max_unpacked_bytes):
    try:
        fd = open_archive(archive, sidecar)
    except BackupError as exc:
        return Scan(), [dict(member=None, problem=exc.msg)]
    try:
        scan, problems = restore_test(fd, sidecar, scratch_parent, max_unpacked_bytes)
    except Refused as exc:
        scan, problems = Scan(), [dict(member=exc.member, problem=exc.reason)]
    except (BackupError, OSError, ValueError) as exc:
        scan, problems = Scan(), [dict(member=getattr(exc, "result", {}).get("member"), problem=str(exc))]
    finally:
        os.close(fd)
    if not problems:
        problems = _safety_problems(scan)
    return scan, problems


def verify_archive(archive, mode="full", subset=None, scratch_parent=None, max_unpacked_bytes=None):
    """Verify ``archive`` in ``mode``; return the per-archive result (never raises for bad content)."""
    clock = time.monotonic()
    result = dict(archive=archive, mode=mode, subset="%d/%d" % subset if subset else None, ok=False,
                  problems=[], members=0, checked_members=0, checked_bytes=0)
    sidecar, reason = load_sidecar(archive)
    if sidecar is None:
        result["problems"].append(dict(member=None, problem="incomplete archive: %s" % reason))
        return _done(result, clock)
    if mode == "restore_test":
        scan, problems = _restore_test_problems(archive, sidecar, scratch_parent, max_unpacked_bytes)
    else:
        scan = scan_archive(archive, _hash_filter(mode, subset))
        problems = scan.problems + manifest_problems(scan, sidecar)
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
