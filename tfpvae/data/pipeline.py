"""`make_dataset`: in-memory images -> batched, shuffled, prefetched tf.data.

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

__all__ = ["make_dataset", "BINARIZE_MODES"]

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
    resumed at any epoch reproduces the uninterrupted run.

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
    batch_size = _check_int(batch_size, "batch_size", 1)
    epoch = _check_int(epoch, "epoch", 0)
    if not (binarize is None
            or (isinstance(binarize, str) and binarize in BINARIZE_MODES)):
        raise ValueError(f"make_dataset: binarize must be one of {BINARIZE_MODES},"
                         f" got {binarize!r}")
    with tf.device("/cpu:0"):
        images = tf.convert_to_tensor(images)
        scale = _scale_for(images)
        n = int(images.shape[0])
        if labels is not None:
            labels = tf.cast(tf.convert_to_tensor(labels), tf.int64)
            if labels.shape != (n,):
                raise ValueError(f"make_dataset: labels must have shape [{n}] to "
                                 f"match images, got {list(labels.shape)}")
        shuffle_seed, noise_seed = _epoch_seeds(seed, epoch)
        order = tf.range(n, dtype=tf.int64)
        if shuffle:
            order = tf.random.experimental.stateless_shuffle(order, seed=shuffle_seed)
    event_size = int(np.prod(images.shape[1:]))

    def transform(batch_index, idx):
        x = tf.cast(tf.gather(images, idx), tf.float32)
        if scale != 1.0:
            x = x * scale
        if binarize == "static":
            x = tf.cast(x > 0.5, tf.float32)
        elif binarize == "dynamic":
            batch_seed = tf.random.experimental.stateless_fold_in(noise_seed,
                                                                  batch_index)
            u = tf.random.stateless_uniform(tf.shape(x), seed=batch_seed)
            x = tf.cast(u < x, tf.float32)
        if flatten:
            x = tf.reshape(x, [-1, event_size])
        return x if labels is None else (x, tf.gather(labels, idx))

    ds = tf.data.Dataset.from_tensor_slices(order)
    ds = ds.batch(batch_size, drop_remainder=drop_remainder).enumerate()
    ds = ds.map(transform, num_parallel_calls=2, deterministic=True)
    # Fixed parallelism, autotuning off: a batch is one in-memory gather, so there
    # is nothing to tune, and with autotuning on, freeing an epoch's iterator
    # waited for the tuner's thread, up to ~1 s per epoch (measured).
    options = tf.data.Options()
    options.autotune.enabled = False
    return ds.prefetch(2).with_options(options)
