"""Training throughput of tfpvae next to a plain TensorFlow CVAE-tutorial loop, side by side.

Model: the 784-200-200-50 tanh MLP VAE of Burda et al. (2015) on statically binarized MNIST,
batch 100, Adam 1e-3. The baseline reimplements the TensorFlow "Convolutional VAE" tutorial's
training loop with this MLP: a GradientTape step in ``tf.function``, the reparameterisation trick
by hand, Monte Carlo KL with a hand-written log-normal pdf, sigmoid cross-entropy. Implementations
alternate round by round so machine noise hits all of them; the first epoch of each (tracing) is
excluded. Reports median training examples/s and the ratio to the baseline.

    python benchmarks/throughput.py [--data-dir ../shared/data] [--rounds 3] [--epochs 2]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfpvae  # noqa: E402
from tfpvae import data as tdata  # noqa: E402

HERE = Path(__file__).resolve().parent


class TutorialVAE(keras.Model):
    """The TF tutorial's CVAE, with the Burda MLP in place of the convolutions."""

    def __init__(self, latent_dim=50):
        super().__init__()
        self.latent_dim = latent_dim
        self.encoder = keras.Sequential([keras.Input((784,)), keras.layers.Dense(200, activation="tanh"),
                                         keras.layers.Dense(200, activation="tanh"),
                                         keras.layers.Dense(2 * latent_dim)])
        self.decoder = keras.Sequential([keras.Input((latent_dim,)), keras.layers.Dense(200, activation="tanh"),
                                         keras.layers.Dense(200, activation="tanh"), keras.layers.Dense(784)])

    def encode(self, x):
        mean, logvar = tf.split(self.encoder(x), num_or_size_splits=2, axis=1)
        return mean, logvar

    def reparameterize(self, mean, logvar):
        eps = tf.random.normal(shape=tf.shape(mean))
        return eps * tf.exp(logvar * 0.5) + mean


def log_normal_pdf(sample, mean, logvar, raxis=1):
    log2pi = tf.math.log(2.0 * np.pi)
    return tf.reduce_sum(-0.5 * ((sample - mean) ** 2.0 * tf.exp(-logvar) + logvar + log2pi), axis=raxis)


def compute_loss(model, x):
    mean, logvar = model.encode(x)
    z = model.reparameterize(mean, logvar)
    x_logit = model.decoder(z)
    cross_ent = tf.nn.sigmoid_cross_entropy_with_logits(logits=x_logit, labels=x)
    logpx_z = -tf.reduce_sum(cross_ent, axis=1)
    logpz = log_normal_pdf(z, 0.0, 0.0)
    logqz_x = log_normal_pdf(z, mean, logvar)
    return -tf.reduce_mean(logpx_z + logpz - logqz_x)


def tutorial_runner(train_x):
    """``run(epochs) -> [examples/s per epoch]`` for the tutorial loop (compiled once, reused)."""
    keras.utils.set_random_seed(0)
    model, optimizer = TutorialVAE(), keras.optimizers.Adam(1e-3)

    @tf.function
    def train_step(x):
        with tf.GradientTape() as tape:
            loss = compute_loss(model, x)
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(gradients, model.trainable_variables))

    dataset = tf.data.Dataset.from_tensor_slices(train_x.reshape(-1, 784).astype("float32")).shuffle(60000).batch(100)

    def run(epochs):
        rates = []
        for _ in range(epochs):
            start = time.perf_counter()
            for x in dataset:
                train_step(x)
            optimizer.iterations.numpy()  # wait for the device
            rates.append(len(train_x) / (time.perf_counter() - start))
        return rates

    run(1)  # tracing
    return run


def tfpvae_runner(train_x, jit: bool):
    """``run(epochs) -> [examples/s per epoch]`` from ``tfpvae.fit``'s own per-epoch timings. Each call
    is one ``fit`` of ``1 + epochs`` epochs; its first epoch (tracing) is dropped."""
    keras.utils.set_random_seed(0)
    vae, optimizer = tfpvae.mlp_vae((784,), 50, (200, 200)), keras.optimizers.Adam(1e-3)
    images = tf.convert_to_tensor(train_x)  # once, not per epoch
    data = lambda e: tdata.make_dataset(images, batch_size=100, seed=0, epoch=e, flatten=True)

    def run(epochs):
        state = tfpvae.fit(vae, tfpvae.ELBO(), data, epochs=1 + epochs, optimizer=optimizer, jit_compile=jit)
        return [h["examples_per_second"] for h in state.history[1:]]

    return run


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=2, help="timed epochs per implementation per round")
    parser.add_argument("--output", default=str(HERE / "results" / "throughput.json"))
    args = parser.parse_args(argv)
    arrays = tdata.load_arrays("binarized_mnist", args.data_dir)
    train_x = arrays.train
    runners = {"tf_tutorial_loop": tutorial_runner(train_x), "tfpvae": tfpvae_runner(train_x, jit=False),
               "tfpvae_xla": tfpvae_runner(train_x, jit=True)}
    rates = {name: [] for name in runners}
    for r in range(args.rounds):
        for name, run in runners.items():
            rates[name] += run(args.epochs)
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in rates.items()), file=sys.stderr)
    base = statistics.median(rates["tf_tutorial_loop"])
    result = {
        "benchmark": "train throughput, 784-200-200-50 tanh VAE, binarized MNIST, batch 100, Adam 1e-3",
        "date": date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores, CPU",
        "tensorflow": tf.__version__, "data_source": arrays.source,
        "command": "python benchmarks/throughput.py " + " ".join(argv or sys.argv[1:]),
        "examples_per_second": {k: {"median": statistics.median(v), "all": v} for k, v in rates.items()},
        "ratio_to_tf_tutorial_loop": {k: statistics.median(v) / base for k, v in rates.items()},
    }
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    print("| implementation | median examples/s | ratio to TF tutorial loop |\n|---|---|---|")
    for k in rates:
        print(f"| {k} | {result['examples_per_second'][k]['median']:.0f} "
              f"| {result['ratio_to_tf_tutorial_loop'][k]:.2f} |")
    if not all(math.isfinite(v) for v in result["ratio_to_tf_tutorial_loop"].values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
