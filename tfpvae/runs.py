"""A run directory: the config that built a model, its checkpoints, metrics and pictures.

``config.json`` holds a :class:`RunConfig`; :func:`build_model` turns it back into the same VAE,
so ``tfpvae sample OUT`` / ``reconstruct`` / ``evaluate`` work from a saved run.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tfpvae.distributions import (BernoulliHead, DiscretizedLogisticHead, GaussianHead, mixture_of_gaussians,
                                  vamp_prior)
from tfpvae.models import conv_vae, mlp_vae
from tfpvae.objectives import ELBO, IWAE, linear_warmup

__all__ = ["RunConfig", "build_model", "build_objective", "load_config", "ARCHITECTURES", "LIKELIHOODS", "FLOWS",
           "PRIORS"]

ARCHITECTURES = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian", "logistic")
FLOWS = ("none", "iaf", "gated_iaf", "maf", "realnvp", "spline")
OBJECTIVES = ("elbo", "iwae")
PRIORS = ("normal", "mog", "vamp")


@dataclass
class RunConfig:
    """Everything that defines a training run (the CLI flags, one field each)."""

    dataset: str = "binarized_mnist"
    data_dir: str | None = None
    latent_dim: int = 50
    architecture: str = "mlp"
    hidden: tuple[int, ...] = (200, 200)
    activation: str = "tanh"
    likelihood: str = "bernoulli"
    binarize: str | None = None
    epochs: int = 10
    batch_size: int = 100
    learning_rate: float = 1e-3
    beta: float = 1.0
    warmup_epochs: int = 0
    objective: str = "elbo"
    num_samples: int = 1
    kl: str = "auto"
    prior: str = "normal"
    prior_components: int = 500
    flow: str = "none"
    flow_steps: int = 2
    flow_hidden: tuple[int, ...] = (256, 256)
    context_dim: int = 0
    patience: int = 0
    jit: bool = False
    seed: int = 0
    output: str = "runs/vae"
    event_shape: tuple[int, ...] = field(default=())

    def __post_init__(self):
        self.hidden, self.flow_hidden, self.event_shape = tuple(self.hidden), tuple(self.flow_hidden), tuple(self.event_shape)
        for name, allowed in (("architecture", ARCHITECTURES), ("likelihood", LIKELIHOODS), ("flow", FLOWS),
                              ("objective", OBJECTIVES), ("prior", PRIORS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"RunConfig: {name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("latent_dim", "epochs", "batch_size", "num_samples", "flow_steps", "prior_components"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < (0 if name == "epochs" else 1):
                raise ValueError(f"RunConfig: {name} must be a positive integer, got {value!r}")
        if not (self.learning_rate > 0 and math.isfinite(self.learning_rate)):
            raise ValueError(f"RunConfig: learning_rate must be a positive number, got {self.learning_rate!r}")
        if not (self.beta >= 0 and math.isfinite(self.beta)):
            raise ValueError(f"RunConfig: beta must be a non-negative number, got {self.beta!r}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def model_fields(self) -> dict:
        """The fields that determine the model's variables (a resumed run must match them)."""
        keys = ("dataset", "latent_dim", "architecture", "hidden", "activation", "likelihood", "flow", "flow_steps",
                "flow_hidden", "context_dim", "prior", "prior_components", "event_shape", "seed")
        return {k: getattr(self, k) for k in keys}


def load_config(run_dir) -> RunConfig:
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a tfpvae run directory (no config.json)")
    return RunConfig.from_dict(json.loads(path.read_text()))


def _likelihood_head(config: RunConfig):
    if config.likelihood == "bernoulli":
        return BernoulliHead(config.event_shape)
    if config.likelihood == "gaussian":
        return GaussianHead(config.event_shape, scale="log_var")
    return DiscretizedLogisticHead(config.event_shape)


def _posterior_flow(config: RunConfig):
    if config.flow == "none":
        return None
    from tfpvae import flows

    factory, kwargs = {"iaf": (flows.iaf, {}), "gated_iaf": (flows.iaf, {"gated": True}), "maf": (flows.maf, {}),
                       "realnvp": (flows.realnvp, {}), "spline": (flows.spline, {"layout": "iaf"})}[config.flow]
    return factory(config.latent_dim, num_steps=config.flow_steps, hidden_units=config.flow_hidden,
                   context_dim=config.context_dim, seed=config.seed, **kwargs)


def build_model(config: RunConfig):
    """The VAE a config describes (``config.event_shape`` must be set: the data's per-example shape
    as the model sees it, flat for MLPs)."""
    if not config.event_shape:
        raise ValueError("build_model: config.event_shape is empty; set it from the data")
    import keras

    keras.utils.set_random_seed(config.seed)  # same config, same initial weights
    head, flow = _likelihood_head(config), _posterior_flow(config)
    if config.architecture == "mlp":
        vae = mlp_vae(config.event_shape, config.latent_dim, config.hidden, config.activation, head=head,
                      posterior_flow=flow, context_dim=config.context_dim)
    else:
        vae = conv_vae(config.event_shape, config.latent_dim, config.hidden, head=head, posterior_flow=flow,
                       context_dim=config.context_dim)
    return _with_prior(vae, config)


def _with_prior(vae, config: RunConfig):
    """Swap the standard-normal prior for the config's mixture prior. VampPrior pseudo-inputs start
    as ``N(0.05, 0.01^2)`` pixels, as in Tomczak & Welling's code, so no data is needed to build it."""
    if config.prior == "mog":
        vae.prior = mixture_of_gaussians(config.latent_dim, config.prior_components, seed=config.seed)
    elif config.prior == "vamp":
        rng = np.random.default_rng(config.seed)
        init = 0.05 + 0.01 * rng.standard_normal((config.prior_components, *config.event_shape))
        vae.prior = vamp_prior(vae.encoder, init.astype(np.float32))
    return vae


def build_objective(config: RunConfig, steps_per_epoch: int):
    """ELBO (or IWAE) with the config's beta; a warm-up of ``warmup_epochs`` ramps beta from 0."""
    if config.objective == "iwae":
        return IWAE(num_samples=config.num_samples)
    beta = (linear_warmup(config.warmup_epochs * steps_per_epoch, final=config.beta) if config.warmup_epochs
            else config.beta)
    kl = "monte_carlo" if config.flow != "none" else config.kl
    return ELBO(num_samples=config.num_samples, kl=kl, beta=beta)
