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

    with pytest.raises(ValueError, match="context of width context_dim = 4, but the encoder emits a context of width 5"):
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
