"""How a leaderboard writes a number: a mean ± std in percent for accuracies, three significant digits
otherwise, with k / M / G suffixes in the compact tables."""

from __future__ import annotations

import math

PERCENT_HINTS = ("acc", "accuracy", "forgetting")
# Numbers of 10,000 and more in compact tables: (divisor, suffix, from).
SUFFIXES = ((1e9, "G", 1e9), (1e6, "M", 1e6), (1e3, "k", 1e4))


def _is_percent(metric: str) -> bool:
    return any(hint in metric for hint in PERCENT_HINTS)


def _three_significant_digits(value: float) -> str:
    """A fixed-point spec with three significant digits for ``value`` (and the same decimals for its std)."""
    if abs(value) >= 1000:
        return ",.0f"
    magnitude = math.floor(math.log10(abs(value))) if value else 0
    return f".{min(max(2 - magnitude, 0), 6)}f"


def format_value(mean: float, std: float | None, metric: str, n: int, short: bool = False) -> str:
    """``"92.04 ± 0.08"`` for accuracies (shown in percent), three significant digits otherwise (``"1.18 ± 0.04"``).

    ``short``: numbers of 10,000 and more with a suffix (``"2.53M ± 0.12M"``, ``"75.0k"``) for the compact tables.
    """
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "–"
    scale, suffix = 1.0, ""
    if _is_percent(metric):
        scale, spec = 100.0, ".2f"
    elif short and abs(mean) >= SUFFIXES[-1][2]:
        divisor, suffix = next((d, name) for d, name, start in SUFFIXES if abs(mean) >= start)
        scale, spec = 1 / divisor, _three_significant_digits(mean / divisor)
    elif float(mean).is_integer() and not std:
        spec = ",.0f"
    else:
        spec = _three_significant_digits(mean)
    text = format(mean * scale, spec) + suffix
    if n > 1 and std:
        text += f" ± {format(std * scale, spec)}{suffix}"
    return text
