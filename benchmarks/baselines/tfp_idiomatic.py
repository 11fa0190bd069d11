"""The VAE as a TFP user writes it from TFP's own examples: a ``tfd.MultivariateNormalDiag``
posterior with a softplus scale, a ``tfd.Independent(tfd.Bernoulli)`` decoder, the analytic KL to
a standard-normal prior, a GradientTape step in ``tf.function``."""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from baselines.common import StepRunner, mlp_networks

tfd = tfp.distributions


def mlp(images, *, jit: bool = False, batch_size: int = 100, latent_dim: int = 50) -> StepRunner:
    encoder, decoder = mlp_networks(latent_dim)
    prior = tfd.MultivariateNormalDiag(loc=tf.zeros(latent_dim))
    optimizer = keras.optimizers.Adam(1e-3)
    variables = encoder.trainable_variables + decoder.trainable_variables

    @tf.function(jit_compile=jit)
    def train_step(x, loss_mean):
        with tf.GradientTape() as tape:
            loc, raw = tf.split(encoder(x), 2, axis=-1)
            q = tfd.MultivariateNormalDiag(loc=loc, scale_diag=tf.nn.softplus(raw) + 1e-5)
            z = q.sample()
            likelihood = tfd.Independent(tfd.Bernoulli(logits=decoder(z)), reinterpreted_batch_ndims=1)
            losses = -(likelihood.log_prob(x) - tfd.kl_divergence(q, prior))
            loss = tf.reduce_mean(losses)
        optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        loss_mean.add(tf.reduce_sum(losses), tf.shape(x)[0])

    return StepRunner(train_step, images, batch_size=batch_size)
