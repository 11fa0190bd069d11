"""Heads for supervised nets: Keras layers mapping a network's last output to a ``tfd`` distribution over y.

Put one at the end of a ``keras.Sequential`` (deterministic or Bayesian): calling the model then
returns the distribution, which :class:`~tfpvae.objectives.NegativeLogLikelihood` and
:class:`~tfpvae.objectives.BayesianELBO` consume. In a symbolic (``keras.Input``) model a head's
output spec is its parameter tensor; ``model.predict`` cannot return a distribution, so predict
with ``model(x)`` or :func:`tfpvae.evaluation.predictive_distribution`.

Targets: regression heads have event shape ``[event_size]`` (y is ``[batch, event_size]``);
``CategoricalHead`` has event shape ``[]`` (y is integer ``[batch]``).
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae._validation import check_last_dim, positive_int
from tfpvae._validation import FLOAT32_MAX, FLOAT32_TINY, real_number
from tfpvae.distributions.heads import _SOFTPLUS_RANGE, _clip_through

tfd = tfp.distributions

__all__ = ["NormalHead", "LearnedScaleNormalHead", "HeteroscedasticNormalHead", "CategoricalHead"]


def _inverse_softplus(y: float) -> float:
    """``log(exp(y) - 1)`` for ``y > 0``, without overflow for large ``y`` (``math.expm1(710)`` raises)."""
    return y + math.log(-math.expm1(-y))


def _scales(component: str, init_scale, min_scale) -> tuple[float, float]:
    """``(init_scale, min_scale)`` as floats: float32-representable, ``min_scale >= 0``, ``init_scale > min_scale``."""
    init_scale = real_number(init_scale, component, "init_scale", low=FLOAT32_TINY, high=FLOAT32_MAX)
    min_scale = real_number(min_scale, component, "min_scale", low=0.0, high=FLOAT32_MAX)
    if not init_scale > min_scale:
        raise ValueError(f"{component}: need init_scale > min_scale >= 0, got {init_scale!r}, {min_scale!r}")
    return init_scale, min_scale


class _Head(keras.Layer):
    num_params: int

    def compute_output_spec(self, inputs):
        return keras.KerasTensor(inputs.shape, dtype=inputs.dtype)

    def _params(self, inputs) -> tf.Tensor:
        x = tf.cast(tf.convert_to_tensor(inputs), tf.float32)
        check_last_dim(x, self.num_params, type(self).__name__, "its input")
        return x


@keras.saving.register_keras_serializable(package="tfpvae")
class NormalHead(_Head):
    """``y ~ Independent(Normal(f(x), scale))`` with a fixed ``scale``: ``-log p`` is squared error / (2 scale^2)
    plus a constant. Input ``[batch, event_size]``."""

    def __init__(self, event_size: int = 1, scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.event_size = self.num_params = positive_int(event_size, "NormalHead", "event_size")
        self.scale = real_number(scale, "NormalHead", "scale", low=FLOAT32_TINY, high=FLOAT32_MAX)

    def call(self, inputs):
        return tfd.Independent(tfd.Normal(self._params(inputs), self.scale), 1)

    def get_config(self):
        return {**super().get_config(), "event_size": self.event_size, "scale": self.scale}


@keras.saving.register_keras_serializable(package="tfpvae")
class LearnedScaleNormalHead(_Head):
    """Homoscedastic regression: ``y ~ Independent(Normal(f(x), softplus(rho) + min_scale))`` with one
    learned ``rho`` per output dimension (a trainable variable of this layer). Input ``[batch, event_size]``."""

    def __init__(self, event_size: int = 1, init_scale: float = 1.0, min_scale: float = 1e-3, **kwargs):
        super().__init__(**kwargs)
        self.event_size = self.num_params = positive_int(event_size, "LearnedScaleNormalHead", "event_size")
        self.init_scale, self.min_scale = _scales("LearnedScaleNormalHead", init_scale, min_scale)

    def build(self, input_shape):
        rho = _inverse_softplus(self.init_scale - self.min_scale)
        self.raw_scale = self.add_weight(name="raw_scale", shape=(self.event_size,), dtype="float32", autocast=False,
                                         initializer=keras.initializers.Constant(rho))

    @property
    def scale(self) -> tf.Tensor:
        """The current standard deviation ``[event_size]``."""
        return tf.nn.softplus(tf.convert_to_tensor(self.raw_scale)) + self.min_scale

    def call(self, inputs):
        loc = self._params(inputs)
        return tfd.Independent(tfd.Normal(loc, self.scale), 1)

    def get_config(self):
        return {**super().get_config(), "event_size": self.event_size, "init_scale": self.init_scale,
                "min_scale": self.min_scale}


@keras.saving.register_keras_serializable(package="tfpvae")
class HeteroscedasticNormalHead(_Head):
    """Heteroscedastic regression: input ``[batch, 2 * event_size]`` = (mean, raw scale);
    ``y ~ Independent(Normal(mean, softplus(raw + shift) + min_scale))`` with ``shift`` chosen so a
    raw output of 0 gives ``init_scale``. ``softplus`` is floored at ``SCALE_RANGE[0]`` (~3e-7: its input
    is clipped below at ~-15, gradient straight through), so ``min_scale = 0`` with a raw output of -200
    gives a tiny positive scale, not 0 and a NaN density; there is no upper cap (targets keep their units)."""

    def __init__(self, event_size: int = 1, min_scale: float = 1e-3, init_scale: float = 1.0, **kwargs):
        super().__init__(**kwargs)
        self.event_size = positive_int(event_size, "HeteroscedasticNormalHead", "event_size")
        self.num_params = 2 * self.event_size
        self.init_scale, self.min_scale = _scales("HeteroscedasticNormalHead", init_scale, min_scale)
        self._shift = _inverse_softplus(self.init_scale - self.min_scale)

    def call(self, inputs):
        params = self._params(inputs)
        loc, raw = params[..., :self.event_size], params[..., self.event_size:]
        raw = _clip_through(raw + self._shift, _SOFTPLUS_RANGE[0], np.inf)  # softplus never underflows to 0
        return tfd.Independent(tfd.Normal(loc, tf.nn.softplus(raw) + self.min_scale), 1)

    def get_config(self):
        return {**super().get_config(), "event_size": self.event_size, "min_scale": self.min_scale,
                "init_scale": self.init_scale}


@keras.saving.register_keras_serializable(package="tfpvae")
class CategoricalHead(_Head):
    """Classification: input logits ``[batch, num_classes]`` -> ``Categorical(logits)`` over int labels ``[batch]``;
    ``-log p`` is the cross-entropy."""

    def __init__(self, num_classes: int, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = self.num_params = positive_int(num_classes, "CategoricalHead", "num_classes")

    def call(self, inputs):
        return tfd.Categorical(logits=self._params(inputs))

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes}
