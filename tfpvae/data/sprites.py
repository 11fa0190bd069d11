"""Procedural 2-D sprites with known generative factors, like dSprites (Matthey et al. 2017).

Every image shows one white shape on black, drawn from five independent factors on the dSprites
grid: shape (square, ellipse, heart), scale (6 values in [0.5, 1]), orientation (40 angles in
[0, 2 pi)), and x, y position (32 values each in [0, 1]). Images are generated in code, so the set
needs no download and is identical for a given ``seed`` on every machine; the factors are the labels
for latent traversals and attribute editing.

Geometry (pixel units, pixel ``(i, j)`` has centre ``(j + 0.5, i + 0.5)``): the sprite's centre is
``centre = margin + position * (size - 2 margin)`` on each axis, its half-size ``r = 0.16 * size *
scale``, and ``margin = ceil(1.5 * r_max) + 1`` keeps every rotated shape inside the frame. Each
shape is centred on its area centroid (the heart's is shifted to it), so the rendered centre of mass
equals ``centre`` up to pixelisation.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import numpy as np

__all__ = ["Sprites", "sprites", "sprites_arrays", "render_sprites", "SPRITES_SPLIT", "centre_pixels", "FACTOR_NAMES",
           "SHAPES", "SCALES", "ORIENTATIONS", "POSITIONS"]

FACTOR_NAMES = ("shape", "scale", "orientation", "x", "y")
SHAPES = ("square", "ellipse", "heart")
SCALES = np.linspace(0.5, 1.0, 6)
ORIENTATIONS = np.linspace(0.0, 2 * np.pi, 40, endpoint=False)
POSITIONS = np.linspace(0.0, 1.0, 32)
_HALF_SIZE = 0.16  # r = _HALF_SIZE * size * scale
_EXTENT = 1.5  # furthest point of any shape from its centroid, in units of r (square: sqrt 2)


@dataclasses.dataclass(frozen=True, repr=False)
class Sprites:
    """Images and their factors.

    Attributes:
      images: uint8 ``[N, size, size, 1]``, values {0, 1}.
      factors: ``{"shape": int64 [N] (index into SHAPES), "scale": float32 [N], "orientation":
        float32 [N] (radians), "x": float32 [N], "y": float32 [N]}`` (positions in [0, 1]).
      size: image height and width.
    """

    images: np.ndarray
    factors: dict
    size: int

    @property
    def factor_array(self) -> np.ndarray:
        """float32 ``[N, 5]``, columns in :data:`FACTOR_NAMES` order."""
        return np.stack([self.factors[k].astype(np.float32) for k in FACTOR_NAMES], axis=1)

    def __len__(self) -> int:
        return len(self.images)

    def __repr__(self) -> str:
        return f"Sprites(images=uint8{list(self.images.shape)}, factors={list(self.factors)})"


def _margin(size: int) -> float:
    return math.ceil(_EXTENT * _HALF_SIZE * size * SCALES.max()) + 1.0


def centre_pixels(position, size: int) -> np.ndarray:
    """Pixel coordinate of the sprite centre for ``position`` in [0, 1] (x: column, y: row axis)."""
    margin = _margin(size)
    return margin + np.asarray(position, np.float64) * (size - 2 * margin)


def _heart(u, v):
    """Inside the heart curve ``(a^2 + b^2 - 1)^3 <= a^2 b^3`` with ``b`` pointing up (image v down)."""
    a, b = u, -(v + _heart_centroid())
    return (a * a + b * b - 1.0) ** 3 - a * a * b ** 3 <= 0.0


@functools.cache
def _heart_centroid() -> float:
    """The downward offset (in r units) that puts the heart's area centroid at the origin."""
    t = np.linspace(-2.0, 2.0, 2001)
    a, b = np.meshgrid(t, -t)  # rows: v = t, b up
    inside = (a * a + b * b - 1.0) ** 3 - a * a * b ** 3 <= 0.0
    return float(np.broadcast_to(t[:, None], inside.shape)[inside].mean())


_SHAPE_TESTS = (lambda u, v: np.maximum(np.abs(u), np.abs(v)) <= 1.0,  # square, half-side r
                lambda u, v: u * u + 4.0 * v * v <= 1.44,  # ellipse, semi-axes 1.2 r and 0.6 r
                _heart)


