"""The VAE gallery: the pictures a reader of the VAE literature expects, from real training runs.

MNIST, 2-D latent (Kingma & Welling 2014, fig. 4): an MLP VAE (784-256-256-2, Bernoulli decoder,
dynamically binarized training images) trained for a few epochs on all 60,000 training images;
then, from the trained model, the latent scatter of test images coloured by digit, the 15 x 15
manifold, prior samples, reconstructions, a traversal, the training curves, the per-epoch GIF of
100 fixed latents, and prior vs aggregate-posterior samples with their decoder log-likelihoods
(the "sampling trick"). The same MLP as a deterministic autoencoder: its 2-D codes beside the
VAE's posterior means, and its decoder at N(0, I) draws vs draws from a Gaussian fitted to its
codes. The VAE with a 16-D latent: the PCA scatter, samples, reconstructions,
linear vs spherical interpolations, curves and the sampling trick.

Sprites (when ``tfpvae.data.sprites`` is available): a 10-D latent MLP VAE on 32 x 32 sprites, and
attribute-editing strips along the x-position, y-position and scale attribute vectors.

Frey faces: a 2-D latent VAE with a Gaussian decoder, its manifold and traversals of both latents.

CVAE tutorial: the TensorFlow tutorial's conv VAE at its exact configuration (10 epochs, batch 32),
with the per-epoch GIF of 16 fixed latents and its manifold.

Writes PNG/GIF files and ``gallery.json`` (numbers, timings, command) to ``--out``. One thread by
default so that it can run beside other work::

    OMP_NUM_THREADS=1 python benchmarks/gallery.py --data-dir ../shared/data --out benchmarks/figures
    python benchmarks/gallery.py --smoke --out /tmp/gallery   # seconds: tiny data, 1 epoch
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path


def _args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=os.environ.get("TFPVAE_DATA_DIR", "../shared/data"))
    p.add_argument("--out", default="benchmarks/figures")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--sprite-epochs", type=int, default=10)
    p.add_argument("--cvae-epochs", type=int, default=10, help="the tutorial's 10; ~2 min each on one thread")
    p.add_argument("--frey-epochs", type=int, default=500)
    p.add_argument("--sections", default="mnist,cvae,frey,sprites", help="comma-separated subset to run")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--smoke", action="store_true", help="tiny data and 1 epoch: checks the script runs")
    p.add_argument("--skip-sprites", action="store_true")
    return p.parse_args(argv)


def _train_mnist(args, out: Path, arrays, latent_dim: int, prefix: str, record: dict, *, gif: bool):
    import keras
    import tensorflow as tf

    import tfpvae
    from tfpvae import data as tdata, plotting as P
    from tfpvae.training import JSONLogger

    train_x, test_x = arrays.train, arrays.test
    if args.smoke:
        train_x, test_x = train_x[:500], test_x[:300]
    model = tfpvae.mlp_vae((784,), latent_dim=latent_dim, hidden=(256, 256), activation="relu")
    train_images = tf.convert_to_tensor(train_x)
    data = tdata.ArrayData(train_images, batch_size=100, seed=args.seed, binarize="dynamic", flatten=True)
    test_data = tdata.make_dataset(test_x, batch_size=1000, shuffle=False, binarize="static", flatten=True)
    callbacks = [JSONLogger(out / f"{prefix}_metrics.json",
                            {"model": f"mlp_vae((784,), {latent_dim}, hidden=(256, 256), relu), Bernoulli decoder",
                             "data": "MNIST, dynamic binarization (train), static x > 0.5 (test)"})]
    if gif:
        fixed = tfpvae.standard_normal(latent_dim).sample(100, seed=tf.constant([args.seed, 11]))
        callbacks.append(P.EpochImages(out / f"{prefix}_frames", fixed, model, ncols=10))
    start = time.perf_counter()
    state = tfpvae.fit(model, tfpvae.ELBO(), data, epochs=1 if args.smoke else args.epochs,
                       optimizer=keras.optimizers.Adam(1e-3), validation_data={"test": test_data},
                       callbacks=callbacks, seed=args.seed)
    if gif:  # half size: a 10-frame GIF of 100 digits is then ~0.5 MB
        P.make_gif(out / f"{prefix}_frames", out / f"{prefix}_training.gif", fps=2, scale=0.5)
    record[prefix] = {"latent_dim": latent_dim, "train_seconds": time.perf_counter() - start,
                      "epochs": len(state.history), "num_train": len(train_x), "final": state.history[-1],
                      "data_source": arrays.source}
    return model, state


def _save(fig, path: Path) -> None:
    from tfpvae import plotting as P

    P.save_figure(fig, path)
    print(f"gallery: wrote {path}", file=sys.stderr)


def _prior_vs_aggregate(args, out: Path, model, prefix: str, train_bin, test_bin, record: dict) -> None:
    """The sampling trick: N(0, I) vs a full Gaussian fitted to the aggregate posterior of training
    images; paired draws (one set of base normals pushed through each) and decoder log-likelihoods."""
    import numpy as np
    import tensorflow as tf

    from tfpvae import latent
    from tfpvae.plotting import grid_figure

    agg = latent.aggregate_posterior(model, train_bin, "full")
    priors = {"N(0, I)": model.prior, "aggregate posterior": agg}
    table = latent.compare_priors(model, test_bin, priors, num_samples=500, seed=args.seed)
    record[prefix]["compare_priors"] = {"num_test_images": len(test_bin), "num_samples": 500, "nats": table}
    record[prefix]["aggregate_std"] = np.sqrt(np.diag(np.asarray(agg.covariance()))).tolist()
    eps = tf.random.stateless_normal([50, model.latent_dim], seed=[args.seed, 5])
    z = [eps, agg.bijector.forward(eps) if hasattr(agg, "bijector") else agg.mean() + tf.linalg.matvec(
        agg.scale_tril, eps)]
    both = np.concatenate([np.asarray(model.decode(zz).mean()) for zz in z])
    rows = ["N(0, I)"] * 5 + ["aggregate"] * 5
    lines = "; ".join(f"{k}: (1/S) sum p(x|z) -> {v['log_likelihood']:.1f} nats" for k, v in table.items())
    _save(grid_figure(both, 10, row_labels=rows,
                      title="decoder means, z ~ N(0, I) (top) vs z ~ Gaussian fit of the aggregate posterior (bottom), "
                            f"same base draws\n{lines} (S = 500, {len(test_bin)} test images)"),
          out / f"{prefix}_prior_vs_aggregate.png")


def _autoencoder_vs_vae(args, out: Path, arrays, vae, test_unit, labels, record: dict) -> None:
    """The same MLP as a deterministic autoencoder (2-D code, Bernoulli reconstruction loss): its
    latent space beside the VAE's, and why it is hard to sample: decoded N(0, I) draws vs draws from
    a Gaussian fitted to its codes."""
    import keras
    import numpy as np
    import tensorflow as tf

    import tfpvae
    from tfpvae import data as tdata, latent, plotting as P

    train_x = arrays.train[:500] if args.smoke else arrays.train
    ae = tfpvae.models.mlp_autoencoder((784,), latent_dim=2, hidden=(256, 256), activation="relu")
    images = tf.convert_to_tensor(train_x)
    data = tdata.ArrayData(images, batch_size=100, seed=args.seed, binarize="dynamic", flatten=True)
    start = time.perf_counter()
    state = tfpvae.fit(ae, tfpvae.objectives.Reconstruction(), data, epochs=1 if args.smoke else args.epochs,
                       optimizer=keras.optimizers.Adam(1e-3), seed=args.seed)
    fig = P.figures.new_figure((12, 5.5), 100)
    axes = fig.subplots(1, 2)
    P.latent_scatter(ae, test_unit, labels, ax=axes[0], point_size=3, title="autoencoder: codes z = f(x) (2-D)")
    P.latent_scatter(vae, test_unit, labels, ax=axes[1], point_size=3, title="VAE: posterior means E[z|x] (2-D)")
    fig.tight_layout()
    _save(fig, out / "mnist2d_ae_vs_vae_latents.png")
    codes = np.asarray(ae.encode(test_unit))
    fit = latent.aggregate_posterior(ae, test_unit, "full")
    both = np.concatenate([np.asarray(ae.decode(d.sample(30, seed=tf.constant([args.seed, 6]))).mean())
                           for d in (tfpvae.standard_normal(2), fit)])
    _save(P.grid_figure(both, 10, row_labels=["N(0, I)"] * 3 + ["code fit"] * 3,
                        title="autoencoder decoder at z ~ N(0, I) (top) and z ~ Gaussian fitted to its codes (bottom)"),
          out / "mnist2d_ae_samples.png")
    record["ae2d"] = {"train_seconds": time.perf_counter() - start, "epochs": len(state.history),
                      "final": state.history[-1], "code_mean": codes.mean(0).tolist(),
                      "code_std": codes.std(0).tolist()}


def mnist_gallery(args, out: Path, record: dict) -> None:
    import numpy as np

    from tfpvae import data as tdata, plotting as P

    arrays = tdata.load_arrays("mnist", data_dir=args.data_dir)
    rng = np.random.default_rng(args.seed)
    n_test = 300 if args.smoke else len(arrays.test)
    pick = rng.permutation(n_test)  # the test split in file order starts with runs of one digit
    test_unit = (arrays.test[pick].reshape(n_test, -1) / 255.0).astype(np.float32)  # intensities in [0, 1]
    labels = arrays.test_labels[pick]
    test_bin = (test_unit[:1000] > 0.5).astype(np.float32)
    train_bin = (arrays.train[rng.permutation(len(arrays.train))[:10000]].reshape(-1, 784) > 127).astype(np.float32)

    model, state = _train_mnist(args, out, arrays, 2, "mnist2d", record, gif=True)
    _save(P.latent_scatter(model, test_unit[:5000], labels[:5000], figsize=(7, 6), point_size=3,
                           title=f"MNIST test digits: posterior means E[z|x] (2-D latent), "
                                 f"{len(state.history)} epochs"),
          out / "mnist2d_scatter.png")
    _save(P.latent_manifold(model, num=15, pixel_scale=2.5), out / "mnist2d_manifold.png")
    _save(P.sample_grid(model, 100, seed=args.seed, ncols=10), out / "mnist2d_samples.png")
    _save(P.reconstruction_figure(model, test_unit[:20], ncols=10), out / "mnist2d_reconstructions.png")
    _save(P.traversal(model, test_unit[:6], 0, values=np.linspace(-2.5, 2.5, 11)), out / "mnist2d_traversal_z1.png")
    _save(P.training_curves(state.history, title="MNIST, 2-D latent VAE"), out / "mnist2d_curves.png")
    _prior_vs_aggregate(args, out, model, "mnist2d", train_bin, test_bin, record)

    _autoencoder_vs_vae(args, out, arrays, model, test_unit[:5000], labels[:5000], record)

    model, state = _train_mnist(args, out, arrays, 16, "mnist16d", record, gif=False)
    _save(P.latent_scatter(model, test_unit[:5000], labels[:5000], figsize=(7, 6), point_size=3),
          out / "mnist16d_scatter_pca.png")
    _save(P.sample_grid(model, 100, seed=args.seed, ncols=10), out / "mnist16d_samples.png")
    _save(P.reconstruction_figure(model, test_unit[:20], ncols=10), out / "mnist16d_reconstructions.png")
    _save(P.interpolation(model, test_unit[:4], test_unit[4:8], num=10, method="both"),
          out / "mnist16d_interpolation.png")
    _save(P.training_curves(state.history, title="MNIST, 16-D latent VAE"), out / "mnist16d_curves.png")
    _prior_vs_aggregate(args, out, model, "mnist16d", train_bin, test_bin, record)


def sprites_gallery(args, out: Path, record: dict) -> None:
    import keras
    import numpy as np
    import tensorflow as tf

    import tfpvae
    from tfpvae import data as tdata, latent, plotting as P
    from tfpvae.data.sprites import sprites

    train, test = sprites(2000 if args.smoke else 20000, size=32, seed=args.seed), sprites(1000, 32, args.seed + 1)
    model = tfpvae.mlp_vae((1024,), latent_dim=10, hidden=(512, 256), activation="relu")
    images = tf.convert_to_tensor(train.images)
    data = tdata.ArrayData(images, batch_size=100, seed=args.seed, flatten=True)
    start = time.perf_counter()
    state = tfpvae.fit(model, tfpvae.ELBO(), data, epochs=1 if args.smoke else args.sprite_epochs, seed=args.seed,
                       optimizer=keras.optimizers.Adam(1e-3))
    x = test.images.reshape(len(test), -1).astype(np.float32)
    f = test.factors
    labels = np.stack([f["x"] > 0.5, f["y"] > 0.5, f["scale"] > 0.75], 1)
    vectors = latent.attribute_vector(model, x, labels)
    names = ["x > 0.5", "y > 0.5", "scale > 0.75"]
    pick = np.flatnonzero((np.abs(f["x"] - 0.5) < 0.2) & (np.abs(f["y"] - 0.5) < 0.2))[:2]
    fig = P.attribute_strips(model, x[pick], vectors, k=2.0, num=9, names=names,
                             title="sprites: z + m v for attribute vectors v = mean z with - mean z without")
    _save(fig, out / "sprites_attribute_strips.png")
    # Centre of mass of the edited images along x, for m = -2..2 on the x-attribute (pixels).
    means = np.asarray(latent.edit(model, x[pick], vectors[0], np.linspace(-2, 2, 5)).mean())
    means = means.reshape(5, len(pick), 32, 32)
    cols = np.arange(32) + 0.5
    com = (means.sum(2) * cols).sum(-1) / means.sum((2, 3))
    # The latent best aligned with each position factor (largest |correlation| of posterior means).
    z = np.asarray(latent.posterior_means(model, x))
    corr = {k: [abs(float(np.corrcoef(z[:, j], f[k])[0, 1])) for j in range(z.shape[1])] for k in ("x", "y", "scale")}
    best = {k: int(np.argmax(v)) for k, v in corr.items()}
    _save(P.traversal(model, x[pick], best["x"], values=np.linspace(-2.5, 2.5, 9),
                      title=f"sprites: traversal of latent {best['x']}, the one best aligned with x-position "
                            f"(|corr| {corr['x'][best['x']]:.2f})"), out / "sprites_traversal_x.png")
    record["sprites_alignment"] = {"abs_corr_latent_vs_factor": corr, "best_latent": best}
    record["sprites"] = {"train_seconds": time.perf_counter() - start, "epochs": len(state.history),
                         "final": state.history[-1], "x_attribute_centre_of_mass_px": com.tolist(),
                         "magnitudes": np.linspace(-2, 2, 5).tolist()}


def cvae_gallery(args, out: Path, record: dict) -> None:
    """The TensorFlow CVAE tutorial's run: its conv VAE (``models.cvae_tutorial``, 2-D latent),
    statically binarized MNIST, batch 32, Adam 1e-4, one-sample Monte Carlo KL, 10 epochs; 16 fixed
    latents decoded after every epoch into a GIF, as the tutorial shows."""
    import keras
    import tensorflow as tf

    import tfpvae
    from tfpvae import data as tdata, plotting as P

    arrays = tdata.load_arrays("mnist", data_dir=args.data_dir)
    train_x, test_x = (arrays.train[:640], arrays.test[:320]) if args.smoke else (arrays.train, arrays.test)
    model = tfpvae.models.cvae_tutorial(latent_dim=2)
    images = tf.convert_to_tensor(train_x)
    data = tdata.ArrayData(images, batch_size=32, seed=args.seed, binarize="static")
    test = tdata.make_dataset(test_x, batch_size=1000, shuffle=False, binarize="static")
    fixed = tfpvae.standard_normal(2).sample(16, seed=tf.constant([args.seed, 12]))
    frames = P.EpochImages(out / "cvae_frames", fixed, model, ncols=4, pixel_scale=4)
    start = time.perf_counter()
    state = tfpvae.fit(model, tfpvae.ELBO(kl="monte_carlo"), data, epochs=1 if args.smoke else args.cvae_epochs,
                       optimizer=keras.optimizers.Adam(1e-4), validation_data={"test": test}, seed=args.seed,
                       callbacks=[frames])
    P.make_gif(out / "cvae_frames", out / "cvae_training.gif", fps=2)
    _save(P.latent_manifold(model, num=15, pixel_scale=2.5), out / "cvae_manifold.png")
    _save(P.training_curves(state.history, title="TensorFlow CVAE tutorial model, MNIST"), out / "cvae_curves.png")
    record["cvae"] = {"train_seconds": time.perf_counter() - start, "epochs": len(state.history),
                      "final": state.history[-1], "batch_size": 32, "learning_rate": 1e-4, "kl": "monte_carlo"}


def frey_gallery(args, out: Path, record: dict) -> None:
    """Frey faces, the original VAE paper's Gaussian-decoder example: a 2-D latent MLP VAE (560-200-2,
    tanh) with a Gaussian likelihood of one learned scale, then the manifold (Kingma & Welling 2014,
    fig. 4a) and traversals of both latents. Gaussian means may leave [0, 1]: they are clipped with
    a note in the title, never blacked out."""
    import keras
    import numpy as np
    import tensorflow as tf

    import tfpvae
    from tfpvae import data as tdata, plotting as P
    from tfpvae.data.faces import load_frey_faces

    arrays = load_frey_faces(args.data_dir)
    head = tfpvae.GaussianHead((560,), scale="shared", init_scale=0.2)
    model = tfpvae.mlp_vae((560,), latent_dim=2, hidden=(200,), activation="tanh", head=head)
    images = tf.convert_to_tensor(arrays.train)
    data = tdata.ArrayData(images, batch_size=100, seed=args.seed, flatten=True)
    test = tdata.make_dataset(arrays.test, batch_size=200, shuffle=False, flatten=True)
    start = time.perf_counter()
    state = tfpvae.fit(model, tfpvae.ELBO(), data, epochs=2 if args.smoke else args.frey_epochs, seed=args.seed,
                       optimizer=keras.optimizers.Adam(1e-3), validation_data={"test": test}, validation_freq=25)
    x = (arrays.test.reshape(len(arrays.test), -1) / 255.0).astype(np.float32)
    shape = (28, 20)
    _save(P.latent_manifold(model, num=15, image_shape=shape, pixel_scale=3), out / "frey_manifold.png")
    for dim in (0, 1):
        _save(P.traversal(model, x[::40][:5], dim, values=np.linspace(-2.5, 2.5, 11), image_shape=shape),
              out / f"frey_traversal_z{dim + 1}.png")
    _save(P.training_curves(state.history, title="Frey faces, 2-D latent, Gaussian decoder"), out / "frey_curves.png")
    record["frey"] = {"train_seconds": time.perf_counter() - start, "epochs": len(state.history),
                      "final": state.history[-1],
                      "decoder_sigma": float(np.exp(head.log_scale.numpy()) + head.min_scale)}


def main(argv=None) -> None:
    args = _args(argv)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    record = {"command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), "threads": args.threads,
              "date_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()), "machine": platform.processor() or
              platform.machine(), "cpu_count": os.cpu_count(), "tensorflow": tf.__version__}
    sections = set(args.sections.split(","))
    if "mnist" in sections:
        mnist_gallery(args, out, record)
    if "cvae" in sections:
        cvae_gallery(args, out, record)
    if "frey" in sections:
        frey_gallery(args, out, record)
    if "sprites" in sections and not args.skip_sprites:
        try:
            import tfpvae.data.sprites  # noqa: F401
        except ImportError as err:
            record["sprites"] = f"skipped: {err}"
        else:
            sprites_gallery(args, out, record)
    from tfpvae.training.io import atomic_write_json

    previous = out / "gallery.json"  # a run of some sections keeps the others' numbers
    if previous.exists() and sections != {"mnist", "cvae", "frey", "sprites"}:
        record = {**json.loads(previous.read_text()), **{k: v for k, v in record.items() if k not in (
            "command", "date_utc")}, f"command_{args.sections}": record["command"],
            f"date_utc_{args.sections}": record["date_utc"]}
    atomic_write_json(out / "gallery.json", record)
    print(json.dumps({k: (v.get("final") if isinstance(v, dict) and "final" in v else v) for k, v in record.items()},
                     default=str))


if __name__ == "__main__":
    main()
