# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 13. Scaling out: several devices, mixed precision, a guard in the step, several machines
#
# `tfpvae.fit` runs every step under a `tf.distribute.Strategy`. The batch you give it is the
# *global* batch; the strategy splits it across replicas, each replica computes the per-example
# losses of its share, and the update uses their sum divided by the global batch size. So two
# replicas take the same step one device takes, and a model trains the same wherever it runs.
# This tutorial shows that on this machine's CPU, split into two logical devices (on a machine with
# GPUs the same code uses the GPUs), then measures mixed precision, exercises the guard against
# NaNs, and explains how to run on several machines.
#
# **First line of work: the devices.** TensorFlow fixes its device list at its first operation, so
# the split into two logical CPUs must come before anything else touches TensorFlow (importing it
# is fine; creating a tensor is not). `configure_cpu_replicas(2)` raises a clear error if it is
# too late. The devices exist process-wide afterwards: a "one device" run in the same process uses
# the default strategy, `tf.distribute.get_strategy()`, which places everything on the first device.

# %%
import tfpvae

tfpvae.training.configure_cpu_replicas(2)  # before any other TensorFlow work

import os  # noqa: E402
import time  # noqa: E402

import keras  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfpvae import data  # noqa: E402
from tfpvae.plotting import save_figure  # noqa: E402

SMOKE = os.environ.get("TFPVAE_SMOKE") == "1" or "CI" in os.environ
DATA_DIR = os.environ.get("TFPVAE_DATA_DIR") or ("../../shared/data" if os.path.isdir("../../shared/data") else None)
OUT = os.environ.get("TFPVAE_TUTORIAL_OUT", "figures")
FIGURES = ["13_one_vs_two_devices.png", "13_precision.png"]
os.makedirs(OUT, exist_ok=True)

mirrored = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
one_device = tf.distribute.get_strategy()
print("devices:", [d.name for d in tf.config.list_logical_devices("CPU")], " replicas:",
      mirrored.num_replicas_in_sync)

# %% [markdown]
# ## Data
# Statically binarized MNIST, flattened; a fixed subset keeps the runs short: **the first 10,000
# training images** and 2,000 test images (`TFPVAE_SMOKE=1`: 400 and 200). Batches of 100 are
# global batches: 50 images per replica.

# %%
arrays = data.load_arrays("binarized_mnist", DATA_DIR)
N_TRAIN, N_TEST, EPOCHS = (400, 200, 2) if SMOKE else (10_000, 2_000, 5)
train_x, test_x = arrays.train[:N_TRAIN], arrays.test[:N_TEST]
train = data.ArrayData(train_x, batch_size=100, flatten=True)
test = data.make_dataset(test_x, batch_size=500, shuffle=False, flatten=True)

# %% [markdown]
# ## The same training on one device and on two
# **A deterministic model first.** An autoencoder trained on its reconstruction loss draws no
# random numbers, so one device and two replicas must produce the same losses, up to the order in
# which floating-point sums are taken. The recipe: build the model (and optimizer) *inside*
# `strategy.scope()`, so its variables are mirrored on every replica, then pass the strategy to
# `fit`. The same initial weights come from the same Keras seed.

# %%
def train_autoencoder(strategy):
    with strategy.scope():
        keras.utils.set_random_seed(0)
        ae = tfpvae.models.mlp_autoencoder((784,), latent_dim=10, hidden=(200, 200))
        optimizer = keras.optimizers.Adam(1e-3)
    state = tfpvae.fit(ae, tfpvae.Reconstruction(), train, epochs=EPOCHS, optimizer=optimizer,
                       validation_data={"test": test}, strategy=strategy)
    return state


ae_one, ae_two = train_autoencoder(one_device), train_autoencoder(mirrored)
ae_loss = {name: [h["train"]["loss"] for h in s.history] for name, s in [("one", ae_one), ("two", ae_two)]}
ae_loss_diff = max(abs(a - b) for a, b in zip(ae_loss["one"], ae_loss["two"]))
ae_rel_diff = [abs(a - b) / abs(a) for a, b in zip(ae_loss["one"], ae_loss["two"])]
weight_diff = max(float(np.max(np.abs(a.numpy() - b.numpy()))) for a, b in zip(ae_one.variables, ae_two.variables))
print("autoencoder train loss per epoch, one device:", np.round(ae_loss["one"], 4))
print("                                two replicas:", np.round(ae_loss["two"], 4))
print(f"largest difference: loss {ae_loss_diff:.2e} nats, any weight {weight_diff:.2e}; relative loss difference "
      "per epoch:", [f"{d:.0e}" for d in ae_rel_diff])

