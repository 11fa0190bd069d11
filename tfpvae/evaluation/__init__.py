"""Evaluation: importance-sampled log-likelihood (the literature's test NLL) and bits per dimension."""

from tfpvae.evaluation.active_units import ActiveUnits, PosteriorCollapseWarning, active_units, posterior_mean, warn_if_collapsed
from tfpvae.evaluation.bits import bits_per_dim, discrete_num_values
from tfpvae.evaluation.importance import evaluate_dataset, log_likelihood

__all__ = ["log_likelihood", "evaluate_dataset", "bits_per_dim", "discrete_num_values",
           "ActiveUnits", "PosteriorCollapseWarning", "active_units", "posterior_mean", "warn_if_collapsed"]
