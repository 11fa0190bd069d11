"""Weight posteriors of Bayesian layers: serialisable objects that create a layer's variables and
build the ``tfd`` distribution over a weight tensor from them.

A posterior object answers two questions: which variables a weight of a given shape needs
(:meth:`MeanFieldNormal.add_variables`, called from the layer's ``build`` so Keras tracks them),
and what distribution they define (:meth:`MeanFieldNormal.distribution`). Subclass it (and
register the subclass with ``keras.saving.register_keras_serializable``) to use another family;
layers only need ``sample``, ``mean`` and, for local reparameterisation, ``stddev``.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

__all__ = ["MeanFieldNormal", "SCALES"]

SCALES = ("softplus", "exp")


def _inverse_scale(scale: float, transform: str) -> float:
    return math.log(math.expm1(scale)) if transform == "softplus" else math.log(scale)


@keras.saving.register_keras_serializable(package="tfpvae")
class MeanFieldNormal:
    """Fully factorised Gaussian ``q(w) = prod_i N(w_i; mu_i, sigma_i^2)``.

    ``sigma = softplus(rho)`` (Blundell et al. 2015) or ``exp(rho)``; ``rho`` starts at the inverse
    of ``init_scale`` (plus ``init_scale_jitter`` times uniform noise in ``rho``, 0 by default), and
    ``mu`` at He-normal (``loc_initializer``), so a fresh Bayesian net behaves like a freshly
    initialised deterministic one.

    The distribution is ``Independent(Normal(mu, sigma), len(shape))``: batch shape ``[]``, event
    shape the weight's shape; its KL to a :class:`~tfpvae.layers.NormalPrior` is analytic.

    Args:
      init_scale: initial ``sigma`` (> 0). 1e-3 by default: training starts near the point
        estimate and the KL term widens the posterior where the data allow.
      scale: ``"softplus"`` or ``"exp"``.
      loc_initializer: a Keras initializer (name or config) for ``mu``.
      init_scale_jitter: half-width of uniform noise added to the initial ``rho``.

    References:
      Blundell et al. (2015), Weight Uncertainty in Neural Networks, ICML.
    """

    def __init__(self, init_scale: float = 1e-3, scale: str = "softplus", loc_initializer="he_normal",
                 init_scale_jitter: float = 0.0):
        if scale not in SCALES:
            raise ValueError(f"MeanFieldNormal: scale must be one of {SCALES}, got {scale!r}")
        if not init_scale > 0:
            raise ValueError(f"MeanFieldNormal: init_scale must be > 0, got {init_scale!r}")
        self.init_scale, self.scale, self.init_scale_jitter = float(init_scale), scale, float(init_scale_jitter)
        self.loc_initializer = loc_initializer

    def add_variables(self, layer: keras.Layer, name: str, shape: tuple[int, ...],
                      loc_init: np.ndarray | None = None, scale_init: np.ndarray | None = None) -> tuple:
        """Create ``(loc, raw_scale)`` with ``layer.add_weight`` (float32, not autocast).

        ``loc_init`` / ``scale_init`` (arrays of ``shape``) override the initialisers
        (:func:`~tfpvae.layers.to_bayesian` uses them).
        """
        rho = _inverse_scale(self.init_scale, self.scale)
        loc_initializer = (keras.initializers.Constant(loc_init) if loc_init is not None
                           else keras.initializers.get(self.loc_initializer))
        if scale_init is not None:
            raw = np.vectorize(lambda s: _inverse_scale(float(s), self.scale))(np.maximum(scale_init, 1e-12))
            raw_initializer = keras.initializers.Constant(raw.astype("float32"))
        elif self.init_scale_jitter:
            jitter = self.init_scale_jitter
            raw_initializer = keras.initializers.RandomUniform(rho - jitter, rho + jitter)
        else:
            raw_initializer = keras.initializers.Constant(rho)
        loc = layer.add_weight(name=f"{name}_loc", shape=shape, initializer=loc_initializer, dtype="float32",
                               autocast=False)
        raw = layer.add_weight(name=f"{name}_raw_scale", shape=shape, initializer=raw_initializer, dtype="float32",
                               autocast=False)
        return loc, raw

    def scale_from_raw(self, raw: tf.Tensor) -> tf.Tensor:
        """``sigma`` from ``rho``."""
        return tf.nn.softplus(raw) if self.scale == "softplus" else tf.exp(raw)

    def distribution(self, loc, raw_scale) -> tfd.Distribution:
        """``Independent(Normal(loc, scale(raw_scale)))`` over the whole weight tensor (float32)."""
        loc = tf.convert_to_tensor(loc, tf.float32)
        scale = self.scale_from_raw(tf.convert_to_tensor(raw_scale, tf.float32))
        return tfd.Independent(tfd.Normal(loc, scale), reinterpreted_batch_ndims=loc.shape.rank)

    def get_config(self) -> dict:
        return {"init_scale": self.init_scale, "scale": self.scale, "init_scale_jitter": self.init_scale_jitter,
                "loc_initializer": keras.saving.serialize_keras_object(keras.initializers.get(self.loc_initializer))}

    @classmethod
    def from_config(cls, config: dict) -> MeanFieldNormal:
        config = dict(config)
        config["loc_initializer"] = keras.initializers.deserialize(config["loc_initializer"])
        return cls(**config)

    def __repr__(self) -> str:
        return f"MeanFieldNormal(init_scale={self.init_scale}, scale={self.scale!r})"
