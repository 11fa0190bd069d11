"""Ready-made VAEs from the literature, composed from networks, heads and a prior."""

from __future__ import annotations

from collections.abc import Sequence

from tfpvae import networks
from tfpvae.distributions import BernoulliHead, DiagonalNormalHead, standard_normal
from tfpvae.models.coders import Decoder, Encoder
from tfpvae.models.vae import VAE

__all__ = ["mlp_vae", "conv_vae"]


def _defaults(event_shape, latent_dim, head, scale, prior):
    return (head if head is not None else BernoulliHead(event_shape), DiagonalNormalHead(latent_dim, scale),
            prior if prior is not None else standard_normal(latent_dim))


def mlp_vae(event_shape: Sequence[int], latent_dim: int = 50, hidden: Sequence[int] = (200, 200),
            activation: str = "tanh", *, head=None, scale: str = "softplus", prior=None,
            posterior_flow=None, context_dim: int = 0) -> VAE:
    """MLP encoder and decoder with mirrored hidden sizes.

    Defaults give the 784-200-200-50 tanh model of Burda et al. (2015) with a Bernoulli likelihood;
    ``hidden=(500,)`` is Kingma & Welling's (2014). ``head`` is the decoder head (likelihood);
    ``context_dim > 0`` makes the encoder emit a context for a conditional ``posterior_flow``.
    """
    head, qhead, prior = _defaults(event_shape, latent_dim, head, scale, prior)
    enc = Encoder(networks.mlp(head.event_shape, qhead.num_params + context_dim, hidden, activation), qhead, context_dim)
    dec = Decoder(networks.mlp((latent_dim,), head.num_params, tuple(reversed(tuple(hidden))), activation), head)
    return VAE(prior, enc, dec, posterior_flow=posterior_flow)


def conv_vae(event_shape: Sequence[int], latent_dim: int = 16, filters: Sequence[int] = (32, 64), *, head=None,
             scale: str = "softplus", prior=None, posterior_flow=None, context_dim: int = 0) -> VAE:
    """Stride-2 conv encoder and transposed-conv decoder (the TensorFlow CVAE tutorial's shapes)."""
    head, qhead, prior = _defaults(event_shape, latent_dim, head, scale, prior)
    h, w, c = head.event_shape
    enc = Encoder(networks.conv_encoder_net(head.event_shape, qhead.num_params + context_dim, filters), qhead, context_dim)
    per_pixel = head.num_params // (h * w)
    dec = Decoder(networks.conv_decoder_net(latent_dim, (h, w, per_pixel), tuple(reversed(tuple(filters)))), head)
    return VAE(prior, enc, dec, posterior_flow=posterior_flow)
