# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 8. The KL weight: beta, warm-up, cyclical schedules, free bits, collapse and the sampling trick
#
# The VAE loss has two terms pulling in opposite directions:
# $\mathcal{L}_\beta(x) = -\mathbb{E}_{q(z|x)}[\log p(x|z)] + \beta\,\mathrm{KL}(q(z|x)\,\|\,p(z))$.
# With $\beta = 1$ this is the negative ELBO. Changing $\beta$ changes what the model *wants*:
#
# - **$\beta$ too high**: every nat of information the code carries about $x$ costs $\beta$ nats,
#   more than it saves in reconstruction. The encoder gives up, $q(z|x) \approx p(z)$ for every $x$
#   (*posterior collapse*), and the decoder learns to output the one image that is best on
#   average, the "average digit", whatever $z$ is.
# - **$\beta$ too low**: the code is nearly free, so the encoder spreads the codes wherever suits
#   reconstruction. Reconstructions are sharp, but the codes no longer fill $\mathcal{N}(0, I)$:
#   decoding draws from the prior lands in places no training image was encoded to.
#
# Schedules change $\beta$ during training (warm-up, cyclical annealing), free bits change the
# KL term itself, and *active units* measure collapse. At the end: the sampling trick, drawing
# $z$ from the aggregate posterior instead of the prior.
#
# All models are small MLP VAEs (784-200-200-16, tanh) on statically binarized MNIST. To fit eight
# trainings into a few minutes on one CPU thread we train on a fixed random subset of 10,000
# training images for 10 epochs each (and measure on 2,000 random test images).
# `TFPVAE_SMOKE=1` shrinks this to 600 images and 2 epochs.

# %%
import os
import warnings

import keras
import matplotlib.pyplot as plt
import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp

import tfpvae
from tfpvae import data, evaluation, latent, plotting
from tfpvae.objectives import cyclical

tfd = tfp.distributions

SMOKE = os.environ.get("TFPVAE_SMOKE") == "1" or "CI" in os.environ
DATA_DIR = os.environ.get("TFPVAE_DATA_DIR") or ("../../shared/data" if os.path.isdir("../../shared/data") else None)
OUT = os.environ.get("TFPVAE_TUTORIAL_OUT", "figures")
FIGURES = ["08_beta_samples.png", "08_curves.png", "08_free_bits.png", "08_samples_prior.png",
           "08_samples_aggregate.png"]
os.makedirs(OUT, exist_ok=True)

# %% [markdown]
# ## Data: a fixed random subset
# The statically binarized MNIST of Larochelle & Murray (the whole set ships with tfpvae, so this
# runs offline). The subset is drawn once with a fixed NumPy seed, the same every run.

# %%
arrays = data.load_arrays("binarized_mnist", DATA_DIR)
rng = np.random.default_rng(0)
N_TRAIN, N_TEST, EPOCHS = (600, 300, 2) if SMOKE else (10_000, 2_000, 10)
train_x = arrays.train[rng.choice(len(arrays.train), N_TRAIN, replace=False)]
test_x = arrays.test[rng.choice(len(arrays.test), N_TEST, replace=False)]
BATCH = 100
STEPS_PER_EPOCH = N_TRAIN // BATCH
train = data.ArrayData(train_x, batch_size=BATCH, flatten=True)
test = data.make_dataset(test_x, batch_size=1000, shuffle=False, flatten=True)
test_flat = test_x.reshape(len(test_x), 784).astype("float32")
print(arrays.source, "| train", train_x.shape, "test", test_x.shape)

# %% [markdown]
# ## One training function, eight objectives
# Every run starts from the same initial weights (`keras.utils.set_random_seed(0)`) and sees the
# same batches; only the objective differs. After each epoch a callback counts the **active
# units** (Burda et al. 2016): latent dimension $u$ is active when its posterior mean moves with
# the data, $A_u = \mathrm{Var}_x\big(\mathbb{E}_{q(z|x)}[z_u]\big) > 0.01$. An inactive dimension
# has $q(z_u|x) \approx p(z_u)$ for every $x$: the decoder cannot use it.
# `evaluation.warn_if_collapsed(units, min_active=...)` issues a `PosteriorCollapseWarning` when fewer
# than `min_active` units are active (the default, 1, flags total collapse only); we ask for at least
# a quarter of the 16 and record the warnings. The callback also logs $\beta$ at the end of the epoch.

