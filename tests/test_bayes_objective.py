"""BayesianELBO: per-example NLL + KL/N, an epoch adds up to one KL, seeds, schedules and input checks."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfpvae import distributions as D
from tfpvae import layers as L
from tfpvae.objectives import BayesianELBO, linear_warmup


def _regressor():
    model = keras.Sequential([L.DenseFlipout(8, activation="tanh"), L.DenseFlipout(1), D.NormalHead(1, scale=0.5)])
    model(tf.zeros([1, 3]))
    return model


def test_an_epoch_of_kl_over_n_adds_up_to_one_kl():
    model = _regressor()
    rng = np.random.default_rng(0)
    n, batch = 60, 20
    x, y = rng.normal(size=(n, 3)).astype("float32"), rng.normal(size=(n, 1)).astype("float32")
    objective = BayesianELBO(num_examples=n)
    total_kl, total_loss, total_nll = 0.0, 0.0, 0.0
    for i in range(0, n, batch):  # one epoch: N / B = 3 steps
        terms = objective(model, (x[i:i + batch], y[i:i + batch]), seed=[0, i], step=0)
        assert terms.loss.shape == terms.log_likelihood.shape == terms.kl.shape == (batch,)
        total_kl += float(tf.reduce_sum(terms.kl))
        total_loss += float(tf.reduce_sum(terms.loss))
        total_nll -= float(tf.reduce_sum(terms.log_likelihood))
    kl = float(L.kl_divergence(model))  # analytic: the same in every call
    np.testing.assert_allclose(total_kl, kl, rtol=1e-5)
    np.testing.assert_allclose(total_loss, total_nll + kl, rtol=1e-5)  # the epoch's negative ELBO


def test_batch_mean_is_mean_nll_plus_weighted_kl_over_n():
    model = _regressor()
    x, y = tf.ones([4, 3]), tf.zeros([4, 1])
    objective = BayesianELBO(num_examples=1000, kl_weight=linear_warmup(10))
    terms = objective(model, (x, y), seed=[1, 2], step=5)
    kl = float(L.kl_divergence(model))
    np.testing.assert_allclose(terms.kl.numpy(), np.full(4, kl / 1000), rtol=1e-5)
    np.testing.assert_allclose(terms.loss.numpy(), -terms.log_likelihood.numpy() + 0.5 * kl / 1000, rtol=1e-5)


def test_same_seed_same_terms_and_num_samples_averages_the_likelihood():
    model = _regressor()
    x, y = tf.random.stateless_normal([5, 3], seed=[0, 0]), tf.zeros([5, 1])
    one = BayesianELBO(num_examples=10)
    a, b = one(model, (x, y), seed=[3, 4]), one(model, (x, y), seed=[3, 4])
    np.testing.assert_array_equal(a.loss, b.loss)
    assert not np.allclose(a.loss, one(model, (x, y), seed=[3, 5]).loss)
    # num_samples=2 averages the log-likelihoods of the scope's first two model calls.
    two = BayesianELBO(num_examples=10, num_samples=2)
    with L.noise_seed(tf.constant([3, 4])):
        expected = 0.5 * (model(x).log_prob(y) + model(x).log_prob(y))
    np.testing.assert_allclose(two(model, (x, y), seed=tf.constant([3, 4])).log_likelihood, expected, rtol=1e-6)


def test_bad_inputs_are_reported_with_the_expected_value():
    with pytest.raises(ValueError, match=r"num_examples .* positive integer, got 0"):
        BayesianELBO(num_examples=0)
    with pytest.raises(ValueError, match=r"num_examples .* positive integer, got -5"):
        BayesianELBO(num_examples=-5)
    classifier = keras.Sequential([L.DenseFlipout(3), D.CategoricalHead(3)])
    objective = BayesianELBO(num_examples=10)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\).*got \[3, -1\]"):
        objective(classifier, (tf.ones([4, 2]), tf.constant([0, 3, 1, -1])), seed=[0, 0])
    with pytest.raises(ValueError, match=r"labels have shape \(4,\); the model's distribution expects \(4, 1\)"):
        objective(_regressor(), (tf.ones([4, 3]), tf.zeros([4])), seed=[0, 0])

    @tf.function
    def traced(y):
        return objective(classifier, (tf.ones([2, 2]), y), seed=[0, 0]).loss

    with pytest.raises(tf.errors.InvalidArgumentError, match="labels must be < num_classes = 3"):
        traced(tf.constant([0, 7]))
