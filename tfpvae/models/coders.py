"""Encoders and decoders: a network (any callable, usually Keras) followed by a distribution head."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae._validation import check_last_dim

tfd = tfp.distributions

__all__ = ["Encoding", "Encoder", "Decoder"]


def _float32(out: tf.Tensor) -> tf.Tensor:
    """Network outputs in float32: under mixed precision the network computes in float16/bfloat16,
    but heads, log-probabilities and KL terms are computed in float32."""
    out = tf.convert_to_tensor(out)
    return tf.cast(out, tf.float32) if out.dtype in (tf.float16, tf.bfloat16) else out


def decode_batched(decoder: Callable[[tf.Tensor], tfd.Distribution], z: tf.Tensor,
                   latent_dim: int) -> tfd.Distribution:
    """``decoder(z)`` for ``z`` of shape ``[B, latent_dim]``, or ``[S, B, latent_dim]`` with the
    leading dims flattened for the network and restored as batch dims of the distribution."""
    z = tf.convert_to_tensor(z)
    if z.shape.rank is not None and z.shape.rank <= 2:
        return decoder(z)
    lead = tf.shape(z)[:-1]
    return tfd.BatchReshape(decoder(tf.reshape(z, [-1, latent_dim])), lead)


class Encoding(NamedTuple):
    """What an encoder with a context returns: ``q(z|x)`` and the context ``h`` ``[batch, context_dim]``
    that conditions a posterior flow (Kingma et al. 2016, fig. 2)."""

    distribution: tfd.Distribution
    context: tf.Tensor


class Encoder(tf.Module):
    """``x -> q(z|x)``: ``network(x)`` gives ``head.num_params + context_dim`` numbers per example.

    The first ``head.num_params`` go to the head (e.g. :class:`~tfpvae.distributions.DiagonalNormalHead`);
    the last ``context_dim`` are the context ``h``. With ``context_dim == 0`` the call returns the
    distribution; otherwise an :class:`Encoding`.

    Example:
      >>> from tfpvae import networks, distributions as D
      >>> enc = Encoder(networks.mlp((784,), 2 * 8), D.DiagonalNormalHead(8))
      >>> enc(tf.zeros([3, 784])).event_shape
      TensorShape([8])
    """

    def __init__(self, network: Callable[[tf.Tensor], tf.Tensor], head, context_dim: int = 0, name: str | None = None):
        super().__init__(name=name)
        if context_dim < 0:
            raise ValueError(f"Encoder: context_dim must be >= 0, got {context_dim}")
        self.network, self.head, self.context_dim = network, head, int(context_dim)
        self.latent_dim = head.event_shape[0]

    @property
    def output_dim(self) -> int:
        return self.head.num_params + self.context_dim

    def __call__(self, x: tf.Tensor) -> tfd.Distribution | Encoding:
        out = _float32(self.network(x))
        check_last_dim(out, self.output_dim, "Encoder", "network output (expected head.num_params + context_dim)")
        if not self.context_dim:
            return self.head(out)
        return Encoding(self.head(out[..., :self.head.num_params]), out[..., self.head.num_params:])


class Decoder(tf.Module):
    """``z -> p(x|z)``: ``network(z)`` gives ``head.num_params`` numbers per example; the head makes
    the likelihood (Bernoulli, Gaussian, ...), whose event shape is the data's."""

    def __init__(self, network: Callable[[tf.Tensor], tf.Tensor], head, name: str | None = None):
        super().__init__(name=name)
        self.network, self.head = network, head
        self.event_shape = head.event_shape

    def __call__(self, z: tf.Tensor) -> tfd.Distribution:
        out = _float32(self.network(z))
        check_last_dim(out, self.head.num_params, "Decoder", "network output (expected head.num_params)")
        return self.head(out)
