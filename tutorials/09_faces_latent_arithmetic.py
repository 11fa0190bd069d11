# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # 9. Faces and latent arithmetic
#
# A trained VAE gives every image a code, $\mathbb{E}_{q(z|x)}[z]$, and every code an image,
# $\mathbb{E}_{p(x|z)}[x]$. Because the KL term keeps the codes packed around the origin, straight
# lines in latent space tend to decode to smooth changes of the image. This tutorial uses that:
#
# 1. **Frey faces** (the Gaussian-decoder example of Kingma & Welling 2014): a 2-D latent space we
#    can see whole, where the two axes turn out to be pose and expression.
# 2. **Sprites** (shapes with known position, scale, rotation; generated in code like dSprites):
#    **attribute vectors**, $v = \bar z_{\text{with}} - \bar z_{\text{without}}$, the mean code of
#    images that have an attribute minus the mean code of those that do not. Adding $m\,v$ to a
#    code and decoding *edits* the image; we measure that the x-position vector really moves the
#    sprite, in pixels.
# 3. **CelebA** through tensorflow-datasets, where the same code finds "smiling" or "glasses"
#    vectors from the 40 labelled attributes, when the data is available (it is not offline).
#
# `TFPVAE_SMOKE=1` trains each model for a few epochs on little data.

# %%
import os

import keras
import matplotlib.pyplot as plt
import numpy as np

import tfpvae
from tfpvae import data, latent, plotting
from tfpvae.distributions import GaussianHead

SMOKE = os.environ.get("TFPVAE_SMOKE") == "1" or "CI" in os.environ
DATA_DIR = os.environ.get("TFPVAE_DATA_DIR") or ("../../shared/data" if os.path.isdir("../../shared/data") else None)
OUT = os.environ.get("TFPVAE_TUTORIAL_OUT", "figures")
FIGURES = ["09_manifold_2d.png", "09_sprites_attribute_strips.png", "09_sprites_centre_of_mass.png",
           "09_sprites_two_attributes.png", "09_sprites_interpolation.png"]
os.makedirs(OUT, exist_ok=True)

# %% [markdown]
# ## 1. Frey faces: a 2-D latent manifold with a Gaussian decoder
# 1,965 grey 28x20 frames of one face (Frey, Colmenarez & Huang 1998), read from the data folder
# (`load_arrays("frey_faces", data_dir=...)`; the file has no official split, tfpvae's is a fixed
# permutation into 1,565 / 200 / 200). The pixels are grey levels, not black/white, so the decoder is
# a **Gaussian**, as in Kingma & Welling (2014, appendix C.2). They learn a variance per pixel
# (`GaussianHead(event_shape, scale="log_var")`); with only two latent dimensions that lets the
# model explain much of the face's variation as per-pixel noise instead: in our runs it used one
# latent direction and decoded means far outside [0, 1] at the edges of the grid (test ELBO 790
# nats, but a poor manifold). We learn **one shared** standard deviation for all pixels instead
# (`scale="shared"`), which makes $z$ carry the face; its floor of 0.01 keeps the density bounded
# (grey levels are quantised in steps of 1/255, and an unbounded Gaussian would be rewarded without
# limit for shrinking its variance on them).
#
# The file is not shipped with tfpvae. **Without a data folder this section says so and draws the
# 2-D manifold of sprites instead**: the tutorial never fails for lack of data.

# %%
try:
    frey = data.load_arrays("frey_faces", data_dir=DATA_DIR)
    print(frey)
except data.DataUnavailableError as err:
    frey = None
    print("Frey faces are not available here, so section 1 uses sprites instead:", str(err).splitlines()[0])

# %%
def train_2d_model(images, head, epochs):
    keras.utils.set_random_seed(0)
    model = tfpvae.mlp_vae(images.shape[1:], latent_dim=2, hidden=(200,), head=head)
    state = tfpvae.fit(model, tfpvae.ELBO(kl="analytic"),
                       data.ArrayData(images, batch_size=100),
                       epochs=epochs, optimizer=keras.optimizers.Adam(1e-3), seed=0)
    return model, state.history[-1]["train"]


