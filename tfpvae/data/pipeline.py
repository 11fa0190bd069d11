"""`make_dataset` and `ArrayData`: in-memory images -> batched, shuffled epochs (tf.data, or gathered in-graph).

Transforms follow the VAE literature: scale to [0, 1] float32, static
binarization (x > 0.5), dynamic binarization (x ~ Bernoulli(intensity),
resampled every epoch) and flattening. The whole array stays in memory as one
tensor; the pipeline shuffles indices, batches them, then gathers and
transforms a whole batch per `map` call.
"""

from __future__ import annotations

import numbers

import numpy as np
import tensorflow as tf

__all__ = ["make_dataset", "ArrayData", "BINARIZE_MODES", "BATCH_SOURCES", "batch_inputs"]

BINARIZE_MODES = (None, "static", "dynamic")


def _check_int(value, what, minimum):
    if (isinstance(value, bool) or not isinstance(value, numbers.Integral)
        or value < minimum):
        raise ValueError(f"make_dataset: {what} must be an int >= {minimum}, "
                         f"got {value!r}")
    return int(value)


def _epoch_seeds(seed, epoch):
    """(shuffle seed, noise seed), each int32[2], depending only on both args."""
    s = np.asarray(seed.numpy() if isinstance(seed, tf.Tensor) else seed)
    if s.dtype.kind not in "iu" or s.shape not in ((), (2,)):
        raise ValueError(f"make_dataset: seed must be an int or an int tensor of "
                         f"shape [2], got {seed!r}")
    s = tf.constant(np.stack([np.zeros((), np.int64), s]) if s.ndim == 0 else s,
                    tf.int64)
    epoch_seed = tf.random.experimental.stateless_fold_in(s, epoch)
    return tf.unstack(tf.random.experimental.stateless_split(epoch_seed, 2))


def _scale_for(images):
    """Checks the pixel range; returns the factor mapping pixels to [0, 1]."""
    dtype = tf.as_dtype(images.dtype)
    if dtype == tf.bool:
        return 1.0
    if images.shape[0] == 0 or len(images.shape) < 2:
        raise ValueError(f"make_dataset: images must have shape [N, ...] with "
                         f"N >= 1, got {list(images.shape)}")
    lo = float(tf.reduce_min(images))
    hi = float(tf.reduce_max(images))
    if dtype == tf.uint8:
        return 1.0 if hi <= 1 else 1.0 / 255.0  # {0, 1} already binary.
    if dtype.is_floating and 0.0 <= lo and hi <= 1.0:
        return 1.0
    detail = f"range [{lo:g}, {hi:g}]"
    if dtype.is_floating:
        bad = tf.reshape(tf.logical_not(tf.math.is_finite(images)) | (images < 0) | (images > 1), [-1])
        first = int(tf.argmax(tf.cast(bad, tf.int32)))
        per_example = int(np.prod(images.shape[1:]))
        value = float(tf.reshape(images, [-1])[first])
        detail += f", first offending value {value:g} at example {first // per_example}"
    raise ValueError(
        f"make_dataset: images must be uint8 0..255, binary {{0, 1}} or float "
        f"in [0, 1]; got {dtype.name} with {detail}")


