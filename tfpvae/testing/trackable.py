"""Check that a model's variables follow tfpvae's one rule: reachable through tracked attributes."""

from __future__ import annotations

from typing import Any

from tfpvae.training.variables import hidden_variables, named_variables

__all__ = ["assert_trackable"]


def assert_trackable(model: Any) -> dict:
    """Raise ``AssertionError`` naming every trainable variable of ``model`` that TensorFlow's object
    graph does not track (held in a closure, a bound method or an untracked object): such a variable
    is neither trained by :func:`tfpvae.fit` by default nor saved in a checkpoint.

    Returns ``{path: variable}`` of the tracked parameters when all is well.

    Example:
      >>> import tensorflow as tf
      >>> class Hides(tf.Module):
      ...     def __init__(self):
      ...         w = tf.Variable(1.0, name="w")
      ...         self.fn = lambda x: w * x  # the variable lives only in the closure
      >>> try:
      ...     assert_trackable(Hides())
      ... except AssertionError as err:
      ...     print(str(err).splitlines()[0])
      1 trainable variable(s) of Hides are not tracked (hold them as attributes of a tf.Module or keras.Layer):
    """
    hidden = hidden_variables(model)
    if hidden:
        lines = "\n".join(f"  {where}" for where in hidden)
        raise AssertionError(f"{len(hidden)} trainable variable(s) of {type(model).__name__} are not tracked "
                             f"(hold them as attributes of a tf.Module or keras.Layer):\n{lines}")
    return named_variables(model)
