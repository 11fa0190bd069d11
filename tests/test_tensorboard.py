"""The TensorBoard callback writes every numeric epoch log as a scalar and a sample grid; read back."""

import numpy as np
import pytest
import tensorflow as tf

import tfpvae
from tfpvae.data import make_dataset
from tfpvae.training.tensorboard import TensorBoard, scalars_of

pytest.importorskip("tensorboard")


def test_scalars_of_flattens_numeric_entries():
    logs = {"epoch": 3, "train": {"loss": 1.5, "elbo": -1.5}, "validation": {"loss": 2.0}, "seconds": 0.5,
            "examples_per_second": 100, "validated": True, "note": "x"}
    assert scalars_of(logs) == {"train/loss": 1.5, "train/elbo": -1.5, "validation/loss": 2.0, "seconds": 0.5,
                                "examples_per_second": 100.0}


def _events(log_dir):
    scalars, images = {}, {}
    for path in sorted(log_dir.glob("events.out.tfevents.*")):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                array = tf.make_ndarray(value.tensor)
                if value.metadata.plugin_data.plugin_name == "images":
                    images[(value.tag, event.step)] = array
                else:
                    scalars[(value.tag, event.step)] = float(array)
    return scalars, images


def test_tensorboard_scalars_read_back_equal_the_logs(tmp_path):
    images = (np.random.default_rng(0).random((64, 8, 8, 1)) < 0.3).astype(np.uint8)
    model = tfpvae.mlp_vae((64,), latent_dim=2, hidden=(8,))
    data = lambda epoch: make_dataset(images, batch_size=32, epoch=epoch, flatten=True)  # noqa: E731
    state = tfpvae.fit(model, tfpvae.ELBO(), data, epochs=2, seed=0,
                       validation_data={"validation": make_dataset(images[:32], batch_size=32, shuffle=False,
                                                                   flatten=True)},
                       callbacks=[TensorBoard(tmp_path / "tb", num_images=4)])
    scalars, grids = _events(tmp_path / "tb")
    expected = {(tag, logs["epoch"]): value for logs in state.history for tag, value in scalars_of(logs).items()}
    assert {"train/loss", "validation/elbo", "seconds", "examples_per_second"} <= {tag for tag, _ in expected}
    assert scalars.keys() == expected.keys()
    for key, value in expected.items():
        assert scalars[key] == pytest.approx(value, rel=1e-6)
    assert sorted(grids) == [("samples", 1), ("samples", 2)]
    width, height = (int(v) for v in grids[("samples", 1)][:2])  # [width, height, encoded PNG]
    assert (width, height) == (17, 17)  # 2 x 2 tiles of 8 px with a 1 px gap


def test_models_without_a_prior_get_scalars_only(tmp_path):
    from types import SimpleNamespace

    ae = tfpvae.models.mlp_autoencoder((16,), latent_dim=2, hidden=(4,))
    cb = TensorBoard(tmp_path / "tb")
    cb.on_train_begin(SimpleNamespace(model=ae))
    cb.on_epoch_end(None, {"epoch": 1, "train": {"loss": 2.5, "log_likelihood": -2.5}, "seconds": 1.0})
    cb.on_train_end(None)
    scalars, grids = _events(tmp_path / "tb")
    assert scalars == {("train/loss", 1): 2.5, ("train/log_likelihood", 1): -2.5, ("seconds", 1): 1.0} and not grids
