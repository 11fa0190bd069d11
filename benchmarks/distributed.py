"""Issue 9 "must show": the same 3-epoch CLI run on one device and on 2 logical CPU replicas
(MirroredStrategy), and in mixed bfloat16; test ELBOs side by side.

    python benchmarks/distributed.py --data-dir ../shared/data --epochs 3 --output benchmarks/results/distributed.json

Each configuration runs as its own `tfpvae train` process (logical devices must be set before
TensorFlow starts), with the same seed, one after another.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUNS = {
    "one device": [],
    "mirrored, 2 logical CPUs": ["--strategy", "mirrored", "--cpu-replicas", "2"],
    "one device, mixed_bfloat16": ["--precision", "mixed_bfloat16"],
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--output", default="benchmarks/results/distributed.json")
    args = p.parse_args()
    results = {"machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count()},
               "date": time.strftime("%Y-%m-%d"), "epochs": args.epochs, "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for name, flags in RUNS.items():
            out = Path(tmp) / name.replace(" ", "_").replace(",", "")
            cmd = [sys.executable, "-m", "tfpvae.cli", "train", "--dataset", "binarized_mnist", "--data-dir",
                   args.data_dir, "--epochs", str(args.epochs), "--output", str(out), "--quiet", *flags]
            start = time.perf_counter()
            subprocess.run(cmd, check=True)
            wall = time.perf_counter() - start
            metrics = json.loads((out / "metrics.json").read_text())
            results["runs"][name] = {
                "command": "tfpvae train --dataset binarized_mnist --data-dir DATA --epochs "
                           f"{args.epochs} {' '.join(flags)}".strip(),
                "replicas": metrics["replicas"], "precision": metrics["precision"], "wall_seconds": wall,
                "test_elbo": [e["test"]["elbo"] for e in metrics["epochs"]],
                "examples_per_second": [e["examples_per_second"] for e in metrics["epochs"]]}
            print(f"{name}: test ELBO {results['runs'][name]['test_elbo'][-1]:.2f}, {wall:.1f} s", flush=True)
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    print("| run | replicas | test ELBO after each epoch | median train examples/s | wall s |")
    print("|---|---|---|---|---|")
    for name, r in results["runs"].items():
        eps = sorted(r["examples_per_second"])[len(r["examples_per_second"]) // 2]
        print(f"| {name} | {r['replicas']} | {', '.join(f'{v:.2f}' for v in r['test_elbo'])} | {eps:.0f} | "
              f"{r['wall_seconds']:.1f} |")


if __name__ == "__main__":
    main()
