"""Optional conveniences layered on :func:`tfpvae.training.fit`: each is a small callback."""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from typing import Any

from tfpvae.training.io import atomic_write_json

__all__ = ["Callback", "ProgressBar", "EarlyStopping", "TimeLimit", "LambdaCallback", "JSONLogger", "GracefulStop",
           "ActiveUnitsLogger", "monitored_value"]


class Callback:
    """Hooks called by ``fit``; override what you need. ``state`` is the :class:`TrainingState`."""

    def on_train_begin(self, state) -> None: ...
    def on_epoch_begin(self, state) -> None: ...
    def on_batch_end(self, state, step: int, totals) -> None:
        """After every ``steps_per_execution`` steps; ``totals.means()`` gives the epoch's running
        term means (reading them waits for the device)."""
    def on_epoch_end(self, state, logs: dict) -> None: ...
    def on_interrupt(self, state, step: int, totals) -> None:
        """Training stops mid-epoch (``state.stop_now``) after ``step`` batches of epoch
        ``state.epoch + 1``; ``totals`` holds the partial epoch's sums. Then ``on_train_end``."""
    def on_train_end(self, state) -> None: ...


def monitored_value(logs: dict, monitor: str) -> float | None:
    """``logs["validation"]["loss"]`` for ``monitor="validation/loss"``; ``None`` on an epoch that
    skipped validation (``fit(validation_freq=...)``); a clear error if absent otherwise."""
    if logs.get("validated") is False and monitor.split("/")[0] not in logs:
        return None
    node: Any = logs
    for part in monitor.split("/"):
        if not isinstance(node, dict) or part not in node:
            raise KeyError(f"monitor {monitor!r} not in the epoch logs (train/validation keys: "
                           f"{sorted(logs.get('train', {}))}, {sorted(logs.get('validation', {}))})")
        node = node[part]
    return float(node)


