"""The importance-weighted bound (Burda et al. 2016) as a training objective, and its log-weights.

``log w_k = log p(x|z_k) + log p(z_k) - log q(z_k|x)`` with ``z_k ~ q(z|x)``;
``IWAE_K(x) = log (1/K) sum_k w_k <= log p(x)``, non-decreasing in K in expectation and equal to the
ELBO for K = 1. :mod:`tfpvae.evaluation` uses the same log-weights with large K, in chunks.
"""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from tfpvae._validation import check_event_shape, positive_int
from tfpvae._seeds import as_seed

__all__ = ["IWAE", "IWAETerms", "log_weights", "log_mean_exp"]


def log_mean_exp(values: tf.Tensor, axis: int = 0) -> tf.Tensor:
    """``log mean exp`` along ``axis``, stably: ``reduce_logsumexp - log n``."""
    n = tf.cast(tf.shape(values)[axis], values.dtype)
    return tf.reduce_logsumexp(values, axis=axis) - tf.math.log(n)


def log_weights(model, x: tf.Tensor, num_samples: int, seed) -> tf.Tensor:
    """Importance log-weights ``log p(x, z) - log q(z|x)`` for ``num_samples`` draws per example.

    Args:
      model: has ``prior``, ``encode(x) -> q(z|x)`` and ``decode(z) -> p(x|z)`` (the VAE protocol).
      x: ``[B, *event_shape]``.
      num_samples: K, a Python int.
      seed: a shape-[2] int tensor (reproducible); anything ``tfp.random.sanitize_seed`` takes.

    Returns:
      ``[K, B]``. ``z`` and ``log q`` come from one ``q.experimental_sample_and_log_prob`` pass (a flow
      posterior is never inverted); the ``K * B`` latents are decoded as one batch ``[K * B, D]``.
    """
    x = tf.convert_to_tensor(x)
    q = model.encode(x)
    z, log_q = q.experimental_sample_and_log_prob(num_samples, seed=as_seed(seed))
    batch = tf.shape(x)[0]
    latent = z.shape[-1] if z.shape[-1] is not None else tf.shape(z)[-1]
    p = model.decode(tf.reshape(z, [-1, latent]))
    check_event_shape(x, p.event_shape, "log_weights", "the data batch x (decoder event shape)")
    x_rep = tf.reshape(tf.broadcast_to(x[tf.newaxis], tf.concat([[num_samples], tf.shape(x)], 0)),
                       tf.concat([[-1], tf.shape(x)[1:]], 0))
    log_lik = tf.reshape(p.log_prob(x_rep), [num_samples, batch])
    return log_lik + model.prior.log_prob(z) - log_q


class IWAETerms(NamedTuple):
    """Per-example terms, each ``[batch]``: ``elbo`` is the K-sample importance-weighted ELBO
    ``log (1/K) sum_k w_k`` (Burda et al.'s bound ``L_K``; ``L_1`` is the ELBO), ``loss = -elbo``.

    The field is named ``elbo`` as in :class:`~tfpvae.objectives.ELBOTerms`, so the reported bound has
    one name whichever objective trained the model (until tfpvae 0.2 it was called ``bound``)."""

    loss: tf.Tensor
    elbo: tf.Tensor


class IWAE:
    """Importance-weighted autoencoder objective ``-log (1/K) sum_k w_k`` (Burda et al. 2016).

    Args:
      num_samples: K >= 1; K = 1 is the ELBO with a Monte Carlo KL (its gradient is the VAE's);
        Burda et al. train with K = 5 or 50. Memory and time grow linearly in K.

    Works with any posterior the VAE's ``encode`` returns (flows included: ``log q`` is taken in the
    sampling pass) and any decoder. Call ``iwae(model, x, seed=seed, step=step)``; ``step`` is unused.

    Example:
      >>> objective = IWAE(num_samples=5)  # doctest: +SKIP
      >>> tfpvae.training.fit(vae, objective, data, epochs=10)  # doctest: +SKIP
    """

    def __init__(self, num_samples: int = 5):
        self.num_samples = positive_int(num_samples, "IWAE", "num_samples")

    @property
    def config(self) -> dict:
        return {"objective": "iwae", "num_samples": self.num_samples}

    def __call__(self, model, x, *, seed=None, step=0) -> IWAETerms:
        lw = log_weights(model, x, self.num_samples, seed)
        elbo = log_mean_exp(lw, axis=0)
        return IWAETerms(loss=-elbo, elbo=elbo)
