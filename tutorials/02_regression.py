# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 2. Regression with a distribution head
#
# A regression network usually outputs a number and is trained on squared error. Here it outputs a
# *distribution* over the target, $p(y\,|\,x) = \mathcal{N}(\mu(x), \sigma(x)^2)$, and is trained by
# maximising the log-likelihood of the data, i.e. minimising $-\log p(y|x)$. Two things follow:
#
# - with a **fixed** scale $\sigma$, $-\log p(y|x) = \frac{(y-\mu(x))^2}{2\sigma^2} + \log\sigma +
#   \tfrac12\log 2\pi$: squared error, up to a constant and a factor. Nothing is lost;
# - with a **learned** scale $\sigma(x)$ the network also says how unsure it is, and it can be
#   unsure in some places and sure in others (heteroscedastic noise). The same loss trains it: a
#   large $\sigma$ is punished by $\log\sigma$, a small one by the squared error it divides.
#
# The network is an ordinary Keras 3 net; a *head* turns its outputs into the distribution. The
# generic trainer `tfpvae.fit` with `tfpvae.NegativeLogLikelihood()` trains it: that objective is
# just `-model(x).log_prob(y)`, one number per example.

# %%
import os

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfpvae
from tfpvae import distributions as D, networks

tfd = tfp.distributions

SMOKE = os.environ.get("TFPVAE_SMOKE") == "1" or "CI" in os.environ
OUT = os.environ.get("TFPVAE_TUTORIAL_OUT", "figures")
FIGURES = ["02_regression_bands.png", "02_learned_scale.png"]
os.makedirs(OUT, exist_ok=True)
keras.utils.set_random_seed(0)

# %% [markdown]
# ## Data: noise that grows from left to right
# $x \sim U(-1, 1)$, $y = \sin(3x) + 0.5x + \varepsilon$, $\varepsilon \sim \mathcal{N}(0, s(x)^2)$
# with $s(x) = 0.05 + 0.15\,(x + 1)$, from 0.05 on the left to 0.35 on the right. We know $s(x)$,
# so we can check what the network learns.

# %%
def true_mean(x):
    return np.sin(3 * x) + 0.5 * x


def true_scale(x):
    return 0.05 + 0.15 * (x + 1)


def make_data(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, size=(n, 1)).astype("float32")
    y = (true_mean(x) + true_scale(x) * rng.standard_normal((n, 1))).astype("float32")
    return x, y


n_train = 500 if SMOKE else 4000
x_train, y_train = make_data(n_train, seed=1)
x_test, y_test = make_data(2000, seed=2)


def batches(epoch):
    """One epoch of shuffled (x, y) batches; the order depends on the epoch alone."""
    ds = tf.data.Dataset.from_tensor_slices((x_train, y_train))
    return ds.shuffle(n_train, seed=epoch).batch(100)


# %% [markdown]
# ## The model: a network and a head
# The head's output shapes decide the target's shape. `tfpvae.GaussianHead((1,))` returns
# `Independent(Normal, 1)` over a 1-vector: batch shape `[batch]`, event shape `[1]`, so targets are
# `[batch, 1]` and `log_prob(y)` is `[batch]`, one number per example, which is what the objective
# requires. `GaussianHead((1,), scale=1.0)` fixes $\sigma = 1$ and needs one network output (the
# mean); `scale="softplus"` learns $\sigma(x) = \mathrm{softplus}(\text{raw}) + 10^{-3}$ and needs two.

# %%
class DistributionRegressor(tf.Module):
    """x [batch, 1] -> p(y|x), a distribution with batch shape [batch] and event shape [1]."""

    def __init__(self, head, hidden=(64, 64)):
        super().__init__()
        self.head = head
        self.network = networks.mlp((1,), head.num_params, hidden=hidden, activation="tanh")

    def __call__(self, x):
        return self.head(self.network(x))


fixed = DistributionRegressor(D.GaussianHead((1,), scale=1.0))
learned = DistributionRegressor(D.GaussianHead((1,), scale="softplus"))
print("p(y|x):", learned(x_train[:5]))

# %% [markdown]
# ## A fixed-scale Normal's `-log_prob` is squared error
# Before training, on the untrained network's predictions: $-\log p(y|x) - \tfrac12\log 2\pi =
# \tfrac12 (y - \mu(x))^2$ for $\sigma = 1$, example by example.

# %%
dist = fixed(x_train)
nll = -dist.log_prob(y_train)                                     # [n]
half_squared_error = 0.5 * tf.reduce_sum((y_train - dist.mean()) ** 2, axis=-1)
squared_error_gap = float(tf.reduce_max(tf.abs(nll - 0.5 * np.log(2 * np.pi) - half_squared_error)))
print(f"max |(-log_prob - log(2 pi)/2) - squared_error/2| = {squared_error_gap:.2e} over {n_train} examples")

# %% [markdown]
# ## Train both with the same trainer and objective
# The fixed-scale model is ordinary least-squares regression. The learned-scale model fits the
# mean *and* the noise; its test negative log-likelihood is the honest comparison, because it
# rewards a model that knows where it is unsure. The learning rate decays to zero along a cosine:
# with a constant rate, Adam's last iterate keeps jittering around the optimum, and the fitted
# mean visibly wobbles by a few hundredths.

