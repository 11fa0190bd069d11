"""Plots from models and run directories."""

from tfpvae.plotting.grids import image_grid, save_image_grid, save_reconstructions

__all__ = ["image_grid", "save_image_grid", "save_reconstructions"]
