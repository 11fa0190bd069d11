"""One entry point per plot kind, with the defaults a command line needs (``tfpvae plot RUN --kind K``).

``gif`` is not a figure: assemble the frames :class:`~tfpvae.plotting.EpochImages` wrote with
:func:`~tfpvae.plotting.make_gif`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tfpvae import latent
from tfpvae.plotting.curves import training_curves
from tfpvae.plotting.grids import reconstruction_figure, sample_grid
from tfpvae.plotting.latent_plots import attribute_strips, interpolation, latent_manifold, latent_scatter, traversal

__all__ = ["PLOT_KINDS", "plot_kind", "most_active_dimension"]

PLOT_KINDS = ("samples", "reconstructions", "scatter", "manifold", "traversal", "interpolation", "curves",
              "attributes")


def most_active_dimension(model, x) -> int:
    """The latent dimension whose posterior means vary most over ``x`` (``argmax_j Var_x E[z_j|x]``,
    the quantity behind active units)."""
    return int(np.argmax(np.var(np.asarray(latent.posterior_means(model, x)), axis=0)))


def plot_kind(kind: str, model, x=None, *, labels=None, metrics=None, attributes=None,
              attribute_names: Sequence[str] | None = None, seed=0, image_shape: Sequence[int] | None = None,
              value_range: tuple[float, float] = (0.0, 1.0), dim: int | None = None, data_source: str | None = None):
    """The ``kind`` figure of a trained model with command-line defaults.

    Args:
      kind: one of :data:`PLOT_KINDS`.
      model: a VAE (unused by ``"curves"``).
      x: data ``[N, ...]`` in the model's input scale (test images, shuffled: the first rows are used
        for reconstructions, traversals and interpolations; up to 5,000 for the scatter).
      labels: ``[N]`` ints colouring the scatter.
      metrics: a run's ``metrics.json`` dict or path, for ``"curves"``.
      attributes: bool ``[N, A]`` (or ``[N]``) attribute labels of ``x``, for ``"attributes"``.
      dim: the traversed dimension; the most active one (:func:`most_active_dimension`) by default.
      data_source: the ``DataArrays.source`` of ``x`` (of the run's data, for ``"curves"``: else read
        from metrics.json); the data shipped in the package is named in the title of every kind.
    """
    if kind not in PLOT_KINDS:
        raise ValueError(f"plot_kind: kind must be one of {', '.join(PLOT_KINDS)}, got {kind!r}")
    if kind == "curves":
        if metrics is None:
            raise ValueError("plot_kind: 'curves' needs metrics (a metrics.json dict or path)")
        return training_curves(metrics, data_source=data_source)
    common = {"image_shape": image_shape, "value_range": value_range, "data_source": data_source}
    if kind == "samples":
        return sample_grid(model, 100, seed=seed, ncols=10, **common)
    if kind == "manifold":
        return latent_manifold(model, **common)
    if x is None or len(x) < 8:
        raise ValueError(f"plot_kind: {kind!r} needs at least 8 data examples x, got {None if x is None else len(x)}")
    if kind == "reconstructions":
        return reconstruction_figure(model, x[:20], seed=seed, **common)
    if kind == "scatter":
        return latent_scatter(model, x[:5000], None if labels is None else np.asarray(labels)[:5000],
                              data_source=data_source)
    if kind == "traversal":
        dim = most_active_dimension(model, x[:1000]) if dim is None else dim
        return traversal(model, x[:6], dim, **common)
    if kind == "interpolation":
        return interpolation(model, x[:4], x[4:8], method="both", **common)
    if attributes is None:
        raise ValueError("plot_kind: 'attributes' needs attribute labels (bool [N, A]) for x")
    vectors = latent.attribute_vector(model, x, attributes)
    return attribute_strips(model, x[:2], vectors, names=attribute_names, **common)
