"""Objectives: configured in the constructor, called per batch, returning per-example terms."""

from tfpvae.objectives.elbo import ELBO, ELBOTerms
from tfpvae.objectives.nll import NegativeLogLikelihood, NLLTerms
from tfpvae.objectives.schedules import as_schedule, constant, linear_warmup

__all__ = ["ELBO", "ELBOTerms", "NegativeLogLikelihood", "NLLTerms", "constant", "linear_warmup", "as_schedule"]
