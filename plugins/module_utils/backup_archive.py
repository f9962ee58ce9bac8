# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The on-disk format of fleetops backups: a zstd-compressed tar stream, its sidecar,
its verification record, and the temporary files of runs in progress.

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

Every run that writes into the archive directory first creates and ``flock``\\ s
``.fleetops-tmp-<id>.lock`` and names all its temporary files ``.fleetops-tmp-<id>.*``;
the lock is removed last. A lock that can be taken belongs to a dead run (the kernel
drops ``flock`` locks when a process dies, even by SIGKILL), so :func:`find_leftovers`
can tell leftovers of killed runs from files of a run in progress.

This file runs on managed hosts: Python 3.8+, standard library only, ``zstd`` CLI.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import stat
import subprocess
import tarfile
import tempfile
import threading
import time

from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError, fsync_dir

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
TEMP_PREFIX = ".fleetops-tmp-"
CHUNK = 1 << 20
WRITEBACK_STEP = 8 << 20
WRITEBACK_POLL = 0.05
BLOCK = 512
RECORD = 20 * BLOCK
# A lock file whose content cannot be read yet belongs to a run that is still starting.
LOCK_GRACE = 60

_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)
_SYNC_FILE_RANGE_WRITE = 2
_ZERO_BLOCK = bytes(BLOCK)
_SHA256_RE = re.compile(r"[0-9a-f]{64}\Z")
_TEMP_RE = re.compile(r"\.fleetops-tmp-([0-9a-f]{16})\.(.+)\Z")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


class BackupError(ResultError):
    """A refusal or failure to report with fail_json: a message plus result keys."""


# --- small helpers -----------------------------------------------------------------


def iso_time(epoch):
    """``epoch`` as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(epoch)))


def padding(size):
    """Bytes of zero padding after ``size`` bytes of member data."""
    return -size % BLOCK


def write_all(fd, data):
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def sha256_file(path):
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


def _grow_pipe(fd):
    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, CHUNK)
    except OSError:
        pass


def write_json_atomic(path, data, temp_path, mode=0o600):
    """Write ``data`` as JSON to ``temp_path``, fsync, rename to ``path``, fsync the dir."""
    text = (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8")
    fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, mode)
    try:
        try:
            write_all(fd, text)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(temp_path, path)
    except BaseException:
        _unlink_quietly(temp_path)
        raise
    fsync_dir(os.path.dirname(path) or ".")


def _unlink_quietly(path):
    try:
        os.unlink(path)
    except OSError:
        pass


def remove_path(path):
    """Remove a file, symlink or directory tree; a missing path is fine."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def read_json(path, limit=16 << 20):
    """The JSON value in ``path``, or raise ValueError/OSError saying why not."""
    fd = os.open(path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
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


# --- temporary files of runs ---------------------------------------------------------


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
        self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        info = dict(pid=os.getpid(), purpose=purpose, target=target, started=time.time())
        write_all(self._fd, json.dumps(info).encode("utf-8"))

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
        _unlink_quietly(self.lock_path)
        os.close(self._fd)
        self._fd = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


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
        fd = os.open(lock_path, os.O_RDONLY | _NOFOLLOW | _CLOEXEC)
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


def _spawn_zstd(args, stdin, stdout):
    errors = tempfile.TemporaryFile()
    try:
        proc = subprocess.Popen(zstd_command(args), stdin=stdin, stdout=stdout, stderr=errors,
                                bufsize=0, close_fds=True)
    except FileNotFoundError as exc:
        errors.close()
        raise BackupError("zstd: command not found on this host (install the zstd package)") from exc
    return proc, errors


def _zstd_errors(errors):
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
        self.proc, self._errors = _spawn_zstd(["-c", "-%d" % level, "-T%d" % threads], subprocess.PIPE, fd)
        self._stdin = self.proc.stdin.fileno()
        _grow_pipe(self._stdin)
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
            self._emit(_ZERO_BLOCK * 2)
            self._flush()
            self.proc.stdin.close()
        except BrokenPipeError:
            pass
        rc = self.proc.wait()
        self._writeback.stop()
        text = _zstd_errors(self._errors)
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
        text = _zstd_errors(self._errors)
        if isinstance(exc, BrokenPipeError) and rc != 0:
            raise zstd_failure(rc, text) from None


def zstd_failure(rc, text):
    """The OSError for zstd exiting with ``rc``; ENOSPC when zstd says the disk is full."""
    code = errno.ENOSPC if os.strerror(errno.ENOSPC) in text else errno.EIO
    return OSError(code, "%s (zstd exited with status %d: %s)" % (os.strerror(code), rc, text or "no message"))


# --- reading a tar stream from zstd ---------------------------------------------------


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


def _parse_pax(data):
    records = {}
    pos = 0
    while pos < len(data):
        space = data.index(b" ", pos)
        length = int(data[pos:space])
        if length <= 0:
            raise ValueError("bad pax record length")
        record = data[space + 1:pos + length - 1]
        key, _sep, value = record.partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value
        pos += length
    return records


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
            if block == _ZERO_BLOCK:
                return
            try:
                info = tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
            except tarfile.HeaderError as exc:
                raise ValueError("bad tar header: %s" % exc) from exc
            if info.type in (tarfile.XHDTYPE, tarfile.XGLTYPE, tarfile.GNUTYPE_LONGNAME, tarfile.GNUTYPE_LONGLINK):
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
            info.size = int(pax["size"])
        if info.type == tarfile.DIRTYPE:
            info.name = info.name.rstrip("/")


class ArchiveReader(object):
    """``zstd -dc`` of an archive, as a :class:`TarStream` (use as a context manager)."""

    def __init__(self, archive, threads=1):
        self.archive = archive
        self.proc = None
        self._errors = None
        self._threads = threads

    def __enter__(self):
        self.proc, self._errors = _spawn_zstd(["-dc", "-T%d" % self._threads, "--", self.archive],
                                              subprocess.DEVNULL, subprocess.PIPE)
        _grow_pipe(self.proc.stdout.fileno())
        return TarStream(self.proc.stdout)

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            while self.proc.stdout.read(CHUNK):  # trailing padding: let zstd finish writing
                pass
        # Closing our end stops a zstd still writing (SIGPIPE) without hiding the exit
        # status of one that stopped by itself on corrupt data.
        self.proc.stdout.close()
        rc = self.proc.wait()
        text = _zstd_errors(self._errors)
        if exc_type is None and rc != 0:
            raise ValueError("zstd cannot decompress it (exit status %d): %s" % (rc, text))
        if exc_type is ValueError and rc > 0 and text:
            # The tar error came from corrupt compressed data: say what zstd said.
            raise ValueError("zstd cannot decompress it (exit status %d): %s" % (rc, text)) from exc
        return False
