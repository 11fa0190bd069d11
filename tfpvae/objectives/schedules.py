"""Schedules for per-step weights such as the KL weight beta: callables ``step -> float tensor``."""

from __future__ import annotations

import tensorflow as tf

__all__ = ["constant", "linear_warmup", "cyclical", "as_schedule"]


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


def cyclical(period_steps: int, ratio: float = 0.5, final: float = 1.0, num_cycles: int | None = None):
    """Cyclical KL annealing (Fu et al. 2019): ``beta`` restarts from 0 every ``period_steps`` steps.

    With ``tau = (step mod period_steps) / period_steps``, the phase within a cycle,

        beta(step) = final * min(1, tau / ratio),

    so within each cycle beta rises linearly from 0 to ``final`` over the first ``ratio`` of the
    cycle and stays at ``final`` for the rest. After ``num_cycles`` cycles (``step >= num_cycles *
    period_steps``) beta stays at ``final``; ``num_cycles=None`` cycles forever. Fu et al. use
    ``ratio = 0.5`` and M = 4 cycles over training: ``period_steps = total_steps // 4``.

    Example:
      >>> beta = cyclical(100, ratio=0.5, final=1.0, num_cycles=2)
      >>> [round(float(beta(s)), 3) for s in (0, 25, 50, 99, 100, 125, 200, 225)]
      [0.0, 0.5, 1.0, 1.0, 0.0, 0.5, 1.0, 1.0]

    References:
      Fu, Li, Liu, Gao, Celikyilmaz & Carin (2019), Cyclical Annealing Schedule: A Simple Approach
      to Mitigating KL Vanishing, NAACL.
    """
    if isinstance(period_steps, bool) or not isinstance(period_steps, int) or period_steps <= 0:
        raise ValueError(f"cyclical: period_steps must be a positive int, got {period_steps!r}")
    if not 0.0 < float(ratio) <= 1.0:
        raise ValueError(f"cyclical: ratio must be in (0, 1], got {ratio!r}")
    if float(final) < 0:
        raise ValueError(f"cyclical: final must be >= 0, got {final!r}")
    if num_cycles is not None and (isinstance(num_cycles, bool) or not isinstance(num_cycles, int) or num_cycles <= 0):
        raise ValueError(f"cyclical: num_cycles must be a positive int or None, got {num_cycles!r}")
    ratio, final = float(ratio), float(final)

    def schedule(step):
        step = tf.cast(step, tf.int64)
        tau = tf.cast(tf.math.floormod(step, period_steps), tf.float32) / float(period_steps)
        beta = final * tf.minimum(1.0, tau / ratio)
        if num_cycles is not None:
            beta = tf.where(step >= num_cycles * period_steps, tf.constant(final, tf.float32), beta)
        return beta

    schedule.config = {"kind": "cyclical", "period_steps": period_steps, "ratio": ratio, "final": final,
                       "num_cycles": num_cycles}
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
