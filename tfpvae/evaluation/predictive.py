"""Predictive distributions of Bayesian nets: a mixture over K weight samples, and what it tells.

``p(y|x, D) ~= (1/K) sum_k p(y|x, w_k)``, ``w_k ~ q(w)``. :func:`predictive_distribution` returns
it as a ``tfd.MixtureSameFamily`` with equal weights whose components are the model's own
distributions (Normal for regression, Categorical for classification), so ``log_prob`` is the
predictive log-likelihood by log-mean-exp over the samples, and ``mean()`` / ``stddev()`` are the
predictive moments (law of total variance: aleatoric + epistemic).

References:
  Gal (2016), Uncertainty in Deep Learning, PhD thesis, ch. 3; Depeweg et al. (2018),
  Decomposition of Uncertainty in Bayesian Deep Learning (entropy = aleatoric + mutual information).
"""

from __future__ import annotations

import contextlib

import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae.layers.noise import noise_seed

tfd = tfp.distributions

__all__ = ["predictive_distribution", "predictive_mean_stddev", "class_probabilities", "predictive_entropy",
           "mutual_information", "predictive_log_likelihood"]


def _component(dists: list) -> tfd.Distribution:
    """The K per-sample distributions as one with an extra trailing batch dimension K."""
    first = dists[0]
    if isinstance(first, tfd.Categorical):
        logits = tf.stack([d.logits_parameter() for d in dists], axis=-2)  # [batch, K, C]
        return tfd.Categorical(logits=logits)
    ndims = 0
    base = first
    if isinstance(first, tfd.Independent):
        ndims, base = first.reinterpreted_batch_ndims, first.distribution
    if isinstance(base, tfd.Normal):
        axis = len(first.batch_shape)  # [batch..., K, event...]
        loc = tf.stack([d.mean() for d in dists], axis=axis)
        scale = tf.stack([d.stddev() for d in dists], axis=axis)
        normal = tfd.Normal(loc, scale)
        return tfd.Independent(normal, ndims) if ndims else normal
    raise TypeError(f"predictive_distribution: the model returned a {type(first).__name__}; supported are "
                    f"Categorical, Normal and Independent(Normal)")


def predictive_distribution(model, x, *, num_samples: int = 10, seed=None) -> tfd.MixtureSameFamily:
    """``(1/K) sum_k model_k(x)`` over ``K = num_samples`` weight samples.

    Args:
      model: callable ``x -> tfd.Distribution`` with Bayesian layers (each call samples weights).
      x: inputs ``[batch, ...]``.
      num_samples: ``K`` > 0.
      seed: stateless seed (int or shape-``[2]``) for the weight noise; ``None`` uses the layers'
        own generators.

    Returns:
      ``MixtureSameFamily`` with batch shape ``[batch]`` and the model's event shape.

    Example:
      >>> import keras
      >>> from tfpvae.layers import DenseFlipout
      >>> from tfpvae.distributions import CategoricalHead
      >>> model = keras.Sequential([DenseFlipout(3), CategoricalHead(3)])
      >>> p = predictive_distribution(model, tf.ones([4, 2]), num_samples=5, seed=0)
      >>> class_probabilities(p).shape
      TensorShape([4, 3])
    """
    if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
        raise ValueError(f"predictive_distribution: num_samples must be a positive integer, got {num_samples!r}")
    with noise_seed(seed) if seed is not None else contextlib.nullcontext():
        dists = [model(x) for _ in range(num_samples)]
    component = _component(dists)
    logits = tf.zeros(tf.concat([component.batch_shape_tensor()[:-1], [num_samples]], 0))
    return tfd.MixtureSameFamily(tfd.Categorical(logits=logits), component)


def predictive_mean_stddev(predictive: tfd.MixtureSameFamily) -> tuple[tf.Tensor, tf.Tensor]:
    """Regression: predictive mean and standard deviation ``[batch, event...]`` (total variance)."""
    return predictive.mean(), predictive.stddev()


def class_probabilities(predictive: tfd.MixtureSameFamily) -> tf.Tensor:
    """Classification: ``(1/K) sum_k softmax(logits_k)``, ``[batch, classes]``."""
    return tf.reduce_mean(predictive.components_distribution.probs_parameter(), axis=-2)


def _entropy(probs: tf.Tensor) -> tf.Tensor:
    return -tf.reduce_sum(tf.math.multiply_no_nan(tf.math.log(probs), probs), axis=-1)


def predictive_entropy(predictive: tfd.MixtureSameFamily) -> tf.Tensor:
    """``H[p(y|x, D)]`` of the averaged class probabilities (total uncertainty), nats ``[batch]``."""
    return _entropy(class_probabilities(predictive))


def mutual_information(predictive: tfd.MixtureSameFamily) -> tf.Tensor:
    """``I[y; w | x, D] = H[mean_k p_k] - mean_k H[p_k]`` (epistemic part, BALD), nats ``[batch]``, >= 0."""
    per_sample = predictive.components_distribution.probs_parameter()  # [batch, K, C]
    return predictive_entropy(predictive) - tf.reduce_mean(_entropy(per_sample), axis=-1)


def predictive_log_likelihood(predictive: tfd.MixtureSameFamily, y) -> tf.Tensor:
    """``log (1/K) sum_k p(y|x, w_k)`` (log-mean-exp over samples), ``[batch]``."""
    return predictive.log_prob(y)
