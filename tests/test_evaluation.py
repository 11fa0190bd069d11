"""Importance-sampled log-likelihood, the IWAE objective, the discretized logistic and bits/dim.

The reference model is linear-Gaussian, whose evidence is closed form:
p(z) = N(0, I), p(x|z) = N(Wz + b, sigma^2 I)  =>  p(x) = N(b, W W^T + sigma^2 I).
Monte Carlo tolerances are stated per test; all seeds are fixed, so the tests are deterministic.
"""

import gc
import math
import weakref

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae.distributions import BernoulliHead, GaussianHead
from tfpvae.distributions.discretized_logistic import DiscretizedLogistic, DiscretizedLogisticHead
from tfpvae.evaluation import bits_per_dim, discrete_num_values, evaluate_dataset, log_likelihood
from tfpvae.evaluation._decoder_log_prob import bernoulli_log_prob
from tfpvae.models import mlp_vae
from tfpvae.objectives import ELBO
from tfpvae.objectives.iwae import IWAE, IWAETerms, log_weights
from tfpvae.training import fit

tfd, tfb = tfp.distributions, tfp.bijectors


class LinearGaussian:
    """VAE-protocol model with a closed-form evidence. ``exact=True``: q is the true posterior (full
    covariance); otherwise a deliberately imperfect diagonal Gaussian (mean shifted by ``offset``, the
    posterior's marginal standard deviations times ``widen``; ``widen < ~1.5`` gives heavy-tailed weights)."""

    def __init__(self, exact=False, offset=1.0, widen=1.0, latent_dim=2, data_dim=3, sigma=0.5, posterior_flow=None):
        rng = np.random.default_rng(0)
        self.W, self.b, self.sigma = rng.normal(size=(data_dim, latent_dim)), rng.normal(size=data_dim), sigma
        self.latent_dim, self.exact, self.offset, self.widen, self.flow = (latent_dim, exact, offset, widen,
                                                                           posterior_flow)
        self.prior = tfd.Independent(tfd.Normal(tf.zeros(latent_dim), 1.0), 1)
        self.post_cov = np.linalg.inv(np.eye(latent_dim) + self.W.T @ self.W / sigma**2)
        self.encode_traces = 0

    def encode(self, x):
        self.encode_traces += 1  # Python side effect: counts traces (and eager calls)
        mean = tf.cast(tf.matmul(tf.cast(x, tf.float64) - self.b, self.post_cov @ self.W.T / self.sigma**2,
                                 transpose_b=True), tf.float32)
        if self.exact:
            return tfd.MultivariateNormalTriL(mean, tf.constant(np.linalg.cholesky(self.post_cov), tf.float32))
        sd = tf.constant(self.widen * np.sqrt(np.diag(self.post_cov)), tf.float32)
        q = tfd.Independent(tfd.Normal(mean + self.offset, sd), 1)
        return q if self.flow is None else tfd.TransformedDistribution(q, self.flow)

    def decode(self, z):
        loc = tf.einsum("...d,od->...o", z, tf.constant(self.W, tf.float32)) + tf.constant(self.b, tf.float32)
        return tfd.Independent(tfd.Normal(loc, self.sigma), 1)

    def log_evidence(self, x):
        cov = self.W @ self.W.T + self.sigma**2 * np.eye(len(self.b))
        return tfd.MultivariateNormalTriL(self.b, np.linalg.cholesky(cov)).log_prob(np.float64(x)).numpy()

    def data(self, n):
        rng = np.random.default_rng(1)
        z = rng.normal(size=(n, self.latent_dim))
        return (z @ self.W.T + self.b + self.sigma * rng.normal(size=(n, len(self.b)))).astype(np.float32)


def test_iwae_bound_rises_with_k_stays_below_and_approaches_log_evidence():
    m = LinearGaussian()
    x, reps = m.data(8), 100  # 8 points x 100 independent repetitions each
    gap = {}
    for k in (1, 10, 100, 1000):
        ll = log_likelihood(m, np.tile(x, (reps, 1)), num_samples=k, chunk_size=250, batch_size=800, seed=3)
        gap[k] = m.log_evidence(x)[None] - ll.numpy().reshape(reps, 8)  # >= 0 in expectation
    se = {k: g.std() / math.sqrt(g.size) for k, g in gap.items()}
    for k, k_next in ((1, 10), (10, 100), (100, 1000)):  # rises: each step by more than 2 standard errors
        assert gap[k].mean() - gap[k_next].mean() > 2 * math.hypot(se[k], se[k_next]), (k, gap[k].mean())
    for k in gap:  # never above log p(x) beyond 3 standard errors
        assert gap[k].mean() > -3 * se[k], (k, gap[k].mean(), se[k])
    assert gap[1].mean() > 1.0 and gap[1000].mean() < 0.15  # approaches: from > 1 nat to < 0.15 nats


