"""The continuous Bernoulli head: a normalised density on [0, 1], stable near lambda = 1/2, TFP's maths."""

import numpy as np
import pytest
import tensorflow as tf

from tfpvae import distributions as D


@pytest.mark.parametrize("logit", [-30.0, -5.0, -1e-3, 0.0, 1e-3, 5.0, 30.0])
def test_density_integrates_to_one(logit):
    # trapezoid rule on 200,001 points of [0, 1]; exact integral is 1 for every lambda
    x = np.linspace(0.0, 1.0, 200_001)
    p = D.ContinuousBernoulliHead((1,))(tf.constant([[logit]]))
    lp = p.log_prob(tf.constant(x[:, None, None], tf.float32)).numpy()[:, 0]
    assert np.isfinite(lp).all()
    np.testing.assert_allclose(np.trapezoid(np.exp(lp.astype(np.float64)), x), 1.0, atol=2e-4)


def test_log_prob_is_bernoulli_term_plus_log_normaliser():
    rng = np.random.default_rng(0)
    logits = rng.normal(scale=3.0, size=(3, 6)).astype(np.float32)
    x = rng.uniform(size=(3, 6)).astype(np.float32)
    lam = 1 / (1 + np.exp(-logits.astype(np.float64)))
    log_c = np.log(2 * np.arctanh(1 - 2 * lam) / (1 - 2 * lam))  # Loaiza-Ganem & Cunningham eq. 7
    expected = (x * logits - np.logaddexp(0, logits) + log_c).sum(-1)
    p = D.ContinuousBernoulliHead((6,))(tf.constant(logits))
    assert p.batch_shape == (3,) and p.event_shape == (6,)
    np.testing.assert_allclose(p.log_prob(x), expected, rtol=1e-4)


def test_stable_and_smooth_at_logit_zero():
    head = D.ContinuousBernoulliHead((1,))
    logits = tf.constant([[-1e-6], [0.0], [1e-6]])
    with tf.GradientTape() as tape:
        tape.watch(logits)
        lp = head(logits).log_prob(tf.constant([[[0.8]], [[0.8]], [[0.8]]])[:, 0])
    grad = tape.gradient(lp, logits).numpy()
    assert np.isfinite(lp.numpy()).all() and np.isfinite(grad).all()
    np.testing.assert_allclose(lp.numpy(), 0.0, atol=1e-5)  # C(1/2) = 2 times 1/2: the uniform density
    # d/dl [x l - softplus(l) + log C(l)] at l = 0 is x - 1/2 (log C is even in l)
    np.testing.assert_allclose(grad[:, 0], 0.8 - 0.5, atol=1e-4)


def test_mean_is_not_lambda():
    p = D.ContinuousBernoulliHead((1,))(tf.constant([[2.0]]))
    lam = 1 / (1 + np.exp(-2.0))
    expected = lam / (2 * lam - 1) + 1 / (2 * np.arctanh(1 - 2 * lam))
    np.testing.assert_allclose(p.mean().numpy()[0, 0], expected, rtol=1e-5)
    assert abs(expected - lam) > 0.1
