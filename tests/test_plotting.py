"""Plots: value ranges and clipping (never silently black), pixel sizes of every plot kind, the
manifold/traversal layouts, curves from logs, and one GIF frame per epoch of a real fit."""

import os
import warnings

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp
from PIL import Image

import tfpvae
from tfpvae import plotting as P
from tfpvae.data import make_dataset

tfd = tfp.distributions


class GaussianImageDecoder(tf.Module):
    """p(x|z) = N(0.5 + 0.6 tanh(z W), 0.1): 8x8 images whose means span about [-0.1, 1.1]."""

    def __init__(self, latent_dim=2):
        self.W = tf.constant(np.random.default_rng(0).normal(size=(latent_dim, 64)) * 3, tf.float32)
        self.event_shape = tf.TensorShape([8, 8, 1])

    def __call__(self, z):
        loc = 0.5 + 0.6 * tf.tanh(tf.matmul(z, self.W))
        return tfd.Independent(tfd.Normal(tf.reshape(loc, [-1, 8, 8, 1]), 0.1), 3)


class CodeDecoder(tf.Module):
    """The 'image' of z is [[Phi(z1), Phi(z2)], [0, 1]]: pixels reveal which latent was decoded."""

    event_shape = tf.TensorShape([2, 2, 1])

    def __call__(self, z):
        u = tfd.Normal(0.0, 1.0).cdf(z)
        img = tf.concat([u, tf.zeros_like(u[:, :1]), tf.ones_like(u[:, :1])], 1)
        return tfd.Independent(tfd.Deterministic(tf.reshape(img, [-1, 2, 2, 1])), 3)


class IdentityEncoder(tf.Module):
    """q(z|x) = N(first two values of x, I)."""

    def __call__(self, x):
        return tfd.MultivariateNormalDiag(tf.reshape(x, [tf.shape(x)[0], -1])[:, :2], tf.ones([2]))


def _png_size(path):
    with Image.open(path) as im:
        return im.size


def _image_of(fig):
    return np.asarray(fig.axes[0].images[0].get_array())


@pytest.fixture(scope="module")
def tiny():
    return tfpvae.mlp_vae((64,), latent_dim=2, hidden=(8,))


@pytest.fixture(scope="module")
def x64():
    return (np.random.default_rng(1).random((12, 64)) < 0.4).astype(np.float32)


def test_unit_range_is_drawn_as_is_and_8bit_is_divided_by_255():
    x = np.random.default_rng(0).random((4, 3, 3)).astype(np.float32)
    grid = P.image_grid(x, ncols=2, value_range=(0, 1))
    np.testing.assert_allclose(grid[:3, :3], x[0]), np.testing.assert_allclose(grid[4:, 4:], x[3])
    assert np.all(grid[3, :] == 1.0)  # white gap
    u8 = (x * 255).astype(np.uint8)
    np.testing.assert_allclose(P.image_grid(u8, ncols=2, value_range=(0, 255))[:3, :3], u8[0] / 255.0, atol=1e-6)


def test_values_outside_the_range_are_clipped_with_a_warning_not_rescaled():
    x = np.full((4, 3, 3), 0.5, np.float32)
    x[0, 0, 0] = 1.02  # the old code divided the whole grid by 255 here: all black
    with pytest.warns(P.ClippedValuesWarning, match="1 of 36 values"):
        grid = P.image_grid(x, ncols=2)
    assert grid[0, 0] == 1.0 and grid[0, 1] == pytest.approx(0.5)
    with pytest.warns(P.ClippedValuesWarning):
        fig = P.grid_figure(x, 2, title="samples")
    assert "clipped" in fig._suptitle.get_text() and fig._suptitle.get_text().startswith("samples")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert "clipped" not in (P.grid_figure(np.clip(x, 0, 1), 2, title="t")._suptitle.get_text())
    with pytest.raises(ValueError, match="non-finite"):
        P.image_grid(np.full((1, 2, 2), np.nan))
    with pytest.raises(ValueError, match="value_range"):
        P.image_grid(x, value_range=(1, 0))


