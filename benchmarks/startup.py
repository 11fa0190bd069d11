"""Start-up costs of tfpvae (issue 14, target f), each measured in fresh subprocesses, medians of runs.

- ``tfpvae --help`` wall time (target <= 0.5 s).
- What importing tfpvae adds over TensorFlow and TFP's distributions and bijectors (target <= 0.3 s):
  ``python -c "import tensorflow, tensorflow_probability.python.distributions,
  tensorflow_probability.python.bijectors"`` against the same plus ``from tfpvae import fit, ELBO,
  mlp_vae`` (what a training needs; ``import tfpvae`` alone is lazy), runs interleaved. The modules
  the second imports beyond the first are listed by ``python -X importtime`` self time.
- The first epoch of ``fit`` including tracing and compilation (target <= 2.5 s): the 784-200-200-50
  MLP VAE, ELBO, batch 100, ``tfpvae.data.ArrayData`` over the 50,000 binarized-MNIST training
  images; the time from the first ``next()`` of ``fit_epochs`` to its return, with ``jit_compile``
  ``"auto"`` (XLA for this model) and ``False``. The second epoch is timed too: epoch 1 minus epoch 2
  is what tracing (and XLA compilation) cost.
- Peak RSS of ``tfpvae train --dataset binarized_mnist --data-dir DIR --epochs 1 --output TMP``
  (``RUSAGE_CHILDREN`` of a wrapper process that runs only it; target <= 1.0 GB).

    python benchmarks/startup.py [--runs 7] [--epoch-runs 3] [--threads 2] [--output benchmarks/results/startup.json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _machine  # noqa: E402

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
BASE_IMPORT = "import tensorflow, tensorflow_probability.python.distributions, tensorflow_probability.python.bijectors"
TFPVAE_IMPORT = BASE_IMPORT + "; from tfpvae import fit, ELBO, mlp_vae"
TARGETS = {"help_seconds": 0.5, "import_added_seconds": 0.3, "first_epoch_seconds": 2.5, "cli_train_peak_rss_mb": 1000}

EPOCH_SCRIPT = """
import json, sys, time
import tensorflow as tf
threads = {threads}
if threads:
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
import keras
from tfpvae import ELBO, mlp_vae
from tfpvae.data import ArrayData, load_arrays
from tfpvae.training import fit_epochs
arrays = load_arrays("binarized_mnist", {data_dir!r})
data = ArrayData(arrays.train, batch_size=100, flatten=True)
keras.utils.set_random_seed(0)
run = fit_epochs(mlp_vae((784,), 50, (200, 200)), ELBO(), data, epochs=2, seed=0, jit_compile={jit!r})
c0, t0 = time.process_time(), time.perf_counter(); next(run)
c1, t1 = time.process_time(), time.perf_counter(); next(run)
c2, t2 = time.process_time(), time.perf_counter()
print(json.dumps({{"first_epoch": t1 - t0, "second_epoch": t2 - t1, "first_cpu": c1 - c0, "second_cpu": c2 - c1}}))
"""

RSS_WRAPPER = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE).returncode
print(json.dumps({"rc": rc, "seconds": time.perf_counter() - t,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}))
"""


def _env(threads: int) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if threads:
        env.update(OMP_NUM_THREADS=str(threads), TF_NUM_INTRAOP_THREADS=str(threads),
                   TF_NUM_INTEROP_THREADS=str(threads))
    return env


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _wall(cmd: list[str], env: dict) -> float:
    """Wall seconds of one run; its CPU seconds are appended to ``_wall.cpu``."""
    start, cpu = time.perf_counter(), _children_cpu()
    subprocess.run(cmd, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wall.cpu.append(_children_cpu() - cpu)
    return time.perf_counter() - start


_wall.cpu = []


def _json_line(cmd: list[str], env: dict) -> dict:
    out = subprocess.run(cmd, check=True, env=env, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def _summary(values: list[float]) -> dict:
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3),
            "max": round(max(values), 3), "runs": [round(v, 3) for v in values]}


