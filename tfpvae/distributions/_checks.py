"""Checks of the numbers that configure heads and objectives: finite, in range, or a ValueError naming the
component, the argument and the expected range (a NaN or inf scale or weight would otherwise be accepted and
surface later as a NaN loss)."""

from __future__ import annotations

import math
import numbers

__all__ = ["real_number", "integer", "FLOAT32_TINY", "FLOAT32_MAX"]

# A scale is used as a float32: below the smallest normal float32 it rounds to 0 (a 0 / 0 density), above the
# largest to inf.
FLOAT32_TINY = 1.1754943508222875e-38
FLOAT32_MAX = 3.4028234663852886e38


def real_number(value, component: str, what: str, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float within ``[low, high]`` (open ends with ``low_open`` / ``high_open``).

    Args:
      value: a Python or NumPy real number (``bool`` and strings are refused: ``True`` is not a scale).
      component: the class or function being configured, named first in the error.
      what: the argument's name.
      low, high: the range's ends; ``None`` means unbounded on that side.
      low_open, high_open: exclude that end.

    Returns:
      ``float(value)``.

    Raises:
      ValueError: ``"{component}: {what} must be a finite number {range}, got {value!r}"``.
    """
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {high:g}")
    expected = "a finite number" + (" " + " and ".join(parts) if parts else "")
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{component}: {what} must be {expected}, got {value!r}")
    number = float(value)
    ok = math.isfinite(number)
    if ok and low is not None:
        ok = number > low if low_open else number >= low
    if ok and high is not None:
        ok = number < high if high_open else number <= high
    if not ok:
        raise ValueError(f"{component}: {what} must be {expected}, got {value!r}")
    return number


def integer(value, component: str, what: str, *, low: int = 1, high: int | None = None) -> int:
    """``value`` as a Python int in ``[low, high]`` (``bool``, floats such as 2.5 and strings are refused).

    Raises:
      ValueError: ``"{component}: {what} must be an integer >= {low} [and <= {high}], got {value!r}"``.
    """
    expected = f"an integer >= {low}" + (f" and <= {high}" if high is not None else "")
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low
            or (high is not None and value > high)):
        raise ValueError(f"{component}: {what} must be {expected}, got {value!r}")
    return int(value)
