# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Tests for module_utils.fileops: the shared error type and the directory fsync.

Real temporary directories; os.fsync is replaced only to see what it is given or to
make it fail.
"""

from __future__ import annotations

import errno
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
