"""A model's parameters: the trainable variables TensorFlow's object graph tracks, by path.

One rule, the one ``tf.train.Checkpoint`` uses: a parameter is a floating-point trainable variable
reachable from the model through *tracked* attributes -- attributes of ``tf.Module`` objects
(TFP distributions and bijectors are modules), Keras 3 layers and models, tf-keras layers
(``tfb.AutoregressiveNetwork``), and the lists, tuples and dicts those hold. Each variable has a
path such as ``"encoder/network/_functional/_operations/2/_kernel"``; checkpoints are keyed by
these paths, so a model rebuilt in another order restores correctly.

A variable held only in a closure, a bound method or a plain (untracked) Python object is not a
parameter under this rule: it would be neither trained by default nor checkpointed.
:func:`hidden_variables` finds such variables by walking every attribute, container, bound method
and closure cell, and :func:`tfpvae.testing.assert_trackable` names them, so a user can hold them
as attributes instead (e.g. ``bijector.network = made`` for a MADE a lambda closes over).
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
import tensorflow as tf

__all__ = ["trainable_variables", "named_variables", "hidden_variables", "variable_key", "tracked_objects"]

_LEAF_TYPES = (str, bytes, int, float, bool, type(None), tf.Tensor, tf.TensorShape, tf.DType)
_OPAQUE_TYPES = (type, types.ModuleType, types.BuiltinFunctionType, np.ndarray, np.generic,
                 tf.distribute.Strategy, tf.distribute.StrategyExtended, tf.distribute.InputContext)
# Keras bookkeeping attributes that point back up the graph or at unrelated objects.
_SKIP_ATTRS = frozenset({"_inbound_nodes", "_outbound_nodes", "_parent_path", "_tracker",
                         "_self_tracked_trackables_unused"})


def variable_key(v: Any) -> int:
    """Identity of the storage behind ``v`` (a Keras 3 variable wraps a ``tf.Variable``)."""
    inner = getattr(v, "value", None) if isinstance(v, keras.Variable) else None
    return id(inner if isinstance(inner, tf.Variable) else v)


def _is_parameter(v: Any) -> bool:
    # tf-keras models hold int64 step counters that claim trainable=True: parameters are floats.
    return bool(v.trainable) and tf.as_dtype(v.dtype).is_floating


def _is_variable(obj: Any) -> bool:
    return isinstance(obj, (tf.Variable, keras.Variable))


def _tracked_children(obj: Any) -> list[tuple[str, Any]]:
    if isinstance(obj, keras.optimizers.Optimizer):
        return []  # optimizer slots are state, not parameters
    try:
        return list(tf.train.TrackableView(obj).children(obj).items())
    except (AttributeError, TypeError):
        return []


def _roots(objects: tuple) -> list[tuple[str, Any]]:
    roots: list[tuple[str, Any]] = []
    for i, obj in enumerate(objects):
        prefix = "" if len(objects) == 1 else f"{i}/"
        if isinstance(obj, dict):
            roots += [(f"{prefix}{k}", v) for k, v in obj.items()]
        elif isinstance(obj, (list, tuple)):
            roots += [(f"{prefix}{j}", v) for j, v in enumerate(obj)]
        else:
            roots.append((prefix.rstrip("/"), obj))
    return roots


def named_variables(*objects: Any, trainable_only: bool = True) -> dict[str, Any]:
    """``{path: variable}`` for every variable the object graph of ``objects`` tracks.

    Args:
      *objects: models, layers, modules, distributions, bijectors, or lists/dicts of them.
      trainable_only: keep only floating-point trainable variables (the parameters).

    Returns:
      An ordered dict, breadth first over tracked attributes (the order
      ``tf.train.Checkpoint`` walks), each variable once (by storage) under its first path.

    Example:
      >>> import keras, tensorflow as tf
      >>> class Head(tf.Module):
      ...     def __init__(self):
      ...         self.dense = keras.layers.Dense(2, name="out")  # tf.Module's own listing misses these
      ...         self.dense.build((None, 3))
      >>> sorted(named_variables(Head()))
      ['dense/_kernel', 'dense/bias']
    """
    out: dict[str, Any] = {}
    seen_vars: set[int] = set()
    for path, obj in _walk(objects):
        if _is_variable(obj) and variable_key(obj) not in seen_vars and (not trainable_only or _is_parameter(obj)):
            seen_vars.add(variable_key(obj))
            out[path] = obj
    return out


def _walk(objects: tuple) -> Iterator[tuple[str, Any]]:
    """``(path, object)`` for every variable and every other object the object graph of ``objects``
    tracks, breadth first (variables each time they are reached, other objects once)."""
    seen: set[int] = set()
    queue = _roots(objects)
    while queue:
        path, obj = queue.pop(0)
        if _is_variable(obj):
            yield path, obj
            continue
        if id(obj) in seen or isinstance(obj, _LEAF_TYPES):
            continue
        seen.add(id(obj))
        yield path, obj
        queue += [(f"{path}/{name}" if path else name, child) for name, child in _tracked_children(obj)]


def tracked_objects(*objects: Any) -> Iterator[Any]:
    """Every object (layer, module, distribution, bijector, container) the object graph of
    ``objects`` tracks, each once, breadth first: what :func:`named_variables` walks."""
    return (obj for _, obj in _walk(objects) if not _is_variable(obj))


def trainable_variables(*objects: Any) -> list:
    """Every parameter reachable from ``objects`` through tracked attributes, each once, in a stable order.

    This is what :func:`tfpvae.fit` trains and checkpoints by default. Keras 3 and ``tf.Module`` do
    not list each other's variables (a ``tf.Module`` holding a Keras 3 ``Dense`` lists none of the
    Dense's), so neither framework's own ``trainable_variables`` is used: the object graph is.

    Example:
      >>> import keras, tensorflow as tf
      >>> class Head(tf.Module):
      ...     def __init__(self):
      ...         self.dense = keras.layers.Dense(2)
      ...         self.dense.build((None, 3))
      >>> len(trainable_variables(Head()))
      2
    """
    return list(named_variables(*objects).values())


def _all_children(obj: Any):
    if isinstance(obj, dict):
        yield from ((repr(k), v) for k, v in obj.items())
        return
    if isinstance(obj, (list, tuple, set, frozenset)):
        yield from ((str(i), v) for i, v in enumerate(obj))
        return
    if isinstance(obj, types.MethodType):  # a bound method keeps its object alive
        yield "__self__", obj.__self__
        return
    if isinstance(obj, types.FunctionType):  # lambdas and closures over networks
        for name, cell in zip(obj.__code__.co_freevars, obj.__closure__ or ()):
            try:
                yield f"<closure {obj.__qualname__}>.{name}", cell.cell_contents
            except ValueError:  # empty cell
                pass
        return
    try:
        attrs = vars(obj)
    except TypeError:
        return
    for name, value in attrs.items():
        if name not in _SKIP_ATTRS and not isinstance(obj, keras.optimizers.Optimizer):
            yield name, value


def hidden_variables(*objects: Any) -> dict[str, Any]:
    """``{where: variable}`` for parameters reachable from ``objects`` by any route (attributes,
    containers, bound methods, closure cells) that the object graph does NOT track: they would be
    neither trained by default nor saved in a checkpoint. ``where`` is the attribute route."""
    tracked = {variable_key(v) for v in named_variables(*objects).values()}
    found: dict[str, Any] = {}
    seen: set[int] = set()
    stack = list(reversed(_roots(objects)))
    while stack:
        path, obj = stack.pop()
        if isinstance(obj, _LEAF_TYPES):
            continue
        if _is_variable(obj):
            if _is_parameter(obj) and variable_key(obj) not in tracked and variable_key(obj) not in seen:
                seen.add(variable_key(obj))
                found[f"{path} ({obj.name})"] = obj
            continue
        if id(obj) in seen or isinstance(obj, _OPAQUE_TYPES):
            continue
        seen.add(id(obj))
        children = [(f"{path}.{name}" if path else name, child) for name, child in _all_children(obj)]
        stack += reversed(children)
    return found
