"""Small models with known answers, shared by the tests."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfpvae
from tfpvae import VAE, standard_normal

tfd = tfp.distributions


class LinearGaussianDecoder(tf.Module):
    """p(x|z) = N(W z + b, sigma^2 I): fixed, so log p(x) = log N(x; b, W W^T + sigma^2 I) is exact."""

    def __init__(self, latent_dim=2, data_dim=3, sigma=0.5, seed=0):
        rng = np.random.default_rng(seed)
        self.W = tf.constant(rng.normal(size=(data_dim, latent_dim)), tf.float32)
        self.b = tf.constant(rng.normal(size=(data_dim,)), tf.float32)
        self.sigma = sigma

    def __call__(self, z):
        return tfd.Independent(tfd.Normal(tf.linalg.matvec(self.W, z) + self.b, self.sigma), 1)

    def marginal(self):
        cov = tf.matmul(self.W, self.W, transpose_b=True) + self.sigma**2 * tf.eye(self.W.shape[0])
        return tfd.MultivariateNormalTriL(self.b, tf.linalg.cholesky(cov))


class LinearEncoder(tf.Module):
    """q(z|x) = N(A x + c, diag(softplus(s))): a user-written tf.Module encoder with tf.Variables."""

    def __init__(self, latent_dim=2, data_dim=3, seed=1):
        rng = np.random.default_rng(seed)
        self.A = tf.Variable(rng.normal(scale=0.3, size=(latent_dim, data_dim)), dtype=tf.float32)
        self.c = tf.Variable(tf.zeros([latent_dim]))
        self.s = tf.Variable(tf.fill([latent_dim], 1.0))
        self.latent_dim = latent_dim

    def __call__(self, x):
        return tfd.Independent(tfd.Normal(tf.linalg.matvec(self.A, x) + self.c, tf.nn.softplus(self.s) + 1e-4), 1)


def linear_gaussian_vae(latent_dim=2, data_dim=3, seed=0):
    dec = LinearGaussianDecoder(latent_dim, data_dim, seed=seed)
    return VAE(standard_normal(latent_dim), LinearEncoder(latent_dim, data_dim, seed + 1), dec), dec


def linear_gaussian_data(decoder, n=256, seed=2):
    return decoder.marginal().sample(n, seed=tf.constant([seed, 0]))


def assert_one_step_trains_every_variable(vae, x, label="model"):
    """One fit step on ``x`` (MC-KL ELBO, Adam 1e-2) changes every trainable variable of ``vae``."""
    variables = vae.trainable_variables
    before = [np.array(v) for v in variables]
    tfpvae.fit(vae, tfpvae.ELBO(kl="monte_carlo"), tf.data.Dataset.from_tensors(x), epochs=1,
               optimizer=keras.optimizers.Adam(1e-2))
    unchanged = [v.name for v, b in zip(variables, before) if np.array_equal(np.array(v), b)]
    assert not unchanged, f"{label}: variables not trained: {unchanged}"


def write_tiny_binarized_mnist(root):
    """A local data folder ``root/binarized_mnist`` holding a tiny binarized_mnist (400/100/100
    random images); returns ``root`` for ``--data-dir``."""
    from pathlib import Path

    rng = np.random.default_rng(0)
    folder = Path(root) / "binarized_mnist"
    folder.mkdir(parents=True)
    make = lambda n: (rng.random((n, 784)) < 0.15).astype(np.uint8)
    np.savez_compressed(folder / "binarized_mnist.npz", train=make(400), valid=make(100), test=make(100))
    return Path(root)


def record_jit_compile(monkeypatch) -> list:
    """A list that gets the ``jit_compile`` that ``fit`` resolves, once per train step it builds."""
    from tfpvae.training import loop

    resolved = []
    original = loop.make_train_step
    monkeypatch.setattr(loop, "make_train_step",
                        lambda *a, **kw: resolved.append(kw["jit_compile"]) or original(*a, **kw))
    return resolved
