"""The variational objective of Bayesian neural nets, per example: NLL + KL / N."""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae.layers.kl import kl_divergence
from tfpvae.layers.base import shared_posteriors
from tfpvae.layers.noise import noise_seed
from tfpvae.objectives.schedules import as_schedule

tfd = tfp.distributions

__all__ = ["BayesianELBO", "BayesianELBOTerms", "check_labels"]


class BayesianELBOTerms(NamedTuple):
    """Per-example terms, each ``[batch]`` float32.

    ``loss = -log_likelihood + kl_weight * kl``; ``kl`` is the model's ``KL(q(w) || p(w)) / N``
    broadcast to every example (unweighted), so ``mean(kl)`` over any batch is ``KL / N``.
    """

    loss: tf.Tensor
    log_likelihood: tf.Tensor
    kl: tf.Tensor


def check_labels(distribution: tfd.Distribution, y: tf.Tensor, component: str) -> tf.Tensor:
    """``y``, checked: raise if its shape does not fit ``distribution`` or, for a ``Categorical``, a
    label is outside ``[0, num_classes)``. Static checks raise ``ValueError``; labels known only at
    run time get a ``tf.debugging`` assertion (a no-op under XLA), and the returned labels depend on
    it, so in a graph the assertion runs before anything computed from them (not in a race with,
    say, the log-probability's own kernel error)."""
    y = tf.convert_to_tensor(y)
    rank = len(distribution.batch_shape) + len(distribution.event_shape)
    expected = tuple(distribution.batch_shape) + tuple(distribution.event_shape)
    if y.shape.rank is not None and (y.shape.rank != rank or not tf.TensorShape(expected).is_compatible_with(y.shape)):
        raise ValueError(f"{component}: labels have shape {tuple(y.shape)}; the model's distribution expects "
                         f"{expected} (batch shape {tuple(distribution.batch_shape)} + event shape "
                         f"{tuple(distribution.event_shape)})")
    if not isinstance(distribution, tfd.Categorical):
        return y
    num_classes = distribution.logits_parameter().shape[-1]
    if num_classes is None:
        return y
    static = tf.get_static_value(y)
    if static is not None:
        bad = np.asarray(static)[(np.asarray(static) < 0) | (np.asarray(static) >= num_classes)]
        if bad.size:
            raise ValueError(f"{component}: labels must be in [0, {num_classes}) for a Categorical over "
                             f"{num_classes} classes, got {bad[:5].tolist()}")
        return y
    checks = [tf.debugging.assert_non_negative(y, message=f"{component}: labels must be >= 0"),
              tf.debugging.assert_less(y, tf.cast(num_classes, y.dtype),
                                       message=f"{component}: labels must be < num_classes = {num_classes}")]
    with tf.control_dependencies([c for c in checks if c is not None]):  # eagerly the checks ran already
        return tf.identity(y)


class BayesianELBO:
    """Negative ELBO of a Bayesian neural net, spread over examples.

    For a batch ``{(x_i, y_i)}`` of ``B`` examples from a training set of ``N``::

        loss_i = -(1/S) sum_s log p(y_i | x_i, w_s) + beta(step) * KL(q(w) || p(w)) / N,   w_s ~ q(w)

    The trainer minimises the batch mean, ``mean NLL + beta KL / N``; over one epoch of ``N / B``
    batches the KL terms add up to exactly one ``beta * KL``, so an epoch's summed loss is the
    negative ELBO of the whole training set. The KL is each layer's analytic KL where TFP has
    the pair, else a one-sample Monte Carlo estimate (see
    :meth:`tfpvae.layers.BayesianLayer.kl_divergence`), computed once per call.

    All weight noise of the call is drawn inside ``noise_seed(seed)``: reproducible per seed, and
    different per replica when ``fit`` hands each replica its own seed (``seed=None``: the
    layers' own generators).

    Args:
      num_examples: ``N``, the training-set size (> 0).
      kl_weight: ``beta``: a finite float >= 0 or a schedule ``step -> float`` (e.g.
        :func:`~tfpvae.objectives.linear_warmup` for KL annealing).
      num_samples: ``S`` weight samples per example for the likelihood term.

    Call: ``objective(model, (x, y), *, seed, step)`` with ``model(x)`` a ``tfd.Distribution``
    whose ``log_prob(y)`` is ``[batch]`` (a Keras model ending in a head of
    :mod:`tfpvae.distributions.regression`, or any callable).

    References:
      Blundell et al. (2015), Weight Uncertainty in Neural Networks, ICML, eq. (8) with the
      minibatch weighting pi_i = 1/M; Graves (2011), Practical Variational Inference for Neural Networks.
    """

    def __init__(self, num_examples: int, kl_weight=1.0, num_samples: int = 1):
        if isinstance(num_examples, bool) or not isinstance(num_examples, (int, np.integer)) or num_examples <= 0:
            raise ValueError(f"BayesianELBO: num_examples (N, the training-set size) must be a positive integer, "
                             f"got {num_examples!r}")
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
            raise ValueError(f"BayesianELBO: num_samples must be a positive integer, got {num_samples!r}")
        self.num_examples, self.num_samples = int(num_examples), num_samples
        self.kl_weight = as_schedule(kl_weight, "BayesianELBO", "kl_weight")
        self.config = {"objective": "bayesian_elbo", "num_examples": self.num_examples, "num_samples": num_samples,
                       "kl_weight": getattr(self.kl_weight, "config", repr(kl_weight))}

    def __call__(self, model, batch, *, seed=None, step=0) -> BayesianELBOTerms:
        if not isinstance(batch, (tuple, list)) or len(batch) != 2:
            raise ValueError("BayesianELBO: each batch must be a pair (x, y)")
        x, y = batch
        # one posterior per weight for the forward passes and the KL (the weights do not change here)
        with noise_seed(seed) if seed is not None else contextlib.nullcontext(), shared_posteriors():
            log_liks = []
            for _ in range(self.num_samples):
                dist = model(x)
                if not isinstance(dist, tfd.Distribution):
                    raise TypeError(f"BayesianELBO: the model must return a tfd.Distribution over y, "
                                    f"got {type(dist).__name__}")
                checked = check_labels(dist, y, "BayesianELBO")
                log_liks.append(tf.cast(dist.log_prob(checked), tf.float32))
            kl = kl_divergence(model)
        log_lik = tf.add_n(log_liks) / float(self.num_samples)
        if log_lik.shape.rank != 1:
            raise ValueError(f"BayesianELBO: log_prob(y) must be one number per example (shape [batch]), got "
                             f"shape {log_lik.shape}")
        kl_per_example = tf.fill(tf.shape(log_lik), kl / float(self.num_examples))
        beta = tf.cast(self.kl_weight(step), tf.float32)
        return BayesianELBOTerms(loss=-log_lik + beta * kl_per_example, log_likelihood=log_lik, kl=kl_per_example)