# %%
epochs = 3 if SMOKE else 200
steps = epochs * -(-n_train // 100)
test_data = tf.data.Dataset.from_tensor_slices((x_test, y_test)).batch(1000)
states = {}
for name, model in [("fixed", fixed), ("learned", learned)]:
    states[name] = tfpvae.fit(model, tfpvae.NegativeLogLikelihood(), batches, epochs=epochs,
                              optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(3e-3, steps)),
                              validation_data={"test": test_data}, seed=0)
    print(f"{name:8s} test NLL per example {-states[name].history[-1]['test']['log_likelihood']:.3f}")

# %% [markdown]
# ## Uncertainty bands
# The predictive distribution at each $x$ is a Normal; its 95% interval is $\mu \pm 1.96\sigma$.
# The fixed-scale model only has a mean (its $\sigma = 1$ was never learned); the learned model's
# band widens from left to right as the noise does. We also count how many test points fall in
# the learned 95% band: a calibrated model covers about 95% of them.

# %%
grid = np.linspace(-1, 1, 200, dtype="float32")[:, None]
pred = learned(grid)
mu, sigma = pred.mean().numpy()[:, 0], pred.stddev().numpy()[:, 0]
test_pred = learned(x_test)
z = np.abs((y_test - test_pred.mean().numpy()) / test_pred.stddev().numpy())
coverage = float(np.mean(z < 1.96))
g = grid[:, 0]

fig, ax = plt.subplots(figsize=(7, 4))
ax.scatter(x_train[:1000, 0], y_train[:1000, 0], s=3, c="gray", alpha=0.5, label="training data")
ax.plot(g, true_mean(g), "k--", lw=1, label="true mean")
ax.plot(g, true_mean(g) - 1.96 * true_scale(g), "k:", lw=1, label="true 95% band")
ax.plot(g, true_mean(g) + 1.96 * true_scale(g), "k:", lw=1)
ax.plot(g, fixed(grid).mean().numpy()[:, 0], color="C1", label="fixed scale: mean (least squares)")
ax.plot(g, mu, color="C0", label="learned scale: mean")
ax.fill_between(g, mu - 1.96 * sigma, mu + 1.96 * sigma, color="C0", alpha=0.25,
                label=f"learned 95% band ({100 * coverage:.1f}% of test points inside)")
ax.set(xlabel="x", ylabel="y", title="Heteroscedastic regression with a Normal head")
ax.legend(fontsize=7, loc="upper left")
fig.tight_layout()
fig.savefig(f"{OUT}/02_regression_bands.png", dpi=100)

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(g, true_scale(g), "k--", label="true noise scale s(x)")
ax.plot(g, sigma, color="C0", label="learned sigma(x)")
ax.axhline(1.0, color="C1", label="fixed-scale model's sigma = 1")
ax.set(xlabel="x", ylabel="standard deviation", yscale="log", title="The learned scale follows the noise")
ax.legend(fontsize=8)
fig.tight_layout()
fig.savefig(f"{OUT}/02_learned_scale.png", dpi=100)

# %% [markdown]
# ## What you should have seen
# - `-log_prob` of a unit-scale Normal minus $\tfrac12\log 2\pi$ equals half the squared error,
#   to float32 rounding.
# - After training, the learned $\sigma(x)$ tracks the true noise scale (within 20% of it over the
#   middle 80% of the inputs), about 95% of the test points fall inside the learned 95% band, and
#   the learned-scale model's test NLL is far below the fixed-scale model's (which pays for its
#   $\sigma = 1$ everywhere), while both means are close to the true mean.

# %%
assert squared_error_gap < 1e-4, squared_error_gap
test_nll = {k: -s.history[-1]["test"]["log_likelihood"] for k, s in states.items()}
assert all(np.isfinite(v) for v in test_nll.values()), test_nll
if not SMOKE:
    inner = np.abs(g) < 0.8
    rel_error = np.abs(sigma[inner] / true_scale(g[inner]) - 1)
    print(f"max relative error of sigma(x) on |x| < 0.8: {rel_error.max():.3f}; coverage {coverage:.3f}; "
          f"test NLL fixed {test_nll['fixed']:.3f}, learned {test_nll['learned']:.3f}")
    assert rel_error.max() < 0.2, rel_error.max()  # measured 0.08
    assert 0.93 < coverage < 0.97, coverage
    assert test_nll["learned"] < test_nll["fixed"] - 0.8, test_nll  # fixed: ~0.92 + E[(y-mu)^2]/2; learned: < 0
    for model in (fixed, learned):
        rmse_mean = float(np.sqrt(np.mean((model(grid).mean().numpy()[:, 0] - true_mean(g)) ** 2)))
        print(f"RMSE of the fitted mean against the true mean: {rmse_mean:.3f}")
        assert rmse_mean < 0.05, rmse_mean
print("all checks passed; figures in", OUT)
