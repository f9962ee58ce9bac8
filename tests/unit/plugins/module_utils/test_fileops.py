# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for module_utils.fileops: the shared error type, the directory fsync, the open
flags, hashing and removal.

Real temporary directories; os.fsync is replaced only to see what it is given or to
make it fail.
"""

from __future__ import annotations

import errno
import hashlib
import os

import pytest
from ansible_collections.fleetops.lifecycle.plugins.module_utils import fileops
from ansible_collections.fleetops.lifecycle.plugins.module_utils.fileops import ResultError, fsync_dir
from ansible_collections.fleetops.lifecycle.plugins.module_utils.ledger import LedgerError
from ansible_collections.fleetops.lifecycle.plugins.module_utils.lock import LockError
from ansible_collections.fleetops.lifecycle.plugins.module_utils.release import ReleaseError

# ------------------------------------------------------------------- ResultError


def test_result_error_carries_message_and_result_keys():
    exc = ResultError("path: nope", lock=None, stale=True)
    assert exc.msg == "path: nope"
    assert exc.result == {"lock": None, "stale": True}
    assert str(exc) == "path: nope"
    assert exc.args == ("path: nope",)


def test_result_error_without_result_keys_has_an_empty_result():
    assert ResultError("refused").result == {}


@pytest.mark.parametrize("error_class", [LedgerError, LockError, ReleaseError])
def test_module_utils_errors_are_result_errors(error_class):
    exc = error_class("version: bad", slots=["blue"])
    assert isinstance(exc, ResultError)
    assert (exc.msg, exc.result, str(exc)) == ("version: bad", {"slots": ["blue"]}, "version: bad")
    with pytest.raises(error_class, match="^version: bad$"):
        raise exc


def test_release_error_is_still_a_value_error():
    assert issubclass(ReleaseError, ValueError)
    assert not issubclass(LedgerError, ValueError)
    assert not issubclass(LockError, ValueError)


# --------------------------------------------------------------------- fsync_dir


def _is_open(fd):
    try:
        os.fstat(fd)
    except OSError as exc:
        assert exc.errno == errno.EBADF
        return False
    return True


def test_fsync_dir_syncs_a_descriptor_of_the_directory_and_closes_it(tmp_path, monkeypatch):
    synced = []

    def record(fd):
        synced.append((fd, os.path.samestat(os.fstat(fd), os.stat(tmp_path))))

    monkeypatch.setattr(fileops.os, "fsync", record)
    assert fsync_dir(str(tmp_path)) is None
    assert [same for _fd, same in synced] == [True]
    assert not _is_open(synced[0][0])


def test_fsync_dir_on_a_real_directory(tmp_path):
    (tmp_path / "entry").write_text("x")
    fsync_dir(str(tmp_path))


def test_fsync_dir_closes_the_descriptor_when_fsync_fails(tmp_path, monkeypatch):
    seen = []

    def fail(fd):
        seen.append(fd)
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(fileops.os, "fsync", fail)
    with pytest.raises(OSError) as info:
        fsync_dir(str(tmp_path))
    assert info.value.errno == errno.EIO
    assert len(seen) == 1 and not _is_open(seen[0])


def test_fsync_dir_of_a_missing_directory_raises(tmp_path):
    with pytest.raises(FileNotFoundError):
        fsync_dir(str(tmp_path / "missing"))


def test_fsync_dir_of_a_file_raises_not_a_directory(tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(NotADirectoryError):
        fsync_dir(str(path))


# ------------------------------------------------------------------- open flags


def test_read_flags_refuse_a_symlink(tmp_path):
    (tmp_path / "target").write_text("secret")
    os.symlink(str(tmp_path / "target"), str(tmp_path / "link"))
    with pytest.raises(OSError) as info:
        os.open(str(tmp_path / "link"), fileops.READ_FLAGS)
    assert info.value.errno == errno.ELOOP


def test_create_flags_refuse_an_existing_path_and_a_planted_link(tmp_path):
    (tmp_path / "there").write_text("x")
    with pytest.raises(FileExistsError):
        os.open(str(tmp_path / "there"), fileops.CREATE_FLAGS, 0o600)
    os.symlink(str(tmp_path / "elsewhere"), str(tmp_path / "planted"))
    with pytest.raises(FileExistsError):
        os.open(str(tmp_path / "planted"), fileops.CREATE_FLAGS, 0o600)
    assert not (tmp_path / "elsewhere").exists()


def test_dir_flags_open_a_directory_but_not_a_link_to_one(tmp_path):
    (tmp_path / "dir").mkdir()
    os.symlink(str(tmp_path / "dir"), str(tmp_path / "dirlink"))
    fd = os.open(str(tmp_path / "dir"), fileops.DIR_FLAGS)
    os.close(fd)
    with pytest.raises(OSError) as info:
        os.open(str(tmp_path / "dirlink"), fileops.DIR_FLAGS)
    assert info.value.errno in (errno.ELOOP, errno.ENOTDIR)


def test_flags_are_not_inherited_by_child_processes(tmp_path):
    (tmp_path / "f").write_text("x")
    fd = os.open(str(tmp_path / "f"), fileops.READ_FLAGS)
    try:
        assert os.get_inheritable(fd) is False
    finally:
        os.close(fd)


# ------------------------------------------------------------ hashing and writing


def test_sha256_file_and_size_over_several_chunks(tmp_path):
    path = tmp_path / "blob"
    data = os.urandom(3 * fileops.CHUNK + 17)
    path.write_bytes(data)
    assert fileops.sha256_file(str(path)) == hashlib.sha256(data).hexdigest()
    assert fileops.sha256_and_size(str(path)) == (hashlib.sha256(data).hexdigest(), len(data))


def test_sha256_of_an_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert fileops.sha256_and_size(str(path)) == (hashlib.sha256(b"").hexdigest(), 0)


def test_write_all_writes_every_byte_when_os_write_is_short(tmp_path, monkeypatch):
    real_write = os.write
    monkeypatch.setattr(fileops.os, "write", lambda fd, data: real_write(fd, bytes(data[:3])))
    fd = os.open(str(tmp_path / "out"), fileops.CREATE_FLAGS, 0o600)
    try:
        fileops.write_all(fd, b"0123456789")
    finally:
        os.close(fd)
    assert (tmp_path / "out").read_bytes() == b"0123456789"


# ------------------------------------------------------------------- removal


def test_remove_path_removes_a_tree_a_file_and_accepts_a_missing_path(tmp_path):
    (tmp_path / "tree" / "sub").mkdir(parents=True)
    (tmp_path / "tree" / "sub" / "f").write_text("x")
    (tmp_path / "file").write_text("x")
    fileops.remove_path(str(tmp_path / "tree"))
    fileops.remove_path(str(tmp_path / "file"))
    fileops.remove_path(str(tmp_path / "missing"))
    assert sorted(os.listdir(str(tmp_path))) == []


def test_remove_path_removes_a_link_never_what_it_points_to(tmp_path):
    (tmp_path / "dir").mkdir()
    (tmp_path / "dir" / "keep").write_text("x")
    os.symlink(str(tmp_path / "dir"), str(tmp_path / "link"))
    fileops.remove_path(str(tmp_path / "link"))
    assert not os.path.lexists(str(tmp_path / "link"))
    assert (tmp_path / "dir" / "keep").read_text() == "x"


def test_unlink_quietly_ignores_a_missing_file(tmp_path):
    (tmp_path / "f").write_text("x")
    fileops.unlink_quietly(str(tmp_path / "f"))
    fileops.unlink_quietly(str(tmp_path / "f"))
    assert not (tmp_path / "f").exists()
