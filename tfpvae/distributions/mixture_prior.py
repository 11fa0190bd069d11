"""Mixture-of-diagonal-Gaussians priors: a learnable mixture, and the VampPrior (Tomczak & Welling 2018).

Both are one distribution class, :class:`DiagonalNormalMixture`, whose components come from a
callable evaluated at every use: variables for :func:`mixture_of_gaussians`, the encoder at learnt
pseudo-inputs for :func:`vamp_prior` (so the prior moves with the encoder inside each train step).
``log_prob`` is written as two matrix products against the ``K`` components instead of TFP's
``MixtureSameFamily`` broadcast (``[..., K, latent_dim]`` intermediates), which keeps the prior
cheap next to the networks during training and bounded in memory in a K = 5000 evaluation.
There is no closed-form KL to these priors: the ELBO uses the Monte Carlo KL (``kl="auto"``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae._validation import check_last_dim, positive_int

tfd = tfp.distributions

__all__ = ["DiagonalNormalMixture", "LearnedComponents", "VampComponents", "mixture_of_gaussians", "vamp_prior"]


class DiagonalNormalMixture(tfd.Distribution):
    """``p(z) = sum_k softmax(logits)_k N(z; loc_k, diag(scale_k^2))`` over vectors of ``latent_dim``.

    Args:
      components: ``() -> (loc [K, latent_dim], scale [K, latent_dim], logits [K])``, called each
        time the density is evaluated or sampled (inside a ``tf.function`` that is once per trace
        call, so trainable parameters get gradients from every step). Make it a ``tf.Module``
        holding its variables as attributes (:class:`LearnedComponents`, :class:`VampComponents`)
        so they are tracked, trained and checkpointed by name; a closure would hide them.
      latent_dim: the event size.
      num_components: K.

    Scalar batch shape, event shape ``[latent_dim]``; ``log_prob`` takes ``z`` of shape
    ``[..., latent_dim]`` and returns ``[...]``.
    """

    def __init__(self, components: Callable, latent_dim: int, num_components: int, dtype=tf.float32,
                 name: str = "DiagonalNormalMixture"):
        parameters = dict(locals())
        self.components_fn = components  # an attribute, so variables of a tf.Module here are tracked
        self._latent_dim = positive_int(latent_dim, name, "latent_dim")
        self._num_components = positive_int(num_components, name, "num_components")
        super().__init__(dtype=dtype, reparameterization_type=tfd.NOT_REPARAMETERIZED, validate_args=False,
                         allow_nan_stats=True, parameters=parameters, name=name)

    @property
    def num_components(self) -> int:
        return self._num_components

    def components(self):
        """``(loc, scale, logits)`` as tensors, checked against ``[K, latent_dim]`` / ``[K]``."""
        loc, scale, logits = self.components_fn()
        k, d = self._num_components, self._latent_dim
        for what, t, shape in (("loc", loc, (k, d)), ("scale", scale, (k, d)), ("logits", logits, (k,))):
            if t.shape.rank is not None and tuple(t.shape) != shape and None not in t.shape:
                raise ValueError(f"{self.name}: component {what} has shape {tuple(t.shape)}, expected {shape}")
        return loc, scale, logits

    def _event_shape(self):
        return tf.TensorShape([self._latent_dim])

    def _event_shape_tensor(self):
        return tf.constant([self._latent_dim], tf.int32)

    def _batch_shape(self):
        return tf.TensorShape([])

    def _batch_shape_tensor(self):
        return tf.constant([], tf.int32)

    def _log_prob(self, z):
        check_last_dim(z, self._latent_dim, self.name, "z")
        loc, scale, logits = self.components()
        lead = tf.shape(z)[:-1]
        flat = tf.reshape(z, [-1, self._latent_dim])
        precision = tf.math.reciprocal(tf.square(scale))  # [K, D]
        # sum_d (z_d - mu_kd)^2 / s_kd^2 = z^2 . prec_k - 2 z . (mu prec)_k + mu_k^2 . prec_k
        quadratic = (tf.matmul(tf.square(flat), precision, transpose_b=True)
                     - 2.0 * tf.matmul(flat, loc * precision, transpose_b=True)
                     + tf.reduce_sum(tf.square(loc) * precision, axis=-1))  # [N, K]
        log_norm = -tf.reduce_sum(tf.math.log(scale), axis=-1) - 0.5 * self._latent_dim * math.log(2 * math.pi)
        per_component = -0.5 * tf.maximum(quadratic, 0.0) + log_norm + tf.nn.log_softmax(logits)
        return tf.reshape(tf.reduce_logsumexp(per_component, axis=-1), lead)

    def _sample_n(self, n, seed=None):
        loc, scale, logits = self.components()
        pick_seed, noise_seed = tfp.random.split_seed(seed, n=2)
        index = tf.random.stateless_categorical(logits[tf.newaxis], n, seed=pick_seed)[0]
        noise = tf.random.stateless_normal(tf.stack([n, self._latent_dim]), seed=noise_seed, dtype=loc.dtype)
        return tf.gather(loc, index) + tf.gather(scale, index) * noise

    def _mean(self):
        loc, _, logits = self.components()
        return tf.linalg.matvec(loc, tf.nn.softmax(logits), transpose_a=True)


def mixture_of_gaussians(latent_dim: int, num_components: int = 500, *, seed: int = 0,
                         dtype=tf.float32) -> DiagonalNormalMixture:
    """A prior with ``num_components`` trainable diagonal-normal components and trainable weights.

    Means start as draws from ``N(0, I)``, scales at 1 (softplus-parameterised), weights equal.
    """
    positive_int(latent_dim, "mixture_of_gaussians", "latent_dim")
    positive_int(num_components, "mixture_of_gaussians", "num_components")
    return DiagonalNormalMixture(LearnedComponents(latent_dim, num_components, seed=seed, dtype=dtype),
                                 latent_dim, num_components, dtype, name="mixture_of_gaussians")


def vamp_prior(encoder: Callable, pseudo_inputs, *, trainable: bool = True) -> DiagonalNormalMixture:
    """The VampPrior ``p(z) = 1/K sum_k q(z | u_k)`` (Tomczak & Welling 2018) with learnt pseudo-inputs ``u_k``.

    Args:
      encoder: the VAE's encoder, ``x -> q(z|x)`` (diagonal normal) or an ``Encoding`` whose
        ``distribution`` is. With a flow posterior the components are the encoder's diagonal
        normals *before* the flow (the flow's density at arbitrary points would cost ``latent_dim``
        network passes per component).
      pseudo_inputs: initial ``u``, ``[K, *event_shape]`` (e.g. K random training images); they are
        unconstrained trainable variables unless ``trainable=False``.

    Each evaluation of the prior runs the encoder on the K pseudo-inputs: in training, one extra
    encoder pass over K examples per step.

    Example:
      >>> from tfpvae import models
      >>> vae = models.mlp_vae((784,), latent_dim=8, hidden=(32,))
      >>> vae.prior = vamp_prior(vae.encoder, tf.random.uniform([20, 784], seed=1))
      >>> vae.prior.log_prob(tf.zeros([3, 8])).shape
      TensorShape([3])
    """
    components = VampComponents(encoder, pseudo_inputs, trainable=trainable)
    latent_dim = getattr(encoder, "latent_dim", None) or int(components()[0].shape[-1])  # no encoder pass if known
    prior = DiagonalNormalMixture(components, latent_dim, components.num_components, name="vamp_prior")
    prior.pseudo_inputs = components.pseudo_inputs
    return prior


class LearnedComponents(tf.Module):
    """``K`` trainable diagonal-normal components and mixture logits, held as tracked variables
    (``loc``, ``raw_scale``, ``logits``: checkpoints name them). Means start as draws from
    ``N(0, I)``, scales at 1 (``scale = softplus(raw_scale) + 1e-5``), weights equal."""

    def __init__(self, latent_dim: int, num_components: int, *, seed: int = 0, dtype=tf.float32):
        super().__init__(name="mixture_components")
        rng = np.random.default_rng(seed)
        self.loc = tf.Variable(rng.standard_normal((num_components, latent_dim)).astype(dtype.as_numpy_dtype),
                               name="prior_loc")
        self.raw_scale = tf.Variable(tf.fill([num_components, latent_dim], tf.constant(math.log(math.e - 1), dtype)),
                                     name="prior_raw_scale")
        self.logits = tf.Variable(tf.zeros([num_components], dtype), name="prior_logits")

    def __call__(self):
        return tf.convert_to_tensor(self.loc), tf.nn.softplus(self.raw_scale) + 1e-5, tf.convert_to_tensor(self.logits)


class VampComponents(tf.Module):
    """The VampPrior's components: the encoder's diagonal normals at the pseudo-inputs ``u``
    (a tracked variable ``pseudo_inputs``), equal weights."""

    def __init__(self, encoder: Callable, pseudo_inputs, *, trainable: bool = True):
        super().__init__(name="vamp_components")
        u = tf.convert_to_tensor(pseudo_inputs, tf.float32)
        if u.shape.rank is None or u.shape.rank < 2 or not u.shape[0]:
            raise ValueError(f"vamp_prior: pseudo_inputs must be [K, *event_shape] with K >= 1, got shape {u.shape}")
        self.encoder = encoder
        self.pseudo_inputs = tf.Variable(u, trainable=trainable, name="pseudo_inputs")
        self.num_components = int(u.shape[0])

    def __call__(self):
        q = self.encoder(tf.convert_to_tensor(self.pseudo_inputs))
        q = getattr(q, "distribution", q)
        return q.mean(), q.stddev(), tf.zeros([self.num_components], q.dtype)