def import_profile(env: dict, top: int = 12) -> dict:
    """Modules ``from tfpvae import fit, ELBO, mlp_vae`` loads beyond the base import, by
    ``-X importtime`` self time (microseconds), and their total."""
    def times(code):
        err = subprocess.run([PYTHON, "-X", "importtime", "-c", code], env=env, capture_output=True,
                             text=True, check=True).stderr
        rows = {}
        for line in err.splitlines():
            m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s?( *)(\S+)", line)
            if m:
                rows[m.group(4)] = int(m.group(1))
        return rows
    base, full = times(BASE_IMPORT), times(TFPVAE_IMPORT)
    extra = {name: us for name, us in full.items() if name not in base}
    tops = sorted(extra.items(), key=lambda kv: -kv[1])[:top]
    groups: dict[str, int] = {}
    for name, us in extra.items():
        groups[name.split(".")[0]] = groups.get(name.split(".")[0], 0) + us
    return {"extra_modules": len(extra), "extra_self_seconds": round(sum(extra.values()) / 1e6, 3),
            "by_top_package_seconds": {k: round(v / 1e6, 3) for k, v in sorted(groups.items(), key=lambda kv: -kv[1])
                                       if v >= 5000},
            "top_modules_seconds": {k: round(v / 1e6, 3) for k, v in tops}}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7, help="subprocess runs per import/--help measurement")
    p.add_argument("--epoch-runs", type=int, default=3, help="subprocess runs per first-epoch measurement")
    p.add_argument("--rss-runs", type=int, default=2, help="CLI trainings for the peak RSS")
    p.add_argument("--threads", type=int, default=2, help="TensorFlow threads in the children (0: TF's default)")
    p.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data"))
    p.add_argument("--output", default=str(HERE / "results" / "startup.json"))
    args = p.parse_args(argv)
    env = _env(args.threads)
    result = {"date": _machine.today(), "command": _machine.command(), "machine": _machine.machine(),
              "threads": args.threads, "targets": TARGETS}

    tfpvae_cli = str(Path(PYTHON).parent / "tfpvae")
    _wall([tfpvae_cli, "--help"], env)  # warm the file cache once
    _wall.cpu.clear()
    result["help_seconds"] = _summary([_wall([tfpvae_cli, "--help"], env) for _ in range(args.runs)])
    result["help_cpu_seconds"] = _summary(_wall.cpu)

    base, full, base_cpu, full_cpu = [], [], [], []
    _wall([PYTHON, "-c", TFPVAE_IMPORT], env)
    for _ in range(args.runs):  # interleaved, so machine noise hits both alike
        base.append(_wall([PYTHON, "-c", BASE_IMPORT], env))
        base_cpu.append(_wall.cpu[-1])
        full.append(_wall([PYTHON, "-c", TFPVAE_IMPORT], env))
        full_cpu.append(_wall.cpu[-1])
    result["import"] = {"base_command": BASE_IMPORT, "tfpvae_command": TFPVAE_IMPORT, "base_seconds": _summary(base),
                        "with_tfpvae_seconds": _summary(full),
                        "added_seconds": round(statistics.median(full) - statistics.median(base), 3),
                        "base_cpu_seconds": _summary(base_cpu), "with_tfpvae_cpu_seconds": _summary(full_cpu),
                        "added_cpu_seconds": round(statistics.median(full_cpu) - statistics.median(base_cpu), 3),
                        "profile": import_profile(env)}

    epochs: dict[str, list[dict]] = {"auto": [], "off": []}
    for _ in range(args.epoch_runs):
        for name, jit in (("auto", "auto"), ("off", False)):
            code = EPOCH_SCRIPT.format(threads=args.threads, data_dir=args.data_dir, jit=jit)
            epochs[name].append(_json_line([PYTHON, "-c", code], env))
    result["first_epoch"] = {}
    for name, runs in epochs.items():
        first, second = [r["first_epoch"] for r in runs], [r["second_epoch"] for r in runs]
        first_cpu, second_cpu = [r["first_cpu"] for r in runs], [r["second_cpu"] for r in runs]
        result["first_epoch"][f"jit_{name}"] = {
            "first_epoch_seconds": _summary(first), "second_epoch_seconds": _summary(second),
            "first_minus_second_seconds": round(statistics.median(f - s for f, s in zip(first, second)), 3),
            "first_epoch_cpu_seconds": _summary(first_cpu), "second_epoch_cpu_seconds": _summary(second_cpu),
            "first_minus_second_cpu_seconds": round(statistics.median(f - s for f, s in zip(first_cpu, second_cpu)), 3)}

    rss = []
    for _ in range(args.rss_runs):
        with tempfile.TemporaryDirectory() as out:
            cmd = [tfpvae_cli, "train", "--dataset", "binarized_mnist", "--data-dir", args.data_dir,
                   "--epochs", "1", "--output", str(Path(out) / "run")]
            rss.append(_json_line([PYTHON, "-c", RSS_WRAPPER, *cmd], env))
    result["cli_train"] = {"command": "tfpvae train --dataset binarized_mnist --data-dir DIR --epochs 1 --output TMP",
                           "returncodes": [r["rc"] for r in rss],
                           "peak_rss_mb": _summary([r["peak_rss_mb"] for r in rss]),
                           "seconds": _summary([r["seconds"] for r in rss])}
    result["load_average_after"] = [round(v, 2) for v in os.getloadavg()]
    _machine.write_result(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
