"""Negative log-likelihood of a distribution head: regression and classification through the same trainer."""

from __future__ import annotations

from typing import NamedTuple

import tensorflow as tf

__all__ = ["NegativeLogLikelihood", "NLLTerms"]


class NLLTerms(NamedTuple):
    """Per-example ``loss = -log p(y|x)`` and ``log_likelihood``, each ``[batch]``."""

    loss: tf.Tensor
    log_likelihood: tf.Tensor


def _check_targets(dist, y: tf.Tensor) -> None:
    """Targets must have the distribution's full shape ``batch_shape + event_shape``: a ``[B]``
    target against a ``[B, 1]`` head would broadcast to a wrong loss without any error."""
    expected = dist.batch_shape.concatenate(dist.event_shape)
    if expected.rank is None or y.shape.rank is None:
        return
    if y.shape.rank != expected.rank or not y.shape.is_compatible_with(expected):
        raise ValueError(f"NegativeLogLikelihood: targets have shape {tuple(y.shape)}, but the model's distribution "
                         f"has batch shape {tuple(dist.batch_shape)} and event shape {tuple(dist.event_shape)}: the "
                         f"targets must have shape {tuple(expected)} (reshape them, e.g. y[:, None], rather than "
                         "letting them broadcast)")


class NegativeLogLikelihood:
    """``loss = -model(x).log_prob(y)`` for a model mapping inputs to a ``tfd.Distribution``.

    A ``Normal(mean, 1)`` head makes this squared error (up to constants); ``Categorical(logits)``
    makes it cross-entropy; a learned scale gives heteroscedastic regression. Batches are ``(x, y)``.
    """

    config = {"objective": "nll"}

    def __call__(self, model, batch, *, seed=None, step=0) -> NLLTerms:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError("NegativeLogLikelihood: each batch must be a pair (x, y)")
        x, y = batch
        dist = model(x)
        _check_targets(dist, tf.convert_to_tensor(y))
        log_lik = dist.log_prob(y)
        if log_lik.shape.rank != 1:
            raise ValueError(f"NegativeLogLikelihood: log_prob(y) must be one number per example (shape [batch]), "
                             f"got shape {log_lik.shape}; wrap the head in tfd.Independent to sum over the event")
        return NLLTerms(loss=-log_lik, log_likelihood=log_lik)
