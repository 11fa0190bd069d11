"""The evidence lower bound, configured once and called per batch."""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae._seeds import as_seed
from tfpvae._validation import FLOAT32_MAX, check_event_shape, positive_int, real_number
from tfpvae.objectives.schedules import as_schedule

tfd = tfp.distributions

__all__ = ["ELBO", "ELBOTerms", "KL_MODES", "free_bits_kl"]

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
      beta: KL weight, a finite float >= 0 or a schedule ``step -> beta`` (:mod:`tfpvae.objectives.schedules`).
      free_bits: ``None`` (off) or the finite floor ``lambda >= 0`` in nats of free bits (Kingma et al. 2016):
        the KL term of the LOSS becomes ``sum_g max(lambda, mean_batch KL_g)`` over latent groups
        ``g``, so no group is pushed below ``lambda`` nats (see :func:`free_bits_kl` for how it is
        spread over the per-example ``loss``). ``elbo`` and ``kl`` stay the true bound and KL.
      free_bits_groups: ``None``: every latent dimension is its own group (per-dimension KL: the
        analytic per-dimension KL of a factorised posterior and prior, or its Monte Carlo estimate
        ``mean_s [log q_j(z_j) - log p_j(z_j)]`` with ``kl="monte_carlo"``); an int ``G``: ``G``
        contiguous groups of ``latent_dim / G`` dimensions; ``G = 1`` floors the total KL and also
        works with flow posteriors and mixture priors (which have no per-dimension KL).

    Call ``elbo(model, x, seed=seed, step=step)`` with a model that has ``prior``, ``encode`` and
    ``decode`` (:class:`tfpvae.models.VAE`); ``x`` is ``[batch, *event_shape]``.

    Example:
      >>> objective = ELBO(num_samples=1, kl="analytic", beta=1.0)  # doctest: +SKIP
      >>> terms = objective(vae, x, seed=[0, 1]); loss = tf.reduce_mean(terms.loss)  # doctest: +SKIP
      >>> ELBO(beta=cyclical(1000), free_bits=0.25)  # doctest: +SKIP

    References:
      Kingma & Welling (2014), Auto-Encoding Variational Bayes; free bits: Kingma et al. (2016),
      Improved Variational Inference with Inverse Autoregressive Flow.
    """

    def __init__(self, num_samples: int = 1, kl: str = "auto", beta=1.0, free_bits: float | None = None,
                 free_bits_groups: int | None = None):
        positive_int(num_samples, "ELBO", "num_samples")
        if kl not in KL_MODES:
            raise ValueError(f"ELBO: kl must be one of {KL_MODES}, got {kl!r}")
        if free_bits is not None:
            try:
                free_bits = real_number(free_bits, "ELBO", "free_bits", low=0.0, high=FLOAT32_MAX)
            except ValueError:
                raise ValueError(f"ELBO: free_bits must be None or a float >= 0 (nats; finite), got {free_bits!r}") \
                    from None
        if free_bits_groups is not None and (isinstance(free_bits_groups, bool) or not isinstance(free_bits_groups, int)
                                             or free_bits_groups < 1):
            raise ValueError(f"ELBO: free_bits_groups must be None or a positive int, got {free_bits_groups!r}")
        if free_bits is None and free_bits_groups is not None:
            raise ValueError("ELBO: free_bits_groups needs free_bits (the floor lambda)")
        self.num_samples, self.kl, self.beta = num_samples, kl, as_schedule(beta, "ELBO", "beta")
        self.free_bits = free_bits
        self.free_bits_groups = free_bits_groups

    @property
    def config(self) -> dict:
        config = {"objective": "elbo", "num_samples": self.num_samples, "kl": self.kl,
                  "beta": getattr(self.beta, "config", repr(self.beta))}
        if self.free_bits is not None:
            config.update(free_bits=self.free_bits, free_bits_groups=self.free_bits_groups)
        return config

    def __call__(self, model, x, *, seed=None, step=0) -> ELBOTerms:
        x = tf.convert_to_tensor(x)
        q = model.encode(x)
        seed = as_seed(seed)
        if self.free_bits is None:
            z, kl = self._sample_and_kl(q, model.prior, seed)
            kl_term = kl
        else:
            z, kl_groups = self._sample_and_group_kl(q, model.prior, seed)
            kl = tf.reduce_sum(kl_groups, axis=-1)
            kl_term = free_bits_kl(kl_groups, self.free_bits)
        log_lik = tf.reduce_mean(_log_likelihood(model, z, x, self.num_samples), axis=0)
        beta = tf.cast(self.beta(step), kl.dtype)
        return ELBOTerms(loss=-(log_lik - beta * kl_term), elbo=log_lik - kl, log_likelihood=log_lik, kl=kl)

    def _sample_and_kl(self, q, prior, seed):
        """``z [S, B, D]`` and the per-example KL ``[B]`` (analytic, or MC with log q from the sampling pass)."""
        kl = self._analytic_kl(q, prior)
        if kl is None:
            z, log_q = q.experimental_sample_and_log_prob(self.num_samples, seed=seed)
            return z, tf.reduce_mean(log_q - prior.log_prob(z), axis=0)
        return q.sample(self.num_samples, seed=seed), kl

    def _sample_and_group_kl(self, q, prior, seed):
        """``z [S, B, D]`` and the KL of each latent group ``[B, G]`` (per dimension when G = D)."""
        if self.free_bits_groups == 1:
            z, kl = self._sample_and_kl(q, prior, seed)
            return z, kl[:, tf.newaxis]
        q_dims, p_dims = _factorised(q), _factorised(prior)
        if q_dims is None or p_dims is None:
            raise ValueError(f"ELBO(free_bits=...): a per-dimension KL needs a factorised posterior and prior "
                             f"(tfd.Independent over scalar distributions), got {type(q).__name__} and "
                             f"{type(prior).__name__}; use free_bits_groups=1 to floor the total KL instead")
        z = q.sample(self.num_samples, seed=seed)
        kl_dims = self._analytic_kl(q_dims, p_dims)
        if kl_dims is None:
            kl_dims = tf.reduce_mean(q_dims.log_prob(z) - p_dims.log_prob(z), axis=0)
        kl_dims = kl_dims + tf.zeros_like(z[0])  # a prior without batch dims broadcasts to [B, D]
        latent = kl_dims.shape[-1]
        groups = latent if self.free_bits_groups is None else self.free_bits_groups
        if latent % groups:
            raise ValueError(f"ELBO: free_bits_groups={groups} must divide latent_dim={latent}")
        return z, tf.reduce_sum(tf.reshape(kl_dims, [-1, groups, latent // groups]), axis=-1)

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


def free_bits_kl(kl_groups: tf.Tensor, free_bits: float) -> tf.Tensor:
    """The free-bits KL term per example (Kingma et al. 2016), shape ``[B]``.

    Args:
      kl_groups: ``[B, G]``, the KL of each latent group per example.
      free_bits: the floor ``lambda`` in nats.

    With ``m_g = mean_b KL_bg`` the batch objective's KL term is ``sum_g max(lambda, m_g)``. It is
    spread over examples as ``t_b = sum_g (KL_bg if m_g >= lambda else lambda)``, so
    ``mean_b t_b = sum_g max(lambda, m_g)`` exactly and a group under its floor contributes the
    constant ``lambda`` (no gradient: the encoder is not pushed to shrink it further). "Batch" is
    the batch the objective sees (a replica's share under ``tf.distribute``).

    References:
      Kingma, Salimans, Jozefowicz, Chen, Sutskever & Welling (2016), Improved Variational Inference
      with Inverse Autoregressive Flow, NeurIPS (appendix, "free bits").
    """
    kl_groups = tf.convert_to_tensor(kl_groups)
    floor = tf.cast(free_bits, kl_groups.dtype)
    batch_mean = tf.reduce_mean(kl_groups, axis=0)
    per_example = tf.where(batch_mean >= floor, kl_groups, floor * tf.ones_like(kl_groups))
    return tf.reduce_sum(per_example, axis=-1)


def _factorised(dist):
    """The scalar distribution under ``Independent(..., 1)``, so its log_prob/KL is per dimension; else None."""
    # a static check: inside tf.function reinterpreted_batch_ndims is a tensor, and `== 1` on it broke the trace
    if (isinstance(dist, tfd.Independent) and tf.get_static_value(dist.reinterpreted_batch_ndims) == 1
            and dist.distribution.event_shape.rank == 0):
        return dist.distribution
    return None


def _log_likelihood(model, z, x, num_samples: int) -> tf.Tensor:
    """``log p(x|z)`` for z ``[S, B, D]``: decoded as one batch of ``S * B``; returns ``[S, B]``."""
    batch = tf.shape(x)[0]
    flat_z = tf.reshape(z, [-1, z.shape[-1]])
    x_rep = x if num_samples == 1 else tf.tile(x, tf.concat([[num_samples], tf.ones([tf.rank(x) - 1], tf.int32)], 0))
    p = model.decode(flat_z)
    check_event_shape(x, p.event_shape, "ELBO", "the data batch x (decoder event shape)")
    return tf.reshape(p.log_prob(x_rep), [num_samples, batch])
