"""The KL weight: the cyclical schedule's values, free bits, active units and the collapse warning."""

import warnings

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae import VAE, distributions as D
from tfpvae.evaluation import ActiveUnits, PosteriorCollapseWarning, active_units, warn_if_collapsed
from tfpvae.objectives import ELBO, cyclical
from tfpvae.objectives.elbo import free_bits_kl

tfd = tfp.distributions


# ---------------------------------------------------------------- cyclical schedule (Fu et al. 2019)

def test_cyclical_hits_its_stated_values():
    beta = cyclical(100, ratio=0.5, final=1.0)
    steps = [0, 10, 25, 49, 50, 75, 99, 100, 110, 150, 1000, 1025]
    expected = [0.0, 0.2, 0.5, 0.98, 1.0, 1.0, 1.0, 0.0, 0.2, 1.0, 0.0, 0.5]
    np.testing.assert_allclose([float(beta(s)) for s in steps], expected, atol=1e-6)


def test_cyclical_final_ratio_and_number_of_cycles():
    beta = cyclical(40, ratio=0.25, final=0.5, num_cycles=3)
    np.testing.assert_allclose([float(beta(s)) for s in (0, 5, 10, 39, 40, 45, 119, 120, 125, 10_000)],
                               [0.0, 0.25, 0.5, 0.5, 0.0, 0.25, 0.5, 0.5, 0.5, 0.5], atol=1e-6)
    assert beta.config == {"kind": "cyclical", "period_steps": 40, "ratio": 0.25, "final": 0.5, "num_cycles": 3}
    traced = tf.function(lambda s: beta(s))
    assert float(traced(tf.constant(45, tf.int64))) == pytest.approx(0.25)  # a step tensor, as fit passes it


@pytest.mark.parametrize("kwargs, match", [({"period_steps": 0}, "period_steps"),
                                           ({"period_steps": 10, "ratio": 0.0}, "ratio"),
                                           ({"period_steps": 10, "num_cycles": 0}, "num_cycles")])
def test_cyclical_rejects_bad_settings(kwargs, match):
    with pytest.raises(ValueError, match=f"cyclical: {match}"):
        cyclical(**kwargs)


# ---------------------------------------------------------------- free bits (Kingma et al. 2016)

class ScaledEncoder(tf.Module):
    """q(z|x) = N(w * x, diag(exp(log_s))) for scalar x: each dimension's KL is known in closed form."""

    def __init__(self):
        self.w = tf.Variable([3.0, 0.01, 1.0, 1.5])
        self.log_s = tf.Variable([-1.0, -0.3, -0.5, -0.2])
        self.latent_dim = 4

    def __call__(self, x):
        return tfd.Independent(tfd.Normal(x * self.w, tf.exp(self.log_s) * tf.ones_like(x)), 1)

    def kl_per_dim(self, x):  # KL(N(m, s^2) || N(0, 1)) = (m^2 + s^2 - 1) / 2 - log s
        m, s = x * self.w.numpy(), np.exp(self.log_s.numpy())
        return 0.5 * (m**2 + s**2 - 1) - np.log(s)


def ignore_dim_1(z):  # p(x|z) = N(z_0 + z_2 / 2 + z_3 / 4, 1): the decoder never reads z_1
    return tfd.Independent(tfd.Normal(z[:, 0:1] + 0.5 * z[:, 2:3] + 0.25 * z[:, 3:4], 1.0), 1)


@pytest.fixture
def setup():
    enc = ScaledEncoder()
    vae = VAE(D.standard_normal(4), enc, ignore_dim_1)
    x = tf.constant(np.random.default_rng(0).normal(size=(64, 1)), tf.float32)
    return vae, enc, x


def test_free_bits_floor_each_dimension_and_leave_the_bound(setup):
    vae, enc, x = setup
    lam = 0.5
    plain = ELBO(kl="analytic")(vae, x, seed=3)
    free = ELBO(kl="analytic", free_bits=lam)(vae, x, seed=3)
    for field in ("elbo", "log_likelihood", "kl"):  # the reported bound is the true one
        np.testing.assert_array_equal(getattr(free, field), getattr(plain, field))
    batch_kl = enc.kl_per_dim(x.numpy()).mean(0)
    assert batch_kl[1] < lam < min(batch_kl[[0, 2, 3]])  # dimension 1 under the floor, the others above
    expected = -plain.log_likelihood.numpy().mean() + np.maximum(lam, batch_kl).sum()
    np.testing.assert_allclose(free.loss.numpy().mean(), expected, rtol=1e-5)
    assert free.loss.numpy().mean() > plain.loss.numpy().mean()


def test_free_bits_stop_the_gradient_of_floored_dimensions(setup):
    vae, enc, x = setup

    def grads(objective):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(objective(vae, x, seed=3).loss)
        return [g.numpy() for g in tape.gradient(loss, [enc.w, enc.log_s])]

    (gw, gs), (fw, fs) = grads(ELBO(kl="analytic")), grads(ELBO(kl="analytic", free_bits=0.5))
    assert abs(gs[1]) > 1e-2 and fw[1] == 0.0 and fs[1] == 0.0  # dim 1 (KL < 0.5 nats) is left alone
    np.testing.assert_allclose(fw[[0, 2, 3]], gw[[0, 2, 3]], rtol=1e-5)  # the others see the usual gradient
    np.testing.assert_allclose(fs[[0, 2, 3]], gs[[0, 2, 3]], rtol=1e-5)


