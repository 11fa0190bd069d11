"""Schedules for per-step weights such as the KL weight beta: callables ``step -> float tensor``."""

from __future__ import annotations

import tensorflow as tf

__all__ = ["constant", "linear_warmup", "as_schedule"]


def constant(value: float):
    """``beta(step) = value``."""
    value = float(value)

    def schedule(step):
        return tf.constant(value, tf.float32)

    schedule.config = {"kind": "constant", "value": value}
    return schedule


def linear_warmup(warmup_steps: int, final: float = 1.0, initial: float = 0.0, delay: int = 0):
    """``beta`` held at ``initial`` for ``delay`` steps, then linear to ``final`` over ``warmup_steps``
    (the KL annealing of Bowman et al. 2016 / Sønderby et al. 2016), then constant."""
    if warmup_steps <= 0:
        raise ValueError(f"linear_warmup: warmup_steps must be > 0, got {warmup_steps}")

    def schedule(step):
        t = tf.clip_by_value((tf.cast(step, tf.float32) - delay) / float(warmup_steps), 0.0, 1.0)
        return initial + (final - initial) * t

    schedule.config = {"kind": "linear_warmup", "warmup_steps": warmup_steps, "final": final,
                       "initial": initial, "delay": delay}
    return schedule


def as_schedule(value):
    """A float becomes :func:`constant`; a callable is returned unchanged."""
    if callable(value):
        return value
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"beta must be a non-negative float or a schedule callable, got {value!r}") from None
    if value < 0:
        raise ValueError(f"beta must be >= 0, got {value}")
    return constant(value)
