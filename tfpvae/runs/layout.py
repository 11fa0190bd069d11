"""The layout of a run directory and the one schema of its ``metrics.json``.

``metrics.json`` is written after every epoch and at the end with the same keys: the run's record
(config, data source, objective, split sizes, strategy, replicas, precision), ``"status"``
(``"running"`` during training, ``"finished"`` after), ``"epochs"`` (one log per epoch, each with
``"skipped_batches"``), ``"final"`` (the last epoch's log), ``"resumed_from_epoch"``,
``"skipped_batches"`` (total) and ``"wall_seconds_this_invocation"``.
"""

from __future__ import annotations

import time
from pathlib import Path

from tfpvae.training.callbacks import Callback
from tfpvae.training.io import atomic_write_json

__all__ = ["RunDirectory", "RunRecord", "METRICS_KEYS"]

METRICS_KEYS = ("status", "epochs", "final", "resumed_from_epoch", "skipped_batches", "wall_seconds_this_invocation")


class RunDirectory:
    """Paths inside a run directory."""

    def __init__(self, path):
        self.path = Path(path)

    config_path = property(lambda self: self.path / "config.json")
    metrics_path = property(lambda self: self.path / "metrics.json")
    evaluation = property(lambda self: self.path / "evaluation.json")
    checkpoints = property(lambda self: self.path / "checkpoints")
    samples = property(lambda self: self.path / "samples.png")
    reconstructions = property(lambda self: self.path / "reconstructions.png")
    plots = property(lambda self: self.path / "plots")
    frames = property(lambda self: self.path / "frames")


class RunRecord(Callback):
    """Writes ``metrics.json`` (when ``path`` is given: the chief) in the one schema above."""

    def __init__(self, path, checkpoint, record: dict):
        self.path, self.checkpoint, self.record = (Path(path) if path else None), checkpoint, dict(record)
        self._start = time.perf_counter()

    def metrics(self, state, status: str = "running") -> dict:
        history = state.history
        return {**self.record, "status": status, "epochs": history, "final": history[-1] if history else None,
                "resumed_from_epoch": self.checkpoint.restored_epoch,
                "skipped_batches": sum(int(h.get("skipped_batches", 0)) for h in history),
                "wall_seconds_this_invocation": time.perf_counter() - self._start}

    def _write(self, state, status: str) -> None:
        if self.path is not None:
            atomic_write_json(self.path, self.metrics(state, status))

    def on_train_begin(self, state):
        self._start = time.perf_counter()

    def on_epoch_end(self, state, logs):
        self._write(state, "running")

    def on_train_end(self, state):
        self._write(state, "finished")
