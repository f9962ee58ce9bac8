# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a filter of this collection does with bad input: the ``ValueError`` (or
``TypeError``/``KeyError``) of the module_utils function becomes an ``AnsibleFilterError``
that starts with the filter's name, so the play names the filter, the option and the value."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError


def wrap(name, func, *args, **kwargs):
    """``func(*args, **kwargs)``; its errors as ``AnsibleFilterError("<name>: <message>")``."""
    try:
        return func(*args, **kwargs)
    except (TypeError, ValueError, KeyError) as exc:
        raise AnsibleFilterError("%s: %s" % (name, exc)) from exc