@pytest.mark.parametrize("k,chunk", [(1, 100), (1000, 300)])
def test_exact_posterior_gives_log_evidence_for_any_k_and_chunking(k, chunk):
    m = LinearGaussian(exact=True)
    x = m.data(6)
    ll = log_likelihood(m, x, num_samples=k, chunk_size=chunk, seed=0).numpy()
    np.testing.assert_allclose(ll, m.log_evidence(x), atol=1e-3)  # every log-weight equals log p(x)


def test_large_k_in_chunks_is_finite_without_overflow():
    m = LinearGaussian(offset=0.5, widen=2.0)  # q wider than p(z|x): finite-variance weights
    x = np.concatenate([m.data(3), np.full((1, 3), 300.0, np.float32)])  # last: log-weights ~ -1e5
    ll = log_likelihood(m, x, num_samples=20000, chunk_size=5000, seed=1).numpy()
    exact = m.log_evidence(x)
    assert np.all(np.isfinite(ll)) and exact[-1] < -1e4
    np.testing.assert_allclose(ll[:3], exact[:3], atol=0.02)
    np.testing.assert_allclose(ll[-1], exact[-1], rtol=1e-3)


def test_chunks_combine_as_one_log_mean_exp_and_chunk_size_is_statistically_neutral():
    m, x, seed = LinearGaussian(), LinearGaussian().data(4), tf.constant([5, 7], tf.int32)
    sub = tf.random.experimental.stateless_fold_in(seed, 0)  # sub-batch 0, then chunk c
    lw = tf.concat([log_weights(m, x, 50, tf.random.experimental.stateless_fold_in(sub, c)) for c in range(4)], 0)
    expected = tf.reduce_logsumexp(lw, 0) - math.log(200.0)
    got = log_likelihood(m, x, num_samples=200, chunk_size=50, seed=seed)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-5)
    xr = np.tile(x, (100, 1))  # different chunk sizes: same distribution (means within 4 standard errors)
    runs = [log_likelihood(m, xr, num_samples=300, chunk_size=c, batch_size=400, seed=9).numpy() for c in (300, 64)]
    diff = runs[0] - runs[1]
    assert abs(diff.mean()) < 4 * diff.std() / math.sqrt(diff.size)


def test_iwae_objective_with_one_sample_is_the_monte_carlo_elbo():
    m = LinearGaussian(offset=0.5)
    x = np.tile(m.data(8), (200, 1))
    iwae, seed = IWAE(num_samples=1)(m, x, seed=[1, 2]), tf.constant([1, 2])
    assert isinstance(iwae, IWAETerms) and iwae.elbo.shape == [1600]
    mc = ELBO(kl="monte_carlo")(m, x, seed=seed)
    np.testing.assert_allclose(iwae.elbo.numpy(), mc.elbo.numpy(), rtol=1e-5, atol=1e-4)  # same draws
    np.testing.assert_allclose(iwae.loss.numpy(), -iwae.elbo.numpy())
    analytic = ELBO(kl="analytic")(m, x, seed=[3, 4]).elbo.numpy()  # in expectation, other draws
    diff = iwae.elbo.numpy() - analytic
    assert abs(diff.mean()) < 4 * diff.std() / math.sqrt(diff.size)
    assert IWAE(5)(m, x, seed=seed).elbo.numpy().mean() > iwae.elbo.numpy().mean()


class _ForwardOnlyFlow(tfb.Bijector):
    """An affine posterior flow that cannot be inverted: proves log q comes from the sampling pass."""

    def __init__(self):
        super().__init__(forward_min_event_ndims=1, name="forward_only")
        self.log_scale = tf.Variable([0.3, -0.2])

    def _forward(self, x):
        return x * tf.exp(self.log_scale)

    def _forward_log_det_jacobian(self, x):
        return tf.reduce_sum(self.log_scale) * tf.ones(tf.shape(x)[:-1])

    def _inverse(self, y):
        raise AssertionError("the posterior flow was inverted")


def test_flow_posterior_is_sampled_never_inverted():
    flow = _ForwardOnlyFlow()
    m = LinearGaussian(posterior_flow=flow)
    x = m.data(5)
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(IWAE(num_samples=4)(m, x, seed=[0, 1]).loss)
    assert np.isfinite(loss.numpy()) and tape.gradient(loss, flow.log_scale) is not None
    ll = log_likelihood(m, x, num_samples=64, chunk_size=16, seed=2).numpy()
    assert np.all(np.isfinite(ll)) and np.all(ll <= m.log_evidence(x) + 0.5)


