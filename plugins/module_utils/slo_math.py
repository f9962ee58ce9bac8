# -*- coding: utf-8 -*-
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SLO arithmetic in exact decimals: windows, error budgets, burn rates, alert pairs.

Objectives are percentages as people write them (``99.9``); every input is read as
the decimal it was written as (floats through their ``repr``), so ``100 - 99.9`` is
exactly ``0.1`` and a 30-day page threshold is exactly ``14.4``. Results are
:class:`decimal.Decimal`; a quotient that does not terminate (10 % of a 28-day budget
in 3 days: 14/15) carries :data:`PRECISION` significant digits.

Burn-rate alerts follow the SRE workbook ("Alerting on SLOs"): an alert pair fires when
the budget consumed in its long window reaches a share of the whole budget, i.e. when
the burn rate exceeds ``consumed * slo_window / long_window`` in the long window AND in
its short window. :data:`ALERT_PAIRS` are the workbook's pairs for a 30-day SLO; the
thresholds scale with the SLO's window (28 d: 13.44, 5.6, 0.9333...). A pair whose long
window does not fit in the SLO's window (3 d in a 24 h SLO) cannot mean "x % of the
budget in that time"; for such SLOs every window is scaled by ``slo_window / 30 d``
(rounded up to whole minutes, at least :data:`MIN_WINDOW_SECONDS`), which keeps the
workbook's burn rates where the rounding allows and says so in the pair.

Pure standard library; bad input raises ``ValueError`` naming the option and value.
"""

from __future__ import annotations

import decimal
import re
from decimal import Decimal

PRECISION = 28
_CONTEXT = decimal.Context(prec=PRECISION, rounding=decimal.ROUND_HALF_EVEN)

UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_RE = re.compile(r"([0-9]+)([a-z]+)\Z")
REFERENCE_WINDOW = 30 * 86400
MIN_WINDOW_SECONDS = 60

# The workbook's pairs for a 30-day SLO: the share of the budget consumed within the
# long window that makes each alert fire, and its short window.
ALERT_PAIRS = (
    {"severity": "page", "budget_consumed": "2", "long_window": "1h", "short_window": "5m"},
    {"severity": "page", "budget_consumed": "5", "long_window": "6h", "short_window": "30m"},
    {"severity": "ticket", "budget_consumed": "10", "long_window": "3d", "short_window": "6h"},
)


def to_decimal(option, value):
    """A number as the exact decimal it was written as; bools, NaN and infinities refused."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError("%s must be a number, got %r" % (option, value))
    try:
        number = Decimal(repr(value) if isinstance(value, float) else value)
    except decimal.InvalidOperation:
        raise ValueError("%s must be a number, got %r" % (option, value)) from None
    if not number.is_finite():
        raise ValueError("%s must be a finite number, got %r" % (option, value))
    return number


def _div(a, b):
    return _CONTEXT.divide(a, b)


def _plain(number):
    """A Decimal without exponent or trailing zeros (13.440 -> 13.44, 1E+1 -> 10)."""
    text = format(number.normalize(_CONTEXT), "f")
    return text


def parse_duration(option, value):
    """``"30d"`` -> 2592000 seconds. One integer and one unit of s, m, h, d, w."""
    if not isinstance(value, str):
        raise ValueError("%s must be a duration such as 30d, 7d, 24h or 5m, got %r" % (option, value))
    match = _DURATION_RE.match(value.strip())
    if not match:
        raise ValueError("%s must be a duration such as 30d, 7d, 24h or 5m (a whole number and a unit), got %r"
                         % (option, value))
    amount, unit = int(match.group(1)), match.group(2)
    if unit not in UNIT_SECONDS:
        raise ValueError("%s has unknown unit %r in %r; known units: %s"
                         % (option, unit, value, ", ".join(UNIT_SECONDS)))
    if amount < 1:
        raise ValueError("%s must be longer than 0, got %r" % (option, value))
    return amount * UNIT_SECONDS[unit]