# %%
LATENT = 16


def train_vae(name, objective):
    keras.utils.set_random_seed(0)
    vae = tfpvae.mlp_vae((784,), latent_dim=LATENT, hidden=(200, 200))
    collapsed_epochs = []

    def on_epoch_end(state, logs):
        units = evaluation.active_units(vae, test_flat)
        logs["active_units"] = units.count
        logs["beta"] = float(objective.beta(logs["epoch"] * STEPS_PER_EPOCH - 1))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if evaluation.warn_if_collapsed(units, min_active=LATENT // 4, epoch=logs["epoch"]):
                collapsed_epochs.append(logs["epoch"])
                print("   ", caught[-1].message.args[0][:90], "...")

    state = tfpvae.fit(vae, objective, train, epochs=EPOCHS, optimizer=keras.optimizers.Adam(1e-3), seed=0,
                       validation_data={"test": test}, callbacks=[tfpvae.training.LambdaCallback(on_epoch_end)])
    last = state.history[-1]
    print(f"{name:28s} test ELBO {last['test']['elbo']:8.2f}  reconstruction {last['test']['log_likelihood']:8.2f}  "
          f"KL {last['test']['kl']:6.2f}  active units {last['active_units']:2d}/{LATENT}")
    return vae, state.history, collapsed_epochs


# %% [markdown]
# ## Constant beta: too low, one, too high
# `tfpvae.ELBO(beta=...)` takes the weight in its constructor. The reported `elbo` is always the
# true bound (beta-free); only the minimised `loss` is weighted.

# %%
BETA_HIGH = 8.0
runs = {}
for beta in (0.1, 1.0, BETA_HIGH):
    runs[f"beta = {beta:g}"] = train_vae(f"beta = {beta:g}", tfpvae.ELBO(kl="analytic", beta=beta))

# %% [markdown]
# What the three models generate from $z \sim \mathcal{N}(0, I)$: with $\beta = 8$ every sample is
# (nearly) the same blurred "average digit", because the decoder has learnt to ignore $z$.

# %%
rows = [np.asarray(runs[k][0].sample(10, seed=[0, 1]).mean()) for k in runs]
fig = plotting.grid_figure(np.concatenate(rows), 10, image_shape=(28, 28), row_labels=list(runs),
                           title="decoder means E[x|z], z ~ N(0, I), for three KL weights")
plotting.save_figure(fig, f"{OUT}/08_beta_samples.png")
collapsed_spread = float(np.std(rows[2], axis=0).mean())  # pixel spread across the beta = 8 samples
print(f"beta = {BETA_HIGH:g}: mean pixel std across its 10 samples {collapsed_spread:.4f} "
      f"(beta = 1: {float(np.std(rows[1], axis=0).mean()):.4f})")

# %% [markdown]
# ## Schedules: linear warm-up and cyclical annealing
# Posterior collapse often happens *early*: at initialisation the decoder cannot yet use $z$, so
# the cheapest way to lower the loss is to shrink the KL to zero, and once the encoder is ignored
# it gets no signal to recover. Two remedies start with a small $\beta$ so the code is learned first:
#
# - **linear warm-up** (Bowman et al. 2016; Sønderby et al. 2016): `tfpvae.linear_warmup(steps)`
#   raises $\beta$ from 0 to 1 over the first `steps` steps, then holds it;
# - **cyclical annealing** (Fu et al. 2019): `tfpvae.objectives.cyclical(period, ratio)` repeats
#   that ramp every `period` steps (rising over the first `ratio` of each cycle), so the model
#   relearns a useful code several times.
#
# Both are plain callables `step -> beta` passed as `beta=`.

# %%
warmup = tfpvae.linear_warmup(warmup_steps=EPOCHS // 2 * STEPS_PER_EPOCH)
cycle = cyclical(period_steps=EPOCHS // 2 * STEPS_PER_EPOCH, ratio=0.5, num_cycles=2)
period = EPOCHS // 2 * STEPS_PER_EPOCH
cycle_values = [round(float(cycle(s)), 3) for s in (0, period // 4, period // 2, period - 1, period, 2 * period)]
print(f"cyclical beta (period P = {period} steps) at steps 0, P/4, P/2, P-1, P, 2P:", cycle_values)
steps = np.arange(3 * period)
stated = np.where(steps >= 2 * period, 1.0, np.minimum(1.0, (steps % period) / (0.5 * period)))  # Fu et al.'s formula
cycle_error = float(np.max(np.abs(np.array([float(cycle(s)) for s in steps]) - stated)))
runs["linear warm-up"] = train_vae("linear warm-up", tfpvae.ELBO(kl="analytic", beta=warmup))
runs["cyclical"] = train_vae("cyclical", tfpvae.ELBO(kl="analytic", beta=cycle))

# %% [markdown]
# ## Free bits
# Free bits (Kingma et al. 2016) replace the KL term of the loss by
# $\sum_g \max\big(\lambda, \overline{\mathrm{KL}}_g\big)$, where $\overline{\mathrm{KL}}_g$ is the
# batch-mean KL of latent group $g$. Below $\lambda$ nats a group costs a constant, so the encoder
# is not pushed to shrink it further: each group gets $\lambda$ nats for free. Kingma et al. use
# groups of dimensions; `ELBO(free_bits=lam)` makes each dimension a group by default
# (`free_bits_groups=G` splits the latent dimensions into `G` groups instead). With one group
# (`free_bits_groups=1`) the floor is on the *total* KL: the model may spend it all on a few
# dimensions. Below, the collapsing $\beta = 8$ model gets $\lambda = 0.5$ nats per dimension, and,
# for contrast, the same $16 \times 0.5 = 8$ nats as one floor on its total KL; plain $\beta = 1$
# gets the per-dimension floor too. `elbo` and `kl` in the logs stay the true bound: free bits change
# only the loss that is minimised.

# %%
LAMBDA = 0.5  # nats per latent dimension
FLOOR = LATENT * LAMBDA  # the same nats as one floor on the total KL
FREE, TOTAL = f"beta = {BETA_HIGH:g} + free bits", f"beta = {BETA_HIGH:g} + total-KL floor"
runs[FREE] = train_vae(FREE, tfpvae.ELBO(kl="analytic", beta=BETA_HIGH, free_bits=LAMBDA))
runs[TOTAL] = train_vae(TOTAL, tfpvae.ELBO(kl="analytic", beta=BETA_HIGH, free_bits=FLOOR, free_bits_groups=1))
runs["beta = 1 + free bits"] = train_vae("beta = 1 + free bits", tfpvae.ELBO(kl="analytic", free_bits=LAMBDA))


def kl_per_dimension(vae, x):
    """Batch-mean KL of each latent dimension, [LATENT] (the encoder's q is Independent(Normal))."""
    q = vae.encode(x)
    return tf.reduce_mean(tfd.kl_divergence(q.distribution, tfd.Normal(0.0, 1.0)), axis=0).numpy()


kl_dims = {k: kl_per_dimension(runs[k][0], test_flat) for k in ("beta = 1", f"beta = {BETA_HIGH:g}", FREE, TOTAL)}
for name, kl in kl_dims.items():
    print(f"{name:28s} test KL per dimension {kl.min():.2f} to {kl.max():.2f}, total {kl.sum():.2f} nats")
fig, ax = plt.subplots(figsize=(9, 3.4))
width = 0.2
for i, (name, kl) in enumerate(kl_dims.items()):
    ax.bar(np.arange(LATENT) + (i - 1.5) * width, kl, width, label=f"{name} (total {kl.sum():.1f} nats)")
ax.axhline(LAMBDA, color="k", lw=0.8, ls="--", label=f"free bits: {LAMBDA:g} nats per dimension")
ax.set(xlabel="latent dimension", ylabel="test KL per dimension (nats)",
       title=f"Where the KL goes: {LAMBDA:g} nats free per dimension vs {FLOOR:g} on the total")
ax.legend(fontsize=7)
fig.tight_layout()
fig.savefig(f"{OUT}/08_free_bits.png", dpi=100)

# %% [markdown]
# ## Curves: KL and active units per epoch, for every run

# %%
fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
for name, (_, history, _) in runs.items():
    epochs = [h["epoch"] for h in history]
    axes[0].plot(epochs, [h["beta"] for h in history], marker=".", label=name)
    axes[1].plot(epochs, [h["test"]["kl"] for h in history], marker=".", label=name)
    axes[2].plot(epochs, [h["active_units"] for h in history], marker=".", label=name)
    axes[3].plot(epochs, [h["test"]["elbo"] for h in history], marker=".", label=name)
for ax, title in zip(axes, ("beta at the end of the epoch", "test KL (nats)", "active units (of 16)",
                            "test ELBO (nats)")):
    ax.set(xlabel="epoch", title=title)
    ax.grid(alpha=0.3)
axes[1].set_yscale("symlog")
elbos = [h["test"]["elbo"] for _, hist, _ in runs.values() for h in hist]
axes[3].set_ylim(np.percentile(elbos, 10) - 5, max(elbos) + 3)
axes[0].legend(fontsize=7)
fig.tight_layout()
fig.savefig(f"{OUT}/08_curves.png", dpi=100)

# %% [markdown]
# ## The sampling trick
# With $\beta = 0.1$ the codes do not fill the prior. The **aggregate posterior**
# $q(z) = \frac1N \sum_i q(z|x_i)$ is where the training codes actually live;
# `latent.aggregate_posterior(model, x)` fits a Gaussian to it (exact moments, law of total
# variance). Sampling from it instead of $\mathcal{N}(0, I)$ is the "sampling trick".
# `latent.compare_priors` scores both: with the same number $S$ of draws from each, the Monte
# Carlo log-likelihood $\log \frac1S \sum_s p(x|z_s)$ of test images (higher is better; this is a
# comparison at equal $S$, not an estimate of $\log p(x)$, see tutorial 12).

# %%
low = runs["beta = 0.1"][0]
train_flat = train_x.reshape(len(train_x), 784).astype("float32")
aggregate = latent.aggregate_posterior(low, train_flat, kind="full")
agg_cov = aggregate.covariance().numpy()
agg_std, agg_eig = np.sqrt(np.diag(agg_cov)), np.linalg.eigvalsh(agg_cov)
print("beta = 0.1: aggregate-posterior std per dimension", agg_std.round(2))
print(f"beta = 0.1: eigenvalues of the aggregate posterior's covariance from {agg_eig.min():.3f} to {agg_eig.max():.2f}"
      " (N(0, I): all 1)")
scores = latent.compare_priors(low, test_flat[:500], {"N(0, I)": low.prior, "aggregate posterior": aggregate},
                               num_samples=200, seed=3)
reference = latent.compare_priors(runs["beta = 1"][0], test_flat[:500],
                                  {"N(0, I)": runs["beta = 1"][0].prior,
                                   "aggregate posterior": latent.aggregate_posterior(runs["beta = 1"][0], train_flat,
                                                                                     kind="full")},
                                  num_samples=200, seed=3)
for name, s in (("beta = 0.1", scores), ("beta = 1", reference)):
    print(f"{name}: MC log-likelihood with N(0, I) {s['N(0, I)']['log_likelihood']:.1f}, with the aggregate "
          f"posterior {s['aggregate posterior']['log_likelihood']:.1f} nats (S = 200)")

for file, prior in (("08_samples_prior.png", None), ("08_samples_aggregate.png", aggregate)):
    fig = plotting.sample_grid(low, 60, seed=5, prior=prior, ncols=10, image_shape=(28, 28),
                               title="beta = 0.1: " + ("z ~ N(0, I)" if prior is None else
                                                       "z ~ aggregate posterior (full-covariance Gaussian)"))
    plotting.save_figure(fig, f"{OUT}/{file}")

# %% [markdown]
# ## What you should have seen
# - **$\beta = 8$ collapses**: at most 1 active unit of 16, a test KL under 2 nats, and samples that
#   are all (nearly) the same average digit (the pixel spread across its samples is under 60% of
#   the $\beta = 1$ model's). `warn_if_collapsed(min_active=4)` warned.
# - **$\beta = 0.1$** buys the best reconstruction (checked: its reconstruction term beats
#   $\beta = 1$'s by more than 5 nats) at a KL several times larger (checked: > 2x), and a worse
#   ELBO. Its aggregate posterior is not $\mathcal{N}(0, I)$: the codes spread wider than the prior
#   (checked: mean standard deviation per dimension above 1.1) and are correlated (the covariance's
#   eigenvalues are far from all 1). Prior draws land where no code was, and decode to broken
#   strokes and inverted, grey backgrounds; draws from the aggregate posterior look like digits and
#   explain test images better (checked: Monte Carlo log-likelihood at equal $S$ higher by more than
#   5 nats, a gain larger than the $\beta = 1$ model's, whose codes fit the prior better).
# - **Warm-up and cyclical** end where constant $\beta = 1$ ends (ELBO within 3 nats, at least as
#   many active units): with an MLP decoder $\beta = 1$ does not collapse, so they have nothing to
#   rescue here. They matter with strong decoders (LSTMs over text, PixelCNNs), which can model $x$
#   without $z$. The cyclical schedule hits its stated values (0, 0.5, 1, 1, 0, 1 at steps 0, P/4, P/2,
#   P-1, P, 2P; checked at every step against the formula).
# - **Free bits** keep the $\beta = 8$ model's units alive (checked: at least 3 active units instead
#   of at most 1), spending about the free 8 nats (checked: its test KL is above 0.8 x 8 nats). Per
#   dimension, every dimension keeps about its 0.5 nats (checked: none below 0.25); one floor on
#   the total KL buys the same nats, spent unevenly.
# - Numbers are checked in full mode; the smoke run only checks that they are finite.

# %%
hist = {k: v[1][-1] for k, v in runs.items()}
assert all(np.isfinite(h["test"]["elbo"]) for h in hist.values())
assert cycle_error < 1e-6, cycle_error  # the schedule is its formula at every step
high, one, lowh = hist[f"beta = {BETA_HIGH:g}"], hist["beta = 1"], hist["beta = 0.1"]
print({k: (round(h["test"]["elbo"], 2), round(h["test"]["kl"], 2), h["active_units"]) for k, h in hist.items()})
if not SMOKE:
    assert high["active_units"] <= 1 and high["test"]["kl"] < 2.0, high
    assert runs[f"beta = {BETA_HIGH:g}"][2], "warn_if_collapsed never warned for the collapsed model"
    assert collapsed_spread < 0.6 * float(np.std(rows[1], axis=0).mean())
    assert lowh["test"]["log_likelihood"] > one["test"]["log_likelihood"] + 5, (lowh, one)
    assert lowh["test"]["kl"] > 2 * one["test"]["kl"] and lowh["test"]["elbo"] < one["test"]["elbo"], (lowh, one)
    assert agg_std.mean() > 1.1, agg_std
    gain = {k: s["aggregate posterior"]["log_likelihood"] - s["N(0, I)"]["log_likelihood"]
            for k, s in (("beta = 0.1", scores), ("beta = 1", reference))}
    assert gain["beta = 0.1"] > 5 and gain["beta = 0.1"] > gain["beta = 1"], gain
    assert not runs["beta = 1"][2] and not runs["beta = 0.1"][2], "collapse warnings for healthy models"
    for name in ("linear warm-up", "cyclical"):
        assert abs(hist[name]["test"]["elbo"] - one["test"]["elbo"]) < 3, (name, hist[name], one)
        assert hist[name]["active_units"] >= one["active_units"] - 1, (name, hist[name], one)
    for name in (FREE, TOTAL):
        assert hist[name]["active_units"] >= 3 and hist[name]["test"]["kl"] > 0.8 * FLOOR, (name, hist[name])
    assert kl_dims[FREE].min() > 0.5 * LAMBDA, kl_dims[FREE]
print("all checks passed; figures in", OUT)