def test_iwae_trains_a_tiny_vae_through_fit():
    bits = np.random.default_rng(0).random((64, 12)) < np.linspace(0.1, 0.9, 12)
    data = tf.data.Dataset.from_tensor_slices(bits.astype(np.float32)).batch(16)
    vae = mlp_vae((12,), latent_dim=2, hidden=(16,))
    state = fit(vae, IWAE(num_samples=5), data, epochs=6, optimizer=keras.optimizers.Adam(1e-2), seed=0)
    losses = [h["train"]["loss"] for h in state.history]
    assert set(state.history[0]["train"]) == {"loss", "elbo"}
    assert losses[-1] < losses[0] - 0.3, losses


def test_evaluate_dataset_traces_once_and_reports():
    m = LinearGaussian(exact=True)
    x = m.data(10)
    ds = tf.data.Dataset.from_tensor_slices((x, np.zeros(10))).batch(4)  # (x, y); batches 4, 4, 2
    out = evaluate_dataset(m, ds, num_samples=30, chunk_size=16, seed=0)
    assert m.encode_traces == 1  # one trace for 3 batches (ragged) x 2 chunks
    assert out["num_examples"] == 10 and out["num_samples"] == 30 and out["seconds"] > 0
    assert out["nll"] == pytest.approx(-m.log_evidence(x).mean(), abs=1e-3)
    assert "bits_per_dim" not in out  # a Gaussian density: no bits/dim



# --- speed paths: XLA, blocks, the Bernoulli likelihood, the cache (same numbers as the plain path) ---

def _small_vae():
    keras.utils.set_random_seed(0)
    vae = mlp_vae((12,), latent_dim=3, hidden=(16,))
    bits = (np.random.default_rng(0).random((40, 12)) < np.linspace(0.1, 0.9, 12)).astype(np.float32)
    return vae, bits


def test_xla_blocks_and_chunks_give_the_plain_estimate():
    vae, x = _small_vae()
    # chunks of 100 x batch 40 = 4000 rows: the XLA path decodes blocks of 25 samples (1000 rows) in a loop.
    # The draws are TensorFlow's either way, so XLA (which also bounds the plain path's IWAE ordering and
    # log-evidence bound tested above) changes the estimate by float rounding only.
    plain = log_likelihood(vae, x, num_samples=200, chunk_size=100, batch_size=40, seed=4, jit_compile=False)
    xla = log_likelihood(vae, x, num_samples=200, chunk_size=100, batch_size=40, seed=4, jit_compile=True)
    np.testing.assert_allclose(xla.numpy(), plain.numpy(), rtol=0, atol=1e-4)
    # one chunk or several, sub-batches or not: the same distribution (means within 4 standard errors)
    xr = np.tile(x, (20, 1))
    one = log_likelihood(vae, xr, num_samples=200, chunk_size=200, batch_size=800, seed=5, jit_compile=True).numpy()
    many = log_likelihood(vae, xr, num_samples=200, chunk_size=40, batch_size=100, seed=6, jit_compile=True).numpy()
    diff = one - many
    assert abs(diff.mean()) < 4 * diff.std() / math.sqrt(diff.size), (diff.mean(), diff.std())


def test_xla_chunks_combine_as_one_log_mean_exp():
    m, x, seed = LinearGaussian(), LinearGaussian().data(4), tf.constant([5, 7], tf.int32)
    sub = tf.random.experimental.stateless_fold_in(seed, 0)
    lw = tf.concat([log_weights(m, x, 64, tf.random.experimental.stateless_fold_in(sub, c)) for c in range(3)]
                   + [log_weights(m, x, 8, tf.random.experimental.stateless_fold_in(sub, 3))], 0)
    expected = tf.reduce_logsumexp(lw, 0) - math.log(200.0)  # 3 chunks of 64 and a last one of 8
    got = log_likelihood(m, x, num_samples=200, chunk_size=64, seed=seed, jit_compile=True)
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=0, atol=1e-4)


