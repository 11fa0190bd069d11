"""The layout of a run directory and the one schema of its ``metrics.json``.

``metrics.json`` is written after every epoch and at the end with the same keys: the run's record
(config, data source, objective, split sizes, strategy, replicas, precision), ``"status"``
(``"running"`` during training, ``"finished"`` after, ``"stopped"`` after Ctrl-C / SIGTERM),
``"epochs"`` (one log per epoch, each with ``"skipped_batches"``), ``"final"`` (the last epoch's
log), ``"resumed_from_epoch"``, ``"skipped_batches"`` (total) and ``"wall_seconds_this_invocation"``.
"""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

from tfpvae.training.callbacks import Callback
from tfpvae.training.io import atomic_write_json

__all__ = ["RunDirectory", "RunRecord", "RunLock", "METRICS_KEYS"]

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

    def __init__(self, path, checkpoint, record: dict, stop=None):
        self.path, self.checkpoint, self.record = (Path(path) if path else None), checkpoint, dict(record)
        self.stop = stop  # a GracefulStop: a run it ended is "stopped", not "finished"
        self._start = time.perf_counter()

    def final_status(self) -> str:
        return "stopped" if self.stop is not None and self.stop.requested else "finished"

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
        self._write(state, self.final_status())


class RunLock:
    """An output folder in use by one training at a time: ``RUN/.lock`` holds the owner's host and
    pid, created with ``O_EXCL``. A lock whose process is gone (a crashed run on this host) is taken
    over; a live one is refused with a message naming it."""

    def __init__(self, directory):
        self.path = Path(directory) / ".lock"
        self._held = False

    def __enter__(self) -> RunLock:
        me = f"{socket.gethostname()} {os.getpid()}"
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if self._owner_alive():
                    owner = self.path.read_text().strip()
                    raise ValueError(f"{self.path.parent} is in use by another training ({owner}); wait for it, "
                                     "or choose another --output") from None
                self.path.unlink(missing_ok=True)  # stale: its process is gone
                continue
            with os.fdopen(fd, "w") as f:
                f.write(me + "\n")
            self._held = True
            return self
        raise ValueError(f"{self.path.parent}: could not take the lock {self.path}")

    def _owner_alive(self) -> bool:
        try:
            host, pid = self.path.read_text().split()
        except (OSError, ValueError):
            return False  # unreadable or half-written: a crash while taking it
        if host != socket.gethostname():
            return True  # another machine's run: cannot tell, so do not take it over
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def __exit__(self, *exc) -> None:
        if self._held:
            self.path.unlink(missing_ok=True)
            self._held = False
