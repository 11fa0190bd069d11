"""Weight priors of Bayesian layers: serialisable objects building a fixed ``tfd`` distribution over a
weight tensor of a given shape.

``prior.distribution(shape)`` must return a distribution with batch shape ``[]`` and event shape
``shape``; a layer checks this when it is built and names itself and the kernel's shape if not.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

tfd = tfp.distributions

__all__ = ["NormalPrior", "StandardNormal", "ScaleMixtureNormal"]


def _param(value, name: str, component: str, positive: bool = False) -> np.ndarray:
    arr = np.asarray(value, dtype="float32")
    if positive and not np.all(arr > 0):
        raise ValueError(f"{component}: {name} must be > 0, got {value!r}")
    return arr


@keras.saving.register_keras_serializable(package="tfpvae")
class NormalPrior:
    """``p(w) = prod_i N(w_i; loc_i, scale_i^2)``.

    Scalar ``loc``/``scale`` fill the weight's shape; arrays are used as given (their shape is
    the event shape, which must then equal the weight's: the layer checks).
    """

    def __init__(self, loc=0.0, scale=1.0):
        self.loc = _param(loc, "loc", type(self).__name__)
        self.scale = _param(scale, "scale", type(self).__name__, positive=True)

    def distribution(self, shape: tuple[int, ...]) -> tfd.Distribution:
        """``Independent(Normal)`` with event shape ``shape`` (or the parameters' shape if not scalar)."""
        loc, scale = tf.constant(self.loc), tf.constant(self.scale)
        if loc.shape.rank == 0 and scale.shape.rank == 0:
            loc, scale = tf.fill(shape, loc), tf.fill(shape, scale)
        else:
            loc_arr, scale_arr = np.broadcast_arrays(self.loc, self.scale)
            loc, scale = tf.constant(loc_arr), tf.constant(scale_arr)
        return tfd.Independent(tfd.Normal(loc, scale), reinterpreted_batch_ndims=loc.shape.rank)

    def get_config(self) -> dict:
        return {"loc": self.loc.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(loc={self.loc.tolist()}, scale={self.scale.tolist()})"


@keras.saving.register_keras_serializable(package="tfpvae")
class StandardNormal(NormalPrior):
    """``p(w) = N(0, I)``: the default prior."""

    def __init__(self):
        super().__init__(0.0, 1.0)

    def get_config(self) -> dict:
        return {}


@keras.saving.register_keras_serializable(package="tfpvae")
class ScaleMixtureNormal:
    """Scale mixture prior ``p(w_i) = pi N(0, sigma1^2) + (1 - pi) N(0, sigma2^2)``, independent over i.

    ``sigma1 > sigma2`` gives a heavy-tailed prior with many weights concentrated near 0. The
    Blundell et al. grid: ``pi`` in {1/4, 1/2, 3/4}, ``-log sigma1`` in {0, 1, 2}, ``-log sigma2``
    in {6, 7, 8}. Its KL against a Gaussian posterior has no closed form: layers estimate it by
    Monte Carlo.

    References:
      Blundell et al. (2015), Weight Uncertainty in Neural Networks, ICML, section 3.3.
    """

    def __init__(self, pi: float = 0.5, sigma1: float = 1.0, sigma2: float = math.exp(-6)):
        if not 0.0 < pi < 1.0:
            raise ValueError(f"ScaleMixtureNormal: pi must be in (0, 1), got {pi!r}")
        if not (sigma1 > 0 and sigma2 > 0):
            raise ValueError(f"ScaleMixtureNormal: sigma1 and sigma2 must be > 0, got {sigma1!r}, {sigma2!r}")
        self.pi, self.sigma1, self.sigma2 = float(pi), float(sigma1), float(sigma2)

    def distribution(self, shape: tuple[int, ...]) -> tfd.Distribution:
        """``Independent(MixtureSameFamily(Categorical, Normal))`` with event shape ``shape``."""
        shape = tuple(shape)
        probs = tf.broadcast_to(tf.constant([self.pi, 1.0 - self.pi]), shape + (2,))
        scales = tf.broadcast_to(tf.constant([self.sigma1, self.sigma2]), shape + (2,))
        mixture = tfd.MixtureSameFamily(tfd.Categorical(probs=probs), tfd.Normal(tf.zeros_like(scales), scales))
        return tfd.Independent(mixture, reinterpreted_batch_ndims=len(shape))

    def get_config(self) -> dict:
        return {"pi": self.pi, "sigma1": self.sigma1, "sigma2": self.sigma2}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self) -> str:
        return f"ScaleMixtureNormal(pi={self.pi}, sigma1={self.sigma1}, sigma2={self.sigma2})"
