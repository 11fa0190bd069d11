"""A TensorBoard callback: per-epoch scalars and a grid of decoded samples, written with ``tf.summary``.

TensorFlow 2.21 no longer installs TensorBoard, and ``tf.summary`` raises ``TBNotInstalledError``
without it: install the ``tensorboard`` package. It is imported only when the callback is built,
so ``import tfpvae`` does not pay for it.
"""

from __future__ import annotations

import importlib.util
import numbers
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfpvae.training.callbacks import Callback

__all__ = ["TensorBoard", "scalars_of"]


def scalars_of(logs: dict) -> dict[str, float]:
    """Every numeric entry of an epoch's logs as ``{tag: value}``: ``"train/elbo"``,
    ``"validation/loss"``, ... for the nested dicts, the top-level name (``"seconds"``,
    ``"examples_per_second"``, ...) otherwise; ``"epoch"`` (the step) and booleans are left out."""
    out = {}
    for name, value in logs.items():
        if isinstance(value, dict):
            out.update({f"{name}/{k}": float(v) for k, v in value.items()
                        if isinstance(v, numbers.Real) and not isinstance(v, bool)})
        elif name != "epoch" and isinstance(value, numbers.Real) and not isinstance(value, bool):
            out[name] = float(value)
    return out


class TensorBoard(Callback):
    """Log :func:`scalars_of` each epoch's logs at step ``epoch``, and decoder means of a fixed set of
    prior draws as one image grid (tag ``"samples"``).

    Args:
      log_dir: the event files' folder (``tensorboard --logdir LOG_DIR`` to view).
      model: the VAE to sample from; by default the model being trained (``state.model``). Models
        without a ``prior`` and ``decode`` (e.g. a regression net) get scalars only.
      num_images: prior draws decoded every ``image_every`` epochs (0: no images); the draws are
        fixed at the start of training (``seed``), so the grids show training progress.
      value_range, image_shape: as in :func:`tfpvae.plotting.image_grid`.
    """

    def __init__(self, log_dir, model=None, *, num_images: int = 16, image_every: int = 1, seed=0,
                 value_range: tuple[float, float] = (0.0, 1.0), image_shape: Sequence[int] | None = None):
        if importlib.util.find_spec("tensorboard") is None:
            raise ImportError("TensorBoard callback: the `tensorboard` package is not installed (TensorFlow 2.21 "
                              "no longer installs it): pip install tensorboard")
        self.log_dir, self.model, self.num_images, self.image_every = str(log_dir), model, num_images, image_every
        self.seed, self.value_range, self.image_shape = seed, value_range, image_shape
        self.writer, self._latents = None, None

    def on_train_begin(self, state):
        self.writer = tf.summary.create_file_writer(self.log_dir)
        model = self.model if self.model is not None else state.model
        self._model = model
        if self.num_images and hasattr(model, "prior") and hasattr(model, "decode"):
            from tfpvae._seeds import as_seed

            self._latents = model.prior.sample(self.num_images, seed=as_seed(self.seed))

    def _grid(self) -> np.ndarray:
        from tfpvae.plotting import image_grid
        from tfpvae.plotting.grids import model_image_shape

        means = self._model.decode(self._latents).mean()
        grid = image_grid(means, image_shape=self.image_shape or model_image_shape(self._model),
                          value_range=self.value_range)
        return grid[None, ..., None] if grid.ndim == 2 else grid[None]

    def on_epoch_end(self, state, logs):
        step = int(logs["epoch"])
        with self.writer.as_default(step=step):
            for tag, value in scalars_of(logs).items():
                tf.summary.scalar(tag, value)
            if self._latents is not None and step % self.image_every == 0:
                tf.summary.image("samples", self._grid(), description="decoder means for fixed z ~ p(z)")
        self.writer.flush()

    def on_train_end(self, state):
        if self.writer is not None:
            self.writer.close()
