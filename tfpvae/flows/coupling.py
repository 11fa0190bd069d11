"""Affine coupling flows (RealNVP, Dinh et al. 2017) over `tfb.RealNVP`.

One step splits x = [x_a, x_b] (x_a: the first `num_masked` coordinates) and keeps x_a:
  y_a = x_a,   y_b = x_b * exp(log_sigma(x_a, h)) + mu(x_a, h),   log-det = sum log_sigma.
Both directions and the log-det cost one network pass; permutations between steps alternate the halves.
"""
from __future__ import annotations

import functools
from typing import Callable, Optional, Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae.flows import base, networks
from tfpvae.flows.networks import Seed

tfb = tfp.bijectors


def affine(params: tf.Tensor) -> tfb.Bijector:
    """Elementwise affine bijector from params [..., units, 2] = (shift, log_scale)."""
    shift, log_scale = tf.unstack(params, num=2, axis=-1)
    return tfb.Chain([tfb.Shift(shift), tfb.Scale(log_scale=log_scale)])


def coupling_step(network, context: Optional[tf.Tensor] = None, *, num_masked: int,
                  transform: Callable[[tf.Tensor], tfb.Bijector] = affine) -> tfb.Bijector:
    """One coupling step: `network` maps x[..., :num_masked] (+ context) to the params `transform` needs."""
    return tfb.RealNVP(num_masked=num_masked,
                       bijector_fn=base.ConditionedNetwork(network, context, transform=transform))


def realnvp(event_size: int, num_steps: int = 2, hidden_units: Sequence[int] = (256, 256),
            context_dim: int = 0, num_masked: Optional[int] = None, permutation: Optional[str] = "reverse",
            activation: str = "relu", seed: Optional[Seed] = None) -> base.Flow:
    """Affine coupling flow (RealNVP).

    Args:
      event_size: D >= 2.
      num_steps: number of coupling layers.
      hidden_units: widths of each coupling network.
      context_dim: C > 0 concatenates the context h [B, C] to every network input; returns a
        `ConditionalFlow`.
      num_masked: coordinates kept per step (default D // 2).
      permutation: "reverse" (default; alternates the halves), "random" (needs `seed`) or None (every
        step then transforms the same coordinates).
      activation: hidden activation.
      seed: int or shape-[2] tensor for weights and random permutations.

    Returns:
      A bijector on [..., D] (attributes `event_size`, `context_dim`) or a `ConditionalFlow`.
    """
    num_masked = event_size // 2 if num_masked is None else num_masked
    if not 0 < num_masked < event_size:
        raise ValueError(f"realnvp: num_masked is {num_masked}, expected 0 < num_masked < event_size = "
                         f"{event_size}")
    nets = [networks.coupling_network(num_masked, event_size - num_masked, 2, hidden_units, context_dim,
                                      activation, s) for s in base.step_seeds(seed, num_steps)]
    step = functools.partial(coupling_step, num_masked=num_masked)
    return base.assemble(nets, step, event_size, context_dim, permutation, seed, "realnvp")

