# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Test doubles for running modules in-process.

``exit_json`` and ``fail_json`` raise, so a module stops where it really would; a
test catches :class:`AnsibleExitJson` / :class:`AnsibleFailJson` and reads
``.result``. The ``ansible_module_exits`` fixture in ``tests/unit/conftest.py``
installs them.
"""

from __future__ import annotations

import contextlib
import json
from unittest import mock

from ansible.module_utils import basic


class AnsibleExitJson(Exception):
    """Raised by the exit_json double; ``result`` holds what the module returned."""

    def __init__(self, result):
        super().__init__(result)
        self.result = result


class AnsibleFailJson(Exception):
    """Raised by the fail_json double; ``result`` holds msg and the other keys."""

    def __init__(self, result):
        super().__init__(result.get("msg"))
        self.result = result


def exit_json(self, **kwargs):
    kwargs.setdefault("changed", False)
    raise AnsibleExitJson(kwargs)


def fail_json(self, msg, **kwargs):
    kwargs["failed"] = True
    kwargs["msg"] = msg
    raise AnsibleFailJson(kwargs)


@contextlib.contextmanager
def set_module_args(args=None, check_mode=False, diff=False):
    """Make ``args`` the parameters of AnsibleModule instances built inside the block.

    ansible-core reads them from ``basic._ANSIBLE_ARGS`` (JSON bytes of
    ``{"ANSIBLE_MODULE_ARGS": ...}``); since 2.19 it also needs the serialization
    profile in ``basic._ANSIBLE_PROFILE`` (``legacy`` is what modules get today).
    """
    args = dict(args or {})
    if check_mode:
        args["_ansible_check_mode"] = True
    if diff:
        args["_ansible_diff"] = True
    payload = json.dumps({"ANSIBLE_MODULE_ARGS": args}).encode("utf-8")
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(basic, "_ANSIBLE_ARGS", payload))
        if hasattr(basic, "_ANSIBLE_PROFILE"):
            stack.enter_context(mock.patch.object(basic, "_ANSIBLE_PROFILE", "legacy"))
        yield


def run_module(main, args=None, check_mode=False, diff=False):
    """Run ``main`` with ``args``; return the exit_json result or raise AnsibleFailJson."""
    with set_module_args(args, check_mode=check_mode, diff=diff):
        try:
            main()
        except AnsibleExitJson as exc:
            return exc.result
    raise AssertionError("the module returned without calling exit_json or fail_json")


def assert_options_match_spec(documented, spec, where="options"):
    """A module's DOCUMENTATION options equal its argument spec: names, types, defaults,
    choices, elements, required, and the same for suboptions."""
    assert sorted(documented) == sorted(spec), where
    for name, option in spec.items():
        entry = documented[name]
        assert entry["type"] == option.get("type", "str"), (where, name)
        assert entry.get("default") == option.get("default"), (where, name)
        assert entry.get("choices") == option.get("choices"), (where, name)
        assert entry.get("elements") == option.get("elements"), (where, name)
        assert bool(entry.get("required")) == bool(option.get("required")), (where, name)
        if "options" in option:
            assert_options_match_spec(entry["suboptions"], option["options"], "%s.%s" % (where, name))
