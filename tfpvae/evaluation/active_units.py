"""Active units (Burda et al. 2016) and a posterior-collapse warning.

A latent dimension ``u`` is active when its posterior mean moves with the data:

    A_u = Cov_x(E_{q(z|x)}[z_u]) > threshold   (Burda et al. use 0.01),

i.e. the variance over the data set of the encoder's mean. An inactive dimension has
``q(z_u|x) ~= p(z_u)`` for every ``x``: the decoder ignores it (posterior collapse).
"""

from __future__ import annotations

import warnings
from typing import NamedTuple

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae._seeds import as_seed
from tfpvae.data.pipeline import BATCH_SOURCES, batch_inputs

tfd = tfp.distributions

__all__ = ["ActiveUnits", "PosteriorCollapseWarning", "active_units", "posterior_mean", "warn_if_collapsed"]


class ActiveUnits(NamedTuple):
    """``count`` active dimensions of ``variances.size``; ``variances[u] = Var_x E_q[z_u | x]``
    (float64 ``[latent_dim]``), ``active = variances > threshold`` (bool ``[latent_dim]``)."""

    count: int
    variances: np.ndarray
    active: np.ndarray
    threshold: float

    @property
    def latent_dim(self) -> int:
        return int(self.variances.size)


class PosteriorCollapseWarning(UserWarning):
    """Issued by :func:`warn_if_collapsed` when too few latent dimensions are active."""


def posterior_mean(model, x, *, num_samples: int = 64, seed=0) -> tf.Tensor:
    """``E_q[z | x]``, ``[B, latent_dim]``: an autoencoder's code as is, ``q.mean()`` where TFP has it,
    else the mean of ``num_samples`` draws (flow posteriors)."""
    out = model.encode(x)
    if isinstance(out, tf.Tensor):
        return out
    try:
        return out.mean()
    except NotImplementedError:
        return tf.reduce_mean(out.sample(num_samples, seed=as_seed(seed)), axis=0)


def _batches(x_or_dataset):
    if isinstance(x_or_dataset, BATCH_SOURCES):
        yield from batch_inputs(x_or_dataset)
    else:
        yield x_or_dataset


def active_units(model, x_or_dataset, threshold: float = 0.01, *, num_samples: int = 64, seed=0) -> ActiveUnits:
    """Counts the latent dimensions with ``Var_x E_q[z_u | x] > threshold``.

    Args:
      model: a VAE or an autoencoder (anything with ``encode(x)`` giving a distribution or a code).
      x_or_dataset: a batch ``[N, *event_shape]``, a ``tf.data.Dataset`` of batches or an ``ArrayData`` (``x`` or
        ``(x, y)``); the variance is over all examples (exact running sums in float64).
      threshold: Burda et al.'s 0.01.
      num_samples, seed: for posteriors without a closed-form mean (see :func:`posterior_mean`).

    Example:
      >>> from tfpvae.models import mlp_vae
      >>> vae = mlp_vae((6,), latent_dim=3, hidden=(8,))
      >>> active_units(vae, tf.zeros([10, 6])).count  # one input: no mean varies
      0

    References:
      Burda, Grosse & Salakhutdinov (2016), Importance Weighted Autoencoders, ICLR, section 5.2.
    """
    n, shift, total, total_sq = 0, None, None, None
    for x in _batches(x_or_dataset):
        mu = np.asarray(posterior_mean(model, x, num_samples=num_samples, seed=seed), np.float64)
        mu = mu.reshape(mu.shape[0], -1)
        if shift is None:
            shift = mu[0]  # sums of (mu - shift): no cancellation when the means are large
        d = mu - shift
        total = d.sum(0) if total is None else total + d.sum(0)
        total_sq = (d * d).sum(0) if total_sq is None else total_sq + (d * d).sum(0)
        n += mu.shape[0]
    if not n:
        raise ValueError("active_units: x_or_dataset holds no examples")
    variances = np.maximum(total_sq / n - (total / n) ** 2, 0.0)
    active = variances > threshold
    return ActiveUnits(int(active.sum()), variances, active, float(threshold))


def warn_if_collapsed(units: ActiveUnits, *, min_active: int = 1, epoch: int | None = None) -> bool:
    """Warns (:class:`PosteriorCollapseWarning`) and returns True when ``units.count < min_active``.

    Call it per epoch on :func:`active_units` of validation data. The default ``min_active=1``
    flags total collapse (no dimension carries information); raise it to flag partial collapse.

    Example:
      >>> units = ActiveUnits(0, np.zeros(4), np.zeros(4, bool), 0.01)
      >>> with warnings.catch_warnings(record=True) as caught:
      ...     warnings.simplefilter("always")
      ...     warn_if_collapsed(units, epoch=3), caught[0].category.__name__
      (True, 'PosteriorCollapseWarning')
    """
    if units.count >= min_active:
        return False
    when = f" after epoch {epoch}" if epoch is not None else ""
    warnings.warn(PosteriorCollapseWarning(
        f"posterior collapse{when}: {units.count} of {units.latent_dim} latent dimensions are active "
        f"(Var_x E_q[z|x] > {units.threshold:g}; expected at least {min_active}); the encoder's means do not "
        f"depend on x, so the decoder ignores z. Remedies: KL warm-up or a cyclical beta schedule, free bits, "
        f"a weaker decoder."), stacklevel=2)
    return True
