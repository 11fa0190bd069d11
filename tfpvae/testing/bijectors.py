"""Reusable property checks for bijectors (raise AssertionError with a reason).

Every check feeds fresh tensors (`tf.identity`) to each call: TFP bijectors cache forward/inverse pairs by
tensor identity, so `inverse(forward(x))` on the same objects would return x without computing anything.
"""
from __future__ import annotations

import functools
from typing import Optional, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.bijectors import chain as chain_lib

from tfpvae.flows.networks import stateless_seed

tfb, tfd = tfp.bijectors, tfp.distributions
_ZERO = 1e-6  # what counts as an exact zero in a Jacobian


def perturb_variables(variables, scale: float = 0.1, seed=0) -> None:
    """Adds seeded N(0, scale^2) noise to every variable, then re-applies its constraint.

    Use it so a zero-initialised (identity) flow is tested away from the identity. Re-applying
    `variable.constraint` keeps the masks of MADE kernels (they are constraints), so autoregressive
    structure survives.

    Args:
      variables: a `tf.Module` (its `trainable_variables`) or an iterable of variables.
      scale: noise standard deviation.
      seed: int or shape-[2] tensor.
    """
    variables = getattr(variables, "trainable_variables", variables)
    for i, v in enumerate(variables):
        noise = tf.random.stateless_normal(v.shape, tf.random.experimental.stateless_fold_in(
            stateless_seed(seed), i), stddev=scale, dtype=v.dtype)
        v.assign_add(noise)
        if getattr(v, "constraint", None) is not None:
            v.assign(v.constraint(v))


def _steps(bijector) -> list:
    """Bijectors in the order they are applied, nested chains flattened."""
    if isinstance(bijector, chain_lib._Chain):  # tfb.Chain of non-CompositeTensor parts is a _Chain
        return [s for b in reversed(bijector.bijectors) for s in _steps(b)]
    return [bijector]


def _jacobian(fn, x):
    # pfor is slow to trace through the tf.while_loop of MAF-direction steps; a plain loop over the D
    # outputs is faster both eagerly and in graph mode.
    with tf.GradientTape(persistent=True) as tape:
        x = tf.identity(x)
        tape.watch(x)
        y = fn(x)
    return y, tape.batch_jacobian(y, x, experimental_use_pfor=False)


def _measure(bijector, x, variables, autoregressive, check_gradients):
    """All tensors the checks compare; pure TF so it can run eagerly or inside tf.function."""
    y = bijector.forward(tf.identity(x))
    out = dict(y=y, x_back=bijector.inverse(tf.identity(y)),
               fldj=bijector.forward_log_det_jacobian(tf.identity(x), event_ndims=1),
               ildj=bijector.inverse_log_det_jacobian(tf.identity(y), event_ndims=1))
    # Jacobian of the whole stack = product of the per-step Jacobians (chain rule): one autodiff pass
    # per step serves both the log-det and the triangularity checks.
    h, jac, out["step_jacobians"] = x, None, []
    for step in _steps(bijector):
        h, step_jac = _jacobian(step.forward, h)
        jac = step_jac if jac is None else tf.linalg.matmul(step_jac, jac)
        if autoregressive and not isinstance(step, tfb.Permute):
            out["step_jacobians"].append(step_jac)
    out["logdet"] = tf.linalg.slogdet(jac)[1]
    if check_gradients:
        with tf.GradientTape() as tape:
            z = bijector.forward(tf.identity(x))
            fldj = bijector.forward_log_det_jacobian(tf.identity(x), event_ndims=1)
            loss = tf.reduce_mean(0.5 * tf.reduce_sum(z**2, axis=-1) - fldj)
        grads = tape.gradient(loss, variables)
        out["has_grad"] = tf.constant([g is not None for g in grads], dtype=tf.bool, shape=[len(grads)])
        out["grads"] = [tf.zeros([]) if g is None else tf.convert_to_tensor(g) for g in grads]
    return out


def _close(name: str, actual, expected, atol: float) -> None:
    err = float(np.max(np.abs(np.asarray(actual) - np.asarray(expected)), initial=0.0))
    if not np.isfinite(err) or err > atol:
        raise AssertionError(f"{name}: max abs error {err:.3g} > atol {atol:g}")