def make_dataset(images, *, batch_size: int, shuffle: bool = True, seed=0,
                 epoch: int = 0, binarize=None, flatten: bool = False,
                 drop_remainder: bool = False, labels=None) -> tf.data.Dataset:
    """Builds the input pipeline of one epoch.

    Deterministic: the shuffle order and the dynamic-binarization noise depend
    only on (`seed`, `epoch`), so `lambda epoch: make_dataset(..., epoch=epoch)`
    resumed at any epoch reproduces the uninterrupted run. The same batches as
    ``ArrayData(images, ...).dataset(epoch)``.

    Args:
      images: [N, H, W, C] (any [N, ...]) numpy array or tensor: uint8 0..255,
        uint8/bool {0, 1} (already binary), or float in [0, 1].
      batch_size: Positive int.
      shuffle: Shuffle the examples (a permutation per (seed, epoch)).
      seed: Int or int tensor of shape [2].
      epoch: Non-negative int; changes the order and the dynamic noise.
      binarize: None (intensities in [0, 1]), "static" (1 where x > 0.5) or
        "dynamic" (1 with probability x, stateless, fresh per epoch and batch).
      flatten: Reshape each example to [prod(event_shape)], e.g. [B, 784].
      drop_remainder: Drop the last incomplete batch.
      labels: Optional [N] array; the dataset then yields (x, y) with int64 y.

    Returns:
      tf.data.Dataset of float32 batches [B, H, W, C] (or [B, H*W*C]).

    Raises:
      ValueError: Bad batch_size, epoch, seed, binarize, images or labels.
    """
    return ArrayData(images, batch_size=batch_size, shuffle=shuffle, seed=seed, binarize=binarize, flatten=flatten,
                     drop_remainder=drop_remainder, labels=labels).dataset(epoch)


