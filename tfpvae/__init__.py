"""tfpvae: variational autoencoders and Bayesian neural networks from TensorFlow Probability distributions."""

import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfpvae import data, distributions, evaluation, flows, models, networks, objectives, plotting, testing, training  # noqa: E402
from tfpvae.distributions import BernoulliHead, DiagonalNormalHead, GaussianHead, standard_normal  # noqa: E402
from tfpvae.models import VAE, Decoder, Encoder, Encoding, conv_vae, mlp_vae  # noqa: E402
from tfpvae.objectives import ELBO, IWAE, NegativeLogLikelihood, linear_warmup  # noqa: E402
from tfpvae.training import fit, trainable_variables  # noqa: E402

__version__ = "0.1.0"

__all__ = ["data", "distributions", "evaluation", "flows", "models", "networks", "objectives", "plotting", "testing",
           "training",
           "BernoulliHead", "DiagonalNormalHead", "GaussianHead", "standard_normal",
           "VAE", "Encoder", "Decoder", "Encoding", "mlp_vae", "conv_vae",
           "ELBO", "IWAE", "NegativeLogLikelihood", "linear_warmup", "fit", "trainable_variables"]
