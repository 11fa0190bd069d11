"""Neural spline flows (Durkan et al. 2019): monotone rational-quadratic splines on [-bound, bound].

Each coordinate is mapped by `tfb.RationalQuadraticSpline` with `num_bins` bins whose widths, heights and
interior knot slopes (3 * num_bins - 1 numbers) come from a network; outside [-bound, bound] the map is
the identity. Layouts:
  "coupling": RealNVP-style, network reads the kept half: both directions cost one pass.
  "maf":      MAF-style over MADE: density of any point one pass, sampling D passes (priors).
  "iaf":      tfb.Invert of "maf": sampling and its log-det one pass, density of a given point D passes
              (posteriors).
"""
from __future__ import annotations

import functools
from typing import Optional, Sequence

import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae.flows import base, coupling, networks
from tfpvae.flows.networks import Seed

tfb = tfp.bijectors


class _StaticShapeSpline(tfb.RationalQuadraticSpline):
    """The spline with its output's static shape kept: TFP's MAF samples in a ``tf.while_loop``
    whose loop variable must keep its shape, and the spline's forward loses it (a MAF-layout spline
    then failed inside a compiled step)."""

    def _forward(self, x):
        y = super()._forward(x)
        if x.shape.is_compatible_with(y.shape):
            y.set_shape(y.shape.merge_with(x.shape))
        return y


def rational_quadratic(params: tf.Tensor, bound: float = 3.0, min_bin_size: float = 1e-3,
                       min_slope: float = 1e-3) -> tfb.Bijector:
    """Elementwise spline from unconstrained params [..., units, 3K - 1] on the interval [-bound, bound]."""
    num_bins = (params.shape[-1] + 1) // 3
    widths, heights, slopes = tf.split(params, [num_bins, num_bins, num_bins - 1], axis=-1)
    span = 2.0 * bound - num_bins * min_bin_size
    return _StaticShapeSpline(
        bin_widths=tf.math.softmax(widths, axis=-1) * span + min_bin_size,
        bin_heights=tf.math.softmax(heights, axis=-1) * span + min_bin_size,
        knot_slopes=tf.math.softplus(slopes) + min_slope,
        range_min=-bound)


def spline_autoregressive_step(network, context: Optional[tf.Tensor] = None, *, bound: float = 3.0,
                               invert: bool = False) -> tfb.Bijector:
    """One autoregressive spline step over a MADE `network` ([..., D] -> [..., D, 3K - 1])."""
    transform = functools.partial(rational_quadratic, bound=bound)
    step = tfb.MaskedAutoregressiveFlow(
        bijector_fn=base.ConditionedNetwork(network, context, transform=transform))
    return tfb.Invert(step) if invert else step


def spline(event_size: int, num_steps: int = 2, hidden_units: Sequence[int] = (256, 256), num_bins: int = 8,
           bound: float = 3.0, layout: str = "coupling", context_dim: int = 0,
           permutation: Optional[str] = "reverse", activation: str = "relu",
           seed: Optional[Seed] = None) -> base.Flow:
    """Rational-quadratic neural spline flow.

    Args:
      event_size: D (>= 2 for "coupling").
      num_steps: number of spline steps.
      hidden_units: network hidden widths.
      num_bins: K, spline bins per coordinate.
      bound: the spline acts on [-bound, bound]; identity outside.
      layout: "coupling", "maf" or "iaf" (see module docstring for costs).
      context_dim: C > 0 conditions every network on h [B, C]; returns a `ConditionalFlow`.
      permutation: "reverse", "random" (needs `seed`) or None, between steps.
      activation: hidden activation.
      seed: int or shape-[2] tensor for weights and random permutations.

    Returns:
      A bijector on [..., D] (attributes `event_size`, `context_dim`) or a `ConditionalFlow`.
    """
    params, seeds = 3 * num_bins - 1, base.step_seeds(seed, num_steps)
    if layout == "coupling":
        kept = event_size // 2
        if kept < 1:
            raise ValueError(f"spline: layout='coupling' needs event_size >= 2, got {event_size}")
        nets = [networks.coupling_network(kept, event_size - kept, params, hidden_units, context_dim,
                                          activation, s) for s in seeds]
        transform = functools.partial(rational_quadratic, bound=bound)
        step = functools.partial(coupling.coupling_step, num_masked=kept, transform=transform)
    elif layout in ("maf", "iaf"):
        nets = [networks.made(event_size, params, hidden_units, context_dim, activation, s) for s in seeds]
        step = functools.partial(spline_autoregressive_step, bound=bound, invert=layout == "iaf")
    else:
        raise ValueError(f"spline: layout must be 'coupling', 'maf' or 'iaf', got {layout!r}")
    return base.assemble(nets, step, event_size, context_dim, permutation, seed, f"spline_{layout}")