def test_a_gaussian_decoders_sample_grid_is_not_black(tmp_path):
    vae = tfpvae.VAE(tfpvae.standard_normal(2), IdentityEncoder(), GaussianImageDecoder())
    means = np.asarray(vae.sample(16, seed=tf.constant([0, 0])).mean())  # what seed=0 means in tfpvae
    assert means.max() > 1.0 and means.min() < 0.0  # the case that used to turn black
    with pytest.warns(P.ClippedValuesWarning):
        fig = P.sample_grid(vae, 16, seed=0, ncols=4, title=None)
    path = P.save_figure(fig, tmp_path / "g.png")
    with Image.open(path) as im:
        pixels = np.asarray(im.convert("L"), np.float32)
    shown = _image_of(fig)
    inside = np.clip(means, 0, 1)[:, :, :, 0]
    assert shown[:8, :8] == pytest.approx(inside[0], abs=1e-6)
    box = fig.axes[0].images[0].get_window_extent(fig.canvas.get_renderer())  # the grid's pixels in the PNG
    h = pixels.shape[0]
    drawn = pixels[int(round(h - box.y1)):int(round(h - box.y0)), int(round(box.x0)):int(round(box.x1))]
    assert drawn.mean() / 255 == pytest.approx(shown.mean(), abs=0.03)  # mid grey as the means are, not black
    assert 0.4 < shown.mean() < 0.7 and drawn.std() > 40


KINDS = {
    "samples": lambda m, x: P.sample_grid(m, 9, seed=0, figsize=(4, 3), dpi=50),
    "reconstructions": lambda m, x: P.reconstruction_figure(m, x[:6], figsize=(4, 3), dpi=50),
    "scatter": lambda m, x: P.latent_scatter(m, x, np.arange(len(x)) % 3, figsize=(4, 3), dpi=50),
    "manifold": lambda m, x: P.latent_manifold(m, num=4, figsize=(4, 3), dpi=50),
    "traversal": lambda m, x: P.traversal(m, x[:2], 0, figsize=(4, 3), dpi=50),
    "interpolation": lambda m, x: P.interpolation(m, x[:2], x[2:4], num=5, figsize=(4, 3), dpi=50),
    "attributes": lambda m, x: P.attribute_strips(m, x[:2], [[1.0, 0.0]], k=2, num=5, figsize=(4, 3), dpi=50),
}


@pytest.mark.parametrize("kind", sorted(set(KINDS) - {"scatter"}))
def test_every_grid_plot_draws_into_a_given_axes(kind, tiny, x64, tmp_path):
    """``ax=`` puts the same picture into a panel of the caller's figure (as ``latent_scatter(ax=)``
    does), its title on the panel, and returns that figure without adding axes."""
    alone = KINDS[kind](tiny, x64)
    fig = P.figures.new_figure((8, 3), dpi=50)
    left, right = fig.subplots(1, 2)
    out = {"samples": lambda: P.sample_grid(tiny, 9, seed=0, ax=right),
           "reconstructions": lambda: P.reconstruction_figure(tiny, x64[:6], ax=right),
           "manifold": lambda: P.latent_manifold(tiny, num=4, ax=right),
           "traversal": lambda: P.traversal(tiny, x64[:2], 0, ax=right),
           "interpolation": lambda: P.interpolation(tiny, x64[:2], x64[2:4], num=5, ax=right),
           "attributes": lambda: P.attribute_strips(tiny, x64[:2], [[1.0, 0.0]], k=2, num=5, ax=right)}[kind]()
    assert out is fig and fig.axes == [left, right] and not left.images
    np.testing.assert_array_equal(np.asarray(right.images[0].get_array()), _image_of(alone))
    assert right.get_title() == alone._suptitle.get_text() and fig._suptitle is None
    assert [t.get_text() for t in right.get_xticklabels()] == [t.get_text() for t in alone.axes[0].get_xticklabels()]
    assert _png_size(P.save_figure(fig, tmp_path / "panel.png")) == (400, 150)  # the caller's size


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_plot_kind_writes_a_png_of_the_requested_pixel_size(kind, tiny, x64, tmp_path):
    fig = KINDS[kind](tiny, x64)
    path = P.save_figure(fig, tmp_path / "nested" / f"{kind}.png")
    assert _png_size(path) == (200, 150) == P.pixel_size(fig)
    assert [p.name for p in path.parent.iterdir()] == [f"{kind}.png"]  # no temporary file left


