"""Keras ``Model.fit`` with a custom ``train_step`` (the Keras "Variational AutoEncoder" example's
pattern): sampling layer, analytic KL, binary cross-entropy summed over pixels; Keras' own loss
tracker logs the mean loss."""

from __future__ import annotations

import time

import keras
import tensorflow as tf

from baselines.common import batches, mlp_networks


class VAE(keras.Model):
    def __init__(self, latent_dim: int = 50):
        super().__init__()
        self.encoder, self.decoder = mlp_networks(latent_dim)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    @property
    def metrics(self):
        return [self.loss_tracker]

    def train_step(self, x):
        with tf.GradientTape() as tape:
            mean, logvar = tf.split(self.encoder(x), 2, axis=-1)
            z = mean + tf.exp(0.5 * logvar) * keras.random.normal(tf.shape(mean), seed=self.seed_generator)
            logits = self.decoder(z)
            reconstruction = tf.reduce_sum(tf.nn.sigmoid_cross_entropy_with_logits(labels=x, logits=logits), axis=1)
            kl = -0.5 * tf.reduce_sum(1 + logvar - tf.square(mean) - tf.exp(logvar), axis=1)
            losses = reconstruction + kl
            loss = tf.reduce_mean(losses)
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.loss_tracker.update_state(losses)
        return {"loss": self.loss_tracker.result()}


class Runner:
    def __init__(self, images, *, jit: bool, batch_size: int, steps_per_execution: int):
        self.model = VAE()
        self.model.seed_generator = keras.random.SeedGenerator(0)
        self.model.compile(optimizer=keras.optimizers.Adam(1e-3), jit_compile=jit,
                           steps_per_execution=steps_per_execution)
        self.images, self.batch_size, self.epochs = tf.convert_to_tensor(images), batch_size, 0

    def epoch(self) -> tuple[float, float]:
        start = time.perf_counter()
        history = self.model.fit(batches(self.images, batch_size=self.batch_size, epoch=self.epochs), epochs=1,
                                 verbose=0, shuffle=False)
        self.epochs += 1
        return time.perf_counter() - start, float(history.history["loss"][-1])


def mlp(images, *, jit: bool = False, batch_size: int = 100, steps_per_execution: int = 1) -> Runner:
    """Keras' defaults (one step per call) unless ``steps_per_execution`` says otherwise."""
    return Runner(images, jit=jit, batch_size=batch_size, steps_per_execution=steps_per_execution)
