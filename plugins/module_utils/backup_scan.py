# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One pass over a backup archive, and what it saw compared with the MANIFEST and sidecar.

:func:`scan_archive` reads an archive (a path or an open fd) once through ``zstd -dc``,
hashing the members asked for or handing each to an extractor (``place``);
:func:`manifest_problems` compares what it saw with the MANIFEST (type, mode, size,
sha256, link target, order), the MANIFEST with the sidecar's ``manifest_sha256`` and
its paths with METADATA's. Used by ``backup_verify`` and ``restore``. No AnsibleModule
inside; Python 3.8+, standard library only, ``zstd`` CLI.
"""

from __future__ import annotations

import hashlib
import json
import os
import re

from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_archive import FORMAT, MANIFEST, METADATA
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_tarstream import ArchiveReader, member_kind
from ansible_collections.fleetops.lifecycle.plugins.module_utils.safe_extract import Refused

_CONTROL_LIMIT = 256 << 20
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*\Z")


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
    scan.digests[member.name], size = stream.data_digest()
    scan.sizes[member.name] = size
    scan.bytes_hashed += size


def _scan_member(stream, member, scan, position, hash_filter, *, place=None):
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
    if place is not None:
        place(stream, member)
    elif member_kind(member.type) == "file" and hash_filter(member.name):
        _hash_member(stream, member, scan)


def scan_archive(archive, hash_filter=lambda name: False, place=None, scan=None):
    """Read ``archive`` (a path or an open fd) once; hash the regular members ``hash_filter`` accepts.

    With ``place``, every member but METADATA and MANIFEST goes to ``place(stream,
    member)`` instead (the extractor of restore and restore_test); a
    ``safe_extract.Refused`` it raises stops the pass and is raised to the caller.
    """
    scan = Scan() if scan is None else scan
    try:
        with ArchiveReader(archive) as stream:
            for position, member in enumerate(stream):
                _scan_member(stream, member, scan, position, hash_filter, place=place)
    except Refused:
        raise
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
        if (item["kind"], item["name"]) in roots:
            raise ValueError("MANIFEST names the backed-up path %s twice" % item["root"])
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
    if kind in ("symlink", "hardlink") and entry.get("linkname") != member.linkname:
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
    if scan.metadata is not None and manifest.get("paths") != scan.metadata.get("paths"):
        problems.append(dict(member=MANIFEST, problem="paths differ from the paths of METADATA"))
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
