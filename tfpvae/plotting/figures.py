"""Figures without pyplot, atomic saving, and images scaled by an explicit value range.

Every plot function of :mod:`tfpvae.plotting` returns a ``matplotlib.figure.Figure`` built here
(no global pyplot state, so nothing leaks between plots and any backend or thread works) and
:func:`save_figure` writes it. A figure's pixel size is exactly ``figsize * dpi``: nothing is cropped
(``bbox_inches`` is never "tight"), so tests and documents can rely on it.
"""

from __future__ import annotations

import io
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["new_figure", "save_figure", "pixel_size", "to_display", "as_images", "ClippedValuesWarning", "source_note"]


class ClippedValuesWarning(UserWarning):
    """Image values fell outside the displayable ``value_range`` and were clipped."""


def new_figure(figsize: tuple[float, float], dpi: int = 100):
    """A ``Figure`` of ``figsize`` inches at ``dpi`` (pixel size ``round(figsize * dpi)``) on its own
    Agg canvas (``fig.canvas.draw()`` and ``get_renderer()`` work without pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize, dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def pixel_size(fig) -> tuple[int, int]:
    """``(width, height)`` in pixels of the PNG :func:`save_figure` writes for ``fig``."""
    w, h = fig.get_size_inches() * fig.dpi
    return int(round(w)), int(round(h))


def save_figure(fig, path) -> Path:
    """Write ``fig`` to ``path`` (format from the suffix, e.g. ``.png``) atomically: a temporary file
    in the same folder, then ``os.replace``, so a reader never sees half a file. Parent folders are
    created. Returns the path."""
    from tfpvae.training.io import atomic_write_bytes

    path = Path(path)
    fmt = path.suffix.lstrip(".").lower() or "png"
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=fig.dpi)
    atomic_write_bytes(path, buffer.getvalue())
    return path


def _infer_shape(size: int) -> tuple[int, ...] | None:
    for channels in (1, 3):
        side = math.isqrt(size // channels)
        if size % channels == 0 and side * side * channels == size:
            return (side, side) if channels == 1 else (side, side, 3)
    return None


def as_images(images, image_shape: Sequence[int] | None = None) -> np.ndarray:
    """``[N, H, W]`` (grey) or ``[N, H, W, 3]`` float32 from ``[N, H, W(, 1|3)]`` or flat ``[N, D]``.

    Flat rows are reshaped to ``image_shape``; without it a square grey (``D = s*s``) or colour
    (``D = 3*s*s``) image is assumed, and any other ``D`` is an error naming ``image_shape``.
    """
    arr = np.asarray(images, dtype=np.float32)
    if image_shape is not None:
        arr = arr.reshape((arr.shape[0], *tuple(int(d) for d in image_shape)))
    elif arr.ndim == 2:
        shape = _infer_shape(arr.shape[1])
        if shape is None:
            raise ValueError(f"plotting: flat images of size {arr.shape[1]} are not square; "
                             "pass image_shape=(H, W[, C])")
        arr = arr.reshape((arr.shape[0], *shape))
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4) or (arr.ndim == 4 and arr.shape[-1] != 3):
        raise ValueError(f"plotting: images must be [N, H, W], [N, H, W, 1|3] or flat [N, D] with image_shape, "
                         f"got shape {arr.shape}")
    return arr


def to_display(images, value_range: tuple[float, float] = (0.0, 1.0), *, warn: bool = True,
               what: str = "images") -> tuple[np.ndarray, str | None]:
    """Map ``images`` from ``value_range = (lo, hi)`` to ``[0, 1]``: ``(x - lo) / (hi - lo)``.

    Values outside the range are clipped, never rescaled by a guess (a decoder mean of 1.02 must not
    turn a whole grid dark). Returns ``(scaled, note)``; ``note`` is ``None`` or a short sentence
    saying how many values were clipped, which the figure functions put in their titles. With
    ``warn`` a :class:`ClippedValuesWarning` carries the same sentence. Non-finite values are an error.

    Example:
      >>> x, note = to_display([[0.0, 127.5, 255.0]], (0, 255))
      >>> x.tolist(), note
      ([[0.0, 0.5, 1.0]], None)
    """
    lo, hi = (float(v) for v in value_range)
    if not hi > lo:
        raise ValueError(f"plotting: value_range must be (low, high) with high > low, got {value_range!r}")
    arr = np.asarray(images, dtype=np.float32)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"plotting: {what} contain {int(np.sum(~np.isfinite(arr)))} non-finite values")
    scaled = (arr - lo) / (hi - lo)
    outside = (scaled < 0.0) | (scaled > 1.0)
    note = None
    if outside.any():
        note = (f"{int(outside.sum())} of {arr.size} values ({100.0 * outside.mean():.2g}%) outside "
                f"[{lo:g}, {hi:g}] (min {arr.min():.3g}, max {arr.max():.3g}) clipped")
        if warn:
            warnings.warn(f"plotting: {what}: {note}", ClippedValuesWarning, stacklevel=3)
    return np.clip(scaled, 0.0, 1.0), note


def titled(title: str | None, note: str | None) -> str | None:
    """``title`` with the clipping ``note`` appended on its own line."""
    if note is None:
        return title
    return f"{title}\n[{note}]" if title else f"[{note}]"


def source_note(data_source: str | None) -> str | None:
    """The note a plot's title carries about its data: ``"data: tfpvae's embedded <what>"`` when
    ``data_source`` (``DataArrays.source``) is the data shipped in the package, so a picture made
    from the small sample never passes for the full dataset; ``None`` for any other source (a
    data folder, tfds, generated sprites), which the title leaves to the caller.

    Example:
      >>> source_note("embedded: SMALL MNIST sample (3000 train / 1000 test, ...)")
      "data: tfpvae's embedded SMALL MNIST sample"
      >>> source_note("local:/data/mnist") is None
      True
    """
    if not data_source or not str(data_source).startswith("embedded"):
        return None
    what = str(data_source).split(":", 1)[-1].split(" (", 1)[0].strip()
    return f"data: tfpvae's embedded {what}" if what else "data: embedded in tfpvae"
