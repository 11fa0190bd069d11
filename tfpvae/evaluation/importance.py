"""Importance-sampled ``log p(x)`` (the IWAE bound with large K), chunked so memory stays bounded.

``log p(x) ~= log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x)``, ``z_k ~ q(z|x)`` (Burda et al. 2016;
K = 5000 is the literature's standard for MNIST). The estimate is a stochastic lower bound: its
expectation is ``<= log p(x)`` and rises to it as K grows. The K samples are drawn ``chunk_size`` at a
time and combined with a running log-sum-exp; examples are processed ``batch_size`` at a time, so the
decoder never sees more than ``chunk_size * batch_size`` latents at once, whatever K and the batch.
"""

from __future__ import annotations

import math
import time

import numpy as np
import tensorflow as tf

from tfpvae._validation import positive_int
from tfpvae.evaluation.bits import bits_per_dim, discrete_num_values
from tfpvae.objectives.iwae import log_weights

__all__ = ["log_likelihood", "evaluate_dataset"]


def _as_seed(seed) -> tf.Tensor:
    """An int or a shape-[2] int tensor/sequence -> int32 ``[2]``."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return tf.constant([0, int(seed)], tf.int32)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int32)
    if seed.shape != (2,):
        raise ValueError(f"log_likelihood: seed must be an int or an int tensor of shape [2], got shape {seed.shape}")
    return seed


def _fold(seed: tf.Tensor, index: int) -> tf.Tensor:
    return tf.cast(tf.random.experimental.stateless_fold_in(seed, index), tf.int32)


class _ChunkedEstimator:
    """Holds one compiled chunk step (traced once, batch dimension unknown) for a model and settings."""

    def __init__(self, model, num_samples: int, chunk_size: int, batch_size: int):
        self.model = model
        self.num_samples = positive_int(num_samples, "log_likelihood", "num_samples")
        self.chunk = min(positive_int(chunk_size, "log_likelihood", "chunk_size"), self.num_samples)
        self.batch_size = positive_int(batch_size, "log_likelihood", "batch_size")
        self.num_chunks = -(-self.num_samples // self.chunk)
        self._fn = None

    def _step(self, x, seed, num_valid, acc):
        """``acc`` [B] updated with the log-sum-exp of the first ``num_valid`` of ``chunk`` log-weights."""
        lw = log_weights(self.model, x, self.chunk, seed)  # [chunk, B]
        valid = tf.range(self.chunk)[:, tf.newaxis] < num_valid
        chunk_lse = tf.reduce_logsumexp(tf.where(valid, lw, tf.constant(-np.inf, lw.dtype)), axis=0)
        return tf.reduce_logsumexp(tf.stack([acc, chunk_lse]), axis=0)

    def _compiled(self, x):
        if self._fn is None:
            specs = [tf.TensorSpec([None, *x.shape[1:]], x.dtype), tf.TensorSpec([2], tf.int32),
                     tf.TensorSpec([], tf.int32), tf.TensorSpec([None], tf.float32)]
            self._fn = tf.function(self._step, input_signature=specs)
        return self._fn

    def __call__(self, x, seed) -> tf.Tensor:
        x = tf.convert_to_tensor(x)
        if not x.dtype.is_floating:
            x = tf.cast(x, tf.float32)
        if x.shape.rank is None or x.shape[0] is None:
            raise ValueError(f"log_likelihood: x must have a known batch dimension (call eagerly), got {x.shape}")
        fn, seed, out = self._compiled(x), _as_seed(seed), []
        for j, start in enumerate(range(0, int(x.shape[0]), self.batch_size)):
            xb, sub_seed = x[start:start + self.batch_size], _fold(seed, j)
            acc = tf.fill([tf.shape(xb)[0]], tf.constant(-np.inf, tf.float32))
            for c in range(self.num_chunks):
                valid = min(self.chunk, self.num_samples - c * self.chunk)
                acc = fn(xb, _fold(sub_seed, c), tf.constant(valid, tf.int32), acc)
            out.append(acc - math.log(self.num_samples))
        return tf.concat(out, axis=0) if out else tf.zeros([0], tf.float32)


def log_likelihood(model, x, *, num_samples: int = 5000, chunk_size: int = 100, batch_size: int = 100,
                   seed=0) -> tf.Tensor:
    """Importance-sampled ``log p(x)`` per example, in nats (a stochastic lower bound; see module doc).

    Args:
      model: VAE protocol (``prior``, ``encode``, ``decode``); any posterior, flows included.
      x: ``[B, *event_shape]`` data (an eager tensor or array; integer data is cast to float32).
      num_samples: K importance samples per example.
      chunk_size: samples drawn per compiled call; a last partial chunk is masked, so the result
        uses exactly K samples whatever the chunk size.
      batch_size: examples per compiled call (the decoder sees ``chunk_size * batch_size`` latents).
      seed: int or shape-[2] int tensor. Sub-batch ``j`` and chunk ``c`` use
        ``fold_in(fold_in(seed, j), c)``: the same arguments give the same numbers.

    Returns:
      ``[B]`` float32. Chunk sizes change which samples are drawn, not the distribution of the result.
      Each call traces once; for many batches use :func:`evaluate_dataset` (one trace for all).
    """
    return _ChunkedEstimator(model, num_samples, chunk_size, batch_size)(x, seed)


def _first(element):
    return element[0] if isinstance(element, (tuple, list)) else element


def evaluate_dataset(model, dataset, *, num_samples: int = 5000, chunk_size: int = 100, batch_size: int = 100,
                     seed=0) -> dict:
    """Mean importance-sampled test NLL over a dataset (batches ``x`` or ``(x, y)``).

    Batch ``i`` uses seed ``fold_in(seed, i)``; one compiled function serves every batch.

    Returns:
      ``{"nll": mean -log p(x) in nats, "nll_stderr": its standard error over examples,
      "num_examples", "num_samples", "seconds"}``, plus ``"bits_per_dim"`` when the model's likelihood
      is a probability mass over the 256 values of 8-bit data (see :func:`bits_per_dim`).
    """
    estimator = _ChunkedEstimator(model, num_samples, chunk_size, batch_size)
    seed, start = _as_seed(seed), time.perf_counter()
    total, total_sq, count, num_dims = 0.0, 0.0, 0, None
    for i, element in enumerate(dataset):
        x = _first(element)
        nll = -estimator(x, _fold(seed, i)).numpy().astype(np.float64)
        total, total_sq, count = total + nll.sum(), total_sq + (nll ** 2).sum(), count + nll.size
        num_dims = int(np.prod(x.shape[1:]))
    if count == 0:
        raise ValueError("evaluate_dataset: the dataset yielded no examples")
    mean = total / count
    var = max(total_sq / count - mean ** 2, 0.0) * count / max(count - 1, 1)
    result = {"nll": float(mean), "nll_stderr": math.sqrt(var / count), "num_examples": count,
              "num_samples": estimator.num_samples, "seconds": time.perf_counter() - start}
    if discrete_num_values(model) == 256:
        result["bits_per_dim"] = float(bits_per_dim(mean, num_dims, likelihood=model))
    return result
