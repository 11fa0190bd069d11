"""Image grids: samples, reconstructions (originals above reconstructions)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["image_grid", "save_image_grid", "save_reconstructions"]


def _as_images(images, image_shape: Sequence[int] | None) -> np.ndarray:
    """``[N, H, W]`` or ``[N, H, W, C]`` float in [0, 1] (flat rows are reshaped to ``image_shape``)."""
    arr = np.asarray(images, dtype=np.float32)
    if image_shape is not None:
        arr = arr.reshape((arr.shape[0], *image_shape))
    if arr.ndim == 4 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (3, 4):
        raise ValueError(f"image_grid: images must be [N, H, W] or [N, H, W, C] (or flat with image_shape), got {arr.shape}")
    if arr.max(initial=0) > 1.0 + 1e-6:  # 8-bit intensities
        arr = arr / 255.0
    return np.clip(arr, 0.0, 1.0)


def image_grid(images, ncols: int | None = None, image_shape: Sequence[int] | None = None, pad: int = 1) -> np.ndarray:
    """Tile ``N`` images into one array ``[rows*(H+pad)-pad, cols*(W+pad)-pad(, C)]`` with white gaps."""
    arr = _as_images(images, image_shape)
    n, h, w = arr.shape[:3]
    ncols = ncols or math.ceil(math.sqrt(n))
    nrows = math.ceil(n / ncols)
    grid = np.ones((nrows * (h + pad) - pad, ncols * (w + pad) - pad, *arr.shape[3:]), np.float32)
    for i in range(n):
        r, c = divmod(i, ncols)
        grid[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = arr[i]
    return grid


def save_image_grid(path, images, ncols: int | None = None, image_shape: Sequence[int] | None = None,
                    title: str | None = None, scale: float = 0.35) -> None:
    """Write a PNG of :func:`image_grid` (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    grid = image_grid(images, ncols, image_shape)
    fig = plt.figure(figsize=(max(2.0, grid.shape[1] * scale / 10), max(2.0, grid.shape[0] * scale / 10 + (0.4 if title else 0))))
    ax = fig.add_axes([0, 0, 1, 0.92 if title else 1])
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0, vmax=1, interpolation="nearest")
    ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def save_reconstructions(path, originals, reconstructions, image_shape: Sequence[int] | None = None,
                         title: str | None = "originals (top) / reconstructions (bottom)") -> None:
    """Originals in the upper rows, their reconstructions in the same positions below."""
    originals, reconstructions = np.asarray(originals), np.asarray(reconstructions)
    if len(originals) != len(reconstructions):
        raise ValueError(f"save_reconstructions: {len(originals)} originals but {len(reconstructions)} reconstructions")
    ncols = min(len(originals), 10)
    n = (len(originals) // ncols) * ncols
    rows = []
    for r in range(0, n, ncols):
        rows += [originals[r:r + ncols], reconstructions[r:r + ncols]]
    both = np.concatenate([_as_images(x, image_shape) for x in rows])
    save_image_grid(path, both, ncols=ncols, title=title)