def test_bernoulli_likelihood_matches_tfp():
    rng = np.random.default_rng(2)
    logits = np.concatenate([rng.normal(0, 3, (50, 10)), rng.normal(0, 40, (50, 10))]).astype(np.float32)
    for x in (rng.random((100, 10)) < 0.5, rng.random((100, 10))):  # binary data and intensities (the head: float32)
        x = x.astype(np.float32)
        want = tfd.Independent(tfd.Bernoulli(logits=logits, dtype=tf.float32), 1).log_prob(x).numpy()
        got = bernoulli_log_prob(tf.constant(logits), tf.constant(x), 1).numpy()
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-5)  # ~1e-7 per dimension
    inf = np.array([[np.inf, -np.inf, 0.0]], np.float32)
    for x in ([[1.0, 0.0, 1.0]], [[0.0, 0.0, 1.0]]):  # infinite logits: 0 or -inf, never NaN
        want = tfd.Independent(tfd.Bernoulli(logits=inf, dtype=tf.float32), 1).log_prob(x).numpy()
        np.testing.assert_array_equal(bernoulli_log_prob(tf.constant(inf), tf.constant(x), 1).numpy(), want)


def test_log_likelihood_compiles_once_per_model_and_settings():
    m = LinearGaussian(exact=True)
    x = m.data(6)
    for seed in (0, 1):
        log_likelihood(m, x, num_samples=20, chunk_size=8, seed=seed)
    assert m.encode_traces == 1  # the second call reuses the first one's trace
    log_likelihood(m, x, num_samples=30, chunk_size=8, seed=0)
    assert m.encode_traces == 2  # other settings: one more
    ref = weakref.ref(m)
    del m
    gc.collect()
    assert ref() is None  # the cache does not keep the model alive
    with pytest.raises(ValueError, match="jit_compile"):
        log_likelihood(LinearGaussian(), x, num_samples=2, jit_compile="yes")

# --- discretized logistic ------------------------------------------------------------------------

GRID = np.arange(256, dtype=np.float32) / 255.0


def _brute_force(x, loc, scale, w=1 / 255):
    """float64 CDF difference (edges take the tails); survival functions above loc to avoid cancellation."""
    x, loc, scale = np.broadcast_arrays(*(np.float64(v) for v in (x, loc, scale)))
    cdf = lambda t: 1 / (1 + np.exp(-(t - loc) / scale))  # noqa: E731
    sf = lambda t: 1 / (1 + np.exp((t - loc) / scale))  # noqa: E731
    top, bottom = x >= 1 - w / 2, x <= w / 2
    by_cdf = np.where(top, 1.0, cdf(x + w / 2)) - np.where(bottom, 0.0, cdf(x - w / 2))
    by_sf = np.where(bottom, 1.0, sf(x - w / 2)) - np.where(top, 0.0, sf(x + w / 2))
    return np.log(np.where(x > loc, by_sf, by_cdf))


def test_discretized_logistic_sums_to_one_and_matches_brute_force():
    loc = np.array([0.5, 0.0, 1.0, 0.3, 7.0, -3.0, 0.5], np.float32)
    scale = np.array([0.1, 0.02, 0.5, 1e-6, 0.5, 0.2, 30.0], np.float32)
    lp = DiscretizedLogistic(loc, scale).log_prob(GRID[:, None]).numpy()  # [256, 7]
    np.testing.assert_allclose(np.exp(lp).sum(0), 1.0, rtol=1e-5)
    moderate = slice(0, 3)
    np.testing.assert_allclose(lp[:, moderate], _brute_force(np.float64(GRID[:, None]), loc[moderate], scale[moderate]),
                               rtol=1e-4, atol=1e-4)
    # TFP's quantization uses bins (k - 1, k]: centred bins need loc - 1/2 (on the integer scale)
    q = tfd.QuantizedDistribution(tfd.Logistic(loc[moderate] * 255 - 0.5, scale[moderate] * 255), low=0.0, high=255.0)
    np.testing.assert_allclose(lp[:, moderate], q.log_prob(GRID[:, None] * 255).numpy(), rtol=1e-3, atol=1e-3)


def test_discretized_logistic_extreme_parameters_are_finite_and_accurate():
    loc = tf.constant([5.0, -4.0, 0.3017, 0.5, 1e4], tf.float32)
    scale = tf.constant([0.01, 0.02, 1e-7, 1e3, 1e-3], tf.float32)
    x = tf.constant([128, 128, 179, 51, 0], tf.float32) / 255.0  # lattice points
    with tf.GradientTape() as tape:
        tape.watch([loc, scale])
        lp = DiscretizedLogistic(loc, scale).log_prob(x)
    grads = tape.gradient(lp, [loc, scale])
    assert np.all(np.isfinite(lp.numpy())) and all(np.all(np.isfinite(g.numpy())) for g in grads)
    # where float64 still resolves the CDF difference (exponents > -700), agree with it
    ref = _brute_force(np.float64(x.numpy()[:2]), np.float64(loc.numpy()[:2]), np.float64(scale.numpy()[:2]))
    np.testing.assert_allclose(lp.numpy()[:2], ref, rtol=1e-5)  # about -450 and -225 nats
    np.testing.assert_allclose(lp.numpy()[3], math.log(1 / 255 / 1e3 / 4), rtol=1e-3)  # flat: width * pdf(0)
    assert lp.numpy()[2] < -1e5 and lp.numpy()[4] < -1e6


