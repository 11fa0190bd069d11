"""The evidence lower bound, configured once and called per batch."""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae._seeds import as_seed
from tfpvae._validation import check_event_shape
from tfpvae.objectives.schedules import as_schedule

tfd = tfp.distributions

__all__ = ["ELBO", "ELBOTerms", "KL_MODES"]

KL_MODES = ("auto", "analytic", "monte_carlo")


class ELBOTerms(NamedTuple):
    """Per-example terms, each of shape ``[batch]``. ``elbo = log_likelihood - kl`` (beta-free: the
    bound you report); ``loss = -(log_likelihood - beta * kl)`` (what is minimised)."""

    loss: tf.Tensor
    elbo: tf.Tensor
    log_likelihood: tf.Tensor
    kl: tf.Tensor


class ELBO:
    """``ELBO(x) = E_q(z|x)[log p(x|z)] - KL(q(z|x) || p(z))`` (Kingma & Welling 2014).

    Args:
      num_samples: Monte Carlo samples of z per example for the expectation.
      kl: ``"analytic"`` uses ``tfd.kl_divergence`` (diagonal normal posterior and prior);
        ``"monte_carlo"`` uses ``log q(z|x) - log p(z)`` at the sampled z, with ``log q`` from the
        same pass as the sample (required for flow posteriors, and exact in expectation);
        ``"auto"`` is analytic when TFP has a closed form for the pair, else Monte Carlo.
      beta: KL weight, a float or a schedule ``step -> beta`` (:mod:`tfpvae.objectives.schedules`).

    Call ``elbo(model, x, seed=seed, step=step)`` with a model that has ``prior``, ``encode`` and
    ``decode`` (:class:`tfpvae.models.VAE`); ``x`` is ``[batch, *event_shape]``.

    Example:
      >>> objective = ELBO(num_samples=1, kl="analytic", beta=1.0)  # doctest: +SKIP
      >>> terms = objective(vae, x, seed=[0, 1]); loss = tf.reduce_mean(terms.loss)  # doctest: +SKIP
    """

    def __init__(self, num_samples: int = 1, kl: str = "auto", beta=1.0):
        if not isinstance(num_samples, int) or num_samples < 1:
            raise ValueError(f"ELBO: num_samples must be a positive int, got {num_samples!r}")
        if kl not in KL_MODES:
            raise ValueError(f"ELBO: kl must be one of {KL_MODES}, got {kl!r}")
        self.num_samples, self.kl, self.beta = num_samples, kl, as_schedule(beta)

    @property
    def config(self) -> dict:
        return {"objective": "elbo", "num_samples": self.num_samples, "kl": self.kl,
                "beta": getattr(self.beta, "config", repr(self.beta))}

    def __call__(self, model, x, *, seed=None, step=0) -> ELBOTerms:
        x = tf.convert_to_tensor(x)
        q = model.encode(x)
        seed = as_seed(seed)
        kl = self._analytic_kl(q, model.prior)
        if kl is None:
            z, log_q = q.experimental_sample_and_log_prob(self.num_samples, seed=seed)
            kl = tf.reduce_mean(log_q - model.prior.log_prob(z), axis=0)
        else:
            z = q.sample(self.num_samples, seed=seed)
        log_lik = tf.reduce_mean(_log_likelihood(model, z, x, self.num_samples), axis=0)
        beta = tf.cast(self.beta(step), kl.dtype)
        return ELBOTerms(loss=-(log_lik - beta * kl), elbo=log_lik - kl, log_likelihood=log_lik, kl=kl)

    def _analytic_kl(self, q, prior):
        if self.kl == "monte_carlo":
            return None
        try:
            return tfd.kl_divergence(q, prior)
        except NotImplementedError:
            if self.kl == "analytic":
                raise ValueError(f"ELBO(kl='analytic'): TFP has no closed-form KL between {type(q).__name__} and "
                                 f"{type(prior).__name__} (flow posteriors need kl='monte_carlo' or 'auto')") from None
            return None


def _log_likelihood(model, z, x, num_samples: int) -> tf.Tensor:
    """``log p(x|z)`` for z ``[S, B, D]``: decoded as one batch of ``S * B``; returns ``[S, B]``."""
    batch = tf.shape(x)[0]
    flat_z = tf.reshape(z, [-1, z.shape[-1]])
    x_rep = x if num_samples == 1 else tf.tile(x, tf.concat([[num_samples], tf.ones([tf.rank(x) - 1], tf.int32)], 0))
    p = model.decode(flat_z)
    check_event_shape(x, p.event_shape, "ELBO", "the data batch x (decoder event shape)")
    return tf.reshape(p.log_prob(x_rep), [num_samples, batch])
