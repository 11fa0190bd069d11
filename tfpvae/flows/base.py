"""Conditional flows: per-step networks plus a rule that turns a network into a bijector step.

A flow is a stack of steps z -> f_K(...P f_1(z)) with optional permutations P between steps. Each step
network may read a context h [B, C] from the encoder (Kingma et al. 2016, fig. 2). `ConditionalFlow.bind(h)`
builds the `tfb.Chain` with every network call closing over h, so no `bijector_kwargs` plumbing is needed
and the result drops into `tfd.TransformedDistribution` like any bijector.
"""
from __future__ import annotations

import weakref
from typing import Callable, Optional, Sequence, Union

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import prefer_static as ps

from tfpvae.flows.networks import Seed, stateless_seed

tfb = tfp.bijectors

Flow = Union[tfb.Bijector, "ConditionalFlow"]  # what the factories return
MakeStep = Callable[[Callable, Optional[tf.Tensor]], tfb.Bijector]


class ConditionedNetwork(tf.Module):
    """Calls `network` on x [..., d] with the bound context h [..., C], h broadcast to x's batch shape.

    A `tfb.AutoregressiveNetwork` gets h as `conditional_input`; any other network gets concat([x, h]).
    Leading dims are flattened for the call and restored, so the output is x.shape[:-1] + network output
    event shape, optionally passed through `transform` (params -> bijector). Extra positional/keyword
    arguments (RealNVP's `output_units`, MAF's conditional kwargs) are ignored.

    Inside a `tf.function`, a second call on the same tensor returns the first call's output: TFP's
    affine, coupling and spline bijectors call their network once for the transform and again for its
    log-det (an IAF step's sample and log q, a MAF's density and its log-det), which doubled the flow's
    cost per training step. Eagerly every call runs the network (variables may change between calls).
    Coupling layers still pay twice: TFP's RealNVP slices its input afresh for the log-det.
    """

    def __init__(self, network: Callable, context: Optional[tf.Tensor] = None,
                 transform: Optional[Callable] = None, name: Optional[str] = None):
        super().__init__(name=name)
        self.network, self.context, self.transform = network, context, transform
        self._memo = None  # (weakref to the symbolic input, output) of the last call in a graph

    def __call__(self, x, *unused_args, **unused_kwargs):
        if tf.executing_eagerly() or not isinstance(x, tf.Tensor):
            return self._call(x)
        if self._memo is not None and self._memo[0]() is x:
            return self._memo[1]
        out = self._call(x)
        self._memo = (weakref.ref(x), out)
        return out

    def _call(self, x):
        x = tf.convert_to_tensor(x)
        batch, width = ps.shape(x)[:-1], ps.shape(x)[-1]
        flat_x = tf.reshape(x, [-1, width])
        if self.context is None:
            out = self.network(flat_x)
        else:
            h = tf.convert_to_tensor(self.context, dtype=x.dtype)
            h = tf.broadcast_to(h, ps.concat([batch, ps.shape(h)[-1:]], axis=0))
            flat_h = tf.reshape(h, [-1, ps.shape(h)[-1]])
            if isinstance(self.network, tfb.AutoregressiveNetwork):
                out = self.network(flat_x, conditional_input=flat_h)
            else:
                out = self.network(tf.concat([flat_x, flat_h], axis=-1))
        out = tf.reshape(out, ps.concat([batch, ps.shape(out)[1:]], axis=0))
        return out if self.transform is None else self.transform(out)


