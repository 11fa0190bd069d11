"""Small input checks shared by the library: fail early, name the component and what was expected.

Imports no TensorFlow, so the command line's configuration (``tfpvae.runs.config``) can use it
before TensorFlow loads."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence


def positive_int(value, component: str, what: str) -> int:
    """``value`` as an int > 0, or a ValueError naming ``component`` and ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{component}: {what} must be a positive integer, got {value!r}")
    return value


def int_at_least_one(value, component: str, what: str, *, optional: bool = False) -> int | None:
    """``value`` as an int >= 1 (``None`` passes when ``optional``), or a ValueError
    ``"{component}: {what} must be an int >= 1[ or None], got {value!r}"``."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{component}: {what} must be an int >= 1{' or None' if optional else ''}, got {value!r}")
    return int(value)


def shape_tuple(shape, component: str, what: str = "event_shape") -> tuple[int, ...]:
    """A fully known shape as a tuple of positive ints."""
    if isinstance(shape, int):
        shape = (shape,)
    import tensorflow as tf

    if not isinstance(shape, (Sequence, tf.TensorShape)) or not len(shape):
        raise ValueError(f"{component}: {what} must be a non-empty sequence of positive ints, got {shape!r}")
    dims = tuple(int(d) if d is not None else -1 for d in shape)
    if any(d <= 0 for d in dims):
        raise ValueError(f"{component}: {what} must be fully known and positive, got {tuple(shape)}")
    return dims


def check_last_dim(tensor, expected: int, component: str, what: str) -> None:
    """Raise if the static last dimension of ``tensor`` is known and differs from ``expected``."""
    actual = tensor.shape[-1] if tensor.shape.rank else None
    if actual is not None and actual != expected:
        raise ValueError(f"{component}: {what} has width {actual}, expected {expected}")


def check_event_shape(tensor, event_shape: Sequence[int], component: str, what: str) -> None:
    """Raise if the trailing static dims of ``tensor`` are known and differ from ``event_shape``."""
    n = len(event_shape)
    rank = tensor.shape.rank
    if rank is None:
        return
    actual = tuple(tensor.shape[rank - n:]) if rank >= n else tuple(tensor.shape)
    if rank < n or any(a is not None and a != e for a, e in zip(actual, event_shape)):
        raise ValueError(
            f"{component}: {what} has shape {tuple(tensor.shape)}; expected trailing (event) shape "
            f"{tuple(event_shape)} after the batch dimensions")


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
