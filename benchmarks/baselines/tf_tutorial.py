"""The TensorFlow "Convolutional Variational Autoencoder" tutorial's training loop
(tensorflow.org/tutorials/generative/cvae): a GradientTape step in ``tf.function``, the
reparameterisation by hand, a Monte Carlo KL with a hand-written log-normal pdf, sigmoid
cross-entropy. ``mlp()`` puts the Burda et al. 784-200-200-50 MLP in place of the convolutions;
``conv()`` is the tutorial's own model (latent 2, stride-2 convs, transposed-conv decoder)."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from baselines.common import StepRunner, mlp_networks


class CVAE(keras.Model):
    def __init__(self, encoder, decoder, latent_dim):
        super().__init__()
        self.encoder, self.decoder, self.latent_dim = encoder, decoder, latent_dim

    def encode(self, x):
        mean, logvar = tf.split(self.encoder(x), num_or_size_splits=2, axis=1)
        return mean, logvar

    def reparameterize(self, mean, logvar):
        eps = tf.random.normal(shape=tf.shape(mean))
        return eps * tf.exp(logvar * 0.5) + mean


def log_normal_pdf(sample, mean, logvar, raxis=1):
    log2pi = tf.math.log(2.0 * np.pi)
    return tf.reduce_sum(-0.5 * ((sample - mean) ** 2.0 * tf.exp(-logvar) + logvar + log2pi), axis=raxis)


def per_example_loss(model, x):
    mean, logvar = model.encode(x)
    z = model.reparameterize(mean, logvar)
    x_logit = model.decoder(z)
    cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=x_logit, labels=x)
    logpx_z = -tf.reduce_sum(cross_ent, axis=list(range(1, len(x.shape))))
    return -(logpx_z + log_normal_pdf(z, 0.0, 0.0) - log_normal_pdf(z, mean, logvar))


def _runner(model, images, *, jit: bool, batch_size: int, lr: float, flatten: bool) -> StepRunner:
    optimizer = keras.optimizers.Adam(lr)

    @tf.function(jit_compile=jit)
    def train_step(x, loss_mean):
        with tf.GradientTape() as tape:
            losses = per_example_loss(model, x)
            loss = tf.reduce_mean(losses)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))
        loss_mean.add(tf.reduce_sum(losses), tf.shape(x)[0])

    return StepRunner(train_step, images, batch_size=batch_size, flatten=flatten)


def mlp(images, *, jit: bool = False, batch_size: int = 100, latent_dim: int = 50) -> StepRunner:
    encoder, decoder = mlp_networks(latent_dim)
    return _runner(CVAE(encoder, decoder, latent_dim), images, jit=jit, batch_size=batch_size, lr=1e-3, flatten=True)


def conv(images, *, jit: bool = False, batch_size: int = 32, latent_dim: int = 2) -> StepRunner:
    """The tutorial's exact model and settings (batch 32, Adam 1e-4)."""
    encoder = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(32, 3, strides=(2, 2), activation="relu"),
        keras.layers.Conv2D(64, 3, strides=(2, 2), activation="relu"),
        keras.layers.Flatten(), keras.layers.Dense(latent_dim + latent_dim)])
    decoder = keras.Sequential([
        keras.Input((latent_dim,)),
        keras.layers.Dense(7 * 7 * 32, activation="relu"), keras.layers.Reshape((7, 7, 32)),
        keras.layers.Conv2DTranspose(64, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2DTranspose(32, 3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2DTranspose(1, 3, strides=1, padding="same")])
    return _runner(CVAE(encoder, decoder, latent_dim), images, jit=jit, batch_size=batch_size, lr=1e-4,
                   flatten=False)
