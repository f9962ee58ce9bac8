# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Reading a host for a triage, within a time limit and a size limit for every read.

:func:`run_command` runs an argv with a timeout, its output spooled to a file and only
the first or last ``cap`` bytes read back, so a command that hangs or floods cannot hold
the collection or its memory. :func:`read_tail` reads the newest ``cap`` bytes of a log
(gzip-compressed rotations too, decompressed as a stream with a bounded buffer); the
partial first line is dropped, so a secret is never cut into a piece the redactor cannot
recognise. Files are opened with ``O_NOFOLLOW`` and must be regular: a link planted in
a log directory is reported, not followed. :func:`list_files` walks directories without
following links.

Python 3.8+, standard library only.
"""

from __future__ import annotations

import errno
import glob
import gzip
import os
import stat
import subprocess
import tempfile
import time
import zlib

from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import READ_FLAGS

_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
CHUNK = 1 << 16
BINARY_SNIFF = 8192
# Files a directory walk looks at, at most: a log directory of millions of files must not stall the run.
MAX_WALK_FILES = 2000


class Outcome(object):
    """What a read produced: text plus its status (ok, truncated, timeout, error) and sizes."""

    def __init__(self, text="", status="ok", *, message="", size=0, kept=0, seconds=0.0):
        self.text = text
        self.status = status
        self.message = message
        self.size = size
        self.kept = kept
        self.seconds = seconds

    def report(self):
        return dict(status=self.status, message=self.message, source_bytes=self.size, kept_bytes=self.kept,
                    seconds=round(self.seconds, 3))


def _decode(data):
    return data.decode("utf-8", "replace")


def _drop_partial_first_line(data):
    newline = data.find(b"\n")
    return data[newline + 1:] if newline >= 0 else b""


def cut(data, cap, keep):
    """``data`` (bytes) cut to ``cap`` bytes at a line boundary, keeping the head or the tail."""
    if len(data) <= cap:
        return data
    if keep == "head":
        head = data[:cap]
        newline = head.rfind(b"\n")
        return head[:newline + 1] if newline >= 0 else head
    return _drop_partial_first_line(data[-cap:])


def run_command(argv, timeout, cap, keep="head", env=None):
    """Run ``argv``; at most ``cap`` bytes of its output. Never raises for the command's sake."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as spool:
        try:
            proc = subprocess.Popen(argv, stdout=spool, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    env=env, start_new_session=True)
        except OSError as exc:
            return Outcome(status="error", message="cannot run %s: %s" % (argv[0], exc.strerror or exc),
                           seconds=time.monotonic() - started)
        try:
            rc = proc.wait(timeout=timeout)
            status, message = ("ok", "") if rc == 0 else ("error", "%s exited %d" % (argv[0], rc))
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, 9)
            except OSError:
                pass
            proc.wait()
            status, message = "timeout", "%s did not finish within %gs" % (" ".join(argv[:3]), timeout)
        size = spool.tell()
        spool.seek(0 if keep == "head" else max(0, size - cap - 1))
        data = spool.read(min(size, cap + 1))
        if size > cap:
            data = cut(data, cap, keep)
            if status == "ok":
                status, message = "truncated", "output of %d bytes cut to its %s %d" % (size, keep, len(data))
        return Outcome(_decode(data), status, message=message, size=size, kept=len(data),
                       seconds=time.monotonic() - started)


def open_regular(path):
    """An fd of a regular file at ``path``, not through a final symlink; OSError otherwise."""
    fd = os.open(path, READ_FLAGS | _NONBLOCK)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
    except BaseException:
        os.close(fd)
        raise
    return fd, info


def _gzip_tail(fd, cap):
    """The last ``cap`` bytes of a gzip stream, read with a buffer of at most 2 * cap."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    kept = b""
    total = 0
    while True:
        chunk = os.read(fd, CHUNK)
        if not chunk:
            break
        while chunk:
            out = decompressor.decompress(chunk, CHUNK)
            total += len(out)
            kept = (kept + out)[-cap:] if len(kept) + len(out) > cap else kept + out
            chunk = decompressor.unconsumed_tail
            if decompressor.eof:  # a second member (concatenated gzip) starts fresh
                rest = decompressor.unused_data
                decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
                chunk = rest
    return kept, total


def read_tail(path, cap):
    """The newest ``cap`` bytes of a file (decompressed when it ends in ``.gz``)."""
    started = time.monotonic()
    try:
        fd, info = open_regular(path)
    except OSError as exc:
        return Outcome(status="error", message="%s: %s" % (path, exc.strerror or exc),
                       seconds=time.monotonic() - started)
    try:
        if path.endswith(".gz"):
            try:
                data, size = _gzip_tail(fd, cap)
            except (zlib.error, EOFError, gzip.BadGzipFile) as exc:
                return Outcome(status="error", message="%s: not a readable gzip file: %s" % (path, exc),
                               seconds=time.monotonic() - started)
            truncated = size > cap
        else:
            size = info.st_size
            offset = max(0, size - cap)
            os.lseek(fd, offset, os.SEEK_SET)
            parts, left = [], size - offset
            while left > 0:
                chunk = os.read(fd, min(CHUNK * 16, left))
                if not chunk:
                    break
                parts.append(chunk)
                left -= len(chunk)
            data = b"".join(parts)
            truncated = offset > 0
    finally:
        os.close(fd)
    if b"\0" in data[:BINARY_SNIFF]:
        return Outcome(status="skipped", message="%s: binary content, not collected" % path, size=size,
                       seconds=time.monotonic() - started)
    if truncated:
        data = _drop_partial_first_line(data)
        return Outcome(_decode(data), "truncated", message="%s: kept the last %d of %d bytes" % (path, len(data), size),
                       size=size, kept=len(data), seconds=time.monotonic() - started)
    return Outcome(_decode(data), "ok", size=size, kept=len(data), seconds=time.monotonic() - started)


def list_files(patterns, since=None, limit=MAX_WALK_FILES):
    """Regular files named by ``patterns`` (paths, globs or directories, walked without following links).

    With ``since``, files last modified before it are left out (their lines are all older).
    Returns ``(files, notes)``; notes say what was left out and why.
    """
    files, notes, seen = [], [], set()
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not matches:
            notes.append("%s: nothing matches" % pattern)
        for match in matches:
            candidates = []
            if os.path.isdir(match) and not os.path.islink(match):
                for root, dirs, names in os.walk(match, followlinks=False):
                    dirs.sort()
                    candidates.extend(os.path.join(root, name) for name in sorted(names))
                    if len(candidates) > limit:
                        break
            else:
                candidates.append(match)
            for path in candidates:
                if path in seen:
                    continue
                seen.add(path)
                try:
                    info = os.lstat(path)
                except OSError as exc:
                    notes.append("%s: %s" % (path, exc.strerror or exc))
                    continue
                if stat.S_ISLNK(info.st_mode):
                    notes.append("%s: a symbolic link, not followed" % path)
                    continue
                if not stat.S_ISREG(info.st_mode):
                    continue
                if since is not None and info.st_mtime < since:
                    continue
                if len(files) >= limit:
                    notes.append("more than %d files: the rest left out" % limit)
                    return files, notes
                files.append((path, info.st_mtime))
    return files, notes


def read_proc(path, cap):
    """A small /proc or /sys file (their sizes read as 0, so read until EOF within ``cap``)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(cap)
    except OSError as exc:
        return Outcome(status="error", message="%s: %s" % (path, exc.strerror or exc))
    return Outcome(_decode(data), "ok", size=len(data), kept=len(data))
