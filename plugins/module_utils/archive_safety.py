# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which members of an archive must not be extracted, and why (backups and releases).

Every member lies under one *root*: for a backup archive the archive path of a
backed-up path, ``<kind>/<name>`` (e.g. ``state/demo``), extracted into its own
destination; for a release the whole archive (root ``()``). A member is refused when
its path is absolute or contains ``..``, when it lies under no root, when it goes
through a symbolic link or a non-directory, when it is a duplicate, when it is a
symbolic link that is absolute or that -- resolved component by component against
the links the archive made before it, and again against the finished tree -- leads
out of its root or loops, a hard link to anything but a regular file earlier in the
archive under the same root, or a device node, FIFO or other special file.

:class:`Checker` decides member by member (the extractor in ``safe_extract`` asks it
before it writes anything) and :meth:`Checker.finish` re-resolves every link once
the tree is complete, so no later member can turn an accepted link into an escape.

Pure functions over tar headers (anything with ``name``, ``type`` and ``linkname``);
Python 3.8+, standard library only.
"""

from __future__ import annotations

import tarfile

from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_tarstream import member_kind

MAX_LINK_HOPS = 40


def member_parts(name):
    """``(parts, problem)``: the path components of a member name, or why it is refused."""
    if not isinstance(name, str) or not name:
        return None, "empty member name"
    if name.startswith("/"):
        return None, "absolute path"
    parts = tuple(part for part in name.split("/") if part not in ("", "."))
    if ".." in parts:
        return None, "path contains '..'"
    return parts, None


def resolve_link(root, link_parts, target, links):
    """Where the symlink at ``link_parts`` leads, as parts, or None when it leaves ``root`` or loops.

    Each component is looked up in ``links`` (``{parts: target}`` of the symlinks the
    archive holds) and followed like the kernel would: ``..`` after a followed link
    goes up from where the link led, not from its text.
    """
    if not target or target.startswith("/"):
        return None
    path = list(link_parts[:-1])
    pending = list(reversed(target.split("/")))
    hops = 0
    while pending:
        part = pending.pop()
        if part in ("", "."):
            continue
        if part == "..":
            if len(path) <= len(root):
                return None
            path.pop()
            continue
        path.append(part)
        link = links.get(tuple(path))
        if link is None:
            continue
        hops += 1
        if hops > MAX_LINK_HOPS or not link or link.startswith("/"):
            return None
        path.pop()
        pending.extend(reversed(link.split("/")))
    return tuple(path)


def _special_reason(tartype):
    if tartype in (tarfile.CHRTYPE, tarfile.BLKTYPE):
        return "device node"
    if tartype == tarfile.FIFOTYPE:
        return "FIFO"
    return "unsupported member type %r" % (tartype,)


class Checker(object):
    """Decides, member by member, whether a member may be extracted.

    ``roots`` maps each root (a tuple of path components such as ``("state", "demo")``,
    or ``()`` for a whole-archive root) to the type it has (``dir`` or ``file``).
    ``control`` names top-level regular files allowed outside the roots (``METADATA``,
    ``MANIFEST``); ``reserved`` maps top-level names no member may take to what they
    are for. ``label``
    names a root's destination in messages (default ``its destination <root>``).
    ``repeat_dirs`` accepts a directory member repeated (tar does that for ``./``);
    ``implied_parents`` accepts a member whose parent directories have no member of
    their own (tar accepts that; a backup archive always lists them first).
    """

    def __init__(self, roots, control=(), *, reserved=None, label=None, repeat_dirs=False, implied_parents=False):
        self.roots = dict((tuple(root), kind) for root, kind in dict(roots).items())
        self.control = tuple(control)
        self.reserved = dict(reserved or {})
        self.label = label
        self.repeat_dirs = repeat_dirs
        self.implied_parents = implied_parents
        self.seen = {}
        self.links = {}
        self.names = {}
        self.implied = set()

    def where(self, root):
        return self.label or "its destination %s" % "/".join(root)

    def root_of(self, parts):
        best = None
        for root in self.roots:
            if parts[:len(root)] == root and (best is None or len(root) > len(best)):
                best = root
        return best

    def check(self, member):
        """``(parts, problem)``; a member without a problem is recorded as part of the tree."""
        parts, problem = member_parts(member.name)
        if problem is None:
            problem = self._problem(member, parts)
        if problem is None:
            kind = member_kind(member.type)
            root = self.root_of(parts)
            for index in range(len(root) + 1 if root is not None else len(parts), len(parts)):
                if parts[:index] not in self.seen:
                    self.seen[parts[:index]] = "dir"
                    self.implied.add(parts[:index])
            self.implied.discard(parts)
            self.seen[parts] = "file" if kind == "hardlink" else kind
            if kind == "symlink":
                self.links[parts] = member.linkname
                self.names[parts] = member.name
        return parts, problem

    def _problem(self, member, parts):
        kind = member_kind(member.type)
        if len(parts) == 1 and parts[0] in self.control:
            return None if kind == "file" and parts not in self.seen else \
                "reserved name %s must be one regular file" % parts[0]
        if len(parts) == 1 and parts[0] in self.reserved:
            return "%s is reserved for %s" % (parts[0], self.reserved[parts[0]])
        root = self.root_of(parts)
        if root is None:
            return "not under any backed-up path of the MANIFEST (%s)" % ", ".join(
                "/".join(r) for r in sorted(self.roots))
        if kind == "special":
            return _special_reason(member.type)
        for index in range(len(root), len(parts)):
            parent = parts[:index]
            if parent not in self.seen and not self.implied_parents and parent:
                return "parent %s is not in the archive before it" % "/".join(parent)
            if self.seen.get(parent, "dir") != "dir":
                return "parent %s is a %s, not a directory" % ("/".join(parent), self.seen[parent])
        if parts in self.seen:
            if kind == "dir" and (parts in self.implied or self.repeat_dirs and self.seen[parts] == "dir"):
                return None
            return "duplicate member (the path is already in the archive)"
        if parts == root and kind != self.roots[root]:
            if not root:
                return "the archive root entry is a %s, not a directory" % kind
            return "the backed-up path is a %s in the MANIFEST but a %s here" % (self.roots[root], kind)
        if kind == "symlink":
            return self._symlink_problem(root, parts, member.linkname or "")
        if kind == "hardlink":
            return self._hardlink_problem(root, member.linkname or "")
        return None

    def _symlink_problem(self, root, parts, target):
        if not target:
            return "symbolic link with an empty target"
        if target.startswith("/"):
            return "symbolic link to the absolute path %s" % target
        if parts == root:
            return "the backed-up path itself is a symbolic link"
        if resolve_link(root, parts, target, self.links) is None:
            return "symbolic link to %s escapes %s" % (
                target, self.where(root))
        return None

    def _hardlink_problem(self, root, target):
        target_parts, problem = member_parts(target)
        if problem:
            return "hard link to %s outside %s (%s)" % (target, self.where(root), problem)
        if self.root_of(target_parts) != root:
            return "hard link to %s escapes %s" % (target, self.where(root))
        if self.seen.get(target_parts) != "file":
            return "hard link to %s, which is not a regular file earlier in the archive" % target
        return None

    def finish(self):
        """``[(name, problem)]`` for links that the finished tree makes leave their root."""
        problems = []
        for parts, target in self.links.items():
            root = self.root_of(parts)
            if resolve_link(root, parts, target, self.links) is None:
                problems.append((self.names[parts], "symbolic link to %s escapes %s (resolved against the "
                                 "whole archive)" % (target, self.where(root))))
        return problems


def unsafe_members(members, roots, control=(), **options):
    """Members that must not be extracted, as ``[(name, reason), ...]`` in archive order.

    See :class:`Checker` for ``roots``, ``control`` and ``options``. An empty list
    means every member is safe.
    """
    checker = Checker(roots, control, **options)
    problems = []
    for member in members:
        _parts, problem = checker.check(member)
        if problem:
            problems.append((member.name, problem))
    reported = set(name for name, _problem in problems)
    problems.extend(item for item in checker.finish() if item[0] not in reported)
    return problems
