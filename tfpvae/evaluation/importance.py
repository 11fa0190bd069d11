"""Importance-sampled ``log p(x)`` (the IWAE bound with large K), chunked so memory stays bounded.

``log p(x) ~= log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x)``, ``z_k ~ q(z|x)`` (Burda et al. 2016;
K = 5000 is the literature's standard for MNIST). The estimate is a stochastic lower bound: its
expectation is ``<= log p(x)`` and rises to it as K grows. The K samples are drawn ``chunk_size`` at a
time and combined with a running log-sum-exp; examples are processed ``batch_size`` at a time, so the
decoder never sees more than ``chunk_size * batch_size`` latents at once, whatever K and the batch.

How it runs: one compiled function per sub-batch encodes it once and loops over the chunks in-graph.
Each chunk's latents and ``log q`` are drawn by TensorFlow's kernels (so the numbers do not depend
on ``jit_compile``); the decoder and the log-weights of the chunk are one XLA computation when
``jit_compile`` resolves to True (``"auto"``: dense models, the rule of :func:`~tfpvae.training.fit`),
in blocks of about 1024 latent rows so that a block's decoder outputs stay in the CPU's cache. A
Bernoulli decoder's likelihood costs one ``exp`` and one ``log`` per pixel
(:mod:`tfpvae.evaluation._decoder_log_prob`). The compiled functions are kept per model and
settings, so repeated calls trace and compile once.
"""

from __future__ import annotations

import math
import time
import weakref

import numpy as np
import tensorflow as tf

from tfpvae._validation import positive_int
from tfpvae.data.pipeline import batch_inputs
from tfpvae.evaluation._decoder_log_prob import decoder_log_prob
from tfpvae.evaluation.bits import bits_per_dim, discrete_num_values

__all__ = ["log_likelihood", "evaluate_dataset"]

# Decoder rows per XLA block on a CPU. For the MNIST MLP VAE on 2 cores, 512-2048 rows took the same time
# and whole 10,000-row chunks 30% more: a block's 784-wide logits (3 MiB at 1024 rows) stay in the L2
# caches between the matmul that writes them and the likelihood that reads them. GPUs take whole chunks.
ROWS_PER_BLOCK = 1024
_CACHE_SIZE = 8  # estimators kept per model (one per distinct settings)
_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _as_seed(seed) -> tf.Tensor:
    """An int or a shape-[2] int tensor/sequence -> int32 ``[2]``."""
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return tf.constant([0, int(seed)], tf.int32)
    seed = tf.cast(tf.convert_to_tensor(seed), tf.int32)
    if seed.shape != (2,):
        raise ValueError(f"log_likelihood: seed must be an int or an int tensor of shape [2], got shape {seed.shape}")
    return seed


def _fold(seed: tf.Tensor, index) -> tf.Tensor:
    return tf.cast(tf.random.experimental.stateless_fold_in(seed, index), tf.int32)


def _log_add_exp(a: tf.Tensor, b: tf.Tensor) -> tf.Tensor:
    return tf.reduce_logsumexp(tf.stack([a, b]), axis=0)


