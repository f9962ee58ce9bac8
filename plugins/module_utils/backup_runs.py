# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The temporary files of backup, verify and restore runs in an archive directory.

Every run that writes into the archive directory first creates and ``flock``\\ s
``.fleetops-tmp-<id>.lock`` and names all its temporary files ``.fleetops-tmp-<id>.*``;
the lock is removed last. A lock that can be taken belongs to a dead run (the kernel
drops ``flock`` locks when a process dies, even by SIGKILL), so :func:`find_leftovers`
can tell leftovers of killed runs from files of a run in progress.

This file runs on managed hosts: Python 3.8+, standard library only.
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import time

from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_archive import load_sidecar, sidecar_path
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import (
    CLOEXEC,
    NOFOLLOW,
    READ_FLAGS,
    fsync_dir,
    remove_path,
    unlink_quietly,
    write_all,
)

TEMP_PREFIX = ".fleetops-tmp-"
# A lock file whose content cannot be read yet belongs to a run that is still starting.
LOCK_GRACE = 60

_TEMP_RE = re.compile(r"\.fleetops-tmp-([0-9a-f]{16})\.(.+)\Z")



class TempRun(object):
    """The temporary files of one run in ``directory``, guarded by a flocked lock file.

    ``target`` (the final archive name, if any) is written into the lock, so the
    leftovers of a run killed after renaming its archive but before writing its
    sidecar can be found and removed too.
    """

    def __init__(self, directory, purpose, target=None):
        self.directory = directory
        self.id = os.urandom(8).hex()
        self.lock_path = self.path("lock")
        info = json.dumps(dict(pid=os.getpid(), purpose=purpose, target=target, started=time.time())).encode("utf-8")
        self._fd = _create_lock(directory, self.lock_path, info)

    def path(self, suffix):
        return os.path.join(self.directory, "%s%s.%s" % (TEMP_PREFIX, self.id, suffix))

    def close(self):
        """Remove every temporary file of this run, then the lock."""
        if self._fd is None:
            return
        prefix = "%s%s." % (TEMP_PREFIX, self.id)
        for name in os.listdir(self.directory):
            if name.startswith(prefix) and name != os.path.basename(self.lock_path):
                remove_path(os.path.join(self.directory, name))
        unlink_quietly(self.lock_path)
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _create_lock(directory, lock_path, info):
    """The flocked fd of a new lock file at ``lock_path`` holding ``info``.

    The file is made unnamed (O_TMPFILE), locked and filled, then linked into place,
    so no other run ever sees it unlocked or empty, even when this one is killed in
    between. Where the filesystem (or a missing /proc) does not allow that, it is
    created in place, locked and filled; a prober gives such a lock, while it is
    still empty, LOCK_GRACE seconds.
    """
    fd = _unnamed_lock(directory, lock_path, info)
    if fd is not None:
        return fd
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL | NOFOLLOW | CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        write_all(fd, info)
    except BaseException:
        os.close(fd)
        raise
    return fd


_NO_UNNAMED_FILES = (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL)


def _unnamed_lock(directory, lock_path, info):
    """The lock made unnamed, locked, filled and linked at ``lock_path``; None when this
    system cannot (then nothing was created). The directory is opened once, as the
    in-place lock's open would (it may be a link), and both steps go through it."""
    if not hasattr(os, "O_TMPFILE"):
        return None
    dir_fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | CLOEXEC)
    try:
        try:
            fd = os.open(".", os.O_TMPFILE | os.O_RDWR | CLOEXEC, 0o600, dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno in _NO_UNNAMED_FILES:
                return None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            write_all(fd, info)
            # With a dir_fd this is linkat(AT_SYMLINK_FOLLOW), which links the unnamed
            # file the /proc link points to; it never replaces a file of that name.
            os.link("/proc/self/fd/%d" % fd, os.path.basename(lock_path), dst_dir_fd=dir_fd)
        except FileNotFoundError:
            os.close(fd)
            if not os.path.isdir("/proc/self/fd"):
                return None
            raise
        except BaseException:
            os.close(fd)
            raise
        return fd
    finally:
        os.close(dir_fd)


def _group_temp_entries(directory):
    groups = {}
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return groups
    for name in sorted(names):
        match = _TEMP_RE.match(name)
        if match:
            groups.setdefault(match.group(1), []).append((match.group(2), os.path.join(directory, name)))
    return groups


def _newest_mtime(paths):
    newest = 0.0
    for path in paths:
        try:
            newest = max(newest, os.lstat(path).st_mtime)
        except OSError:
            pass
    return newest


def _probe_lock(lock_path, now):
    """``(fd or None, info)``: fd holds the flock of a dead run; None means the run is alive."""
    try:
        fd = os.open(lock_path, READ_FLAGS)
    except FileNotFoundError:
        return None, None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
            return None, None
        raise
    try:
        info = json.loads(os.read(fd, 65536).decode("utf-8"))
    except ValueError:
        info = None
    if not isinstance(info, dict) and now - os.fstat(fd).st_mtime < LOCK_GRACE:
        os.close(fd)  # a run between creating and filling its lock
        return None, None
    return fd, info if isinstance(info, dict) else {}


def find_leftovers(directory, min_age=0, now=None, remove=False):
    """Temporary files of dead runs in ``directory`` (and, with ``remove``, delete them).

    Returns ``(leftovers, in_use)``: ``leftovers`` is a list of ``{"path", "reason"}``
    (every temporary file of a dead run whose newest file is at least ``min_age``
    seconds old, plus the archive a dead run renamed into place without a sidecar);
    ``in_use`` lists the lock files of runs still alive.
    """
    now = time.time() if now is None else now
    leftovers, in_use = [], []
    for run_id, entries in sorted(_group_temp_entries(directory).items()):
        paths = dict(entries)
        lock = paths.get("lock")
        fd, info = (None, {}) if lock is None else _probe_lock(lock, now)
        if lock is not None and fd is None:
            in_use.append(lock)
            continue
        try:
            if now - _newest_mtime(paths.values()) < min_age:
                continue
            found = _dead_run_files(directory, run_id, entries, info or {})
            if remove:
                for item in found:
                    remove_path(item["path"])
                fsync_dir(directory)
            leftovers.extend(found)
        finally:
            if fd is not None:
                os.close(fd)
    return leftovers, in_use


def _dead_run_files(directory, run_id, entries, info):
    reason = "left by an interrupted run %s (pid %s, %s)" % (run_id, info.get("pid", "?"), info.get("purpose", "?"))
    found = []
    target = info.get("target")
    if isinstance(target, str) and target and "/" not in target and not target.startswith("."):
        archive = os.path.join(directory, target)
        if os.path.lexists(archive) and load_sidecar(archive)[0] is None:
            found.append(dict(path=archive, reason="archive without a complete sidecar, " + reason))
            found.append(dict(path=sidecar_path(archive), reason="partial sidecar, " + reason))
            found = [item for item in found if os.path.lexists(item["path"])]
    # The lock goes last, so an interrupted cleanup is found again.
    ordered = sorted(entries, key=lambda entry: entry[0] == "lock")
    found.extend(dict(path=path, reason=reason) for _suffix, path in ordered)
    return found
