# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pieces shared by the module_utils that manage files on a host (ledger, lock, release).

:class:`ResultError` is the error they raise for a refusal or failure, which the
modules report with ``fail_json(msg=exc.msg, **exc.result)``. :func:`fsync_dir` makes a
new, renamed or removed directory entry durable. This file runs on managed hosts, so it
stays compatible with Python 3.8 and uses the standard library only.
"""

from __future__ import annotations

import os


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
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
