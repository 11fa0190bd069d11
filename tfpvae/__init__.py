"""tfpvae: variational autoencoders and Bayesian neural networks from TensorFlow Probability distributions.

Submodules and the names below load on first use (PEP 562), so ``tfpvae --help`` and the run
config do not pay for importing TensorFlow.
"""

import importlib as _importlib
import os as _os

_os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

__version__ = "0.2.0"

_SUBMODULES = ("data", "distributions", "evaluation", "flows", "latent", "layers", "models", "networks", "objectives",
               "plotting", "runs", "testing", "training")
_NAMES = {
    "distributions": ("BernoulliHead", "DiagonalNormalHead", "GaussianHead", "standard_normal"),
    "models": ("VAE", "Encoder", "Decoder", "Encoding", "mlp_vae", "conv_vae", "Autoencoder"),
    "objectives": ("ELBO", "IWAE", "NegativeLogLikelihood", "BayesianELBO", "Reconstruction", "linear_warmup"),
    "training": ("fit", "trainable_variables"),
}
_HOME = {name: module for module, names in _NAMES.items() for name in names}

__all__ = list(_SUBMODULES) + list(_HOME)


def __getattr__(name):
    if name in _SUBMODULES:
        return _importlib.import_module(f"tfpvae.{name}")
    if name in _HOME:
        return getattr(_importlib.import_module(f"tfpvae.{_HOME[name]}"), name)
    raise AttributeError(f"module 'tfpvae' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))
