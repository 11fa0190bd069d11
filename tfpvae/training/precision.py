"""Mixed precision: networks compute in float16/bfloat16, distributions and the loss in float32.

``set_precision(model, "mixed_bfloat16")`` gives every Keras 3 layer reachable from the model the
Keras dtype policy of that name: variables stay float32, matmuls and activations run in the low
precision. :class:`tfpvae.models.Encoder` and :class:`~tfpvae.models.Decoder` cast the network's
output to float32 before the head, so log-probabilities, KL terms and the loss are float32, and
:func:`tfpvae.fit` wraps the optimizer in a dynamic ``keras.optimizers.LossScaleOptimizer`` for
float16 (bfloat16 has float32's exponent range and needs no loss scaling).

References: Micikevicius et al. (2018), Mixed Precision Training; the Keras mixed-precision guide.
"""

from __future__ import annotations

from typing import Any

import keras
import tensorflow as tf

__all__ = ["PRECISIONS", "set_precision", "keras_layers"]

PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")


def keras_layers(*objects: Any) -> list:
    """Every Keras 3 layer (models included) reachable from ``objects`` through tracked attributes."""
    out, seen, queue = [], set(), list(objects)
    while queue:
        obj = queue.pop(0)
        if id(obj) in seen or isinstance(obj, (tf.Variable, keras.Variable, str, int, float, type(None))):
            continue
        seen.add(id(obj))
        if isinstance(obj, keras.layers.Layer):
            out.append(obj)
        try:
            queue += list(tf.train.TrackableView(obj).children(obj).values())
        except (AttributeError, TypeError):
            pass
    return out


def set_precision(model: Any, precision: str) -> list:
    """Set the dtype policy of every Keras 3 layer of ``model`` to ``precision``; returns the layers.

    Args:
      model: any object graph (a VAE, a Keras model, a ``tf.Module``).
      precision: ``"float32"``, ``"mixed_float16"`` or ``"mixed_bfloat16"``.

    Layers of other frameworks (tf-keras MADEs inside flows, plain ``tf.Module`` code) keep float32.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    layers = keras_layers(model)
    for layer in layers:
        if layer.dtype_policy.name != precision:
            layer.dtype_policy = precision
    return layers
