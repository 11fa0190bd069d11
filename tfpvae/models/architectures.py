"""Ready-made VAEs and autoencoders from the literature, composed from networks, heads and a prior.

VAEs: :func:`mlp_vae` (Kingma & Welling; Burda et al.), :func:`conv_vae`, :func:`cvae_tutorial` (the
TensorFlow CVAE tutorial, exactly), :func:`conv_face_vae` (64 x 64 colour faces). Deterministic
autoencoders: :func:`mlp_autoencoder`, :func:`conv_autoencoder`. Every builder takes ``head=`` (the
likelihood: Bernoulli, Gaussian, continuous Bernoulli, discretized logistic).
"""

from __future__ import annotations

from collections.abc import Sequence

from tfpvae import networks
from tfpvae.distributions import BernoulliHead, DiagonalNormalHead, DiscretizedLogisticHead, standard_normal
from tfpvae.models.autoencoder import Autoencoder
from tfpvae.models.coders import Decoder, Encoder
from tfpvae.models.vae import VAE

__all__ = ["mlp_vae", "conv_vae", "cvae_tutorial", "conv_face_vae", "mlp_autoencoder", "conv_autoencoder"]


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
    enc = Encoder(networks.mlp(head.event_shape, qhead.num_params + context_dim, hidden, activation), qhead,
                  context_dim)
    dec = Decoder(networks.mlp((latent_dim,), head.num_params, tuple(reversed(tuple(hidden))), activation), head)
    return VAE(prior, enc, dec, posterior_flow=posterior_flow)


def conv_vae(event_shape: Sequence[int], latent_dim: int = 16, filters: Sequence[int] = (32, 64), *, head=None,
             scale: str = "softplus", prior=None, posterior_flow=None, context_dim: int = 0,
             upsampling: str = "transpose") -> VAE:
    """Stride-2 conv encoder and transposed-conv decoder (the TensorFlow CVAE tutorial's shapes; for
    its exact configuration use :func:`cvae_tutorial`). ``upsampling="nearest"`` doubles the
    resolution with ``UpSampling2D`` + conv instead of transposed convs."""
    head, qhead, prior = _defaults(event_shape, latent_dim, head, scale, prior)
    h, w, c = head.event_shape
    enc = Encoder(networks.conv_encoder_net(head.event_shape, qhead.num_params + context_dim, filters), qhead,
                  context_dim)
    per_pixel = head.num_params // (h * w)
    dec = Decoder(networks.conv_decoder_net(latent_dim, (h, w, per_pixel), tuple(reversed(tuple(filters))),
                                            upsampling=upsampling), head)
    return VAE(prior, enc, dec, posterior_flow=posterior_flow)