def test_free_bits_groups_and_monte_carlo_per_dimension_kl(setup):
    vae, enc, x = setup
    kl = enc.kl_per_dim(x.numpy())
    lam = 2.0
    grouped = ELBO(kl="analytic", free_bits=lam, free_bits_groups=2)(vae, x, seed=3)
    groups = kl.reshape(64, 2, 2).sum(-1).mean(0)  # dims {0, 1} and {2, 3}
    expected = -grouped.log_likelihood.numpy().mean() + np.maximum(lam, groups).sum()
    np.testing.assert_allclose(grouped.loss.numpy().mean(), expected, rtol=1e-5)
    total = ELBO(kl="analytic", free_bits=10.0, free_bits_groups=1)(vae, x, seed=3)
    assert total.loss.numpy().mean() == pytest.approx(-total.log_likelihood.numpy().mean()
                                                      + max(10.0, kl.sum(1).mean()), rel=1e-5)
    # MC per-dimension KL, 4000 samples per example (seeded): per-example KL within 0.15 nats of the
    # closed form (MC std ~0.03), batch mean within 1%, and the free-bits loss from the MC terms
    mc = ELBO(kl="monte_carlo", num_samples=4000, free_bits=0.5)(vae, x, seed=3)
    np.testing.assert_allclose(mc.kl, kl.sum(1), atol=0.15)
    assert mc.kl.numpy().mean() == pytest.approx(kl.sum(1).mean(), rel=0.01)
    expected_mc = -mc.log_likelihood.numpy().mean() + np.maximum(0.5, kl.mean(0)).sum()
    assert mc.loss.numpy().mean() == pytest.approx(expected_mc, rel=0.01)


def test_free_bits_kl_spreads_the_batch_objective_over_examples():
    kl = tf.constant([[0.1, 3.0], [0.3, 1.0], [0.2, 2.0]])
    terms = free_bits_kl(kl, 0.5).numpy()
    np.testing.assert_allclose(terms, [0.5 + 3.0, 0.5 + 1.0, 0.5 + 2.0])
    assert terms.mean() == pytest.approx(max(0.5, 0.2) + max(0.5, 2.0))


def test_free_bits_errors_name_the_problem(setup):
    vae, _, x = setup
    with pytest.raises(ValueError, match="ELBO: free_bits_groups=3 must divide latent_dim=4"):
        ELBO(free_bits=0.1, free_bits_groups=3)(vae, x, seed=0)
    with pytest.raises(ValueError, match="free_bits must be None or a float >= 0"):
        ELBO(free_bits=-1.0)
    mixture = VAE(D.mixture_of_gaussians(4, 3), vae.encoder, ignore_dim_1)
    with pytest.raises(ValueError, match="per-dimension KL needs a factorised posterior and prior"):
        ELBO(free_bits=0.1)(mixture, x, seed=0)
    terms = ELBO(free_bits=0.1, free_bits_groups=1)(mixture, x, seed=0)  # the total KL has no such need
    assert terms.loss.shape == (64,)


# ---------------------------------------------------------------- active units (Burda et al.)

class LinearMeanEncoder(tf.Module):
    """E_q[z|x] = x A + c: Var_x of each mean is known for fixed data."""

    def __init__(self):
        self.A = tf.constant(np.diag([1.0, 0.05, 0.2, 0.0]), tf.float32)
        self.latent_dim = 4

    def __call__(self, x):
        return tfd.Independent(tfd.Normal(x @ self.A + 7.0, 0.3), 1)


def test_active_units_counts_dimensions_with_varying_means():
    x = np.random.default_rng(1).normal(size=(1000, 4)).astype(np.float32)
    vae = VAE(D.standard_normal(4), LinearMeanEncoder(), lambda z: tfd.Independent(tfd.Normal(z, 1.0), 1))
    units = active_units(vae, x)
    expected = x.astype(np.float64).var(0) * np.array([1.0, 0.05, 0.2, 0.0]) ** 2  # ~ [1, 0.0025, 0.04, 0]
    np.testing.assert_allclose(units.variances, expected, rtol=1e-5, atol=1e-9)
    assert units.count == 2 and units.active.tolist() == [True, False, True, False]
    batched = active_units(vae, tf.data.Dataset.from_tensor_slices((x, np.zeros(1000))).batch(128))
    np.testing.assert_allclose(batched.variances, units.variances, rtol=1e-6, atol=1e-12)
    assert active_units(vae, x, threshold=0.001).count == 3


def test_collapse_warning():
    collapsed = ActiveUnits(0, np.zeros(8), np.zeros(8, bool), 0.01)
    with pytest.warns(PosteriorCollapseWarning, match="after epoch 4: 0 of 8 latent dimensions are active"):
        assert warn_if_collapsed(collapsed, epoch=4)
    healthy = ActiveUnits(3, np.ones(8), np.ones(8, bool), 0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert not warn_if_collapsed(healthy)
    with pytest.warns(PosteriorCollapseWarning):
        assert warn_if_collapsed(healthy, min_active=4)


def test_free_bits_compile_inside_fit(setup):
    """Per-dimension free bits traced a symbolic `reinterpreted_batch_ndims == 1` and failed in fit."""
    import keras

    import tfpvae

    vae, _, x = setup
    lam = 0.5
    eager = ELBO(kl="analytic", free_bits=lam)(vae, x, seed=3).loss
    traced = tf.function(lambda x: ELBO(kl="analytic", free_bits=lam)(vae, x, seed=3).loss)(x)
    np.testing.assert_allclose(traced.numpy(), eager.numpy(), rtol=1e-6)
    state = tfpvae.fit(vae, ELBO(free_bits=lam), tf.data.Dataset.from_tensors(x), epochs=2,
                       optimizer=keras.optimizers.Adam(1e-3))
    assert all(np.isfinite(h["train"]["loss"]) for h in state.history)