class _ChunkedEstimator:
    """Compiled per-sub-batch estimate for one model and settings (traced once per event shape and dtype,
    batch dimension unknown). Holds the model weakly, so the module cache does not keep it alive."""

    def __init__(self, model, num_samples: int, chunk_size: int, batch_size: int, jit: bool):
        self._model = weakref.ref(model) if _weakrefable(model) else (lambda: model)
        self.num_samples = num_samples
        self.chunk = min(chunk_size, num_samples)
        self.batch_size = batch_size
        self.jit = jit
        self._chunk_fn = tf.function(self._chunk, jit_compile=True) if jit else self._chunk
        self._fns: dict = {}

    @property
    def model(self):
        model = self._model()
        if model is None:
            raise RuntimeError("log_likelihood: the model this estimator was built for no longer exists")
        return model

    def _block(self, n: int) -> int:
        """Samples per block: the largest divisor of ``n`` with ``block * batch_size <= ROWS_PER_BLOCK``."""
        if not self.jit or tf.config.list_logical_devices("GPU"):
            return n  # TensorFlow's kernels, or a GPU: fewer, larger ops
        fits = [d for d in range(1, n + 1) if n % d == 0 and d * self.batch_size <= ROWS_PER_BLOCK]
        return max(fits, default=1)

    def _log_weights(self, x, z, log_q):
        """``[n, B]`` log-weights ``log p(x|z) + log p(z) - log q(z|x)`` for ``z`` ``[n, B, D]``."""
        model = self.model
        return decoder_log_prob(model, z, x) + model.prior.log_prob(z) - log_q

    def _chunk(self, x, z, log_q):
        """``[B]`` log-sum-exp over the ``n`` samples of a chunk (``z`` ``[n, B, D]``, ``log_q`` ``[n, B]``),
        a block of samples at a time."""
        n = int(z.shape[0])
        block = self._block(n)
        if block == n:
            return tf.reduce_logsumexp(self._log_weights(x, z, log_q), axis=0)
        z_blocks = tf.reshape(z, tf.concat([[n // block, block], tf.shape(z)[1:]], 0))
        log_q_blocks = tf.reshape(log_q, [n // block, block, -1])

        def body(i, acc):
            lw = self._log_weights(x, z_blocks[i], log_q_blocks[i])
            return i + 1, _log_add_exp(acc, tf.reduce_logsumexp(lw, axis=0))

        acc = tf.fill([tf.shape(x)[0]], tf.constant(-np.inf, log_q.dtype))
        return tf.while_loop(lambda i, _: i < n // block, body, (tf.constant(0), acc))[1]

    def _sub_batch(self, x, seed):
        """``[B]`` estimate for one sub-batch: encode once, then chunk ``c`` draws with ``fold_in(seed, c)``."""
        q = self.model.encode(x)
        full, rem = divmod(self.num_samples, self.chunk)

        def draw(count, c):
            z, log_q = q.experimental_sample_and_log_prob(count, seed=_fold(seed, c))
            return self._chunk_fn(x, z, tf.cast(log_q, tf.float32))

        def body(c, acc):
            return c + 1, _log_add_exp(acc, draw(self.chunk, c))

        acc = tf.fill([tf.shape(x)[0]], tf.constant(-np.inf, tf.float32))
        acc = tf.while_loop(lambda c, _: c < full, body, (tf.constant(0), acc))[1]
        if rem:
            acc = _log_add_exp(acc, draw(rem, full))
        return acc - math.log(self.num_samples)

    def _compiled(self, x):
        key = (tuple(x.shape[1:]), x.dtype)
        if key not in self._fns:
            specs = [tf.TensorSpec([None, *x.shape[1:]], x.dtype), tf.TensorSpec([2], tf.int32)]
            self._fns[key] = tf.function(self._sub_batch, input_signature=specs)
        return self._fns[key]

    def __call__(self, x, seed) -> tf.Tensor:
        x = tf.convert_to_tensor(x)
        if not x.dtype.is_floating:
            x = tf.cast(x, tf.float32)
        if x.shape.rank is None or x.shape[0] is None:
            raise ValueError(f"log_likelihood: x must have a known batch dimension (call eagerly), got {x.shape}")
        fn, seed, out = self._compiled(x), _as_seed(seed), []
        for j, start in enumerate(range(0, int(x.shape[0]), self.batch_size)):
            out.append(fn(x[start:start + self.batch_size], _fold(seed, j)))
        return tf.concat(out, axis=0) if out else tf.zeros([0], tf.float32)


def _weakrefable(obj) -> bool:
    try:
        weakref.ref(obj)
    except TypeError:
        return False
    return True


def _resolve_jit(jit_compile, model) -> bool:
    """``jit_compile`` as ``fit`` resolves it (``"auto"``: dense models, not convolutions or Bayesian layers)."""
    from tfpvae.training.compilation import resolve_jit_compile  # imported on first use, as before

    return resolve_jit_compile(jit_compile, model, component="log_likelihood")


def _estimator(model, num_samples, chunk_size, batch_size, jit_compile) -> _ChunkedEstimator:
    """The cached estimator for ``model`` and these settings (built on first use)."""
    settings = (positive_int(num_samples, "log_likelihood", "num_samples"),
                positive_int(chunk_size, "log_likelihood", "chunk_size"),
                positive_int(batch_size, "log_likelihood", "batch_size"), _resolve_jit(jit_compile, model))
    try:
        per_model = _cache.setdefault(model, {})
    except TypeError:  # not hashable or not weak-referenceable: nothing to cache on
        return _ChunkedEstimator(model, *settings)
    if settings not in per_model:
        if len(per_model) >= _CACHE_SIZE:
            per_model.pop(next(iter(per_model)))
        per_model[settings] = _ChunkedEstimator(model, *settings)
    return per_model[settings]


def log_likelihood(model, x, *, num_samples: int = 5000, chunk_size: int = 100, batch_size: int = 100,
                   seed=0, jit_compile: bool | str = "auto") -> tf.Tensor:
    """Importance-sampled ``log p(x)`` per example, in nats (a stochastic lower bound; see module doc).

    Args:
      model: VAE protocol (``prior``, ``encode``, ``decode``); any posterior, flows included.
      x: ``[B, *event_shape]`` data (an eager tensor or array; integer data is cast to float32).
      num_samples: K importance samples per example.
      chunk_size: samples drawn per step of the in-graph loop; a last partial chunk draws the rest,
        so the result uses exactly K samples whatever the chunk size.
      batch_size: examples per compiled call (the decoder sees at most ``chunk_size * batch_size``
        latents at once; with XLA, blocks of about 1024 rows).
      seed: int or shape-[2] int tensor. Sub-batch ``j`` and chunk ``c`` use
        ``fold_in(fold_in(seed, j), c)``: the same arguments give the same numbers.
      jit_compile: compile the decoder and log-weights with XLA: ``True``, ``False`` or ``"auto"``
        (dense models: the rule of :func:`~tfpvae.training.fit`). The draws are the same either way;
        results agree to float rounding (~1e-4 nats on MNIST's ~-100).

    Returns:
      ``[B]`` float32. Chunk sizes change which samples are drawn, not the distribution of the result.
      The compiled functions are cached per model and settings: repeated calls trace once.
    """
    return _estimator(model, num_samples, chunk_size, batch_size, jit_compile)(x, seed)


def evaluate_dataset(model, dataset, *, num_samples: int = 5000, chunk_size: int = 100, batch_size: int = 100,
                     seed=0, jit_compile: bool | str = "auto") -> dict:
    """Mean importance-sampled test NLL over a dataset (batches ``x`` or ``(x, y)``; of an ``ArrayData``,
    its epoch 0).

    Batch ``i`` uses seed ``fold_in(seed, i)``; one compiled function serves every batch. Arguments as
    for :func:`log_likelihood`.

    Returns:
      ``{"nll": mean -log p(x) in nats, "nll_stderr": its standard error over examples,
      "num_examples", "num_samples", "seconds"}``, plus ``"bits_per_dim"`` when the model's likelihood
      is a probability mass over the 256 values of 8-bit data (see :func:`bits_per_dim`).
    """
    estimator = _estimator(model, num_samples, chunk_size, batch_size, jit_compile)
    seed, start = _as_seed(seed), time.perf_counter()
    total, total_sq, count, num_dims = 0.0, 0.0, 0, None
    for i, x in enumerate(batch_inputs(dataset)):
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