def format_duration(seconds):
    """Seconds as the largest unit that divides them: 86400 -> "1d", 5400 -> "90m"."""
    for unit in ("w", "d", "h", "m", "s"):
        if seconds % UNIT_SECONDS[unit] == 0:
            return "%d%s" % (seconds // UNIT_SECONDS[unit], unit)
    raise ValueError("duration must be a whole number of seconds, got %r" % (seconds,))


def objective_fraction(objective, option="objective"):
    """An objective in percent (above 0, below 100) as a fraction: 99.9 -> 0.999."""
    number = to_decimal(option, objective)
    if not Decimal(0) < number < Decimal(100):
        raise ValueError("%s must be a percentage above 0 and below 100, got %r" % (option, objective))
    return _div(number, Decimal(100))


def error_budget(objective):
    """The error budget: the fraction of events allowed to be bad, 1 - objective."""
    return Decimal(1) - objective_fraction(objective)


def burn_rate(error_ratio, objective):
    """How fast an error ratio spends the budget: error_ratio / error_budget.

    1 spends the budget exactly over the SLO's window."""
    ratio = to_decimal("error_ratio", error_ratio)
    if not Decimal(0) <= ratio <= Decimal(1):
        raise ValueError("error_ratio must be in [0, 1], got %r" % (error_ratio,))
    return _div(ratio, error_budget(objective))


def budget_remaining(objective, good, total):
    """The budget left over a window with ``good`` of ``total`` events good.

    Returns ``budget``, ``error_ratio``, ``consumed`` (share of the budget spent, above
    1 when overspent) and ``remaining`` (``1 - consumed``, negative when overspent), all
    Decimals, and ``exhausted``. Without events there is no measurement: ``None`` for
    every ratio, never a full budget."""
    budget = error_budget(objective)
    good_d = to_decimal("good", good)
    total_d = to_decimal("total", total)
    if good_d < 0 or total_d < 0:
        raise ValueError("good and total must not be negative, got good=%r total=%r" % (good, total))
    if good_d > total_d:
        raise ValueError("good (%r) must not exceed total (%r)" % (good, total))
    if total_d == 0:
        return {"budget": budget, "error_ratio": None, "consumed": None, "remaining": None, "exhausted": None}
    error_ratio = _div(total_d - good_d, total_d)
    consumed = _div(error_ratio, budget)
    return {
        "budget": budget,
        "error_ratio": error_ratio,
        "consumed": consumed,
        "remaining": Decimal(1) - consumed,
        "exhausted": consumed >= 1,
    }


def budget_from_sli(objective, sli):
    """The same as :func:`budget_remaining` from a measured SLI (a good ratio in [0, 1]);
    ``None`` (no data) stays ``None`` in every field."""
    budget = error_budget(objective)
    if sli is None:
        return {"budget": budget, "error_ratio": None, "consumed": None, "remaining": None, "exhausted": None}
    good = to_decimal("sli", sli)
    if not Decimal(0) <= good <= Decimal(1):
        raise ValueError("sli must be in [0, 1], got %r" % (sli,))
    consumed = _div(Decimal(1) - good, budget)
    return {"budget": budget, "error_ratio": Decimal(1) - good, "consumed": consumed,
            "remaining": Decimal(1) - consumed, "exhausted": consumed >= 1}


def _scaled(seconds, factor):
    scaled = seconds * factor
    minutes = int(_CONTEXT.divide(scaled, Decimal(60)).to_integral_value(rounding=decimal.ROUND_CEILING))
    return max(MIN_WINDOW_SECONDS, minutes * 60)


def alert_pairs(window, pairs=ALERT_PAIRS):
    """The multi-window burn-rate alert pairs of an SLO whose window is ``window``.

    Each pair: ``severity``, ``budget_consumed`` (percent), ``long_window`` and
    ``short_window`` (durations), ``burn_rate`` (the threshold both windows must
    exceed: ``consumed / 100 * window / long_window``) and ``scaled`` (True when the
    windows were scaled to fit the SLO's window)."""
    window_s = parse_duration("window", window)
    longest = max(parse_duration("long_window", p["long_window"]) for p in pairs)
    scale = longest > window_s
    factor = _div(Decimal(window_s), Decimal(REFERENCE_WINDOW))
    result = []
    for index, pair in enumerate(pairs):
        consumed = to_decimal("pairs[%d].budget_consumed" % index, pair["budget_consumed"])
        if not Decimal(0) < consumed <= Decimal(100):
            raise ValueError("pairs[%d].budget_consumed must be a percentage above 0, at most 100, got %r"
                             % (index, pair["budget_consumed"]))
        long_s = parse_duration("pairs[%d].long_window" % index, pair["long_window"])
        short_s = parse_duration("pairs[%d].short_window" % index, pair["short_window"])
        if short_s >= long_s:
            raise ValueError("pairs[%d].short_window (%s) must be shorter than its long_window (%s)"
                             % (index, pair["short_window"], pair["long_window"]))
        if scale:
            long_s, short_s = _scaled(long_s, factor), _scaled(short_s, factor)
            short_s = min(short_s, long_s)
        rate = _div(_div(consumed, Decimal(100)) * Decimal(window_s), Decimal(long_s))
        result.append({
            "severity": pair["severity"],
            "budget_consumed": consumed,
            "long_window": format_duration(long_s),
            "short_window": format_duration(short_s),
            "burn_rate": rate,
            "scaled": scale,
        })
    return result


def promql_number(number, digits=10):
    """A Decimal for a PromQL expression: at most ``digits`` decimals, no exponent."""
    quantum = Decimal(1).scaleb(-digits)
    return _plain(number.quantize(quantum, rounding=decimal.ROUND_HALF_EVEN, context=_CONTEXT))