def test_discretized_logistic_support_sampling_and_rescaling():
    d = DiscretizedLogistic([0.3, 0.6], [0.05, 0.2])
    assert np.all(d.log_prob([[-0.01, 1.01]]).numpy() == -np.inf)  # 0..255 data in a [0, 1] model: fails loudly
    s = d.sample(20000, seed=[0, 1]).numpy()
    assert np.allclose(s * 255, np.round(s * 255), atol=1e-3) and s.min() >= 0 and s.max() <= 1
    np.testing.assert_allclose(s.mean(0), d.mean().numpy(), atol=0.01)
    ints = DiscretizedLogistic([0.3 * 255, 0.6 * 255], [0.05 * 255, 0.2 * 255], data_range=(0, 255))
    np.testing.assert_allclose(ints.log_prob(GRID[:, None] * 255).numpy(), d.log_prob(GRID[:, None]).numpy(),
                               rtol=1e-5, atol=1e-6)  # a mass: relabelling the values changes nothing


@pytest.mark.parametrize("components", [1, 3])
def test_discretized_logistic_head(components):
    head = DiscretizedLogisticHead((2, 2, 1), num_components=components)
    assert head.num_params == 4 * (2 if components == 1 else 3 * components)
    dist = head(tf.random.stateless_normal([5, head.num_params], seed=[0, 3]) * 2.0)
    assert dist.batch_shape == [5] and dist.event_shape == [2, 2, 1]
    total = tf.reduce_logsumexp(head(tf.zeros([1, head.num_params])).distribution.log_prob(
        tf.reshape(GRID, [256, 1, 1, 1, 1])), axis=0)  # per dimension, over all 256 values
    np.testing.assert_allclose(total.numpy(), 0.0, atol=1e-5)
    assert np.all(np.isfinite(dist.log_prob(dist.sample(seed=[1, 1])).numpy()))
    with pytest.raises(ValueError, match="DiscretizedLogisticHead"):
        head(tf.zeros([2, head.num_params + 1]))


# --- bits per dimension --------------------------------------------------------------------------

def test_bits_per_dim_arithmetic_and_accepted_likelihoods():
    head = DiscretizedLogisticHead((4,))
    nll = 3.0 * 4 * math.log(2)
    assert bits_per_dim(nll, 4, likelihood=head) == pytest.approx(3.0)
    assert bits_per_dim(nll, 4, likelihood=head(tf.zeros([1, 8]))) == pytest.approx(3.0)
    model = mlp_vae((4,), latent_dim=2, hidden=(8,), head=head)
    assert discrete_num_values(model) == 256
    assert float(bits_per_dim(tf.constant(nll), 4, likelihood=model)) == pytest.approx(3.0)
    assert bits_per_dim(0.0, 10, likelihood="dequantized", data_scale=1 / 256) == pytest.approx(8.0)


def test_bits_per_dim_refuses_likelihoods_that_are_not_8_bit_masses():
    for likelihood in (BernoulliHead((4,)), tfd.Bernoulli(logits=0.0), mlp_vae((4,), latent_dim=2, hidden=(8,)),
                       GaussianHead((4,)), DiscretizedLogisticHead((4,), num_bins=16)):
        with pytest.raises(ValueError, match="not a probability mass over the 256 values"):
            bits_per_dim(100.0, 4, likelihood=likelihood)
    with pytest.raises(ValueError, match="no scaling correction"):
        bits_per_dim(100.0, 4, likelihood=DiscretizedLogisticHead((4,)), data_scale=1 / 255)


def test_bad_arguments_raise():
    m = LinearGaussian()
    with pytest.raises(ValueError, match="num_samples"):
        log_likelihood(m, m.data(2), num_samples=0)
    with pytest.raises(ValueError, match="num_samples"):
        IWAE(num_samples=0)
    with pytest.raises(ValueError, match="expected trailing"):
        log_weights(mlp_vae((4,), latent_dim=2, hidden=(8,)), tf.zeros([2, 5]), 3, seed=[0, 0])