class ArrayData:
    """In-memory examples, batched per epoch: a dataset ``fit`` can gather inside its compiled loop.

    Calling it, ``data(epoch)``, gives the epoch's ``tf.data.Dataset`` (what :func:`make_dataset`
    builds), so it can be passed wherever an ``epoch -> Dataset`` function is accepted; iterating it
    gives epoch 0's batches, so the evaluation functions (``evaluation.evaluate_dataset``,
    ``evaluation.active_units``, ``latent.aggregate_posterior``, ...) take it as they take a
    dataset of batches (pass ``shuffle=False`` for test data, to keep the file order). Given to
    :func:`tfpvae.training.fit` on one device, the same batches in the same order are instead
    gathered from the tensor inside the compiled training loop: no ``tf.data`` iterator, and with
    XLA the whole multi-step loop is one compiled unit (see benchmarks/README.md).

    Example::

        >>> import numpy as np
        >>> data = ArrayData(np.zeros([250, 4], np.uint8), batch_size=100)
        >>> data.steps_per_epoch, [int(b.shape[0]) for b in data(0)]
        (3, [100, 100, 50])
        >>> [int(b.shape[0]) for b in data]  # epoch 0's batches
        [100, 100, 50]

    Args: as :func:`make_dataset` (without ``epoch``).
    """

    def __init__(self, images, *, batch_size: int, shuffle: bool = True, seed=0, binarize=None,
                 flatten: bool = False, drop_remainder: bool = False, labels=None):
        self.batch_size = _check_int(batch_size, "batch_size", 1)
        if not (binarize is None or (isinstance(binarize, str) and binarize in BINARIZE_MODES)):
            raise ValueError(f"make_dataset: binarize must be one of {BINARIZE_MODES}, got {binarize!r}")
        _epoch_seeds(seed, 0)  # validates the seed
        self.images = tf.convert_to_tensor(images)
        self._scale = _scale_for(self.images)
        self.num_examples = int(self.images.shape[0])
        if labels is not None:
            labels = tf.cast(tf.convert_to_tensor(labels), tf.int64)
            if labels.shape != (self.num_examples,):
                raise ValueError(f"make_dataset: labels must have shape [{self.num_examples}] to "
                                 f"match images, got {list(labels.shape)}")
        self.labels = labels
        self.shuffle, self.seed, self.binarize, self.flatten = shuffle, seed, binarize, flatten
        self.drop_remainder = drop_remainder
        self._event_size = int(np.prod(self.images.shape[1:]))

    @property
    def full_batches(self) -> int:
        """Batches of exactly ``batch_size`` examples per epoch."""
        return self.num_examples // self.batch_size

    @property
    def remainder(self) -> int:
        """Examples in the last, smaller batch (0 if none or dropped)."""
        return 0 if self.drop_remainder else self.num_examples % self.batch_size

    @property
    def steps_per_epoch(self) -> int:
        return self.full_batches + (1 if self.remainder else 0)

    def plan(self, epoch: int) -> tuple[tf.Tensor, tf.Tensor]:
        """``(order, noise_seed)`` of ``epoch``: the int64 ``[N]`` permutation and the int64 ``[2]``
        seed of the dynamic binarization, both depending only on ``(seed, epoch)``."""
        epoch = _check_int(epoch, "epoch", 0)
        shuffle_seed, noise_seed = _epoch_seeds(self.seed, epoch)
        order = tf.range(self.num_examples, dtype=tf.int64)
        if self.shuffle:
            order = tf.random.experimental.stateless_shuffle(order, seed=shuffle_seed)
        return order, noise_seed

    def batch(self, order: tf.Tensor, noise_seed: tf.Tensor, batch_index, size: int, images=None, labels=None):
        """Batch ``batch_index`` of the epoch whose ``plan`` is ``(order, noise_seed)``: examples
        ``order[batch_index * batch_size:][:size]``, transformed. Pure TensorFlow with a static batch
        size, for use inside a compiled loop; ``images``/``labels`` default to the held tensors."""
        batch_index = tf.cast(batch_index, tf.int64)
        # a gather, not tf.slice: XLA takes a slice's start as a compile-time constant and would
        # compile the loop again for every value of it
        idx = tf.gather(order, batch_index * self.batch_size + tf.range(size, dtype=tf.int64))
        return self._transform(batch_index, idx, noise_seed, self.images if images is None else images,
                               self.labels if labels is None else labels)

    def _transform(self, batch_index, idx, noise_seed, images, labels):
        x = tf.cast(tf.gather(images, idx), tf.float32)
        if self._scale != 1.0:
            x = x * self._scale
        if self.binarize == "static":
            x = tf.cast(x > 0.5, tf.float32)
        elif self.binarize == "dynamic":
            batch_seed = tf.random.experimental.stateless_fold_in(noise_seed, batch_index)
            u = tf.random.stateless_uniform(tf.shape(x), seed=batch_seed)
            x = tf.cast(u < x, tf.float32)
        if self.flatten:
            x = tf.reshape(x, [-1, self._event_size])
        return x if labels is None else (x, tf.gather(labels, idx))

    def dataset(self, epoch: int) -> tf.data.Dataset:
        """The batches of ``epoch`` as a ``tf.data.Dataset`` (prefetched, deterministic)."""
        order, noise_seed = self.plan(epoch)
        with tf.device("/cpu:0"):
            images = tf.identity(self.images)
            labels = None if self.labels is None else tf.identity(self.labels)
        ds = tf.data.Dataset.from_tensor_slices(order)
        ds = ds.batch(self.batch_size, drop_remainder=self.drop_remainder).enumerate()
        ds = ds.map(lambda i, idx: self._transform(i, idx, noise_seed, images, labels), num_parallel_calls=2,
                    deterministic=True)
        # Fixed parallelism, autotuning off: a batch is one in-memory gather, so there
        # is nothing to tune, and with autotuning on, freeing an epoch's iterator
        # waited for the tuner's thread, up to ~1 s per epoch (measured).
        options = tf.data.Options()
        options.autotune.enabled = False
        return ds.prefetch(2).with_options(options)

    __call__ = dataset

    def __iter__(self):
        """Epoch 0's batches."""
        return iter(self.dataset(0))


BATCH_SOURCES = (tf.data.Dataset, ArrayData)  # what the evaluation functions iterate batch by batch


def batch_inputs(batches):
    """The ``x`` of each batch of ``batches`` (a ``tf.data.Dataset``, an ``ArrayData`` or any iterable
    of batches): the batch itself, or the first element of an ``(x, y)`` batch."""
    for batch in batches:
        yield batch[0] if isinstance(batch, (tuple, list)) else batch