def test_default_sizes_follow_the_content(tiny, x64, tmp_path):
    fig = P.sample_grid(tiny, 20, seed=0, ncols=10, title=None, dpi=100)
    assert _png_size(P.save_figure(fig, tmp_path / "s.png")) == P.pixel_size(fig) == (89 * 3 + 5, 100)
    # 10 x 2 tiles of 8 px with 1 px gaps: 89 x 17 px at 3 screen px each + 0.05 in margin; 1 in minimum height
    curves = P.training_curves({"epochs": [{"epoch": 1, "train": {"elbo": -3.0, "kl": 1.0}}]}, dpi=80)
    assert _png_size(P.save_figure(curves, tmp_path / "c.png")) == (round(2 * 3.4 * 80), round(2.6 * 80))


def test_manifold_decodes_the_inverse_cdf_grid_top_row_high_z2():
    vae = tfpvae.VAE(tfpvae.standard_normal(2), IdentityEncoder(), CodeDecoder())
    img = _image_of(P.latent_manifold(vae, num=3, quantile_range=(0.1, 0.9)))
    tiles = [[img[r * 3:r * 3 + 2, c * 3:c * 3 + 2] for c in range(3)] for r in range(3)]
    u = [0.1, 0.5, 0.9]
    for r in range(3):
        for c in range(3):
            assert tiles[r][c][0, 0] == pytest.approx(u[c], abs=1e-5)  # Phi(z1) runs left to right
            assert tiles[r][c][0, 1] == pytest.approx(u[2 - r], abs=1e-5)  # Phi(z2) runs top to bottom
    with pytest.raises(ValueError, match="latent_dim is 3"):
        P.latent_manifold(tfpvae.mlp_vae((64,), latent_dim=3, hidden=(4,)))


def test_traversal_rows_are_examples_and_columns_set_one_dimension():
    vae = tfpvae.VAE(tfpvae.standard_normal(2), IdentityEncoder(), CodeDecoder())
    x = np.array([[0.3, -1.0], [1.5, 0.7]], np.float32)
    images = np.concatenate([x, np.zeros_like(x)], 1).reshape(2, 2, 2, 1)  # the encoder reads z from pixels
    with pytest.warns(P.ClippedValuesWarning):  # the inputs (latents written as pixels) leave [0, 1]
        img = _image_of(P.traversal(vae, images, 1, values=[-1.0, 0.0, 2.0]))
    phi = tfd.Normal(0.0, 1.0).cdf
    for r in range(2):
        np.testing.assert_allclose(img[r * 3:r * 3 + 2, :2], np.clip(images[r, :, :, 0], 0, 1))  # column 0: input
        for c, v in enumerate([-1.0, 0.0, 2.0], start=1):
            tile = img[r * 3:r * 3 + 2, c * 3:c * 3 + 2]
            assert tile[0, 0] == pytest.approx(float(phi(x[r, 0])), abs=1e-5)  # the example's own z1
            assert tile[0, 1] == pytest.approx(float(phi(v)), abs=1e-5)  # z2 set to the column's value


def test_scatter_states_the_pca_projection_for_larger_latents(x64):
    model = tfpvae.mlp_vae((64,), latent_dim=4, hidden=(8,))
    fig = P.latent_scatter(model, x64, np.arange(len(x64)) % 2)
    ax = fig.axes[0]
    assert "PCA" in ax.get_title() and ax.get_xlabel().startswith("PC1")
    z = np.random.default_rng(0).normal(size=(200, 3)) * [3.0, 1.0, 0.1]
    proj, ratio = P.latent_plots.pca_2d(z)
    assert ratio[0] > ratio[1] and ratio.sum() == pytest.approx(1 - 0.01 / 10.01, abs=0.01)
    np.testing.assert_allclose(np.var(proj, 0).sum() / np.var(z, 0).sum(), ratio.sum(), rtol=1e-6)


def test_training_curves_plot_the_logged_values_per_split():
    epochs = [{"epoch": e, "train": {"loss": 5 - e, "elbo": -5.0 + e, "log_likelihood": -4.0 + e, "kl": 1.0},
               "validation": {"elbo": -5.5 + e}, "active_units": 2 + e, "beta": 0.5 * e} for e in (1, 2, 3)]
    fig = P.training_curves({"epochs": epochs})
    titles = [ax.get_title() for ax in fig.axes]
    assert len(titles) == 5 and "active units" in titles and "KL weight beta" in titles
    bound = fig.axes[0]
    lines = {line.get_label(): line.get_ydata().tolist() for line in bound.lines}
    assert lines == {"train": [-4.0, -3.0, -2.0], "validation": [-4.5, -3.5, -2.5]}
    with pytest.raises(ValueError, match="no known quantity"):
        P.training_curves({"epochs": [{"epoch": 1, "train": {"loss": 1.0}}]})


