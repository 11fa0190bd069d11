"""Metrics of predictive distributions: RMSE, log-likelihood, accuracy, NLL, Brier score, calibration.

Inputs are NumPy-convertible arrays: class probabilities ``[N, C]`` (rows sum to 1) with integer
labels ``[N]``, or predictions and targets ``[N]`` / ``[N, d]``.

Expected calibration error uses ``n_bins`` equal-width bins of the confidence ``max_c p_c`` on
[0, 1] (the last bin closed): ``ECE = sum_b (n_b / N) |acc_b - conf_b|`` (Guo et al. 2017).

References:
  Guo et al. (2017), On Calibration of Modern Neural Networks, ICML; Brier (1950), Verification of
  Forecasts Expressed in Terms of Probability.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["rmse", "mean_log_likelihood", "accuracy", "nll", "brier_score", "expected_calibration_error",
           "reliability_bins", "ReliabilityBins"]


def _probs_labels(probs, labels, component: str) -> tuple[np.ndarray, np.ndarray]:
    probs, labels = np.asarray(probs, np.float64), np.asarray(labels)
    if probs.ndim != 2 or labels.shape != probs.shape[:1]:
        raise ValueError(f"{component}: expected probs [N, C] and labels [N], got {probs.shape} and {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() >= probs.shape[1]):
        raise ValueError(f"{component}: labels must be in [0, {probs.shape[1]}), got range "
                         f"[{labels.min()}, {labels.max()}]")
    return probs, labels.astype(np.int64)


def rmse(y_true, y_pred) -> float:
    """``sqrt(mean((y - y_hat)^2))`` over all entries."""
    y_true, y_pred = np.asarray(y_true, np.float64), np.asarray(y_pred, np.float64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"rmse: y_true and y_pred shapes differ: {y_true.shape} vs {y_pred.shape}")
    return float(np.sqrt(np.mean((y_true - y_pred) ** 2)))


def mean_log_likelihood(log_likelihoods) -> float:
    """Mean of per-example predictive log-likelihoods (the UCI 'test log-likelihood')."""
    return float(np.mean(np.asarray(log_likelihoods, np.float64)))


def accuracy(probs, labels) -> float:
    """Fraction of examples whose most probable class is the label."""
    probs, labels = _probs_labels(probs, labels, "accuracy")
    return float(np.mean(np.argmax(probs, axis=1) == labels))


def nll(probs, labels, eps: float = 1e-12) -> float:
    """Mean ``-log p(label)`` in nats (probabilities clipped at ``eps``)."""
    probs, labels = _probs_labels(probs, labels, "nll")
    return float(-np.mean(np.log(np.maximum(probs[np.arange(len(labels)), labels], eps))))


def brier_score(probs, labels) -> float:
    """Mean over examples of ``sum_c (p_c - 1[c = label])^2`` (0 best, 2 worst)."""
    probs, labels = _probs_labels(probs, labels, "brier_score")
    onehot = np.eye(probs.shape[1])[labels]
    return float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))


class ReliabilityBins(NamedTuple):
    """Per equal-width confidence bin: ``edges [n_bins + 1]``, mean ``confidence``, ``accuracy``
    (NaN for empty bins) and ``count``, each ``[n_bins]``."""

    edges: np.ndarray
    confidence: np.ndarray
    accuracy: np.ndarray
    count: np.ndarray


def reliability_bins(probs, labels, n_bins: int = 15) -> ReliabilityBins:
    """Bin examples by confidence ``max_c p_c`` into ``n_bins`` equal-width bins of [0, 1]."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int) or n_bins <= 0:
        raise ValueError(f"reliability_bins: n_bins must be a positive integer, got {n_bins!r}")
    probs, labels = _probs_labels(probs, labels, "reliability_bins")
    confidence = probs.max(axis=1)
    correct = (probs.argmax(axis=1) == labels).astype(np.float64)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    index = np.clip(np.digitize(confidence, edges[1:-1], right=True), 0, n_bins - 1)
    count = np.bincount(index, minlength=n_bins).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        conf = np.bincount(index, weights=confidence, minlength=n_bins) / count
        acc = np.bincount(index, weights=correct, minlength=n_bins) / count
    return ReliabilityBins(edges, conf, acc, count)


def expected_calibration_error(probs, labels, n_bins: int = 15) -> float:
    """``sum_b (n_b / N) |acc_b - conf_b|`` over ``n_bins`` equal-width confidence bins.

    Example:
      >>> round(expected_calibration_error([[0.9, 0.1], [0.8, 0.2]], [0, 1], n_bins=10), 6)  # (0.1 + 0.8) / 2
      0.45
    """
    bins = reliability_bins(probs, labels, n_bins)
    used = bins.count > 0
    weights = bins.count[used] / bins.count.sum()
    return float(np.sum(weights * np.abs(bins.accuracy[used] - bins.confidence[used])))
