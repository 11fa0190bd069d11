"""Mixture priors: the matrix-product density equals TFP's MixtureSameFamily, samples have the
mixture's moments, the VampPrior follows its encoder and trains its pseudo-inputs, and the ELBO
with these priors is a bound on a model whose evidence is exact."""

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from helpers import linear_gaussian_data, linear_gaussian_vae
from tfpvae import models
from tfpvae.distributions import DiagonalNormalMixture, mixture_of_gaussians, standard_normal, vamp_prior
from tfpvae.objectives import ELBO
from tfpvae.runs import RunConfig, build_model
from tfpvae.training import trainable_variables

tfd = tfp.distributions


def _fixed_mixture(k=7, d=5, seed=0, scale_range=(0.05, 2.0)):
    rng = np.random.default_rng(seed)
    loc = tf.constant(rng.normal(size=(k, d)) * 2, tf.float32)
    scale = tf.constant(rng.uniform(*scale_range, size=(k, d)), tf.float32)
    logits = tf.constant(rng.normal(size=k), tf.float32)
    ours = DiagonalNormalMixture(lambda: (loc, scale, logits), d, k)
    ref = tfd.MixtureSameFamily(tfd.Categorical(logits=logits), tfd.Independent(tfd.Normal(loc, scale), 1))
    return ours, ref


@pytest.mark.parametrize("shape", [(5,), (3, 5), (2, 4, 5)])
def test_log_prob_equals_mixture_same_family(shape):
    ours, ref = _fixed_mixture()
    # points near components (small scales, where the expanded square could cancel) and far from them
    z = tf.concat([ref.sample(shape[:-1] or (), seed=[1, 2])[tf.newaxis],
                   3 * tf.random.stateless_normal((1, *shape), seed=[3, 4])], 0)
    np.testing.assert_allclose(ours.log_prob(z).numpy(), ref.log_prob(z).numpy(), rtol=1e-4, atol=2e-3)
    assert ours.log_prob(z).shape == z.shape[:-1]


def test_one_standard_component_is_the_standard_normal():
    d = 4
    p = DiagonalNormalMixture(lambda: (tf.zeros([1, d]), tf.ones([1, d]), tf.zeros([1])), d, 1)
    z = tf.random.stateless_normal([10, d], seed=[0, 1])
    np.testing.assert_allclose(p.log_prob(z).numpy(), standard_normal(d).log_prob(z).numpy(), rtol=1e-5, atol=1e-5)


def test_samples_have_the_mixture_moments():
    ours, ref = _fixed_mixture(k=3, d=2, scale_range=(0.5, 1.0))
    s = ours.sample(40000, seed=[5, 6]).numpy()
    assert s.shape == (40000, 2)
    np.testing.assert_allclose(s.mean(0), ref.mean().numpy(), atol=0.05)
    np.testing.assert_allclose(s.std(0), np.sqrt(ref.variance().numpy()), rtol=0.03)
    np.testing.assert_allclose(ours.mean().numpy(), ref.mean().numpy(), atol=1e-5)
    np.testing.assert_array_equal(ours.sample(3, seed=[1, 1]).numpy(), ours.sample(3, seed=[1, 1]).numpy())


def test_wrong_latent_width_is_named():
    ours, _ = _fixed_mixture(d=5)
    with pytest.raises(ValueError, match="DiagonalNormalMixture.*z has width 4, expected 5"):
        ours.log_prob(tf.zeros([2, 4]))
    bad = DiagonalNormalMixture(lambda: (tf.zeros([3, 5]), tf.ones([3, 5]), tf.zeros([3])), 5, 4)
    with pytest.raises(ValueError, match="component loc has shape \\(3, 5\\), expected \\(4, 5\\)"):
        bad.log_prob(tf.zeros([2, 5]))
    with pytest.raises(ValueError, match="vamp_prior: pseudo_inputs must be"):
        vamp_prior(lambda x: x, tf.zeros([784]))


def test_vamp_prior_is_the_mixture_of_encoder_posteriors_and_trains_its_pseudo_inputs():
    vae = models.mlp_vae((12,), latent_dim=3, hidden=(8,))
    u = tf.random.stateless_uniform([6, 12], seed=[0, 1])
    vae.prior = vamp_prior(vae.encoder, u)
    z = tf.random.stateless_normal([4, 3], seed=[2, 3])
    q = vae.encoder(u)
    expected = tf.reduce_logsumexp(q.log_prob(z[:, tf.newaxis]), axis=1) - np.log(6.0)
    np.testing.assert_allclose(vae.prior.log_prob(z).numpy(), expected.numpy(), rtol=1e-4, atol=1e-4)
    variables = trainable_variables(vae)
    assert sum(v is vae.prior.pseudo_inputs for v in variables) == 1
    assert len({id(v) for v in variables}) == len(variables)
    with tf.GradientTape() as tape:
        loss = -tf.reduce_mean(vae.prior.log_prob(z))
    grads = tape.gradient(loss, [vae.prior.pseudo_inputs, vae.encoder.network.trainable_variables[0]])
    assert all(g is not None and float(tf.reduce_max(tf.abs(g))) > 0 for g in grads)


@pytest.mark.parametrize("make_prior", ["mog", "vamp"])
def test_elbo_with_mixture_prior_is_below_exact_log_evidence(make_prior):
    vae, dec = linear_gaussian_vae()
    prior = (mixture_of_gaussians(vae.latent_dim, 4, seed=1) if make_prior == "mog"
             else vamp_prior(vae.encoder, tf.random.stateless_normal([5, 3], seed=[1, 1])))
    vae.prior = prior
    x = linear_gaussian_data(dec, n=64)
    terms = tf.function(lambda x: ELBO(num_samples=256)(vae, x, seed=[1, 2]))(x)
    # exact evidence of the model with this prior: log p(x) = log sum_k w_k N(x; W mu_k + b, W S_k W^T + s^2 I)
    loc, scale, logits = prior.components()
    cov = (tf.einsum("ij,kj,lj->kil", dec.W, tf.square(scale), dec.W) + dec.sigma**2 * tf.eye(dec.W.shape[0]))
    marginal = tfd.MixtureSameFamily(tfd.Categorical(logits=logits),
                                     tfd.MultivariateNormalTriL(tf.linalg.matvec(dec.W, loc) + dec.b,
                                                                tf.linalg.cholesky(cov)))
    log_px = marginal.log_prob(x).numpy()
    assert np.all(terms.elbo.numpy() <= log_px + 0.1)  # 256 Monte Carlo draws of both terms
    assert np.mean(log_px - terms.elbo.numpy()) > 0


def test_run_config_builds_each_prior():
    for name, kind in (("normal", tfd.Independent), ("mog", DiagonalNormalMixture), ("vamp", DiagonalNormalMixture)):
        vae = build_model(RunConfig(event_shape=(20,), latent_dim=3, hidden=(8,), prior=name, prior_components=7))
        assert isinstance(vae.prior, kind)
        assert vae.prior.log_prob(tf.zeros([2, 3])).shape == (2,)
    with pytest.raises(ValueError, match="prior must be one of"):
        RunConfig(prior="flow")