if frey is not None:
    face_model, face_train = train_2d_model(frey.train[:300] if SMOKE else frey.train,
                                            GaussianHead((28, 20, 1), scale="shared", min_scale=0.01),
                                            epochs=3 if SMOKE else 200)
    test_faces = frey.test.astype("float32") / 255.0
    face_test = tfpvae.ELBO(kl="analytic")(face_model, test_faces, seed=[0, 1])
    face_test_elbo = float(np.mean(face_test.elbo))
    face_units = tfpvae.evaluation.active_units(face_model, test_faces)
    head = face_model.decoder.head  # the shared scale: sigma = exp(log_scale) + min_scale
    print(f"Frey faces, 2-D latent: train ELBO {face_train['elbo']:.1f}, test ELBO {face_test_elbo:.1f} nats "
          f"(KL {float(np.mean(face_test.kl)):.2f}), active units {face_units.count}/2, "
          f"shared pixel std {float(np.exp(head.log_scale)) + head.min_scale:.3f}")
    fig = plotting.latent_manifold(face_model, num=12, title="Frey faces: decoder means over a 12x12 grid of the "
                                   "2-D latent (Gaussian quantiles)")
else:
    toy = data.sprites.sprites(500 if SMOKE else 10_000, size=32, seed=0)
    face_model, face_train = train_2d_model(toy.images, None, epochs=1 if SMOKE else 10)
    fig = plotting.latent_manifold(face_model, num=12, title="sprites (no Frey faces here): decoder means over the "
                                   "2-D latent")
plotting.save_figure(fig, f"{OUT}/09_manifold_2d.png")

# %% [markdown]
# Read the manifold along its axes: one direction opens the mouth into a smile, the other turns and
# tilts the head a little (with the seed here; which axis does which is up to the training run).
# The model was never told about pose or expression; two numbers were all it could keep, and
# those are what change most between frames.
#
# ## 2. Sprites: attribute vectors and editing
# `tfpvae.data.sprites.sprites(num, size, seed)` draws images of a square, an ellipse or a heart
# with five known factors (shape, scale, orientation, x, y; dSprites' grid, Matthey et al. 2017).
# `load_arrays("sprites")` gives the registered 64x64 set of 20,000 + 2,000; to train in a minute on
# one CPU thread we draw 10,000 training and 1,000 test sprites at 32x32 instead. The model: an
# MLP VAE (1024-512-256-10, ReLU) with a Bernoulli decoder (the pixels are 0 or 1).

# %%
N_SPRITES = 1_000 if SMOKE else 10_000
train_sprites = data.sprites.sprites(N_SPRITES, size=32, seed=0)
test_sprites = data.sprites.sprites(300 if SMOKE else 1_000, size=32, seed=1)
keras.utils.set_random_seed(0)
sprite_vae = tfpvae.mlp_vae((32, 32, 1), latent_dim=10, hidden=(512, 256), activation="relu")
state = tfpvae.fit(sprite_vae, tfpvae.ELBO(kl="analytic"),
                   data.ArrayData(train_sprites.images, batch_size=100),
                   epochs=1 if SMOKE else 10, optimizer=keras.optimizers.Adam(1e-3), seed=0)
sprite_train = state.history[-1]["train"]
print(f"sprites: train ELBO {sprite_train['elbo']:.1f} nats (KL {sprite_train['kl']:.1f})")

# %% [markdown]
# ### Attribute vectors from labels
# `latent.attribute_vector(model, x, labels)` encodes `x`, and for each boolean label column
# returns the mean posterior mean of the examples with the label minus the mean of those without.
# Our labels are thresholded factors: "right half" ($x > 0.5$), "lower half" ($y > 0.5$) and
# "large" (scale $> 0.75$). Any labelled data works the same way.
#
# `latent.edit(model, x, v, m)` decodes $z + m\,v$; `plotting.attribute_strips` shows a strip of
# magnitudes $m$ from $-k$ to $k$ per attribute and example.

