# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # A VAE on binarized MNIST, from distributions
#
# A VAE is three distributions: a prior $p(z)$, an encoder $q(z|x)$ and a decoder $p(x|z)$.
# We train them by maximising the evidence lower bound
# $\mathrm{ELBO}(x) = \mathbb{E}_{q(z|x)}[\log p(x|z)] - \mathrm{KL}(q(z|x)\,\|\,p(z)) \le \log p(x)$.
#
# Set `TFPVAE_SMOKE=1` (CI does) to run on a few hundred images for one epoch.

# %%
import os

import keras
import numpy as np

import tfpvae
from tfpvae import data, distributions as D, networks
from tfpvae.models import Decoder, Encoder

SMOKE = os.environ.get("TFPVAE_SMOKE") == "1" or "CI" in os.environ
DATA_DIR = os.environ.get("TFPVAE_DATA_DIR", "../../shared/data")
OUT = os.environ.get("TFPVAE_TUTORIAL_OUT", "tutorial_runs/01")
os.makedirs(OUT, exist_ok=True)

# %% [markdown]
# ## Data
# Statically binarized MNIST (Larochelle & Murray 2011): 50,000 train / 10,000 validation / 10,000
# test images of 0/1 pixels. Each image is one event of 784 Bernoulli variables.

# %%
arrays = data.load_arrays("binarized_mnist", DATA_DIR)
train_x, test_x = (arrays.train[:500], arrays.test[:200]) if SMOKE else (arrays.train, arrays.test)
train = lambda epoch: data.make_dataset(train_x, batch_size=100, epoch=epoch, flatten=True)
test = data.make_dataset(test_x, batch_size=1000, shuffle=False, flatten=True)
print(arrays)

# %% [markdown]
# ## The model: three distributions
# The encoder's network emits a mean and a raw scale per latent dimension; the head turns them
# into $\mathcal{N}(\mu, \mathrm{diag}\,\sigma^2)$. The decoder's network emits 784 logits; the head
# turns them into an `Independent(Bernoulli)`, so `log_prob(x)` is one number per image.

# %%
latent_dim = 50
prior = D.standard_normal(latent_dim)
encoder = Encoder(networks.mlp((784,), 2 * latent_dim, hidden=(200, 200)), D.DiagonalNormalHead(latent_dim))
decoder = Decoder(networks.mlp((latent_dim,), 784, hidden=(200, 200)), D.BernoulliHead((784,)))
vae = tfpvae.VAE(prior, encoder, decoder)

q = vae.encode(test_x[:3].reshape(3, 784).astype("float32"))
print("q(z|x):", q.batch_shape, q.event_shape, "  p(x|z):", vae.decode(q.sample(seed=[0, 0])).event_shape)

# %% [markdown]
# ## Train
# `ELBO(kl="analytic")` uses the closed-form KL between two diagonal Gaussians.

# %%
state = tfpvae.fit(vae, tfpvae.ELBO(kl="analytic"), train, epochs=1 if SMOKE else 10,
                   optimizer=keras.optimizers.Adam(1e-3), validation_data={"test": test},
                   callbacks=[tfpvae.training.ProgressBar()])
final = state.history[-1]["test"]
print(f"test ELBO {final['elbo']:.2f} = log-likelihood {final['log_likelihood']:.2f} - KL {final['kl']:.2f}")

# %% [markdown]
# ## Generate and reconstruct
# New digits: decode $z \sim p(z)$. Reconstructions: encode, sample, decode.

# %%
from tfpvae.plotting import save_image_grid, save_reconstructions  # noqa: E402

save_image_grid(f"{OUT}/samples.png", vae.sample(64, seed=[0, 1]).mean(), ncols=8, image_shape=(28, 28))
x = test_x[:10].reshape(10, 784).astype("float32")
save_reconstructions(f"{OUT}/reconstructions.png", x, vae.reconstruct(x, seed=[0, 2]).mean(), (28, 28))
assert np.isfinite(final["elbo"])
print("wrote", OUT)
