"""Stateless seeds. TFP treats a Python int seed as *stateful* (``sanitize_seed(3)`` differs call to
call), so every tfpvae entry point maps an int ``n`` to the stateless seed ``[0, n]`` instead."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp


def as_seed(seed, salt: str | None = None) -> tf.Tensor:
    """Shape-[2] int32 stateless seed: an int ``n`` -> ``[0, n]``; a tensor/pair as is; ``None`` -> fresh random."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        seed = tf.constant([0, int(seed)], dtype=tf.int32)
    return tfp.random.sanitize_seed(seed, salt=salt) if salt else tfp.random.sanitize_seed(seed)
