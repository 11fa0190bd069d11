"""Heads: map a network's flat output to a ``tfd.Distribution``.

A head knows how many numbers it needs per example (``num_params``) and how to turn a tensor of
shape ``[..., num_params]`` into a distribution whose event shape is the data's (or the latent's).
Networks produce parameters; heads give them meaning; encoders and decoders are a network plus a
head. Parameters are laid out ``event_shape + [k]`` (parameter index last), so a conv net with
``k * C`` output channels and an MLP with ``k * prod(event_shape)`` outputs both fit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae._validation import check_last_dim, positive_int, shape_tuple

tfd = tfp.distributions

__all__ = ["DiagonalNormalHead", "BernoulliHead", "GaussianHead", "SCALE_TRANSFORMS"]


def _softplus_scale(raw: tf.Tensor, min_scale: float) -> tf.Tensor:
    return tf.nn.softplus(raw) + min_scale


def _log_var_scale(raw: tf.Tensor, min_scale: float) -> tf.Tensor:
    return tf.exp(0.5 * raw) + min_scale


SCALE_TRANSFORMS = {"softplus": _softplus_scale, "log_var": _log_var_scale}


def _scale_fn(scale: str, component: str):
    if scale not in SCALE_TRANSFORMS:
        raise ValueError(f"{component}: scale must be one of {sorted(SCALE_TRANSFORMS)}, got {scale!r}")
    return SCALE_TRANSFORMS[scale]


class _Head:
    """Shared reshaping: flat ``[..., num_params]`` -> ``[..., *event_shape, k]`` unstacked on k."""

    num_params_per_dim: int = 1

    def __init__(self, event_shape: Sequence[int]):
        self.event_shape = shape_tuple(event_shape, type(self).__name__)
        self.num_params = self.num_params_per_dim * math.prod(self.event_shape)

    def _split(self, params: tf.Tensor) -> list[tf.Tensor]:
        params = tf.convert_to_tensor(params)
        check_last_dim(params, self.num_params, type(self).__name__, "parameter tensor")
        batch = tf.shape(params)[:-1]
        shaped = tf.reshape(params, tf.concat([batch, self.event_shape, [self.num_params_per_dim]], 0))
        return tf.unstack(shaped, num=self.num_params_per_dim, axis=-1)

    def _independent(self, dist: tfd.Distribution) -> tfd.Distribution:
        return tfd.Independent(dist, reinterpreted_batch_ndims=len(self.event_shape))


class DiagonalNormalHead(_Head):
    """Diagonal Gaussian ``N(mu, diag(sigma^2))`` over a latent vector: the VAE encoder head.

    ``num_params = 2 * latent_dim`` (mean, then raw scale, interleaved per dimension).
    ``scale="softplus"``: ``sigma = softplus(raw) + min_scale``; ``scale="log_var"``: the raw
    output is ``log sigma^2`` as in Kingma & Welling (2014), ``sigma = exp(raw / 2) + min_scale``.

    Returns ``Independent(Normal(mu, sigma), 1)``: batch shape ``[...]``, event ``[latent_dim]``;
    its KL to a standard-normal prior of the same form is analytic.
    """

    num_params_per_dim = 2

    def __init__(self, latent_dim: int, scale: str = "softplus", min_scale: float = 1e-5):
        positive_int(latent_dim, "DiagonalNormalHead", "latent_dim")
        super().__init__((latent_dim,))
        self.latent_dim = latent_dim
        self.scale, self.min_scale = scale, min_scale
        self._scale_fn = _scale_fn(scale, "DiagonalNormalHead")

    def __call__(self, params: tf.Tensor) -> tfd.Distribution:
        loc, raw = self._split(params)
        return self._independent(tfd.Normal(loc, self._scale_fn(raw, self.min_scale)))


class BernoulliHead(_Head):
    """Independent Bernoulli over binary data, parameterised by logits (``num_params = prod(event_shape)``).

    ``log p(x|z) = sum_i [x_i * l_i - softplus(l_i)]``; one number per example (summed over the
    event). Samples are float32 so they can be fed back to a network.
    """

    def __call__(self, params: tf.Tensor) -> tfd.Distribution:
        (logits,) = self._split(params)
        return self._independent(tfd.Bernoulli(logits=logits, dtype=tf.float32))


class GaussianHead(_Head, tf.Module):
    """Independent Gaussian over real-valued data (the Gaussian-MLP decoder of Kingma & Welling).

    Three ways to get the standard deviation ``sigma``:

    - learned per pixel, ``scale="log_var"`` (default) or ``"softplus"``: the network emits mean and
      raw scale per dimension (``num_params = 2 * prod(event_shape)``), ``sigma`` as in
      :data:`SCALE_TRANSFORMS` plus ``min_scale``;
    - fixed, ``scale=<float>``: only means are emitted and ``-log p(x|z) = ||x - mu||^2 / (2 sigma^2)
      + D log(sigma sqrt(2 pi))``, squared error up to constants;
    - learned and shared, ``scale="shared"``: only means are emitted; one trainable scalar
      ``self.log_scale`` (a tracked ``tf.Variable``, so ``tf.train.Checkpoint`` and
      :func:`tfpvae.training.trainable_variables` both find it) gives ``sigma = exp(log_scale) +
      min_scale`` for every dimension, initialised at ``sigma = init_scale``.

    The head is a ``tf.Module`` so that the shared variable is part of the model it sits in.

    Example:
      >>> head = GaussianHead((4,), scale="shared", init_scale=0.5)
      >>> [v.name for v in head.trainable_variables], head.num_params
      (['gaussian_log_scale:0'], 4)

    References:
      Kingma & Welling (2014), Auto-Encoding Variational Bayes, appendix C.2.
    """

    def __init__(self, event_shape: Sequence[int], scale: str | float = "log_var", min_scale: float = 1e-3,
                 init_scale: float = 1.0):
        tf.Module.__init__(self, name="gaussian_head")
        self.fixed_scale = None if isinstance(scale, str) else float(scale)
        if self.fixed_scale is not None and self.fixed_scale <= 0:
            raise ValueError(f"GaussianHead: a fixed scale must be > 0, got {scale!r}")
        self.shared = scale == "shared"
        self.num_params_per_dim = 1 if (self.fixed_scale is not None or self.shared) else 2
        _Head.__init__(self, event_shape)
        self.scale, self.min_scale = scale, min_scale
        self.log_scale = None
        self._scale_fn = None
        if self.shared:
            if not init_scale > min_scale:
                raise ValueError(f"GaussianHead: init_scale must exceed min_scale {min_scale}, got {init_scale!r}")
            self.log_scale = tf.Variable(math.log(init_scale - min_scale), dtype=tf.float32, name="gaussian_log_scale")
        elif self.fixed_scale is None:
            if scale not in SCALE_TRANSFORMS:
                raise ValueError(f"GaussianHead: scale must be one of {sorted(SCALE_TRANSFORMS)}, 'shared' or a "
                                 f"positive float, got {scale!r}")
            self._scale_fn = SCALE_TRANSFORMS[scale]

    @property
    def config(self) -> dict:
        return {"head": "gaussian", "scale": self.scale, "min_scale": self.min_scale}

    def __call__(self, params: tf.Tensor) -> tfd.Distribution:
        parts = self._split(params)
        if self.fixed_scale is not None:
            return self._independent(tfd.Normal(parts[0], self.fixed_scale))
        if self.shared:
            sigma = tf.exp(self.log_scale) + self.min_scale
            return self._independent(tfd.Normal(parts[0], sigma * tf.ones_like(parts[0])))
        return self._independent(tfd.Normal(parts[0], self._scale_fn(parts[1], self.min_scale)))
