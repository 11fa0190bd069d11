"""The training loop: epochs of compiled steps under a strategy, validation each epoch, callbacks around it."""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import keras
import tensorflow as tf

from tfpvae._validation import positive_int
from tfpvae.data.pipeline import ArrayData
from tfpvae.training.compilation import resolve_jit_compile, resolve_update_compile
from tfpvae.training.precision import set_precision
from tfpvae.training.step import (NONFINITE_POLICIES, Totals, make_array_train_loop, make_evaluate, make_train_loop,
                                   make_train_step)
from tfpvae.training.variables import hidden_variables, trainable_variables

__all__ = ["fit", "fit_epochs", "TrainingState"]

DataArg: TypeAlias = "tf.data.Dataset | Callable[[int], tf.data.Dataset]"


@dataclass
class TrainingState:
    """What callbacks see and may change. ``epoch`` is the number of completed epochs; set
    ``stop_training = True`` to end after the current epoch, ``stop_now = True`` to end within
    ``steps_per_execution`` steps, mid-epoch (callbacks' ``on_interrupt`` then save the partial
    epoch, and ``interrupted`` is True). ``history`` holds one dict per epoch: ``{"epoch", "train":
    {...}, "validation": {...}, "seconds", "examples_per_second", "skipped_batches"}``.
    ``resume_step`` and ``resume_totals``, set by a checkpoint restored mid-epoch, make the next
    epoch start at that batch with those running sums."""

    model: Any
    objective: Any
    optimizer: keras.optimizers.Optimizer
    variables: list
    seed: int
    epoch: int = 0
    epochs: int = 0
    history: list = field(default_factory=list)
    stop_training: bool = False
    steps_per_epoch: int | None = None
    strategy: tf.distribute.Strategy | None = None
    precision: str | None = None
    stop_now: bool = False
    interrupted: bool = False
    resume_step: int = 0
    resume_totals: Any = None


def _dataset_for(data: DataArg, epoch: int) -> tf.data.Dataset:
    return data(epoch) if callable(data) and not isinstance(data, tf.data.Dataset) else data


def _static_batch(data: DataArg) -> bool:
    """Whether every training batch's size is known when the step is traced: an ``ArrayData`` (its
    remainder batch is a call of its own), or a dataset whose batch dimension is fixed
    (``drop_remainder=True``)."""
    if isinstance(data, ArrayData):
        return True
    return all(spec.shape.rank and spec.shape[0] is not None
               for spec in tf.nest.flatten(_dataset_for(data, 0).element_spec))


def _first_batch(data: DataArg):
    if isinstance(data, ArrayData):  # the same batch, without building a tf.data pipeline
        if data.steps_per_epoch:
            order, noise_seed = data.plan(0)
            return data.batch(order, noise_seed, 0, data.batch_size if data.full_batches else data.remainder)
    else:
        for batch in _dataset_for(data, 0).take(1):
            return batch
    raise ValueError("fit: the training data yielded no batches")


