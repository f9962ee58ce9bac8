# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a backup archive: ``zstd -dc`` into a minimal tar stream reader.

:class:`ArchiveReader` yields :class:`Member` headers and feeds member data to callables
chunk by chunk, so verify and restore read each archive once without ``tarfile``'s
extraction code. This file runs on managed hosts: Python 3.8+, standard library only,
``zstd`` CLI.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tarfile

from ansible_collections.fleetops.lifecycle.plugins.module_utils.backup_archive import (
    BLOCK,
    CHUNK,
    ZERO_BLOCK,
    grow_pipe,
    padding,
    spawn_zstd,
    zstd_errors,
)


class Member(object):
    """A tar member header: name (normalised), type, size, mode, linkname, mtime, owner."""

    __slots__ = ("name", "type", "size", "mode", "linkname", "mtime", "uid", "gid", "uname", "gname")

    def __init__(self, info):
        for slot in self.__slots__:
            setattr(self, slot, getattr(info, slot))

    def kind(self):
        return member_kind(self.type)


def member_kind(tartype):
    """``file``, ``dir``, ``symlink``, ``hardlink`` or ``special`` for a tar type."""
    if tartype in (tarfile.REGTYPE, tarfile.AREGTYPE, tarfile.CONTTYPE):
        return "file"
    if tartype == tarfile.DIRTYPE:
        return "dir"
    if tartype == tarfile.SYMTYPE:
        return "symlink"
    if tartype == tarfile.LNKTYPE:
        return "hardlink"
    return "special"


HEADER_LIMIT = 1 << 20
"""The largest pax extended header or GNU long name/link we read (tar itself writes a few KiB)."""


def _parse_pax(data):
    records = {}
    pos = 0
    while pos < len(data):
        space = data.find(b" ", pos)
        if space < 0 or not data[pos:space].isdigit():
            raise ValueError("bad pax record at offset %d" % pos)
        length = int(data[pos:space])
        if length <= space - pos or pos + length > len(data):
            raise ValueError("bad pax record length %d at offset %d" % (length, pos))
        record = data[space + 1:pos + length - 1]
        key, _sep, value = record.partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value
        pos += length
    return records


_HEADER_NAMES = {
    tarfile.XHDTYPE: "pax extended", tarfile.XGLTYPE: "pax global",
    tarfile.GNUTYPE_LONGNAME: "GNU long name", tarfile.GNUTYPE_LONGLINK: "GNU long link",
}