def test_epoch_images_give_one_gif_frame_per_epoch_even_when_resumed(tmp_path):
    images = (np.random.default_rng(0).random((64, 8, 8, 1)) < 0.3).astype(np.uint8)
    model = tfpvae.mlp_vae((64,), latent_dim=2, hidden=(8,))
    data = lambda epoch: make_dataset(images, batch_size=32, epoch=epoch, flatten=True)  # noqa: E731
    frames = tmp_path / "frames"
    cb = P.EpochImages(frames, model.prior.sample(4, seed=[0, 1]), model, gif_path=tmp_path / "train.gif")
    ckpt = tfpvae.training.Checkpoint(tmp_path / "ckpt", monitor="train/loss")
    tfpvae.fit(model, tfpvae.ELBO(), data, epochs=2, callbacks=[ckpt, cb], seed=0)
    assert [p.name for p in P.frame_paths(frames)] == ["epoch_0001.png", "epoch_0002.png"]
    cb.on_epoch_end(None, {"epoch": 2})  # an epoch written twice (resume) replaces its frame
    ckpt = tfpvae.training.Checkpoint(tmp_path / "ckpt", monitor="train/loss")
    tfpvae.fit(model, tfpvae.ELBO(), data, epochs=3, callbacks=[ckpt, cb], seed=0)  # resumes at epoch 3
    assert len(P.frame_paths(frames)) == 3
    with Image.open(tmp_path / "train.gif") as gif:
        assert gif.n_frames == 3 and gif.size == _png_size(frames / "epoch_0001.png")
    assert not [n for n in os.listdir(frames) if n.startswith(".")]  # atomic writes left no temp files
    with Image.open(P.make_gif(frames, tmp_path / "small.gif", scale=0.5)) as small:
        assert small.n_frames == 3 and small.size == tuple(round(v * 0.5) for v in gif.size)
    with pytest.raises(ValueError, match="no epoch_N.png"):
        P.make_gif(tmp_path / "ckpt", tmp_path / "x.gif")


@pytest.mark.parametrize("gif_scale", [0.5, 2.0])
def test_epoch_images_pass_their_gif_scale_to_make_gif(gif_scale, tmp_path):
    decode = lambda z: tf.tile(tf.reshape(tfd.Normal(0.0, 1.0).cdf(z[:, :1]), [-1, 1, 1]), [1, 6, 6])  # noqa: E731
    cb = P.EpochImages(tmp_path / "frames", np.linspace(-1, 1, 8).reshape(4, 2), decode_fn=decode, image_shape=(6, 6),
                       gif_path=tmp_path / "g.gif", gif_scale=gif_scale, pixel_scale=2.0)
    for epoch in (1, 2, 3):
        cb.on_epoch_end(None, {"epoch": epoch})
    cb.on_train_end(None)
    w, h = _png_size(tmp_path / "frames" / "epoch_0001.png")
    with Image.open(tmp_path / "g.gif") as gif:
        assert gif.n_frames == 3 and gif.size == (round(w * gif_scale), round(h * gif_scale))
        frame = np.asarray(gif.convert("RGB"), np.int16)
    if gif_scale == 2.0:  # enlarged by nearest neighbour: every 2 x 2 block is one frame pixel, edges stay sharp
        np.testing.assert_array_equal(frame[0::2, 0::2], frame[1::2, 1::2])
    with pytest.raises(ValueError, match="EpochImages: gif_scale must be a number > 0, got 0"):
        P.EpochImages(tmp_path / "x", np.zeros((1, 2)), decode_fn=decode, gif_scale=0)
    with pytest.raises(ValueError, match="make_gif: scale must be a number > 0, got -1"):
        P.make_gif(tmp_path / "frames", tmp_path / "bad.gif", scale=-1)


