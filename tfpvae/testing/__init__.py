"""Reusable property checks: test your own flows the way tfpvae tests its own."""
from tfpvae.testing.bijectors import assert_bijector_ok, perturb_variables
from tfpvae.testing.distributions import assert_sample_and_log_prob_consistent
from tfpvae.testing.trackable import assert_trackable

__all__ = ["assert_bijector_ok", "assert_trackable", "assert_sample_and_log_prob_consistent", "perturb_variables"]
