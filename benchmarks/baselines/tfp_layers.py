"""(d) The Bayesian MLP as TFP's own layers build it: ``tfp.layers.DenseFlipout`` (2 x 400 ReLU,
10-way softmax) in a tf-keras model (TFP's layers do not work with Keras 3), the KL added as layer
losses divided by N, trained with tf-keras ``fit``."""

from __future__ import annotations

import os
import time

import tensorflow as tf

from baselines.common import batches


class Runner:
    def __init__(self, images, labels, *, batch_size: int = 128, hidden: int = 400):
        os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
        import tensorflow_probability as tfp
        import tf_keras

        n = len(images)
        kl = lambda q, p, _: tfp.distributions.kl_divergence(q, p) / n  # noqa: E731
        self.model = tf_keras.Sequential([
            tf_keras.Input((784,)),
            tfp.layers.DenseFlipout(hidden, activation="relu", kernel_divergence_fn=kl),
            tfp.layers.DenseFlipout(hidden, activation="relu", kernel_divergence_fn=kl),
            tfp.layers.DenseFlipout(10, kernel_divergence_fn=kl)])
        self.model.compile(optimizer=tf_keras.optimizers.Adam(1e-3),
                           loss=tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        self.images, self.labels, self.batch_size, self.epochs = tf.convert_to_tensor(images), labels, batch_size, 0

    def epoch(self) -> tuple[float, float]:
        start = time.perf_counter()
        data = batches(self.images, self.labels, batch_size=self.batch_size, epoch=self.epochs)
        history = self.model.fit(data, epochs=1, verbose=0, shuffle=False)
        self.epochs += 1
        return time.perf_counter() - start, float(history.history["loss"][-1])
