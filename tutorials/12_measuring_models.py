# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 12. Measuring models: log-likelihood, bits/dim, and what the numbers in papers mean
#
# A VAE's training objective, the ELBO, is a *lower bound* on $\log p(x)$. Two models are compared
# on $\log p(x)$ itself, the test log-likelihood, which we cannot compute exactly but can bound
# as tightly as we like by importance sampling. This tutorial trains a small VAE, measures it, and
# explains the units and conventions behind the tables you will read:
#
# 1. the importance-weighted estimate $\mathcal{L}_K$ for $K = 1, 10, 100, 1000$, and why it rises with $K$;
# 2. nats per image vs bits per dimension, and when bits/dim means anything;
# 3. which test set, which binarization and which $K$ a published number used.

# %%
import os

import keras
import matplotlib.pyplot as plt
import numpy as np

import tfpvae
from tfpvae import data, distributions as D
from tfpvae.evaluation import bits_per_dim, evaluate_dataset, log_likelihood

SMOKE = os.environ.get("TFPVAE_SMOKE") == "1" or "CI" in os.environ
DATA_DIR = os.environ.get("TFPVAE_DATA_DIR") or ("../../shared/data" if os.path.isdir("../../shared/data") else None)
OUT = os.environ.get("TFPVAE_TUTORIAL_OUT", "figures")
FIGURES = ["12_bound_vs_k.png", "12_estimate_spread.png"]
os.makedirs(OUT, exist_ok=True)
keras.utils.set_random_seed(0)

# %% [markdown]
# ## A small VAE on statically binarized MNIST, trained briefly
# The 784-200-200-50 tanh model of Burda et al. (2016), Bernoulli likelihood, five epochs (a
# converged model needs hundreds: see `benchmarks/README.md`). Brief training is fine here: we
# are measuring a model, not chasing a number.

# %%
arrays = data.load_arrays("binarized_mnist", DATA_DIR)
train_x = arrays.train[:500] if SMOKE else arrays.train
train = data.ArrayData(train_x, batch_size=100, flatten=True)
vae = tfpvae.mlp_vae((784,), latent_dim=50, hidden=(200, 200))
state = tfpvae.fit(vae, tfpvae.ELBO(kl="analytic"), train, epochs=1 if SMOKE else 5,
                   optimizer=keras.optimizers.Adam(1e-3), seed=0)
print(f"train ELBO after {state.epoch} epochs: {-state.history[-1]['train']['loss']:.2f} nats")

# %% [markdown]
# ## The importance-weighted bound
# For any $q(z|x)$, $p(x) = \mathbb{E}_{z\sim q}\left[\frac{p(x|z)p(z)}{q(z|x)}\right]$, so averaging
# $K$ importance weights $w_k = p(x|z_k)p(z_k)/q(z_k|x)$ gives an unbiased estimate of $p(x)$. Its
# log is biased downwards (Jensen), which makes it a bound:
#
# $$\mathcal{L}_K(x) = \mathbb{E}\Big[\log \tfrac1K \textstyle\sum_{k=1}^K w_k\Big] \le \log p(x),
# \qquad \mathcal{L}_1 = \mathrm{ELBO} \le \mathcal{L}_{10} \le \mathcal{L}_{100} \le \dots \to \log p(x).$$
#
# (Burda et al. 2016 prove the monotonicity.) `tfpvae.evaluation.log_likelihood(model, x,
# num_samples=K)` computes $\log\frac1K\sum_k w_k$ per example, drawing the $K$ samples in
# chunks so memory stays bounded. We evaluate it on a *random* subset of the test set: the
# statically binarized test split, in file order, starts with a long run of one digit, so "the
# first 1,000 test images" is not a fair sample.

# %%
num_test = 100 if SMOKE else 1000
Ks = [1, 10, 100] if SMOKE else [1, 10, 100, 1000]
order = np.random.default_rng(0).permutation(len(arrays.test))
x_test = arrays.test[order[:num_test]].reshape(num_test, 784).astype("float32")

elbo = tfpvae.ELBO(kl="analytic")(vae, x_test, seed=[0, 7]).elbo.numpy()
bounds = {K: log_likelihood(vae, x_test, num_samples=K, seed=K).numpy().astype(np.float64) for K in Ks}
stderr = lambda v: v.std(ddof=1) / np.sqrt(v.size)
for K in Ks:
    gain = bounds[K] - bounds[Ks[0]]  # paired: the same images, so image-to-image spread cancels
    print(f"K={K:5d}: L_K = {bounds[K].mean():8.2f} +- {stderr(bounds[K]):.2f} nats  "
          f"(over K=1: {gain.mean():+.2f} +- {stderr(gain):.2f})")
print(f"analytic-KL ELBO: {elbo.mean():.2f}   (L_1 is the same bound with a one-sample KL)")
first_block = log_likelihood(vae, arrays.test[:num_test].reshape(num_test, 784).astype("float32"),
                             num_samples=Ks[-1], seed=1).numpy()
