"""Checkpoints: resume from the latest epoch, keep the best epoch by a validation metric.

Model and optimizer variables are saved as flat lists (the collected variables in their stable
order), so a checkpoint works however the model holds its variables (Keras 3, tf-keras,
``tf.Module``). The per-epoch history is written beside it, so a resumed run's metrics are whole.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import keras
import tensorflow as tf

from tfpvae.training.callbacks import Callback, monitored_value
from tfpvae.training.io import atomic_write_json

__all__ = ["Checkpoint", "restore_variables"]


def _storage(variables) -> list[tf.Variable]:
    return [v.value if isinstance(v, keras.Variable) else v for v in variables]


class Checkpoint(Callback):
    """Save ``directory/latest`` every ``every`` epochs and ``directory/best`` when ``monitor`` improves;
    on start, restore the latest checkpoint (model, optimizer state, epoch, history) if one exists.

    Args:
      directory: where checkpoints live; created if needed.
      monitor: metric path in the epoch logs, e.g. ``"validation/loss"``; ``None`` keeps no best.
      mode: ``"min"`` or ``"max"`` for ``monitor``.
      max_to_keep: latest checkpoints kept (older ones are deleted by ``tf.train.CheckpointManager``).
      restore: resume from the latest checkpoint at train begin.
    """

    def __init__(self, directory, monitor: str | None = "validation/loss", mode: str = "min", max_to_keep: int = 2,
                 every: int = 1, restore: bool = True):
        if mode not in ("min", "max"):
            raise ValueError(f"Checkpoint: mode must be 'min' or 'max', got {mode!r}")
        self.directory, self.monitor, self.mode = Path(directory), monitor, mode
        self.max_to_keep, self.every, self.restore = max_to_keep, every, restore
        self.restored_epoch = 0

    def on_train_begin(self, state):
        self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self._ckpt = tf.train.Checkpoint(model=_storage(state.variables), optimizer=_storage(state.optimizer.variables),
                                         epoch=self._epoch)
        self._latest = tf.train.CheckpointManager(self._ckpt, self.directory / "latest", self.max_to_keep)
        self._best = tf.train.CheckpointManager(self._ckpt, self.directory / "best", 1)
        self.best_value = self._read_best()
        if self.restore and self._latest.latest_checkpoint:
            self._ckpt.restore(self._latest.latest_checkpoint).assert_consumed()
            state.epoch = self.restored_epoch = int(self._epoch.numpy())
            history = self._read_json("history.json") or []
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

    def _read_json(self, name):
        path = self.directory / name
        return json.loads(path.read_text()) if path.exists() else None

    def _read_best(self) -> float:
        best = self._read_json("best.json")
        if best is not None and self.monitor in best:
            return float(best[self.monitor])
        return math.inf if self.mode == "min" else -math.inf


def restore_variables(directory, variables, which: str = "best") -> str:
    """Load model variables (not optimizer state) from ``directory/which`` (``"best"`` or ``"latest"``,
    falling back to the other when absent). Returns the checkpoint path used."""
    directory = Path(directory)
    order = [which, "latest" if which == "best" else "best"]
    for name in order:
        path = tf.train.latest_checkpoint(directory / name)
        if path:
            tf.train.Checkpoint(model=_storage(variables)).restore(path).expect_partial().assert_existing_objects_matched()
            return path
    raise FileNotFoundError(f"restore_variables: no checkpoint under {directory}/best or {directory}/latest")
