"""Bayesian neural-network layers for Keras 3: weight posteriors and priors as ``tfd`` distributions.

Layers (``keras.Layer``; Sequential, functional, ``tf.Module`` code, ``tf.function``, strategies)::

    DenseReparameterization, DenseFlipout, DenseLocalReparameterization,
    Conv2DReparameterization, Conv2DFlipout

configured by serialisable posterior and prior objects (:class:`MeanFieldNormal`,
:class:`NormalPrior`, :class:`StandardNormal`, :class:`ScaleMixtureNormal`, or your own), so a
``.keras`` file round-trips. :func:`kl_divergence` sums the KL of every Bayesian layer in a model;
:func:`noise_seed` makes their noise stateless and reproducible; :func:`deterministic` switches
them to posterior means; :func:`to_bayesian` converts a trained deterministic model (MOPED).
"""

from tfpvae.layers.base import BayesianLayer, shared_posteriors
from tfpvae.layers.conv import Conv2DFlipout, Conv2DReparameterization
from tfpvae.layers.convert import to_bayesian
from tfpvae.layers.dense import DenseFlipout, DenseLocalReparameterization, DenseReparameterization
from tfpvae.layers.kl import bayesian_layers, kl_divergence
from tfpvae.layers.noise import deterministic, is_deterministic, noise_seed
from tfpvae.layers.posteriors import MeanFieldNormal
from tfpvae.layers.priors import NormalPrior, ScaleMixtureNormal, StandardNormal

__all__ = ["BayesianLayer", "DenseReparameterization", "DenseFlipout", "DenseLocalReparameterization",
           "Conv2DReparameterization", "Conv2DFlipout", "MeanFieldNormal", "NormalPrior", "StandardNormal",
           "ScaleMixtureNormal", "kl_divergence", "bayesian_layers", "noise_seed", "deterministic",
           "is_deterministic", "to_bayesian", "shared_posteriors"]
