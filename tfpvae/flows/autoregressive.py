"""Affine autoregressive flows: IAF (Kingma et al. 2016) and MAF (Papamakarios et al. 2017) over MADE.

One step with MADE outputs [mu, log_sigma](.) (index i reads only the inputs before i):
  MAF forward (density direction):  y = x * exp(log_sigma(y)) + mu(y)    -> sampling costs D sequential
                                                                           passes; density of any point 1.
  IAF = tfb.Invert(MAF), forward:   y = (x - mu(x)) * exp(-log_sigma(x))  -> the sample and its log-det
                                                                           cost 1 pass each; density of an
                                                                           arbitrary point D passes.
So use IAF for posteriors: take log q(z|x) from `experimental_sample_and_log_prob` (forward + fldj, the
bijector cache), never by inverting. Use MAF where densities of given points are needed (priors).
"""
from __future__ import annotations

import functools
from typing import Optional, Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae.flows import base, networks
from tfpvae.flows.gated import gated_step
from tfpvae.flows.networks import Seed

tfb = tfp.bijectors


def maf_step(network, context: Optional[tf.Tensor] = None) -> tfb.Bijector:
    """One MAF step over a MADE `network` ([..., D] -> [..., D, 2] = shift, log_scale)."""
    return tfb.MaskedAutoregressiveFlow(shift_and_log_scale_fn=base.ConditionedNetwork(network, context))


def iaf_step(network, context: Optional[tf.Tensor] = None) -> tfb.Bijector:
    """One IAF step: `tfb.Invert` of a MAF step; forward (sampling) and its log-det take one pass."""
    return tfb.Invert(maf_step(network, context))


def iaf(latent_dim: int, num_steps: int = 2, hidden_units: Sequence[int] = (256, 256), context_dim: int = 0,
        gated: bool = False, forget_bias: float = 1.0, permutation: Optional[str] = "reverse",
        activation: str = "relu", seed: Optional[Seed] = None, context_layers: str = "first") -> base.Flow:
    """Inverse autoregressive flow for posteriors q(z|x) (Kingma et al. 2016).

    Args:
      latent_dim: D, event size.
      num_steps: number of IAF steps (each its own MADE).
      hidden_units: MADE hidden layer widths.
      context_dim: C > 0 makes every MADE read the encoder context h [B, C] (paper fig. 2) and returns
        a `ConditionalFlow`; 0 returns a `tfb.Chain`.
      gated: use the numerically stable update z = s*z + (1-s)*m (`GatedAutoregressive`).
      forget_bias: added to the gate logit (s = sigmoid(logit + forget_bias)), paper uses +1 or +2.
      permutation: "reverse", "random" (needs `seed`) or None, between steps.
      activation: MADE hidden activation.
      seed: int (read as [0, seed]) or shape-[2] tensor for the initial weights and random permutations;
        None: Keras' default initializers (and "random" permutations are refused).
      context_layers: "first" (h enters each MADE's first hidden layer) or "all" (every layer); see
        `networks.made`.

    Returns:
      A bijector on [..., D] (attributes `event_size`, `context_dim`) or a `ConditionalFlow`.
      Cost per step: the sample and log q(z|x) together one network pass in a compiled step
      (`experimental_sample_and_log_prob`; two eagerly); log q of an arbitrary z costs D sequential passes.
    """
    step = functools.partial(gated_step, forget_bias=forget_bias) if gated else iaf_step
    nets = [networks.made(latent_dim, 2, hidden_units, context_dim, activation, s, context_layers)
            for s in base.step_seeds(seed, num_steps)]
    return base.assemble(nets, step, latent_dim, context_dim, permutation, seed,
                         "gated_iaf" if gated else "iaf")


def maf(event_size: int, num_steps: int = 2, hidden_units: Sequence[int] = (256, 256), context_dim: int = 0,
        permutation: Optional[str] = "reverse", activation: str = "relu",
        seed: Optional[Seed] = None, context_layers: str = "first") -> base.Flow:
    """Masked autoregressive flow, e.g. for a flow prior `tfd.TransformedDistribution(N(0, I), maf(D))`.

    Arguments as in `iaf`. Cost: log_prob of any point costs one pass per step; sampling costs D passes
    per step (a `tf.while_loop`).
    """
    nets = [networks.made(event_size, 2, hidden_units, context_dim, activation, s, context_layers)
            for s in base.step_seeds(seed, num_steps)]
    return base.assemble(nets, maf_step, event_size, context_dim, permutation, seed, "maf")
