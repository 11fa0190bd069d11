"""Flowless VAE vs the same VAE with a 2-step IAF posterior, side by side on statically binarized MNIST.

Same 784-200-200-50 tanh architecture, batch 100, Adam 1e-3, same epochs and seed; the IAF uses a
context h of width 50 from the encoder and MADEs with hidden units (256, 256) (the CLI defaults).
Each model trains in one ``fit`` call; the two fits take one epoch each in turn (``_interleave.py``),
so drift in the machine's speed hits both alike. Epoch 1 (tracing) is excluded from the timing.
Reports the test ELBO of each (a), the median seconds per epoch and the median of the per-epoch
time ratios (b).

    python benchmarks/flows.py [--epochs 10] [--data-dir ../shared/data] [--flow iaf]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfpvae import data as tdata  # noqa: E402
from tfpvae.runs import RunConfig, build_model, build_objective  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _interleave import interleaved_fits  # noqa: E402

HERE = Path(__file__).resolve().parent


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--flow", default="iaf")
    p.add_argument("--flow-steps", type=int, default=2)
    p.add_argument("--flow-hidden", type=int, nargs="+", default=[256, 256], help="MADE hidden units per step")
    p.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data"))
    p.add_argument("--jit", action="store_true", help="compile both models' train steps with XLA")
    p.add_argument("--output", default=str(HERE / "results" / "flows.json"))
    args = p.parse_args(argv)
    arrays = tdata.load_arrays("binarized_mnist", args.data_dir)
    base = RunConfig(event_shape=(784,), epochs=args.epochs, jit=args.jit)
    configs = {"vae": base, f"vae_{args.flow}{args.flow_steps}": dataclasses.replace(
        base, flow=args.flow, flow_steps=args.flow_steps, flow_hidden=tuple(args.flow_hidden), context_dim=50)}
    train = tdata.ArrayData(arrays.train, batch_size=100, seed=0, flatten=True)
    test = tdata.make_dataset(arrays.test, batch_size=1000, shuffle=False, flatten=True)
    states = interleaved_fits({
        name: dict(model=build_model(config), objective=build_objective(config, 500), train_data=train,
                   epochs=args.epochs, optimizer=keras.optimizers.Adam(1e-3), validation_data={"test": test},
                   seed=config.seed, jit_compile=args.jit) for name, config in configs.items()})
    runs = {name: {"config": configs[name], "history": states[name].history} for name in configs}
    for name, run in runs.items():
        for logs in run["history"]:
            print(f"{name} epoch {logs['epoch']}: {logs['seconds']:.1f}s test elbo {logs['test']['elbo']:.2f}",
                  file=sys.stderr)
    result = {"benchmark": "flowless VAE vs IAF posterior, binarized MNIST, 784-200-200-50 tanh, batch 100, Adam 1e-3",
              "date": date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} cores, CPU",
              "tensorflow": tf.__version__, "epochs": args.epochs, "xla": args.jit,
              "command": "python benchmarks/flows.py " + " ".join(argv or sys.argv[1:]),
              "note": "the two fits alternate epoch by epoch; medians exclude epoch 1 of each (tracing); "
                      "time_ratio_flow_to_vae is the median of the per-epoch ratios",
              "runs": {}}
    for name, run in runs.items():
        secs = [h["seconds"] for h in run["history"][1:]] or [run["history"][0]["seconds"]]
        result["runs"][name] = {"config": dataclasses.asdict(run["config"]),
                                "test_elbo": run["history"][-1]["test"]["elbo"],
                                "median_seconds_per_epoch": statistics.median(secs), "history": run["history"]}
    names = list(runs)
    paired = [f["seconds"] / v["seconds"] for v, f in zip(runs[names[0]]["history"][1:], runs[names[1]]["history"][1:])]
    result["epoch_time_ratios"] = paired
    result["time_ratio_flow_to_vae"] = statistics.median(paired) if paired else float("nan")
    result["elbo_gain_nats"] = result["runs"][names[1]]["test_elbo"] - result["runs"][names[0]]["test_elbo"]
    Path(args.output).write_text(json.dumps(result, indent=2, default=str) + "\n")
    print("| model | test ELBO | median s/epoch |\n|---|---|---|")
    for name in names:
        r = result["runs"][name]
        print(f"| {name} | {r['test_elbo']:.2f} | {r['median_seconds_per_epoch']:.2f} |")
    print(f"time ratio {result['time_ratio_flow_to_vae']:.2f}, ELBO gain {result['elbo_gain_nats']:.2f} nats")
    return 0


if __name__ == "__main__":
    sys.exit(main())
