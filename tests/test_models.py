"""Heads, encoders, decoders and the VAE: shapes, the maths of each likelihood, clear errors."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfpvae
from tfpvae import distributions as D, networks
from tfpvae.models import Decoder, Encoder, Encoding, conv_vae, mlp_vae

tfd, tfb = tfp.distributions, tfp.bijectors


def test_bernoulli_head_is_summed_log_sigmoid():
    logits = tf.constant(np.random.default_rng(0).normal(size=(4, 6)), tf.float32)
    x = tf.constant(np.random.default_rng(1).integers(0, 2, size=(4, 6)), tf.float32)
    dist = D.BernoulliHead((6,))(logits)
    expected = tf.reduce_sum(x * logits - tf.nn.softplus(logits), -1)
    assert dist.batch_shape == (4,) and dist.event_shape == (6,)
    np.testing.assert_allclose(dist.log_prob(x), expected, rtol=1e-5)


def test_gaussian_head_fixed_scale_is_squared_error():
    mean = tf.constant([[0.0, 1.0], [2.0, -1.0]])
    x = tf.constant([[0.5, 1.0], [2.0, 0.0]])
    lp = D.GaussianHead((2,), scale=1.0)(mean).log_prob(x)
    np.testing.assert_allclose(lp, -0.5 * tf.reduce_sum((x - mean) ** 2, -1) - np.log(2 * np.pi), rtol=1e-6)


@pytest.mark.parametrize("scale", ["softplus", "log_var"])
def test_diagonal_normal_head(scale):
    params = tf.constant([[0.0, 0.0, 1.0, 2.0]])  # interleaved (mean, raw) per dimension
    q = D.DiagonalNormalHead(2, scale=scale)(params)
    assert q.event_shape == (2,) and q.batch_shape == (1,)
    expected = np.log1p(np.exp([0.0, 2.0])) if scale == "softplus" else np.exp([0.0, 1.0])
    np.testing.assert_allclose(q.stddev()[0], expected + 1e-5, rtol=1e-5)
    np.testing.assert_allclose(q.mean()[0], [0.0, 1.0])


def test_heads_name_the_wrong_width():
    with pytest.raises(ValueError, match="BernoulliHead: parameter tensor has width 5, expected 6"):
        D.BernoulliHead((6,))(tf.zeros([2, 5]))
    with pytest.raises(ValueError, match="scale must be one of"):
        D.DiagonalNormalHead(2, scale="exp")
    enc = Encoder(networks.mlp((4,), 7, hidden=(3,)), D.DiagonalNormalHead(3))
    with pytest.raises(ValueError, match="Encoder: network output .* width 7, expected 6"):
        enc(tf.zeros([2, 4]))


def test_encoder_context_and_vae_flow_checks():
    enc = Encoder(networks.mlp((4,), 2 * 3 + 5, hidden=(8,)), D.DiagonalNormalHead(3), context_dim=5)
    out = enc(tf.zeros([2, 4]))
    assert isinstance(out, Encoding) and out.context.shape == (2, 5)
    dec = Decoder(networks.mlp((3,), 4, hidden=(8,)), D.BernoulliHead((4,)))

    class Conditional:  # the conditional-flow protocol: bind(context) -> bijector
        event_size, context_dim = 3, 4

        def bind(self, context):
            return tfb.Shift(tf.reduce_mean(context, -1, keepdims=True))

    with pytest.raises(ValueError,
                       match="context of width context_dim = 4, but the encoder emits a context of width 5"):
        tfpvae.VAE(D.standard_normal(3), enc, dec, posterior_flow=Conditional())
    Conditional.event_size = 2
    with pytest.raises(ValueError, match="event_size 2, expected latent_dim = 3"):
        tfpvae.VAE(D.standard_normal(3), enc, dec, posterior_flow=Conditional())
    Conditional.event_size, Conditional.context_dim = 3, 5
    vae = tfpvae.VAE(D.standard_normal(3), enc, dec, posterior_flow=Conditional())
    z, log_q = vae.encode(tf.ones([2, 4])).experimental_sample_and_log_prob(7, seed=[1, 1])
    assert z.shape == (7, 2, 3) and log_q.shape == (7, 2)


def test_vae_shapes_sample_and_reconstruct():
    vae = mlp_vae((12,), latent_dim=2, hidden=(8,))
    assert vae.decode(tf.zeros([5, 2])).event_shape == (12,)
    many = vae.decode(tf.zeros([3, 5, 2]))
    assert many.batch_shape == (3, 5) and many.event_shape == (12,)
    assert vae.sample(4, seed=[0, 1]).mean().shape == (4, 12)
    assert vae.reconstruct(tf.zeros([6, 12]), seed=[0, 2]).mean().shape == (6, 12)
    with pytest.raises(ValueError, match="differs from the prior's event size"):
        tfpvae.VAE(D.standard_normal(3), vae.encoder, vae.decoder)


def test_conv_vae_and_gaussian_decoder():
    vae = conv_vae((8, 8, 1), latent_dim=2, filters=(4, 8), head=D.GaussianHead((8, 8, 1)))
    p = vae.decode(tf.zeros([3, 2]))
    assert p.event_shape == (8, 8, 1) and p.batch_shape == (3,)
    q = vae.encode(tf.zeros([3, 8, 8, 1]))
    assert q.event_shape == (2,)
    with pytest.raises(ValueError, match="divisible"):
        conv_vae((10, 10, 1), latent_dim=2, filters=(4, 8))


# ---------------------------------------------------------------- gallery models (issue 11)

def tutorial_cvae_networks(latent_dim=2):
    """The TF CVAE tutorial's two Sequentials, written as the tutorial writes them."""
    import keras

    encoder = keras.Sequential([
        keras.Input((28, 28, 1)),
        keras.layers.Conv2D(filters=32, kernel_size=3, strides=(2, 2), activation="relu"),
        keras.layers.Conv2D(filters=64, kernel_size=3, strides=(2, 2), activation="relu"),
        keras.layers.Flatten(),
        keras.layers.Dense(latent_dim + latent_dim)])
    decoder = keras.Sequential([
        keras.Input((latent_dim,)),
        keras.layers.Dense(units=7 * 7 * 32, activation="relu"),
        keras.layers.Reshape(target_shape=(7, 7, 32)),
        keras.layers.Conv2DTranspose(filters=64, kernel_size=3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2DTranspose(filters=32, kernel_size=3, strides=2, padding="same", activation="relu"),
        keras.layers.Conv2DTranspose(filters=1, kernel_size=3, strides=1, padding="same")])
    return encoder, decoder


@pytest.mark.parametrize("latent_dim", [2, 50])
def test_cvae_tutorial_matches_the_tutorial_model(latent_dim):
    from tfpvae.models import cvae_tutorial

    vae = cvae_tutorial(latent_dim)
    encoder, decoder = tutorial_cvae_networks(latent_dim)
    count = lambda vs: sum(int(np.prod(v.shape)) for v in vs)
    assert count(vae.trainable_variables) == count(encoder.trainable_weights) + count(decoder.trainable_weights)
    if latent_dim == 2:
        assert count(vae.trainable_variables) == 69_989
    ours = [tuple(w.shape) for w in vae.encoder.network.trainable_weights + vae.decoder.network.trainable_weights]
    assert ours == [tuple(w.shape) for w in encoder.trainable_weights + decoder.trainable_weights]
    # same weights -> same logits and the tutorial's log-variance reading of the encoder output
    for src, dst in zip(encoder.trainable_weights + decoder.trainable_weights,
                        vae.encoder.network.trainable_weights + vae.decoder.network.trainable_weights):
        dst.assign(src)
    x = tf.constant(np.random.default_rng(0).uniform(size=(3, 28, 28, 1)) > 0.5, tf.float32)
    z = tf.constant(np.random.default_rng(1).normal(size=(3, latent_dim)), tf.float32)
    np.testing.assert_allclose(vae.decode(z).distribution.logits, decoder(z), rtol=1e-5, atol=1e-5)
    raw = encoder(x).numpy().reshape(3, latent_dim, 2)  # our head reads (mean, logvar) interleaved
    q = vae.encode(x)
    np.testing.assert_allclose(q.mean(), raw[..., 0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(q.stddev(), np.exp(0.5 * raw[..., 1]), rtol=1e-5)


def test_conv_face_vae_shapes_and_heads():
    from tfpvae.models import conv_face_vae

    vae = conv_face_vae(latent_dim=16)
    x = tf.fill([2, 64, 64, 3], 128.0 / 255.0)
    assert vae.encode(x).event_shape == (16,)
    p = vae.decode(tf.zeros([2, 16]))
    assert p.event_shape == (64, 64, 3) and np.isfinite(p.log_prob(x)).all()
    conv_strides = [l.strides for l in vae.encoder.network.layers if isinstance(l, tf.keras.layers.Conv2D)]
    assert conv_strides == [(2, 2)] * 4
    gauss = conv_face_vae(latent_dim=8, head=D.GaussianHead((64, 64, 3), scale="shared"))
    assert gauss.decode(tf.zeros([1, 8])).event_shape == (64, 64, 3)


def test_gaussian_head_variants():
    mean = tf.constant([[0.0, 1.0], [2.0, -1.0]])
    x = tf.constant([[0.5, 1.0], [2.0, 0.0]])
    shared = D.GaussianHead((2,), scale="shared", init_scale=2.0, min_scale=0.0)
    assert shared.num_params == 2 and [v.name for v in shared.trainable_variables] == ["gaussian_log_scale:0"]
    expected = -0.5 * tf.reduce_sum((x - mean) ** 2, -1) / 4.0 - 2 * np.log(2.0 * np.sqrt(2 * np.pi))
    np.testing.assert_allclose(shared(mean).log_prob(x), expected, rtol=1e-5)
    per_pixel = D.GaussianHead((2,), scale="softplus", min_scale=0.0)
    assert per_pixel.num_params == 4 and not per_pixel.trainable_variables
    np.testing.assert_allclose(per_pixel(tf.constant([[0.0, 0.0, 0.0, 1.0]])).stddev(), [np.log1p(np.exp([0.0, 1.0]))],
                               rtol=1e-5)
    with pytest.raises(ValueError, match="GaussianHead: scale must be one of .*'shared' or a positive float"):
        D.GaussianHead((2,), scale="learned")
    vae = mlp_vae((2,), latent_dim=1, hidden=(3,), head=shared)  # the decoder's shared scale is a model parameter
    assert any(v is shared.log_scale for v in vae.trainable_variables)


def test_conv_vae_nearest_upsampling():
    vae = conv_vae((8, 8, 1), latent_dim=2, filters=(4, 8), upsampling="nearest")
    layers = vae.decoder.network.layers
    assert any(isinstance(l, tf.keras.layers.UpSampling2D) for l in layers)
    assert not any(isinstance(l, tf.keras.layers.Conv2DTranspose) for l in layers)
    assert vae.decode(tf.zeros([3, 2])).event_shape == (8, 8, 1)
