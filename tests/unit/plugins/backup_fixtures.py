# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Service trees, archives and crafted archives for the backup/restore tests: real files,
real zstd, no mocks."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import stat
import subprocess
import tarfile

from ansible_collections.fleetops.lifecycle.plugins.module_utils import backup
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_archive import FORMAT, sidecar_path
from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_tarstream import member_kind
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import sha256_file


class Service(object):
    """A demo-like service under a temporary directory: /etc/demo and /var/lib/demo."""

    def __init__(self, base, state_bytes=200000, seed=1):
        self.base = str(base)
        self.config = os.path.join(self.base, "etc", "demo")
        self.state = os.path.join(self.base, "var", "lib", "demo")
        self.dest = os.path.join(self.base, "backups")
        rng = random.Random(seed)
        os.makedirs(os.path.join(self.config, "conf.d"))
        os.makedirs(self.state)
        self.write(os.path.join(self.config, "demo.ini"), b"[state]\ndir = %s\n" % self.state.encode(), 0o640)
        self.write(os.path.join(self.config, "conf.d", "extra.ini"), b"[log]\nlevel = info\n")
        os.symlink("demo.ini", os.path.join(self.config, "current.ini"))
        state_db = rng.getrandbits(8 * state_bytes).to_bytes(state_bytes, "little")
        self.write(os.path.join(self.state, "state.db"), state_db)
        self.write(os.path.join(self.state, "notes.txt"), b"hello\n" * 1000)

    @staticmethod
    def write(path, data, mode=0o644):
        with open(path, "wb") as handle:
            handle.write(data)
        os.chmod(path, mode)

    def paths(self):
        return [dict(path=self.config, kind="config"), dict(path=self.state, kind="state")]

    def params(self, **extra):
        params = dict(service="demo", host="app1", paths=self.paths(), dest_dir=self.dest)
        params.update(extra)
        return params

    def backup(self, now=None, **extra):
        return backup.create_backup(backup.validate_backup(self.params(**extra)), now=now)

    def live(self):
        return dict(config=tree(self.config), state=tree(self.state))


def tree(path):
    """``{relative path: (type, mode, size, sha256 or link target)}`` under ``path`` (and itself)."""
    listing = {}
    for directory, dirs, files in os.walk(path):
        if directory == path:
            listing["."] = _entry(directory)
        for name in dirs + files:
            full = os.path.join(directory, name)
            listing[os.path.relpath(full, path)] = _entry(full)
    return listing


def _entry(path):
    info = os.lstat(path)
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISLNK(info.st_mode):
        return ("symlink", None, 0, os.readlink(path))
    if stat.S_ISDIR(info.st_mode):
        return ("dir", mode, 0, None)
    return ("file", mode, info.st_size, sha256_file(path))


def dir_listing(path):
    """Every name under ``path`` with type, size, inode and (files) mtime, to prove nothing changed.

    Directory mtimes are left out: renaming something away and back changes them.
    """
    listing = {}
    for directory, dirs, files in os.walk(path):
        for name in dirs + files:
            full = os.path.join(directory, name)
            info = os.lstat(full)
            mtime = None if stat.S_ISDIR(info.st_mode) else info.st_mtime_ns
            listing[os.path.relpath(full, path)] = (stat.S_IFMT(info.st_mode), info.st_size, mtime, info.st_ino)
    return listing


def info(name, kind=tarfile.REGTYPE, data=b"", linkname="", mode=0o644):
    tinfo = tarfile.TarInfo(name)
    tinfo.type = kind
    tinfo.mode = mode
    tinfo.linkname = linkname
    tinfo.size = len(data) if kind == tarfile.REGTYPE else 0
    tinfo.mtime = 1700000000
    return tinfo, data


def craft_archive(dest_dir, members, paths=None, name="demo-app1-20261130T020000Z-manual.tar.zst",
                  created=1796004000.0):
    """A complete archive (valid METADATA, MANIFEST and sidecar) holding ``members``.

    The MANIFEST describes the members exactly as they are, so only the member safety
    check can refuse them.
    """
    paths = paths or [dict(path="/tmp/never-used/etc/demo", kind="config", name="demo", type="dir",
                           root="config/demo", snapshot=False)]
    metadata = dict(format=FORMAT, tool="test", tool_version="0", host="app1", service="demo", release=None,
                    kind="manual", pinned=False, created="x", created_epoch=created, compression="zstd", paths=paths)
    meta_bytes = json.dumps(metadata).encode()
    manifest = dict(format=FORMAT, metadata_sha256=hashlib.sha256(meta_bytes).hexdigest(), paths=paths, members=[])
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info("METADATA", data=meta_bytes)[0], io.BytesIO(meta_bytes))
        for tinfo, data in members:
            tar.addfile(tinfo, io.BytesIO(data) if tinfo.isreg() else None)
            entry = dict(path=tinfo.name.rstrip("/"), type=member_kind(tinfo.type), mode="%04o" % tinfo.mode,
                         size=tinfo.size if tinfo.isreg() else 0)
            if tinfo.isreg():
                entry["sha256"] = hashlib.sha256(data).hexdigest()
            if tinfo.issym() or tinfo.islnk():
                entry["linkname"] = tinfo.linkname
            manifest["members"].append(entry)
        manifest_bytes = json.dumps(manifest).encode()
        tar.addfile(info("MANIFEST", data=manifest_bytes)[0], io.BytesIO(manifest_bytes))
    os.makedirs(dest_dir, exist_ok=True)
    path = os.path.join(dest_dir, name)
    compressed = subprocess.run(["zstd", "-q", "-c"], input=raw.getvalue(), stdout=subprocess.PIPE, check=True).stdout
    with open(path, "wb") as handle:
        handle.write(compressed)
    sidecar = dict(format=FORMAT, archive=name, manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
                   size=len(compressed),
                   members=len(members), data_bytes=sum(len(d) for t, d in members if t.isreg()),
                   metadata=metadata)
    with open(sidecar_path(path), "w") as handle:
        json.dump(sidecar, handle)
    return path


def flip_byte(path, offset=None):
    """Flip one byte of ``path`` (in the middle by default); return the offset."""
    size = os.path.getsize(path)
    offset = size // 2 if offset is None else offset
    with open(path, "r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))
    return offset
