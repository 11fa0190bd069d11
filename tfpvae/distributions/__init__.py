"""Distribution heads and priors: the modelling language of tfpvae."""

from tfpvae.distributions.continuous_bernoulli import ContinuousBernoulliHead
from tfpvae.distributions.discretized_logistic import DiscretizedLogistic, DiscretizedLogisticHead
from tfpvae.distributions.heads import (LOG_VAR_RANGE, SCALE_RANGE, SCALE_TRANSFORMS, BernoulliHead, DiagonalNormalHead,
                                       GaussianHead)
from tfpvae.distributions.mixture_prior import DiagonalNormalMixture, mixture_of_gaussians, vamp_prior
from tfpvae.distributions.priors import learnable_normal, standard_normal

__all__ = ["ContinuousBernoulliHead", "DiscretizedLogistic", "DiscretizedLogisticHead", "BernoulliHead",
           "DiagonalNormalHead", "GaussianHead", "SCALE_TRANSFORMS", "LOG_VAR_RANGE", "SCALE_RANGE", "learnable_normal",
           "standard_normal", "DiagonalNormalMixture", "mixture_of_gaussians", "vamp_prior"]

from tfpvae.distributions.regression import (CategoricalHead, HeteroscedasticNormalHead,  # noqa: E402
                                             LearnedScaleNormalHead, NormalHead)
__all__ += ["NormalHead", "LearnedScaleNormalHead", "HeteroscedasticNormalHead", "CategoricalHead"]
