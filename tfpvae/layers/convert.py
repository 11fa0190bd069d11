"""Turn a trained deterministic Keras model into a Bayesian one (MOPED initialisation)."""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from tfpvae.layers.conv import Conv2DFlipout, Conv2DReparameterization
from tfpvae.layers.dense import DenseFlipout, DenseReparameterization
from tfpvae.layers.posteriors import MeanFieldNormal

__all__ = ["to_bayesian"]


def _inverse_softplus(s: np.ndarray) -> np.ndarray:
    s = np.asarray(s, np.float64)
    return np.where(s > 20, s, np.log(np.expm1(np.minimum(s, 20))))


def _replacement(layer, flipout: bool, prior, scale: str):
    common = dict(name=layer.name, activation=layer.activation, use_bias=layer.use_bias,
                  kernel_posterior=MeanFieldNormal(scale=scale), kernel_prior=prior, dtype=layer.dtype_policy)
    if isinstance(layer, keras.layers.Dense):
        return (DenseFlipout if flipout else DenseReparameterization)(layer.units, **common)
    if getattr(layer, "data_format", "channels_last") != "channels_last" or getattr(layer, "groups", 1) != 1:
        raise ValueError(f"to_bayesian: Conv2D {layer.name!r} must be channels_last with groups=1 to convert, got "
                         f"data_format={layer.data_format!r}, groups={layer.groups}")
    return (Conv2DFlipout if flipout else Conv2DReparameterization)(
        layer.filters, layer.kernel_size, strides=layer.strides, padding=layer.padding,
        dilation_rate=layer.dilation_rate, **common)


def to_bayesian(model: keras.Model, *, init_scale_relative: float = 0.1, prior=None,
                layers: str | Sequence[str] = "all", flipout: bool = False, scale: str = "softplus",
                min_scale: float = 1e-6) -> keras.Model:
    """A clone of a trained Keras ``Sequential`` or functional ``model`` with Bayesian Dense/Conv2D layers.

    Each converted ``Dense`` / ``Conv2D`` becomes a :class:`DenseReparameterization` /
    :class:`Conv2DReparameterization` (``flipout=True``: the Flipout versions) with a
    :class:`MeanFieldNormal` posterior whose means are the trained kernel and whose scales are
    ``max(|w| * init_scale_relative, min_scale)`` (MOPED, Krishnan et al. 2020); the bias stays a
    point estimate copied from the trained layer. Every other layer is cloned with its weights.
    The original model is not modified.

    Args:
      model: a built Keras ``Sequential`` or functional model.
      init_scale_relative: ``delta`` of MOPED, > 0.
      prior: prior object for the converted kernels (default :class:`StandardNormal`).
      layers: ``"all"`` or the names of the layers to convert.
      flipout: use the Flipout layers.
      scale: the posterior's scale transform, ``"softplus"`` or ``"exp"``.
      min_scale: lower bound on the initial scales (weights that are exactly 0).

    Returns:
      The new model (same inputs and outputs, same layer names).

    References:
      Krishnan, Subedar & Tickoo (2020), Specifying Weight Priors in Bayesian Deep Neural Networks
      with Empirical Bayes (MOPED), AAAI.
    """
    if not init_scale_relative > 0:
        raise ValueError(f"to_bayesian: init_scale_relative must be > 0, got {init_scale_relative!r}")
    if not isinstance(model, keras.Model) or not model.built:
        raise ValueError(f"to_bayesian: expected a built keras Sequential or functional model, got {model!r}")
    kinds = (keras.layers.Dense, keras.layers.Conv2D)
    names = None if layers == "all" else set(layers)
    if names is not None:
        unknown = names - {layer.name for layer in model.layers}
        if unknown:
            raise ValueError(f"to_bayesian: no layers named {sorted(unknown)} in the model; its layers are "
                             f"{[layer.name for layer in model.layers]}")
    originals = {}

    def clone(layer):
        if isinstance(layer, kinds) and type(layer) in (keras.layers.Dense, keras.layers.Conv2D) and (
                names is None or layer.name in names):
            new = _replacement(layer, flipout, prior, scale)
        else:
            new = layer.__class__.from_config(layer.get_config())
        originals[layer.name] = (layer, new)
        return new

    bayes = keras.models.clone_model(model, clone_function=clone)
    for old, new in originals.values():
        if isinstance(new, (DenseReparameterization, DenseFlipout, Conv2DReparameterization, Conv2DFlipout)):
            kernel = np.asarray(old.kernel)
            raw = np.log(np.maximum(np.abs(kernel) * init_scale_relative, min_scale)) if scale == "exp" else \
                _inverse_softplus(np.maximum(np.abs(kernel) * init_scale_relative, min_scale))
            loc_var, raw_var = new.kernel_vars
            loc_var.assign(kernel.astype("float32"))
            raw_var.assign(raw.astype("float32"))
            if old.use_bias:
                new.bias.assign(np.asarray(old.bias))
        elif old.weights:
            new.set_weights(old.get_weights())
    return bayes
