"""Predictive mixtures over weight samples, uncertainty decompositions, calibration metrics, reliability diagram."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

import tfpvae
from tfpvae import distributions as D
from tfpvae import evaluation as E
from tfpvae import layers as L
from tfpvae.plotting import reliability_diagram, save_reliability_diagram


def _regressor(units=1, head=None):
    model = keras.Sequential([L.DenseFlipout(8, activation="tanh", kernel_posterior=L.MeanFieldNormal(init_scale=0.3)),
                              L.DenseFlipout(units, kernel_posterior=L.MeanFieldNormal(init_scale=0.3)),
                              head or D.HeteroscedasticNormalHead(1)])
    model(tf.zeros([1, 2]))
    return model


def test_regression_mixture_log_prob_mean_and_stddev():
    model = _regressor(units=2)
    x = tf.random.stateless_normal([6, 2], seed=[0, 1])
    y = tf.random.stateless_normal([6, 1], seed=[0, 2])
    k = 7
    predictive = E.predictive_distribution(model, x, num_samples=k, seed=3)
    assert predictive.batch_shape == [6] and predictive.event_shape == [1]
    with L.noise_seed(3):  # the same K weight samples, drawn by hand
        samples = [model(x) for _ in range(k)]
    log_probs = np.stack([d.log_prob(y).numpy() for d in samples])  # [K, batch]
    expected = np.log(np.mean(np.exp(log_probs.astype(np.float64)), axis=0))
    np.testing.assert_allclose(E.predictive_log_likelihood(predictive, y), expected, rtol=1e-5)
    means = np.stack([d.mean().numpy() for d in samples])
    variances = np.stack([d.variance().numpy() for d in samples])
    mean, std = E.predictive_mean_stddev(predictive)
    np.testing.assert_allclose(mean, means.mean(0), rtol=1e-5, atol=1e-6)
    # Law of total variance: aleatoric (mean of variances) + epistemic (variance of means).
    np.testing.assert_allclose(std.numpy() ** 2, variances.mean(0) + means.var(0), rtol=1e-4)


def test_classification_probs_entropy_and_mutual_information():
    model = keras.Sequential([L.DenseFlipout(4, kernel_posterior=L.MeanFieldNormal(init_scale=1.0)),
                              D.CategoricalHead(4)])
    x = tf.random.stateless_normal([5, 3], seed=[4, 5])
    predictive = E.predictive_distribution(model, x, num_samples=6, seed=0)
    with L.noise_seed(0):
        per_sample = np.stack([tf.nn.softmax(model(x).logits).numpy() for _ in range(6)]).astype(np.float64)
    probs = per_sample.mean(0)
    np.testing.assert_allclose(E.class_probabilities(predictive), probs, rtol=1e-5)
    entropy = -np.sum(probs * np.log(probs), axis=-1)
    np.testing.assert_allclose(E.predictive_entropy(predictive), entropy, rtol=1e-4)
    expected_mi = entropy - np.mean(-np.sum(per_sample * np.log(per_sample), axis=-1), axis=0)
    np.testing.assert_allclose(E.mutual_information(predictive), expected_mi, rtol=1e-3, atol=1e-6)
    assert np.all(E.mutual_information(predictive).numpy() > 0)
    labels = tf.constant([0, 1, 2, 3, 0])
    np.testing.assert_allclose(E.predictive_log_likelihood(predictive, labels),
                               np.log(probs[np.arange(5), labels.numpy()]), rtol=1e-5)
    with L.deterministic():  # every sample identical: no epistemic uncertainty
        np.testing.assert_allclose(E.mutual_information(E.predictive_distribution(model, x, num_samples=4)), 0.0,
                                   atol=1e-6)


def test_predictive_std_shrinks_as_the_training_set_grows():
    """Bayesian linear regression y = 2x - 1 + N(0, 0.1^2): epistemic std at x in [-1, 1] after 8 vs 512 examples."""
    stds = []
    for n in (8, 512):
        rng = np.random.default_rng(n)
        x = rng.uniform(-1, 1, (n, 1)).astype("float32")
        y = (2 * x - 1 + 0.1 * rng.normal(size=(n, 1))).astype("float32")
        posterior = L.MeanFieldNormal(init_scale=0.02)
        model = keras.Sequential([L.DenseLocalReparameterization(1, kernel_posterior=posterior,
                                                                 bias_posterior=posterior),
                                  D.NormalHead(1, scale=0.1)])
        objective, optimizer = tfpvae.objectives.BayesianELBO(num_examples=n), keras.optimizers.Adam(0.05)
        model(x[:1])

        @tf.function
        def train(steps=tf.constant(300)):  # full-batch steps, one compiled loop
            for step in tf.range(steps):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(objective(model, (x, y), seed=tf.stack([0, step]), step=step).loss)
                variables = model.trainable_variables
                optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))

        train()
        grid = np.linspace(-1, 1, 9, dtype="float32")[:, None]
        predictive = E.predictive_distribution(model, grid, num_samples=200, seed=1)
        epistemic = tf.math.reduce_std(predictive.components_distribution.mean(), axis=1)
        stds.append(float(tf.reduce_mean(epistemic)))
    # The exact posterior std of the mean function shrinks like 1/sqrt(n): ~0.05 at n=8, ~0.006 at n=512
    # (measured 0.056 and 0.0064, ratio 0.11); margin: ratio below 0.25.
    assert stds[1] < 0.25 * stds[0], stds


def test_calibration_metrics_on_known_values():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])
    labels = np.array([0, 1, 1, 0])
    assert E.accuracy(probs, labels) == pytest.approx(0.75)
    assert E.nll(probs, labels) == pytest.approx(-np.mean(np.log([0.9, 0.2, 0.7, 0.6])))
    assert E.brier_score(probs, labels) == pytest.approx(np.mean([0.02, 1.28, 0.18, 0.32]))
    # 5 equal-width bins: 0.9 -> (0.8, 1], 0.8 -> (0.6, 0.8], 0.7 -> (0.6, 0.8], 0.6 -> (0.4, 0.6].
    ece = (1 * abs(1 - 0.9) + 2 * abs(0.5 - 0.75) + 1 * abs(1 - 0.6)) / 4
    assert E.expected_calibration_error(probs, labels, n_bins=5) == pytest.approx(ece)
    bins = E.reliability_bins(probs, labels, n_bins=5)
    assert bins.count.tolist() == [0, 0, 1, 2, 1]
    assert E.rmse([1.0, 2.0], [1.0, 4.0]) == pytest.approx(np.sqrt(2.0))
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        E.accuracy(probs, np.array([0, 1, 2, 0]))


def test_calibrated_forecasts_have_small_ece():
    rng = np.random.default_rng(0)
    confidence = rng.uniform(0.5, 1.0, 20_000)
    correct = rng.uniform(size=confidence.size) < confidence  # calibrated by construction
    labels = np.where(correct, 0, 1)
    probs = np.stack([confidence, 1 - confidence], axis=1)
    assert E.expected_calibration_error(probs, labels) < 0.015  # sampling noise only (15 bins, 20k examples)
    overconfident = np.stack([np.minimum(confidence + 0.2, 1.0), 1 - np.minimum(confidence + 0.2, 1.0)], axis=1)
    assert E.expected_calibration_error(overconfident, labels) > 0.1


def test_reliability_diagram_figure_and_png(tmp_path):
    rng = np.random.default_rng(1)
    probs = rng.dirichlet(np.ones(3), size=200)
    labels = rng.integers(0, 3, size=200)
    fig = reliability_diagram(probs, labels, n_bins=10, title="test")
    assert "ECE" in fig.axes[0].get_title()
    path = save_reliability_diagram(tmp_path / "figs" / "reliability.png", probs, labels)
    with Image.open(path) as image:
        assert image.size == (540, 660)
    assert [p.name for p in (tmp_path / "figs").iterdir()] == ["reliability.png"]  # no temporary left behind
