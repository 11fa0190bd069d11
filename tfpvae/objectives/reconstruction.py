"""The autoencoder's objective: the negative log-likelihood of the reconstruction."""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

from tfpvae._validation import check_event_shape

__all__ = ["Reconstruction", "ReconstructionTerms"]


class ReconstructionTerms(NamedTuple):
    """Per-example ``loss = -log p(x | z = f(x))`` and ``log_likelihood``, each ``[batch]``."""

    loss: tf.Tensor
    log_likelihood: tf.Tensor


class Reconstruction:
    """``loss(x) = -log p(x | z = encode(x))`` for a deterministic autoencoder.

    The likelihood is the decoder's distribution, so the loss follows from the head, not from a
    string: a Gaussian head with fixed ``sigma`` gives ``||x - mu(z)||^2 / (2 sigma^2) + D log(sigma
    sqrt(2 pi))`` (squared error plus a constant), a Bernoulli head gives binary cross-entropy
    summed over pixels. Works with any model with ``encode(x) -> z`` (a tensor) and ``decode(z) ->
    tfd.Distribution`` (:class:`tfpvae.models.Autoencoder`). ``seed`` and ``step`` are unused.

    Example:
      >>> objective = Reconstruction()
      >>> tfpvae.fit(ae, objective, data, epochs=10)  # doctest: +SKIP

    References:
      Hinton & Salakhutdinov (2006); Goodfellow, Bengio & Courville (2016), Deep Learning, ch. 14.
    """

    config = {"objective": "reconstruction"}

    def __call__(self, model, x, *, seed=None, step=0) -> ReconstructionTerms:
        x = tf.convert_to_tensor(x)
        z = model.encode(x)
        if not isinstance(z, tf.Tensor):
            raise ValueError(f"Reconstruction: model.encode(x) must return the code tensor [batch, latent_dim], got "
                             f"{type(z).__name__} (for a VAE use tfpvae.ELBO)")
        p = model.decode(z)
        check_event_shape(x, p.event_shape, "Reconstruction", "the data batch x (decoder event shape)")
        log_lik = p.log_prob(x)
        if log_lik.shape.rank != 1:
            raise ValueError(f"Reconstruction: log_prob(x) must be one number per example (shape [batch]), got shape "
                             f"{log_lik.shape}; wrap the likelihood in tfd.Independent to sum over the event")
        return ReconstructionTerms(loss=-log_lik, log_likelihood=log_lik)
