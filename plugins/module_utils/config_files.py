# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A service's small files (config, env files, unit, drop-ins) made to match in one call.

The service role used to write them with a task each; each task costs a forked worker
on the controller per host, so one call for all of them is what makes the role cheap on
a large fleet. Each file is still written on its own, atomically: a temp file beside it
(created new, never through a link), owner and mode set, synced, validated when asked,
then renamed over the file. The last component of every path is opened with
``O_NOFOLLOW``: a link planted where a file or directory is expected is refused, never
written through. Only as many bytes of a file as the new content has (plus one) are read
to compare it, or ``DIFF_LIMIT`` (plus one) for the diff when that is more.

:func:`ensure_files` takes the module's parameters and returns the result, or raises
:class:`~fileops.ResultError` naming the option and value at fault; files before the
failing one stay written, the failing one and those after it are untouched.
"""

from __future__ import annotations

import errno
import grp
import os
import pwd
import shlex
import stat
import subprocess

from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import (
    CLOEXEC,
    DIRECTORY,
    NOFOLLOW,
    ResultError,
    write_all,
)

# Before-text shown in a diff; a larger file is named, not shown.
DIFF_LIMIT = 64 * 1024
# O_NONBLOCK: a FIFO planted at the path must not block the open.
_READ_FLAGS = os.O_RDONLY | NOFOLLOW | CLOEXEC | getattr(os, "O_NONBLOCK", 0)
_CREATE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | NOFOLLOW | CLOEXEC


# In check mode an owner may be one that an earlier task of the run only predicted (the
# service user on a new host): it is taken as a change, not an error.
def _uid(option, name, check_mode):
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        if check_mode:
            return None
        raise ResultError("%s: no user %r on this host" % (option, name)) from None


def _gid(option, name, check_mode):
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        if check_mode:
            return None
        raise ResultError("%s: no group %r on this host" % (option, name)) from None


def _mode(option, value):
    """An octal string ('0644'), or a number: YAML reads an unquoted 0644 as the integer
    420, which is that mode already (as the file module takes it)."""
    if isinstance(value, int) and not isinstance(value, bool):
        mode = value
    else:
        try:
            mode = int(str(value), 8)
        except ValueError:
            mode = -1
    if not 0 <= mode <= 0o7777:
        raise ResultError("%s: %r is not an octal file mode such as '0644'" % (option, value))
    return mode


def _absolute(option, path):
    if (not isinstance(path, str) or not os.path.isabs(path) or ".." in path.split("/") or path.rstrip("/") == ""
            or "\x00" in path):
        raise ResultError("%s: %r is not an absolute path without '..'" % (option, path))
    return os.path.normpath(path)


def _wanted(option, entry, check_mode):
    """Path, uid, gid and mode an entry asks for, checked (uid or gid None: an owner that
    does not exist yet, in check mode)."""
    return (_absolute(option + ".path", entry["path"]),
            _uid(option + ".owner", entry.get("owner") or "root", check_mode),
            _gid(option + ".group", entry.get("group") or "root", check_mode), _mode(option + ".mode", entry["mode"]))


def _open_parent(path):
    """A descriptor of the directory holding ``path``, or None when it does not exist."""
    try:
        return os.open(os.path.dirname(path), os.O_RDONLY | DIRECTORY | CLOEXEC)
    except FileNotFoundError:
        return None


def _lstat_at(parent_fd, name):
    try:
        return os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _ensure_directory(option, entry, check_mode):
    path, uid, gid, mode = _wanted(option, entry, check_mode)
    parent_fd = _open_parent(path)
    if parent_fd is None:
        if check_mode:  # a directory an earlier entry (or task) would make first
            return True
        raise ResultError("%s.path: the directory holding %s does not exist" % (option, path))
    try:
        name = os.path.basename(path)
        info = _lstat_at(parent_fd, name)
        if info is not None and not stat.S_ISDIR(info.st_mode):
            raise ResultError("%s.path: %s exists and is not a directory (a link is never followed)" % (option, path))
        if info is not None and (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (uid, gid, mode):
            return False
        if check_mode:
            return True
        if info is None:
            os.mkdir(name, mode, dir_fd=parent_fd)
        fd = os.open(name, os.O_RDONLY | DIRECTORY | NOFOLLOW | CLOEXEC, dir_fd=parent_fd)
        try:
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)  # after chown, which clears set-id bits; mkdir's mode is masked by umask
        finally:
            os.close(fd)
        os.fsync(parent_fd)
        return True
    finally:
        os.close(parent_fd)


def _read_current(parent_fd, name, size):
    """(stat, its first max(``size``, DIFF_LIMIT) + 1 bytes) of the file, or (None, None): enough
    to tell a file longer than the new content, or too long to show, from one that is not."""
    try:
        fd = os.open(name, _READ_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        return None, None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return info, None
        limit = max(size, DIFF_LIMIT) + 1
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, min(left, 1 << 16))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return info, b"".join(chunks)
    finally:
        os.close(fd)


def _validate(option, command, temp_path):
    argv = [part.replace("%s", temp_path) for part in shlex.split(command)]
    try:
        proc = subprocess.run(argv, capture_output=True, check=False)
    except OSError as exc:
        raise ResultError("%s.validate: cannot run %r: %s" % (option, command, exc)) from None
    if proc.returncode != 0:
        output = (proc.stdout + proc.stderr).decode("utf-8", "replace").strip()
        raise ResultError("%s.validate: %r failed (rc=%d) on the new content: %s"
                          % (option, command, proc.returncode, output[-2000:]), rc=proc.returncode)


def _before_text(path, current):
    if current is None:
        return ""
    if len(current) > DIFF_LIMIT:
        return "(%s: more than %d bytes, not shown)\n" % (path, DIFF_LIMIT)
    return current.decode("utf-8", "replace")


def _read_existing(option, path, parent_fd, size):
    try:
        info, current = _read_current(parent_fd, os.path.basename(path), size)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ResultError("%s.path: %s is a symbolic link; it is never written through" % (option, path)) from None
        raise
    if info is not None and current is None:
        raise ResultError("%s.path: %s exists and is not a regular file" % (option, path))
    return info, current


def _replace(path, parent_fd, content, owned, validate):
    """Write ``content`` to a new temp file beside ``path``, owned and moded, synced,
    passed to ``validate`` (its path) when that is not None, then rename it over
    ``path``; a failure removes the temp file."""
    name = os.path.basename(path)
    uid, gid, mode = owned
    temp_name = ".%s.fleetops-%s" % (name, os.urandom(4).hex())
    fd = os.open(temp_name, _CREATE_FLAGS, 0o600, dir_fd=parent_fd)
    try:
        try:
            os.fchown(fd, uid, gid)
            os.fchmod(fd, mode)
            write_all(fd, content)
            os.fsync(fd)
        finally:
            os.close(fd)
        if validate is not None:
            validate(os.path.join(os.path.dirname(path), temp_name))
        os.rename(temp_name, name, src_dir_fd=parent_fd, dst_dir_fd=parent_fd)
    except BaseException:
        try:
            os.unlink(temp_name, dir_fd=parent_fd)
        except OSError:
            pass
        raise
    os.fsync(parent_fd)


def _set_owner_and_mode(path, parent_fd, owned):
    fd = os.open(os.path.basename(path), _READ_FLAGS, dir_fd=parent_fd)
    try:
        os.fchown(fd, owned[0], owned[1])
        os.fchmod(fd, owned[2])
    finally:
        os.close(fd)


# What the diff shows of a secret file whose content changes: never the content.
SECRET_DIFF = dict(before="(secret content, not shown)\n", after="(new secret content, not shown)\n")


def _content_diff(path, before, after, secret):
    return dict(before_header=path, after_header=path, **(SECRET_DIFF if secret else dict(before=before, after=after)))


def _write_file(option, entry, check_mode, diffs, secret=False):
    path, uid, gid, mode = _wanted(option, entry, check_mode)
    if entry.get("validate") and "%s" not in entry["validate"]:
        raise ResultError("%s.validate: %r has no %%s (where the new content's path goes)"
                          % (option, entry["validate"]))
    content = entry["content"].encode("utf-8")
    parent_fd = _open_parent(path)
    if parent_fd is None:
        if check_mode:  # a directory this call would make first
            diffs.append(_content_diff(path, "", entry["content"], secret))
            return True
        raise ResultError("%s.path: the directory holding %s does not exist" % (option, path))
    try:
        info, current = _read_existing(option, path, parent_fd, len(content))
        same_content = current == content
        same_owner = info is not None and (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (uid, gid, mode)
        if same_content and same_owner:
            return False
        if not same_content:
            diffs.append(_content_diff(path, None if secret else _before_text(path, current), entry["content"], secret))
        if check_mode:
            return True
        if same_content:
            _set_owner_and_mode(path, parent_fd, (uid, gid, mode))
        else:
            command = entry.get("validate")
            _replace(path, parent_fd, content, (uid, gid, mode),
                     (lambda temp_path: _validate(option, command, temp_path)) if command else None)
        return True
    finally:
        os.close(parent_fd)


def _remove_file(option, path, check_mode, diffs):
    path = _absolute(option, path)
    parent_fd = _open_parent(path)
    if parent_fd is None:
        return False
    try:
        name = os.path.basename(path)
        info = _lstat_at(parent_fd, name)
        if info is None:
            return False
        if stat.S_ISDIR(info.st_mode):
            raise ResultError("%s: %s is a directory; only files are removed" % (option, path))
        diffs.append(dict(before_header=path, after_header=path, before="(present)\n", after="(absent)\n"))
        if not check_mode:
            os.unlink(name, dir_fd=parent_fd)
            os.fsync(parent_fd)
        return True
    finally:
        os.close(parent_fd)


def ensure_files(params, check_mode=False):
    """Make ``params['directories']``, ``params['files']``, ``params['secret_files']`` and
    ``params['absent']`` true, in that order. Returns ``changed``, ``changed_paths`` and
    ``diff`` (one entry per file whose content changes or that goes away; a secret file's
    names it without its content)."""
    changed_paths, diffs = [], []
    for index, entry in enumerate(params.get("directories") or []):
        if _ensure_directory("directories[%d]" % index, entry, check_mode):
            changed_paths.append(os.path.normpath(entry["path"]))
    for index, entry in enumerate(params.get("files") or []):
        if _write_file("files[%d]" % index, entry, check_mode, diffs):
            changed_paths.append(os.path.normpath(entry["path"]))
    for index, entry in enumerate(params.get("secret_files") or []):
        if _write_file("secret_files[%d]" % index, dict(entry, validate=""), check_mode, diffs, secret=True):
            changed_paths.append(os.path.normpath(entry["path"]))
    for index, path in enumerate(params.get("absent") or []):
        if _remove_file("absent[%d]" % index, path, check_mode, diffs):
            changed_paths.append(os.path.normpath(path))
    return dict(changed=bool(changed_paths), changed_paths=changed_paths, diff=diffs)
