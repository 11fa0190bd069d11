"""What the baselines share: the epoch's batches, and a timed epoch that waits for the device."""

from __future__ import annotations

import time

import keras
import tensorflow as tf

from tfpvae import data as tdata


def batches(images, labels=None, *, batch_size: int, epoch: int, flatten: bool = True):
    """The epoch's batches through tfpvae's own tf.data pipeline (the same settings for everyone)."""
    return tdata.make_dataset(images, labels=labels, batch_size=batch_size, seed=0, epoch=epoch, flatten=flatten)


class LossMean:
    """The epoch's mean loss in two variables, added to by the compiled step (as tfpvae's Totals)."""

    def __init__(self):
        self.total = tf.Variable(0.0, trainable=False)
        self.count = tf.Variable(0.0, trainable=False)

    def add(self, loss_sum, n) -> None:
        self.total.assign_add(loss_sum)
        self.count.assign_add(tf.cast(n, tf.float32))

    def reset(self) -> None:
        self.total.assign(0.0)
        self.count.assign(0.0)

    def read(self) -> float:
        return float(self.total.numpy() / max(self.count.numpy(), 1.0))


class StepRunner:
    """``epoch()`` runs ``step(batch)`` over one epoch of :func:`batches` and returns (seconds, loss)."""

    def __init__(self, step, images, labels=None, *, batch_size: int, flatten: bool = True):
        self.step, self.images, self.labels = step, tf.convert_to_tensor(images), labels
        self.batch_size, self.flatten, self.loss, self.epochs = batch_size, flatten, LossMean(), 0

    def epoch(self) -> tuple[float, float]:
        self.loss.reset()
        start = time.perf_counter()
        for batch in batches(self.images, self.labels, batch_size=self.batch_size, epoch=self.epochs,
                             flatten=self.flatten):
            self.step(batch, self.loss)
        value = self.loss.read()  # waits for the device
        self.epochs += 1
        return time.perf_counter() - start, value


def mlp_networks(latent_dim: int = 50) -> tuple[keras.Sequential, keras.Sequential]:
    """(a)'s encoder (784 -> 200 -> 200 -> 2 * latent, tanh) and decoder (latent -> 200 -> 200 -> 784 logits)."""
    encoder = keras.Sequential([keras.Input((784,)), keras.layers.Dense(200, activation="tanh"),
                                keras.layers.Dense(200, activation="tanh"), keras.layers.Dense(2 * latent_dim)])
    decoder = keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(200, activation="tanh"),
                                keras.layers.Dense(200, activation="tanh"), keras.layers.Dense(784)])
    return encoder, decoder
