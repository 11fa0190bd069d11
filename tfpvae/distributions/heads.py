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
from tfpvae._validation import FLOAT32_MAX, FLOAT32_TINY, real_number

tfd = tfp.distributions

__all__ = ["DiagonalNormalHead", "BernoulliHead", "GaussianHead", "SCALE_TRANSFORMS", "LOG_VAR_RANGE", "SCALE_RANGE"]


# The learnt part of a scale (before ``min_scale`` is added) is confined to [exp(-15), exp(10)] ~ [3.1e-7, 2.2e4]:
# the log-variance to [-30, 20] (the clamp of e.g. the latent-diffusion autoencoders). Without it exp(raw / 2)
# overflows to inf for raw > ~177 and softplus / exp underflow to 0 for raw < ~-104 (-208), and log_prob, the
# KL (which needs sigma^2, inf beyond sigma ~ 1.8e19) and samples turn NaN; within it sigma^2, 1 / sigma^2, the
# KL and a batch's sum of them are finite in float32.
LOG_VAR_RANGE = (-30.0, 20.0)
SCALE_RANGE = (math.exp(LOG_VAR_RANGE[0] / 2), math.exp(LOG_VAR_RANGE[1] / 2))
_LOG_SCALE_RANGE = (LOG_VAR_RANGE[0] / 2, LOG_VAR_RANGE[1] / 2)
_SOFTPLUS_RANGE = (math.log(math.expm1(SCALE_RANGE[0])), SCALE_RANGE[1])  # softplus maps it onto SCALE_RANGE


def _clip_through(raw: tf.Tensor, low: float, high: float) -> tf.Tensor:
    """``clip(raw, low, high)`` whose gradient is the identity (straight through).

    A plain clip has zero gradient outside the range, so a unit that overshoots (a log-variance of 40)
    would stay clipped for good; passing the gradient through lets the loss pull it back (the KL's
    gradient at the clipped value pushes a too-large scale down). NaN stays NaN.
    """
    @tf.custom_gradient
    def clip(x):
        return tf.clip_by_value(x, low, high), lambda dy: dy

    return clip(tf.convert_to_tensor(raw))


def _softplus_scale(raw: tf.Tensor, min_scale: float) -> tf.Tensor:
    return tf.nn.softplus(_clip_through(raw, *_SOFTPLUS_RANGE)) + min_scale


def _log_var_scale(raw: tf.Tensor, min_scale: float) -> tf.Tensor:
    return tf.exp(0.5 * _clip_through(raw, *LOG_VAR_RANGE)) + min_scale


SCALE_TRANSFORMS = {"softplus": _softplus_scale, "log_var": _log_var_scale}


def _scale_fn(scale: str, component: str):
    if not isinstance(scale, str) or scale not in SCALE_TRANSFORMS:
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
    Either way the learnt part lies in :data:`SCALE_RANGE` (the log-variance is clipped to
    :data:`LOG_VAR_RANGE` = [-30, 20], the gradient passing straight through), so a diverging
    network's raw output of 200 or -1e4 gives a finite scale, density, sample and KL, never NaN.

    Args:
      latent_dim: a positive int.
      scale: ``"softplus"`` or ``"log_var"``.
      min_scale: a finite float in ``[0, SCALE_RANGE[1]]`` added to ``sigma`` (0 reproduces Kingma & Welling).

    Returns ``Independent(Normal(mu, sigma), 1)``: batch shape ``[...]``, event ``[latent_dim]``;
    its KL to a standard-normal prior of the same form is analytic.
    """

    num_params_per_dim = 2

    def __init__(self, latent_dim: int, scale: str = "softplus", min_scale: float = 1e-5):
        positive_int(latent_dim, "DiagonalNormalHead", "latent_dim")
        super().__init__((latent_dim,))
        self.latent_dim = latent_dim
        self._scale_fn = _scale_fn(scale, "DiagonalNormalHead")
        self.scale, self.min_scale = scale, real_number(min_scale, "DiagonalNormalHead", "min_scale", low=0.0,
                                                                high=SCALE_RANGE[1])

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

    Learnt scales (per pixel or shared) are confined to :data:`SCALE_RANGE` plus ``min_scale``, as in
    :class:`DiagonalNormalHead`. ``min_scale`` is a finite float in ``[0, SCALE_RANGE[1]]``; a fixed
    scale a finite float > 0; anything else (NaN, inf, a negative or a bool) is a ValueError.

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
        self.fixed_scale = None
        if not isinstance(scale, str):
            self.fixed_scale = real_number(scale, "GaussianHead", "a fixed scale", low=FLOAT32_TINY,
                                           high=FLOAT32_MAX)
        self.shared = scale == "shared"
        self.num_params_per_dim = 1 if (self.fixed_scale is not None or self.shared) else 2
        _Head.__init__(self, event_shape)
        self.scale, self.min_scale = scale, real_number(min_scale, "GaussianHead", "min_scale", low=0.0,
                                                                  high=SCALE_RANGE[1])
        self.log_scale = None
        self._scale_fn = None
        if self.shared:
            init_scale = real_number(init_scale, "GaussianHead", "init_scale")
            if not SCALE_RANGE[0] <= init_scale - self.min_scale <= SCALE_RANGE[1]:
                raise ValueError(f"GaussianHead: init_scale - min_scale must lie in SCALE_RANGE [{SCALE_RANGE[0]:.3g}, "
                                 f"{SCALE_RANGE[1]:.3g}], got init_scale={init_scale!r}, min_scale={min_scale!r}")
            self.log_scale = tf.Variable(math.log(init_scale - self.min_scale), dtype=tf.float32,
                                         name="gaussian_log_scale")
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
            sigma = tf.exp(_clip_through(self.log_scale, *_LOG_SCALE_RANGE)) + self.min_scale
            return self._independent(tfd.Normal(parts[0], sigma * tf.ones_like(parts[0])))
        return self._independent(tfd.Normal(parts[0], self._scale_fn(parts[1], self.min_scale)))
