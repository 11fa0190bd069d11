"""UCI regression benchmark for Bayesian neural nets (Hernandez-Lobato & Adams 2015 protocol).

One hidden layer of 50 ReLU units (100 for protein) of ``DenseFlipout`` with a mean-field normal
posterior and N(0, 1) prior, a learned homoscedastic Normal likelihood, trained with
``BayesianELBO`` (NLL + KL/N) by ``tfpvae.fit``. Inputs and targets are standardised on the
training split; test RMSE and log-likelihood are reported in original units
(``loglik - log(y_std)``), the log-likelihood by log-mean-exp over ``--samples`` weight samples.

Tuning never sees the test split: on each split, 20% of the training rows are held out and the
number of epochs (every ``--eval-every`` up to ``--epochs``) with the best validation
log-likelihood is chosen; the model is then retrained on the full training split for that many
epochs and evaluated once on the test split.

    OMP_NUM_THREADS=1 python benchmarks/uci.py --datasets boston,concrete --splits 20 \
        --output benchmarks/results/uci_small.json

Writes JSON (per split and summary, command, machine, date) after every split and prints a
markdown table of mean +- standard error beside the published numbers.
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
from tfpvae.training import fit_epochs  # noqa: E402

HERE = Path(__file__).resolve().parent
DATA = HERE.parent.parent / "shared" / "data"
ORDER = ["boston", "concrete", "energy", "kin8nm", "naval", "power", "protein", "wine", "yacht"]
# Test log-likelihood, Gal & Ghahramani (2016) Table 1 (PBP, MC dropout, VI = Graves 2011), and
# Lakshminarayanan et al. (2017) Table 1 (Deep Ensembles, reported as NLL; negated here).
PUBLISHED_LL = {
    "PBP": [-2.57, -3.16, -2.04, 0.90, 3.73, -2.84, -2.97, -0.97, -1.63],
    "MC dropout": [-2.46, -3.04, -1.99, 0.95, 3.80, -2.80, -2.89, -0.93, -1.55],
    "VI (Graves)": [-2.90, -3.39, -2.39, 0.90, 3.73, -2.89, -2.99, -0.98, -3.43],
    "Deep Ensembles": [-2.41, -3.06, -1.38, 1.20, 5.63, -2.79, -2.83, -0.94, -1.18],
}


def build_model(hidden: int, seed: int, prior_scale: float, init_scale: float) -> keras.Model:
    posterior = L.MeanFieldNormal(init_scale=init_scale)
    prior = L.NormalPrior(0.0, prior_scale)
    return keras.Sequential([
        L.DenseFlipout(hidden, activation="relu", kernel_posterior=posterior, kernel_prior=prior, seed=seed),
        L.DenseFlipout(1, kernel_posterior=posterior, kernel_prior=prior, seed=seed + 1),
        D.LearnedScaleNormalHead(1, init_scale=0.5),
    ])


def test_metrics(model, x, y_std_units, y_stats, samples: int, seed: int) -> dict:
    """RMSE and mean log-likelihood in original units."""
    predictive = E.predictive_distribution(model, x, num_samples=samples, seed=seed)
    scale = float(y_stats.std[0])
    ll = E.predictive_log_likelihood(predictive, y_std_units).numpy() - np.log(scale)
    mean = y_stats.inverse(predictive.mean().numpy())
    return {"log_likelihood": E.mean_log_likelihood(ll), "rmse": E.rmse(y_stats.inverse(y_std_units), mean)}


def passes(x, y, batch_size: int, seed: int, chunk: int, num_passes: int) -> tf.data.Dataset:
    """``num_passes`` shuffled passes over ``(x, y)`` (pass ``p`` permuted by ``(seed, chunk * num_passes + p)``)
    as one dataset: one ``fit`` epoch then covers several passes, so the per-epoch overhead of the loop
    is paid once per ``num_passes`` passes over these small sets."""
    orders = [np.random.default_rng([seed, chunk * num_passes + p]).permutation(len(x)) for p in range(num_passes)]
    order = np.concatenate(orders)
    return tdata.make_tabular_dataset(x[order], y[order], batch_size, shuffle=False)


def train(split, passes_plan, args, seed, evaluate=None):
    """Train on ``split.x_train``; after each pass count in ``passes_plan`` call ``evaluate(model)``."""
    keras.utils.set_random_seed(seed)
    model = build_model(args.hidden or (100 if split.name.startswith("protein") else 50), seed * 7, args.prior_scale,
                        args.init_scale)
    n, chunk = len(split.x_train), args.passes_per_epoch
    data = lambda epoch: passes(split.x_train, split.y_train, args.batch_size, seed, epoch, chunk)  # noqa: E731
    objective = BayesianELBO(num_examples=n)
    run = fit_epochs(model, objective, data, epochs=max(passes_plan) // chunk,
                     optimizer=keras.optimizers.Adam(args.lr), seed=seed, jit_compile=args.jit)
    scores = {}
    for epoch in range(1, max(passes_plan) // chunk + 1):
        next(run)
        if evaluate is not None and epoch * chunk in passes_plan:
            scores[epoch * chunk] = evaluate(model)
    return model, scores


def run_split(name: str, k: int, args) -> dict:
    start = time.perf_counter()
    plan = list(range(args.eval_every, args.epochs + 1, args.eval_every))
    tune = tdata.load_uci(name, k, args.data_dir, validation_fraction=0.2, seed=k)
    def validation_ll(model):
        return test_metrics(model, tune.x_valid, tune.y_valid, tune.y_stats, 20, 0)["log_likelihood"]

    _, curve = train(tune, plan, args, seed=1000 + k, evaluate=validation_ll)
    best = max(curve, key=curve.get)
    split = tdata.load_uci(name, k, args.data_dir)
    model, _ = train(split, [best], args, seed=k)
    metrics = test_metrics(model, split.x_test, split.y_test, split.y_stats, args.samples, 1)
    return {"split": k, "epochs": best, "validation_curve": {str(e): round(v, 4) for e, v in curve.items()},
            "noise_scale": float(model.layers[-1].scale.numpy()[0] * split.y_scale), **metrics,
            "seconds": round(time.perf_counter() - start, 1)}


def summarise(runs: list[dict]) -> dict:
    out = {}
    for key in ("log_likelihood", "rmse", "seconds"):
        values = np.array([r[key] for r in runs])
        out[key] = {"mean": float(values.mean()), "se": float(values.std(ddof=1) / np.sqrt(len(values)))
                    if len(values) > 1 else float("nan")}
    out["splits"] = len(runs)
    return out


def table(results: dict) -> str:
    lines = ["| dataset | splits | test LL (ours) | " + " | ".join(PUBLISHED_LL) + " | RMSE (ours) | wall s/split |",
             "|---|---|---|" + "---|" * len(PUBLISHED_LL) + "---|---|"]
    for name in ORDER:
        if name not in results:
            continue
        s = results[name]["summary"]
        published = [f"{PUBLISHED_LL[m][ORDER.index(name)]:.2f}" for m in PUBLISHED_LL]
        ll = s["log_likelihood"]
        lines.append(f"| {name} | {s['splits']} | {ll['mean']:.2f} +- {ll['se']:.2f} | "
                     + " | ".join(published)
                     + f" | {s['rmse']['mean']:.2f} +- {s['rmse']['se']:.2f} | {s['seconds']['mean']:.0f} |")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", default="boston,concrete,energy,wine,yacht")
    p.add_argument("--splits", type=int, default=20, help="first K standard splits (protein has 5)")
    p.add_argument("--output", default=str(HERE / "results" / "uci.json"))
    p.add_argument("--data-dir", default=str(DATA))
    p.add_argument("--epochs", type=int, default=200,
                   help="largest number of passes (epochs) tried on the validation part")
    p.add_argument("--eval-every", type=int, default=20, help="passes between validation checks (a multiple of "
                   "--passes-per-epoch)")
    p.add_argument("--passes-per-epoch", type=int, default=10, help="passes over the data per fit epoch")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--hidden", type=int, default=None, help="hidden units (default 50; 100 for protein)")
    p.add_argument("--prior-scale", type=float, default=1.0)
    p.add_argument("--init-scale", type=float, default=1e-3)
    p.add_argument("--samples", type=int, default=100, help="weight samples for the test predictive")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--jit", action="store_true", help="compile the train step with XLA")
    args = p.parse_args(argv)
    if args.eval_every % args.passes_per_epoch or args.epochs % args.eval_every:
        p.error("--eval-every must be a multiple of --passes-per-epoch, and --epochs a multiple of --eval-every")
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    output = Path(args.output)
    results = json.loads(output.read_text())["datasets"] if output.exists() else {}
    meta = {"command": "python " + " ".join([sys.argv[0]] + (argv or sys.argv[1:])), "date": str(date.today()),
            "machine": f"{platform.machine()} {os.cpu_count()} cores (shared), threads={args.threads}",
            "tensorflow": tf.__version__, "keras": keras.__version__, "config": vars(args)}
    for name in args.datasets.split(","):
        n_splits = min(args.splits, tdata.uci_num_splits(name, args.data_dir))
        done = {r["split"]: r for r in results.get(name, {}).get("runs", [])}
        for k in range(n_splits):
            if k not in done:
                done[k] = run_split(name, k, args)
                shown = {x: done[k][x] for x in ("epochs", "log_likelihood", "rmse", "seconds")}
                print(f"{name} split {k}: {json.dumps(shown)}",
                      flush=True)
            runs = [done[i] for i in sorted(done)]
            results[name] = {"runs": runs, "summary": summarise(runs)}
            tmp = output.with_suffix(".tmp")
            tmp.write_text(json.dumps({"meta": meta, "datasets": results, "table": table(results)}, indent=1))
            os.replace(tmp, output)
    print(table(results))


if __name__ == "__main__":
    main()
