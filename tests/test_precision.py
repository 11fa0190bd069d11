"""Mixed precision: networks in bfloat16/float16, heads, log-probabilities and the loss in float32."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfpvae
from tfpvae.data import make_dataset


def _patterns(n=512, seed=0):
    """Binary 8x8 images of one of four bars with flipped pixels: a VAE has something to learn."""
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 8, 8, 1), np.uint8)
    kind = rng.integers(0, 4, n)
    for i, k in enumerate(kind):
        images[i, 2 * k:2 * k + 2, :, 0] = 1
    flips = rng.random(images.shape) < 0.05
    return np.where(flips, 1 - images, images).astype(np.uint8)


def _train(precision, epochs=15):
    keras.utils.set_random_seed(0)
    vae = tfpvae.mlp_vae((64,), latent_dim=4, hidden=(64,))
    images = _patterns()
    data = lambda epoch: make_dataset(images, batch_size=64, seed=1, epoch=epoch, flatten=True)
    test = make_dataset(_patterns(256, seed=1), batch_size=256, shuffle=False, flatten=True)
    state = tfpvae.fit(vae, tfpvae.ELBO(), data, epochs=epochs, optimizer=keras.optimizers.Adam(3e-3),
                       validation_data={"test": test}, precision=precision, seed=0)
    return vae, state


def test_mixed_bfloat16_trains_to_within_a_margin_of_float32():
    ref_vae, ref = _train("float32")
    vae, low = _train("mixed_bfloat16")
    dense = vae.decoder.network.layers[-1]
    assert dense.compute_dtype == "bfloat16" and dense.kernel.dtype == "float32"
    x = next(iter(make_dataset(_patterns(8), batch_size=8, shuffle=False, flatten=True)))
    assert vae.decode(vae.encode(x).sample(seed=[0, 1])).log_prob(x).dtype == tf.float32
    terms = tfpvae.ELBO()(vae, x, seed=[0, 1])
    assert all(t.dtype == tf.float32 for t in terms)
    first, last = low.history[0]["test"]["elbo"], low.history[-1]["test"]["elbo"]
    ref_last = ref.history[-1]["test"]["elbo"]
    assert last > first + 5  # it learnt
    # stated margin: bfloat16's 8-bit mantissa costs at most 2% of the float32 test ELBO here
    assert abs(last - ref_last) <= 0.02 * abs(ref_last), (last, ref_last)


def test_mixed_float16_wraps_the_optimizer_in_dynamic_loss_scaling():
    vae, state = _train("mixed_float16", epochs=2)
    assert isinstance(state.optimizer, keras.optimizers.LossScaleOptimizer)
    assert np.isfinite(state.history[-1]["test"]["elbo"])
    with pytest.raises(ValueError, match="precision must be one of"):
        tfpvae.fit(vae, tfpvae.ELBO(), tf.data.Dataset.from_tensors(tf.zeros([2, 64])), epochs=1, precision="half")
