"""A fixed set of latents decoded after every epoch (one PNG per epoch) and the animated GIF of
them, as the TensorFlow CVAE tutorial shows training progress.

Frames are named by epoch number (``epoch_0007.png``), so a resumed run overwrites the frames of the
epochs it repeats instead of adding duplicates, and :func:`make_gif` puts exactly one frame per
epoch in the GIF, in epoch order.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae.plotting.figures import save_figure
from tfpvae.plotting.grids import grid_figure, model_image_shape
from tfpvae.training.callbacks import Callback

__all__ = ["EpochImages", "make_gif", "frame_paths"]

_FRAME = re.compile(r"^epoch_(\d+)\.png$")


def frame_paths(frames_dir) -> list[Path]:
    """The ``epoch_N.png`` frames in ``frames_dir``, sorted by epoch number."""
    found = [(int(m.group(1)), p) for p in Path(frames_dir).iterdir() if (m := _FRAME.match(p.name))]
    return [p for _, p in sorted(found)]


class EpochImages(Callback):
    """After every epoch, decode the same ``latents`` and write ``directory/epoch_NNNN.png``.

    Args:
      directory: where the frames go (created).
      latents: ``[N, latent_dim]`` fixed latents, e.g. ``model.prior.sample(16, seed=...)``; held
        constant so the frames differ only by what training changed.
      model: a VAE; frames show ``model.decode(latents).mean()``. Or give ``decode_fn``.
      decode_fn: ``latents -> distribution`` (its ``.mean()`` is drawn) or ``-> images``.
      gif_path: if given, :func:`make_gif` assembles the frames there when training ends.
      fps: GIF frames per second.
      gif_scale: the GIF's frames are the PNG frames resized by this factor (``make_gif(scale=)``):
        below 1 for a smaller file, above 1 to enlarge them (nearest-neighbour, pixels stay sharp).
      value_range, image_shape, ncols: as in :func:`tfpvae.plotting.grid_figure`.
      pixel_scale: screen pixels per image pixel in the PNG frames.
      data_source: the ``DataArrays.source`` of the training data; the data shipped in the package
        is named in every frame's title.

    Example:
      >>> cb = EpochImages("frames", tf.zeros([4, 2]), decode_fn=lambda z: tf.zeros([4, 8, 8]))
      >>> cb.directory.name
      'frames'
    """

    def __init__(self, directory, latents, model=None, decode_fn: Callable | None = None, *, gif_path=None,
                 fps: float = 4.0, value_range: tuple[float, float] = (0.0, 1.0),
                 image_shape: Sequence[int] | None = None, ncols: int | None = None, pixel_scale: float = 3.0,
                 gif_scale: float = 1.0, data_source: str | None = None):
        if (model is None) == (decode_fn is None):
            raise ValueError("EpochImages: give exactly one of model and decode_fn")
        _check_positive("EpochImages", "gif_scale", gif_scale)
        _check_positive("EpochImages", "fps", fps)
        self.directory, self.gif_path, self.fps, self.gif_scale = Path(directory), gif_path, fps, float(gif_scale)
        self.latents = tf.constant(np.asarray(latents, np.float32))
        self.model, self.decode_fn = model, decode_fn
        self.value_range, self.ncols, self.pixel_scale = value_range, ncols, pixel_scale
        self.image_shape = image_shape if image_shape is not None else model_image_shape(model)
        self.data_source = data_source
        self._figsize = None

    def frame_path(self, epoch: int) -> Path:
        return self.directory / f"epoch_{epoch:04d}.png"

    def _images(self):
        out = self.model.decode(self.latents) if self.model is not None else self.decode_fn(self.latents)
        return out.mean() if isinstance(out, tfp.distributions.Distribution) else out

    def on_epoch_end(self, state, logs):
        epoch = int(logs["epoch"])
        fig = grid_figure(self._images(), self.ncols, image_shape=self.image_shape, value_range=self.value_range,
                          title=f"epoch {epoch}", pixel_scale=self.pixel_scale, figsize=self._figsize,
                          data_source=self.data_source)
        self._figsize = tuple(fig.get_size_inches())  # every frame the same size, as a GIF needs
        save_figure(fig, self.frame_path(epoch))

    def on_train_end(self, state):
        if self.gif_path is not None and frame_paths(self.directory):
            make_gif(self.directory, self.gif_path, self.fps, scale=self.gif_scale)


def _check_positive(component: str, name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) or not value > 0:
        raise ValueError(f"{component}: {name} must be a number > 0, got {value!r}")


def make_gif(frames_dir, path, fps: float = 4.0, *, loop: int = 0, scale: float = 1.0) -> Path:
    """Assemble the ``epoch_N.png`` frames of ``frames_dir`` into an animated GIF at ``path``, one
    frame per epoch in epoch order, written atomically. Returns ``path``.

    ``scale`` resizes every frame to ``round(scale * size)`` of the first frame: ``< 1`` shrinks them
    (Lanczos) for a smaller file, ``> 1`` enlarges them (nearest neighbour, so image pixels stay
    sharp squares). Frames of another size than the first are resized to the first's."""
    from PIL import Image

    from tfpvae.training.io import atomic_write_bytes

    _check_positive("make_gif", "scale", scale)
    _check_positive("make_gif", "fps", fps)
    paths = frame_paths(frames_dir)
    if not paths:
        raise ValueError(f"make_gif: no epoch_N.png frames in {frames_dir}")
    resample = Image.NEAREST if scale > 1 else Image.LANCZOS
    frames = []
    for p in paths:
        with Image.open(p) as im:
            frame = im.convert("RGB")
        size = frames[0].size if frames else (max(1, round(frame.width * scale)), max(1, round(frame.height * scale)))
        if frame.size != size:
            frame = frame.resize(size, resample)
        frames.append(frame)
    buffer = io.BytesIO()
    # Each frame carries its epoch in the title, so Pillow never merges two frames as identical.
    frames[0].save(buffer, format="GIF", save_all=True, append_images=frames[1:], duration=int(round(1000 / fps)),
                   loop=loop, disposal=2)
    atomic_write_bytes(path, buffer.getvalue())
    return Path(path)
