# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The on-disk format of fleetops backups (a zstd-compressed tar stream, its sidecar and
its verification record) and the writer of archives.

An archive ``<service>-<host>-<YYYYmmddTHHMMSSZ>-<kind>.tar.zst`` is a POSIX (pax) tar
stream compressed by the ``zstd`` command. Its first member is ``METADATA`` (JSON: host,
service, release, created time, kind, pinned, tool version, the backed-up paths), then
come the backed-up paths as ``<kind>/<name>[/...]``, and the last member is ``MANIFEST``
(JSON: path, type, size, mode and sha256 of every other member, in archive order).

Next to it, ``<archive>.json`` (the *sidecar*: the metadata, the archive's size and the
sha256 of its MANIFEST) is written after the archive is complete, fsynced and renamed
into place; an archive without a valid sidecar is *incomplete* and never used.
``<archive>.verified.json`` records the last verification.

What makes a damaged archive visible: zstd's frame checksum (xxh64 of the whole tar
stream, always written) fails on decompression, every member's data must match its
sha256 in the MANIFEST, and the MANIFEST must match the sha256 in the sidecar. The
compressed bytes are not hashed while writing: that would cost a second sha256 pass
and catch nothing these three do not (copies off the host are compared by the sha256
of the source file at copy time).

Temporary files of runs are in ``backup_runs``; reading archives is in
``backup_tarstream``.

This file runs on managed hosts: Python 3.8+, standard library only, ``zstd`` CLI.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import stat
import subprocess
import tarfile
import tempfile
import threading
import time

from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import (
    READ_FLAGS,
    ResultError,
    replace_atomic,
    write_all,
)

try:
    import ctypes
except ImportError:  # a Python built without ctypes: no early writeback, the fsync still runs
    ctypes = None

FORMAT = 2
TOOL = "fleetops.lifecycle"
TOOL_VERSION = "0.1.0"
SUFFIX = ".tar.zst"
SIDECAR_SUFFIX = ".json"
VERIFIED_SUFFIX = ".verified.json"
METADATA = "METADATA"
MANIFEST = "MANIFEST"
CHUNK = 1 << 20
WRITEBACK_STEP = 8 << 20
WRITEBACK_POLL = 0.05
BLOCK = 512

_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_SYNC_FILE_RANGE_WRITE = 2
ZERO_BLOCK = bytes(BLOCK)
_SHA256_RE = re.compile(r"[0-9a-f]{64}\Z")


class BackupError(ResultError):
    """A refusal or failure to report with fail_json: a message plus result keys."""


# --- small helpers -----------------------------------------------------------------


def iso_time(epoch):
    """``epoch`` as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def padding(size):
    """Bytes of zero padding after ``size`` bytes of member data."""
    return -size % BLOCK


def grow_pipe(fd):
    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, CHUNK)
    except OSError:
        pass


def write_json_atomic(path, data, temp_path, mode=0o600):
    """Write ``data`` as JSON to ``temp_path``, fsync, rename to ``path``, fsync the dir."""
    text = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")
    replace_atomic(path, text, temp_path, mode)


def read_json(path, limit=16 << 20):
    """The JSON value in ``path``, or raise ValueError/OSError saying why not."""
    fd = os.open(path, READ_FLAGS)
    with os.fdopen(fd, "rb") as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise ValueError("larger than %d bytes" % limit)
    return json.loads(data.decode("utf-8"))


# --- sidecar and verification record -------------------------------------------------


def sidecar_path(archive):
    return archive + SIDECAR_SUFFIX


def verified_path(archive):
    return archive + VERIFIED_SUFFIX


def sidecar_problem(archive, sidecar):
    """Why ``sidecar`` (a parsed JSON value) does not make ``archive`` complete, or None."""
    if not isinstance(sidecar, dict):
        return "the sidecar is not a JSON object"
    if sidecar.get("format") != FORMAT:
        return "the sidecar has format %r, expected %d" % (sidecar.get("format"), FORMAT)
    if sidecar.get("archive") != os.path.basename(archive):
        return "the sidecar names archive %r" % (sidecar.get("archive"),)
    if not isinstance(sidecar.get("manifest_sha256"), str) or not _SHA256_RE.match(sidecar["manifest_sha256"]):
        return "the sidecar has no valid manifest_sha256"
    metadata = sidecar.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("created_epoch"), (int, float)):
        return "the sidecar has no metadata with created_epoch"
    size = sidecar.get("size")
    if not isinstance(size, int) or isinstance(size, bool):
        return "the sidecar has no size"
    try:
        actual = os.lstat(archive)
    except OSError as exc:
        return "cannot stat the archive: %s" % (exc.strerror or exc)
    if not stat.S_ISREG(actual.st_mode):
        return "the archive is not a regular file"
    if actual.st_size != size:
        return "the archive has %d bytes, the sidecar says %d" % (actual.st_size, size)
    return None


def load_sidecar(archive):
    """``(sidecar, None)`` for a complete archive, ``(None, reason)`` otherwise."""
    try:
        sidecar = read_json(sidecar_path(archive))
    except FileNotFoundError:
        return None, "no sidecar %s (interrupted or unfinished backup)" % os.path.basename(sidecar_path(archive))
    except (OSError, ValueError) as exc:
        return None, "the sidecar cannot be read: %s" % exc
    problem = sidecar_problem(archive, sidecar)
    return (None, problem) if problem else (sidecar, None)


def load_verified(archive):
    """The verification record of ``archive`` (a dict; empty when there is none or it is unreadable)."""
    try:
        record = read_json(verified_path(archive))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


# --- writing a tar stream through zstd ------------------------------------------------


def _sync_file_range():
    """libc's ``sync_file_range``, or None where ctypes or the call is missing (not Linux)."""
    if ctypes is None:
        return None
    try:
        func = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    func.argtypes = [ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong, ctypes.c_uint]
    return func


