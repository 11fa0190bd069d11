"""Schedules for per-step weights such as the KL weight beta: callables ``step -> float tensor``.

Every number that configures a schedule is checked when it is built: a NaN, an infinity or a negative
weight is a ValueError naming the schedule and the argument, never a NaN loss steps later.
"""

from __future__ import annotations

import tensorflow as tf

from tfpvae._validation import FLOAT32_MAX, integer, real_number

__all__ = ["constant", "linear_warmup", "cyclical", "as_schedule"]


def constant(value: float):
    """``beta(step) = value``, a float in ``[0, FLOAT32_MAX]`` (a float32 weight: never NaN or inf)."""
    value = real_number(value, "constant", "value", low=0.0, high=FLOAT32_MAX)

    def schedule(step):
        return tf.constant(value, tf.float32)

    schedule.config = {"kind": "constant", "value": value}
    return schedule


def linear_warmup(warmup_steps: int, final: float = 1.0, initial: float = 0.0, delay: int = 0):
    """``beta`` held at ``initial`` for ``delay`` steps, then linear to ``final`` over ``warmup_steps``
    (the KL annealing of Bowman et al. 2016 / Sønderby et al. 2016), then constant.

    ``warmup_steps`` is an int >= 1, ``delay`` an int >= 0, ``initial`` and ``final`` floats in ``[0, FLOAT32_MAX]``.
    """
    warmup_steps = integer(warmup_steps, "linear_warmup", "warmup_steps", low=1)
    delay = integer(delay, "linear_warmup", "delay", low=0)
    initial = real_number(initial, "linear_warmup", "initial", low=0.0, high=FLOAT32_MAX)
    final = real_number(final, "linear_warmup", "final", low=0.0, high=FLOAT32_MAX)

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
    ratio = real_number(ratio, "cyclical", "ratio", low=0.0, low_open=True, high=1.0)
    final = real_number(final, "cyclical", "final", low=0.0, high=FLOAT32_MAX)
    if num_cycles is not None and (isinstance(num_cycles, bool) or not isinstance(num_cycles, int) or num_cycles <= 0):
        raise ValueError(f"cyclical: num_cycles must be a positive int or None, got {num_cycles!r}")

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


def as_schedule(value, component: str = "as_schedule", what: str = "beta"):
    """A number becomes :func:`constant`; a callable (a schedule ``step -> float``) is returned unchanged.

    Args:
      value: a finite float >= 0, or a callable.
      component, what: named in the error (``ELBO`` / ``beta``, ``BayesianELBO`` / ``kl_weight``).

    Raises:
      ValueError: ``"{component}: {what} must be a finite float >= 0 or a schedule callable step -> float,
      got ..."`` for NaN, inf, a negative number, a bool, a string or anything else.
    """
    if callable(value):
        return value
    try:
        return constant(real_number(value, component, what, low=0.0, high=FLOAT32_MAX))
    except ValueError:
        raise ValueError(f"{component}: {what} must be a finite float >= 0 or a schedule callable step -> float, "
                         f"got {value!r}") from None
