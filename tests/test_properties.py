"""Property-based tests (hypothesis) of the heads, `make_dataset` and the ELBO (issue 13).

Over shapes, dtypes and parameter ranges, each call gives either a correct, finite result (checked
against a closed form or an invariant) or one of the documented errors (a ValueError naming the
component), never a crash and never a silent NaN. Examples are few (`max_examples` 12-25) and
derandomized (the same examples every run), so the file runs in well under a minute on 2 cores.
"""

import functools
import math
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from hypothesis import HealthCheck, assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from tfpvae import ELBO, IWAE, data  # noqa: E402
from tfpvae.distributions import (LOG_VAR_RANGE, SCALE_RANGE, BernoulliHead, DiagonalNormalHead,  # noqa: E402
                                  DiscretizedLogisticHead, GaussianHead, HeteroscedasticNormalHead,
                                  LearnedScaleNormalHead, NormalHead, standard_normal)
from tfpvae.distributions.discretized_logistic import MAX_LOG_SCALE, DiscretizedLogistic  # noqa: E402
from tfpvae.models import mlp_vae  # noqa: E402
from tfpvae.objectives import BayesianELBO, constant, cyclical, linear_warmup  # noqa: E402

FAST = settings(max_examples=20, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOWER = settings(FAST, max_examples=12)

batch_shapes = st.lists(st.integers(1, 3), min_size=0, max_size=2).map(tuple)
event_shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)
bad_ints = st.sampled_from([0, -1, 2.5, True, None, "3"])


def _params(rng_seed: int, shape, low: float, high: float) -> tf.Tensor:
    rng = np.random.default_rng(rng_seed)
    values = rng.uniform(low, high, size=shape).astype(np.float32)
    values.reshape(-1)[: min(2, values.size)] = [low, high][: min(2, values.size)]  # the range's extremes
    return tf.constant(values)


def _finite(*tensors):
    for t in tensors:
        assert np.all(np.isfinite(np.asarray(t))), t


# ------------------------------------------------------------------------ encoder head


@FAST
@given(latent=st.integers(1, 5), batch=batch_shapes, scale=st.sampled_from(["softplus", "log_var"]),
       seed=st.integers(0, 2**16))
def test_diagonal_normal_head_shapes_moments_and_finite_density(latent, batch, scale, seed):
    head = DiagonalNormalHead(latent, scale=scale)
    params = _params(seed, batch + (2 * latent,), -30.0, 30.0)  # raw outputs of a (diverging) net
    q = head(params)
    assert q.batch_shape == batch and q.event_shape == (latent,)
    loc, raw = np.asarray(params).reshape(batch + (latent, 2))[..., 0], \
        np.asarray(params).reshape(batch + (latent, 2))[..., 1]
    # The documented transforms, the learnt part confined to SCALE_RANGE (log-variance to LOG_VAR_RANGE).
    expected = (np.clip(np.logaddexp(0.0, raw), *SCALE_RANGE) if scale == "softplus"
                else np.exp(0.5 * np.clip(raw, *LOG_VAR_RANGE)))
    np.testing.assert_allclose(q.mean(), loc, rtol=1e-6)
    np.testing.assert_allclose(q.stddev(), expected + 1e-5, rtol=1e-5)
    z = q.sample(3, seed=[seed, 1])
    _finite(z, q.log_prob(z), q.entropy())


@FAST
@given(latent=bad_ints)
def test_diagonal_normal_head_refuses_bad_latent_dim(latent):
    with pytest.raises(ValueError, match="DiagonalNormalHead: latent_dim must be a positive integer"):
        DiagonalNormalHead(latent)


@FAST
@given(latent=st.integers(1, 4), wrong=st.integers(1, 9))
def test_heads_refuse_parameter_width_naming_the_head(latent, wrong):
    for head in (DiagonalNormalHead(latent), BernoulliHead((latent,)), GaussianHead((latent,)),
                 DiscretizedLogisticHead((latent,))):
        assume(wrong != head.num_params)
        with pytest.raises(ValueError, match=f"{type(head).__name__}: parameter tensor has width {wrong}, "
                                             f"expected {head.num_params}"):
            head(tf.zeros([2, wrong]))