# %% [markdown]
# The losses agree to seven significant digits for three epochs, then drift apart (to a relative
# 3e-4 after five epochs, in the run that drew the committed figure); the gap grows with training:
# two replicas add the per-example losses and gradients in another order than one device,
# floating-point addition is not associative, and training amplifies any tiny perturbation of the
# weights. What matters is that there is no systematic difference: the same step, up to rounding.
#
# Why it works: the objective returns one loss *per example*, and the step divides their sum over
# the global batch by the global batch size, whatever the number of replicas. A term added to
# every example's loss, such as a Bayesian layer's KL / N, therefore counts once per example, not
# once per replica (`tests/distributed_checks.py` checks this against one device to 1e-5).
#
# **A VAE.** Here each replica draws its own noise $\varepsilon$ for the reparameterised sample
# (`fit` folds the replica id into the stateless seed; otherwise both halves of the batch would get
# the same noise). The updates therefore differ from one device's, but only as two seeds of the
# same run differ: the test ELBO curves lie on top of each other, within the seed-to-seed noise.

# %%
def train_vae(strategy, precision="float32", seed=0):
    with strategy.scope():
        keras.utils.set_random_seed(seed)
        vae = tfpvae.mlp_vae((784,), latent_dim=20, hidden=(200, 200))
        optimizer = keras.optimizers.Adam(1e-3)
    start = time.perf_counter()
    state = tfpvae.fit(vae, tfpvae.ELBO(kl="analytic"), train, epochs=EPOCHS, optimizer=optimizer,
                       validation_data={"test": test}, strategy=strategy, precision=precision, seed=seed)
    return state, time.perf_counter() - start


vae_runs = {"one device, seed 0": train_vae(one_device, seed=0)[0],
            "one device, seed 1": train_vae(one_device, seed=1)[0],
            "two replicas, seed 0": train_vae(mirrored, seed=0)[0]}
vae_elbo = {name: [h["test"]["elbo"] for h in s.history] for name, s in vae_runs.items()}
seed_noise = abs(vae_elbo["one device, seed 0"][-1] - vae_elbo["one device, seed 1"][-1])
replica_gap = abs(vae_elbo["one device, seed 0"][-1] - vae_elbo["two replicas, seed 0"][-1])
for name, curve in vae_elbo.items():
    print(f"VAE test ELBO, {name:20s}:", np.round(curve, 2))
print(f"final ELBO: two replicas vs one device {replica_gap:.2f} nats; seed 0 vs seed 1 on one device {seed_noise:.2f}")
seed_curves = np.array([vae_elbo["one device, seed 0"], vae_elbo["one device, seed 1"]])
replica_curve = np.array(vae_elbo["two replicas, seed 0"])
outside = np.maximum(seed_curves.min(0) - replica_curve, replica_curve - seed_curves.max(0)).clip(0)
seed_spread = np.abs(seed_curves[0] - seed_curves[1])
print("two replicas' ELBO outside the range of the two one-device seeds, per epoch:", outside.round(2))
print("                  the two one-device seeds apart, per epoch:", seed_spread.round(2))

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
epochs = np.arange(1, EPOCHS + 1)
ax1.plot(epochs, ae_loss["one"], "o-", label="one device")
ax1.plot(epochs, ae_loss["two"], "x--", ms=9, label="MirroredStrategy, 2 replicas")
ax1.set(xlabel="epoch", ylabel="train loss (nats)",
        title=f"deterministic autoencoder: relative difference <= {max(ae_rel_diff):.0e}")
ax1.legend(fontsize=8)
for (name, curve), style in zip(vae_elbo.items(), ["o-", "s:", "x--"]):
    ax2.plot(epochs, curve, style, label=name)
ax2.set(xlabel="epoch", ylabel="test ELBO (nats)", title="VAE: two replicas within seed-to-seed noise")
ax2.legend(fontsize=8)
for ax in (ax1, ax2):
    ax.title.set_fontsize(9), ax.set_xticks(epochs)
fig.tight_layout()
save_figure(fig, f"{OUT}/13_one_vs_two_devices.png")

