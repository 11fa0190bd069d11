"""Time the K = 5000 importance-sampled test log-likelihood of the standard MLP VAE (issue 14, target e).

The 784-200-200-50 tanh VAE with a Bernoulli decoder (``tfpvae.mlp_vae((784,), 50, (200, 200))``),
``tfpvae.evaluation.evaluate_dataset`` over the 10,000 statically binarized MNIST test images, batches
of 100, K = 5000: 5e7 decoder passes (~2.1e13 FLOP). Target: <= 3 minutes and <= 2 GiB peak memory
on the project's 2-core CPU. A model at its random initialisation costs the same as a trained one;
``--train-epochs`` trains it first (ELBO, Adam 1e-3, batch 100) so that the estimate means something.
``--check-examples M`` re-estimates the first M images with and without XLA (the same draws: the two
must agree to float rounding). Writes JSON with the date, machine, command, load average, wall and
CPU seconds of the evaluation (CPU / 2 is about what an idle 2-core machine takes), and peak RSS of
the process and of the evaluation alone.

    python benchmarks/eval_speed.py [--threads 2] [--num-samples 5000] [--test-examples 10000] \
        [--jit auto|on|off] [--train-epochs 0] [--check-examples 0] [--output benchmarks/results/eval_speed.json]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import _machine  # noqa: E402

HERE = Path(__file__).resolve().parent
JIT = {"auto": "auto", "on": True, "off": False}


def _reset_peak_rss() -> bool:
    """Restart the kernel's peak-RSS count (VmHWM) of this process (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _vm_hwm_mb() -> float | None:
    try:
        line = next(s for s in Path("/proc/self/status").read_text().splitlines() if s.startswith("VmHWM"))
    except (OSError, StopIteration):
        return None
    return int(line.split()[1]) / 1024


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2, help="TensorFlow intra- and inter-op threads (0: TF's default)")
    p.add_argument("--num-samples", type=int, default=5000)
    p.add_argument("--test-examples", type=int, default=10000)
    p.add_argument("--chunk-size", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--jit", choices=sorted(JIT), default="auto")
    p.add_argument("--train-epochs", type=int, default=0, help="train the model this many epochs first")
    p.add_argument("--check-examples", type=int, default=0,
                   help="compare the estimates with and without XLA on this many test images")
    p.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data"))
    p.add_argument("--output", default=str(HERE / "results" / "eval_speed.json"))
    args = p.parse_args(argv)
    if args.threads:
        tf.config.threading.set_intra_op_parallelism_threads(args.threads)
        tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    import keras

    import tfpvae
    from tfpvae import data as tdata
    from tfpvae.evaluation import evaluate_dataset, log_likelihood

    load_before = [round(v, 2) for v in os.getloadavg()]
    arrays = tdata.load_arrays("binarized_mnist", args.data_dir)
    test_images = arrays.test[:args.test_examples]
    keras.utils.set_random_seed(0)
    model = tfpvae.mlp_vae((784,), 50, (200, 200))
    result = {"date": _machine.today(), "command": _machine.command(), "machine": _machine.machine(),
              "tensorflow": tf.__version__, "threads": args.threads, "model": "mlp_vae((784,), 50, (200, 200))",
              "K": args.num_samples, "N": int(len(test_images)), "chunk_size": args.chunk_size,
              "batch_size": args.batch_size, "jit_compile": JIT[args.jit], "train_epochs": args.train_epochs}
    if args.train_epochs:
        start = time.perf_counter()
        state = tfpvae.fit(model, tfpvae.ELBO(), tdata.ArrayData(arrays.train, batch_size=100, flatten=True),
                           epochs=args.train_epochs, seed=0)
        result["train_seconds"] = round(time.perf_counter() - start, 1)
        result["train_elbo_last_epoch"] = round(float(state.history[-1]["train"]["elbo"]), 3)
    test = tdata.make_dataset(test_images, batch_size=100, shuffle=False, flatten=True)
    reset = _reset_peak_rss()
    start, cpu = time.perf_counter(), time.process_time()
    ev = evaluate_dataset(model, test, num_samples=args.num_samples, chunk_size=args.chunk_size,
                          batch_size=args.batch_size, seed=0, jit_compile=JIT[args.jit])
    result["seconds"] = round(time.perf_counter() - start, 1)
    result["cpu_seconds"] = round(time.process_time() - cpu, 1)
    result["test_nll"], result["test_nll_stderr"] = round(ev["nll"], 4), round(ev["nll_stderr"], 4)
    if reset:  # the peak since the evaluation began (at least the RSS held then, e.g. after training)
        result["evaluation_peak_rss_mb"] = round(_vm_hwm_mb(), 1)
    if args.check_examples:
        x = test_images[:args.check_examples].reshape(args.check_examples, 784).astype(np.float32)
        on = log_likelihood(model, x, num_samples=args.num_samples, seed=1, jit_compile=True).numpy()
        off = log_likelihood(model, x, num_samples=args.num_samples, seed=1, jit_compile=False).numpy()
        result["xla_vs_tf"] = {"examples": args.check_examples, "max_abs_diff_nats": float(np.abs(on - off).max()),
                               "mean_diff_nats": float((on - off).mean()), "mean_log_likelihood": float(on.mean())}
    result["peak_rss_mb"] = round(_machine.peak_rss_mb(), 1)  # the whole process: imports, training, checks
    result["load_average_before"], result["load_average_after"] = load_before, [round(v, 2) for v in os.getloadavg()]
    result["targets"] = {"seconds": 180, "peak_rss_mb": 2048}
    _machine.write_result(args.output, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
