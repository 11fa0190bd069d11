# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 11. Bayesian neural nets
#
# A Bayesian neural net keeps a distribution $q(w)$ over its weights instead of one value. Training
# maximises the same kind of bound as a VAE (tutorial 10 does it in closed form for a linear model):
#
# $$\mathrm{ELBO} = \sum_{n=1}^{N} \mathbb{E}_{q(w)}[\log p(y_n | x_n, w)] - \mathrm{KL}(q(w)\,\|\,p(w)).$$
#
# Predictions average over weights, $p(y|x, D) \approx \frac1K \sum_k p(y|x, w_k)$ with
# $w_k \sim q(w)$, so the spread of the $K$ predictions adds *epistemic* uncertainty (what the data
# did not pin down) to the *aleatoric* noise the likelihood models.
#
# `tfpvae.layers` holds Keras 3 layers whose kernels have a mean-field normal posterior and a
# prior, both `tfd` distributions; `DenseFlipout` decorrelates the weight noise across the examples
# of a batch (Wen et al. 2018), which lowers the variance of the gradient. This tutorial:
#
# 1. regression with uncertainty on a UCI set (concrete strength);
# 2. MNIST classification, with a reliability diagram;
# 3. why the KL is divided by $N$, numerically;
# 4. turning a trained deterministic network Bayesian (MOPED) and comparing.
#
# `TFPVAE_SMOKE=1` uses little data and few epochs.

# %%
import os

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf

import tfpvae
from tfpvae import data, evaluation as E, layers as L, plotting
from tfpvae.distributions import CategoricalHead, LearnedScaleNormalHead

SMOKE = os.environ.get("TFPVAE_SMOKE") == "1" or "CI" in os.environ
DATA_DIR = os.environ.get("TFPVAE_DATA_DIR") or ("../../shared/data" if os.path.isdir("../../shared/data") else None)
OUT = os.environ.get("TFPVAE_TUTORIAL_OUT", "figures")
FIGURES = ["11_regression.png", "11_reliability_flipout.png", "11_calibration_compare.png"]
os.makedirs(OUT, exist_ok=True)

# %% [markdown]
# ## 1. Regression with uncertainty
# Concrete compressive strength (UCI; 1,030 mixtures, 8 inputs), split 0 of the 20 standard splits
# of Hernandez-Lobato & Adams (2015), read from `<data folder>/uci/concrete`. `data.load_uci`
# standardises inputs and targets on the training part and keeps the statistics, so metrics can be
# reported in the original units (MPa). Without the data folder we use a synthetic 1-D set
# instead, with a gap in the inputs where the model should become unsure.
#
# The model is the standard one of that benchmark: one hidden layer of 50 ReLU units, here two
# `DenseFlipout` layers, and a `LearnedScaleNormalHead`, a Normal likelihood whose noise scale is
# one learned number.

# %%
try:
    split = data.load_uci("concrete", 0, data_dir=DATA_DIR)
    x_train, y_train, x_test, y_test, y_scale = split.x_train, split.y_train, split.x_test, split.y_test, split.y_scale
    DATASET = "UCI concrete, split 0"
except FileNotFoundError as err:
    print("no UCI data here, using a synthetic 1-D set:", err)
    rng = np.random.default_rng(0)
    x_all = np.concatenate([rng.uniform(-3, -0.7, 300), rng.uniform(0.7, 3, 300)])[:, None].astype("float32")
    y_all = (np.sin(2 * x_all) + 0.2 * rng.normal(size=x_all.shape)).astype("float32")
    x_test = np.linspace(-3.5, 3.5, 200, dtype="float32")[:, None]
    y_test = np.sin(2 * x_test).astype("float32")
    x_train, y_train, y_scale = x_all, y_all, 1.0
    DATASET = "synthetic 1-D"
print(DATASET, "| train", x_train.shape, "test", x_test.shape)


def regression_model(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input(x_train.shape[1:]),
                             L.DenseFlipout(50, activation="relu", seed=seed),
                             L.DenseFlipout(1, seed=seed + 1),
                             LearnedScaleNormalHead(1, init_scale=0.5)])


reg = regression_model(0)
reg_epochs = 5 if SMOKE else 150
tfpvae.fit(reg, tfpvae.BayesianELBO(num_examples=len(x_train)),
           lambda epoch: data.make_tabular_dataset(x_train, y_train, 32, seed=0, epoch=epoch),
           epochs=reg_epochs, optimizer=keras.optimizers.Adam(3e-3), seed=0)

