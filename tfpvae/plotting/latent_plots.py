"""Pictures of the latent space: the encoded-data scatter, the 2-D manifold, traversals,
interpolations and attribute-editing strips.

References:
  Kingma & Welling (2014), Auto-encoding variational Bayes, fig. 4 (the manifold through the
  Gaussian inverse CDF); White (2016), Sampling generative networks (slerp, attribute vectors).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfpvae import latent
from tfpvae.plotting.figures import as_images, new_figure, source_note, titled
from tfpvae.plotting.grids import grid_figure, model_image_shape

__all__ = ["latent_scatter", "latent_manifold", "traversal", "interpolation", "attribute_strips", "pca_2d"]

Range = tuple[float, float]


def pca_2d(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project ``z`` ``[N, d]`` on its first two principal axes (SVD of the centred data); returns
    ``(projection [N, 2], explained variance ratios [2])``."""
    centred = z - z.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    var = s**2
    return centred @ vt[:2].T, var[:2] / var.sum()


def latent_scatter(model, x, labels=None, *, title: str | None = None, figsize=(6.0, 5.0), dpi: int = 100,
                   batch_size: int = 1000, point_size: float = 2.0, ax=None, data_source: str | None = None):
    """Posterior means ``E_q[z|x]`` of ``x`` (an autoencoder's codes) as points coloured by
    ``labels`` ``[N]`` (ints).

    A 2-D latent is drawn as is; a larger one is projected on its first two principal components
    (:func:`pca_2d`), which the axis labels and title state with the variance they explain.
    ``ax``: draw into this matplotlib ``Axes`` (e.g. side by side with another model) and return
    its figure; otherwise a new ``figsize`` figure. ``data_source``: the ``DataArrays.source`` of
    ``x``; the data shipped in the package is named in the title.
    """
    z = np.concatenate([np.asarray(latent.posterior_means(model, xb)) for xb in latent._batches(x, batch_size)])
    if z.shape[1] == 1:
        z = np.concatenate([z, np.zeros_like(z)], 1)
    if z.shape[1] > 2:
        z, ratio = pca_2d(z)
        axes = [f"PC{i + 1} ({100 * r:.0f}% of variance)" for i, r in enumerate(ratio)]
        title = title or f"posterior means of {len(z)} examples, PCA projection of the {model.latent_dim}-D latent"
    else:
        axes = ["z1", "z2"]
        title = title or f"posterior means of {len(z)} examples (2-D latent)"
    own = ax is None
    fig = new_figure(figsize, dpi) if own else ax.figure
    ax = fig.add_subplot() if own else ax
    if labels is None:
        ax.scatter(z[:, 0], z[:, 1], s=point_size, c="k", alpha=0.5, linewidths=0)
    else:
        labels = np.asarray(labels)
        classes = np.unique(labels)
        import matplotlib

        cmap = matplotlib.colormaps["tab10" if len(classes) <= 10 else "tab20"]
        for i, c in enumerate(classes):
            sel = labels == c
            ax.scatter(z[sel, 0], z[sel, 1], s=point_size, color=cmap(i % cmap.N), label=str(c), linewidths=0)
        ax.legend(markerscale=4 / max(point_size, 0.1) * 2, fontsize=7, loc="best", title="label", title_fontsize=7)
    ax.set_xlabel(axes[0], fontsize=8), ax.set_ylabel(axes[1], fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(titled(title, source_note(data_source)), fontsize=9)
    if own:
        fig.tight_layout()
    return fig


def latent_manifold(model, *, num: int = 15, quantile_range: tuple[float, float] = (0.05, 0.95),
                    image_shape: Sequence[int] | None = None, value_range: Range = (0.0, 1.0), title: str | None = None,
                    **kwargs):
    """Decoder means on a ``num x num`` grid of a 2-D latent: ``z_j = Phi^{-1}(u_j)`` for ``u`` evenly
    spaced over ``quantile_range`` (equal prior mass between neighbours under ``N(0, I)``).
    Rows run from high ``z2`` (top) to low, columns from low ``z1`` to high."""
    if model.latent_dim != 2:
        raise ValueError(f"latent_manifold: needs a 2-D latent, the model's latent_dim is {model.latent_dim} "
                         "(use traversal() or latent_scatter() for larger latents)")
    u = np.linspace(*quantile_range, num)
    values = np.asarray(tf.math.ndtri(tf.constant(u, tf.float64)), np.float32)
    z1, z2 = np.meshgrid(values, values[::-1])
    z = np.stack([z1.ravel(), z2.ravel()], 1)
    means = model.decode(z).mean()
    title = title or (f"decoder means over z = Phi^-1(u), u in [{quantile_range[0]:g}, {quantile_range[1]:g}]; "
                      "z1 grows left to right, z2 bottom to top")
    return grid_figure(means, num, image_shape=image_shape or model_image_shape(model), value_range=value_range,
                       title=title, **kwargs)


def traversal(model, x, dim: int, *, values=None, show_input: bool = True, value_range: Range = (0.0, 1.0),
              image_shape: Sequence[int] | None = None, title: str | None = None, **kwargs):
    """Rows: the examples ``x``; columns: their posterior mean with latent ``dim`` set to each of
    ``values`` (default ``linspace(-3, 3, 9)``), decoded to means; with ``show_input`` the first
    column is ``x`` itself."""
    if not 0 <= dim < model.latent_dim:
        raise ValueError(f"traversal: dim must be in [0, {model.latent_dim}), got {dim}")
    values = np.linspace(-3.0, 3.0, 9) if values is None else np.asarray(values, np.float32)
    means = np.asarray(latent.traverse(model, x, dim, values).mean())  # [V, N, ...]
    n = means.shape[1]
    shape = image_shape or model_image_shape(model)
    tiles = as_images(np.swapaxes(means, 0, 1).reshape(n * len(values), -1), shape).reshape(n, len(values), -1)
    labels = [f"{v:.2g}" for v in values]
    if show_input:
        inputs = as_images(x, shape).reshape(n, 1, -1)
        tiles, labels = np.concatenate([inputs, tiles], 1), ["input"] + labels
    size = as_images(x[:1], shape).shape[1:]
    return grid_figure(tiles.reshape(-1, *size), len(labels), value_range=value_range, col_labels=labels,
                       title=title or f"traversal of latent dimension {dim} (columns: its value)", **kwargs)


def interpolation(model, x_a, x_b, *, num: int = 10, method: str = "slerp", value_range: Range = (0.0, 1.0),
                  image_shape: Sequence[int] | None = None, title: str | None = None, **kwargs):
    """Decoded path between the posterior means of ``x_a`` and ``x_b`` (``[N, ...]`` each, one row per
    pair, inputs at both ends): ``method`` ``"linear"``, ``"slerp"`` or ``"both"`` (rows alternate)."""
    if method not in ("linear", "slerp", "both"):
        raise ValueError(f"interpolation: method must be 'linear', 'slerp' or 'both', got {method!r}")
    za, zb = latent.posterior_means(model, x_a), latent.posterior_means(model, x_b)
    t = np.linspace(0.0, 1.0, num)
    methods = ["linear", "slerp"] if method == "both" else [method]
    shape = image_shape or model_image_shape(model)
    xa, xb = as_images(x_a, shape), as_images(x_b, shape)
    rows, labels = [], []
    for i in range(len(xa)):
        for m in methods:
            path = (latent.slerp if m == "slerp" else latent.lerp)(za[i], zb[i], t)  # [T, d]
            rows += [xa[i:i + 1], as_images(model.decode(path).mean(), shape), xb[i:i + 1]]
            labels.append(m)
    return grid_figure(np.concatenate(rows), num + 2, value_range=value_range, row_labels=labels,
                       col_labels=["x_a"] + [f"{v:.2f}" for v in t] + ["x_b"],
                       title=title or f"{'linear and spherical' if method == 'both' else method} interpolation between "
                       "posterior means (columns: t)", **kwargs)


def attribute_strips(model, x, vectors, *, k: float = 3.0, num: int = 7, names: Sequence[str] | None = None,
                     value_range: Range = (0.0, 1.0), image_shape: Sequence[int] | None = None,
                     title: str | None = None, **kwargs):
    """For each attribute vector (``[d]`` or ``[A, d]``, see :func:`tfpvae.latent.attribute_vector`)
    and each example of ``x``, a row of edits with magnitudes ``linspace(-k, k, num)``."""
    v = np.asarray(vectors, np.float32)
    v = v[None] if v.ndim == 1 else v
    names = list(names) if names is not None else [f"attr {a}" for a in range(len(v))]
    mags = np.linspace(-k, k, num)
    shape = image_shape or model_image_shape(model)
    rows, labels = [], []
    for a in range(len(v)):
        means = np.asarray(latent.edit(model, x, v[a], mags).mean())  # [K, N, ...]
        rows.append(np.swapaxes(means, 0, 1).reshape(-1, *means.shape[2:]))  # row per example
        labels += [names[a]] * means.shape[1]
    return grid_figure(as_images(np.concatenate(rows), shape), num, value_range=value_range, row_labels=labels,
                       col_labels=[f"{m:+.2g}" for m in mags],
                       title=title or "attribute edits z + m v (columns: magnitude m)", **kwargs)