def test_plot_kind_covers_every_cli_kind_and_names_what_is_missing(tiny, x64):
    metrics = {"epochs": [{"epoch": 1, "train": {"elbo": -3.0, "log_likelihood": -2.0, "kl": 1.0}}]}
    attributes = x64[:, 0] > 0.5
    for kind in P.PLOT_KINDS:
        fig = P.plot_kind(kind, tiny, x64, labels=np.arange(len(x64)) % 2, metrics=metrics, attributes=attributes)
        assert P.pixel_size(fig)[0] > 100, kind
    with pytest.raises(ValueError, match="needs metrics"):
        P.plot_kind("curves", tiny)
    with pytest.raises(ValueError, match="attribute labels"):
        P.plot_kind("attributes", tiny, x64)
    with pytest.raises(ValueError, match="kind must be one of"):
        P.plot_kind("histogram", tiny, x64)
    z = np.asarray(tfpvae.latent.posterior_means(tiny, x64))
    assert P.kinds.most_active_dimension(tiny, x64) == int(np.argmax(z.var(0)))


def test_autoencoders_plot_through_their_codes_and_sample_only_with_a_given_prior(x64):
    ae = tfpvae.models.mlp_autoencoder((64,), latent_dim=2, hidden=(8,))
    with pytest.raises(ValueError, match="has no prior"):
        P.sample_grid(ae, 4)
    agg = tfpvae.latent.aggregate_posterior(ae, x64, "full")
    fig = P.sample_grid(ae, 4, prior=agg, ncols=2, title="codes")
    z = agg.sample(4, seed=tf.constant([0, 0]))
    np.testing.assert_allclose(_image_of(fig)[:8, :8], np.asarray(ae.decode(z).mean())[0].reshape(8, 8), atol=1e-6)
    both = P.figures.new_figure((8, 4))
    axes = both.subplots(1, 2)
    P.latent_scatter(ae, x64, ax=axes[0]), P.latent_scatter(tfpvae.mlp_vae((64,), 2, hidden=(8,)), x64, ax=axes[1])
    codes = np.asarray(ae.encode(x64))
    np.testing.assert_allclose(axes[0].collections[0].get_offsets(), codes, atol=1e-6)


def _titles(fig) -> str:
    return " ".join(([fig._suptitle.get_text()] if fig._suptitle else []) + [ax.get_title() for ax in fig.axes])


def test_every_plot_names_the_embedded_data_in_its_title(tiny, x64, tmp_path):
    """Issue 13: a picture made from the data shipped in the package says so in its title; other
    sources (a data folder, tfds, generated sprites) are left to the caller's title."""
    from tfpvae.data.sources import EMBEDDED_SOURCES

    sample = EMBEDDED_SOURCES["mnist"]
    note = "data: tfpvae's embedded SMALL MNIST sample"
    assert P.figures.source_note(EMBEDDED_SOURCES["binarized_mnist"]) == \
        "data: tfpvae's embedded full statically binarized MNIST"
    metrics = {"epochs": [{"epoch": 1, "train": {"elbo": -3.0, "log_likelihood": -2.0, "kl": 1.0}}]}
    for kind in P.PLOT_KINDS:
        args = dict(labels=np.arange(len(x64)) % 2, metrics=metrics, attributes=x64[:, 0] > 0.5)
        assert note in _titles(P.plot_kind(kind, tiny, x64, data_source=sample, **args)), kind
        assert "data:" not in _titles(P.plot_kind(kind, tiny, x64, data_source="local:/data/mnist", **args)), kind
    run_metrics = {**metrics, "data_source": sample}  # a run's metrics.json records its data source
    assert note in _titles(P.training_curves(run_metrics))
    assert note in _titles(P.save_image_grid(tmp_path / "s.png", x64, data_source=sample, title="samples"))
    assert note in _titles(P.save_reconstructions(tmp_path / "r.png", x64[:4], x64[:4], data_source=sample))
    probs = np.full((4, 2), 0.5)
    assert note in _titles(P.reliability_diagram(probs, [0, 1, 0, 1], data_source=sample))
    cb = P.EpochImages(tmp_path / "frames", np.zeros((2, 2)), decode_fn=lambda z: tf.zeros([2, 8, 8]),
                       data_source=sample)
    cb.on_epoch_end(None, {"epoch": 1})
    fig = P.grid_figure(np.zeros((2, 8, 8)), title="epoch 1", pixel_scale=cb.pixel_scale, data_source=sample)
    assert _png_size(cb.frame_path(1)) == P.pixel_size(fig) and note in _titles(fig)  # the frame has the note's line
