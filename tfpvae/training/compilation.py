"""When a training loop is compiled with XLA: ``fit(..., jit_compile="auto")``.

The rule, measured side by side on this project's 2-core CPU machine (benchmarks/README.md): XLA
fuses the many small element-wise ops of a step (activations, the reparameterisation, the KL, the
log-likelihood, Adam's updates), which are most of a dense VAE's time, so MLP VAEs and their flow
posteriors train faster compiled as one multi-step loop. Two kinds of model train slower compiled
and are left uncompiled: models holding a convolution layer (XLA's CPU convolutions, transposed
ones above all, are far slower than TensorFlow's oneDNN kernels: the CVAE tutorial's model ran
~25x slower per step), and Bayesian layers, where XLA gained nothing on an idle Xeon (a
784-400-400-10 Flipout MLP: 6907 vs 6884 examples/s), ran 0.75x on an idle AMD EPYC (5158 vs 6918:
XLA's CPU sampler is slow and the weight noise is ~480k normals per step), was 1.4-2.1x slower with
the cores shared, and costs 7-14 s more to compile. A multi-replica step is never compiled
(its guarded update needs a cross-replica condition that XLA cannot hold), nor is a step whose
batch size is unknown when it is traced (a ``tf.data`` pipeline whose last batch may be smaller,
as :func:`tfpvae.data.make_dataset` builds): XLA refuses some models' gradients then, e.g. a MAF
posterior's while loop failed its first step with "tf2xla conversion failed". An
:class:`~tfpvae.data.ArrayData` on one replica has a fixed batch size (its smaller last batch is a
call of its own), as has a dataset batched with ``drop_remainder=True``. Compiling costs a few
seconds once, in the first epoch; ``TFPVAE_AUTO_JIT=0`` in the environment makes ``"auto"`` never
compile (for debugging, and for the test suite, whose hundreds of short fits would pay it each time).

A step left uncompiled by ``"auto"`` still applies its optimizer update as one XLA computation
when it trains many parameters (:func:`resolve_update_compile`): Keras 3's Adam is ~10 element-wise
TensorFlow ops per variable, each a pass over the weights, and a Bayesian layer has two variables
per weight. XLA fuses them into one pass per variable; the layers' noise, matmuls and convolutions
stay on TensorFlow's kernels. The same losses (tested). Measured side by side on an AMD EPYC
(benchmarks/README.md): a 784-400-400-10 Flipout MLP (0.96M parameters) 1.15x the examples/s of the
fully uncompiled step; the CVAE tutorial's conv model (70k parameters) no faster (0.95x, within the
rounds' spread) and ~0.7 s more first epoch, hence the threshold of
:data:`UPDATE_COMPILE_MIN_PARAMETERS` between the two.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from typing import Any

import tensorflow as tf

from tfpvae.training.variables import tracked_objects

__all__ = ["JIT_MODES", "UPDATE_COMPILE_MIN_PARAMETERS", "slower_under_xla", "resolve_jit_compile",
           "resolve_update_compile"]

JIT_MODES = (True, False, "auto")
UPDATE_COMPILE_MIN_PARAMETERS = 250_000  # trained values from which "auto" compiles an uncompiled step's update


def _slow_under_xla(obj: Any) -> bool:
    from tfpvae.layers.base import BayesianLayer

    return isinstance(obj, BayesianLayer) or any(
        cls.__name__.startswith(("Conv", "BaseConv", "DepthwiseConv", "SeparableConv")) for cls in type(obj).__mro__)


def slower_under_xla(*objects: Any) -> bool:
    """Whether any object tracked by ``objects`` (:func:`~tfpvae.training.variables.tracked_objects`)
    is of a kind measured slower under XLA on CPU: a convolution layer (Keras' ``Conv*``, tfpvae's
    Bayesian ``Conv2D*``) or a Bayesian layer (:mod:`tfpvae.layers`)."""
    return any(_slow_under_xla(obj) for obj in tracked_objects(*objects))


def resolve_jit_compile(jit_compile, model, strategy: tf.distribute.Strategy | None = None,
                        component: str = "fit", static_batch: bool = True) -> bool:
    """``jit_compile`` as a bool: ``True``/``False`` as given (``True`` is refused with more than one
    replica of ``strategy``), ``"auto"`` by the rule in this module's docstring: ``static_batch``
    says whether the step's batch size is known when it is traced. Without a strategy (evaluation)
    replicas are not considered; ``component`` names the caller in errors."""
    if jit_compile not in JIT_MODES or (jit_compile == "auto" and not isinstance(jit_compile, str)):
        raise ValueError(f"{component}: jit_compile must be True, False or 'auto', got {jit_compile!r}")
    replicas = 1 if strategy is None else strategy.num_replicas_in_sync
    if jit_compile is True and replicas > 1:
        raise ValueError(f"{component}: jit_compile compiles a one-replica step; with {replicas} replicas "
                         "the guarded update needs a cross-replica condition XLA cannot compile: drop jit_compile")
    if jit_compile == "auto":
        return _auto_allowed(replicas) and static_batch and not slower_under_xla(model)
    return bool(jit_compile)


def _auto_allowed(replicas: int) -> bool:
    return replicas == 1 and os.environ.get("TFPVAE_AUTO_JIT", "1") != "0"


def resolve_update_compile(jit_compile, compiled: bool, variables: Sequence,
                           strategy: tf.distribute.Strategy | None = None) -> bool:
    """Whether a step applies its optimizer update as one XLA computation: under ``"auto"`` when the
    step itself is not ``compiled`` (:func:`resolve_jit_compile`) and ``variables`` hold at least
    :data:`UPDATE_COMPILE_MIN_PARAMETERS` values, with one replica, unless ``TFPVAE_AUTO_JIT=0``.
    ``jit_compile=False`` compiles nothing; ``True`` compiles the whole step."""
    replicas = 1 if strategy is None else strategy.num_replicas_in_sync
    if not (jit_compile == "auto" and isinstance(jit_compile, str) and not compiled and _auto_allowed(replicas)):
        return False
    return sum(math.prod(v.shape) for v in variables) >= UPDATE_COMPILE_MIN_PARAMETERS
