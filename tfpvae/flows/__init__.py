"""Normalizing flows for richer posteriors q(z|x) and priors p(z), composed from TFP bijectors.

Factories return a `tfb.Bijector` (unconditional; attributes `event_size`, `context_dim = 0`) or, with
`context_dim > 0`, a `ConditionalFlow` whose `bind(h) -> tfb.Bijector` conditions every step on the
encoder context h. Any hand-built `tfb.Bijector`/`tfb.Chain` can be used in place of either.
"""
from tfpvae.flows.autoregressive import iaf, iaf_step, maf, maf_step
from tfpvae.flows.base import ConditionalFlow, ConditionedNetwork, Flow, permutations
from tfpvae.flows.contract import is_conditional, validate
from tfpvae.flows.coupling import affine, coupling_step, realnvp
from tfpvae.flows.gated import GatedAutoregressive, gated_step
from tfpvae.flows.networks import coupling_network, made
from tfpvae.flows.spline import rational_quadratic, spline, spline_autoregressive_step

__all__ = [
    "ConditionalFlow", "ConditionedNetwork", "Flow", "GatedAutoregressive", "affine", "coupling_network",
    "coupling_step", "gated_step", "iaf", "iaf_step", "is_conditional", "made", "maf", "maf_step",
    "permutations", "rational_quadratic", "realnvp", "spline", "spline_autoregressive_step", "validate",
]
