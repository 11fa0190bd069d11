"""Bits per dimension, only for likelihoods where the number means what the literature means.

Bits/dim of 8-bit images is ``-log2 P(x) / D`` for a probability *mass* ``P`` over the 256 values of
each dimension. A density or a Bernoulli over [0, 1] intensities is not such a likelihood (its
"NLL" can be made arbitrarily small or is of different data), so :func:`bits_per_dim` refuses it.
"""

from __future__ import annotations

import math

import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae.distributions.discretized_logistic import DiscretizedLogistic

tfd = tfp.distributions

__all__ = ["bits_per_dim", "discrete_num_values"]

# Attribute holding the wrapped distribution. Matched by class name along the MRO: TFP builds
# ``_Independent`` (not a ``tfd.Independent``) around distributions that are not CompositeTensors.
_WRAPPERS = {"Independent": "distribution", "BatchReshape": "distribution", "Sample": "distribution",
             "MixtureSameFamily": "components_distribution"}


def _names(dist) -> set[str]:
    return {cls.__name__.lstrip("_") for cls in type(dist).__mro__}


def _unwrap(dist):
    """The distribution inside ``dist`` if it is a wrapper that keeps a probability mass a mass, else ``None``
    (``TransformedDistribution`` is deliberately not one: it adds a Jacobian to ``log_prob``)."""
    for name, attr in _WRAPPERS.items():
        if name in _names(dist):
            return getattr(dist, attr)
    return None


def _as_distribution(likelihood):
    """A distribution from a distribution, a decoder head or a VAE-protocol model."""
    if isinstance(likelihood, tfd.Distribution):
        return likelihood
    if hasattr(likelihood, "decode") and hasattr(likelihood, "prior"):  # a model: decode one latent
        latent = likelihood.prior.event_shape
        return likelihood.decode(tf.zeros([1, *latent], likelihood.prior.dtype))
    if hasattr(likelihood, "num_params") and callable(likelihood):  # a head
        return likelihood(tf.zeros([1, likelihood.num_params]))
    return None


def discrete_num_values(likelihood) -> int | None:
    """Number of discrete values per dimension of a likelihood, or ``None`` if it is not a recognised
    probability mass on a finite lattice (``Bernoulli`` counts as ``None``: it is used on intensities).

    ``likelihood``: a ``tfd.Distribution``, a decoder head, or a model (its decoder is evaluated at
    ``z = 0``). Recognised: :class:`DiscretizedLogistic` (``num_bins``), ``QuantizedDistribution``
    with ``low`` and ``high`` (``high - low + 1``), ``Categorical`` (number of classes), seen
    through ``Independent``, ``BatchReshape``, ``Sample`` and ``MixtureSameFamily``.
    """
    dist = _as_distribution(likelihood)
    while _unwrap(dist) is not None:
        dist = _unwrap(dist)
    if isinstance(dist, DiscretizedLogistic):
        return dist.num_bins
    if "QuantizedDistribution" in _names(dist) and dist.low is not None and dist.high is not None:
        return int(tf.get_static_value(dist.high) - tf.get_static_value(dist.low)) + 1
    if "Categorical" in _names(dist):
        return int(dist.logits_parameter().shape[-1])
    return None


def bits_per_dim(nll_nats, num_dims: int, *, likelihood, data_scale: float | None = None):
    """``nll_nats / (num_dims * ln 2)``: bits per dimension of 8-bit data.

    Args:
      nll_nats: ``-log P(x)`` per example in nats (float, array or tensor), e.g.
        ``evaluate_dataset(...)["nll"]``.
      num_dims: dimensions per example (784 for MNIST, 3072 for CIFAR-10).
      likelihood: what ``nll_nats`` was computed with: a distribution, decoder head or model whose
        likelihood is a probability mass over 256 values per dimension (e.g.
        :class:`~tfpvae.distributions.discretized_logistic.DiscretizedLogisticHead`). For such a mass
        there is no scaling correction: rescaling the data (to [0, 1] or [-1, 1]) relabels the 256
        values without changing their probabilities. Or the string ``"dequantized"``: a continuous
        density evaluated on uniformly dequantized data ``y = data_scale * (x + u)``, ``x`` in
        0..255, ``u ~ U[0, 1)``; its NLL bounds the discrete one after the Jacobian correction
        ``-num_dims * log(data_scale)`` nats (``+8`` bits/dim for ``data_scale = 1/256``).
      data_scale: required with ``"dequantized"``, refused otherwise.

    Raises:
      ValueError: for any other likelihood (a Bernoulli or Gaussian on [0, 1] intensities is not a
        likelihood of 8-bit data), or a misplaced ``data_scale``.
    """
    if isinstance(num_dims, bool) or not isinstance(num_dims, int) or num_dims <= 0:
        raise ValueError(f"bits_per_dim: num_dims must be a positive int, got {num_dims!r}")
    if isinstance(likelihood, str) and likelihood == "dequantized":
        if data_scale is None or not data_scale > 0:
            raise ValueError(f"bits_per_dim: likelihood='dequantized' needs data_scale > 0, got {data_scale!r}")
        return (nll_nats / num_dims - math.log(data_scale)) / math.log(2.0)
    values = discrete_num_values(likelihood)
    if values != 256:
        dist = _as_distribution(likelihood)
        name = type(dist).__name__.lstrip("_") if dist is not None else repr(likelihood)
        while _unwrap(dist) is not None:
            dist = _unwrap(dist)
            name += f"({type(dist).__name__.lstrip('_')})"
        raise ValueError(f"bits_per_dim: the likelihood {name} is not a probability mass over the 256 values of "
                         f"8-bit data (got {values if values is not None else 'a density or intensity model'}); "
                         "use DiscretizedLogisticHead, or likelihood='dequantized' with data_scale for a "
                         "density on dequantized data")
    if data_scale is not None:
        raise ValueError("bits_per_dim: data_scale applies only to likelihood='dequantized'; a probability mass "
                         "over 256 values needs no scaling correction")
    return nll_nats / (num_dims * math.log(2.0))