class ConditionalFlow(tf.Module):
    """A stack of flow steps whose networks may read an encoder context; `bind` makes the bijector.

    Args:
      networks: one network per step (applied in this order); kept as the attribute `networks`.
      make_step: `(network, context) -> tfb.Bijector` for one step, e.g. `flows.iaf_step`.
      event_size: D, the event size the steps act on.
      context_dim: C, width of the context the networks read (0: unconditional).
      permutations: `len(networks) - 1` bijectors placed between consecutive steps, or None.
      name: module name.

    Attributes `event_size`, `context_dim` and `networks` are the contract the VAE relies on; the networks
    hold every variable, created before `bind` is ever called.
    """

    def __init__(self, networks: Sequence, make_step: MakeStep, event_size: int, context_dim: int = 0,
                 permutations: Optional[Sequence[tfb.Bijector]] = None, name: Optional[str] = None):
        super().__init__(name=name)
        self.networks, self.make_step = list(networks), make_step
        self.permutations = list(permutations or [])
        if self.permutations and len(self.permutations) != len(self.networks) - 1:
            raise ValueError(f"{self.name}: got {len(self.permutations)} permutations for "
                             f"{len(self.networks)} steps, expected {len(self.networks) - 1}")
        self.event_size, self.context_dim = int(event_size), int(context_dim)

    def bind(self, context: Optional[tf.Tensor] = None) -> tfb.Bijector:
        """Returns the flow as a `tfb.Chain` acting on [..., event_size], conditioned on `context`.

        Args:
          context: h [B, context_dim] (any batch shape broadcasting to the inputs' batch shape), or None
            when `context_dim == 0`.

        Raises:
          ValueError: naming both widths when the context's width is not `context_dim`.
        """
        if self.context_dim == 0 and context is not None:
            width = tf.convert_to_tensor(context).shape[-1]
            raise ValueError(f"{self.name}: got a context of width {width}, but the flow is unconditional "
                             "(context_dim = 0)")
        if self.context_dim > 0:
            if context is None:
                raise ValueError(f"{self.name}: expects a context of width context_dim = {self.context_dim}, "
                                 "got None")
            context = tf.convert_to_tensor(context)
            width = tf.compat.dimension_value(context.shape[-1]) if context.shape.rank else None
            if width is not None and width != self.context_dim:
                raise ValueError(f"{self.name}: context has width {width}, expected context_dim = "
                                 f"{self.context_dim}")
        steps = []
        for i, network in enumerate(self.networks):
            if i and self.permutations:
                steps.append(self.permutations[i - 1])
            steps.append(self.make_step(network, context))
        chain = tfb.Chain(steps[::-1], name=self.name)  # Chain applies its last bijector first
        chain.event_size, chain.context_dim = self.event_size, self.context_dim
        chain.networks = self.networks  # public handle on the variables (also reachable through the steps)
        return chain


def permutations(event_size: int, num_steps: int, kind: Optional[str] = "reverse",
                 seed: Optional[Seed] = None) -> list[tfb.Bijector]:
    """`num_steps - 1` `tfb.Permute`s: order reversal ("reverse"), seeded random ("random") or none (None)."""
    if kind is None or num_steps < 2:
        return []
    if kind == "reverse":
        return [tfb.Permute(np.arange(event_size)[::-1].copy()) for _ in range(num_steps - 1)]
    if kind == "random":
        if seed is None:
            raise ValueError("permutation='random' needs a seed (int or shape-[2] tensor)")
        seeds = tfp.random.split_seed(stateless_seed(seed), n=num_steps - 1)
        return [tfb.Permute(tf.argsort(tf.random.stateless_uniform([event_size], s)).numpy()) for s in seeds]
    raise ValueError(f"permutation must be 'reverse', 'random' or None, got {kind!r}")


def assemble(networks: Sequence, make_step: MakeStep, event_size: int, context_dim: int,
             permutation: Optional[str], seed: Optional[Seed], name: str):
    """Factory tail: a `ConditionalFlow` if `context_dim > 0`, else the bound `tfb.Chain`.

    The unconditional chain carries `event_size` and `context_dim = 0` as attributes; its variables are
    reachable by attribute walking (`chain.trainable_variables`).
    """
    perm_seed = None if seed is None else tfp.random.split_seed(stateless_seed(seed), salt="permutation")[0]
    flow = ConditionalFlow(networks, make_step, event_size, context_dim,
                           permutations(event_size, len(networks), permutation, perm_seed), name=name)
    return flow if context_dim > 0 else flow.bind(None)


def step_seeds(seed: Optional[Seed], n: int) -> list:
    """n independent seeds for the step networks (all None when `seed` is None)."""
    if seed is None:
        return [None] * n
    return list(tfp.random.split_seed(stateless_seed(seed), n=n, salt="networks"))
