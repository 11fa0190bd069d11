"""What can be read back from a (decoded) sprite's pixels: centre of mass and size, shared by the
sprites, attribute-editing and traversal tests."""

from __future__ import annotations

import numpy as np


def sprite_measures(images, size: int) -> np.ndarray:
    """float64 ``[N, 3]``: centre of mass ``x`` (column) and ``y`` (row) in pixels, and ``sqrt`` of the
    mass (the side of a square of the same area, in pixels: grows with the scale factor) of images
    ``[N, size, size(, 1)]`` or flat ``[N, size * size]`` in [0, 1] (binary sprites or decoder means)."""
    im = np.asarray(images, np.float64).reshape(-1, size, size)
    grid = np.arange(size) + 0.5
    mass = im.sum((1, 2))
    return np.stack([(im * grid[None, None, :]).sum((1, 2)) / mass, (im * grid[None, :, None]).sum((1, 2)) / mass,
                     np.sqrt(mass)], axis=1)
