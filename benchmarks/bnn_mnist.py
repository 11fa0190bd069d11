"""Bayesian neural-net classifiers on MNIST: test error, NLL, Brier, ECE, reliability diagram, curves.

Models: ``mlp`` (784-H-H-10 ReLU ``DenseFlipout``, H = ``--hidden``) and ``lenet5`` (LeNet-5 with
``Conv2DFlipout`` and ``DenseFlipout``), mean-field normal posteriors (initial scale 1e-3), N(0, 1)
prior (``--prior mixture`` for the Blundell et al. scale mixture), ``BayesianELBO`` with N = the
training-set size, Adam, trained with ``tfpvae.fit`` for ``--epochs`` or until ``--minutes`` run out.
The last 5,000 training images are held out for the validation curve (nothing is selected on the
test set; the final model is evaluated). Test predictions average ``--samples`` weight samples.

    OMP_NUM_THREADS=1 python benchmarks/bnn_mnist.py --model mlp --minutes 20 \
        --output benchmarks/results/bnn_mnist_mlp.json

Writes the JSON, ``<output stem>_curves.png`` and ``<output stem>_reliability.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfpvae import data as tdata  # noqa: E402
from tfpvae import distributions as D  # noqa: E402
from tfpvae import evaluation as E  # noqa: E402
from tfpvae import layers as L  # noqa: E402
from tfpvae.objectives import BayesianELBO  # noqa: E402
from tfpvae.plotting import save_figure, save_reliability_diagram  # noqa: E402
from tfpvae.plotting.figures import new_figure  # noqa: E402
from tfpvae.training import fit_epochs  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
PUBLISHED = [("uncertainty-baselines, mean-field VI LeNet-5", 1.5, 0.010),
             ("Blundell et al. 2015, Bayes by Backprop 2x1200, scale-mixture prior", 1.32, None)]


def build(args) -> keras.Model:
    prior = (L.ScaleMixtureNormal(pi=0.5, sigma1=1.0, sigma2=float(np.exp(-6))) if args.prior == "mixture"
             else L.StandardNormal())
    kw = dict(kernel_posterior=L.MeanFieldNormal(init_scale=args.init_scale), kernel_prior=prior)
    if args.model == "mlp":
        return keras.Sequential([keras.Input((784,)), L.DenseFlipout(args.hidden, activation="relu", **kw),
                                 L.DenseFlipout(args.hidden, activation="relu", **kw), L.DenseFlipout(10, **kw),
                                 D.CategoricalHead(10)])
    return keras.Sequential([keras.Input((28, 28, 1)), L.Conv2DFlipout(6, 5, padding="same", activation="relu", **kw),
                             keras.layers.MaxPooling2D(2), L.Conv2DFlipout(16, 5, activation="relu", **kw),
                             keras.layers.MaxPooling2D(2), keras.layers.Flatten(),
                             L.DenseFlipout(120, activation="relu", **kw), L.DenseFlipout(84, activation="relu", **kw),
                             L.DenseFlipout(10, **kw), D.CategoricalHead(10)])


def probabilities(model, x, samples: int, seed: int, batch: int = 2000) -> np.ndarray:
    out = []
    for i in range(0, len(x), batch):
        out.append(E.class_probabilities(E.predictive_distribution(model, x[i:i + batch], num_samples=samples,
                                                                   seed=[seed, i])).numpy())
    return np.concatenate(out)


def metrics(probs, labels, n_bins: int = 15) -> dict:
    return {"error_percent": 100 * (1 - E.accuracy(probs, labels)), "nll": E.nll(probs, labels),
            "brier": E.brier_score(probs, labels), "ece": E.expected_calibration_error(probs, labels, n_bins)}


def plot_curves(history: list[dict], path: Path) -> None:
    fig = new_figure((8, 3.2), dpi=100)
    left, right = fig.subplots(1, 2)
    epochs = [h["epoch"] for h in history]
    left.plot(epochs, [h["train_loss"] for h in history], label="train loss (NLL + KL/N)")
    left.plot(epochs, [h["train_nll"] for h in history], label="train NLL")
    left.set_xlabel("epoch")
    left.set_yscale("log")
    left.legend(fontsize=8)
    right.plot(epochs, [h["validation_error_percent"] for h in history], label="validation error %")
    right.set_xlabel("epoch")
    right.set_ylabel("%")
    right.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--model", choices=["mlp", "lenet5"], default="mlp")
    p.add_argument("--hidden", type=int, default=400)
    p.add_argument("--prior", choices=["normal", "mixture"], default="normal")
    p.add_argument("--init-scale", type=float, default=1e-3)
    p.add_argument("--epochs", type=int, default=1000)
    p.add_argument("--minutes", type=float, default=20.0, help="training time budget (checked after each epoch)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--samples", type=int, default=20, help="weight samples for test predictions")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--data-dir", default=str(DATA))
    p.add_argument("--output", default=str(HERE / "results" / "bnn_mnist_mlp.json"))
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    keras.utils.set_random_seed(args.seed)

    arrays = tdata.load_arrays("mnist", data_dir=args.data_dir, allow_embedded=False)
    shape = (-1, 784) if args.model == "mlp" else (-1, 28, 28, 1)
    x_all = (arrays.train.astype("float32") / 255.0).reshape(shape)
    y_all = arrays.train_labels.astype("int64")
    x_train, y_train, x_valid, y_valid = x_all[:55000], y_all[:55000], x_all[55000:], y_all[55000:]
    x_test = (arrays.test.astype("float32") / 255.0).reshape(shape)
    y_test = arrays.test_labels.astype("int64")

    model = build(args)
    data = lambda epoch: tdata.make_tabular_dataset(x_train, y_train, args.batch_size, seed=args.seed,  # noqa: E731
                                                    epoch=epoch)
    run = fit_epochs(model, BayesianELBO(num_examples=len(x_train)), data, epochs=args.epochs,
                     optimizer=keras.optimizers.Adam(args.lr), seed=args.seed)
    output = Path(args.output)
    stem = output.with_suffix("")
    history, start = [], time.perf_counter()
    for epoch in range(1, args.epochs + 1):
        state = next(run)
        train_logs = state.history[-1]["train"]
        valid = metrics(probabilities(model, x_valid, 5, 10_000 + epoch), y_valid)
        history.append({"epoch": epoch, "seconds": round(time.perf_counter() - start, 1),
                        "train_loss": train_logs["loss"], "train_nll": -train_logs["log_likelihood"],
                        "kl_over_n": train_logs["kl"], "validation_error_percent": valid["error_percent"],
                        "validation_nll": valid["nll"]})
        print(json.dumps(history[-1]), flush=True)
        if time.perf_counter() - start > 60 * args.minutes:
            break
    train_seconds = time.perf_counter() - start
    probs = probabilities(model, x_test, args.samples, 1)
    test = metrics(probs, y_test)
    with L.deterministic():
        mean_probs = np.concatenate([tf.nn.softmax(model(x_test[i:i + 2000]).logits).numpy()
                                     for i in range(0, len(x_test), 2000)])
    result = {"command": "python " + " ".join([sys.argv[0]] + (argv or sys.argv[1:])), "date": str(date.today()),
              "machine": f"{platform.machine()} {os.cpu_count()} cores (shared), threads={args.threads}",
              "tensorflow": tf.__version__, "keras": keras.__version__, "config": vars(args),
              "epochs_trained": len(history), "train_seconds": round(train_seconds, 1),
              "test": test, "test_posterior_mean_weights": metrics(mean_probs, y_test),
              "published": [{"model": m, "error_percent": e, "ece": c} for m, e, c in PUBLISHED], "history": history}
    tmp = output.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1))
    os.replace(tmp, output)
    plot_curves(history, Path(f"{stem}_curves.png"))
    save_reliability_diagram(f"{stem}_reliability.png", probs, y_test,
                             title=f"{args.model} Flipout, {len(history)} epochs, K={args.samples}")
    print(json.dumps({"test": test, "epochs": len(history), "train_seconds": round(train_seconds, 1)}))


if __name__ == "__main__":
    main()
