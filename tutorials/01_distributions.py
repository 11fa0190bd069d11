# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 1. Distributions as building blocks
#
# Every model in tfpvae is built from `tfd.Distribution` objects: a regression net returns a
# Normal, a classifier a Categorical, a VAE's encoder a Gaussian over latents and its decoder a
# Bernoulli over pixels. Before any network, this tutorial shows the four things we ask of a
# distribution and the one idea that trips everybody up:
#
# 1. `sample(n, seed=...)`: draws;
# 2. `log_prob(x)`: the log-density (or log-mass) at `x`, the quantity every loss in this library is made of;
# 3. `tfd.kl_divergence(p, q)`: closed form when TFP knows one, otherwise a Monte Carlo estimate;
# 4. **batch shape vs event shape**, and `tfd.Independent`, which turns 784 independent pixel
#    probabilities into *one* probability of an image.
#
# Set `TFPVAE_SMOKE=1` to run with fewer samples (CI does).

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae import data

tfd = tfp.distributions

SMOKE = os.environ.get("TFPVAE_SMOKE") == "1" or "CI" in os.environ
DATA_DIR = os.environ.get("TFPVAE_DATA_DIR") or ("../../shared/data" if os.path.isdir("../../shared/data") else None)
OUT = os.environ.get("TFPVAE_TUTORIAL_OUT", "figures")
FIGURES = ["01_sample_and_density.png", "01_kl_monte_carlo.png", "01_independent_image.png"]
os.makedirs(OUT, exist_ok=True)
NUM_SAMPLES = 2_000 if SMOKE else 200_000

# %% [markdown]
# ## Sample and `log_prob`
# A `tfd.Normal(loc=1, scale=0.5)` is an object, not a function call that returns numbers. We draw
# from it with a *stateless* seed (a pair of ints): the same seed gives the same draws on every
# run, which is what makes the training runs of this library reproducible.
#
# `log_prob` is the log of the density $\log p(x) = -\tfrac12\left(\tfrac{x-\mu}{\sigma}\right)^2
# - \log\sigma - \tfrac12\log 2\pi$. We check it against that formula, and check the draws
# against the mean and standard deviation.

# %%
p = tfd.Normal(loc=1.0, scale=0.5)
x = p.sample(NUM_SAMPLES, seed=[0, 1])
print("sample mean %.4f (1.0), sample std %.4f (0.5)" % (tf.reduce_mean(x), tf.math.reduce_std(x)))

