"""Bayesian dense layers: one posterior over the kernel, three ways to turn it into outputs.

All map ``[batch, in]`` to ``[batch, units]`` and differ in how weight noise enters the output:

* :class:`DenseReparameterization`: one kernel ``W ~ q`` per call, shared by the batch
  (Kingma & Welling 2014; Blundell et al. 2015). Cheapest; noisiest gradients.
* :class:`DenseFlipout`: ``y = x M + ((x * s) dW) * r`` with ``dW = W - M`` from one shared
  sample and Rademacher sign vectors ``s`` (``[batch, in]``), ``r`` (``[batch, units]``) drawn per
  example, so examples see decorrelated weights at twice the matmuls (Wen et al. 2018). Needs a
  posterior symmetric about its mean (the mean-field normal is).
* :class:`DenseLocalReparameterization`: samples the pre-activations,
  ``y ~ N(x M, x^2 sigma^2)`` per example (Kingma, Salimans & Welling 2015); exact for a
  mean-field normal posterior, moment-matched otherwise. Computed in float32.

Inside :func:`~tfpvae.layers.deterministic` every layer uses the posterior mean ``M``.

References:
  Wen et al. (2018), Flipout, ICLR; Kingma, Salimans & Welling (2015), Variational Dropout and the
  Local Reparameterization Trick, NeurIPS; Blundell et al. (2015), Weight Uncertainty in Neural
  Networks, ICML.
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae._validation import positive_int
from tfpvae.layers.base import BayesianLayer
from tfpvae.layers.noise import rademacher

__all__ = ["DenseReparameterization", "DenseFlipout", "DenseLocalReparameterization"]


class _BayesianDense(BayesianLayer):
    """Shared shape logic: ``[batch, in] -> [batch, units]``."""

    _bias_in_output = False  # True where _sampled_output adds the bias itself

    def __init__(self, units: int, **kwargs):
        super().__init__(**kwargs)
        self.units = positive_int(units, type(self).__name__, "units")

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 2 or input_shape[-1] is None:
            raise ValueError(f"{self._describe()}: expected input of rank 2 ([batch, features]) with a known "
                             f"width, got shape {input_shape}")
        self.input_dim = int(input_shape[-1])
        self._build_weights((self.input_dim, self.units), (self.units,))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)[:-1] + (self.units,)

    def call(self, inputs):
        x = tf.convert_to_tensor(inputs)
        self._check_input(x, 2, self.input_dim, "[batch, features]")
        x = tf.cast(x, self.compute_dtype)
        if self._sampling():
            kernel_seed, bias_seed, extra_seed = self._seeds(3)
            out = self._sampled_output(x, kernel_seed, extra_seed)
            bias = None if self._bias_in_output else self._bias_value(bias_seed, sample=True)
        else:
            out = tf.matmul(x, tf.cast(self.kernel_posterior_distribution().mean(), self.compute_dtype))
            bias = self._bias_value(None, sample=False)
        if bias is not None:
            out = out + bias
        return self.activation(out) if self.activation is not None else out

    def get_config(self) -> dict:
        return {**super().get_config(), "units": self.units}


@keras.saving.register_keras_serializable(package="tfpvae")
class DenseReparameterization(_BayesianDense):
    """Dense layer with one weight sample ``W ~ q(W)`` per call: ``y = act(x W + b)``."""

    def _sampled_output(self, x, seed, extra_seed):
        kernel = self.kernel_posterior_distribution().sample(seed=seed)
        return tf.matmul(x, tf.cast(kernel, self.compute_dtype))


@keras.saving.register_keras_serializable(package="tfpvae")
class DenseFlipout(_BayesianDense):
    """Dense layer with Flipout: ``y = act(x M + ((x * s) dW) * r + b)``, signs drawn per example."""

    def _sampled_output(self, x, seed, extra_seed):
        q = self.kernel_posterior_distribution()
        mean = q.mean()
        delta = tf.cast(self._deviation(q, seed), self.compute_dtype)
        sign_in_seed, sign_out_seed = tfp.random.split_seed(extra_seed, n=2)
        batch = tf.shape(x)[0]
        sign_in = rademacher(tf.stack([batch, self.input_dim]), dtype=x.dtype, seed=sign_in_seed)
        sign_out = rademacher(tf.stack([batch, self.units]), dtype=x.dtype, seed=sign_out_seed)
        return tf.matmul(x, tf.cast(mean, self.compute_dtype)) + tf.matmul(x * sign_in, delta) * sign_out


@keras.saving.register_keras_serializable(package="tfpvae")
class DenseLocalReparameterization(_BayesianDense):
    """Dense layer sampling pre-activations: ``y = act(x M + b + sqrt(x^2 sigma^2 + sigma_b^2) * eps)``,
    ``eps ~ N(0, I)`` of shape ``[batch, units]``."""

    _bias_in_output = True  # the bias (and its variance) enter inside _sampled_output

    def _sampled_output(self, x, seed, extra_seed):
        q = self.kernel_posterior_distribution()
        x32 = tf.cast(x, tf.float32)
        mean = tf.matmul(x32, q.mean())
        var = tf.matmul(tf.square(x32), tf.square(q.stddev()))
        if self.use_bias and self.bias is not None:
            mean += self.bias
        elif self.use_bias:
            qb = self.bias_posterior_distribution()
            mean, var = mean + qb.mean(), var + tf.square(qb.stddev())
        eps = tf.random.stateless_normal(tf.shape(mean), seed=seed, dtype=tf.float32)
        return tf.cast(mean + tf.sqrt(var) * eps, self.compute_dtype)
