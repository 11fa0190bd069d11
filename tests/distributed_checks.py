"""Run in a subprocess by tests/test_distribute.py: logical CPU devices must be set before TF's first op.

``python distributed_checks.py mirrored`` prints one JSON line of measured differences between a
2-replica MirroredStrategy and one device.
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfpvae  # noqa: E402
from tfpvae.training import configure_cpu_replicas  # noqa: E402
from tfpvae.training.step import step_seed  # noqa: E402


class Regression(tf.Module):
    """A deterministic net whose objective adds a weight penalty to every example's loss (the way a
    Bayesian layer's KL / N enters): N replicas must give one device's update."""

    def __init__(self):
        super().__init__()
        self.net = keras.Sequential([keras.Input((3,)), keras.layers.Dense(8, activation="tanh"),
                                     keras.layers.Dense(1)])

    def __call__(self, x):
        import tensorflow_probability as tfp

        return tfp.distributions.Normal(self.net(x)[:, 0], 1.0)


class PenalisedNLL:
    def __call__(self, model, batch, *, seed, step):
        x, y = batch
        nll = -model(x).log_prob(y)
        penalty = 1e-2 * tf.add_n([tf.reduce_sum(tf.square(v)) for v in model.net.trainable_variables])
        return tfpvae.objectives.NLLTerms(loss=nll + penalty, log_likelihood=-nll)


def _regression_run(strategy, x, y):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        model = Regression()
        opt = keras.optimizers.Adam(0.05)
    state = tfpvae.fit(model, PenalisedNLL(), tf.data.Dataset.from_tensor_slices((x, y)).batch(16), epochs=2,
                       optimizer=opt, strategy=strategy, steps_per_execution=3)
    return [v.numpy() for v in state.variables], state.history[-1]["train"]["loss"]


def _vae_step(strategy, x):
    with strategy.scope():
        keras.utils.set_random_seed(1)
        vae = tfpvae.mlp_vae((6,), latent_dim=2, hidden=(8,))
        opt = keras.optimizers.SGD(0.5)
    tfpvae.fit(vae, tfpvae.ELBO(), tf.data.Dataset.from_tensors(x), epochs=1, optimizer=opt, strategy=strategy, seed=5)
    return vae


def _bayesian_net():
    from tfpvae import distributions as D, layers as L

    return keras.Sequential([keras.Input((3,)), L.DenseFlipout(8, activation="tanh", seed=1),
                             L.DenseReparameterization(1, seed=2), D.NormalHead(1)])


def _bayesian_step_difference(strategy, x, y) -> float:
    """Bayesian layers under the strategy vs one device's update on the same halves with the
    per-replica seeds (Flipout and weight noise differ by replica; the KL / N term is per example)."""
    from tfpvae.objectives import BayesianELBO

    objective = BayesianELBO(num_examples=1000)
    with strategy.scope():
        keras.utils.set_random_seed(3)
        dist_net = _bayesian_net()
        opt = keras.optimizers.SGD(0.1)
    tfpvae.fit(dist_net, objective, tf.data.Dataset.from_tensors((x, y)), epochs=1, optimizer=opt,
               strategy=strategy, seed=4)
    keras.utils.set_random_seed(3)
    ref = _bayesian_net()
    variables = tfpvae.trainable_variables(ref)
    seed = step_seed(tf.constant([4, 0]), 0)
    with tf.GradientTape() as tape:
        total = 0.0
        for r, (xh, yh) in enumerate(((x[:4], y[:4]), (x[4:], y[4:]))):
            s = tf.random.experimental.stateless_fold_in(seed, r)
            total += tf.reduce_sum(objective(ref, (xh, yh), seed=s).loss)
        loss = total / 8.0
    for g, v in zip(tape.gradient(loss, variables), variables):
        v.assign_sub(0.1 * g)
    return max(float(np.max(np.abs(a.numpy() - b.numpy())))
               for a, b in zip(tfpvae.trainable_variables(dist_net), variables))


def mirrored() -> dict:
    configure_cpu_replicas(2)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    one = tf.distribute.get_strategy()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype(np.float32)
    y = (x @ np.array([1.0, -2.0, 0.5], np.float32) + 0.1 * rng.normal(size=64)).astype(np.float32)
    mirrored_vars, mirrored_loss = _regression_run(strategy, x, y)
    single_vars, single_loss = _regression_run(one, x, y)
    reg_diff = max(float(np.max(np.abs(a - b))) for a, b in zip(mirrored_vars, single_vars))

    # VAE: each replica draws its own noise; the update must equal one device's update on the
    # same global batch with the same per-half noise (seed folded with the replica id).
    xb = (rng.random((8, 6)) < 0.5).astype(np.float32)
    dist_vae = _vae_step(strategy, xb)
    keras.utils.set_random_seed(1)
    ref = tfpvae.mlp_vae((6,), latent_dim=2, hidden=(8,))
    variables = ref.trainable_variables
    seed = step_seed(tf.constant([5, 0]), 0)
    with tf.GradientTape() as tape:
        total = 0.0
        for r, half in enumerate((xb[:4], xb[4:])):
            s = tf.random.experimental.stateless_fold_in(seed, r)
            total += tf.reduce_sum(tfpvae.ELBO()(ref, half, seed=s).loss)
        loss = total / 8.0
    grads = tape.gradient(loss, variables)
    for g, v in zip(grads, variables):
        v.assign_sub(0.5 * g)
    vae_diff = max(float(np.max(np.abs(a.numpy() - b.numpy())))
                   for a, b in zip(dist_vae.trainable_variables, variables))
    # the same two halves with the SAME noise on both replicas would give another update
    with tf.GradientTape() as tape:
        same = sum(tf.reduce_sum(tfpvae.ELBO()(ref, half, seed=seed).loss) for half in (xb[:4], xb[4:])) / 8.0
    xr = rng.normal(size=(8, 3)).astype(np.float32)
    bayes_diff = _bayesian_step_difference(strategy, xr, xr[:, :1] * 2.0)
    return {"replicas": strategy.num_replicas_in_sync, "regression_max_abs_diff": reg_diff,
            "bayesian_layers_max_abs_diff": bayes_diff,
            "regression_loss": [mirrored_loss, single_loss], "vae_max_abs_diff": vae_diff,
            "same_noise_loss_differs": bool(abs(float(same) - float(loss)) > 1e-6)}


if __name__ == "__main__":
    print(json.dumps({"mirrored": mirrored}[sys.argv[1]]()))
