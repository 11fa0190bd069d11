"""Default conditioner networks for flow steps, built eagerly so their variables exist up front.

Both builders return tf-keras models (`tf_keras`, the Keras 2 that TFP's `AutoregressiveNetwork` uses),
which are `tf.Module`s: `flow.trainable_variables` lists every weight, and so does any attribute walker.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

from tfpvae._seeds import as_seed

tfb = tfp.bijectors

Seed = Union[int, tf.Tensor]


stateless_seed = as_seed  # a Python int n maps to [0, n] (TFP would treat it as *stateful*)


class GlorotUniform:
    """Stateless Glorot-uniform initializer; call `k` folds `k` into the seed so every layer differs.

    Args:
      seed: int (read as the stateless seed [0, seed]) or shape-[2] int tensor.
    """

    def __init__(self, seed: Seed):
        self._seed = stateless_seed(seed)
        self._calls = 0

    def __call__(self, shape, dtype=None, **unused_kwargs) -> tf.Tensor:
        seed = tf.random.experimental.stateless_fold_in(self._seed, self._calls)
        self._calls += 1
        fan_in, fan_out = (shape[0], shape[-1]) if len(shape) > 1 else (shape[0], shape[0])
        limit = math.sqrt(6.0 / float(fan_in + fan_out))
        return tf.random.stateless_uniform(shape, seed, -limit, limit, dtype=dtype or tf.float32)


def _initializer(seed: Optional[Seed]):
    return "glorot_uniform" if seed is None else GlorotUniform(seed)


CONTEXT_LAYERS = {"first": "first_layer", "all": "all_layers"}


def made(event_size: int, params: int, hidden_units: Sequence[int] = (256, 256), context_dim: int = 0,
         activation: str = "relu", seed: Optional[Seed] = None,
         context_layers: str = "first") -> tfb.AutoregressiveNetwork:
    """Masked autoregressive network (MADE, Germain et al. 2015), already built.

    Maps x [..., event_size] (and, if `context_dim > 0`, `conditional_input` h [..., context_dim]) to
    [..., event_size, params]; output i depends on x[<i] only (left-to-right order). `context_layers`:
    "first" feeds h to the first hidden layer only (h is one more input, as in Kingma et al. 2016,
    fig. 2); "all" adds a projection of h to every layer (TFP's default; for D = 50, a 50-wide h and
    (256, 256) hidden units that is ~15% more multiply-adds per step).
    """
    if context_layers not in CONTEXT_LAYERS:
        raise ValueError(f"made: context_layers must be one of {sorted(CONTEXT_LAYERS)}, got {context_layers!r}")
    conditional = context_dim > 0
    network = tfb.AutoregressiveNetwork(
        params=params, event_shape=[event_size], hidden_units=list(hidden_units),
        conditional=conditional, conditional_event_shape=[context_dim] if conditional else None,
        activation=activation, kernel_initializer=_initializer(seed),
        conditional_input_layers=CONTEXT_LAYERS[context_layers])
    kwargs = {"conditional_input": tf.zeros([1, context_dim])} if conditional else {}
    network(tf.zeros([1, event_size]), **kwargs)  # creates the variables now, before any tracing
    return network


def coupling_network(input_size: int, output_units: int, params: int,
                     hidden_units: Sequence[int] = (256, 256), context_dim: int = 0,
                     activation: str = "relu", seed: Optional[Seed] = None) -> tf_keras.Sequential:
    """Dense network for coupling layers, already built.

    Maps [N, input_size + context_dim] (the conditioning half, concatenated with the context) to
    [N, output_units, params].
    """
    init = _initializer(seed)
    layers = [tf_keras.Input((input_size + context_dim,))]
    layers += [tf_keras.layers.Dense(units, activation=activation, kernel_initializer=init)
               for units in hidden_units]
    layers += [tf_keras.layers.Dense(output_units * params, kernel_initializer=init),
               tf_keras.layers.Reshape((output_units, params))]
    network = tf_keras.Sequential(layers)
    network(tf.zeros([1, input_size + context_dim]))
    return network