def test_log_var_head_extreme_raw_output_is_finite_or_refused():
    q = DiagonalNormalHead(1, scale="log_var")(tf.constant([[0.0, 200.0]]))
    _finite(q.log_prob(q.sample(seed=[0, 1])))


# A diverging network's raw scale outputs, the float32 range's ends included.
extreme_raw = st.one_of(st.floats(width=32, allow_nan=False, allow_infinity=False),
                        st.sampled_from([-1e4, -300.0, -104.0, 90.0, 178.0, 1e20]))


def _scale_heads():
    """(name, head, raw -> params) for every head whose scale a network emits."""
    def pair(raw):  # [1, 2]: a mean of 0.5 and the raw scale
        return tf.stack([tf.fill([1], 0.5), raw], axis=-1)
    return [(f"DiagonalNormalHead({s}, min_scale={m})", DiagonalNormalHead(1, scale=s, min_scale=m), pair)
            for s in ("softplus", "log_var") for m in (0.0, 1e-5)] + [
        (f"GaussianHead({s}, min_scale=0)", GaussianHead((1,), scale=s, min_scale=0.0), pair)
        for s in ("softplus", "log_var")] + [
        ("DiscretizedLogisticHead", DiscretizedLogisticHead((1,)), pair),
        ("DiscretizedLogisticHead(min_log_scale=-30)", DiscretizedLogisticHead((1,), min_log_scale=-30.0), pair),
        ("HeteroscedasticNormalHead(min_scale=0)", HeteroscedasticNormalHead(1, min_scale=0.0), pair)]