# %% [markdown]
# `E.predictive_distribution(model, x, num_samples=K)` calls the model $K$ times with different
# weights and returns the equal-weight mixture of the $K$ Normals: its `mean()` and `stddev()` are
# the predictive moments (law of total variance: noise plus spread of the means), its `log_prob`
# the predictive log-likelihood by log-mean-exp over the samples.

# %%
predictive = E.predictive_distribution(reg, x_test, num_samples=100, seed=1)
mean, std = (np.asarray(t)[:, 0] for t in E.predictive_mean_stddev(predictive))
test_ll = E.mean_log_likelihood(E.predictive_log_likelihood(predictive, y_test)) - np.log(y_scale)
test_rmse = E.rmse(y_test[:, 0], mean) * y_scale
noise = float(reg.layers[-1].scale[0]) * y_scale
inside = float(np.mean(np.abs(y_test[:, 0] - mean) < 2 * std))
epistemic = np.sqrt(np.maximum(std**2 - float(reg.layers[-1].scale[0]) ** 2, 0.0))  # spread of the K means
print(f"{DATASET}: test log-likelihood {test_ll:.2f} nats, RMSE {test_rmse:.2f}, learned noise scale {noise:.2f}, "
      f"{inside:.1%} of test targets within 2 predictive std")

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
if DATASET.startswith("UCI"):
    order = np.argsort(mean)
    axes[0].errorbar(np.arange(len(mean)), mean[order] * y_scale + split.y_stats.mean[0], yerr=2 * std[order] * y_scale,
                     fmt=".", color="tab:blue", ecolor="tab:blue", alpha=0.5, label="predictive mean +- 2 std")
    axes[0].plot(np.arange(len(mean)), y_test[order, 0] * y_scale + split.y_stats.mean[0], "k.", ms=4, label="observed")
    axes[0].set(xlabel="test mixtures, sorted by predicted strength", ylabel="compressive strength (MPa)")
else:
    axes[0].plot(x_train[:, 0], y_train[:, 0], "k.", ms=2, alpha=0.4, label="training data")
    axes[0].plot(x_test[:, 0], mean, color="tab:blue", label="predictive mean")
    axes[0].fill_between(x_test[:, 0], mean - 2 * std, mean + 2 * std, alpha=0.3, label="+- 2 std")
    axes[0].set(xlabel="x", ylabel="y")
axes[0].set_title(f"{DATASET}: test LL {test_ll:.2f} nats, RMSE {test_rmse:.2f}", fontsize=10)
axes[0].legend(fontsize=8)
axes[1].scatter(epistemic * y_scale, np.abs(y_test[:, 0] - mean) * y_scale, s=8)
axes[1].axhline(2 * noise, color="k", ls="--", lw=1, label=f"2 x learned noise scale ({2 * noise:.1f})")
axes[1].set(xlabel="epistemic std (spread of the predictions over weight samples)", ylabel="|error|",
            title="Predictive std = sqrt(noise^2 + epistemic^2)")
axes[1].legend(fontsize=8)
fig.tight_layout()
fig.savefig(f"{OUT}/11_regression.png", dpi=100)

# %% [markdown]
# ## 2. MNIST classification and calibration
# A 784-200-200-10 `DenseFlipout` MLP with a `CategoricalHead`. To stay within a few minutes on one
# CPU thread we train on a fixed random 20,000 of the 60,000 training digits for 5 epochs and test on
# all 10,000 test digits (a full run to 1.5% error takes an hour; see `benchmarks/bnn_mnist.py`).
#
# A classifier is **calibrated** when, among the predictions made with confidence 0.8, 80% are
# right. The reliability diagram bins test predictions by confidence (the top class probability)
# and plots accuracy against confidence; the expected calibration error
# $\mathrm{ECE} = \sum_b \frac{n_b}{N}\,|\mathrm{acc}_b - \mathrm{conf}_b|$ (Guo et al. 2017)
# summarises the gaps.

# %%
mnist = data.load_arrays("mnist", DATA_DIR)
# (min: without a data folder, the embedded 3,000-digit sample stands in)
n_train = min(1_000 if SMOKE else 20_000, len(mnist.train))
pick = np.random.default_rng(0).choice(len(mnist.train), n_train, replace=False)
xm_train = (mnist.train[pick].reshape(-1, 784) / 255.0).astype("float32")
ym_train = mnist.train_labels[pick].astype("int64")
n_test = 500 if SMOKE else len(mnist.test)
xm_test = (mnist.test[:n_test].reshape(-1, 784) / 255.0).astype("float32")
ym_test = mnist.test_labels[:n_test].astype("int64")
N = len(xm_train)
EPOCHS = 1 if SMOKE else 5
mnist_data = lambda epoch: data.make_tabular_dataset(xm_train, ym_train, 128, seed=0, epoch=epoch)  # noqa: E731