class _Writeback(threading.Thread):
    """Starts the writeback of what zstd has written so far, every WRITEBACK_STEP bytes.

    The final fsync then waits for the tail only instead of the whole archive. It never
    decides durability: the fsync after zstd exits does.
    """

    def __init__(self, fd):
        super().__init__(name="archive-writeback", daemon=True)
        self.fd = fd
        self._stopping = threading.Event()

    def run(self):
        start_writeback = _sync_file_range()
        if start_writeback is None:
            return
        flushed = 0
        while not self._stopping.wait(WRITEBACK_POLL):
            try:
                size = os.fstat(self.fd).st_size
            except OSError:
                return
            if size - flushed >= WRITEBACK_STEP:
                start_writeback(self.fd, flushed, size - flushed, _SYNC_FILE_RANGE_WRITE)
                flushed = size

    def stop(self):
        self._stopping.set()
        self.join()


def zstd_command(args):
    return ["zstd", "-q"] + list(args)


def spawn_zstd(args, stdin, stdout):
    errors = tempfile.TemporaryFile()
    try:
        proc = subprocess.Popen(zstd_command(args), stdin=stdin, stdout=stdout, stderr=errors,
                                bufsize=0, close_fds=True)
    except FileNotFoundError as exc:
        errors.close()
        raise BackupError("zstd: command not found on this host (install the zstd package)") from exc
    return proc, errors


def zstd_errors(errors):
    if errors.closed:
        return ""
    errors.seek(0)
    text = errors.read(4000).decode("utf-8", "replace").strip()
    errors.close()
    return text


class ArchiveWriter(object):
    """A pax tar stream piped into ``zstd -T<threads> -<level>``, written to ``fd``.

    Member data is read, hashed and written in one loop, so each file is read once; zstd
    writes the archive file itself. :meth:`close` returns the archive's size.
    """

    def __init__(self, fd, threads=0, level=3):
        self.fd = fd
        self.proc, self._errors = spawn_zstd(["-c", "-%d" % level, "-T%d" % threads], subprocess.PIPE, fd)
        self._stdin = self.proc.stdin.fileno()
        grow_pipe(self._stdin)
        self._writeback = _Writeback(fd)
        self._writeback.start()
        self._pending = bytearray()
        self._buf = bytearray(CHUNK)
        self._view = memoryview(self._buf)
        self.data_bytes = 0

    def _emit(self, data):
        if len(data) < 65536:
            self._pending += data
            if len(self._pending) >= CHUNK:
                self._flush()
            return
        self._flush()
        write_all(self._stdin, data)

    def _flush(self):
        if self._pending:
            write_all(self._stdin, self._pending)
            del self._pending[:]

    def add(self, info, source_fd=None):
        """Write ``info`` (a TarInfo) and, for a regular file, ``info.size`` bytes of ``source_fd``.

        Returns the sha256 of the data (None for other members).
        """
        self._emit(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        if not info.isreg():
            return None
        digest = hashlib.sha256()
        remaining = info.size
        while remaining:
            count = os.readv(source_fd, [self._view[:min(remaining, CHUNK)]])
            if not count:
                raise OSError(errno.EIO, "file shrank while it was read (%d bytes missing)" % remaining,
                              info.name)
            chunk = self._view[:count]
            digest.update(chunk)
            self._emit(chunk)
            remaining -= count
        self._emit(bytes(padding(info.size)))
        self.data_bytes += info.size
        return digest.hexdigest()

    def add_bytes(self, name, data, mtime, mode=0o600):
        info = tarfile.TarInfo(name)
        info.size = len(data)
        info.mode = mode
        info.mtime = int(mtime)
        self._emit(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        self._emit(data)
        self._emit(bytes(padding(len(data))))
        return hashlib.sha256(data).hexdigest()

    def close(self):
        """End the tar stream, wait for zstd; return the size of the archive it wrote."""
        try:
            self._emit(ZERO_BLOCK * 2)
            self._flush()
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        rc = self.proc.wait()
        self._writeback.stop()
        text = zstd_errors(self._errors)
        if rc != 0:
            raise zstd_failure(rc, text)
        return os.fstat(self.fd).st_size

    def abort(self, exc=None):
        """Stop zstd; when ``exc`` is a broken pipe (zstd died first), raise zstd's own error."""
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        if not isinstance(exc, BrokenPipeError):
            self.proc.kill()
        rc = self.proc.wait()
        self._writeback.stop()
        text = zstd_errors(self._errors)
        if isinstance(exc, BrokenPipeError) and rc != 0:
            raise zstd_failure(rc, text) from None


def zstd_failure(rc, text):
    """The OSError for zstd exiting with ``rc``; ENOSPC when zstd says the disk is full."""
    code = errno.ENOSPC if os.strerror(errno.ENOSPC) in text else errno.EIO
    return OSError(code, "%s (zstd exited with status %d: %s)" % (os.strerror(code), rc, text or "no message"))
