"""Collect every trainable variable of a model, however it holds them.

A model here is any object graph: Keras 3 layers, tf-keras layers (``tfp.layers``,
``tfb.AutoregressiveNetwork``), ``tf.Module``s, TFP distributions and bijectors with
``tf.Variable`` parameters, and plain Python containers of these. The two Keras worlds do not
see each other's variables (a Keras 3 model holding a ``tfb.AutoregressiveNetwork`` lists only its
own; a ``tf.Module`` holding a Keras 3 ``Dense`` lists none of the Dense's), so each framework's
own ``trainable_variables`` cannot be trusted alone. :func:`trainable_variables` walks the object
graph itself: every attribute, list, tuple and dict value, bound method and closure cell, once
per object. Module-level globals a function reads are not followed.
"""

from __future__ import annotations

import types
from typing import Any

import keras
import numpy as np
import tensorflow as tf

__all__ = ["trainable_variables", "variable_key"]

# Attribute walks stop at these: they hold no model state and can be huge or cyclic.
_LEAF_TYPES = (str, bytes, int, float, bool, type(None), tf.Tensor, tf.TensorShape, tf.DType)
# Keras bookkeeping attributes that point back up the graph or at unrelated objects.
# Objects whose attributes never hold model variables.
_OPAQUE_TYPES = (type, types.ModuleType, types.BuiltinFunctionType, np.ndarray, np.generic)
_SKIP_ATTRS = frozenset({"_inbound_nodes", "_outbound_nodes", "_parent_path", "_tracker", "_self_tracked_trackables_unused"})


def variable_key(v: Any) -> int:
    """Identity of the storage behind ``v`` (a Keras 3 variable wraps a ``tf.Variable``)."""
    inner = getattr(v, "value", None) if isinstance(v, keras.Variable) else None
    return id(inner if isinstance(inner, tf.Variable) else v)


def _own_variables(obj: Any) -> list:
    if isinstance(obj, keras.optimizers.Optimizer):
        return []  # optimizer slots are state, not parameters
    if isinstance(obj, keras.layers.Layer):
        return list(obj.trainable_weights)
    if isinstance(obj, tf.Module):  # tf.Module, tf-keras layers, TFP distributions and bijectors
        return list(obj.trainable_variables)
    return []


def _children(obj: Any):
    if isinstance(obj, dict):
        yield from obj.values()
        return
    if isinstance(obj, (list, tuple, set, frozenset)):
        yield from obj
        return
    if isinstance(obj, types.MethodType):  # a bound method keeps its object alive: follow it
        yield obj.__self__
        return
    if isinstance(obj, types.FunctionType):  # lambdas and closures over networks
        for cell in obj.__closure__ or ():
            try:
                yield cell.cell_contents
            except ValueError:  # empty cell
                pass
        return
    try:
        attrs = vars(obj)
    except TypeError:
        return
    for name, value in attrs.items():
        if name not in _SKIP_ATTRS:
            yield value


def trainable_variables(*objects: Any) -> list[tf.Variable]:
    """Every trainable variable reachable from ``objects``, each once, in a stable order.

    Args:
      *objects: models, layers, modules, distributions, bijectors or containers of them.

    Returns:
      A list of variables (``tf.Variable`` or Keras 3 variables), deduplicated by storage, in
      depth-first attribute order — deterministic for a deterministically built model, which
      checkpoints rely on.

    Example:
      >>> import keras, tensorflow as tf
      >>> class Head(tf.Module):
      ...     def __init__(self):
      ...         self.dense = keras.layers.Dense(2)  # tf.Module alone would miss these
      ...         self.dense.build((None, 3))
      >>> len(trainable_variables(Head()))
      2
    """
    seen_objects: set[int] = set()
    seen_vars: set[int] = set()
    out: list = []
    stack = list(reversed(objects))
    while stack:
        obj = stack.pop()
        if isinstance(obj, _LEAF_TYPES):
            continue
        if isinstance(obj, (tf.Variable, keras.Variable)):
            candidates = [obj]
        else:
            if id(obj) in seen_objects or isinstance(obj, _OPAQUE_TYPES):
                continue
            seen_objects.add(id(obj))
            candidates = _own_variables(obj)
            stack.extend(reversed(list(_children(obj))))
        for v in candidates:
            # tf-keras models hold int64 step counters that claim trainable=True: parameters are floats.
            if v.trainable and tf.as_dtype(v.dtype).is_floating and variable_key(v) not in seen_vars:
                seen_vars.add(variable_key(v))
                out.append(v)
    return out
