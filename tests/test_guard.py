"""The non-finite guard inside the compiled step: a poisoned batch never reaches the variables."""

from typing import NamedTuple

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfpvae
from tfpvae.training import Checkpoint, fit


class Terms(NamedTuple):
    loss: tf.Tensor
    log_likelihood: tf.Tensor
    kl: tf.Tensor


class Linear(tf.Module):
    def __init__(self):
        super().__init__()
        self.w = tf.Variable([[0.5], [-0.3]], name="w")
        self.b = tf.Variable([0.1], name="b")


class SquaredError:
    """Deterministic: ``loss = (x w + b - y)^2 + kl`` with ``kl = 0 * sum(x)`` (NaN where x is)."""

    def __call__(self, model, batch, *, seed, step):
        x, y = batch
        log_lik = -tf.square(tf.matmul(x[:, :2], model.w)[:, 0] + model.b - y)
        kl = 0.0 * tf.reduce_sum(x[:, 2:], axis=-1) + 0.0 * model.b
        return Terms(loss=-log_lik + kl, log_likelihood=log_lik, kl=kl)


def _batches(poison_at=None, n=5):
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        x = rng.normal(size=(8, 3)).astype(np.float32)
        x[:, 2] = 0.0
        if i == poison_at:
            x[3, 2] = np.nan  # only the kl term sees it
        out.append((x, (x[:, 0] - 2 * x[:, 1]).astype(np.float32)))
    return out


def _dataset(batches):
    xs = np.stack([b[0] for b in batches])
    ys = np.stack([b[1] for b in batches])
    return tf.data.Dataset.from_tensor_slices((xs, ys))


@pytest.mark.parametrize("steps_per_execution", [1, 3])
def test_stop_names_the_step_and_term_and_leaves_variables_and_checkpoint(tmp_path, steps_per_execution):
    clean = Linear()
    fit(clean, SquaredError(), _dataset(_batches()[:3]), epochs=1, optimizer=keras.optimizers.Adam(0.1))
    model = Linear()
    with pytest.raises(FloatingPointError, match=r"non-finite loss, kl at step 4 \(epoch 1, batch 4\)"):
        fit(model, SquaredError(), _dataset(_batches(poison_at=3)), epochs=1, optimizer=keras.optimizers.Adam(0.1),
            steps_per_execution=steps_per_execution)
    for a, b in zip((model.w, model.b), (clean.w, clean.b)):  # the three good steps, not the fourth
        np.testing.assert_array_equal(a.numpy(), b.numpy())

    # across epochs: the poisoned batch in epoch 2 leaves epoch 1's checkpoint as the latest
    batches = _batches()
    epoch_data = lambda epoch: _dataset(batches if epoch == 0 else _batches(poison_at=4))
    model = Linear()
    with pytest.raises(FloatingPointError, match=r"at step 10 \(epoch 2, batch 5\)"):
        fit(model, SquaredError(), epoch_data, epochs=3, callbacks=[Checkpoint(tmp_path, monitor=None)])
    assert tf.train.latest_checkpoint(tmp_path / "latest").endswith("ckpt-1")
    assert np.isfinite(model.w.numpy()).all()


def test_skip_drops_the_batch_counts_it_and_equals_a_run_without_it():
    model = Linear()
    state = fit(model, SquaredError(), _dataset(_batches(poison_at=2)), epochs=1, nonfinite="skip",
                optimizer=keras.optimizers.Adam(0.1), steps_per_execution=2)
    assert state.history[-1]["skipped_batches"] == 1
    assert int(state.optimizer.iterations.numpy()) == 4
    reference = Linear()
    good = [b for i, b in enumerate(_batches()) if i != 2]
    ref_state = fit(reference, SquaredError(), _dataset(good), epochs=1, optimizer=keras.optimizers.Adam(0.1))
    np.testing.assert_allclose(model.w.numpy(), reference.w.numpy(), rtol=1e-6)
    assert state.history[-1]["train"]["loss"] == pytest.approx(ref_state.history[-1]["train"]["loss"], rel=1e-6)


def test_clip_norm_bounds_the_update_and_arguments_are_checked():
    """With SGD(lr=1) the update is the clipped gradient: its global norm is clip_norm."""
    model = Linear()
    before = np.concatenate([model.w.numpy().ravel(), model.b.numpy()])
    x, y = _batches()[0]
    fit(model, SquaredError(), tf.data.Dataset.from_tensors((x, y * 100)), epochs=1,
        optimizer=keras.optimizers.SGD(1.0), clip_norm=0.5)
    after = np.concatenate([model.w.numpy().ravel(), model.b.numpy()])
    assert np.linalg.norm(after - before) == pytest.approx(0.5, rel=1e-5)
    with pytest.raises(ValueError, match="nonfinite must be one of"):
        fit(Linear(), SquaredError(), _dataset(_batches()), epochs=1, nonfinite="ignore")
    with pytest.raises(ValueError, match="clip_norm must be a positive number"):
        fit(Linear(), SquaredError(), _dataset(_batches()), epochs=1, clip_norm=0.0)


def test_non_finite_validation_stops_the_run(tmp_path):
    bad = _batches(poison_at=0, n=1)
    with pytest.raises(FloatingPointError, match=r"validation loss, kl = \[nan, nan\] after epoch 1"):
        fit(Linear(), SquaredError(), _dataset(_batches()), epochs=2, validation_data=_dataset(bad),
            callbacks=[Checkpoint(tmp_path)])
    assert tf.train.latest_checkpoint(tmp_path / "latest") is None


def test_fit_refuses_data_the_decoder_cannot_score():
    """0..255 floats to a Bernoulli decoder trained silently to a loss of -4239 before."""
    vae = tfpvae.mlp_vae((16,), latent_dim=2, hidden=(8,))
    pixels = tf.constant(np.random.default_rng(0).integers(0, 256, size=(8, 16)).astype(np.float32))
    with pytest.raises(ValueError, match="training data"):
        fit(vae, tfpvae.ELBO(), tf.data.Dataset.from_tensors(pixels), epochs=1)
