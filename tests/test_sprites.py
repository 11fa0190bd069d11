"""Procedural sprites: deterministic by seed, and the factors describe what is drawn (position = centre
of mass, scale = area, orientation = principal axis)."""

import numpy as np
import pytest

from tfpvae import data
from tfpvae.data.sprites import SHAPES, centre_pixels, render_sprites, sprites


def centroids(images):
    im = images[..., 0].astype(np.float64)
    grid = np.arange(im.shape[1]) + 0.5
    mass = im.sum((1, 2))
    return (im * grid[None, None, :]).sum((1, 2)) / mass, (im * grid[None, :, None]).sum((1, 2)) / mass


def test_deterministic_by_seed():
    a, b, c = sprites(40, size=32, seed=3), sprites(40, size=32, seed=3), sprites(40, size=32, seed=4)
    np.testing.assert_array_equal(a.images, b.images)
    for k in a.factors:
        np.testing.assert_array_equal(a.factors[k], b.factors[k])
    assert not np.array_equal(a.images, c.images)
    assert a.images.dtype == np.uint8 and set(np.unique(a.images)) <= {0, 1} and a.factor_array.shape == (40, 5)


@pytest.mark.parametrize("size, tol", [(64, 0.6), (32, 0.6)])
def test_centre_of_mass_follows_the_position_factors(size, tol):
    s = sprites(600, size=size, seed=0)
    cx, cy = centroids(s.images)
    # every shape is centred on its centroid: measured centre of mass within `tol` px of the factor's
    # pixel position (pixelisation error; measured max 0.41 px at 64)
    np.testing.assert_allclose(cx, centre_pixels(s.factors["x"], size), atol=tol)
    np.testing.assert_allclose(cy, centre_pixels(s.factors["y"], size), atol=tol)
    assert np.all(np.diff(centre_pixels([0.0, 0.5, 1.0], size)) > 0)  # x factor up = further right
    border = s.images[:, 0].sum() + s.images[:, -1].sum() + s.images[:, :, 0].sum() + s.images[:, :, -1].sum()
    assert border == 0 and np.all(s.images.sum((1, 2, 3)) > 0)
    assert set(np.unique(s.factors["shape"])) == {0, 1, 2} and len(SHAPES) == 3


def test_scale_and_orientation_factors_are_drawn():
    s = sprites(600, size=64, seed=1)
    r = 0.16 * 64 * s.factors["scale"]
    area = s.images.sum((1, 2, 3))
    square, ellipse = s.factors["shape"] == 0, s.factors["shape"] == 1
    np.testing.assert_allclose(area[square] / r[square] ** 2, 4.0, rtol=0.12)  # side 2r
    np.testing.assert_allclose(area[ellipse] / r[ellipse] ** 2, np.pi * 1.2 * 0.6, rtol=0.15)  # semi-axes 1.2r, 0.6r
    # the ellipse's long axis points along the orientation (mod pi), measured from pixel moments
    cx, cy = centroids(s.images)
    errors = []
    for i in np.where(ellipse)[0]:
        ys, xs = np.nonzero(s.images[i, ..., 0])
        d = np.stack([xs + 0.5 - cx[i], ys + 0.5 - cy[i]])
        w, v = np.linalg.eigh(d @ d.T)
        angle = np.arctan2(v[1, -1], v[0, -1]) % np.pi
        err = abs(angle - s.factors["orientation"][i] % np.pi)
        errors.append(min(err, np.pi - err))
    assert np.degrees(max(errors)) < 8.0, np.degrees(max(errors))


def test_registered_as_a_dataset_with_factors_as_attributes():
    arrays = data.load_arrays("sprites")
    assert arrays.train.shape == (20_000, 64, 64, 1) and arrays.test.shape == (2_000, 64, 64, 1)
    assert arrays.binary and arrays.source.startswith("generated")
    assert sorted(arrays.train_attributes) == sorted(data.FACTOR_NAMES)
    np.testing.assert_array_equal(arrays.train_labels, arrays.train_attributes["shape"])
    assert data.load_arrays("sprites") is arrays  # generated once per process
    f = {k: v[:5] for k, v in arrays.train_attributes.items()}  # the attributes redraw the images exactly
    np.testing.assert_array_equal(render_sprites(f["shape"], f["scale"], f["orientation"], f["x"], f["y"]),
                                  arrays.train[:5])
    x = next(iter(data.make_dataset(arrays.test, batch_size=8, shuffle=False)))
    assert x.shape == (8, 64, 64, 1) and float(x.numpy().max()) == 1.0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="sprites: size must be an int >= 16"):
        sprites(3, size=8)
    with pytest.raises(ValueError, match="sprites: num must be a non-negative int"):
        sprites(-1)
