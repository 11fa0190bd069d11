"""Bayesian 2-D convolutions (channels last): ``[batch, H, W, C_in] -> [batch, H', W', filters]``.

* :class:`Conv2DReparameterization`: one kernel sample per call, shared by the batch.
* :class:`Conv2DFlipout`: ``y = conv(x, M) + conv(x * s, dW) * r`` with per-example Rademacher
  signs ``s`` (``[batch, 1, 1, C_in]``) and ``r`` (``[batch, 1, 1, filters]``) (Wen et al. 2018).

Local reparameterisation is not offered for convolutions: neighbouring outputs share weights, so
independent per-output noise is not the weight-sampling distribution (Kingma et al. 2015 use it
for dense layers only); Flipout is the variance-reduced choice here.

References:
  Wen et al. (2018), Flipout: Efficient Pseudo-Independent Weight Perturbations on Mini-Batches, ICLR.
"""

from __future__ import annotations

import keras
import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae._validation import positive_int
from tfpvae.layers.base import BayesianLayer
from tfpvae.layers.noise import rademacher

__all__ = ["Conv2DReparameterization", "Conv2DFlipout"]


def _pair(value, component: str, what: str) -> tuple[int, int]:
    pair = (value, value) if isinstance(value, int) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, int) and v > 0 for v in pair):
        raise ValueError(f"{component}: {what} must be a positive int or a pair of them, got {value!r}")
    return pair


class _BayesianConv2D(BayesianLayer):
    def __init__(self, filters: int, kernel_size, strides=1, padding: str = "valid", dilation_rate=1, **kwargs):
        super().__init__(**kwargs)
        name = type(self).__name__
        self.filters = positive_int(filters, name, "filters")
        self.kernel_size = _pair(kernel_size, name, "kernel_size")
        self.strides = _pair(strides, name, "strides")
        self.dilation_rate = _pair(dilation_rate, name, "dilation_rate")
        if str(padding).lower() not in ("valid", "same"):
            raise ValueError(f"{name}: padding must be 'valid' or 'same', got {padding!r}")
        self.padding = str(padding).lower()

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 4 or input_shape[-1] is None:
            raise ValueError(f"{self._describe()}: expected input of rank 4 ([batch, height, width, channels]) "
                             f"with known channels, got shape {input_shape}")
        self.input_channels = int(input_shape[-1])
        self._build_weights(self.kernel_size + (self.input_channels, self.filters), (self.filters,))

    def _conv(self, x, kernel):
        return tf.nn.convolution(x, tf.cast(kernel, self.compute_dtype), strides=self.strides,
                                 padding=self.padding.upper(), dilations=self.dilation_rate)

    def compute_output_shape(self, input_shape):
        out = [input_shape[0]]
        for size, k, s, d in zip(input_shape[1:3], self.kernel_size, self.strides, self.dilation_rate):
            if size is None:
                out.append(None)
            elif self.padding == "same":
                out.append(-(-size // s))
            else:
                out.append(-(-(size - d * (k - 1)) // s))
        return tuple(out) + (self.filters,)

    def call(self, inputs):
        x = tf.convert_to_tensor(inputs)
        self._check_input(x, 4, self.input_channels, "[batch, height, width, channels]")
        x = tf.cast(x, self.compute_dtype)
        if self._sampling():
            kernel_seed, bias_seed, extra_seed = self._seeds(3)
            out = self._sampled_output(x, kernel_seed, extra_seed)
            bias = self._bias_value(bias_seed, sample=True)
        else:
            out = self._conv(x, self.kernel_posterior_distribution().mean())
            bias = self._bias_value(None, sample=False)
        if bias is not None:
            out = out + bias
        return self.activation(out) if self.activation is not None else out

    def get_config(self) -> dict:
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "strides": self.strides, "padding": self.padding, "dilation_rate": self.dilation_rate}


@keras.saving.register_keras_serializable(package="tfpvae")
class Conv2DReparameterization(_BayesianConv2D):
    """2-D convolution with one kernel sample ``W ~ q(W)`` per call."""

    def _sampled_output(self, x, seed, extra_seed):
        return self._conv(x, self.kernel_posterior_distribution().sample(seed=seed))


@keras.saving.register_keras_serializable(package="tfpvae")
class Conv2DFlipout(_BayesianConv2D):
    """2-D convolution with Flipout sign flips per example (input and output channels)."""

    def _sampled_output(self, x, seed, extra_seed):
        q = self.kernel_posterior_distribution()
        mean = q.mean()
        delta = self._deviation(q, seed)
        sign_in_seed, sign_out_seed = tfp.random.split_seed(extra_seed, n=2)
        batch = tf.shape(x)[0]
        sign_in = rademacher(tf.stack([batch, 1, 1, self.input_channels]), dtype=x.dtype, seed=sign_in_seed)
        sign_out = rademacher(tf.stack([batch, 1, 1, self.filters]), dtype=x.dtype, seed=sign_out_seed)
        return self._conv(x, mean) + self._conv(x * sign_in, delta) * sign_out
