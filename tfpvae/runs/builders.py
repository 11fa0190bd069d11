"""Model and objective builders: a :class:`~tfpvae.runs.config.RunConfig` turned into the same
model and objective every time, so ``tfpvae sample OUT`` / ``reconstruct`` / ``evaluate`` work from
a saved run and benchmarks build what the CLI builds."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tfpvae.distributions import (BernoulliHead, ContinuousBernoulliHead, DiscretizedLogisticHead, GaussianHead,
                                  mixture_of_gaussians, vamp_prior)
from tfpvae.models import conv_autoencoder, conv_vae, mlp_autoencoder, mlp_vae
from tfpvae.objectives import ELBO, IWAE, Reconstruction, linear_warmup
from tfpvae.runs.config import RunConfig

__all__ = ["build_model", "build_objective", "kl_mode"]


def _likelihood_head(config: RunConfig):
    if config.likelihood == "bernoulli":
        return BernoulliHead(config.event_shape)
    if config.likelihood == "gaussian":
        return GaussianHead(config.event_shape, scale="log_var")
    if config.likelihood == "continuous_bernoulli":
        return ContinuousBernoulliHead(config.event_shape)
    return DiscretizedLogisticHead(config.event_shape)


def _posterior_flow(config: RunConfig):
    if config.flow == "none":
        return None
    from tfpvae import flows

    factories: dict[str, tuple[Callable, dict]] = {
        "iaf": (flows.iaf, {}), "gated_iaf": (flows.iaf, {"gated": True}), "maf": (flows.maf, {}),
        "realnvp": (flows.realnvp, {}), "spline": (flows.spline, {"layout": "iaf"})}
    factory, kwargs = factories[config.flow]
    return factory(config.latent_dim, num_steps=config.flow_steps, hidden_units=config.flow_hidden,
                   context_dim=_resolved(config)[1], seed=config.seed, **kwargs)


def _resolved(config: RunConfig) -> tuple[tuple[int, ...], int]:
    """``(hidden, context_dim)``, which ``RunConfig.__post_init__`` has resolved from ``None``."""
    assert config.hidden is not None and config.context_dim is not None, "RunConfig resolves these"
    return config.hidden, config.context_dim


def build_model(config: RunConfig):
    """The VAE a config describes (``config.event_shape`` must be set: the data's per-example shape
    as the model sees it, flat for MLPs)."""
    if not config.event_shape:
        raise ValueError("build_model: config.event_shape is empty; set it from the data")
    import keras

    keras.utils.set_random_seed(config.seed)  # same config, same initial weights
    head = _likelihood_head(config)
    hidden, context_dim = _resolved(config)
    if config.model == "ae":
        if config.architecture == "mlp":
            return mlp_autoencoder(config.event_shape, config.latent_dim, hidden, config.activation, head=head)
        return conv_autoencoder(config.event_shape, config.latent_dim, hidden, head=head)
    flow = _posterior_flow(config)
    if config.architecture == "mlp":
        vae = mlp_vae(config.event_shape, config.latent_dim, hidden, config.activation, head=head,
                      posterior_flow=flow, context_dim=context_dim)
    else:
        vae = conv_vae(config.event_shape, config.latent_dim, hidden, head=head, posterior_flow=flow,
                       context_dim=context_dim)
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
    """ELBO (or IWAE) with the config's beta; a warm-up of ``warmup_epochs`` ramps beta from 0; the
    reconstruction log-likelihood for an autoencoder. The KL mode is decided here, once: Monte Carlo
    wherever a flow or a mixture prior rules out the closed form."""
    if config.model == "ae":
        return Reconstruction()
    if config.objective == "iwae":
        return IWAE(num_samples=config.num_samples)
    beta = (linear_warmup(config.warmup_epochs * steps_per_epoch, final=config.beta) if config.warmup_epochs
            else config.beta)
    return ELBO(num_samples=config.num_samples, kl=kl_mode(config), beta=beta)


def kl_mode(config: RunConfig) -> str:
    """The ELBO's KL mode for a config: ``monte_carlo`` with a flow posterior (its log-density comes
    from the sampling pass), else the configured one (``auto`` is analytic where TFP has the pair)."""
    return "monte_carlo" if config.flow != "none" else config.kl