def cvae_tutorial(latent_dim: int = 2, *, head=None, prior=None) -> VAE:
    """The conv VAE of the TensorFlow CVAE tutorial (tensorflow.org/tutorials/generative/cvae), exactly.

    Encoder: ``Conv2D(32, 3, strides=2, relu) -> Conv2D(64, 3, strides=2, relu)`` (valid padding:
    28 -> 13 -> 6) ``-> Flatten -> Dense(2 * latent_dim)``, read as mean and log-variance
    (``sigma = exp(logvar / 2)``). Decoder: ``Dense(7 * 7 * 32, relu) -> Reshape(7, 7, 32) ->
    Conv2DTranspose(64, 3, 2, same, relu) -> Conv2DTranspose(32, 3, 2, same, relu) ->
    Conv2DTranspose(1, 3, 1, same)``, the logits of a Bernoulli over ``28 x 28 x 1``; prior N(0, I);
    ``latent_dim = 2`` as in the tutorial. 69,989 parameters at ``latent_dim = 2``.

    One layout difference, which leaves the model family unchanged: the tutorial splits the Dense
    output into halves ``[means, logvars]``; our head reads it interleaved per dimension, a fixed
    permutation of the Dense's columns. The tutorial trains with a one-sample Monte Carlo KL
    (``ELBO(kl="monte_carlo")``), Adam(1e-4), batch 32, 10 epochs, statically binarized MNIST.

    References:
      TensorFlow Core tutorials, "Convolutional Variational Autoencoder" (generative/cvae).
    """
    head = head if head is not None else BernoulliHead((28, 28, 1))
    qhead = DiagonalNormalHead(latent_dim, scale="log_var", min_scale=0.0)
    prior = prior if prior is not None else standard_normal(latent_dim)
    h, w, c = head.event_shape
    if (h, w) != (28, 28):
        raise ValueError(f"cvae_tutorial: the tutorial's decoder makes 28 x 28 images, "
                         f"got head event shape {head.event_shape}")
    enc = Encoder(networks.conv_encoder_net(head.event_shape, qhead.num_params, (32, 64), padding="valid"), qhead)
    dec_net = networks.conv_decoder_net(latent_dim, (h, w, head.num_params // (h * w)), (64, 32), base_channels=32)
    return VAE(prior, enc, Decoder(dec_net, head))


def conv_face_vae(event_shape: Sequence[int] = (64, 64, 3), latent_dim: int = 128,
                  filters: Sequence[int] = (32, 64, 128, 256), *, head=None, prior=None,
                  upsampling: str = "nearest", posterior_flow=None) -> VAE:
    """A deeper conv VAE for 64 x 64 colour faces (CelebA), after Hou et al. (2017, DFC-VAE).

    Encoder: four ``Conv2D(f, 4, strides=2, leaky_relu)`` with ``f = 32, 64, 128, 256`` (64 -> 4)
    ``-> Flatten -> Dense(2 * latent_dim)``. Decoder: ``Dense(4 * 4 * 256) -> Reshape`` then four
    doubling blocks (``UpSampling2D(nearest) -> Conv2D(f, 3, leaky_relu)``, ``f = 256, 128, 64, 32``)
    and a 3x3 conv to the head's parameters. Differences from Hou et al.: no batch norm (our
    networks are called without a training flag), latent 128 instead of 100, and a separate last
    conv so that any head fits. The default head is the 8-bit
    :class:`~tfpvae.distributions.DiscretizedLogisticHead` over [0, 1] data (what
    :func:`tfpvae.data.make_dataset` yields); pass ``head=GaussianHead(event_shape, scale=...)`` for a
    Gaussian decoder.

    References:
      Hou, Shen, Sun & Qiu (2017), Deep Feature Consistent Variational Autoencoder, WACV.
    """
    head = head if head is not None else DiscretizedLogisticHead(event_shape)
    qhead = DiagonalNormalHead(latent_dim, "softplus")
    prior = prior if prior is not None else standard_normal(latent_dim)
    h, w, c = head.event_shape
    enc_net = networks.conv_encoder_net(head.event_shape, qhead.num_params, filters, kernel_size=4,
                                        activation="leaky_relu")
    rev = tuple(reversed(tuple(filters)))
    dec_net = networks.conv_decoder_net(latent_dim, (h, w, head.num_params // (h * w)), rev, activation="leaky_relu",
                                        upsampling=upsampling, base_channels=rev[0])
    return VAE(prior, Encoder(enc_net, qhead), Decoder(dec_net, head), posterior_flow=posterior_flow)


def mlp_autoencoder(event_shape: Sequence[int], latent_dim: int = 10, hidden: Sequence[int] = (200, 200),
                    activation: str = "relu", *, head=None) -> Autoencoder:
    """Deterministic MLP autoencoder ``x -> hidden -> z (linear) -> reversed(hidden) -> p(x|z)``.

    ``head`` is the likelihood (default :class:`~tfpvae.distributions.BernoulliHead`; a
    ``GaussianHead(event_shape, scale=1.0)`` makes the loss squared error up to constants).
    """
    head = head if head is not None else BernoulliHead(event_shape)
    enc = networks.mlp(head.event_shape, latent_dim, hidden, activation)
    dec = Decoder(networks.mlp((latent_dim,), head.num_params, tuple(reversed(tuple(hidden))), activation), head)
    return Autoencoder(enc, dec, latent_dim=latent_dim)


def conv_autoencoder(event_shape: Sequence[int], latent_dim: int = 10, filters: Sequence[int] = (32, 64), *,
                     head=None, upsampling: str = "transpose", activation: str = "relu") -> Autoencoder:
    """Deterministic conv autoencoder: stride-2 conv encoder to a linear code, conv decoder whose
    blocks double the resolution by ``upsampling="transpose"`` (stride-2 transposed convs) or
    ``"nearest"``/``"bilinear"`` (``UpSampling2D`` + conv). Height and width must be divisible by
    ``2 ** len(filters)``."""
    head = head if head is not None else BernoulliHead(event_shape)
    h, w, c = head.event_shape
    enc = networks.conv_encoder_net(head.event_shape, latent_dim, filters, activation=activation)
    dec_net = networks.conv_decoder_net(latent_dim, (h, w, head.num_params // (h * w)), tuple(reversed(tuple(filters))),
                                        activation=activation, upsampling=upsampling)
    return Autoencoder(enc, Decoder(dec_net, head), latent_dim=latent_dim)
