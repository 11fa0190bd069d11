"""Small input checks shared by the library: fail early, name the component and what was expected."""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf


def positive_int(value, component: str, what: str) -> int:
    """``value`` as an int > 0, or a ValueError naming ``component`` and ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{component}: {what} must be a positive integer, got {value!r}")
    return value


def shape_tuple(shape, component: str, what: str = "event_shape") -> tuple[int, ...]:
    """A fully known shape as a tuple of positive ints."""
    if isinstance(shape, int):
        shape = (shape,)
    if not isinstance(shape, (Sequence, tf.TensorShape)) or not len(shape):
        raise ValueError(f"{component}: {what} must be a non-empty sequence of positive ints, got {shape!r}")
    dims = tuple(int(d) if d is not None else -1 for d in shape)
    if any(d <= 0 for d in dims):
        raise ValueError(f"{component}: {what} must be fully known and positive, got {tuple(shape)}")
    return dims


def check_last_dim(tensor: tf.Tensor, expected: int, component: str, what: str) -> None:
    """Raise if the static last dimension of ``tensor`` is known and differs from ``expected``."""
    actual = tensor.shape[-1] if tensor.shape.rank else None
    if actual is not None and actual != expected:
        raise ValueError(f"{component}: {what} has width {actual}, expected {expected}")


def check_event_shape(tensor: tf.Tensor, event_shape: Sequence[int], component: str, what: str) -> None:
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