# %% [markdown]
# ## Mixed precision
# `precision="mixed_bfloat16"` gives the model's Keras layers the Keras mixed policy: weights stay
# float32, matrix products and activations run in bfloat16; the heads cast back to float32, so
# log-probabilities, the KL and the loss are float32 (`"mixed_float16"` adds dynamic loss scaling,
# which bfloat16 does not need: it has float32's exponent range). On GPUs and TPUs with bfloat16
# units this roughly halves memory traffic and speeds up the matrix products. **On this CPU it is
# measured, not assumed**: the same VAE, one device, float32 and then bfloat16.

# %%
runs = {p: train_vae(one_device, precision=p, seed=0) for p in ("float32", "mixed_bfloat16")}
precision = {p: {"elbo": s.history[-1]["test"]["elbo"], "seconds": t,
                 "s_per_epoch": float(np.median([h["seconds"] for h in s.history[1:]] or [s.history[0]["seconds"]]))}
             for p, (s, t) in runs.items()}
for p, r in precision.items():
    print(f"{p:15s} test ELBO {r['elbo']:8.2f}   {r['s_per_epoch']:.2f} s/epoch (median of epochs 2..)")
elbo_change = precision["mixed_bfloat16"]["elbo"] - precision["float32"]["elbo"]
speed_ratio = precision["mixed_bfloat16"]["s_per_epoch"] / precision["float32"]["s_per_epoch"]

fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(8, 3))
names = list(precision)
ax1.bar(names, [precision[p]["s_per_epoch"] for p in names], color=["C0", "C1"])
ax1.set(ylabel="seconds per epoch", title="time per epoch (this CPU, one thread)")
for i, p in enumerate(names):
    ax2.plot([i], [precision[p]["elbo"]], "o", ms=10, color=f"C{i}")
    ax2.annotate(f"{precision[p]['elbo']:.2f}", (i, precision[p]["elbo"]), textcoords="offset points",
                 xytext=(0, 10), ha="center", fontsize=8)
ax2.set_xticks(range(len(names)), names), ax2.set_xlim(-0.6, len(names) - 0.4)
ax2.set(ylabel="test ELBO (nats)", title=f"test ELBO after {EPOCHS} epochs")
values = [precision[p]["elbo"] for p in names]
ax2.set_ylim(min(values) - 3, max(values) + 3)
for ax in (ax1, ax2):
    ax.title.set_fontsize(9), ax.tick_params(labelsize=8)
fig.tight_layout()
save_figure(fig, f"{OUT}/13_precision.png")

# %% [markdown]
# ## The guard against NaNs
# One bad batch (a NaN pixel from a broken file, an overflow) would turn every weight into NaN in
# one update. `fit`'s compiled step checks every term of the objective and every gradient first;
# a non-finite value means the update is not applied. With `nonfinite="stop"` (the default) the run
# ends with a `FloatingPointError` that names the step and the terms; with `"skip"` the batch is
# dropped and counted. We inject one NaN pixel into the third batch of an epoch (a plain
# `tf.data` pipeline: `make_dataset` itself refuses NaNs by name).

# %%
bad_x = arrays.train[:500].reshape(500, 784).astype("float32")
bad_x[250, 100] = np.nan  # batch 3 of 5
bad = tf.data.Dataset.from_tensor_slices(bad_x).batch(100)


def guarded(policy):
    keras.utils.set_random_seed(0)
    vae = tfpvae.mlp_vae((784,), latent_dim=20, hidden=(200, 200))
    try:
        state = tfpvae.fit(vae, tfpvae.ELBO(kl="analytic"), bad, epochs=1, nonfinite=policy, steps_per_execution=1)
    except FloatingPointError as err:
        return vae, None, str(err)
    return vae, state, None


vae_stop, _, stop_message = guarded("stop")
print("nonfinite='stop':", stop_message)
vae_skip, skip_state, _ = guarded("skip")
skipped = skip_state.history[-1]["skipped_batches"]
all_finite = {name: all(bool(np.all(np.isfinite(v.numpy()))) for v in m.trainable_variables)
              for name, m in [("stop", vae_stop), ("skip", vae_skip)]}
print(f"nonfinite='skip': {skipped} batch skipped, train loss {skip_state.history[-1]['train']['loss']:.2f}; "
      f"weights finite: {all_finite}")