print(f"the first {num_test} test images in file order: L_{Ks[-1]} = {first_block.mean():.2f} "
      f"(a random {num_test}: {bounds[Ks[-1]].mean():.2f})")

fig, ax = plt.subplots(figsize=(6, 3.8))
means = np.array([bounds[K].mean() for K in Ks])
errs = np.array([stderr(bounds[K] - bounds[Ks[0]]) for K in Ks])
ax.errorbar(Ks, means, yerr=errs, fmt="o-", capsize=3, label="importance-weighted bound $\\mathcal{L}_K$")
ax.axhline(elbo.mean(), color="C1", ls="--", label="ELBO (analytic KL)")
ax.set(xscale="log", xlabel="K (importance samples per image)", ylabel="nats per image (mean over test subset)",
       title=f"The bound tightens with K ({num_test} test images)")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(f"{OUT}/12_bound_vs_k.png", dpi=100)

# %% [markdown]
# ## Each estimate is noisy, and less so with more samples
# One call gives one draw of a random number. For a few images we repeat the estimate
# `num_seeds` times (one call on the images tiled `num_seeds` times: every row of a batch gets its
# own independent samples, and the call is compiled once): the spread shrinks as $K$ grows and
# its centre moves up. It shrinks slower than $1/\sqrt{K}$, and now and then one estimate lands
# far *above* the others: the weights are heavy-tailed, a rare $z$ with a huge $w_k$ dominates the
# average. (The figure shows 5 of the images.) The log of an average is also biased low, for
# large $K$ by about $\mathrm{Var}[w]/(2K\,p(x)^2)$, so the bias shrinks like $1/K$.
# Both are why papers use a large $K$: Burda et al. evaluate with $K = 5000$, the standard for
# MNIST since.

# %%
num_images, num_seeds = (3, 5) if SMOKE else (10, 30)
few = x_test[:num_images]
tiled = np.tile(few, (num_seeds, 1))                                   # [seeds * images, 784]
repeats = {K: log_likelihood(vae, tiled, num_samples=K, batch_size=len(tiled), seed=1000 + K).numpy()
              .reshape(num_seeds, num_images) for K in Ks}                 # [seeds, images]
spread = {K: float(repeats[K].std(axis=0, ddof=1).mean()) for K in Ks}
for K in Ks:
    print(f"K={K:5d}: std of the estimate across seeds, mean over {num_images} images: {spread[K]:.3f} nats")
fig, ax = plt.subplots(figsize=(6, 3.8))
for i in range(min(num_images, 5)):
    for j, K in enumerate(Ks):
        ax.scatter(np.full(num_seeds, j + (i - 2) * 0.08), repeats[K][:, i] - repeats[Ks[-1]][:, i].mean(),
                   s=6, color=f"C{i}")
ax.set(xticks=range(len(Ks)), xticklabels=[f"K={K}" for K in Ks], ylabel="estimate - mean at the largest K (nats)",
       title=f"{num_seeds} seeds per K, {min(num_images, 5)} test images (one colour each)")
fig.tight_layout()
fig.savefig(f"{OUT}/12_estimate_spread.png", dpi=100)

# %% [markdown]
# ## Nats, bits, and bits per dimension
# $-\log p(x)$ in nats per image is the MNIST convention (VAE papers report "NLL 86.76" and the
# like). Divide by $\ln 2$ for bits. **Bits per dimension**, $-\log_2 P(x) / D$, is the convention
# for natural images (CIFAR-10, ImageNet), and it only means something for a probability *mass*
# over the 256 values of each 8-bit sub-pixel: 8 bits/dim is a uniform guess, and a density on
# continuous intensities is not comparable (its "NLL" can be pushed down without limit).
# `tfpvae.evaluation.bits_per_dim` therefore refuses a Bernoulli over binarized pixels: those are
# 784 binary variables, a different data set from 8-bit MNIST, and the number would be bits per
# *binary* pixel.

# %%
nll_nats = -bounds[Ks[-1]].mean()
try:
    bits_per_dim(nll_nats, 784, likelihood=vae)
    bernoulli_refused = False
except ValueError as error:
    bernoulli_refused = True
    print("bits_per_dim refused:", str(error)[:160], "...")
print(f"binarized MNIST: {nll_nats:.2f} nats per image = {nll_nats / np.log(2):.1f} bits per image "
      f"= {nll_nats / (784 * np.log(2)):.4f} bits per binary pixel (not 'bits/dim' in the 8-bit sense)")

# %% [markdown]
# For bits/dim we need a likelihood of 8-bit data. `DiscretizedLogisticHead` (Salimans et al.
# 2017) is one: it integrates a logistic density over each of the 256 bins of a sub-pixel, so
# `log_prob` is the log of a probability mass. We train a small VAE with it on 8-bit MNIST
# (grey levels, not binarized); `evaluate_dataset` then adds `bits_per_dim` to its result.