class ProgressBar(Callback):
    """A tqdm bar per epoch -- steps done of the epoch's steps (known from the first epoch when
    ``steps_per_epoch`` is given), rate, time left and the running loss -- then one summary line per
    epoch. The loss is read at most every ``interval`` seconds (a read waits for the device)."""

    def __init__(self, stream=None, interval: float = 0.5, steps_per_epoch: int | None = None):
        self.stream, self.interval = stream or sys.stderr, interval
        self.steps_per_epoch = steps_per_epoch  # known before the first epoch ends, when the caller knows it
        self._bar: Any = None

    def on_epoch_begin(self, state):
        from tqdm.auto import tqdm

        self._close()
        self._bar = tqdm(total=state.steps_per_epoch or self.steps_per_epoch, desc=f"epoch {state.epoch + 1}/"
                         f"{state.epochs}", unit="step", file=self.stream, leave=False, mininterval=self.interval,
                         dynamic_ncols=True)
        self._last = 0.0

    def on_batch_end(self, state, step, totals):
        if self._bar is None:
            return
        self._bar.update(step - self._bar.n)  # `step` counts the epoch's batches, a resumed epoch's included
        now = time.perf_counter()
        if now - self._last >= self.interval:
            self._last = now
            self._bar.set_postfix(loss=f"{totals.means()['loss']:.4f}")

    def on_epoch_end(self, state, logs):
        self._close()
        parts = [f"train loss {logs['train']['loss']:.4f}"]
        for name, metrics in logs.items():
            if isinstance(metrics, dict) and name != "train":
                parts += [f"{name} {k} {v:.4f}" for k, v in metrics.items() if k != "loss" or "elbo" not in metrics]
        self.stream.write(f"epoch {logs['epoch']}/{state.epochs} {logs['seconds']:.1f}s "
                          f"({logs['examples_per_second']:.0f} ex/s) " + ", ".join(parts) + "\n")
        self.stream.flush()

    def on_interrupt(self, state, step, totals):
        self._close()

    def on_train_end(self, state):
        self._close()

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs (counting only
    the epochs that evaluated it)."""

    def __init__(self, monitor: str = "validation/loss", patience: int = 5, mode: str = "min", min_delta: float = 0.0):
        if mode not in ("min", "max"):
            raise ValueError(f"EarlyStopping: mode must be 'min' or 'max', got {mode!r}")
        self.monitor, self.patience, self.mode, self.min_delta = monitor, patience, mode, min_delta

    def on_train_begin(self, state):  # replays history so a resumed run keeps its patience count
        self.best, self.wait = math.inf if self.mode == "min" else -math.inf, 0
        for logs in state.history:
            self._update(logs)

    def _update(self, logs) -> None:
        value = monitored_value(logs, self.monitor)
        if value is None:
            return
        better = value < self.best - self.min_delta if self.mode == "min" else value > self.best + self.min_delta
        self.best, self.wait = (value, 0) if better else (self.best, self.wait + 1)

    def on_epoch_end(self, state, logs):
        self._update(logs)
        if self.wait >= self.patience:
            state.stop_training = True


class TimeLimit(Callback):
    """End training before it would run past ``seconds`` of wall time (counted from the start of this
    ``fit``, validation and callbacks included): after each epoch, stop if one more epoch as long as
    the longest so far would cross the limit. ``fraction()`` is the share of the budget used, e.g.
    for a learning rate that decays over the budget; ``stopped_epoch`` is set when the limit stops a run.
    """

    def __init__(self, seconds: float):
        if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):
            raise ValueError(f"TimeLimit: seconds must be a positive number, got {seconds!r}")
        self.seconds, self.stopped_epoch = float(seconds), None
        self._start = self._epoch_start = None
        self._longest = 0.0

    def fraction(self) -> float:
        return 0.0 if self._start is None else min((time.perf_counter() - self._start) / self.seconds, 1.0)

    def on_train_begin(self, state):
        self._start, self._longest, self.stopped_epoch = time.perf_counter(), 0.0, None

    def on_epoch_begin(self, state):
        self._epoch_start = time.perf_counter()

    def on_epoch_end(self, state, logs):
        now = time.perf_counter()
        self._longest = max(self._longest, now - self._epoch_start)
        if now - self._start + self._longest > self.seconds:
            state.stop_training, self.stopped_epoch = True, logs["epoch"]


class LambdaCallback(Callback):
    """Wrap plain functions, e.g. ``LambdaCallback(on_epoch_end=lambda state, logs: save_grid(...))``."""

    def __init__(self, on_epoch_end: Callable | None = None, on_train_begin: Callable | None = None,
                 on_train_end: Callable | None = None):
        self._fns = {"on_epoch_end": on_epoch_end, "on_train_begin": on_train_begin, "on_train_end": on_train_end}

    def on_train_begin(self, state):
        if self._fns["on_train_begin"]:
            self._fns["on_train_begin"](state)

    def on_epoch_end(self, state, logs):
        if self._fns["on_epoch_end"]:
            self._fns["on_epoch_end"](state, logs)

    def on_train_end(self, state):
        if self._fns["on_train_end"]:
            self._fns["on_train_end"](state)


class JSONLogger(Callback):
    """Write ``{"config": ..., "epochs": history, "final": last epoch}`` to ``path`` after every
    epoch, atomically (a crash leaves the previous file whole)."""

    def __init__(self, path, config: dict | None = None):
        self.path, self.config = path, dict(config or {})

    def on_epoch_end(self, state, logs):
        atomic_write_json(self.path, {"config": self.config, "epochs": state.history, "final": logs})


class GracefulStop(Callback):
    """Ctrl-C (SIGINT) or SIGTERM ends training after the current step (within ``fit``'s
    ``steps_per_execution`` steps), and the checkpoint callbacks save the partial epoch, from which
    a resumed run continues at the next batch; arriving during validation or the callbacks, it ends
    training after that epoch. A second signal interrupts at once (losing only the steps since the
    last save). On one worker of a multi-worker cluster the stop waits for the epoch's end.

    Only the main thread can install signal handlers; elsewhere this callback does nothing.
    """

    def __init__(self, stream=None):
        self.stream, self.requested, self._previous, self._state = stream or sys.stderr, False, {}, None

    def on_train_begin(self, state):
        import signal
        import threading

        self._state = state
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in (signal.SIGINT, signal.SIGTERM):
            self._previous[sig] = signal.signal(sig, self._handle)

    def _handle(self, signum, frame):
        import signal

        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        if self._state is not None:
            self._state.stop_now = True
        self.stream.write(f"\ntfpvae: {signal.Signals(signum).name} received: stopping after the current step and "
                          "saving (send it again to stop at once, losing the steps since the last save)\n")
        self.stream.flush()

    def on_epoch_end(self, state, logs):
        if self.requested:
            state.stop_training = True

    def on_train_end(self, state):
        import signal

        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous = {}


class ActiveUnitsLogger(Callback):
    """Log ``logs["active_units"]`` each epoch: the latent dimensions with ``Var_x E_q[z|x] > threshold``
    on ``data`` (Burda et al. 2015), and warn (``PosteriorCollapseWarning``) when fewer than
    ``min_active`` are active. Costs one encoder pass over ``data`` per epoch: give it a subset
    (e.g. 1,000 validation images). Put it before callbacks that save the logs.

    References: Burda, Grosse & Salakhutdinov (2016), Importance Weighted Autoencoders, section 5.2.
    """

    def __init__(self, data, threshold: float = 0.01, min_active: int = 1):
        self.data, self.threshold, self.min_active = data, threshold, min_active

    def on_epoch_end(self, state, logs):
        from tfpvae.evaluation import active_units, warn_if_collapsed

        units = active_units(state.model, self.data, self.threshold)
        logs["active_units"] = units.count
        warn_if_collapsed(units, min_active=self.min_active, epoch=logs["epoch"])
