"""Gated IAF step (Kingma et al. 2016, eq. 14): the numerically stable LSTM-style update.

  [m, l] = network(z),  s = sigmoid(l + forget_bias),  z' = s * z + (1 - s) * m,
  log|det dz'/dz| = sum_i log s_i       (the Jacobian is lower triangular: m, s at i read z[<i]).
"""
from __future__ import annotations

from typing import Callable, Optional

import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.internal import prefer_static as ps

from tfpvae.flows import base

tfb = tfp.bijectors


class GatedAutoregressive(tfb.Bijector):
    """Gated autoregressive bijector on [..., D] (forward_min_event_ndims=1).

    Forward (sampling direction) takes one network pass; the inverse takes D sequential passes.
    Because s is in (0, 1), z' is a convex combination of z and m: large |z| cannot blow up.

    Args:
      network: callable z [..., D] -> [..., D, 2] (m, gate logit), autoregressive left-to-right.
      forget_bias: added to the gate logit; +1 or +2 (s ~ 0.73 / 0.88) starts the step close to z' = z.
      validate_args: passed to `tfb.Bijector`.
      name: bijector name.
    """

    def __init__(self, network: Callable[[tf.Tensor], tf.Tensor], forget_bias: float = 1.0,
                 validate_args: bool = False, name: str = "gated_autoregressive"):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            self._network = network  # an attribute, so its variables are tracked
            self._forget_bias = forget_bias
            super().__init__(forward_min_event_ndims=1, validate_args=validate_args,
                             parameters=parameters, name=name)

    @classmethod
    def _parameter_properties(cls, dtype):
        return dict()

    @property
    def network(self):
        return self._network

    def _mean_and_logit(self, z):
        m, logit = tf.unstack(self._network(z), num=2, axis=-1)
        return m, logit + tf.cast(self._forget_bias, logit.dtype)

    def _forward(self, x):
        m, logit = self._mean_and_logit(x)
        return tf.sigmoid(logit) * x + tf.sigmoid(-logit) * m

    def _inverse(self, y):
        def solve(x):  # pass k fixes coordinate k: x = (y - (1 - s) m) / s = y + exp(-l) (y - m)
            m, logit = self._mean_and_logit(x)
            return (y + tf.exp(-logit) * (y - m),)

        (x,) = tf.while_loop(lambda _: True, solve, (tf.zeros_like(y),),
                             maximum_iterations=ps.shape(y)[-1])
        return x

    def _forward_log_det_jacobian(self, x):
        _, logit = self._mean_and_logit(x)
        return tf.reduce_sum(tf.math.log_sigmoid(logit), axis=-1)


def gated_step(network, context: Optional[tf.Tensor] = None, *, forget_bias: float = 1.0) -> tfb.Bijector:
    """One gated IAF step over a MADE `network` ([..., D] -> [..., D, 2]) conditioned on `context`."""
    return GatedAutoregressive(base.ConditionedNetwork(network, context), forget_bias=forget_bias)