keras.utils.set_random_seed(0)
bnn = keras.Sequential([keras.Input((784,)), L.DenseFlipout(200, activation="relu"),
                        L.DenseFlipout(200, activation="relu"), L.DenseFlipout(10), CategoricalHead(10)])
objective = tfpvae.BayesianELBO(num_examples=N)
tfpvae.fit(bnn, objective, mnist_data, epochs=EPOCHS, optimizer=keras.optimizers.Adam(1e-3), seed=0,
           callbacks=[tfpvae.training.ProgressBar()])


def classify(model, name, num_samples=20):
    """Class probabilities averaged over weight samples, with accuracy, NLL and ECE."""
    p = E.predictive_distribution(model, xm_test, num_samples=num_samples, seed=7)
    probs = np.asarray(E.class_probabilities(p))
    scores = {"accuracy": E.accuracy(probs, ym_test), "nll": E.nll(probs, ym_test),
              "ece": E.expected_calibration_error(probs, ym_test)}
    print(f"{name:34s} accuracy {scores['accuracy']:.2%}  NLL {scores['nll']:.3f}  ECE {scores['ece']:.4f}")
    return probs, scores


bnn_probs, bnn_scores = classify(bnn, "Flipout MLP (K = 20)")
plotting.save_reliability_diagram(f"{OUT}/11_reliability_flipout.png", bnn_probs, ym_test,
                                  title="Flipout MLP")

# %% [markdown]
# ## 3. Why the KL is divided by N
# The bound has $N$ likelihood terms and **one** KL. Stochastic gradient descent sees a batch of
# $B$ examples at a time and minimises its mean loss, so `BayesianELBO(num_examples=N)` gives each
# example the loss $-\log p(y_i|x_i, w) + \mathrm{KL}/N$. A batch then carries $B/N$ of the KL, and
# the $N/B$ batches of an epoch add up to exactly one KL: the summed per-example losses of an epoch
# are the negative ELBO of the whole training set. (Adding the whole KL to every batch's mean
# would count it $N/B$ times per epoch, and the prior would swamp the data.) Checked numerically below.
#
# The numbers also show how large that one KL is: about 56 nats per training example here, against
# a data term of about 0.05. The posterior's scales start at 0.001 (so that training starts close to
# an ordinary network) and 200,000 weights each pay $\log(1/\sigma)$ nats against the unit-scale
# prior; Adam grows the scales slowly. The KL shrinks with training, and its pull on the weights is
# what makes the net's predictions average over many plausible weights rather than one.

# %%
kl_total = float(L.kl_divergence(bnn))
kl_sum, loss_sum, nll_sum, batches = 0.0, 0.0, 0.0, 0
for i, (xb, yb) in enumerate(mnist_data(0)):
    terms = objective(bnn, (xb, yb), seed=[0, i])
    kl_sum += float(tf.reduce_sum(terms.kl))
    loss_sum += float(tf.reduce_sum(terms.loss))
    nll_sum += float(-tf.reduce_sum(terms.log_likelihood))
    batches += 1
print(f"KL(q(w) || p(w)) = {kl_total:.1f} nats;  sum over the {batches} batches of one epoch of the per-example "
      f"KL terms = {kl_sum:.1f}  (KL / N = {kl_total / N:.3f} per example)")
print(f"sum of per-example losses {loss_sum:.1f} = NLL {nll_sum:.1f} + KL {kl_sum:.1f}: the negative ELBO of the "
      "training set (one weight sample per batch)")

# %% [markdown]
# ## 4. Turning a trained network Bayesian (MOPED)
# Training a Bayesian net from scratch is slow: the posterior means start random. MOPED
# (Krishnan et al. 2020) starts from a trained deterministic network instead: each kernel's
# posterior mean is the trained weight $w$ and its scale $\delta |w|$ (here $\delta = 0.1$).
# `layers.to_bayesian(model, init_scale_relative=0.1, flipout=True)` clones a Keras model with its
# `Dense` and `Conv2D` layers replaced that way. We train the same MLP without weight
# distributions (`tfpvae.NegativeLogLikelihood`, the cross-entropy) for the same epochs, convert
# it, fine-tune it for one epoch with `BayesianELBO`, and compare the three.