def render_sprites(shape, scale, orientation, x, y, size: int = 64, chunk: int = 512) -> np.ndarray:
    """Draws sprites from factor arrays (each ``[N]``); returns uint8 ``[N, size, size, 1]`` in {0, 1}."""
    shape, scale, orientation, x, y = (np.asarray(a) for a in (shape, scale, orientation, x, y))
    n = shape.shape[0]
    grid = np.arange(size, dtype=np.float32) + 0.5
    out = np.empty((n, size, size, 1), np.uint8)
    for s in range(0, n, chunk):
        sl = slice(s, s + chunk)
        cx = centre_pixels(x[sl], size).astype(np.float32)[:, None, None]
        cy = centre_pixels(y[sl], size).astype(np.float32)[:, None, None]
        r = (_HALF_SIZE * size * scale[sl]).astype(np.float32)[:, None, None]
        cos, sin = (np.cos(orientation[sl]).astype(np.float32)[:, None, None],
                    np.sin(orientation[sl]).astype(np.float32)[:, None, None])
        dx, dy = grid[None, None, :] - cx, grid[None, :, None] - cy
        u, v = (cos * dx + sin * dy) / r, (-sin * dx + cos * dy) / r  # rotate the frame by -orientation
        block = np.zeros(u.shape, bool)
        for k, inside in enumerate(_SHAPE_TESTS):
            m = shape[sl] == k
            if m.any():
                block[m] = inside(u[m], v[m])
        out[sl, ..., 0] = block
    return out


def sprites(num: int = 10_000, size: int = 64, seed: int = 0) -> Sprites:
    """``num`` sprites with factors drawn uniformly from the dSprites grid; deterministic by ``seed``.

    Args:
      num: number of images.
      size: 64 (dSprites' size) or any size >= 16, e.g. 32.
      seed: NumPy seed of the factor draws.

    Returns:
      :class:`Sprites` (images uint8 ``[num, size, size, 1]`` in {0, 1} and the factors).

    Example:
      >>> s = sprites(4, size=32, seed=1)
      >>> s.images.shape, s.images.dtype.name, sorted(s.factors)
      ((4, 32, 32, 1), 'uint8', ['orientation', 'scale', 'shape', 'x', 'y'])

    References:
      Matthey, Higgins, Hassabis & Lerchner (2017), dSprites: Disentanglement testing Sprites
      dataset; Higgins et al. (2017), beta-VAE, ICLR.
    """
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < 0:
        raise ValueError(f"sprites: num must be a non-negative int, got {num!r}")
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16:
        raise ValueError(f"sprites: size must be an int >= 16, got {size!r}")
    rng = np.random.default_rng(seed)
    idx = {k: rng.integers(0, len(v), num) for k, v in
           (("shape", SHAPES), ("scale", SCALES), ("orientation", ORIENTATIONS), ("x", POSITIONS), ("y", POSITIONS))}
    factors = {"shape": idx["shape"].astype(np.int64), "scale": SCALES[idx["scale"]].astype(np.float32),
               "orientation": ORIENTATIONS[idx["orientation"]].astype(np.float32),
               "x": POSITIONS[idx["x"]].astype(np.float32), "y": POSITIONS[idx["y"]].astype(np.float32)}
    images = render_sprites(factors["shape"], factors["scale"], factors["orientation"], factors["x"], factors["y"],
                            size)
    return Sprites(images, factors, int(size))


SPRITES_SPLIT = (20_000, 2_000)  # train, test images of the registered "sprites" dataset


@functools.lru_cache(maxsize=4)
def sprites_arrays(num_train: int = SPRITES_SPLIT[0], num_test: int = SPRITES_SPLIT[1], size: int = 64, seed: int = 0):
    """The ``"sprites"`` dataset as :class:`~tfpvae.data.DataArrays` (what ``load_arrays("sprites")``
    returns): train drawn with ``seed``, test with ``seed + 1``; labels are the shape index and
    ``train_attributes``/``test_attributes`` hold all five factors. Cached per process (the default
    20,000 + 2,000 images at 64 x 64 take ~4 s to draw); treat the arrays as read-only.
    """
    from tfpvae.data.info import DataArrays  # pylint: disable=g-import-not-at-top

    train, test = sprites(num_train, size, seed), sprites(num_test, size, seed + 1)
    for a in (train.images, test.images):
        a.setflags(write=False)
    return DataArrays("sprites", train.images, test.images, train.factors["shape"], test.factors["shape"],
                      source=f"generated: tfpvae.data.sprites (seed {seed}; test seed {seed + 1})",
                      event_shape=(size, size, 1), train_attributes=train.factors, test_attributes=test.factors)