# %%
x_test = test_sprites.images.astype("float32")
f = test_sprites.factors
names = ["x > 0.5 (right)", "y > 0.5 (down)", "scale > 0.75 (large)"]
labels = np.stack([f["x"] > 0.5, f["y"] > 0.5, f["scale"] > 0.75], axis=1)
vectors = latent.attribute_vector(sprite_vae, x_test, labels)  # [3, 10]
print("attribute vector norms:", np.linalg.norm(vectors, axis=1).round(2))
central = np.flatnonzero((np.abs(f["x"] - 0.5) < 0.2) & (np.abs(f["y"] - 0.5) < 0.2))
pick = central[:2]
fig = plotting.attribute_strips(sprite_vae, x_test[pick], vectors, k=2.0, num=9, names=names,
                                title="sprites: z + m v for attribute vectors v (columns: magnitude m)")
plotting.save_figure(fig, f"{OUT}/09_sprites_attribute_strips.png")

# %% [markdown]
# ### Does the x-position vector really move the sprite? Measure it
# The centre of mass of a decoded image (its pixel probabilities as weights) is a number in
# pixels. For sprites near the centre, we edit with the x-position vector at magnitudes $-2 \dots 2$
# and measure how far the centre of mass moves, horizontally and vertically.

# %%
def centre_of_mass(images):
    """(column, row) centre of mass in pixels of images [..., H, W, 1], pixel centres at index + 0.5."""
    w = np.asarray(images)[..., 0]
    total = w.sum(axis=(-2, -1))
    cols = (w.sum(axis=-2) * (np.arange(w.shape[-1]) + 0.5)).sum(-1) / total
    rows = (w.sum(axis=-1) * (np.arange(w.shape[-2]) + 0.5)).sum(-1) / total
    return cols, rows


magnitudes = np.linspace(-2.0, 2.0, 9)
sample = central[:20]
edited = np.asarray(latent.edit(sprite_vae, x_test[sample], vectors[0], magnitudes).mean())  # [9, 20, 32, 32, 1]
com_x, com_y = centre_of_mass(edited)
shift_x = (com_x - com_x[magnitudes == 0]).mean(axis=1)  # mean over the 20 sprites, relative to m = 0
shift_y = (com_y - com_y[magnitudes == 0]).mean(axis=1)
for m, sx, sy in zip(magnitudes, shift_x, shift_y):
    print(f"m = {m:+.1f}: centre of mass moves {sx:+5.2f} px right, {sy:+5.2f} px down")

fig, ax = plt.subplots(figsize=(5.5, 3.6))
ax.plot(magnitudes, shift_x, "o-", label="horizontal (right is +)")
ax.plot(magnitudes, shift_y, "s--", label="vertical (down is +)")
ax.axhline(0, color="k", lw=0.5)
ax.set(xlabel="magnitude m of the x-position vector", ylabel="centre-of-mass shift (pixels)",
       title=f"Editing with the x-position vector ({len(sample)} sprites, 32x32)")
ax.legend(fontsize=8)
ax.grid(alpha=0.3)
fig.tight_layout()
fig.savefig(f"{OUT}/09_sprites_centre_of_mass.png", dpi=100)

# %% [markdown]
# ### Several attributes at once
# Vectors add: `edit(model, x, vectors[:2], [m_x, m_y])` decodes $z + m_x v_x + m_y v_y$. A grid of
# $(m_x, m_y)$ moves one sprite around the frame.

# %%
grid_m = np.linspace(-2.0, 2.0, 5)
pairs = np.array([[mx, my] for my in grid_m for mx in grid_m], np.float32)  # rows: m_y, columns: m_x
both = np.asarray(latent.edit(sprite_vae, x_test[pick[:1]], vectors[:2], pairs).mean())[:, 0]  # [25, 32, 32, 1]
fig = plotting.grid_figure(both, 5, row_labels=[f"m_y {m:+g}" for m in grid_m],
                           col_labels=[f"m_x {m:+g}" for m in grid_m], pixel_scale=4,
                           title="z + m_x v_x + m_y v_y: two attribute vectors at once")
plotting.save_figure(fig, f"{OUT}/09_sprites_two_attributes.png")
diag = np.asarray(latent.edit(sprite_vae, x_test[sample], vectors[:2], [[2.0, 2.0], [0.0, 0.0]]).mean())
diag_x, diag_y = centre_of_mass(diag)
move_both = (float((diag_x[0] - diag_x[1]).mean()), float((diag_y[0] - diag_y[1]).mean()))
print(f"m_x = m_y = +2: the centre of mass moves {move_both[0]:+.2f} px right and {move_both[1]:+.2f} px down")

