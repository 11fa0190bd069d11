"""Evaluation: importance-sampled log-likelihood (the literature's test NLL) and bits per dimension."""

from tfpvae.evaluation.active_units import (ActiveUnits, PosteriorCollapseWarning, active_units, posterior_mean,
                                            warn_if_collapsed)
from tfpvae.evaluation.bits import bits_per_dim, discrete_num_values
from tfpvae.evaluation.importance import evaluate_dataset, log_likelihood

__all__ = ["log_likelihood", "evaluate_dataset", "bits_per_dim", "discrete_num_values",
           "ActiveUnits", "PosteriorCollapseWarning", "active_units", "posterior_mean", "warn_if_collapsed"]

from tfpvae.evaluation.calibration import (ReliabilityBins, accuracy, brier_score, expected_calibration_error,  # noqa: E402
                                            mean_log_likelihood, nll, reliability_bins, rmse)
from tfpvae.evaluation.predictive import (class_probabilities, mutual_information, predictive_distribution,  # noqa: E402
                                          predictive_entropy, predictive_log_likelihood, predictive_mean_stddev)
__all__ += ["rmse", "mean_log_likelihood", "accuracy", "nll", "brier_score", "expected_calibration_error",
            "reliability_bins", "ReliabilityBins", "predictive_distribution", "predictive_mean_stddev",
            "class_probabilities", "predictive_entropy", "mutual_information", "predictive_log_likelihood"]