def assert_bijector_ok(bijector: tfb.Bijector, event_size: int, *, batch: int = 5, seed=0, atol: float = 1e-4,
                       autoregressive: bool = False, check_gradients: bool = True,
                       variables: Optional[Sequence[tf.Variable]] = None, in_tf_function: bool = False,
                       scale: float = 1.0) -> None:
    """Checks the bijector identities on x ~ N(0, scale^2), x [batch, event_size]; AssertionError if not.

    1. outputs finite, and forward is not the identity (else the checks are vacuous: `perturb_variables`);
    2. inverse(forward(x)) == x;
    3. fldj(x) has shape [batch] (per example, never summed over the batch; a scalar only when
       `bijector.is_constant_jacobian`) and equals log|det J(x)|, J from `GradientTape.batch_jacobian`
       (per step of a `tfb.Chain`, multiplied);
    4. fldj(x) == -ildj(forward(x));
    5. `autoregressive`: every step that is not a `tfb.Permute` has a lower-triangular Jacobian at its
       input, and some step has a nonzero entry below the diagonal;
    6. `check_gradients`: every variable gets a non-None, finite gradient of mean(0.5 |f(x)|^2 - fldj(x)).

    Args:
      bijector: acts on events [..., event_size]; a bound conditional flow must accept batch [batch].
      event_size: D.
      batch: number of test points.
      seed: int or shape-[2] tensor for x.
      atol: absolute tolerance of checks 2-4.
      autoregressive: run check 5.
      check_gradients: run check 6.
      variables: defaults to `bijector.trainable_variables` (tf.Module tracking, which sees tf-keras
        weights but not Keras 3 ones: pass those explicitly).
      in_tf_function: compute everything inside one `tf.function` (graph mode) instead of eagerly.
      scale: standard deviation of x.
    """
    x = scale * tf.random.stateless_normal([batch, event_size], stateless_seed(seed))
    variables = list(bijector.trainable_variables if variables is None else variables)
    measure = functools.partial(_measure, bijector, variables=variables, autoregressive=autoregressive,
                                check_gradients=check_gradients)
    measure = tf.function(measure, autograph=False) if in_tf_function else measure
    m = tf.nest.map_structure(np.asarray, measure(x))
    for key in ("y", "x_back", "fldj", "ildj"):
        if not np.all(np.isfinite(m[key])):
            raise AssertionError(f"{key} is not finite: {m[key]}")
    if np.max(np.abs(m["y"] - np.asarray(x))) < _ZERO:
        raise AssertionError("forward is the identity at x: checks would be vacuous; perturb the variables "
                             "(tfpvae.testing.perturb_variables)")
    _close("round trip inverse(forward(x)) vs x", m["x_back"], x, atol)
    if m["fldj"].shape != (batch,) and not (bijector.is_constant_jacobian and m["fldj"].ndim == 0):
        raise AssertionError(f"forward_log_det_jacobian has shape {m['fldj'].shape}, expected per-example "
                             f"[{batch}] (a scalar only for constant-Jacobian bijectors)")
    _close("fldj vs log|det batch_jacobian|", m["fldj"], m["logdet"], atol)
    _close("fldj(x) vs -ildj(forward(x))", m["fldj"], -m["ildj"], atol)
    if autoregressive:
        for i, jac in enumerate(m["step_jacobians"]):
            upper = np.max(np.abs(np.triu(jac, k=1)), initial=0.0)
            if upper > _ZERO:
                raise AssertionError(f"step {i} Jacobian is not lower triangular: max |J[i, j > i]| = "
                                     f"{upper:.3g}")
        if not any(np.max(np.abs(np.tril(j, k=-1)), initial=0.0) > _ZERO for j in m["step_jacobians"]):
            raise AssertionError("no step has a nonzero below-diagonal Jacobian entry: the triangularity "
                                 "check is vacuous (networks at identity or no autoregressive steps)")
    if check_gradients:
        for v, has, g in zip(variables, m["has_grad"], m["grads"]):
            if not has:
                raise AssertionError(f"variable {v.name} gets no gradient (None) from the forward+fldj loss")
            if not np.all(np.isfinite(g)):
                raise AssertionError(f"variable {v.name} gets a non-finite gradient")

