"""Checkpoints by name: resume from the latest epoch, keep the best epoch by a validation metric.

The model and the optimizer are saved as object graphs (``tf.train.Checkpoint(model=...,
optimizer=...)``), so every value is keyed by its path (``model/encoder/network/...``,
``tf.train.list_variables`` shows them): a model built in another order restores correctly, and a
checkpoint that does not fit the model fails with an error naming what does not match, never a
silent partial restore. The per-epoch history is written beside it, so a resumed run's metrics are
whole.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import tensorflow as tf

from tfpvae.training.callbacks import Callback, monitored_value
from tfpvae.training.io import atomic_write_json
from tfpvae.training.variables import named_variables

__all__ = ["Checkpoint", "restore_model", "checkpoint_keys"]


def checkpoint_keys(path) -> list[str]:
    """The value keys of a checkpoint file prefix (``tf.train.list_variables``), without the suffix."""
    suffix = "/.ATTRIBUTES/VARIABLE_VALUE"
    return [name[: -len(suffix)] if name.endswith(suffix) else name
            for name, _ in tf.train.list_variables(str(path)) if name != "_CHECKPOINTABLE_OBJECT_GRAPH"]


def _refuse_positional(path) -> None:
    keys = checkpoint_keys(path)
    if any(k.split("/")[1:2] == ["0"] and k.startswith("model/") for k in keys) and not any(
            k.startswith("model/") and not k.split("/")[1].isdigit() for k in keys):
        raise ValueError(f"{path} is a positional checkpoint written by tfpvae 0.1 (variables as an unnamed list); "
                         "this version saves and loads variables by name: retrain, or load it with tfpvae 0.1")


def _restore(ckpt: tf.train.Checkpoint, path, what: str) -> None:
    _refuse_positional(path)
    status = ckpt.restore(str(path))
    try:
        status.assert_existing_objects_matched()
        status.assert_consumed()
    except AssertionError as err:
        raise ValueError(f"{what}: the checkpoint {path} does not match the model (a different architecture, or "
                         f"layers not built yet): {str(err).splitlines()[0][:400]}") from None


def _trackable(model, component: str) -> None:
    if not isinstance(model, tf.__internal__.tracking.Trackable):
        raise TypeError(f"{component}: the model must be a tf.Module or a Keras layer/model so that its variables "
                        f"are saved by name, got {type(model).__name__}")


class OptimizerState(tf.Module):
    """What a checkpoint keeps of an optimizer: its own variables (step counter, learning rate, slots
    such as Adam's moments), without the model variables a Keras optimizer also tracks (saved under
    ``optimizer/`` they would shadow the model's named paths with positional ones). Slots follow the
    order of ``variables`` (the model's object-graph order, by name); that order is saved beside
    them and checked on restore."""

    def __init__(self, optimizer, variables):
        super().__init__(name="optimizer_state")
        self.slots = list(optimizer.variables)
        self._order_text = " ".join(v.name for v in variables)
        self.order = tf.Variable(self._order_text, trainable=False, dtype=tf.string)

    def check_order(self, path) -> None:
        saved = self.order.numpy().decode()
        if saved != self._order_text:
            raise ValueError(f"Checkpoint: {path} holds optimizer state for the variables {saved.split()[:6]}..., "
                             f"but this run trains {self._order_text.split()[:6]}...; the optimizer's moments "
                             "would be assigned to the wrong variables")


class Checkpoint(Callback):
    """Save ``directory/latest`` every ``every`` epochs and ``directory/best`` when ``monitor`` improves;
    on start, restore the latest checkpoint (model, optimizer state, epoch, history) if one exists.

    Args:
      directory: where checkpoints live; created if needed.
      monitor: metric path in the epoch logs, e.g. ``"validation/loss"``; ``None`` keeps no best.
      mode: ``"min"`` or ``"max"`` for ``monitor``.
      max_to_keep: latest checkpoints kept (older ones are deleted by ``tf.train.CheckpointManager``).
      every: save ``latest`` every this-many epochs (and at the last).
      restore: resume from the latest checkpoint at train begin.
      restore_directory: where to resume from, if not ``directory``: a non-chief worker of a
        multi-worker cluster writes to a temporary folder but resumes from the chief's.
    """

    def __init__(self, directory, monitor: str | None = "validation/loss", mode: str = "min", max_to_keep: int = 2,
                 every: int = 1, restore: bool = True, restore_directory=None):
        if mode not in ("min", "max"):
            raise ValueError(f"Checkpoint: mode must be 'min' or 'max', got {mode!r}")
        self.directory, self.monitor, self.mode = Path(directory), monitor, mode
        self.restore_directory = Path(restore_directory) if restore_directory is not None else self.directory
        self.max_to_keep, self.every, self.restore = max_to_keep, every, restore
        self.restored_epoch = 0

    def on_train_begin(self, state):
        _trackable(state.model, "Checkpoint")
        self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._optimizer_state = OptimizerState(state.optimizer, state.variables)
        self._ckpt = tf.train.Checkpoint(model=state.model, optimizer=self._optimizer_state, epoch=self._epoch)
        self._latest = tf.train.CheckpointManager(self._ckpt, self.directory / "latest", self.max_to_keep)
        self._best = tf.train.CheckpointManager(self._ckpt, self.directory / "best", 1)
        self.best_value = self._read_best()
        latest = tf.train.latest_checkpoint(self.restore_directory / "latest") if self.restore else None
        if latest:
            _restore(self._ckpt, latest, "Checkpoint")
            self._optimizer_state.check_order(latest)
            state.epoch = self.restored_epoch = int(self._epoch.numpy())
            history = self._read_json("history.json", self.restore_directory) or []
            state.history[:] = history[:state.epoch]

    def on_epoch_end(self, state, logs):
        self._epoch.assign(state.epoch)
        if state.epoch % self.every == 0 or state.stop_training or state.epoch == state.epochs:
            self._latest.save(checkpoint_number=state.epoch)
            atomic_write_json(self.directory / "history.json", state.history)
        value = None if self.monitor is None else monitored_value(logs, self.monitor)
        if value is not None:
            improved = value < self.best_value if self.mode == "min" else value > self.best_value
            if improved or math.isnan(self.best_value):
                self.best_value = value
                self._best.save(checkpoint_number=state.epoch)
                atomic_write_json(self.directory / "best.json", {"epoch": state.epoch, self.monitor: value})

    def _read_json(self, name, directory=None):
        path = (directory or self.directory) / name
        return json.loads(path.read_text()) if path.exists() else None

    def _read_best(self) -> float:
        best = self._read_json("best.json")
        if best is not None and self.monitor in best:
            return float(best[self.monitor])
        return math.inf if self.mode == "min" else -math.inf


def restore_model(directory, model, which: str = "best") -> str:
    """Load a model's variables (not the optimizer state) from ``directory/which`` (``"best"`` or
    ``"latest"``, falling back to the other when absent), by name. Returns the checkpoint path used.

    Every variable of ``model`` must be in the checkpoint and every model value of the checkpoint
    must find its variable; otherwise a ``ValueError`` names the mismatch. Build lazy layers first
    (one call on a batch) so there is something to restore into.
    """
    _trackable(model, "restore_model")
    directory = Path(directory)
    order = [which, "latest" if which == "best" else "best"]
    for name in order:
        path = tf.train.latest_checkpoint(directory / name)
        if path:
            _refuse_positional(path)
            status = tf.train.Checkpoint(model=model).restore(path).expect_partial()
            try:
                status.assert_existing_objects_matched()
            except AssertionError as err:
                raise ValueError(f"restore_model: the checkpoint {path} does not match the model: "
                                 f"{str(err).splitlines()[0][:400]}") from None
            saved = {k for k in checkpoint_keys(path) if k.startswith("model/")}
            have = named_variables(model, trainable_only=False)
            if len(saved) != len(have):
                raise ValueError(f"restore_model: the checkpoint {path} holds {len(saved)} model values but the model "
                                 f"has {len(have)} variables (a different architecture, or lazy layers not built yet: "
                                 "call the model on a batch first)")
            return path
    raise FileNotFoundError(f"restore_model: no checkpoint under {directory}/best or {directory}/latest")
