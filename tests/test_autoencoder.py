"""The deterministic autoencoder: trained by fit through the Reconstruction objective; its loss is the
decoder head's negative log-likelihood (squared error for a fixed-scale Gaussian)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfpvae
from tfpvae import distributions as D, networks
from tfpvae.models import Autoencoder, Decoder, conv_autoencoder, mlp_autoencoder, mlp_vae
from tfpvae.objectives import Reconstruction


def binary_images(n=64, shape=(8, 8, 1), seed=0):
    return (np.random.default_rng(seed).uniform(size=(n, *shape)) > 0.5).astype(np.float32)


def test_autoencoder_trains_by_fit_to_lower_reconstruction_loss():
    x = binary_images()
    ae = mlp_autoencoder((8, 8, 1), latent_dim=4, hidden=(32,))
    objective = Reconstruction()
    before = float(tf.reduce_mean(objective(ae, x).loss))
    tfpvae.fit(ae, objective, tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=30,
               optimizer=keras.optimizers.Adam(1e-2), seed=0)
    after = float(tf.reduce_mean(objective(ae, x).loss))
    assert before == pytest.approx(64 * np.log(2), rel=0.05)  # untrained: logits near 0, ~log 2 nats a pixel
    assert after < 0.8 * before, (before, after)  # measured 45.2 -> 29.0 nats (seed 0)


def test_fixed_scale_gaussian_loss_is_scaled_squared_error():
    sigma = 0.3
    ae = mlp_autoencoder((5,), latent_dim=2, hidden=(8,), head=D.GaussianHead((5,), scale=sigma))
    x = tf.constant(np.random.default_rng(1).normal(size=(7, 5)), tf.float32)
    terms = Reconstruction()(ae, x)
    mu = ae.reconstruct(x).mean()
    sq = tf.reduce_sum((x - mu) ** 2, -1)
    np.testing.assert_allclose(terms.loss, 0.5 * sq / sigma**2 + 5 * np.log(sigma * np.sqrt(2 * np.pi)), rtol=1e-5)
    np.testing.assert_allclose(terms.log_likelihood, -terms.loss)


def test_encode_is_deterministic_and_decode_takes_sample_dims():
    ae = mlp_autoencoder((3, 4, 1), latent_dim=6, hidden=(10,))
    x = binary_images(5, (3, 4, 1))
    z1, z2 = ae.encode(x), ae.encode(x)
    assert isinstance(z1, tf.Tensor) and z1.shape == (5, 6)
    np.testing.assert_array_equal(z1, z2)
    p = ae.decode(tf.zeros([2, 5, 6]))
    assert p.batch_shape == (2, 5) and p.event_shape == (3, 4, 1)
    assert ae.reconstruct(x).batch_shape == (5,)


def test_shared_gaussian_scale_is_a_tracked_parameter_learned_by_maximum_likelihood():
    head = D.GaussianHead((6,), scale="shared", init_scale=1.0, min_scale=1e-3)
    ae = Autoencoder(networks.mlp((6,), 3, hidden=(8,)), Decoder(networks.mlp((3,), 6, hidden=(8,)), head))
    assert any(v is head.log_scale for v in ae.trainable_variables)
    x = np.random.default_rng(2).normal(scale=0.2, size=(128, 6)).astype(np.float32)
    # train sigma alone: the maximum-likelihood shared sigma^2 is the mean squared residual
    tfpvae.fit(ae, Reconstruction(), tf.data.Dataset.from_tensors(x), epochs=300, variables=[head.log_scale],
               optimizer=keras.optimizers.Adam(0.05), steps_per_execution=50)
    residual = float(tf.reduce_mean((x - ae.reconstruct(x).mean()) ** 2))
    sigma = float(tf.exp(head.log_scale)) + 1e-3
    assert sigma**2 == pytest.approx(residual, rel=0.02)


def test_checkpoint_restores_every_parameter_by_name(tmp_path):
    head = D.GaussianHead((8, 8, 1), scale="shared")
    ae = conv_autoencoder((8, 8, 1), latent_dim=3, filters=(4, 8), head=head)
    x = binary_images()
    ae.encode(x[:1])
    saved = [np.array(v) for v in ae.trainable_variables]
    path = tf.train.Checkpoint(model=ae).write(str(tmp_path / "ae"))
    for v in ae.trainable_variables:
        v.assign(tf.zeros_like(v) + 0.5)
    tf.train.Checkpoint(model=ae).read(path).assert_existing_objects_matched()
    for v, s in zip(ae.trainable_variables, saved):
        np.testing.assert_array_equal(np.array(v), s)


@pytest.mark.parametrize("upsampling, layer", [("transpose", keras.layers.Conv2DTranspose),
                                               ("nearest", keras.layers.UpSampling2D)])
def test_conv_autoencoder_upsampling(upsampling, layer):
    ae = conv_autoencoder((28, 20, 1), latent_dim=10, filters=(8, 16), upsampling=upsampling)  # Frey faces' shape
    x = binary_images(3, (28, 20, 1))
    assert ae.encode(x).shape == (3, 10) and ae.reconstruct(x).event_shape == (28, 20, 1)
    assert any(isinstance(l, layer) for l in ae.decoder.network.layers)
    assert Reconstruction()(ae, x).loss.shape == (3,)


def test_errors_name_the_component():
    with pytest.raises(ValueError, match="Reconstruction: model.encode.x. must return the code tensor"):
        Reconstruction()(mlp_vae((4,), latent_dim=2, hidden=(3,)), tf.zeros([2, 4]))
    with pytest.raises(ValueError, match="Autoencoder: latent_dim 3 differs from the encoder_net output width 2"):
        Autoencoder(networks.mlp((4,), 2, hidden=(3,)), lambda z: None, latent_dim=3)
    with pytest.raises(ValueError, match="conv_decoder_net: upsampling must be one of"):
        conv_autoencoder((8, 8, 1), upsampling="pixelshuffle")
    ae = mlp_autoencoder((4,), latent_dim=2, hidden=(3,))
    with pytest.raises(ValueError, match="Autoencoder.encode: x has shape"):
        ae.encode(tf.zeros([2, 5]))
