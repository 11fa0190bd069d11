"""The training loop: epochs of compiled steps, validation each epoch, callbacks around it."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras
import tensorflow as tf

from tfpvae._validation import positive_int
from tfpvae.training.step import Totals, make_evaluate, make_train_loop, make_train_step
from tfpvae.training.variables import trainable_variables

__all__ = ["fit", "fit_epochs", "TrainingState"]

DataArg = tf.data.Dataset | Callable[[int], tf.data.Dataset]


@dataclass
class TrainingState:
    """What callbacks see and may change. ``epoch`` is the number of completed epochs; set
    ``stop_training = True`` to end after the current epoch. ``history`` holds one dict per epoch:
    ``{"epoch", "train": {...}, "validation": {...}, "seconds", "examples_per_second"}``."""

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


def _dataset_for(data: DataArg, epoch: int) -> tf.data.Dataset:
    return data(epoch) if callable(data) and not isinstance(data, tf.data.Dataset) else data


def _first_batch(data: DataArg):
    for batch in _dataset_for(data, 0).take(1):
        return batch
    raise ValueError("fit: the training data yielded no batches")


def fit(model, objective, train_data: DataArg, *, epochs: int, optimizer: keras.optimizers.Optimizer | None = None,
        validation_data: DataArg | None = None, callbacks: Sequence = (), seed: int = 0, jit_compile: bool = False,
        variables: Sequence | None = None, steps_per_execution: int = 50, validation_freq: int = 1) -> TrainingState:
    """Train ``model`` by minimising ``objective`` for ``epochs`` epochs.

    Args:
      model: anything the objective accepts (a VAE, a regression net with a distribution head, ...).
      objective: callable ``(model, batch, *, seed, step) -> NamedTuple`` with a per-example ``loss``.
      train_data: a ``tf.data.Dataset``, or ``epoch -> Dataset`` so that shuffling and data noise
        depend on the epoch alone (a resumed run then sees exactly the data it would have seen).
      epochs: total epochs; a run restored by a checkpoint callback continues to this number.
      optimizer: a Keras 3 optimizer; ``keras.optimizers.Adam(1e-3)`` by default.
      validation_data: evaluated after every epoch with fixed seeds; logged under ``"validation"``.
        A dict ``{name: data}`` evaluates several sets, each logged under its name (e.g.
        ``{"validation": valid, "test": test}``: select checkpoints on one, report the other).
      validation_freq: evaluate ``validation_data`` after every this-many epochs and after epoch
        ``epochs``; the other epochs' logs have ``"validated": False`` and no validation entries,
        and the monitoring callbacks (checkpoint, early stopping) skip them.
      callbacks: :class:`tfpvae.training.Callback` instances (progress, checkpoints, early stopping, ...).
      seed: base of every stateless seed of the run.
      jit_compile: compile the step with XLA (fuses the many small ops of a step; see benchmarks/).
      steps_per_execution: train steps run inside one compiled call (an in-graph loop over the
        data iterator); callbacks' ``on_batch_end`` sees every this-many steps. 1 gives a Python
        call per step, useful for debugging.
      variables: what to train; by default every trainable variable reachable from the model
        (:func:`tfpvae.training.trainable_variables`), found after one eager call builds lazy layers.

    Returns:
      The final :class:`TrainingState` (``state.history`` has the per-epoch metrics).
    """
    epochs_run = fit_epochs(model, objective, train_data, epochs=epochs, optimizer=optimizer,
                            validation_data=validation_data, callbacks=callbacks, seed=seed, jit_compile=jit_compile,
                            variables=variables, steps_per_execution=steps_per_execution,
                            validation_freq=validation_freq)
    while True:
        try:
            next(epochs_run)
        except StopIteration as done:
            return done.value


def fit_epochs(model, objective, train_data: DataArg, *, epochs: int,
               optimizer: keras.optimizers.Optimizer | None = None, validation_data: DataArg | None = None,
               callbacks: Sequence = (), seed: int = 0, jit_compile: bool = False, variables: Sequence | None = None,
               steps_per_execution: int = 50,
               validation_freq: int = 1) -> Generator[TrainingState, None, TrainingState]:
    """:func:`fit` one epoch at a time: a generator that yields the :class:`TrainingState` after each
    epoch (its callbacks have run) and returns it when training ends.

    Lets a caller interleave training with other work in one thread, e.g. two models taking turns
    epoch by epoch so that drift in the machine's speed hits both alike (``benchmarks/``)::

        >>> runs = [fit_epochs(m, objective, data, epochs=10) for m in models]  # doctest: +SKIP
        >>> for _ in range(10):                                               # doctest: +SKIP
        ...     states = [next(run) for run in runs]  # epoch k of every model, in turn

    Arguments are checked at the first ``next()``.
    """
    if not isinstance(epochs, int) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative int, got {epochs!r}")
    positive_int(validation_freq, "fit", "validation_freq")
    optimizer = optimizer or keras.optimizers.Adam(1e-3)
    # One eager call builds lazily created layers and names the objective's terms.
    term_names = list(objective(model, _first_batch(train_data), seed=[0, 0], step=0)._fields)
    if variables is None:
        variables = trainable_variables(model)
    if not variables:
        raise ValueError(f"fit: the model {type(model).__name__} has no trainable variables")
    optimizer.build(list(variables))
    state = TrainingState(model, objective, optimizer, list(variables), seed, epochs=epochs)
    totals = Totals(term_names)
    train_step = make_train_step(model, objective, optimizer, state.variables, seed=[seed, 0],
                                 jit_compile=jit_compile, totals=totals)
    run_steps = make_train_loop(train_step, steps_per_execution)
    evaluate = make_evaluate(model, objective, seed=[seed, 1], jit_compile=jit_compile)
    _call(callbacks, "on_train_begin", state)
    while state.epoch < epochs and not state.stop_training:
        totals.reset()
        _call(callbacks, "on_epoch_begin", state)
        start, steps = time.perf_counter(), 0
        iterator = iter(_dataset_for(train_data, state.epoch))
        while True:
            taken = int(run_steps(iterator))
            steps += taken
            if taken:
                _call(callbacks, "on_batch_end", state, steps, totals)
            if taken < steps_per_execution:
                break
        del iterator  # free the input pipeline (and its threads) before validation and callbacks
        train, count = totals.read()  # waits for the device
        seconds = time.perf_counter() - start
        logs = {"epoch": state.epoch + 1, "train": train,
                "seconds": seconds, "examples_per_second": count / seconds if seconds > 0 else float("nan")}
        if not math.isfinite(logs["train"]["loss"]):
            raise FloatingPointError(f"fit: the training loss became {logs['train']['loss']} in epoch {state.epoch + 1}; "
                                     "the last checkpoint (if any) holds the last finite state")
        if validation_data is not None:
            logs["validated"] = (state.epoch + 1) % validation_freq == 0 or state.epoch + 1 == epochs
            for name, data in _eval_sets(validation_data if logs["validated"] else None).items():
                logs[name] = evaluate(_dataset_for(data, 0))
        state.steps_per_epoch = steps
        state.epoch += 1
        state.history.append(logs)
        _call(callbacks, "on_epoch_end", state, logs)
        yield state
    _call(callbacks, "on_train_end", state)
    return state


def _eval_sets(validation_data) -> dict:
    if validation_data is None:
        return {}
    if isinstance(validation_data, dict):
        return validation_data
    return {"validation": validation_data}


def _call(callbacks, hook: str, *args) -> None:
    for cb in callbacks:
        getattr(cb, hook)(*args)
