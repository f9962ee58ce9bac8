# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a filter of this collection does with bad input: the ``ValueError`` of the
module_utils function (or the ``TypeError``, ``KeyError`` or ``AttributeError`` of a value
of the wrong shape) becomes an ``AnsibleFilterError`` that starts with the filter's name,
so the play names the filter, the option and the value. Every filter file uses it."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

INPUT_ERRORS = (TypeError, ValueError, KeyError, AttributeError)


def wrap(name, func, /, *args, **kwargs):
    """``func(*args, **kwargs)``; its errors as ``AnsibleFilterError("<name>: <message>")``
    (positional-only, so ``func`` may take its own ``name=``)."""
    try:
        return func(*args, **kwargs)
    except INPUT_ERRORS as exc:
        raise AnsibleFilterError("%s: %s" % (name, exc)) from exc