# %% [markdown]
# ### Interpolation
# Between the codes of two sprites, linearly and along the great circle (slerp, White 2016, which
# keeps the norm of high-dimensional Gaussian codes typical). Position and size change along the
# path, but not always smoothly: halfway, where the path leaves the region the training codes
# fill, the sprite fades or blurs. Note also that the outline is mostly lost: ten epochs of an MLP
# VAE keep a sprite's position and size, which cost many pixels, and round off its shape.

# %%
far = np.flatnonzero((f["x"] > 0.8) & (f["y"] > 0.6))[:2]
near = np.flatnonzero((f["x"] < 0.2) & (f["y"] < 0.4))[:2]
fig = plotting.interpolation(sprite_vae, x_test[near], x_test[far], num=8, method="both")
plotting.save_figure(fig, f"{OUT}/09_sprites_interpolation.png")

# %% [markdown]
# ## 3. CelebA: the same arithmetic on faces, when tfds has the data
# CelebA (202,599 photos, 40 binary attributes such as `Smiling` or `Eyeglasses`) comes only
# through tensorflow-datasets, which needs a download of about 1.4 GB (or a prepared copy in
# `~/tensorflow_datasets`). Offline, `load_celeb_a` raises `DataUnavailableError` saying why; we
# catch it and go on. With the data, the recipe is the one above, with a conv VAE for 64x64
# colour images (training it takes hours on a CPU, so it is not run here):
#
# ```python
# celeb = data.load_celeb_a(download=True, max_examples=50_000)   # uint8 [N, 64, 64, 3] + attributes
# model = tfpvae.conv_face_vae()                                   # discretized-logistic decoder
# tfpvae.fit(model, tfpvae.ELBO(), data.ArrayData(celeb.train, batch_size=64), epochs=20)
# smiling = latent.attribute_vector(model, celeb.test[:2000] / 255, celeb.test_attributes["Smiling"][:2000] == 1)
# plotting.attribute_strips(model, celeb.test[:4] / 255, smiling, k=3.0, names=["smiling"])
# ```

# %%
try:
    celeb = data.load_celeb_a(download=False, max_examples=200 if SMOKE else 2_000)
    smiling = celeb.test_attributes["Smiling"] == 1
    print(f"celeb_a available: {celeb.train.shape[0]} train images, {smiling.mean():.0%} of test images smiling")
except data.DataUnavailableError as err:
    print("celeb_a is not available (expected offline):", str(err).splitlines()[0][:200])

# %% [markdown]
# ## What you should have seen
# - Frey faces (when the data folder is there): a 2-D manifold of faces turning and changing
#   expression, a test ELBO of about 625 nats (checked: above 500; a Gaussian density over [0, 1]
#   pixels is positive when the pixels are predicted well) and both latent dimensions active.
# - The sprite VAE's attribute strips move the sprite right/down and grow it as $m$ goes from
#   $-2$ to $+2$ (shapes come out as rounded blobs: this small model keeps position and size).
# - The x-position vector moves the centre of mass right for positive magnitudes and left for
#   negative ones (checked: at least 2 px right at $m = +2$ and at least 1 px left at $m = -2$, the
#   shift increasing with $m$ apart from at most one step, and vertical drift under a third of the
#   horizontal shift at $m = +2$).
# - Two vectors at once: at $m_x = m_y = +2$ the sprite moves right and down (checked: both > 1 px).
# - CelebA: a one-line message saying why it is not available here.

# %%
assert np.isfinite(sprite_train["elbo"]) and np.isfinite(face_train["elbo"])
assert np.all(np.isfinite(shift_x))
if not SMOKE:
    if frey is not None:
        assert face_test_elbo > 500 and face_units.count == 2, (face_test_elbo, face_units)
    assert shift_x[-1] > 2.0 and shift_x[0] < -1.0, shift_x
    assert np.sum(np.diff(shift_x) <= 0) <= 1, shift_x
    assert abs(shift_y[-1]) < shift_x[-1] / 3, (shift_x, shift_y)
    assert move_both[0] > 1.0 and move_both[1] > 1.0, move_both
print("all checks passed; figures in", OUT)