def fit(model, objective, train_data: DataArg, *, epochs: int, optimizer: keras.optimizers.Optimizer | None = None,
        validation_data: DataArg | None = None, callbacks: Sequence = (), seed: int = 0,
        jit_compile: bool | str = "auto", variables: Sequence | None = None, steps_per_execution: int = 50,
        validation_freq: int = 1, strategy: tf.distribute.Strategy | None = None, precision: str | None = None,
        nonfinite: str = "stop", clip_norm: float | None = None) -> TrainingState:
    """Train ``model`` by minimising ``objective`` for ``epochs`` epochs.

    Args:
      model: anything the objective accepts (a VAE, a regression net with a distribution head, ...).
      objective: callable ``(model, batch, *, seed, step) -> NamedTuple`` with a per-example ``loss``.
      train_data: a ``tf.data.Dataset`` of *global* batches, or ``epoch -> Dataset`` so that
        shuffling and data noise depend on the epoch alone (a resumed run then sees exactly the
        data it would have seen), or in-memory :class:`tfpvae.data.ArrayData`, the fastest: on
        one replica its batches are gathered inside the compiled loop, ``steps_per_execution``
        steps per call (the same batches its ``tf.data`` form gives, in the same order).
      epochs: total epochs; a run restored by a checkpoint callback continues to this number.
      optimizer: a Keras 3 optimizer; ``keras.optimizers.Adam(1e-3)`` by default.
      validation_data: evaluated after every epoch with fixed seeds; logged under ``"validation"``.
        A dict ``{name: data}`` evaluates several sets, each logged under its name (e.g.
        ``{"validation": valid, "test": test}``: select checkpoints on one, report the other).
        A non-finite result stops the run with an error.
      validation_freq: evaluate ``validation_data`` after every this-many epochs and after epoch
        ``epochs``; the other epochs' logs have ``"validated": False`` and no validation entries,
        and the monitoring callbacks (checkpoint, early stopping) skip them.
      callbacks: :class:`tfpvae.training.Callback` instances (progress, checkpoints, early stopping, ...).
      seed: base of every stateless seed of the run (each replica folds in its id).
      jit_compile: compile the training loop with XLA, which fuses the many small ops of a step
        (``True``; one replica only), or not (``False``). ``"auto"`` (default) compiles models
        without convolutions or Bayesian layers on one replica, where XLA was measured faster on CPU,
        when the batch size is fixed (``ArrayData``, or a dataset batched with ``drop_remainder=True``),
        and compiles only the optimizer update of the others when they train many parameters
        (:mod:`tfpvae.training.compilation` states the rule; benchmarks/README.md the figures).
      steps_per_execution: train steps run inside one compiled call (an in-graph loop over the
        data iterator); callbacks' ``on_batch_end`` sees every this-many steps. 1 gives a Python
        call per step, useful for debugging.
      variables: what to train; by default every parameter the model's object graph tracks
        (:func:`tfpvae.training.trainable_variables`), found after one eager call builds lazy
        layers. Variables the graph does not track (closures) are refused with their names.
      strategy: a ``tf.distribute.Strategy`` (default: the current one). Build the model inside
        ``strategy.scope()``. The loss is averaged over the global batch, so N replicas give the
        update one device gives; replicas draw different noise.
      precision: ``"float32"``, ``"mixed_float16"`` (with dynamic loss scaling) or
        ``"mixed_bfloat16"``: sets the model's Keras layers' dtype policy
        (:func:`tfpvae.training.set_precision`); heads, log-probabilities and the loss stay float32.
        ``None`` (default) leaves the layers' policies as they were built.
      nonfinite: a step whose loss terms or gradients are not finite is never applied. ``"stop"``
        ends the run with a ``FloatingPointError`` naming the step and the terms (the variables and
        the last checkpoint stay as they were); ``"skip"`` drops the batch and counts it in the
        epoch's ``"skipped_batches"``.
      clip_norm: clip the gradient of the global batch to this global norm.

    Returns:
      The final :class:`TrainingState` (``state.history`` has the per-epoch metrics).
    """
    epochs_run = fit_epochs(model, objective, train_data, epochs=epochs, optimizer=optimizer,
                            validation_data=validation_data, callbacks=callbacks, seed=seed, jit_compile=jit_compile,
                            variables=variables, steps_per_execution=steps_per_execution,
                            validation_freq=validation_freq, strategy=strategy, precision=precision,
                            nonfinite=nonfinite, clip_norm=clip_norm)
    while True:
        try:
            next(epochs_run)
        except StopIteration as done:
            return done.value


_CHECKED_HEADS = ("BernoulliHead", "ContinuousBernoulliHead", "DiscretizedLogisticHead", "GaussianHead")


def _check_data_support(model, batch) -> None:
    """Refuse (or warn about) a first batch the model's decoder cannot score, e.g. 0..255 floats fed
    to a Bernoulli decoder, which would otherwise train to a meaningless negative loss."""
    head = getattr(getattr(model, "decoder", None), "head", None)
    if type(head).__name__ not in _CHECKED_HEADS or not isinstance(batch, tf.Tensor):
        return
    from tfpvae.data.support import check_support

    check_support(batch.numpy(), head, "fit: the training data (first batch)")


def _collect_variables(model, strategy) -> list:
    variables = trainable_variables(model)
    hidden = hidden_variables(model)
    if hidden:
        names = ", ".join(list(hidden)[:6]) + (", ..." if len(hidden) > 6 else "")
        raise ValueError(f"fit: {len(hidden)} trainable variable(s) of {type(model).__name__} are reachable only "
                         f"through closures or untracked objects, so they would be neither trained nor "
                         f"checkpointed: {names}. Hold them as attributes of a tf.Module / keras.Layer "
                         "(tfpvae.testing.assert_trackable names them), or pass variables= explicitly")
    if not variables:
        raise ValueError(f"fit: the model {type(model).__name__} has no trainable variables that TensorFlow's "
                         "object graph tracks; if a function closes over your network, hold the network as "
                         "an attribute (e.g. of a tf.Module) or pass variables=")
    return variables


