# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Durations given as options: a number of seconds, checked.

Standard library only, Python 3.8 compatible. Bad input raises ``ValueError`` naming
the option and the value.
"""

from __future__ import annotations

import math


def seconds(value, option):
    """``value`` as float seconds, refusing what is not a finite number."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError("%s=%r: must be a number of seconds" % (option, value))
    try:
        number = float(value)
    except ValueError:
        raise ValueError("%s=%r: must be a number of seconds" % (option, value)) from None
    if math.isnan(number) or math.isinf(number):
        raise ValueError("%s=%r: must be a finite number of seconds" % (option, value))
    return number


def positive_seconds(value, option):
    """``value`` as float seconds, refusing anything that is not > 0."""
    number = seconds(value, option)
    if number <= 0:
        raise ValueError("%s=%s: must be a number of seconds greater than 0" % (option, value))
    return number