# %%
keras.utils.set_random_seed(0)
det = keras.Sequential([keras.Input((784,)), keras.layers.Dense(200, activation="relu"),
                        keras.layers.Dense(200, activation="relu"), keras.layers.Dense(10), CategoricalHead(10)])
tfpvae.fit(det, tfpvae.NegativeLogLikelihood(), mnist_data, epochs=EPOCHS, optimizer=keras.optimizers.Adam(1e-3),
           seed=0)
det_probs, det_scores = classify(det, "deterministic MLP", num_samples=1)
moped = L.to_bayesian(det, init_scale_relative=0.1, flipout=True)
_, moped0_scores = classify(moped, "MOPED, right after conversion")
tfpvae.fit(moped, tfpvae.BayesianELBO(num_examples=N), mnist_data, epochs=1, optimizer=keras.optimizers.Adam(1e-4),
           seed=1)
moped_probs, moped_scores = classify(moped, "MOPED + 1 epoch of BayesianELBO")

fig, axes = plt.subplots(1, 2, figsize=(10, 4))
for name, probs in (("deterministic", det_probs), ("Flipout from scratch", bnn_probs), ("MOPED", moped_probs)):
    bins = E.reliability_bins(probs, ym_test, n_bins=10)
    used = bins.count > 0
    ece = E.expected_calibration_error(probs, ym_test, n_bins=10)
    axes[0].plot(bins.confidence[used], bins.accuracy[used] - bins.confidence[used], "o-",
                 label=f"{name} (ECE {ece:.3f})")
    axes[1].plot(bins.confidence[used], bins.count[used] / len(probs), "o-", label=name)
axes[0].axhline(0, color="k", lw=1, ls="--")
axes[0].set(xlabel="confidence", ylabel="accuracy - confidence", title="Reliability (below 0: overconfident)")
axes[1].set(xlabel="confidence", ylabel="fraction of test digits", yscale="log", title="How confident the models are")
axes[0].legend(fontsize=8)
axes[1].legend(fontsize=8)
fig.tight_layout()
fig.savefig(f"{OUT}/11_calibration_compare.png", dpi=100)

# %% [markdown]
# ## What you should have seen
# - Concrete: a band whose width is mostly the learned noise (a homoscedastic likelihood: one scale
#   for every mixture), plus an epistemic part that differs between mixtures; a test log-likelihood near
#   the published ones for this model class (Gal & Ghahramani 2016, Table 1: VI -3.39, PBP -3.16,
#   MC dropout -3.04 nats; checked: between -3.6 and -2.9 on split 0) and an RMSE of about 5-7 MPa
#   (checked: < 8), with 85-100% of test targets inside $\pm 2$ predictive standard deviations.
# - MNIST, Flipout MLP on 20,000 digits for 5 epochs: accuracy above 93% (checked) and a small ECE
#   (checked: < 0.03); the reliability diagram stays close to the diagonal.
# - The per-example KL terms of one epoch add up to the model's KL to 0.1% (checked), so an epoch's
#   summed loss is the negative ELBO of the training set.
# - MOPED: right after conversion the network predicts about as well as the deterministic one
#   (checked: accuracy within 2 points), and after one epoch of the Bayesian objective it keeps that
#   accuracy (checked: within 2 points) with an ECE no worse than the deterministic net's plus 0.01.
# - Numbers are checked in full mode on the real data; the smoke run checks that they are finite.

# %%
assert np.isfinite(test_ll) and np.isfinite(bnn_scores["nll"]) and np.isfinite(moped_scores["nll"])
assert abs(kl_sum - kl_total) <= 1e-3 * kl_total, (kl_sum, kl_total)  # holds in smoke mode too
assert abs(loss_sum - (nll_sum + kl_sum)) <= 1e-4 * abs(loss_sum), (loss_sum, nll_sum, kl_sum)
FULL_DATA = DATASET.startswith("UCI") and not mnist.source.startswith("embedded")
if not SMOKE and FULL_DATA:
    assert -3.6 < test_ll < -2.9, test_ll
    assert test_rmse < 8.0 and 0.85 <= inside <= 1.0, (test_rmse, inside)
    assert bnn_scores["accuracy"] > 0.93 and bnn_scores["ece"] < 0.03, bnn_scores
    assert abs(moped0_scores["accuracy"] - det_scores["accuracy"]) < 0.02, (moped0_scores, det_scores)
    assert abs(moped_scores["accuracy"] - det_scores["accuracy"]) < 0.02, (moped_scores, det_scores)
    assert moped_scores["ece"] < det_scores["ece"] + 0.01, (moped_scores, det_scores)
print("all checks passed; figures in", OUT)
