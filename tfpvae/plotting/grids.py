"""Image grids: a tiled array, its figure, samples of a model and reconstructions beside originals.

Images are mapped to the screen by an explicit ``value_range`` (``(0, 1)`` for decoder means of
data scaled to [0, 1], ``(0, 255)`` for 8-bit pixels); values outside it are clipped with a
warning and a note in the figure title (:func:`tfpvae.plotting.figures.to_display`), never
rescaled by a guess.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from tfpvae.plotting.figures import as_images, new_figure, save_figure, source_note, titled, to_display

__all__ = ["image_grid", "grid_figure", "sample_grid", "reconstruction_figure", "save_image_grid",
           "save_reconstructions", "model_image_shape"]

Range = tuple[float, float]


def _tile(arr: np.ndarray, ncols: int, pad: int) -> np.ndarray:
    n, h, w = arr.shape[:3]
    nrows = math.ceil(n / ncols)
    grid = np.ones((nrows * (h + pad) - pad, ncols * (w + pad) - pad, *arr.shape[3:]), np.float32)
    for i in range(n):
        r, c = divmod(i, ncols)
        grid[r * (h + pad): r * (h + pad) + h, c * (w + pad): c * (w + pad) + w] = arr[i]
    return grid


def image_grid(images, ncols: int | None = None, image_shape: Sequence[int] | None = None, pad: int = 1,
               value_range: Range = (0.0, 1.0)) -> np.ndarray:
    """Tile ``N`` images into ``[rows*(H+pad)-pad, cols*(W+pad)-pad(, 3)]`` in [0, 1], white gaps.

    Args:
      images: ``[N, H, W]``, ``[N, H, W, 1|3]`` or flat ``[N, D]`` (with ``image_shape``, or square).
      ncols: images per row; ``ceil(sqrt(N))`` by default.
      value_range: ``(lo, hi)`` mapped to black..white; values outside are clipped with a
        :class:`~tfpvae.plotting.figures.ClippedValuesWarning`.

    Example:
      >>> image_grid(np.full([4, 2, 2], 255.0), value_range=(0, 255)).tolist()[0]
      [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    arr, _ = to_display(as_images(images, image_shape), value_range)
    return _tile(arr, ncols or math.ceil(math.sqrt(len(arr))), pad)


def grid_figure(images, ncols: int | None = None, *, image_shape: Sequence[int] | None = None,
                value_range: Range = (0.0, 1.0), title: str | None = None, row_labels: Sequence[str] | None = None,
                col_labels: Sequence[str] | None = None, pixel_scale: float = 3.0, figsize: tuple | None = None,
                dpi: int = 100, ax=None, data_source: str | None = None):
    """A ``Figure`` of the tiled ``images`` (see :func:`image_grid`), optionally labelled.

    The default size gives each image pixel ``pixel_scale`` screen pixels, plus margins for the
    title and labels; ``figsize`` (inches) overrides it. Clipping notes are appended to the title.
    ``ax``: draw into this matplotlib ``Axes`` instead (e.g. a panel of a figure of several plots;
    the title becomes the Axes' title, ``figsize``/``pixel_scale``/``dpi`` are unused) and return its
    figure. Every grid plot (samples, reconstructions, manifold, traversal, interpolation,
    attribute strips) passes ``ax`` through to here, and ``data_source``: the ``DataArrays.source``
    of the data behind the picture; the data shipped in the package is named in the title
    (:func:`~tfpvae.plotting.figures.source_note`).
    """
    arr = as_images(images, image_shape)
    scaled, note = to_display(arr, value_range)
    ncols = ncols or math.ceil(math.sqrt(len(arr)))
    grid = _tile(scaled, ncols, 1)
    title = titled(titled(title, source_note(data_source)), note)
    if ax is None:
        top = 0.0 if not title else 0.2 + 0.18 * title.count("\n") + 0.15
        left = 0.0 if not row_labels else 0.12 + 0.07 * max(len(str(s)) for s in row_labels)
        bottom = 0.0 if not col_labels else 0.3
        if figsize is None:
            w_in, h_in = grid.shape[1] * pixel_scale / dpi, grid.shape[0] * pixel_scale / dpi
            figsize = (max(w_in + left + 0.05, 1.5), max(h_in + top + bottom + 0.05, 1.0))
        fig = new_figure(figsize, dpi)
        fw, fh = figsize
        width, height = max(fw - left - 0.05, 0.1), max(fh - top - bottom - 0.05, 0.1)
        ax = fig.add_axes([left / fw, bottom / fh, width / fw, height / fh])
        own = True
    else:
        fig, own = ax.figure, False
    ax.imshow(grid, cmap="gray" if grid.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
    h, w = arr.shape[1:3]
    ax.set_xticks([]), ax.set_yticks([])
    if row_labels is not None:
        ax.set_yticks([r * (h + 1) + h / 2 - 0.5 for r in range(len(row_labels))], [str(s) for s in row_labels],
                      fontsize=7)
    if col_labels is not None:
        ax.set_xticks([c * (w + 1) + w / 2 - 0.5 for c in range(len(col_labels))], [str(s) for s in col_labels],
                      fontsize=7)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    if title and own:
        fig.suptitle(title, fontsize=8, y=1.0 - 0.05 / fh, va="top")
    elif title:
        ax.set_title(title, fontsize=8)
    return fig


def model_image_shape(model) -> tuple[int, ...] | None:
    """The decoder's event shape when it is an image (``[H, W, C]``), else ``None`` (flat data)."""
    shape = getattr(getattr(model, "decoder", None), "event_shape", None)
    if shape is None:
        return None
    shape = tuple(int(d) for d in shape)
    return shape if len(shape) == 3 else None


def sample_grid(model, num: int = 100, *, seed=0, prior=None, ncols: int | None = 10,
                image_shape: Sequence[int] | None = None, value_range: Range = (0.0, 1.0), title: str | None = None,
                **kwargs):
    """Decoder means of ``num`` latent draws, ``model.decode(z).mean()`` with ``z ~ prior`` tiled.

    ``prior``: the sampling distribution; the model's own prior by default (``model.sample``), or
    e.g. :func:`tfpvae.latent.aggregate_posterior` (the sampling trick; the only way to sample an
    autoencoder). ``seed``: an int ``n`` (stateless ``[0, n]``) or a shape-[2] seed. Other keywords
    go to :func:`grid_figure`: e.g. ``ax=`` draws into an existing matplotlib ``Axes`` (samples of
    two models side by side) and returns its figure.
    """
    from tfpvae._seeds import as_seed

    if prior is None and not hasattr(model, "prior"):
        raise ValueError(f"sample_grid: {type(model).__name__} has no prior; pass prior=, e.g. "
                         "tfpvae.latent.aggregate_posterior(model, data)")
    z = (prior if prior is not None else model.prior).sample(num, seed=as_seed(seed))
    title = title or ("decoder means E[x|z], z ~ p(z)" if prior is None else
                      f"decoder means E[x|z], z ~ {getattr(prior, 'name', type(prior).__name__)}")
    return grid_figure(model.decode(z).mean(), ncols, image_shape=image_shape or model_image_shape(model),
                       value_range=value_range, title=title, **kwargs)


def _interleave(originals: np.ndarray, reconstructions: np.ndarray, ncols: int) -> tuple[np.ndarray, list[str]]:
    if len(originals) != len(reconstructions):
        raise ValueError(f"reconstructions: {len(originals)} originals but {len(reconstructions)} reconstructions")
    ncols = min(len(originals), ncols)
    n = (len(originals) // ncols) * ncols
    rows, labels = [], []
    for r in range(0, n, ncols):
        rows += [originals[r:r + ncols], reconstructions[r:r + ncols]]
        labels += ["data", "recon."]
    return np.concatenate(rows), labels


def reconstruction_figure(model, x, *, seed=0, ncols: int = 10, use_mean: bool = True,
                          image_shape: Sequence[int] | None = None, value_range: Range = (0.0, 1.0),
                          title: str | None = "data (odd rows) and reconstructions E[x|z] (even rows)", **kwargs):
    """Each row of ``x`` with its reconstruction below: the decoder mean at ``z ~ q(z|x)`` (one
    draw, ``seed``), or at the posterior mean when ``use_mean`` (less noisy; the base
    distribution's mean for a flow posterior, see :func:`tfpvae.latent.posterior_means`)."""
    from tfpvae._seeds import as_seed
    from tfpvae.latent import posterior_means

    z = posterior_means(model, x) if use_mean else model.encode(x).sample(seed=as_seed(seed))
    recon = model.decode(z).mean()
    shape = image_shape or model_image_shape(model)
    both, labels = _interleave(as_images(x, shape), as_images(recon, shape), ncols)
    return grid_figure(both, min(len(x), ncols), value_range=value_range, title=title, row_labels=labels, **kwargs)


def save_image_grid(path, images, ncols: int | None = None, image_shape: Sequence[int] | None = None,
                    title: str | None = None, scale: float = 0.35, value_range: Range = (0.0, 1.0),
                    data_source: str | None = None):
    """Write a PNG of :func:`grid_figure` atomically and return the figure (``scale``: kept for
    compatibility; ``pixel_scale = scale * 10``; ``data_source`` as in :func:`grid_figure`)."""
    fig = grid_figure(images, ncols, image_shape=image_shape, value_range=value_range, title=title,
                      pixel_scale=scale * 10, data_source=data_source)
    save_figure(fig, path)
    return fig


def save_reconstructions(path, originals, reconstructions, image_shape: Sequence[int] | None = None,
                         title: str | None = "originals (top) / reconstructions (bottom)",
                         value_range: Range = (0.0, 1.0), data_source: str | None = None):
    """Originals in the upper rows, their reconstructions in the same positions below; written
    atomically; returns the figure (``data_source`` as in :func:`grid_figure`)."""
    originals, reconstructions = as_images(originals, image_shape), as_images(reconstructions, image_shape)
    both, labels = _interleave(originals, reconstructions, 10)
    fig = grid_figure(both, min(len(originals), 10), value_range=value_range, title=title, row_labels=labels,
                      data_source=data_source)
    save_figure(fig, path)
    return fig
