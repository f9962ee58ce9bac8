# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""How the SLO gate writes numbers and times in its messages and results.

Six significant digits everywhere, counts as integers when whole, times as UTC ISO 8601
with milliseconds. Standard library only, Python 3.8 compatible.
"""

from __future__ import annotations

import datetime
import math


def g6(value):
    """``value`` as text with 6 significant digits (``0.0123``, ``1e+06``)."""
    return "%.6g" % value


def round6(value):
    """``value`` rounded to 6 significant digits; None stays None."""
    return None if value is None else float("%.6g" % value)


def count_out(value):
    """A count for a result: an int when whole, else :func:`round6`; None stays None."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else round6(value)


def is_finite(value):
    """True for an int or float (not a bool) that is neither NaN nor infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def iso_ms(timestamp):
    """Epoch seconds as ``2026-12-06T08:45:44.123Z``."""
    moment = datetime.datetime.fromtimestamp(timestamp, tz=datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
