# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pieces shared by the module_utils that manage files on a host (backup, restore,
release, ledger, lock, triage).

:class:`ResultError` is the error they raise for a refusal or failure, which the
modules report with ``fail_json(msg=exc.msg, **exc.result)``. The open flags never
follow a symbolic link at the last component (``O_NOFOLLOW``: a link planted where a
file is expected fails with ELOOP) and are never inherited by a command the module runs
(``O_CLOEXEC``). :func:`fsync_dir` makes a new, renamed or removed directory entry
durable. This file runs on managed hosts (the backup timers get a copy of it), so it
stays compatible with Python 3.8 and uses the standard library only.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat

NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
CLOEXEC = getattr(os, "O_CLOEXEC", 0)
DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# Reading a file that must not be a link; creating a file that must not exist yet.
READ_FLAGS = os.O_RDONLY | NOFOLLOW | CLOEXEC
CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | CLOEXEC
# Opening a directory (for a dir_fd walk) that must not be a link.
DIR_FLAGS = os.O_RDONLY | DIRECTORY | NOFOLLOW | CLOEXEC

CHUNK = 1 << 20


class ResultError(Exception):
    """A refusal or failure to report with fail_json: a message plus result keys."""

    def __init__(self, msg, **result):
        super().__init__(msg)
        self.msg = msg
        self.result = result


def fsync_dir(path):
    """Flush the directory ``path`` to disk, so entries made, renamed or removed in it last.

    Opened with ``O_DIRECTORY`` where the platform has it, so a path that is not a
    directory raises OSError (ENOTDIR) instead of flushing some file.
    """
    fd = os.open(path, os.O_RDONLY | DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_all(fd, data):
    """Write every byte of ``data`` to ``fd`` (os.write may write fewer)."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def replace_atomic(path, data, temp_path, mode):
    """Replace ``path`` with ``data`` (bytes): write ``temp_path`` (created new, never
    through a symlink), fsync, rename over ``path``, fsync the directory. A failure leaves
    ``path`` as it was and no temp file behind."""
    fd = os.open(temp_path, CREATE_FLAGS, mode)
    try:
        try:
            write_all(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp_path, path)
    except BaseException:
        unlink_quietly(temp_path)
        raise
    fsync_dir(os.path.dirname(path) or ".")


def sha256_and_size(path):
    """``(sha256 hex, size)`` of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    size = 0
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    with open(path, "rb", buffering=0) as handle:
        while True:
            count = handle.readinto(buf)
            if not count:
                return digest.hexdigest(), size
            digest.update(view[:count])
            size += count


def sha256_file(path):
    """The sha256 hex digest of the file at ``path``."""
    return sha256_and_size(path)[0]


def unlink_quietly(path):
    """Remove the file ``path`` if it is there; any error is ignored (a cleanup step)."""
    try:
        os.unlink(path)
    except OSError:
        pass


def remove_path(path):
    """Remove a file, symlink or directory tree; a missing path is fine. A symlink is
    removed itself, never what it points to."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)
