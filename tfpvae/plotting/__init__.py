"""Plots from models and run directories. Every plot function returns a matplotlib ``Figure``
(no pyplot state); :func:`save_figure` writes one atomically."""

from tfpvae.plotting.animation import EpochImages, frame_paths, make_gif
from tfpvae.plotting.curves import training_curves
from tfpvae.plotting.figures import ClippedValuesWarning, pixel_size, save_figure, to_display
from tfpvae.plotting.grids import (grid_figure, image_grid, reconstruction_figure, sample_grid, save_image_grid,
                                   save_reconstructions)
from tfpvae.plotting.latent_plots import attribute_strips, interpolation, latent_manifold, latent_scatter, traversal
from tfpvae.plotting.kinds import PLOT_KINDS, plot_kind

__all__ = ["image_grid", "save_image_grid", "save_reconstructions", "grid_figure", "sample_grid",
           "reconstruction_figure", "latent_scatter", "latent_manifold", "traversal", "interpolation",
           "attribute_strips", "training_curves", "EpochImages", "make_gif", "frame_paths", "save_figure",
           "pixel_size", "to_display", "ClippedValuesWarning", "plot_kind", "PLOT_KINDS"]

from tfpvae.plotting.reliability import reliability_diagram, save_reliability_diagram  # noqa: E402
__all__ += ["reliability_diagram", "save_reliability_diagram"]
