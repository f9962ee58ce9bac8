# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one extraction path of the collection: restore, ``restore_test`` and ``release``.

:class:`Extractor` writes the members of a tar stream (``backup_tarstream.TarStream``)
into staging paths, member by member, as the stream is read:

- every member is first accepted by an ``archive_safety.Checker`` (no ``..``, no
  absolute name, no path through a link, links resolved against the links before
  them, hard links only to regular files already extracted under the same root);
- every path is reached by a directory file-descriptor walk: each component is
  opened with ``O_NOFOLLOW | O_DIRECTORY`` relative to the one before (``dir_fd=``),
  so a symbolic link is created but never followed, whatever the checker missed;
- files are created with ``O_CREAT | O_EXCL | O_NOFOLLOW``, hashed (sha256) while
  they are written, and their size is charged to a :class:`Budget` (free space
  minus a margin, an optional ``max_unpacked_bytes``, the total the archive
  declared) before a byte is written;
- :meth:`Extractor.finish` gives directories their modes last and re-resolves every
  link against the finished tree.

The caller compares the digests with its MANIFEST or checksum and swaps the staging
paths in only when everything matched. ``dry`` runs every check without writing.

No AnsibleModule inside; Python 3.8+, standard library only.
"""

from __future__ import annotations

import errno
import grp
import hashlib
import os
import pwd
import stat

from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_tarstream import member_kind
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import CREATE_FLAGS, DIR_FLAGS, write_all

FREE_MARGIN = 0.05
"""Part of the filesystem kept free (besides :data:`FREE_MARGIN_MIN`) after an extraction."""
FREE_MARGIN_MIN = 64 << 20


try:
    import ctypes
except ImportError:  # a Python built without ctypes: os.sync() instead of syncfs()
    ctypes = None


def sync_filesystem(fd):
    """Make everything written on the filesystem of ``fd`` durable: syncfs(2), else sync(2).

    One call at the end of an extraction costs one journal commit where an fsync per
    file costs one each (the difference between tar's ``-xf && sync`` and a loop of fsyncs).
    """
    func = None
    if ctypes is not None:
        try:
            func = ctypes.CDLL(None, use_errno=True).syncfs
        except (OSError, AttributeError):
            func = None
    if func is not None and func(fd) == 0:
        return
    os.sync()


class Refused(ValueError):
    """A member (or the archive as a whole) is refused; ``member`` names it (or None)."""

    def __init__(self, member, reason):
        ValueError.__init__(self, "%s (%s)" % (member, reason) if member else reason)
        self.member = member
        self.reason = reason


def free_bytes(path):
    """Bytes an unprivileged user may still write on the filesystem of ``path``."""
    info = os.statvfs(path)
    return info.f_bavail * info.f_frsize


def space_limit(path, max_unpacked_bytes=None):
    """``(limit, why)``: how much may be unpacked next to ``path``, and what sets it."""
    info = os.statvfs(path)
    margin = max(FREE_MARGIN_MIN, int(info.f_blocks * info.f_frsize * FREE_MARGIN))
    free = info.f_bavail * info.f_frsize - margin
    limit, why = max(free, 0), "the free space on %s less a margin of %d bytes" % (path, margin)
    if max_unpacked_bytes is not None and max_unpacked_bytes < limit:
        limit, why = max_unpacked_bytes, "max_unpacked_bytes=%d" % max_unpacked_bytes
    return limit, why


class Budget(object):
    """The bytes an extraction may still write; :meth:`charge` refuses before a member is written."""

    def __init__(self, limit=None, why="the limit"):
        self.limit = limit
        self.why = why
        self.used = 0

    def charge(self, name, size):
        if self.limit is not None and self.used + size > self.limit:
            raise Refused(name, "declares %d bytes; with the %d bytes before it that is more than the %d "
                          "bytes allowed by %s" % (size, self.used, self.limit, self.why))
        self.used += size


def file_mode_keep(mode):
    """Restore's file mode: everything but the set-user-ID and set-group-ID bits."""
    return mode & 0o1777


def dir_mode_keep(mode):
    """Restore's directory mode: everything, set-group-ID and sticky included."""
    return mode & 0o7777


def owner_ids(member):
    """The uid/gid for a member: by name when this host knows the name, else by number."""
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


class _Root(object):
    """One staging root: the directory it lives in (an open fd) and its name there."""

    def __init__(self, path, exists):
        self.path = path
        parent, self.name = os.path.split(path)
        self.parent_fd = os.open(parent or ".", DIR_FLAGS)
        self.exists = exists


class Extractor(object):
    """Extract checked members under staging roots through a directory-fd walk.

    ``staging`` maps a root (tuple of parts, as in the checker) to the path it is
    extracted to: that path must not exist (unless ``exists``: then it is an empty
    directory made by the caller) and its parent must. ``file_mode``/``dir_mode``
    map a member's mode to the one written. ``owners`` sets owners (root only).
    ``fsync``: ``"filesystem"`` (default) makes everything durable with one syncfs(2)
    per staging filesystem in :meth:`finish`, ``"each"`` fsyncs every file and
    directory, ``None`` leaves it to the caller.
    """

    def __init__(self, checker, staging, *, budget=None, owners=False, file_mode=file_mode_keep,
                 dir_mode=dir_mode_keep, exists=False, dry=False, fsync="filesystem"):
        self.checker = checker
        self.budget = budget or Budget()
        self.owners = owners
        self.file_mode = file_mode
        self.dir_mode = dir_mode
        self.dry = dry
        self.fsync = fsync
        self.digests = {}
        self.sizes = {}
        self.written = []
        self.dropped_bits = []
        self._dirs = []
        self._roots = {}
        self._cache = (None, None)
        if not dry:
            for root, path in staging.items():
                self._roots[tuple(root)] = _Root(path, exists)
        self._staging = dict((tuple(root), path) for root, path in staging.items())

    # -- the walk ------------------------------------------------------------------

    def _open_dir(self, root, rel):
        """An fd of the directory ``rel`` under ``root`` (caller closes), never through a link."""
        state = self._roots[root]
        fd = os.open(state.name, DIR_FLAGS, dir_fd=state.parent_fd)
        try:
            for part in rel:
                try:
                    next_fd = os.open(part, DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    # A parent the archive implies without a member of its own.
                    os.mkdir(part, 0o755, dir_fd=fd)
                    next_fd = os.open(part, DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = next_fd
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                raise Refused("/".join(root + tuple(rel)), "not a directory in the extracted tree "
                              "(a symbolic link or file is in the way)") from exc
            raise
        return fd

    def _drop_cache(self):
        key, fd = self._cache
        if key is not None:
            os.close(fd)
        self._cache = (None, None)

    def _where(self, root, rel):
        """``(dir fd, name)`` of the member at ``rel`` under ``root`` (the fd stays cached)."""
        if not rel:
            return self._roots[root].parent_fd, self._roots[root].name
        key = (root, tuple(rel[:-1]))
        if self._cache[0] != key:
            self._drop_cache()
            self._cache = (key, self._open_dir(root, rel[:-1]))
        return self._cache[1], rel[-1]

    # -- members -------------------------------------------------------------------

    def add(self, stream, member):
        """Check ``member`` and write it (its data read from ``stream``); raises Refused."""
        parts, problem = self.checker.check(member)
        if problem:
            raise Refused(member.name, problem)
        root = self.checker.root_of(parts)
        kind = member_kind(member.type)
        if root not in self._staging:
            if kind == "file":
                self._hash_only(stream, member)
            return
        if kind == "file":
            self.budget.charge(member.name, member.size)
        if self.dry:
            if kind == "file":
                self._hash_only(stream, member)
            return
        rel = parts[len(root):]
        if kind == "dir" and not rel and self._roots[root].exists:
            self._dirs.append((root, rel, member))
            return
        dir_fd, name = self._where(root, rel)
        if kind == "dir":
            try:
                os.mkdir(name, 0o700, dir_fd=dir_fd)
            except FileExistsError:
                if not stat.S_ISDIR(os.stat(name, dir_fd=dir_fd, follow_symlinks=False).st_mode):
                    raise
            self._dirs.append((root, rel, member))
        elif kind == "file":
            self._write_file(stream, member, dir_fd, name)
        elif kind == "symlink":
            os.symlink(member.linkname, name, dir_fd=dir_fd)
            self._finish_link(member, dir_fd, name)
        elif kind == "hardlink":
            self._hard_link(member, root, dir_fd, name)
        self.written.append(member.name)

    def _hash_only(self, stream, member):
        self.digests[member.name], self.sizes[member.name] = stream.data_digest()

    def _write_file(self, stream, member, dir_fd, name):
        fd = os.open(name, CREATE_FLAGS, 0o600, dir_fd=dir_fd)
        digest = hashlib.sha256()
        count = [0]

        def sink(chunk):
            digest.update(chunk)
            write_all(fd, chunk)
            count[0] += len(chunk)

        try:
            stream.read_data(sink)
            if self.owners:
                os.fchown(fd, *owner_ids(member))
            mode = self.file_mode(member.mode)
            if member.mode & 0o6000 and mode & 0o6000 != member.mode & 0o6000:
                self.dropped_bits.append(dict(member=member.name, mode="%04o" % member.mode,
                                              restored="%04o" % mode))
            os.fchmod(fd, mode)
            _set_times(member, fd=fd)
            if self.fsync == "each":
                os.fsync(fd)
        finally:
            os.close(fd)
        self.digests[member.name] = digest.hexdigest()
        self.sizes[member.name] = count[0]

    def _finish_link(self, member, dir_fd, name):
        if self.owners:
            os.chown(name, *owner_ids(member), dir_fd=dir_fd, follow_symlinks=False)
        _set_times(member, name=name, dir_fd=dir_fd)

    def _hard_link(self, member, root, dir_fd, name):
        target = self.checker.root_of(tuple(p for p in member.linkname.split("/") if p not in ("", ".")))
        parts = tuple(p for p in member.linkname.split("/") if p not in ("", "."))[len(target):]
        if not parts:
            raise Refused(member.name, "hard link to the backed-up path itself")
        source_fd = self._open_dir(root, parts[:-1])
        try:
            os.link(parts[-1], name, src_dir_fd=source_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
        finally:
            os.close(source_fd)

    def finish(self):
        """Give directories their modes (deepest first), fsync them, re-check every link.

        Raises Refused when the finished tree makes a link leave its root.
        """
        problems = self.checker.finish()
        if problems:
            raise Refused(problems[0][0], problems[0][1])
        if self.dry:
            return
        self._drop_cache()
        for root, rel, member in reversed(self._dirs):
            fd = self._open_dir(root, rel)
            try:
                if self.owners:
                    os.fchown(fd, *owner_ids(member))
                os.fchmod(fd, self.dir_mode(member.mode))
                _set_times(member, fd=fd)
                if self.fsync == "each":
                    os.fsync(fd)
            finally:
                os.close(fd)
        for state in self._roots.values():
            if self.fsync == "each":
                os.fsync(state.parent_fd)
            elif self.fsync:
                sync_filesystem(state.parent_fd)

    def close(self):
        self._drop_cache()
        for state in self._roots.values():
            os.close(state.parent_fd)
        self._roots = {}

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _set_times(member, fd=None, name=None, dir_fd=None):
    try:
        if fd is not None:
            os.utime(fd, (member.mtime, member.mtime))
        else:
            os.utime(name, (member.mtime, member.mtime), dir_fd=dir_fd, follow_symlinks=False)
    except (OSError, NotImplementedError, OverflowError, ValueError, TypeError):
        pass
