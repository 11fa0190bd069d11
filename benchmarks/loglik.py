"""Train and evaluate standard models on statically binarized MNIST; table beside published numbers.

Models (784-200-200-50 tanh unless stated, batch 100, Adam 1e-3): the VAE (ELBO), the same with a
2-step conditional IAF posterior (MADE 256-256), the IWAE objective with k=5, and a larger variant
(784-500-500-50 with the same IAF; a K=5000 evaluation of all 10,000 test images costs ~4x the VAE's). Each is
trained with ``fit`` and its test NLL estimated by importance sampling with K samples
(``tfpvae.evaluation``). Writes ``benchmarks/results/loglik.json`` and prints a markdown table.
Further models by name: ``iaf_iwae5`` (the IAF model trained with IWAE k=5), ``iaf_mog`` and
``iaf_vamp`` (the IAF model with a 500-component mixture-of-Gaussians prior or VampPrior).

    python benchmarks/loglik.py [--epochs 10] [--num-samples 5000] [--test-examples 10000] \
        [--models vae,iaf,iwae5,large]

The one-hour attempts of issue 4 (a training time budget instead of an epoch count, the learning
rate decaying exponentially over the budget, validation every 5 epochs; benchmarks/README.md section 4):

    python benchmarks/loglik.py --models iaf_iwae5 --minutes 60 --epochs 100000 --lr-final 1e-5 --jit \
        --threads 1 --validation-freq 5 --train-on-validation --output benchmarks/results/loglik_1h_iwae5_60k.json

``--train-on-validation`` trains on all 60,000 training + validation images and evaluates the final
epoch; without it the model trains on 50,000 and the best validation epoch is evaluated. A
time-limited run validates only every ``--validation-freq`` epochs, so its last few epochs may go
unvalidated (and unselected).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfpvae import data as tdata  # noqa: E402
from tfpvae.evaluation import evaluate_dataset  # noqa: E402
from tfpvae.runs import RunConfig, build_model, build_objective  # noqa: E402
from tfpvae.training import Callback, Checkpoint, TimeLimit, fit, restore_model  # noqa: E402

HERE = Path(__file__).resolve().parent
BASE = RunConfig(event_shape=(784,))
MODELS = {
    "vae": BASE,
    "iaf": dataclasses.replace(BASE, flow="iaf", flow_steps=2, context_dim=50),
    "iwae5": dataclasses.replace(BASE, objective="iwae", num_samples=5),
    "large": dataclasses.replace(BASE, hidden=(500, 500), latent_dim=50, flow="iaf", flow_steps=2, context_dim=50),
    "iaf_vamp": dataclasses.replace(BASE, flow="iaf", flow_steps=2, context_dim=50, prior="vamp"),
    "iaf_mog": dataclasses.replace(BASE, flow="iaf", flow_steps=2, context_dim=50, prior="mog"),
    "iaf_iwae5": dataclasses.replace(BASE, flow="iaf", flow_steps=2, context_dim=50, objective="iwae", num_samples=5),
}
PUBLISHED = [
    ("Burda et al. 2015, VAE (k=1), 1 stochastic layer", 88.71, "3280 epochs (3^8 passes schedule)"),
    ("Burda et al. 2015, IWAE k=5", 87.63, "3280 epochs"),
    ("Burda et al. 2015, IWAE k=50", 87.10, "3280 epochs"),
    ("Rezende & Mohamed 2015, diagonal Gaussian", 89.9, "500k updates"),
    ("Rezende & Mohamed 2015, NF k=80", 85.1, "500k updates"),
    ("Pythae VAMP reproduction", 85.79, "many epochs on GPU"),
    ("Kingma et al. 2016, IAF + deep ResNet VAE", 79.88, "deep conv ResNet, GPU-days"),
]


class DecayOverBudget(Callback):
    """Learning rate ``lr0 * (lr_final / lr0) ** f`` set after each epoch, where ``f`` is the share of the
    time budget (or of the epochs) used so far."""

    def __init__(self, lr0, lr_final, time_limit=None):
        self.lr0, self.lr_final, self.time_limit = lr0, lr_final, time_limit

    def on_epoch_end(self, state, logs):
        logs["learning_rate"] = float(state.optimizer.learning_rate.numpy())  # the rate this epoch used
        f = self.time_limit.fraction() if self.time_limit else state.epoch / max(state.epochs, 1)
        state.optimizer.learning_rate.assign(self.lr0 * (self.lr_final / self.lr0) ** f)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--num-samples", type=int, default=5000)
    p.add_argument("--test-examples", type=int, default=10000)
    p.add_argument("--models", default="vae,iaf,iwae5")
    p.add_argument("--minutes", type=float, default=None,
                   help="train each model for this wall-time budget (then --epochs is only a cap)")
    p.add_argument("--lr-final", type=float, default=None,
                   help="decay the learning rate exponentially from 1e-3 to this over the budget (or the epochs)")
    p.add_argument("--jit", action="store_true", help="compile the train steps with XLA")
    p.add_argument("--validation-freq", type=int, default=1,
                   help="evaluate validation and test ELBO every this-many epochs (and after the last)")
    p.add_argument("--train-on-validation", action="store_true",
                   help="train on the 60,000 training + validation images and evaluate the final epoch "
                        "(no model selection), instead of training on 50,000 and keeping the best validation epoch")
    p.add_argument("--threads", type=int, default=0, help="TensorFlow threads, i.e. CPU cores used (0: all)")
    p.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data"))
    p.add_argument("--output", default=str(HERE / "results" / "loglik.json"))
    p.add_argument("--plot", metavar="JSON", help="only draw the training curves of an existing results file")
    args = p.parse_args(argv)
    if args.plot:
        print(plot_curves(args.plot))
        return 0
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    arrays = tdata.load_arrays("binarized_mnist", args.data_dir)
    train_images = np.concatenate([arrays.train, arrays.valid]) if args.train_on_validation else arrays.train
    train = tdata.ArrayData(train_images, batch_size=100, seed=0, flatten=True)
    valid = tdata.make_dataset(arrays.valid, batch_size=1000, shuffle=False, flatten=True)
    test = tdata.make_dataset(arrays.test[:args.test_examples], batch_size=100, shuffle=False, flatten=True)
    test_elbo = tdata.make_dataset(arrays.test, batch_size=1000, shuffle=False, flatten=True)
    results = {}
    for name in args.models.split(","):
        config = dataclasses.replace(MODELS[name], epochs=args.epochs, jit=args.jit)
        model = build_model(config)
        callbacks = []
        time_limit = TimeLimit(args.minutes * 60) if args.minutes else None
        if time_limit:
            callbacks.append(time_limit)
        if args.lr_final:
            callbacks.append(DecayOverBudget(1e-3, args.lr_final, time_limit))
        with tempfile.TemporaryDirectory() as ckpt_dir:  # best epoch on validation, evaluated below
            if not args.train_on_validation:
                # only the best weights matter here: no per-epoch 'latest' saves (a run of thousands of
                # short epochs would spend minutes rewriting them and the growing history.json)
                callbacks.append(Checkpoint(ckpt_dir, monitor="validation/loss", max_to_keep=1, every=10**9))
            eval_sets = {"test": test_elbo} if args.train_on_validation else {"validation": valid, "test": test_elbo}
            start = time.perf_counter()
            state = fit(model, build_objective(config, len(train_images) // 100), train, epochs=args.epochs,
                        optimizer=keras.optimizers.Adam(1e-3), validation_data=eval_sets,
                        seed=0, jit_compile=args.jit, callbacks=callbacks, validation_freq=args.validation_freq)
            train_seconds = time.perf_counter() - start
            if args.train_on_validation:
                best = state.history[-1]
            else:
                best = min((h for h in state.history if "validation" in h), key=lambda h: h["validation"]["loss"])
                restore_model(ckpt_dir, state.model)
        ev = evaluate_dataset(model, test, num_samples=args.num_samples, chunk_size=100, seed=0)
        results[name] = {"config": dataclasses.asdict(config), "epochs": len(state.history),
                         "best_epoch": best["epoch"],
                         "trained_on": ("train + validation (60,000), final epoch" if args.train_on_validation
                                        else "train (50,000), best validation epoch"),
                         "threads": args.threads or os.cpu_count(), "minutes_budget": args.minutes,
                         "lr_final": args.lr_final, "xla": args.jit,
                         "train_seconds": train_seconds, "eval_seconds": ev["seconds"], "test_nll": ev["nll"],
                         "test_nll_stderr": ev["nll_stderr"], "num_test_examples": ev["num_examples"],
                         "num_samples": args.num_samples,
                         "validation_freq": args.validation_freq, "curve": [_curve_point(h) for h in state.history]}
        print(f"{name}: NLL {ev['nll']:.2f} ± {ev['nll_stderr']:.2f} "
              f"(K={args.num_samples}, {ev['num_examples']} test), "
              f"best epoch {best['epoch']} of {len(state.history)}, train {train_seconds:.0f}s, "
              f"eval {ev['seconds']:.0f}s",
              file=sys.stderr, flush=True)
        out = {"benchmark": "test NLL on statically binarized MNIST (nats, lower is better)",
               "date": date.today().isoformat(),
               "machine": f"{platform.machine()}, {os.cpu_count()} cores, CPU", "tensorflow": tf.__version__,
               "command": "python benchmarks/loglik.py " + " ".join(argv or sys.argv[1:]), "ours": results,
               "published": [{"model": m, "nll": v, "compute": c} for m, v, c in PUBLISHED]}
        Path(args.output).write_text(json.dumps(out, indent=2) + "\n")  # after each model: a long run keeps its rows
    plot_curves(args.output)
    print("| model | test NLL (nats) | training | source |\n|---|---|---|---|")
    for name, r in results.items():
        print(f"| tfpvae {name} | {r['test_nll']:.2f} ± {r['test_nll_stderr']:.2f} (K={r['num_samples']}, "
              f"{r['num_test_examples']} test images) | {r['epochs']} epochs (best {r['best_epoch']}), "
              f"{r['train_seconds'] / 60:.1f} min, {r['threads']} CPU core(s) | this repo |")
    for m, v, c in PUBLISHED:
        print(f"| {m} | {v:.2f} | {c} | paper |")
    return 0


def _curve_point(logs: dict) -> dict:
    """An epoch's row of the curve: the logged ``elbo`` (for IWAE-trained models, the objective's K-sample
    importance-weighted ELBO, which IWAETerms also names ``elbo``); validation and test values are None on
    epochs that skipped them."""
    def bound(name):
        metrics = logs.get(name)
        return None if metrics is None else metrics["elbo"]

    return {"epoch": logs["epoch"], "seconds": logs["seconds"], "train_elbo": bound("train"),
            "validation_elbo": bound("validation"), "test_elbo": bound("test"),
            "learning_rate": logs.get("learning_rate", 1e-3)}


def plot_curves(results_json) -> str:
    """Train / validation / test ELBO (or IWAE bound) against training minutes, one panel per model,
    saved beside the JSON as ``<name>_curves.png``; returns the path."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = json.loads(Path(results_json).read_text())["ours"]
    fig, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.6), squeeze=False)
    for ax, (name, r) in zip(axes[0], results.items()):
        minutes = [sum(c["seconds"] for c in r["curve"][:i + 1]) / 60 for i in range(len(r["curve"]))]
        config = r.get("config", {})
        bound = (f"IWAE k={config['num_samples']} bound" if config.get("objective") == "iwae" else "ELBO")
        for key in ("train_elbo", "validation_elbo", "test_elbo"):
            points = [(m, c[key]) for m, c in zip(minutes, r["curve"]) if c.get(key) is not None]
            if points:
                ax.plot(*zip(*points), label=f"{key.split('_')[0]} {bound}", lw=1)
        ax.axhline(-r["test_nll"], color="k", ls="--", lw=1,
                   label=f"-test NLL (K={r['num_samples']}) = {-r['test_nll']:.2f}")
        values = [c["test_elbo"] for c in r["curve"] if c["test_elbo"] is not None]
        ax.set_ylim(max(values) - 15, -r["test_nll"] + 2)
        ax.set(title=f"{name}: {r['epochs']} epochs", xlabel="training minutes (epoch time only)", ylabel="nats")
        ax.legend(fontsize=7)
    path = str(Path(results_json).with_suffix("")) + "_curves.png"
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


if __name__ == "__main__":
    sys.exit(main())