class TarStream(object):
    """A minimal reader of the tar stream on ``raw`` (an unbuffered file object).

    Iterating yields :class:`Member` objects; :meth:`read_data` feeds the current
    member's data to callables. Data not read is skipped. Raises ValueError on
    anything that is not a well-formed tar stream.
    """

    def __init__(self, raw):
        self.raw = raw
        self._buf = bytearray(CHUNK)
        self._view = memoryview(self._buf)
        self._left = 0
        self.current = None

    def _read_exact(self, size):
        out = bytearray(size)
        view = memoryview(out)
        got = 0
        while got < size:
            count = self.raw.readinto(view[got:])
            if not count:
                raise ValueError("the tar stream ends early (truncated archive)")
            got += count
        return bytes(out)

    def data_digest(self):
        """``(sha256 hex digest, size)`` of the rest of the current member's data."""
        digest = hashlib.sha256()
        count = [0]

        def sink(chunk):
            digest.update(chunk)
            count[0] += len(chunk)

        self.read_data(sink)
        return digest.hexdigest(), count[0]

    def read_data(self, *sinks):
        """Feed the rest of the current member's data, chunk by chunk, to each of ``sinks``."""
        remaining = self._left - padding(self.current.size) if self.current else 0
        while remaining > 0:
            count = self.raw.readinto(self._view[:min(remaining, CHUNK)])
            if not count:
                raise ValueError("the tar stream ends inside member %s (truncated archive)" % self.current.name)
            chunk = self._view[:count]
            for sink in sinks:
                sink(chunk)
            remaining -= count
            self._left -= count

    def _skip_rest(self):
        while self._left > 0:
            count = self.raw.readinto(self._view[:min(self._left, CHUNK)])
            if not count:
                raise ValueError("the tar stream ends inside member %s (truncated archive)" % self.current.name)
            self._left -= count

    def __iter__(self):
        pax = {}
        while True:
            self._skip_rest()
            self.current = None
            block = self._read_exact(BLOCK)
            if block == ZERO_BLOCK:
                return
            try:
                info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
            except tarfile.HeaderError as exc:
                raise ValueError("bad tar header: %s" % exc) from exc
            if info.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
                if info.size > HEADER_LIMIT:
                    raise ValueError("a %s header (before member %s) declares %d bytes, more than the %d "
                                     "bytes allowed; refusing to read it" % (
                                         _HEADER_NAMES.get(info.type, "extended"), info.name or "?",
                                         info.size, HEADER_LIMIT))
                data = self._read_exact(info.size)
                self._read_exact(padding(info.size))
                self._extend(pax, info.type, data)
                continue
            self._apply(info, pax)
            pax = {}
            self.current = Member(info)
            data_size = info.size if member_kind(info.type) == "file" else 0
            self.current.size = data_size
            self._left = data_size + padding(data_size)
            yield self.current

    @staticmethod
    def _extend(pax, tartype, data):
        if tartype == tarfile.XHDTYPE:
            pax.update(_parse_pax(data))
        elif tartype == tarfile.GNUTYPE_LONGNAME:
            pax["path"] = data.rstrip(b"\0")
        elif tartype == tarfile.GNUTYPE_LONGLINK:
            pax["linkpath"] = data.rstrip(b"\0")

    @staticmethod
    def _apply(info, pax):
        if "path" in pax:
            info.name = pax["path"].decode("utf-8", "surrogateescape")
        if "linkpath" in pax:
            info.linkname = pax["linkpath"].decode("utf-8", "surrogateescape")
        if "size" in pax:
            if not pax["size"].isdigit():
                raise ValueError("pax size %r of member %s is not a number" % (pax["size"][:40], info.name))
            info.size = int(pax["size"])
        if info.type == tarfile.DIRTYPE:
            info.name = info.name.rstrip("/")


class ArchiveReader(object):
    """``zstd -dc`` of an archive, as a :class:`TarStream` (use as a context manager).

    ``archive`` is a path or an open file descriptor; a descriptor is read from its
    start (zstd reads it as its standard input), so a verify pass and an extract pass
    read the same file even if the path is replaced in between.
    """

    def __init__(self, archive, threads=1):
        self.archive = archive
        self.proc = None
        self._errors = None
        self._threads = threads

    def __enter__(self):
        if isinstance(self.archive, int):
            os.lseek(self.archive, 0, os.SEEK_SET)
            args, stdin = ["-dc", "-T%d" % self._threads], self.archive
        else:
            args, stdin = ["-dc", "-T%d" % self._threads, "--", self.archive], subprocess.DEVNULL
        self.proc, self._errors = spawn_zstd(args, stdin, subprocess.PIPE)
        grow_pipe(self.proc.stdout.fileno())
        return TarStream(self.proc.stdout)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            while self.proc.stdout.read(CHUNK):  # trailing padding: let zstd finish writing
                pass
        # Closing our end stops a zstd still writing (SIGPIPE) without hiding the exit
        # status of one that stopped by itself on corrupt data.
        self.proc.stdout.close()
        rc = self.proc.wait()
        text = zstd_errors(self._errors)
        if exc_type is None and rc != 0:
            raise ValueError("zstd cannot decompress it (exit status %d): %s" % (rc, text))
        if exc_type is ValueError and rc > 0 and text:
            # The tar error came from corrupt compressed data: say what zstd said.
            raise ValueError("zstd cannot decompress it (exit status %d): %s" % (rc, text)) from exc
        return False
