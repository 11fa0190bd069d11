"""Priors over the latent space. Any ``tfd.Distribution`` with event shape ``[latent_dim]`` works;
these are conveniences."""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae._validation import positive_int

tfd = tfp.distributions

__all__ = ["standard_normal", "learnable_normal"]


def standard_normal(latent_dim: int, dtype=tf.float32) -> tfd.Distribution:
    """``N(0, I)`` as ``Independent(Normal)``: event shape ``[latent_dim]``; analytic KL to a diagonal-normal
    posterior."""
    positive_int(latent_dim, "standard_normal", "latent_dim")
    return tfd.Independent(tfd.Normal(tf.zeros([latent_dim], dtype), tf.ones([latent_dim], dtype)), 1)


def learnable_normal(latent_dim: int, dtype=tf.float32) -> tfd.Distribution:
    """Diagonal normal with trainable mean and (softplus-positive) scale, initialised at ``N(0, I)``."""
    positive_int(latent_dim, "learnable_normal", "latent_dim")
    loc = tf.Variable(tf.zeros([latent_dim], dtype), name="prior_loc")
    scale = tfp.util.TransformedVariable(tf.ones([latent_dim], dtype), tfp.bijectors.Softplus(), name="prior_scale")
    return tfd.Independent(tfd.Normal(loc, scale), 1)
