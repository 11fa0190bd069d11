"""Checkpoints by name: resume from the latest epoch, keep the best epoch by a validation metric.

The model and the optimizer are saved as object graphs (``tf.train.Checkpoint(model=...,
optimizer=...)``), so every value is keyed by its path (``model/encoder/network/...``,
``tf.train.list_variables`` shows them): a model built in another order restores correctly, and a
checkpoint that does not fit the model fails with an error naming what does not match, never a
silent partial restore. The epoch, the per-epoch history and the best monitored value are
saved inside the checkpoint itself, so one atomic save commits them with the weights and a resumed
run's record is whole whatever moment a crash hit.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
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


def _refuse_positional(path, keys: list[str] | None = None) -> None:
    """tfpvae 0.1 saved the model as a list: every model key is ``model/<index>/...``."""
    first = [k.split("/")[1] for k in (checkpoint_keys(path) if keys is None else keys) if k.startswith("model/")]
    if first and all(part.isdigit() for part in first):
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


def _json_default(o):
    return o.tolist() if hasattr(o, "tolist") else repr(o)


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
    A run stopped mid-epoch (:class:`GracefulStop`, ``state.stop_now``) is saved in
    ``directory/partial`` with its position in the epoch, and resumes at the next batch: the
    resumed run ends where an uninterrupted one would.

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
        # The epoch, the history and the best value live INSIDE the checkpoint, so one atomic save
        # commits them together with the weights: a kill between two files cannot split them.
        self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._history = tf.Variable("[]", dtype=tf.string, trainable=False)
        self._best_value = tf.Variable(self._initial_best(), dtype=tf.float64, trainable=False)
        self._best_epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._optimizer_state = OptimizerState(state.optimizer, state.variables)
        self._ckpt = tf.train.Checkpoint(model=state.model, optimizer=self._optimizer_state, epoch=self._epoch,
                                         history=self._history, best_value=self._best_value,
                                         best_epoch=self._best_epoch)
        self._latest = tf.train.CheckpointManager(self._ckpt, self.directory / "latest", self.max_to_keep)
        self._best = tf.train.CheckpointManager(self._ckpt, self.directory / "best", 1)
        # A stop mid-epoch (Ctrl-C) saves the same objects plus the position in the epoch and its
        # running sums, apart in partial/: the epoch checkpoints keep their layout.
        self._epoch_step = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._epoch_totals = tf.Variable(tf.zeros([0]), shape=tf.TensorShape([None]), trainable=False)
        self._partial_ckpt = tf.train.Checkpoint(model=state.model, optimizer=self._optimizer_state, epoch=self._epoch,
                                                 history=self._history, best_value=self._best_value,
                                                 best_epoch=self._best_epoch, epoch_step=self._epoch_step,
                                                 epoch_totals=self._epoch_totals)
        self._partial = tf.train.CheckpointManager(self._partial_ckpt, self.directory / "partial", 1)
        self.restored_path = self._restore_newest_good() if self.restore else None
        if self.restored_path:
            self._optimizer_state.check_order(self.restored_path)
            state.epoch = self.restored_epoch = int(self._epoch.numpy())
            state.history[:] = json.loads(self._history.numpy().decode())[:state.epoch]
            best_saved = tf.train.latest_checkpoint(self.directory / "best")
            if int(self._best_epoch.numpy()) == state.epoch and not (best_saved or "").endswith(f"-{state.epoch}"):
                self._best.save(checkpoint_number=state.epoch)  # killed between the latest and the best save
        self.restored_step = self._restore_partial(state) if self.restore else 0
        self.best_value = float(self._best_value.numpy())

    def _restore_partial(self, state) -> int:
        """Restore the mid-epoch checkpoint if it is newer than the epoch restored (its epoch count is
        not behind); returns the batch the resumed epoch starts at (0 if none)."""
        path = tf.train.latest_checkpoint(self.restore_directory / "partial")
        if path is None:
            return 0
        try:
            saved_epoch = int(tf.train.load_variable(path, "epoch/.ATTRIBUTES/VARIABLE_VALUE"))
            if saved_epoch < state.epoch:
                return 0  # a later epoch was saved since: stale
            _restore(self._partial_ckpt, path, "Checkpoint")
        except ValueError:
            raise  # a checkpoint of another model
        except Exception as err:
            reason = f"{type(err).__name__}: {str(err).splitlines()[0][:120]}"
            if not self.restored_path:  # some variables may hold values of the failed read: no silent mix
                raise ValueError(f"Checkpoint: the only checkpoint in {self.restore_directory} is the unreadable "
                                 f"mid-epoch one {path} ({reason}); delete {self.restore_directory} to start "
                                 "over") from None
            print(f"tfpvae: mid-epoch checkpoint {path} is unreadable ({reason}); resuming from the last whole "
                  "epoch instead", file=sys.stderr)
            _restore(self._ckpt, self.restored_path, "Checkpoint")
            return 0
        self._optimizer_state.check_order(path)
        state.epoch = self.restored_epoch = int(self._epoch.numpy())
        state.history[:] = json.loads(self._history.numpy().decode())[:state.epoch]
        state.resume_step, state.resume_totals = int(self._epoch_step.numpy()), self._epoch_totals.numpy()
        self.restored_path = path
        return state.resume_step

    def on_interrupt(self, state, step, totals):
        self._epoch.assign(state.epoch)
        self._history.assign(json.dumps(state.history, default=_json_default))
        self._epoch_step.assign(step)
        self._epoch_totals.assign(tf.convert_to_tensor(totals.variable.read_value()))
        self._partial.save(checkpoint_number=int(state.optimizer.iterations.numpy()))

    def _initial_best(self) -> float:
        return math.inf if self.mode == "min" else -math.inf

    def _restore_newest_good(self) -> str | None:
        """Restore the newest latest/ checkpoint that reads back whole; an unreadable one is
        reported by name and the previous one is tried. Checkpoint files without any readable one
        (or a missing/garbled state file with no intact checkpoint) are an error, never a silent
        restart from epoch 0."""
        folder = self.restore_directory / "latest"
        candidates = sorted(folder.glob("ckpt-*.index"), key=lambda p: int(p.stem.split("-")[-1]), reverse=True)
        failures = []
        for index in candidates:
            path = str(index.with_suffix(""))
            try:
                _restore(self._ckpt, path, "Checkpoint")
            except ValueError:
                raise  # a checkpoint of another model: not a corruption to skip over
            except Exception as err:  # DataLossError, truncated reads (IndexError), missing shards, ...
                failures.append(f"{path}: {str(err).splitlines()[0][:160]}")
                print(f"tfpvae: checkpoint {path} is unreadable ({type(err).__name__}); trying an older one",
                      file=sys.stderr)
                continue
            return path
        if failures:
            raise ValueError(f"Checkpoint: no readable checkpoint in {folder} ({'; '.join(failures)}); "
                             "delete the folder to start over")
        return None

    def on_epoch_end(self, state, logs):
        self._epoch.assign(state.epoch)
        self._history.assign(json.dumps(state.history, default=_json_default))
        value = None if self.monitor is None else monitored_value(logs, self.monitor)
        improved = value is not None and (math.isnan(self.best_value) or (
            value < self.best_value if self.mode == "min" else value > self.best_value))
        if improved:
            self.best_value = float(value)
            self._best_value.assign(self.best_value)
            self._best_epoch.assign(state.epoch)
        if state.epoch % self.every == 0 or state.stop_training or state.epoch == state.epochs:
            self._latest.save(checkpoint_number=state.epoch)
            shutil.rmtree(self.directory / "partial", ignore_errors=True)  # behind the epoch just saved
        if improved:
            self._best.save(checkpoint_number=state.epoch)
            atomic_write_json(self.directory / "best.json", {"epoch": state.epoch, self.monitor: value})


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
            keys = checkpoint_keys(path)  # read once: the layout check and the count below
            _refuse_positional(path, keys)
            status = tf.train.Checkpoint(model=model).restore(path).expect_partial()
            try:
                status.assert_existing_objects_matched()
            except AssertionError as err:
                raise ValueError(f"restore_model: the checkpoint {path} does not match the model: "
                                 f"{str(err).splitlines()[0][:400]}") from None
            saved = {k for k in keys if k.startswith("model/")}
            have = named_variables(model, trainable_only=False)
            if len(saved) != len(have):
                raise ValueError(f"restore_model: the checkpoint {path} holds {len(saved)} model values but the model "
                                 f"has {len(have)} variables (a different architecture, or lazy layers not built yet: "
                                 "call the model on a batch first)")
            return path
    raise FileNotFoundError(f"restore_model: no checkpoint under {directory}/best or {directory}/latest")
