"""The VAE: a prior, an encoder, a decoder and optionally a posterior flow, composed.

Nothing here computes a loss: the VAE hands out distributions and the objectives
(:mod:`tfpvae.objectives`) consume them.
"""

from __future__ import annotations

from collections.abc import Callable

import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae._validation import check_event_shape
from tfpvae.models.coders import Encoding, decode_batched
from tfpvae.training.variables import trainable_variables

tfd, tfb = tfp.distributions, tfp.bijectors

__all__ = ["VAE"]


class VAE(tf.Module):
    """``p(z) p(x|z)`` with amortised posterior ``q(z|x)``.

    Args:
      prior: a ``tfd.Distribution`` with event shape ``[latent_dim]`` (a flow prior is a
        ``tfd.TransformedDistribution``; trainable parameters are trained).
      encoder: any callable ``x -> tfd.Distribution`` over z, or ``x -> Encoding(distribution, context)``
        when a conditional posterior flow needs the context ``h``.
      decoder: any callable ``z [B, latent_dim] -> tfd.Distribution`` over x.
      posterior_flow: ``None`` (plain VAE), a ``tfb.Bijector`` applied to the encoder's sample, or a
        conditional flow (an object with ``bind(context) -> tfb.Bijector``, ``event_size`` and
        ``context_dim``, e.g. ``tfpvae.flows.iaf(..., context_dim=...)``).

    Example:
      >>> from tfpvae import distributions as D, networks
      >>> from tfpvae.models import Encoder, Decoder
      >>> vae = VAE(D.standard_normal(2),
      ...           Encoder(networks.mlp((784,), 4, hidden=(16,)), D.DiagonalNormalHead(2)),
      ...           Decoder(networks.mlp((2,), 784, hidden=(16,)), D.BernoulliHead((784,))))
      >>> vae.encode(tf.zeros([5, 784])).event_shape, vae.decode(tf.zeros([5, 2])).event_shape
      (TensorShape([2]), TensorShape([784]))
    """

    def __init__(self, prior: tfd.Distribution, encoder: Callable, decoder: Callable, *, posterior_flow=None,
                 name: str | None = None):
        super().__init__(name=name)
        event = prior.event_shape
        if event.rank != 1 or event[0] is None:
            raise ValueError(f"VAE: the prior must have a known event shape [latent_dim], got {event}")
        self.latent_dim = int(event[0])
        self.prior, self.encoder, self.decoder, self.posterior_flow = prior, encoder, decoder, posterior_flow
        enc_latent = getattr(encoder, "latent_dim", None)
        if enc_latent is not None and enc_latent != self.latent_dim:
            raise ValueError(f"VAE: encoder latent_dim {enc_latent} differs from the prior's event size "
                             f"{self.latent_dim}")
        self._check_flow()

    def _check_flow(self) -> None:
        if self.posterior_flow is not None:
            from tfpvae.flows import validate

            validate(self.posterior_flow, self.latent_dim, getattr(self.encoder, "context_dim", 0) or 0,
                     name="VAE posterior_flow")

    @property
    def trainable_variables(self):
        """Every parameter of prior, encoder, decoder and flow that the object graph tracks, whichever
        framework holds it (:func:`tfpvae.training.trainable_variables`)."""
        return trainable_variables(self)

    def encode(self, x: tf.Tensor) -> tfd.Distribution:
        """``q(z|x)``: batch shape ``[B]``, event ``[latent_dim]``. With a flow this is a
        ``TransformedDistribution`` whose bijector has the context bound; draw from it with
        ``experimental_sample_and_log_prob`` to get ``log q`` in the same pass (an IAF's density of
        an arbitrary point costs ``latent_dim`` network passes)."""
        event_shape = getattr(self.decoder, "event_shape", None)
        if event_shape is not None:
            x = tf.convert_to_tensor(x)
            check_event_shape(x, event_shape, "VAE.encode", "x")
        out = self.encoder(x)
        base, context = (out.distribution, out.context) if isinstance(out, Encoding) else (out, None)
        flow = self.posterior_flow
        if flow is None:
            return base
        bijector = flow.bind(context) if hasattr(flow, "bind") else flow
        return tfd.TransformedDistribution(base, bijector)

    def decode(self, z: tf.Tensor) -> tfd.Distribution:
        """``p(x|z)`` for ``z`` of shape ``[B, latent_dim]`` or ``[S, B, latent_dim]`` (sample dims
        are flattened for the network and restored as batch dims)."""
        return decode_batched(self.decoder, z, self.latent_dim)

    def sample(self, n: int, seed=None) -> tfd.Distribution:
        """``p(x|z)`` for ``n`` latents ``z ~ p(z)``; take ``.mean()`` for images, ``.sample()`` for data."""
        return self.decode(self.prior.sample(n, seed=seed))

    def reconstruct(self, x: tf.Tensor, seed=None) -> tfd.Distribution:
        """``p(x|z)`` at ``z ~ q(z|x)`` (one draw per example)."""
        return self.decode(self.encode(x).sample(seed=seed))