grid = np.linspace(-1.0, 3.0, 201).astype("float32")
by_hand = -0.5 * ((grid - 1.0) / 0.5) ** 2 - np.log(0.5) - 0.5 * np.log(2 * np.pi)
max_formula_error = float(np.max(np.abs(p.log_prob(grid).numpy() - by_hand)))
print(f"largest |log_prob - formula| on the grid: {max_formula_error:.2e}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.hist(x.numpy(), bins=80, density=True, alpha=0.5, label=f"{NUM_SAMPLES:,} samples")
ax.plot(grid, np.exp(p.log_prob(grid)), "k", label="exp(log_prob(x))")
ax.set(xlabel="x", ylabel="density", title="Normal(1, 0.5): draws agree with the density")
ax.legend()
fig.tight_layout()
fig.savefig(f"{OUT}/01_sample_and_density.png", dpi=100)

# %% [markdown]
# ## KL divergence: closed form vs Monte Carlo
# $\mathrm{KL}(q\,\|\,p) = \mathbb{E}_{z\sim q}[\log q(z) - \log p(z)] \ge 0$. Between two Gaussians
# it has a closed form, $\log\frac{\sigma_p}{\sigma_q} + \frac{\sigma_q^2 + (\mu_q-\mu_p)^2}{2\sigma_p^2}
# - \frac12$, and `tfd.kl_divergence` knows it. For most pairs (a flow posterior against a
# mixture prior, say) there is no closed form, and we estimate the expectation by averaging
# $\log q(z) - \log p(z)$ over draws $z \sim q$. That estimate is unbiased and its error shrinks like
# $1/\sqrt{n}$: this is exactly the choice `ELBO(kl="analytic")` vs `ELBO(kl="monte_carlo")` makes.

# %%
q = tfd.Normal(loc=0.5, scale=0.8)
prior = tfd.Normal(loc=0.0, scale=1.0)
kl_exact = float(tfd.kl_divergence(q, prior))
kl_formula = float(np.log(1.0 / 0.8) + (0.8 ** 2 + 0.5 ** 2) / 2.0 - 0.5)
z = q.sample(NUM_SAMPLES, seed=[0, 2])
terms = (q.log_prob(z) - prior.log_prob(z)).numpy().astype(np.float64)
kl_mc, kl_mc_stderr = terms.mean(), terms.std(ddof=1) / np.sqrt(terms.size)
print(f"KL analytic {kl_exact:.5f} (formula {kl_formula:.5f}); Monte Carlo {kl_mc:.5f} +- {kl_mc_stderr:.5f}")

sizes = np.unique(np.logspace(0, np.log10(NUM_SAMPLES), 40).astype(int))
running = np.cumsum(terms) / np.arange(1, terms.size + 1)
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogx(sizes, running[sizes - 1], label="Monte Carlo mean of log q(z) - log p(z)")
ax.axhline(kl_exact, color="k", ls="--", label=f"analytic KL = {kl_exact:.4f}")
ax.fill_between(sizes, kl_exact - 2 * terms.std() / np.sqrt(sizes), kl_exact + 2 * terms.std() / np.sqrt(sizes),
                color="gray", alpha=0.2, label="± 2 standard errors")
ax.set(xlabel="number of samples n", ylabel="KL (nats)", ylim=(kl_exact - 0.5, kl_exact + 0.5),
       title="KL(N(0.5, 0.8) || N(0, 1)): the estimate converges like 1/sqrt(n)")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(f"{OUT}/01_kl_monte_carlo.png", dpi=100)

# %% [markdown]
# ## Batch shape vs event shape
# A distribution has two shapes. The **batch shape** counts independent distributions that happen
# to live in one object (one per example, say); `log_prob` returns one number per batch member.
# The **event shape** is the shape of *one draw* of *one* distribution; `log_prob` sums (or, for
# a joint density, computes) over it.
#
# `Normal(loc=[0, 0, 0], scale=1)` is three univariate Normals: batch `[3]`, event `[]`, and
# `log_prob` of a 3-vector returns three numbers. `MultivariateNormalDiag` with the same
# parameters is one distribution over 3-vectors: batch `[]`, event `[3]`, one number.
# `tfd.Independent(..., reinterpreted_batch_ndims=1)` converts the first into the second, by
# declaring the rightmost batch dimension part of the event: the log-probabilities are summed.

# %%
three = tfd.Normal(loc=tf.zeros(3), scale=1.0)
joint = tfd.MultivariateNormalDiag(loc=tf.zeros(3), scale_diag=tf.ones(3))
wrapped = tfd.Independent(three, reinterpreted_batch_ndims=1)
v = tf.constant([0.3, -1.0, 2.0])
for name, d in [("Normal x3", three), ("MultivariateNormalDiag", joint), ("Independent(Normal x3)", wrapped)]:
    print(f"{name:24s} batch {str(d.batch_shape):8s} event {str(d.event_shape):8s} log_prob {d.log_prob(v).numpy()}")
independent_gap = abs(float(wrapped.log_prob(v) - joint.log_prob(v)))

# %% [markdown]
# ## An image's log-probability is one number
# The VAE decoder of tutorial 5 says: pixel $i$ of a binarized digit is on with probability
# $\pi_i$, independently of the others. A `Bernoulli(probs)` with 784 probabilities has batch shape
# `[784]` and would give 784 log-probabilities; for training we need the log-probability of the
# whole image, $\log p(x) = \sum_i [x_i\log\pi_i + (1-x_i)\log(1-\pi_i)]$. Wrapping it in
# `Independent` makes the event the image: batch `[]`, event `[28, 28]`. With a batch of images
# the batch shape is the number of images, which is what an objective needs: one loss per example.
#
# As a model of a digit we use the per-pixel mean of the training images (each pixel independent).
# Its sample (right of the figure) shows why that is a poor model of digits: independent pixels
# cannot draw strokes. A VAE keeps this `Independent(Bernoulli)` likelihood but makes the
# probabilities depend on a latent code, and the pixels become dependent through it.

# %%
arrays = data.load_arrays("binarized_mnist", DATA_DIR)
train = arrays.train[: 2_000 if SMOKE else None].reshape(-1, 28, 28).astype("float32")
test = arrays.test[:8].reshape(-1, 28, 28).astype("float32")
pixel_probs = np.clip(train.mean(axis=0), 1e-3, 1 - 1e-3)
pixels = tfd.Bernoulli(probs=pixel_probs)                             # batch [28, 28], event []
image_model = tfd.Independent(pixels, reinterpreted_batch_ndims=2)    # batch [], event [28, 28]
per_pixel = pixels.log_prob(test[0])                                  # [28, 28]
per_image = image_model.log_prob(test)                                # [8]: one number per image
print("pixels:", pixels.batch_shape, pixels.event_shape, "  image model:", image_model.batch_shape,
      image_model.event_shape, "  log_prob of 8 images:", per_image.shape)
image_sum_gap = abs(float(tf.reduce_sum(per_pixel) - per_image[0]))
print(f"log p(image 0) = {float(per_image[0]):.2f} nats = sum of its 784 pixel terms (gap {image_sum_gap:.1e})")
test_mean_log_prob = float(tf.reduce_mean(image_model.log_prob(arrays.test.reshape(-1, 28, 28).astype("float32"))))
print(f"mean log p(x) over the {len(arrays.test)} test images: {test_mean_log_prob:.1f} nats "
      "(the VAEs of benchmarks/ reach -105 to -87: pixels are far from independent)")

fig, axes = plt.subplots(1, 4, figsize=(10, 3))
axes[0].imshow(pixel_probs, cmap="gray")
axes[0].set_title("model: P(pixel on)")
axes[1].imshow(test[0], cmap="gray")
axes[1].set_title("a test digit x")
im = axes[2].imshow(per_pixel, cmap="magma")
axes[2].set_title("per-pixel log p(x_i)")
fig.colorbar(im, ax=axes[2], fraction=0.046)
axes[3].imshow(image_model.sample(seed=[0, 3]), cmap="gray")
axes[3].set_title("a sample from the model")
for a in axes:
    a.axis("off")
fig.suptitle(f"Independent(Bernoulli): log p(x) = {float(per_image[0]):.1f} nats, one number per image")
fig.tight_layout()
fig.savefig(f"{OUT}/01_independent_image.png", dpi=100)

# %% [markdown]
# ## What you should have seen
# - The sample mean and standard deviation of `Normal(1, 0.5)` are 1 and 0.5 up to sampling
#   error, and `log_prob` matches the textbook formula to float32 precision.
# - The Monte Carlo KL lies within a few standard errors of the closed form (0.168 nats),
#   and its error shrinks like $1/\sqrt{n}$.
# - Three Normals have batch `[3]`; wrapped in `Independent` they are one distribution over
#   3-vectors whose `log_prob` equals the `MultivariateNormalDiag`'s.
# - An image's log-probability is one number, the sum of its 784 pixel terms.
#
# The checks below enforce all of that (the sampling checks are looser in smoke mode, which draws
# 100 times fewer samples; the -206 nats are checked only on the real test set, between -260 and -180).

# %%
stderr_mean = 0.5 / np.sqrt(NUM_SAMPLES)  # standard error of the sample mean; that of the std is ~0.7x this
assert abs(float(tf.reduce_mean(x)) - 1.0) < 5 * stderr_mean, float(tf.reduce_mean(x))
assert abs(float(tf.math.reduce_std(x)) - 0.5) < 5 * stderr_mean, float(tf.math.reduce_std(x))
assert max_formula_error < 1e-5, max_formula_error
assert abs(kl_exact - kl_formula) < 1e-5 and abs(kl_exact - 0.1681) < 1e-3, kl_exact
assert abs(kl_mc - kl_exact) < 4 * kl_mc_stderr, (kl_mc, kl_exact, kl_mc_stderr)
assert three.batch_shape == [3] and wrapped.batch_shape == [] and wrapped.event_shape == [3]
assert independent_gap < 1e-5, independent_gap
assert per_image.shape == [8] and image_sum_gap < 1e-2, image_sum_gap
if not SMOKE:
    assert kl_mc_stderr < 0.002, kl_mc_stderr  # 200,000 samples pin the KL to ~0.1% of a nat
if not SMOKE and not arrays.source.startswith("embedded"):  # the real test set, not the embedded sample
    assert -260.0 < test_mean_log_prob < -180.0, test_mean_log_prob  # independent pixels: a crude model
print("all checks passed; figures in", OUT)