@FAST
@given(raw=extreme_raw)
def test_every_scale_head_gives_finite_density_sample_kl_and_gradient_at_extreme_raw_outputs(raw):
    prior = standard_normal(1)
    for name, head, params_of in _scale_heads():
        raw_t = tf.constant([raw], tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(raw_t)
            dist = head(params_of(raw_t))
            log_prob = dist.log_prob(tf.constant([[0.5]]))  # a lattice point of the discretized head too
            terms = [log_prob]
            if isinstance(head, DiagonalNormalHead):
                terms += [dist.log_prob(dist.sample(seed=[1, 2])), dist.kl_divergence(prior), dist.entropy()]
            total = tf.add_n([tf.reduce_sum(t) for t in terms])
        spread = dist.mean() if isinstance(head, DiscretizedLogisticHead) else dist.stddev()
        for t in (*terms, spread, tape.gradient(total, raw_t)):
            assert np.all(np.isfinite(np.asarray(t))), (name, raw, t)
        if isinstance(head, DiscretizedLogisticHead):
            assert np.all(np.asarray(log_prob) <= 1e-6)  # a log mass


@pytest.mark.parametrize("scale", ["softplus", "log_var"])
def test_clipped_scale_passes_its_gradient_straight_through(scale):
    """Beyond the clip the scale is constant, but the KL's gradient still reaches the raw output and
    points back into range, so a unit that overshot can recover (a plain clip would give it 0)."""
    head, prior = DiagonalNormalHead(1, scale=scale, min_scale=0.0), standard_normal(1)
    raw = tf.constant([[0.0, 1e3]]) if scale == "log_var" else tf.constant([[0.0, 1e5]])
    with tf.GradientTape() as tape:
        tape.watch(raw)
        q = head(raw)
        kl = tf.reduce_sum(q.kl_divergence(prior))
    np.testing.assert_allclose(q.stddev(), [[SCALE_RANGE[1]]], rtol=1e-5)
    grad = tape.gradient(kl, raw).numpy()
    assert np.all(np.isfinite(grad)) and grad[0, 1] > 0  # gradient descent lowers the raw scale
    within = tf.constant([[0.0, 1.0]])  # inside the range the head is the plain transform, gradient included
    with tf.GradientTape() as tape:
        tape.watch(within)
        sigma = head(within).stddev()
    expected = 0.5 * math.exp(0.5) if scale == "log_var" else 1.0 / (1.0 + math.exp(-1.0))
    np.testing.assert_allclose(tape.gradient(sigma, within).numpy()[0, 1], expected, rtol=1e-6)


def test_discretized_logistic_head_caps_the_log_scale():
    """A raw log-scale of 100 used to overflow exp to an infinite scale and -inf on every bin."""
    p = DiscretizedLogisticHead((1,))(tf.constant([[0.0, 100.0]]))
    capped = DiscretizedLogistic(0.5, 0.5 * math.exp(MAX_LOG_SCALE))
    lattice = np.linspace(0.0, 1.0, 256, dtype=np.float32).reshape(256, 1, 1)
    lp = p.log_prob(lattice).numpy()
    np.testing.assert_allclose(lp[:, 0], capped.log_prob(lattice[:, 0, 0]).numpy(), rtol=1e-5)
    np.testing.assert_allclose(np.logaddexp.reduce(lp.astype(np.float64), axis=0), 0.0, atol=1e-3)


# ------------------------------------------------------------------------ decoder heads


@FAST
@given(event=event_shapes, batch=batch_shapes, seed=st.integers(0, 2**16))
def test_bernoulli_head_log_prob_is_the_closed_form(event, batch, seed):
    head = BernoulliHead(event)
    logits = _params(seed, batch + (head.num_params,), -60.0, 60.0)
    p = head(logits)
    assert p.batch_shape == batch and p.event_shape == event
    x = np.random.default_rng(seed).integers(0, 2, batch + event).astype(np.float32)
    lp = np.asarray(p.log_prob(x))
    logit = np.asarray(logits, np.float64).reshape(batch + event)
    expected = (x * logit - np.logaddexp(0.0, logit)).reshape(batch + (-1,)).sum(-1)
    _finite(lp)
    np.testing.assert_allclose(lp, expected, rtol=1e-4, atol=1e-3)
    assert np.all(lp <= 1e-6)  # a probability mass


@FAST
@given(event=event_shapes, batch=batch_shapes, seed=st.integers(0, 2**16),
       scale=st.one_of(st.sampled_from(["log_var", "softplus", "shared"]), st.floats(0.01, 10.0)))
def test_gaussian_head_log_prob_is_finite_and_fixed_scale_is_squared_error(event, batch, seed, scale):
    head = GaussianHead(event, scale=scale)
    params = _params(seed, batch + (head.num_params,), -20.0, 20.0)
    p = head(params)
    assert p.batch_shape == batch and p.event_shape == event
    x = np.random.default_rng(seed).normal(0.0, 3.0, batch + event).astype(np.float32)
    lp = np.asarray(p.log_prob(x))
    _finite(lp)
    if isinstance(scale, float):
        mu = np.asarray(params, np.float64).reshape(batch + event)
        d = math.prod(event)
        sq = ((x - mu) ** 2).reshape(batch + (-1,)).sum(-1)
        expected = -sq / (2 * scale**2) - d * math.log(scale * math.sqrt(2 * math.pi))
        np.testing.assert_allclose(lp, expected, rtol=1e-4)


@FAST
@given(scale=st.one_of(st.floats(max_value=0.0, allow_nan=False), st.sampled_from(["mse", "exp"])))
def test_gaussian_head_refuses_bad_scale(scale):
    with pytest.raises(ValueError, match="GaussianHead: "):
        GaussianHead((3,), scale=scale)


@SLOWER
@given(components=st.integers(1, 3), data_range=st.sampled_from([(0.0, 1.0), (-1.0, 1.0), (0.0, 255.0)]),
       batch=st.integers(1, 3), seed=st.integers(0, 2**16))
def test_discretized_logistic_head_is_a_normalised_mass_on_its_lattice(components, data_range, batch, seed):
    head = DiscretizedLogisticHead((1,), num_components=components, data_range=data_range)
    p = head(_params(seed, (batch, head.num_params), -20.0, 20.0))
    low, high = data_range
    lattice = np.linspace(low, high, 256, dtype=np.float32).reshape(256, 1, 1)
    lp = np.asarray(p.log_prob(np.broadcast_to(lattice, (256, batch, 1))))  # [256, batch]
    assert np.all(lp <= 1e-5) and not np.any(np.isnan(lp))
    np.testing.assert_allclose(np.logaddexp.reduce(lp.astype(np.float64), axis=0), 0.0, atol=1e-3)
    # Beyond half a bin outside the range the mass is 0: -inf, documented, never NaN.
    outside = np.full((batch, 1), high + (high - low), np.float32)
    assert np.all(np.asarray(p.log_prob(outside)) == -np.inf)


@FAST
@given(components=st.sampled_from([0, -2, 1.5, True]))
def test_discretized_logistic_head_refuses_bad_components(components):
    with pytest.raises(ValueError, match="DiscretizedLogisticHead: num_components must be a positive int"):
        DiscretizedLogisticHead((2,), num_components=components)


# ------------------------------------------------------------------------ make_dataset


def _images(draw_dtype, shape, seed):
    rng = np.random.default_rng(seed)
    if draw_dtype == "uint8":
        return rng.integers(0, 256, shape).astype(np.uint8)
    if draw_dtype == "binary_uint8":
        return rng.integers(0, 2, shape).astype(np.uint8)
    if draw_dtype == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    return rng.uniform(0.0, 1.0, shape).astype(draw_dtype)


@FAST
@given(n=st.integers(1, 12), event=event_shapes, batch_size=st.integers(1, 15),
       dtype=st.sampled_from(["uint8", "binary_uint8", "bool", "float32", "float64"]),
       binarize=st.sampled_from([None, "static", "dynamic"]), flatten=st.booleans(), shuffle=st.booleans(),
       drop=st.booleans(), seed=st.integers(0, 2**31 - 1), epoch=st.integers(0, 5))
def test_make_dataset_yields_every_example_once_in_range(n, event, batch_size, dtype, binarize, flatten, shuffle,
                                                        drop, seed, epoch):
    images = _images(dtype, (n,) + event, seed)
    ds = data.make_dataset(images, batch_size=batch_size, shuffle=shuffle, seed=seed, epoch=epoch,
                           binarize=binarize, flatten=flatten, drop_remainder=drop, labels=np.arange(n))
    xs, ys = [], []
    for x, y in ds:
        assert x.dtype == tf.float32
        xs.append(x.numpy())
        ys.append(y.numpy())
    expected_count = (n // batch_size) * batch_size if drop else n
    order = np.concatenate(ys) if ys else np.zeros(0, np.int64)
    assert len(order) == expected_count and len(set(order.tolist())) == expected_count
    if not xs:
        return
    x = np.concatenate(xs)
    assert x.shape[1:] == ((math.prod(event),) if flatten else event)
    assert np.all(np.isfinite(x)) and x.min() >= 0.0 and x.max() <= 1.0
    if binarize is not None or dtype in ("binary_uint8", "bool"):
        assert set(np.unique(x)) <= {0.0, 1.0}
    if binarize is None:  # every example is its source image, scaled
        scale = 255.0 if dtype == "uint8" else 1.0
        src = images[order].astype(np.float64).reshape(x.shape) / scale
        np.testing.assert_allclose(x, src, rtol=1e-6, atol=1e-7)
    if binarize == "static":
        scale = 255.0 if dtype == "uint8" else 1.0
        src = images[order].astype(np.float64).reshape(x.shape) / scale
        np.testing.assert_array_equal(x, (src > 0.5).astype(np.float32))


@FAST
@given(values=hnp.arrays(np.float32, (3, 2), elements=st.one_of(
           st.floats(-1e3, 1e3, width=32), st.sampled_from([np.nan, np.inf, -np.inf, 255.0, -0.5, 1.5]))))
def test_make_dataset_refuses_floats_outside_unit_interval_or_not_finite(values):
    bad = (~np.isfinite(values)).any() or values.min() < 0 or values.max() > 1
    if not bad:
        assert len(list(data.make_dataset(values, batch_size=2))) == 2
        return
    bad_mask = ~np.isfinite(values) | (values < 0) | (values > 1)
    first = int(np.argmax(bad_mask.reshape(-1)))
    with pytest.raises(ValueError, match="make_dataset: images must be uint8 0..255, binary") as err:
        data.make_dataset(values, batch_size=2)
    assert f"first offending value {values.reshape(-1)[first]:g} at example {first // 2}" in str(err.value)


@FAST
@given(batch_size=st.one_of(st.integers(-3, 0), st.floats(0.5, 3.5), st.booleans(), st.none()))
def test_make_dataset_refuses_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match="make_dataset: batch_size must be an int >= 1"):
        data.make_dataset(np.zeros((2, 2), np.uint8), batch_size=batch_size)


# ------------------------------------------------------------------------- the ELBO


@functools.lru_cache(maxsize=None)
def _tiny_vae(dim: int, latent: int):
    tf.keras.utils.set_random_seed(dim * 10 + latent)
    return mlp_vae((dim,), latent_dim=latent, hidden=(8,))


@SLOWER
@given(dim=st.sampled_from([3, 6]), latent=st.sampled_from([1, 2]), batch=st.integers(1, 4),
       num_samples=st.integers(1, 3), kl=st.sampled_from(["auto", "analytic", "monte_carlo"]),
       beta=st.floats(0.0, 5.0), free_bits=st.one_of(st.none(), st.floats(0.0, 2.0)),
       seed=st.integers(0, 2**16))
def test_elbo_terms_are_finite_and_consistent(dim, latent, batch, num_samples, kl, beta, free_bits, seed):
    vae = _tiny_vae(dim, latent)
    objective = ELBO(num_samples=num_samples, kl=kl, beta=beta, free_bits=free_bits)
    x = tf.constant(np.random.default_rng(seed).integers(0, 2, (batch, dim)), tf.float32)
    terms = objective(vae, x, seed=[seed, 7], step=0)
    for t in terms:
        assert t.shape == (batch,)
    _finite(*terms)
    np.testing.assert_allclose(terms.elbo, terms.log_likelihood - terms.kl, rtol=1e-5, atol=1e-5)
    assert np.all(np.asarray(terms.log_likelihood) <= 1e-5)  # Bernoulli: a log mass
    if kl != "monte_carlo":
        assert np.all(np.asarray(terms.kl) >= -1e-6) and np.all(np.asarray(terms.elbo) <= 1e-5)
    if free_bits is None:
        np.testing.assert_allclose(terms.loss, -(terms.log_likelihood - beta * terms.kl), rtol=1e-5, atol=1e-5)
    # Same seed, same terms: the objective is a pure function of (model, x, seed).
    again = objective(vae, x, seed=[seed, 7], step=0)
    np.testing.assert_array_equal(terms.loss, again.loss)


@FAST
@given(kwargs=st.sampled_from([dict(num_samples=0), dict(num_samples=1.5), dict(kl="exact"),
                               dict(free_bits=-1.0), dict(free_bits_groups=2), dict(free_bits=1.0,
                                                                                    free_bits_groups=0)]))
def test_elbo_refuses_bad_configuration_naming_itself(kwargs):
    with pytest.raises(ValueError, match="ELBO"):
        ELBO(**kwargs)


@SLOWER
@given(width=st.integers(1, 9), batch=st.integers(1, 3))
def test_elbo_refuses_data_of_the_wrong_event_shape(width, batch):
    assume(width != 6)
    vae = _tiny_vae(6, 2)
    x = tf.zeros([batch, width])
    with pytest.raises(ValueError, match=r"(VAE\.encode|ELBO): .*x has shape .*expected trailing \(event\) shape "
                                         r"\(6,\)"):
        ELBO()(vae, x, seed=[0, 1])


# Configurations with a non-finite or invalid number, found by these properties: each used to be accepted and
# give a NaN / inf loss later (or a raw TypeError / OverflowError); each is now a ValueError naming the component.
_NAN, _INF = float("nan"), float("inf")
_BAD_CONFIGS = {
    "GaussianHead(scale=nan)": lambda: GaussianHead((3,), scale=_NAN),
    "GaussianHead(scale=inf)": lambda: GaussianHead((3,), scale=_INF),
    "GaussianHead(scale=1e-300)": lambda: GaussianHead((3,), scale=1e-300),  # 0 in float32
    "GaussianHead(scale=None)": lambda: GaussianHead((3,), scale=None),
    "GaussianHead(scale=True)": lambda: GaussianHead((3,), scale=True),
    "GaussianHead(min_scale=-1)": lambda: GaussianHead((3,), min_scale=-1.0),
    "GaussianHead(min_scale=nan)": lambda: GaussianHead((3,), min_scale=_NAN),
    "GaussianHead(shared, init_scale=inf)": lambda: GaussianHead((3,), scale="shared", init_scale=_INF),
    "GaussianHead(shared, init_scale=min_scale)": lambda: GaussianHead((3,), scale="shared", init_scale=1e-3),
    "DiagonalNormalHead(min_scale=-1)": lambda: DiagonalNormalHead(2, min_scale=-1.0),
    "DiagonalNormalHead(min_scale=inf)": lambda: DiagonalNormalHead(2, min_scale=_INF),
    "DiagonalNormalHead(min_scale=1e30)": lambda: DiagonalNormalHead(2, min_scale=1e30),  # sigma^2 overflows
    "DiagonalNormalHead(scale=None)": lambda: DiagonalNormalHead(2, scale=None),
    "DiscretizedLogisticHead(data_range=(0, inf))": lambda: DiscretizedLogisticHead((2,), data_range=(0, np.inf)),
    "DiscretizedLogisticHead(data_range=(nan, 1))": lambda: DiscretizedLogisticHead((2,), data_range=(_NAN, 1)),
    "DiscretizedLogisticHead(data_range=(1, 0))": lambda: DiscretizedLogisticHead((2,), data_range=(1, 0)),
    "DiscretizedLogisticHead(data_range=(0, 1, 2))": lambda: DiscretizedLogisticHead((2,), data_range=(0, 1, 2)),
    "DiscretizedLogisticHead(num_bins=2.5)": lambda: DiscretizedLogisticHead((2,), num_bins=2.5),
    "DiscretizedLogisticHead(num_bins='256')": lambda: DiscretizedLogisticHead((2,), num_bins="256"),
    "DiscretizedLogisticHead(num_bins=1)": lambda: DiscretizedLogisticHead((2,), num_bins=1),
    "DiscretizedLogisticHead(num_bins=2**40)": lambda: DiscretizedLogisticHead((2,), num_bins=2**40),
    "DiscretizedLogisticHead(min_log_scale=nan)": lambda: DiscretizedLogisticHead((2,), min_log_scale=_NAN),
    "DiscretizedLogisticHead(min_log_scale=-1000)": lambda: DiscretizedLogisticHead((2,), min_log_scale=-1e3),
    "DiscretizedLogistic(num_bins=2.5)": lambda: DiscretizedLogistic(0.0, 1.0, num_bins=2.5),
    "NormalHead(scale=inf)": lambda: NormalHead(1, scale=_INF),
    "NormalHead(scale='1')": lambda: NormalHead(1, scale="1"),
    "LearnedScaleNormalHead(init_scale=inf)": lambda: LearnedScaleNormalHead(1, init_scale=_INF),
    "LearnedScaleNormalHead(min_scale=nan)": lambda: LearnedScaleNormalHead(1, min_scale=_NAN),
    "HeteroscedasticNormalHead(init_scale=inf)": lambda: HeteroscedasticNormalHead(1, init_scale=_INF),
    "HeteroscedasticNormalHead(init_scale=1e300)": lambda: HeteroscedasticNormalHead(1, init_scale=1e300),
    "ELBO(beta=nan)": lambda: ELBO(beta=_NAN),
    "ELBO(beta=inf)": lambda: ELBO(beta=_INF),
    "ELBO(beta=-1)": lambda: ELBO(beta=-1.0),
    "ELBO(beta='1')": lambda: ELBO(beta="1"),
    "ELBO(beta=None)": lambda: ELBO(beta=None),
    "ELBO(free_bits=inf)": lambda: ELBO(free_bits=_INF),
    "ELBO(free_bits=nan)": lambda: ELBO(free_bits=_NAN),
    "ELBO(free_bits='x')": lambda: ELBO(free_bits="x"),
    "ELBO(num_samples=True)": lambda: ELBO(num_samples=True),
    "IWAE(num_samples=0)": lambda: IWAE(num_samples=0),
    "IWAE(num_samples=2.0)": lambda: IWAE(num_samples=2.0),
    "IWAE(num_samples=True)": lambda: IWAE(num_samples=True),
    "BayesianELBO(kl_weight=nan)": lambda: BayesianELBO(10, kl_weight=_NAN),
    "constant(nan)": lambda: constant(_NAN),
    "constant(1e300)": lambda: constant(1e300),  # inf in float32
    "linear_warmup(nan)": lambda: linear_warmup(_NAN),
    "linear_warmup(None)": lambda: linear_warmup(None),
    "linear_warmup(2.5)": lambda: linear_warmup(2.5),
    "linear_warmup(final=inf)": lambda: linear_warmup(10, final=_INF),
    "linear_warmup(initial=-1)": lambda: linear_warmup(10, initial=-1.0),
    "linear_warmup(delay=-5)": lambda: linear_warmup(10, delay=-5),
    "cyclical(final=inf)": lambda: cyclical(10, final=_INF),
    "cyclical(final=nan)": lambda: cyclical(10, final=_NAN),
    "cyclical(ratio=nan)": lambda: cyclical(10, ratio=_NAN),
}


@pytest.mark.parametrize("case", sorted(_BAD_CONFIGS))
def test_non_finite_or_invalid_configuration_is_refused(case):
    component = case.split("(")[0]
    with pytest.raises(ValueError, match=rf"^{component}: .*\bgot ") as err:
        _BAD_CONFIGS[case]()
    assert "\n" not in str(err.value)  # one line


def test_schedules_and_callables_as_beta_still_work():
    """What as_schedule passes through unchanged (callables) and what it wraps (finite numbers >= 0)."""
    vae = _tiny_vae(3, 1)
    x = tf.constant(np.random.default_rng(0).integers(0, 2, (4, 3)), tf.float32)
    plain = ELBO(beta=0.0)(vae, x, seed=[0, 1], step=7)
    np.testing.assert_allclose(plain.loss, -plain.log_likelihood, rtol=1e-6)
    for beta, at_step_7 in ((np.float32(0.5), 0.5), (2, 2.0), (constant(0.25), 0.25),
                            (linear_warmup(10, final=2.0), 1.4), (cyclical(4, ratio=0.5, final=1.0), 1.0),
                            (lambda step: 0.5 * tf.cast(step, tf.float32), 3.5)):
        terms = ELBO(beta=beta)(vae, x, seed=[0, 1], step=7)
        np.testing.assert_allclose(terms.loss, -(plain.log_likelihood - at_step_7 * terms.kl), rtol=1e-5)
    assert ELBO(beta=linear_warmup(10)).config["beta"]["kind"] == "linear_warmup"
    assert BayesianELBO(10, kl_weight=cyclical(4)).config["kl_weight"]["kind"] == "cyclical"
