"""Reusable check for distributions with a fast sample-and-log-prob path (flow posteriors)."""
from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae.flows.networks import stateless_seed

tfd = tfp.distributions


def assert_sample_and_log_prob_consistent(dist: tfd.Distribution, seed, *, sample_shape=(3,),
                                          atol: float = 1e-4, rtol: float = 1e-4) -> None:
    """Checks `experimental_sample_and_log_prob` against `log_prob` of the same points (AssertionError).

    The log_prob is recomputed on a fresh tensor (no bijector cache), so a flow posterior is inverted here:
    for an IAF that costs D passes per step, fine in a test. Also checks shape sample_shape + batch_shape.
    """
    z, log_prob = dist.experimental_sample_and_log_prob(sample_shape, seed=stateless_seed(seed))
    expected_shape = tuple(sample_shape) + tuple(dist.batch_shape)
    if tuple(log_prob.shape) != expected_shape:
        raise AssertionError(f"sample_and_log_prob log-prob shape {tuple(log_prob.shape)}, expected "
                             f"{expected_shape}")
    recomputed = dist.log_prob(tf.identity(z)).numpy()
    if not np.all(np.isfinite(log_prob.numpy())):
        raise AssertionError(f"sample_and_log_prob gave non-finite log-probs: {log_prob.numpy()}")
    err = np.abs(log_prob.numpy() - recomputed)
    if np.any(err > atol + rtol * np.abs(recomputed)):
        raise AssertionError(f"sample_and_log_prob vs log_prob of the same points: max abs error "
                             f"{err.max():.3g} > atol {atol:g} + rtol {rtol:g} * |log_prob|")