# %% [markdown]
# ## Several machines
# Nothing in the model or the training code changes. `tf.distribute.MultiWorkerMirroredStrategy`
# reads the cluster from the `TF_CONFIG` environment variable, which each process sets to the same
# list of workers and its own index; worker 0 is the chief. From the command line:
#
# ```bash
# # on host0 (the chief)
# TF_CONFIG='{"cluster": {"worker": ["host0:12345", "host1:12345"]}, "task": {"type": "worker", "index": 0}}' \
#     tfpvae train --strategy multiworker --output /shared/runs/mw
# # on host1: the same command, "index": 1
# ```
#
# and in Python, `strategy = tfpvae.training.make_strategy("multiworker")`, then the same
# `with strategy.scope(): ...` and `fit(..., strategy=strategy)` as above. Points to know:
#
# - the global batch is split over *all* replicas of all workers: scale the batch (and perhaps the
#   learning rate) with their number, or each replica gets tiny batches;
# - only the chief writes metrics, pictures and checkpoints (`tfpvae.training.is_chief`); the
#   others write checkpoints to a temporary folder, so `--output` must be a folder every worker
#   can read, and a restarted cluster resumes from the chief's checkpoint;
# - every worker must see the same data (a shared folder or tfds); `fit` shards it by data;
# - all workers must start: the strategy waits for the whole cluster at its first collective.
#
# `tfpvae train --strategy mirrored` uses every local GPU (or `--cpu-replicas 2` logical CPUs, as
# here); `--precision mixed_bfloat16`, `--on-nonfinite stop|skip` and `--clip-norm` are the flags of
# the `fit` arguments used above.
#
# ## What you should have seen
# - Two replicas and one device train the deterministic autoencoder to the same losses up to
#   rounding (checked: every epoch's train loss within a relative 1e-3 of the other; the difference
#   is largest in the last epoch, as rounding differences grow with training).
# - For the VAE, two replicas land where another seed lands: after 5 epochs (still far from
#   converged, so the curves are steep and seeds differ by several nats) the final test ELBO of two
#   replicas differs from one device's by no more than one device's seed 1 differs from its seed 0
#   (measured 1.9 and 4.4 nats; 5.1 and 5.1 in an earlier run, before one device's loop was
#   compiled with XLA, whose samplers draw other numbers). Checked in full mode: at every epoch the
#   two-replica ELBO lies within the range spanned by the two one-device seeds, or outside it by
#   less than those two seeds are apart at that epoch (or 2 nats); measured: outside by 1.5, 4.6
#   and 1.3 nats at epochs 2 to 4, where the seeds are 4.1, 5.0 and 4.2 apart. Every final ELBO is
#   between -175 and -130 nats (10,000 images for 5 epochs is far from a converged model; measured
#   -139.0, -134.6 and -137.1).
# - mixed bfloat16 ends within 2% of float32's test ELBO (checked in full mode; measured -139.7
#   against -139.0 nats; -142.5 against -142.2 in an earlier run). Its speed on this CPU is
#   whatever was measured above: no bfloat16 matrix units here, so expect no gain (measured: 0.72
#   against 0.41 s per epoch in the run that drew the figures, where XLA compiled both loops and
#   its CPU backend gains nothing from bfloat16; 2.95 against 3.12 and 5.2 against 5.4 in earlier,
#   uncompiled runs). The gain is on accelerators with bfloat16 units.
# - The guard: `"stop"` raises a `FloatingPointError` naming the step and leaves finite weights;
#   `"skip"` drops exactly one batch and finishes with finite weights (checked).

# %%
assert mirrored.num_replicas_in_sync == 2
assert max(ae_rel_diff) < 1e-3, (ae_loss, ae_rel_diff)
assert stop_message is not None and "step" in stop_message, stop_message
assert skipped == 1 and all(all_finite.values()), (skipped, all_finite)
assert all(np.isfinite(c).all() for c in vae_elbo.values())
print(f"bfloat16 vs float32: ELBO {elbo_change:+.2f} nats, time per epoch x{speed_ratio:.2f}")
if not SMOKE and not arrays.source.startswith("embedded"):
    assert np.all(outside < np.maximum(seed_spread, 2.0)), (outside, seed_spread, vae_elbo)
    assert all(-175 < c[-1] < -130 for c in vae_elbo.values()), vae_elbo
    assert abs(elbo_change) < 0.02 * abs(precision["float32"]["elbo"]), precision
print("all checks passed; figures in", OUT)
