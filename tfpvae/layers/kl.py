"""Find the Bayesian layers of any model and sum their KL terms."""

from __future__ import annotations

import types
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfpvae.layers.base import BayesianLayer

__all__ = ["bayesian_layers", "kl_divergence"]

_LEAVES = (str, bytes, int, float, bool, type(None), tf.Tensor, tf.Variable, keras.Variable, np.ndarray, np.generic,
           type, types.ModuleType, types.BuiltinFunctionType, keras.optimizers.Optimizer)
_SKIP = frozenset({"_inbound_nodes", "_outbound_nodes", "_tracker", "_parent_path"})


def _children(obj: Any):
    if isinstance(obj, dict):
        return list(obj.values())
    if isinstance(obj, (list, tuple, set, frozenset)):
        return list(obj)
    if isinstance(obj, types.MethodType):
        return [obj.__self__]
    if isinstance(obj, types.FunctionType):
        out = []
        for cell in obj.__closure__ or ():
            try:
                out.append(cell.cell_contents)
            except ValueError:
                pass
        return out
    children = []
    if isinstance(obj, keras.Layer):
        children += list(obj._flatten_layers(include_self=False, recursive=False))
    try:
        attrs = vars(obj)
    except TypeError:
        return children
    return children + [v for k, v in attrs.items() if k not in _SKIP]


def bayesian_layers(*objects: Any) -> list[BayesianLayer]:
    """Every :class:`BayesianLayer` reachable from ``objects``, each once, in depth-first order.

    Walks Keras layers and models (their sublayers), ``tf.Module`` attributes (a ``tf.Module``
    holding Keras layers is followed, which TensorFlow's own tracking does not do), lists, dicts,
    bound methods and closures.
    """
    seen: set[int] = set()
    found: list[BayesianLayer] = []
    stack = list(reversed(objects))
    while stack:
        obj = stack.pop()
        if isinstance(obj, _LEAVES) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, BayesianLayer):
            found.append(obj)
        stack.extend(reversed(_children(obj)))
    return found


def kl_divergence(*objects: Any) -> tf.Tensor:
    """``sum_l KL(q(w_l) || p(w_l))`` over every Bayesian layer reachable from ``objects``: float32 scalar.

    Each layer's term is analytic or Monte Carlo as :meth:`BayesianLayer.kl_divergence` says;
    0 when there is no Bayesian layer.

    Example:
      >>> import keras
      >>> from tfpvae.layers import DenseFlipout
      >>> model = keras.Sequential([DenseFlipout(3, activation="relu"), DenseFlipout(1)])
      >>> _ = model(tf.ones([2, 4]))
      >>> float(kl_divergence(model)) > 0
      True
    """
    layers = bayesian_layers(*objects)
    if not layers:
        return tf.constant(0.0, tf.float32)
    return tf.add_n([layer.kl_divergence() for layer in layers])