def _check_in_scope(variables, strategy) -> None:
    if strategy is tf.distribute.get_strategy() and not tf.distribute.has_strategy():
        return
    storage = [(v.name, v.value if isinstance(v, keras.Variable) else v) for v in variables]
    outside = [name for name, v in storage if not strategy.extended.variable_created_in_scope(v)]
    if outside:
        raise ValueError(f"fit: {len(outside)} variable(s) were created outside the strategy's scope "
                         f"({outside[:4]}); build the model inside `with strategy.scope():`")


def _distribute(strategy, dataset: tf.data.Dataset):
    if not tf.distribute.has_strategy() and strategy is tf.distribute.get_strategy():
        return dataset
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return strategy.experimental_distribute_dataset(dataset.with_options(options))


def fit_epochs(model, objective, train_data: DataArg, *, epochs: int,
               optimizer: keras.optimizers.Optimizer | None = None, validation_data: DataArg | None = None,
               callbacks: Sequence = (), seed: int = 0, jit_compile: bool | str = "auto",
               variables: Sequence | None = None, steps_per_execution: int = 50, validation_freq: int = 1,
               strategy: tf.distribute.Strategy | None = None, precision: str | None = None, nonfinite: str = "stop",
               clip_norm: float | None = None) -> Generator[TrainingState, None, TrainingState]:
    """:func:`fit` one epoch at a time: a generator that yields the :class:`TrainingState` after each
    epoch (its callbacks have run) and returns it when training ends.

    Lets a caller interleave training with other work in one thread, e.g. two models taking turns
    epoch by epoch so that drift in the machine's speed hits both alike (``benchmarks/``)::

        >>> runs = [fit_epochs(m, objective, data, epochs=10) for m in models]  # doctest: +SKIP
        >>> for _ in range(10):                                               # doctest: +SKIP
        ...     states = [next(run) for run in runs]  # epoch k of every model, in turn

    Arguments are checked at the first ``next()``.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
    positive_int(validation_freq, "fit", "validation_freq")
    if nonfinite not in NONFINITE_POLICIES:
        raise ValueError(f"fit: nonfinite must be one of {NONFINITE_POLICIES}, got {nonfinite!r}")
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        optimizer = optimizer or keras.optimizers.Adam(1e-3)
        if precision == "mixed_float16" and not isinstance(optimizer, keras.optimizers.LossScaleOptimizer):
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        if precision is not None:
            set_precision(model, precision)
        # One eager call builds lazily created layers (in the strategy's scope) and names the terms.
        epoch0 = train_data if isinstance(train_data, ArrayData) else _dataset_for(train_data, 0)  # built once
        first = _first_batch(epoch0)
        _check_data_support(model, first)
        term_names = list(objective(model, first, seed=[0, 0], step=0)._fields)
        variables = _collect_variables(model, strategy) if variables is None else list(variables)
        if not variables:
            raise ValueError("fit: variables= is empty")
        _check_in_scope(variables, strategy)
        optimizer.build(variables)
        totals = Totals(term_names)
    compiled = resolve_jit_compile(jit_compile, model, strategy,  # the model is built now
                                   static_batch=jit_compile != "auto" or _static_batch(epoch0))
    compile_update = resolve_update_compile(jit_compile, compiled, variables, strategy)
    jit_compile = compiled
    state = TrainingState(model, objective, optimizer, variables, seed, epochs=epochs, strategy=strategy,
                          precision=precision)
    train_step = make_train_step(model, objective, optimizer, state.variables, seed=[seed, 0],
                                 jit_compile=jit_compile, totals=totals, nonfinite=nonfinite, clip_norm=clip_norm,
                                 compile_update=compile_update)
    evaluate = make_evaluate(model, objective, seed=[seed, 1], jit_compile=jit_compile)
    if isinstance(train_data, ArrayData) and strategy.num_replicas_in_sync == 1:
        run_arrays = make_array_train_loop(train_step, train_data, num_flags=len(term_names) + 1,
                                           jit_compile=jit_compile, stop_on_bad=nonfinite == "stop")

        def executions(epoch: int, skip: int):
            """In-memory data: batches gathered inside the compiled loop, ``steps_per_execution`` per call."""
            order, noise_seed = train_data.plan(epoch)
            for first in range(skip, train_data.full_batches, steps_per_execution):
                yield run_arrays(order, noise_seed, first, min(steps_per_execution, train_data.full_batches - first))
            if train_data.remainder and skip <= train_data.full_batches:
                yield run_arrays(order, noise_seed, train_data.full_batches, 1, train_data.remainder)
    else:
        run_steps = make_train_loop(train_step, steps_per_execution, num_flags=len(term_names) + 1,
                                    strategy=strategy, stop_on_bad=nonfinite == "stop")

        def executions(epoch: int, skip: int):
            """A tf.data pipeline: batches pulled from its iterator inside the compiled loop."""
            iterator = iter(_distribute(strategy, _dataset_for(train_data, epoch).skip(skip)))
            try:
                while True:
                    taken, ok, bad = result = run_steps(iterator)
                    yield result
                    if int(taken) < steps_per_execution or (not bool(ok) and nonfinite == "stop"):
                        return
            finally:
                del iterator  # free the input pipeline (and its threads) before validation and callbacks
    # One worker of a multi-worker cluster cannot stop mid-epoch alone (the others would wait on it).
    can_interrupt = not getattr(strategy.extended, "_in_multi_worker_mode", lambda: False)()
    _call(callbacks, "on_train_begin", state)
    while state.epoch < epochs and not state.stop_training:
        totals.reset()
        steps, state.resume_step = state.resume_step, 0  # a checkpoint taken mid-epoch resumes at its batch
        if state.resume_totals is not None:
            totals.load(state.resume_totals)
            state.resume_totals = None
        _call(callbacks, "on_epoch_begin", state)
        start = time.perf_counter()
        with contextlib.closing(executions(state.epoch, steps)) as runs:
            for taken, ok, bad in runs:
                steps += int(taken)
                if not bool(ok) and nonfinite == "stop":
                    raise _nonfinite_error(term_names, bad, optimizer, state.epoch + 1, steps)
                if int(taken):
                    _call(callbacks, "on_batch_end", state, steps, totals)
                if state.stop_now and can_interrupt:
                    break
        if state.stop_now and can_interrupt and (state.steps_per_epoch is None or steps < state.steps_per_epoch):
            state.interrupted, state.resume_step = True, steps  # mid-epoch: checkpoints save the partial epoch
            _call(callbacks, "on_interrupt", state, steps, totals)
            break
        train, count = totals.read()  # waits for the device
        seconds = time.perf_counter() - start
        logs: dict[str, Any] = {"epoch": state.epoch + 1, "train": train, "seconds": seconds,
                                "examples_per_second": count / seconds if seconds > 0 else float("nan"),
                                "skipped_batches": totals.skipped()}
        if callable(getattr(objective, "beta", None)):  # the KL weight reached by the end of the epoch
            logs["beta"] = float(objective.beta(optimizer.iterations))
        if not count:
            raise FloatingPointError(f"fit: every batch of epoch {state.epoch + 1} was skipped as non-finite")
        if validation_data is not None:
            logs["validated"] = (state.epoch + 1) % validation_freq == 0 or state.epoch + 1 == epochs
            for name, data in _eval_sets(validation_data if logs["validated"] else None).items():
                metrics = logs[name] = evaluate(_dataset_for(data, 0))
                bad_terms = [k for k, v in metrics.items() if not math.isfinite(v)]
                if bad_terms:
                    raise FloatingPointError(f"fit: {name} {', '.join(bad_terms)} = "
                                             f"{[metrics[k] for k in bad_terms]} after epoch {state.epoch + 1} "
                                             f"(non-finite values in the {name} data or model); nothing was saved "
                                             "for this epoch")
        state.steps_per_epoch = steps
        state.epoch += 1
        state.history.append(logs)
        _call(callbacks, "on_epoch_end", state, logs)
        yield state
    _call(callbacks, "on_train_end", state)
    return state


def _nonfinite_error(term_names, bad, optimizer, epoch: int, batch: int) -> FloatingPointError:
    flags = [float(b) for b in bad.numpy()]
    which = [name for name, flag in zip(term_names + ["gradient"], flags) if flag]
    step = int(optimizer.iterations.numpy()) + 1
    return FloatingPointError(f"fit: non-finite {', '.join(which) or 'values'} at step {step} (epoch {epoch}, "
                              f"batch {batch}); the update was not applied, so the variables and the last "
                              "checkpoint hold the last finite state (nonfinite='skip' drops such batches)")


def _eval_sets(validation_data) -> dict:
    if validation_data is None:
        return {}
    if isinstance(validation_data, dict):
        return validation_data
    return {"validation": validation_data}


def _call(callbacks, hook: str, *args) -> None:
    for cb in callbacks:
        getattr(cb, hook)(*args)
