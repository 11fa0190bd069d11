"""The deterministic autoencoder: an encoder network to a code ``z`` and a decoder to ``p(x|z)``.

An autoencoder has no prior and no posterior: ``encode(x)`` is a point ``z = f(x)``. The decoder still
returns a distribution, so the reconstruction loss is whatever likelihood it holds: a fixed-scale
:class:`~tfpvae.distributions.GaussianHead` gives squared error, a
:class:`~tfpvae.distributions.BernoulliHead` gives binary cross-entropy. Train it with
:class:`tfpvae.objectives.Reconstruction` through the same :func:`tfpvae.fit` as a VAE.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae._validation import check_event_shape, check_last_dim, positive_int
from tfpvae.models.coders import decode_batched
from tfpvae.training.variables import trainable_variables

tfd = tfp.distributions

__all__ = ["Autoencoder"]


def _infer_latent_dim(encoder_net) -> int | None:
    shape = getattr(encoder_net, "output_shape", None)
    try:
        return int(shape[-1]) if shape is not None and shape[-1] is not None else None
    except (TypeError, IndexError):
        return None


class Autoencoder(tf.Module):
    """``x -> z = encoder_net(x) -> p(x|z) = decoder(z)``, deterministic in ``z``.

    Args:
      encoder_net: any callable ``x [B, *event_shape] -> z [B, latent_dim]`` (usually a Keras net
        with a linear last layer, e.g. :func:`tfpvae.networks.mlp`).
      decoder: any callable ``z [B, latent_dim] -> tfd.Distribution`` over x, e.g.
        :class:`tfpvae.models.Decoder` (a network and a head).
      latent_dim: the code size; inferred from a Keras ``encoder_net.output_shape`` when omitted.

    The parameters are the trainable variables reachable from ``encoder_net`` and ``decoder``
    (:attr:`trainable_variables`); ``tf.train.Checkpoint(model=ae)`` saves them by name.

    Example:
      >>> from tfpvae import networks, distributions as D
      >>> from tfpvae.models import Decoder
      >>> ae = Autoencoder(networks.mlp((784,), 10, hidden=(32,)),
      ...                  Decoder(networks.mlp((10,), 784, hidden=(32,)), D.BernoulliHead((784,))))
      >>> ae.encode(tf.zeros([3, 784])).shape, ae.reconstruct(tf.zeros([3, 784])).event_shape
      (TensorShape([3, 10]), TensorShape([784]))

    References:
      Hinton & Salakhutdinov (2006), Reducing the dimensionality of data with neural networks.
    """

    def __init__(self, encoder_net: Callable[[tf.Tensor], tf.Tensor], decoder: Callable[[tf.Tensor], tfd.Distribution],
                 *, latent_dim: int | None = None, name: str | None = None):
        super().__init__(name=name)
        inferred = _infer_latent_dim(encoder_net)
        if latent_dim is None and inferred is None:
            raise ValueError("Autoencoder: latent_dim is required when encoder_net has no static output_shape")
        if latent_dim is not None and inferred is not None and int(latent_dim) != inferred:
            raise ValueError(f"Autoencoder: latent_dim {latent_dim} differs from the encoder_net output width "
                             f"{inferred}")
        self.latent_dim = positive_int(int(latent_dim if latent_dim is not None else inferred), "Autoencoder",
                                       "latent_dim")
        self.encoder_net, self.decoder = encoder_net, decoder

    @property
    def event_shape(self):
        """The data's event shape (the decoder's), or None if the decoder does not say."""
        return getattr(self.decoder, "event_shape", None)

    @property
    def trainable_variables(self):
        """Every trainable variable of encoder network and decoder, whichever framework holds it."""
        return trainable_variables(self.encoder_net, self.decoder)

    def encode(self, x: tf.Tensor) -> tf.Tensor:
        """The code ``z = encoder_net(x)``: a tensor ``[B, latent_dim]`` (not a distribution)."""
        x = tf.convert_to_tensor(x)
        if self.event_shape is not None:
            check_event_shape(x, self.event_shape, "Autoencoder.encode", "x")
        z = self.encoder_net(x)
        check_last_dim(z, self.latent_dim, "Autoencoder", "encoder_net output (expected latent_dim)")
        return z

    def decode(self, z: tf.Tensor) -> tfd.Distribution:
        """``p(x|z)`` for ``z`` of shape ``[B, latent_dim]`` or ``[S, B, latent_dim]`` (leading dims
        are flattened for the network and restored as batch dims)."""
        return decode_batched(self.decoder, z, self.latent_dim)

    def reconstruct(self, x: tf.Tensor, seed=None) -> tfd.Distribution:
        """``p(x | z = encode(x))``; ``seed`` is accepted for symmetry with the VAE and unused."""
        del seed
        return self.decode(self.encode(x))
