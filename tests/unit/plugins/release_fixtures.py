# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Release tarballs and directory listings for the tests of module_utils.release and
the release module: real tarballs on disk, no mocks."""

from __future__ import annotations

import io
import os
import stat
import tarfile

from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import sha256_file


def member(name, kind=tarfile.REGTYPE, data=b"", linkname="", mode=0o644):
    """A ``(TarInfo, data)`` pair for :func:`make_tarball`, with a fixed mtime."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.mode = mode
    info.linkname = linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mtime = 1700000000
    return info, data


def make_tarball(path, members):
    """Write a .tar.gz of ``(TarInfo, data)`` pairs; return its sha256."""
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return sha256_file(path)


def tree(path):
    """Everything under ``path`` with type, mode, size, link target and mtime."""
    listing = {}
    for directory, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(directory, name)
            info = os.lstat(full)
            link = os.readlink(full) if stat.S_ISLNK(info.st_mode) else None
            listing[os.path.relpath(full, path)] = (
                stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), info.st_size, link,
                info.st_mtime_ns,
            )
    return listing
