"""Objectives: configured in the constructor, called per batch, returning per-example terms."""

from tfpvae.objectives.elbo import ELBO, ELBOTerms
from tfpvae.objectives.iwae import IWAE, IWAETerms, log_mean_exp, log_weights
from tfpvae.objectives.nll import NegativeLogLikelihood, NLLTerms
from tfpvae.objectives.reconstruction import Reconstruction, ReconstructionTerms
from tfpvae.objectives.schedules import as_schedule, constant, cyclical, linear_warmup

__all__ = ["ELBO", "ELBOTerms", "IWAE", "IWAETerms", "log_mean_exp", "log_weights", "NegativeLogLikelihood", "NLLTerms",
           "constant", "linear_warmup", "as_schedule", "Reconstruction", "ReconstructionTerms", "cyclical"]

from tfpvae.objectives.bayes import BayesianELBO, BayesianELBOTerms  # noqa: E402
__all__ += ["BayesianELBO", "BayesianELBOTerms"]
