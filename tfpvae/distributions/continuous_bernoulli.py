"""Continuous Bernoulli likelihood for data in [0, 1] (Loaiza-Ganem & Cunningham 2019).

A Bernoulli ``log_prob`` evaluated at non-binary ``x`` in [0, 1] (what "binary cross-entropy on grey
images" does) is not a normalised density. The continuous Bernoulli fixes the normaliser:

    p(x | lambda) = C(lambda) lambda^x (1 - lambda)^(1 - x),
    C(lambda) = 2 artanh(1 - 2 lambda) / (1 - 2 lambda)   (C(1/2) = 2),

so ``log p = x * l - softplus(l) + log C`` with logits ``l``. TFP ships it as
``tfd.ContinuousBernoulli`` (with a Taylor expansion of ``log C`` near ``lambda = 1/2``); this module
only adds the decoder head. Its ``mean()`` is ``lambda / (2 lambda - 1) + 1 / (2 artanh(1 - 2
lambda))``, not ``lambda``: show ``mean()`` when plotting, as the paper advises.
"""

from __future__ import annotations

import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae.distributions.heads import _Head

tfd = tfp.distributions

__all__ = ["ContinuousBernoulliHead"]


class ContinuousBernoulliHead(_Head):
    """Decoder head: independent continuous Bernoulli per dimension, parameterised by logits.

    ``num_params = prod(event_shape)`` (one logit per pixel, as :class:`BernoulliHead`). Returns
    ``Independent(tfd.ContinuousBernoulli(logits), len(event_shape))``: batch shape ``[...]``, event
    ``event_shape``; ``log_prob(x)`` for ``x`` in [0, 1] is one number per example.

    Example:
      >>> head = ContinuousBernoulliHead((28, 28, 1))
      >>> p = head(tf.zeros([2, 784]))
      >>> p.batch_shape, p.event_shape
      (TensorShape([2]), TensorShape([28, 28, 1]))
      >>> abs(round(float(p.log_prob(tf.fill([2, 28, 28, 1], 0.3))[0]), 3))  # logit 0: uniform on [0, 1]
      0.0

    References:
      Loaiza-Ganem & Cunningham (2019), The continuous Bernoulli: fixing a pervasive error in
      variational autoencoders, NeurIPS.
    """

    @property
    def config(self) -> dict:
        return {"head": "continuous_bernoulli"}

    def __call__(self, params: tf.Tensor) -> tfd.Distribution:
        (logits,) = self._split(params)
        return self._independent(tfd.ContinuousBernoulli(logits=logits))