# %%
mnist = data.load_arrays("mnist", DATA_DIR)
train8 = mnist.train[:500] if SMOKE else mnist.train
test8 = mnist.test[np.random.default_rng(1).permutation(len(mnist.test))[:num_test]]
vae8 = tfpvae.mlp_vae((784,), latent_dim=32, hidden=(256, 256), head=D.DiscretizedLogisticHead((784,)))
tfpvae.fit(vae8, tfpvae.ELBO(kl="analytic"),
           data.ArrayData(train8, batch_size=100, flatten=True),
           epochs=1 if SMOKE else 5, optimizer=keras.optimizers.Adam(1e-3), seed=0)
result8 = evaluate_dataset(vae8, data.make_dataset(test8, batch_size=100, shuffle=False, flatten=True),
                           num_samples=10 if SMOKE else 100, seed=0)
by_hand = result8["nll"] / (784 * np.log(2))
print(f"8-bit MNIST: NLL {result8['nll']:.1f} +- {result8['nll_stderr']:.1f} nats per image "
      f"(K={result8['num_samples']}) = {result8['bits_per_dim']:.3f} bits/dim; by hand {by_hand:.3f}")

# %% [markdown]
# ## Reading a table of published numbers
# Before comparing your number with a paper's, check:
#
# - **Which data.** *Statically* binarized MNIST (Larochelle & Murray 2011: one fixed binarization,
#   50k/10k/10k train/validation/test) and *dynamically* binarized MNIST (pixels re-sampled from
#   their grey levels every time an image is used, from the 60,000 + 10,000 grey-level images) are
#   different data sets. Dynamic binarization is also a form of data augmentation, and reported
#   NLLs on it are usually a few nats lower (Tomczak & Welling 2018 report both). 8-bit MNIST in
#   bits/dim is a third, incomparable, benchmark.
# - **Which split and how much of it.** Published numbers use the whole 10,000-image test set; a
#   subset gives a different number (above, the first images in file order against a random
#   subset: about 9 nats apart in our run), and model selection must use validation data, never the test set.
# - **Which bound.** An ELBO, an IWAE training bound, and an importance-sampled $\mathcal{L}_K$
#   are different quantities. "Test NLL" in the VAE literature means $-\mathcal{L}_{5000}$ (Burda et al.
#   2016); with a small $K$ the number is pessimistic by the gap you saw above.
# - **Units.** Nats per image for MNIST; bits/dim for 8-bit images, where
#   bits/dim $=$ nats $/ (D \ln 2)$ with $D = 784$ (MNIST) or $3072$ (CIFAR-10).
# - **Training budget.** Published MNIST numbers come from thousands of epochs; this repository's
#   `benchmarks/README.md` records what ten epochs and one hour on one CPU core reach, next to
#   the papers' numbers.
#
# ## What you should have seen
# - $\mathcal{L}_K$ rises with $K$: in full mode $\mathcal{L}_{1000}$ is above $\mathcal{L}_1$ by
#   between 2 and 15 nats for this briefly trained VAE, every step up in $K$ raises the mean by more
#   than 3 paired standard errors, and $\mathcal{L}_1$ agrees with the analytic-KL ELBO within 1 nat
#   (both estimate the same bound).
# - The spread of a single estimate across seeds falls with $K$ (by at least 3x from $K=1$ to 1000).
# - `bits_per_dim` refuses the Bernoulli model; for the discretized-logistic VAE on 8-bit MNIST it
#   equals NLL $/(784 \ln 2)$, between 1 and 4 bits/dim after five epochs (8 would be a uniform guess).
# - The 2-15 nats and 1-4 bits/dim ranges are checked on the full data sets only, not on the
#   embedded sample.

# %%
assert bernoulli_refused
assert abs(result8["bits_per_dim"] - by_hand) < 1e-6, (result8["bits_per_dim"], by_hand)
assert all(np.all(np.isfinite(b)) for b in bounds.values())
assert 0 < result8["bits_per_dim"] < 8.0 or SMOKE, result8["bits_per_dim"]
if not SMOKE:
    for small, large in zip(Ks, Ks[1:]):
        gain = bounds[large] - bounds[small]
        assert gain.mean() > 3 * stderr(gain), (small, large, gain.mean(), stderr(gain))
    assert spread[1] > 3 * spread[Ks[-1]], spread
    assert abs(bounds[1].mean() - elbo.mean()) < 1.0, (bounds[1].mean(), elbo.mean())
if not SMOKE and not (arrays.source.startswith("embedded") or mnist.source.startswith("embedded")):
    total_gain = (bounds[Ks[-1]] - bounds[1]).mean()  # these ranges assume the full training sets
    assert 2.0 < total_gain < 15.0, total_gain
    assert 1.0 < result8["bits_per_dim"] < 4.0, result8["bits_per_dim"]
print("all checks passed; figures in", OUT)
