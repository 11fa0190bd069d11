"""Latent-space tools for a trained VAE: posterior means, the aggregate posterior (the "sampling
trick"), a comparison of sampling distributions, attribute vectors and edits, interpolation paths.

Everything works on any :class:`tfpvae.VAE` (``model.encode(x)`` returns ``q(z|x)``, ``model.decode(z)``
returns ``p(x|z)``), including flow posteriors, whose mean has no closed form.

References:
  Makhzani et al. (2016), Adversarial autoencoders (the aggregate posterior q(z) = E_x q(z|x));
  White (2016), Sampling generative networks (slerp, attribute vectors);
  Larsen et al. (2016), Autoencoding beyond pixels (attribute vectors from labels).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae._seeds import as_seed
from tfpvae.data.pipeline import BATCH_SOURCES, batch_inputs

tfd = tfp.distributions

__all__ = ["posterior_means", "aggregate_posterior", "compare_priors", "attribute_vector", "edit", "traverse",
           "aligned_dimension", "slerp", "lerp"]


def _batches(data, batch_size: int):
    """Batches of ``x`` from an array/tensor (split), a ``tf.data.Dataset`` or an ``ArrayData`` (first
    element of tuples)."""
    if isinstance(data, BATCH_SOURCES):
        yield from batch_inputs(data)
        return
    x = tf.convert_to_tensor(data)
    for start in range(0, int(x.shape[0]), batch_size):
        yield x[start:start + batch_size]


def posterior_means(model, x, *, num_samples: int | None = None, seed=0) -> tf.Tensor:
    """``E_q[z|x]`` ``[B, latent_dim]``: the closed-form mean when ``q`` has one; for a flow posterior
    (``TransformedDistribution`` with a non-affine bijector) the flow applied to the base mean, a
    deterministic point of the posterior; with ``num_samples`` a Monte Carlo mean instead. For a
    deterministic autoencoder (``encode`` returns the code tensor) the code itself."""
    q = model.encode(x)
    if not isinstance(q, tfd.Distribution):
        return tf.convert_to_tensor(q)
    if num_samples:
        return tf.reduce_mean(q.sample(num_samples, seed=as_seed(seed)), 0)
    try:
        return q.mean()
    except NotImplementedError:
        return q.bijector.forward(q.distribution.mean())


def _moments(q, num_samples: int, seed) -> tuple[np.ndarray, np.ndarray]:
    """Per-example mean ``[B, d]`` and second moment ``E[z z^T]`` ``[B, d, d]`` of ``q(z|x)`` (of the
    point mass at the code, for an autoencoder)."""
    if not isinstance(q, tfd.Distribution):
        z = np.asarray(q, np.float64)
        return z, z[:, :, None] * z[:, None, :]
    try:
        m = q.mean()
        try:
            cov = q.covariance()
        except NotImplementedError:
            cov = tf.linalg.diag(q.variance())
        m = np.asarray(m, np.float64)
        return m, np.asarray(cov, np.float64) + m[:, :, None] * m[:, None, :]
    except NotImplementedError:  # a flow posterior: Monte Carlo moments
        z = np.asarray(q.sample(num_samples, seed=seed), np.float64)  # [S, B, d]
        return z.mean(0), np.einsum("sbi,sbj->bij", z, z) / num_samples


def aggregate_posterior(model, data, kind: str = "diagonal", *, num_samples: int = 32, seed=0,
                        batch_size: int = 1000) -> tfd.Distribution:
    """A Gaussian fitted to the aggregate posterior ``q(z) = (1/N) sum_i q(z|x_i)``, to sample from
    instead of the prior when ``q(z)`` and ``p(z)`` differ (the "sampling trick").

    The moments are exact for Gaussian posteriors (``mu_i``, ``Sigma_i``):
    ``mean = mean_i mu_i`` and ``Cov = mean_i Sigma_i + Cov_i(mu_i)`` (law of total covariance);
    for a flow posterior each ``q(z|x_i)`` contributes ``num_samples`` draws instead; for a
    deterministic autoencoder (``Sigma_i = 0``) it is the Gaussian fitted to the codes, which makes
    an autoencoder a (poor) generative model.

    Args:
      data: images ``[N, ...]`` (array or tensor), a ``tf.data.Dataset`` of batches or an ``ArrayData``.
      kind: ``"diagonal"``: ``MultivariateNormalDiag(mean, std)`` whose per-dimension standard
        deviation is the TOTAL one, ``std_j = sqrt(mean_i sigma_ij^2 + var_i(mu_ij))`` (the average
        posterior variance plus the spread of the means, not the average of ``sigma``); ``"full"``:
        ``MultivariateNormalTriL`` with the full covariance above.

    Returns:
      A distribution with event shape ``[latent_dim]``.
    """
    if kind not in ("diagonal", "full"):
        raise ValueError(f"aggregate_posterior: kind must be 'diagonal' or 'full', got {kind!r}")
    seed, n, sum_m, sum_second = as_seed(seed), 0, 0.0, 0.0
    for i, x in enumerate(_batches(data, batch_size)):
        m, second = _moments(model.encode(x), num_samples, tf.random.experimental.stateless_fold_in(seed, i))
        n, sum_m, sum_second = n + len(m), sum_m + m.sum(0), sum_second + second.sum(0)
    if n < 2:
        raise ValueError(f"aggregate_posterior: need at least 2 examples, got {n}")
    mean = sum_m / n
    cov = sum_second / n - np.outer(mean, mean)
    if kind == "diagonal":
        return tfd.MultivariateNormalDiag(tf.constant(mean, tf.float32), tf.constant(np.sqrt(np.diag(cov)), tf.float32))
    cov = 0.5 * (cov + cov.T) + 1e-6 * np.eye(len(mean))
    return tfd.MultivariateNormalTriL(tf.constant(mean, tf.float32), tf.constant(np.linalg.cholesky(cov), tf.float32))


def compare_priors(model, x, distributions: dict, *, num_samples: int = 100, seed=0, batch_size: int = 100) -> dict:
    """How well ``num_samples`` latents drawn from each distribution explain the data ``x``.

    For each ``name -> r(z)``: draw ``z_1..z_S ~ r`` once (seed shared by all names), decode, and score
    every ``x_n`` by ``log p(x_n|z_s)``. Reports, averaged over the data,
    ``"log_likelihood"``: ``log (1/S) sum_s p(x_n|z_s)``, the Monte Carlo log-likelihood of ``x_n``
    under the decoder with ``r`` as prior (a lower estimate of ``log int p(x|z) r(z) dz`` in
    expectation), and ``"best_sample"``: ``max_s log p(x_n|z_s)``, how close the nearest sample comes.
    Both compare sampling distributions at equal ``S``; neither is a good estimate of ``log p(x)``
    beyond a few latent dimensions (16-D MNIST VAE, S = 500: -158 nats against a test ELBO of -90;
    use :mod:`tfpvae.evaluation` for the evidence).

    Returns:
      ``{name: {"log_likelihood": float, "best_sample": float}}`` in nats per example.
    """
    out = {}
    for name, dist in distributions.items():
        likelihood = model.decode(dist.sample(num_samples, seed=as_seed(seed)))  # batch [S]
        ll = tf.concat([likelihood.log_prob(tf.expand_dims(b, 1)) for b in _batches(x, batch_size)], 0)  # [N, S]
        lme = tf.reduce_logsumexp(ll, 1) - np.log(num_samples)
        out[name] = {"log_likelihood": float(tf.reduce_mean(lme)),
                     "best_sample": float(tf.reduce_mean(tf.reduce_max(ll, 1)))}
    return out


def attribute_vector(model, x, labels) -> tf.Tensor:
    """``mean(z | attribute) - mean(z | no attribute)`` over posterior means of ``x``.

    Args:
      labels: bool ``[N]`` (one attribute -> vector ``[latent_dim]``) or ``[N, A]`` (-> ``[A, latent_dim]``).
    """
    z = np.asarray(posterior_means(model, x), np.float64)
    lab = np.asarray(labels).astype(bool)
    single = lab.ndim == 1
    lab = lab[:, None] if single else lab
    if lab.shape[0] != len(z):
        raise ValueError(f"attribute_vector: {lab.shape[0]} labels for {len(z)} examples")
    counts = lab.sum(0)
    if np.any(counts == 0) or np.any(counts == len(z)):
        raise ValueError(f"attribute_vector: every attribute needs examples with and without it; positives per "
                         f"attribute {counts.tolist()} of {len(z)}")
    vec = np.stack([z[lab[:, a]].mean(0) - z[~lab[:, a]].mean(0) for a in range(lab.shape[1])])
    return tf.constant(vec[0] if single else vec, tf.float32)


def edit(model, x, vectors, magnitudes) -> tfd.Distribution:
    """``p(x | z + sum_a m_a v_a)`` at the posterior means ``z`` of ``x`` ``[N, ...]``.

    ``vectors``: ``[d]`` or ``[A, d]``; ``magnitudes``: scalar or ``[A]`` (one edit, batch ``[N]``),
    or ``[K, A]`` / ``[K]`` for a single vector (a strip of ``K`` edits, batch ``[K, N]``).
    """
    v = tf.convert_to_tensor(vectors, tf.float32)
    v = v[None] if v.shape.rank == 1 else v
    m = tf.convert_to_tensor(magnitudes, tf.float32)
    if m.shape.rank == 0 or (m.shape.rank == 1 and v.shape[0] == 1 and m.shape[0] != 1):
        m = m[..., None]  # scalar -> [1]; [K] with one vector -> [K, 1]
    if m.shape[-1] != v.shape[0]:
        raise ValueError(f"edit: magnitudes' last dimension {m.shape[-1]} must match the {v.shape[0]} vectors")
    z = posterior_means(model, x)
    shift = tf.linalg.matmul(m if m.shape.rank == 2 else m[None], v)  # [K or 1, d]
    return model.decode(z + shift[0] if m.shape.rank == 1 else z[None] + shift[:, None])


def traverse(model, x, dim: int, values) -> tfd.Distribution:
    """``p(x | z')`` where ``z'`` is the posterior mean of each ``x`` ``[N, ...]`` with latent ``dim``
    set to each of ``values`` ``[V]``: a distribution with batch ``[V, N]`` (a latent traversal).

    Example:
      >>> class Identity(tf.Module):
      ...     def encode(self, x): return tfd.MultivariateNormalDiag(x, tf.ones_like(x))
      ...     def decode(self, z): return tfd.Independent(tfd.Normal(z, 1.0), 1)
      ...     latent_dim = 2
      >>> traverse(Identity(), [[5.0, 6.0]], 0, [-1.0, 1.0]).mean().numpy().tolist()
      [[[-1.0, 6.0]], [[1.0, 6.0]]]
    """
    z = tf.convert_to_tensor(posterior_means(model, x), tf.float32)
    d = int(z.shape[-1])
    if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or not 0 <= dim < d:
        raise ValueError(f"traverse: dim must be an int in [0, {d}), got {dim!r}")
    values = tf.reshape(tf.convert_to_tensor(values, tf.float32), [-1, 1, 1])  # [V, 1, 1]
    mask = tf.one_hot(dim, d)  # [d]
    return model.decode(z[None] * (1.0 - mask) + values * mask)  # [V, N, d]


def aligned_dimension(model, x, factor) -> tuple[int, np.ndarray]:
    """The latent dimension best aligned with a known factor of variation: ``argmax_j
    |corr(E_q[z_j|x], factor)|`` over the examples ``x`` ``[N, ...]`` (held-out data, say).

    Args:
      factor: ``[N]`` numbers (e.g. a sprite's x position). Dimensions whose posterior means do not
        vary over ``x`` (inactive units) have correlation 0.

    Returns:
      ``(dim, |correlations|)``, the latter float64 ``[latent_dim]``.
    """
    z = np.asarray(posterior_means(model, x), np.float64)
    f = np.asarray(factor, np.float64).reshape(-1)
    if len(f) != len(z) or len(z) < 3:
        raise ValueError(f"aligned_dimension: need a factor value for each of at least 3 examples; got {len(f)} "
                         f"values for {len(z)} examples")
    if not np.std(f) > 0:
        raise ValueError("aligned_dimension: the factor is constant over x; no dimension can align with it")
    zc, fc = z - z.mean(0), f - f.mean()
    norms = np.sqrt((zc**2).sum(0) * (fc**2).sum())
    corr = np.abs(np.divide(zc.T @ fc, norms, out=np.zeros(z.shape[1]), where=norms > 0))
    return int(np.argmax(corr)), corr


def lerp(a, b, t) -> tf.Tensor:
    """``(1 - t) a + t b`` for each ``t`` ``[T]``: result ``[T, ..., d]``."""
    a, b = tf.convert_to_tensor(a, tf.float32), tf.convert_to_tensor(b, tf.float32)
    t = tf.reshape(tf.convert_to_tensor(t, tf.float32), [-1] + [1] * a.shape.rank)
    return (1.0 - t) * a + t * b


def slerp(a, b, t, eps: float = 1e-6) -> tf.Tensor:
    """Spherical interpolation ``sin((1-t) w)/sin(w) a + sin(t w)/sin(w) b``, ``w`` the angle between
    ``a`` and ``b`` ``[..., d]``; result ``[T, ..., d]``. Unit vectors stay unit; nearly parallel
    vectors fall back to :func:`lerp` (White 2016).

    Example:
      >>> [round(float(v), 4) for v in slerp([1.0, 0.0], [0.0, 1.0], [0.5])[0]]
      [0.7071, 0.7071]
    """
    a, b = tf.convert_to_tensor(a, tf.float32), tf.convert_to_tensor(b, tf.float32)
    t = tf.reshape(tf.convert_to_tensor(t, tf.float32), [-1] + [1] * a.shape.rank)
    cos = tf.reduce_sum(tf.math.l2_normalize(a, -1) * tf.math.l2_normalize(b, -1), -1, keepdims=True)
    w = tf.acos(tf.clip_by_value(cos, -1.0, 1.0))
    sin_w = tf.sin(w)
    safe = tf.where(sin_w > eps, sin_w, tf.ones_like(sin_w))
    spherical = (tf.sin((1.0 - t) * w) * a + tf.sin(t * w) * b) / safe
    return tf.where(sin_w > eps, spherical, (1.0 - t) * a + t * b)
