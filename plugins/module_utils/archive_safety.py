# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which members of a backup archive must not be extracted, and why.

Every member of a backup archive lies under one *root*: the archive path of a
backed-up path, ``<kind>/<name>`` (e.g. ``state/demo``), which is extracted into its
own destination. A member is refused when its path is absolute or contains ``..``,
when it lies under no root of the MANIFEST, when it goes through a symbolic link or
a non-directory, when it is a duplicate, when it is a symbolic link that is absolute
or leads out of its root, a hard link to anything but a regular file earlier in the
archive under the same root, or a device node, FIFO or other special file.

Pure functions over tar headers (anything with ``name``, ``type`` and ``linkname``);
Python 3.8+, standard library only.
"""

from __future__ import annotations

import tarfile

from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_tarstream import member_kind


def member_parts(name):
    """``(parts, problem)``: the path components of a member name, or why it is refused."""
    if not isinstance(name, str) or not name:
        return None, "empty member name"
    if name.startswith("/"):
        return None, "absolute path"
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        return None, "path contains '..'"
    if not parts:
        return None, "member name names no file"
    return parts, None


def _root_of(parts, roots):
    for root in roots:
        if parts[:len(root)] == root:
            return root
    return None


def _resolve_link(root, parts, target):
    """The parts a relative symlink at ``parts`` points to, or None when it leaves ``root``."""
    resolved = list(parts[:-1])
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if len(resolved) <= len(root):
                return None
            resolved.pop()
        else:
            resolved.append(part)
    return tuple(resolved)


def _special_reason(tartype):
    if tartype in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        return "device node"
    if tartype == tarfile.FIFOTYPE:
        return "FIFO"
    return "unsupported member type %r" % (tartype,)


def _link_problem(member, kind, parts, root, seen):
    target = member.linkname or ""
    if kind == "symlink":
        if target.startswith("/"):
            return "symbolic link to the absolute path %s" % target
        if not target or _resolve_link(root, parts, target) is None:
            return "symbolic link to %s escapes its destination %s" % (target, "/".join(root))
        return None
    target_parts, problem = member_parts(target)
    if problem:
        return "hard link to %s outside its destination (%s)" % (target, problem)
    if _root_of(target_parts, [root]) is None:
        return "hard link to %s escapes its destination %s" % (target, "/".join(root))
    if seen.get(target_parts) != "file":
        return "hard link to %s, which is not a regular file earlier in the archive" % target
    return None


def _member_problem(member, parts, roots, seen, control):
    kind = member_kind(member.type)
    if len(parts) == 1 and parts[0] in control:
        return None if kind == "file" and parts not in seen else "reserved name %s must be one regular file" % parts[0]
    root = _root_of(parts, roots)
    if root is None:
        return "not under any backed-up path of the MANIFEST (%s)" % ", ".join("/".join(r) for r in roots)
    if kind == "special":
        return _special_reason(member.type)
    for index in range(len(root), len(parts)):
        parent = parts[:index]
        if seen.get(parent, "dir") != "dir":
            return "parent %s is a %s, not a directory" % ("/".join(parent), seen[parent])
    if parts in seen:
        return "duplicate member (the path is already in the archive)"
    if parts == root and kind not in (roots[root],):
        return "the backed-up path is a %s in the MANIFEST but a %s here" % (roots[root], kind)
    if kind in ("symlink", "hardlink"):
        return _link_problem(member, kind, parts, root, seen)
    return None


def unsafe_members(members, roots, control=()):
    """Members that must not be extracted, as ``[(name, reason), ...]`` in archive order.

    ``roots`` maps each root (a tuple of path components such as ``("state", "demo")``)
    to the type it has in the MANIFEST (``dir`` or ``file``). ``control`` names
    top-level regular files that are allowed outside the roots (``METADATA``,
    ``MANIFEST``). An empty list means every member is safe.
    """
    roots = dict((tuple(root), kind) for root, kind in dict(roots).items())
    problems = []
    seen = {}
    for member in members:
        parts, problem = member_parts(member.name)
        if problem is None:
            problem = _member_problem(member, parts, roots, seen, control)
        if problem:
            problems.append((member.name, problem))
            continue
        kind = member_kind(member.type)
        seen[parts] = "file" if kind == "hardlink" else kind
    return problems
