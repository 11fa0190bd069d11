"""Training throughput of tfpvae beside the loops users copy, measured side by side (issue 14, (a)-(d)).

Models and baselines (``benchmarks/baselines/``; every TensorFlow implementation reads the same tf.data
pipeline, every implementation logs its loss, and each is measured with and without XLA where it has the
option):

- (a) ``mlp``: the Burda et al. 784-200-200-50 tanh VAE, binarized MNIST, batch 100, Adam 1e-3, against
  the TF CVAE-tutorial loop, idiomatic TFP, and Keras ``fit`` with a custom ``train_step``; and, when
  ``torch`` is installed (``pip install -e .[benchmarks]``), a plain PyTorch loop over an in-memory
  tensor, eager and under ``torch.compile`` (``baselines/torch_loop.py``).
- (b) ``iaf``: the same VAE with a 2-step IAF posterior (MADE 256-256, context 50) against (a)'s model,
  both by tfpvae's defaults: the ratio of epoch times.
- (c) ``conv``: the CVAE tutorial's own model and settings (latent 2, batch 32, Adam 1e-4) against its loop,
  and a ceiling for any loop on TensorFlow's kernels: the model's forward and backward passes alone
  (:class:`GradientCeiling`), in float32 and mixed bfloat16.
  (tfpvae under XLA is not run: its multi-step loop ran this model ~25x slower per step than without, the
  reason ``jit_compile="auto"`` leaves convolutions uncompiled.)
- (d) ``bnn``: a 784-400-400-10 Flipout MLP on MNIST (batch 128, KL/N) against ``tfp.layers.DenseFlipout``
  in tf-keras.

tfpvae runs with its defaults (``fit`` on :class:`tfpvae.data.ArrayData`, ``jit_compile="auto"``),
plus variants that isolate each choice (no XLA; batches from tf.data). Implementations take turns
epoch by epoch (round-robin), so drift in the machine's speed hits all alike; each one's first epoch
(tracing, compilation) is reported apart and excluded from the medians. The fp32 and bf16 matmul
rates at (a)'s layer sizes give the machine's limit for (a) (2.54 MFLOP per training example).

    python benchmarks/throughput.py [--models mlp,iaf,conv,bnn] [--rounds 3] [--data-dir ../shared/data]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
try:  # PyTorch (optional) before TensorFlow: importing its compiler after TensorFlow crashed the process
    from baselines import torch_loop  # noqa: E402
except ImportError:
    torch_loop = None
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

import tfpvae  # noqa: E402
from tfpvae import data as tdata  # noqa: E402
from tfpvae.models import cvae_tutorial  # noqa: E402
from tfpvae.runs import RunConfig, build_model, build_objective  # noqa: E402

import _machine  # noqa: E402
from baselines import keras_fit, tf_tutorial, tfp_idiomatic  # noqa: E402

HERE = Path(__file__).resolve().parent
MLP_LAYERS = [(784, 200), (200, 200), (200, 100), (50, 200), (200, 200), (200, 784)]  # (in, out) of (a)'s matmuls
MLP_TRAIN_FLOP = 3 * 2 * sum(i * o for i, o in MLP_LAYERS)  # forward + two backward matmuls per layer: 2.54e6


class FitRunner:
    """``epoch() -> (seconds, loss)`` for one ``tfpvae.fit`` run, timed around the whole epoch."""

    def __init__(self, model, objective, data, *, optimizer, jit_compile="auto", precision=None):
        self.run = tfpvae.training.fit_epochs(model, objective, data, epochs=10**6, optimizer=optimizer,
                                              jit_compile=jit_compile, precision=precision)

    def epoch(self) -> tuple[float, float]:
        start = time.perf_counter()
        state = next(self.run)
        return time.perf_counter() - start, state.history[-1]["train"]["loss"]


class GradientCeiling:
    """An upper bound on any training loop of a model on TensorFlow's kernels: each epoch runs the
    forward and backward passes of ``objective`` for every step, on one fixed batch, inside one
    ``tf.function`` loop -- no batch gathering, no optimizer update, no guard, no metrics. The
    gradients are summed into the result, so none is pruned. A loop that also updates the weights
    and reads its data can only be slower: (c) asks for 2x the tutorial loop, which is possible only
    if this ceiling is above 2x it."""

    def __init__(self, model, objective, images, *, batch_size: int, precision: str | None = None):
        if precision:
            from tfpvae.training.precision import set_precision

            set_precision(model, precision)
        batch = next(iter(tdata.ArrayData(images, batch_size=batch_size).dataset(0)))  # what fit's step gets
        steps = -(-len(images) // batch_size)
        objective(model, batch, seed=[0, 0])  # builds the variables

        @tf.function
        def epoch():
            def body(i, total):
                with tf.GradientTape() as tape:
                    loss = tf.reduce_mean(objective(model, batch, seed=tf.stack([i, 1])).loss)
                grads = tape.gradient(loss, model.trainable_variables)
                return i + 1, total + loss + 0.0 * tf.add_n([tf.reduce_sum(g) for g in grads])
            return tf.while_loop(lambda i, _: i < steps, body, (tf.constant(0), tf.constant(0.0)))[1] / steps

        self._epoch = epoch

    def epoch(self) -> tuple[float, float]:
        start = time.perf_counter()
        loss = float(self._epoch())
        return time.perf_counter() - start, loss


def _vae_runner(images, config: RunConfig, *, lr: float, batch_size: int, arrays: bool = True, jit="auto",
                precision=None):
    keras.utils.set_random_seed(0)
    flatten = config.architecture == "mlp"
    data = (tdata.ArrayData(images, batch_size=batch_size, flatten=flatten) if arrays else
            (lambda e: tdata.make_dataset(images, batch_size=batch_size, epoch=e, flatten=flatten)))
    steps = -(-len(images) // batch_size)
    return FitRunner(build_model(config), build_objective(config, steps), data,
                     optimizer=keras.optimizers.Adam(lr), jit_compile=jit, precision=precision)


def mlp_runners(x):
    mlp = RunConfig(event_shape=(784,))
    return {
        "tfpvae": lambda: _vae_runner(x, mlp, lr=1e-3, batch_size=100),
        "tfpvae_no_xla": lambda: _vae_runner(x, mlp, lr=1e-3, batch_size=100, jit=False),
        "tfpvae_tf_data": lambda: _vae_runner(x, mlp, lr=1e-3, batch_size=100, arrays=False, jit=True),
        "tfpvae_bf16": lambda: _vae_runner(x, mlp, lr=1e-3, batch_size=100, precision="mixed_bfloat16"),
        "tf_tutorial_loop": lambda: tf_tutorial.mlp(x),
        "tf_tutorial_loop_xla": lambda: tf_tutorial.mlp(x, jit=True),
        "tfp_idiomatic": lambda: tfp_idiomatic.mlp(x),
        "tfp_idiomatic_xla": lambda: tfp_idiomatic.mlp(x, jit=True),
        "keras_fit": lambda: keras_fit.mlp(x),
        "keras_fit_xla": lambda: keras_fit.mlp(x, jit=True),
        **({} if torch_loop is None else {"pytorch": lambda: torch_loop.Runner(x),
                                          "pytorch_compile": lambda: torch_loop.Runner(x, compiled=True)}),
    }


def iaf_runners(x):
    return {"vae": lambda: _vae_runner(x, RunConfig(event_shape=(784,)), lr=1e-3, batch_size=100),
            "vae_iaf2": lambda: _vae_runner(x, RunConfig(event_shape=(784,), flow="iaf"), lr=1e-3, batch_size=100)}


def conv_runners(x):
    cvae = RunConfig(event_shape=(28, 28, 1), architecture="conv", latent_dim=2)
    return {"tfpvae": lambda: _conv_tfpvae(x, cvae), "tfpvae_no_xla": lambda: _conv_tfpvae(x, cvae, jit=False),
            "tfpvae_bf16": lambda: _conv_tfpvae(x, cvae, precision="mixed_bfloat16"),
            "tf_tutorial_loop": lambda: tf_tutorial.conv(x),
            "tf_tutorial_loop_xla": lambda: tf_tutorial.conv(x, jit=True),
            "ceiling_gradients_only": lambda: _conv_ceiling(x, cvae),
            "ceiling_gradients_only_bf16": lambda: _conv_ceiling(x, cvae, precision="mixed_bfloat16")}


def _conv_ceiling(x, config, precision=None):
    keras.utils.set_random_seed(0)
    return GradientCeiling(cvae_tutorial(latent_dim=2), build_objective(config, -(-len(x) // 32)), x, batch_size=32,
                           precision=precision)


def _conv_tfpvae(x, config, jit="auto", precision=None):
    keras.utils.set_random_seed(0)
    return FitRunner(cvae_tutorial(latent_dim=2), build_objective(config, -(-len(x) // 32)),
                     tdata.ArrayData(x, batch_size=32), optimizer=keras.optimizers.Adam(1e-4), jit_compile=jit,
                     precision=precision)


def bnn_runners(x, y):
    from baselines import tfp_layers

    return {"tfpvae": lambda: _bnn_tfpvae(x, y), "tfpvae_no_xla": lambda: _bnn_tfpvae(x, y, jit=False),
            "tfpvae_xla": lambda: _bnn_tfpvae(x, y, jit=True),
            "tfpvae_bf16": lambda: _bnn_tfpvae(x, y, precision="mixed_bfloat16"),
            "tfp_layers_tf_keras": lambda: tfp_layers.Runner(x, y)}


def _bnn_tfpvae(x, y, jit="auto", precision=None):
    from tfpvae import distributions as D
    from tfpvae import layers as L
    from tfpvae.objectives import BayesianELBO

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((784,)), L.DenseFlipout(400, activation="relu"),
                              L.DenseFlipout(400, activation="relu"), L.DenseFlipout(10), D.CategoricalHead(10)])
    data = tdata.ArrayData(x, labels=y, batch_size=128, flatten=True)
    return FitRunner(model, BayesianELBO(num_examples=len(x)), data, optimizer=keras.optimizers.Adam(1e-3),
                     jit_compile=jit, precision=precision)


def matmul_rates(layers, batch: int = 100, repeats: int = 100) -> dict:
    """GFLOP/s of (a)'s training matmuls (forward, and both backward products) at batch ``batch``, in
    fp32 and bf16: ``repeats`` passes over the layers in one ``tf.function`` (TensorFlow's oneDNN
    kernels, as a training step uses them), each product summed so none is pruned; median of 9."""
    out = {}
    for dtype in (tf.float32, tf.bfloat16):
        weights = [tf.cast(tf.random.normal([i, o]) * 0.05, dtype) for i, o in layers]
        acts = [tf.cast(tf.random.normal([batch, i]), dtype) for i, _ in layers]
        grads = [tf.cast(tf.random.normal([batch, o]), dtype) for _, o in layers]

        @tf.function
        def chain(acts, grads, weights):
            total = tf.zeros([], tf.float32)
            for _ in tf.range(repeats):
                for a, g, w in zip(acts, grads, weights):
                    products = (tf.matmul(a, w), tf.matmul(g, w, transpose_b=True), tf.matmul(a, g, transpose_a=True))
                    total += tf.add_n([tf.cast(tf.reduce_sum(p), tf.float32) for p in products])
            return total

        chain(acts, grads, weights).numpy()
        times = []
        for _ in range(9):
            start = time.perf_counter()
            chain(acts, grads, weights).numpy()
            times.append(time.perf_counter() - start)
        flop = repeats * batch * 3 * 2 * sum(i * o for i, o in layers)
        out[dtype.name] = flop / statistics.median(times) / 1e9
    return out


def machine() -> dict:
    return {**_machine.machine(), "flags": _machine.cpu_flags(),
            "gpus": [d.name for d in tf.config.list_physical_devices("GPU")]}


def measure(runners: dict, rounds: int) -> dict:
    """Build every runner, time its first epoch, then ``rounds`` epochs each in turn."""
    built, results = {}, {}
    for name, make in runners.items():
        start = time.perf_counter()
        built[name] = make()
        seconds, loss = built[name].epoch()
        results[name] = {"first_epoch_seconds_with_build": time.perf_counter() - start, "seconds": [], "loss": [loss]}
        print(f"  {name}: first epoch {results[name]['first_epoch_seconds_with_build']:.1f} s", file=sys.stderr)
    for r in range(rounds):
        for name, runner in built.items():
            seconds, loss = runner.epoch()
            results[name]["seconds"].append(seconds)
            results[name]["loss"].append(loss)
        print(f"  round {r + 1}: " + ", ".join(f"{k} {v['seconds'][-1]:.2f}s" for k, v in results.items()),
              file=sys.stderr)
    for v in results.values():
        v["median_seconds"] = statistics.median(v["seconds"])
    return results


def _examples_per_second(results: dict, n: int) -> dict:
    for v in results.values():
        v["examples_per_second"] = n / v["median_seconds"]
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=str(HERE.parent.parent / "shared" / "data"))
    parser.add_argument("--models", default="mlp,iaf,conv,bnn")
    parser.add_argument("--rounds", type=int, default=3, help="timed epochs per implementation")
    parser.add_argument("--examples", type=int, default=60000, help="training images per epoch of mlp, iaf, bnn")
    parser.add_argument("--conv-examples", type=int, default=12000, help="training images per conv epoch")
    parser.add_argument("--output", default=str(HERE / "results" / "throughput.json"))
    args = parser.parse_args(argv)
    models = args.models.split(",")
    arrays = tdata.load_arrays("binarized_mnist", args.data_dir)
    train = arrays.train[:args.examples]
    result = {"benchmark": "training throughput, side by side (issue 14 (a)-(d))", "date": date.today().isoformat(),
              "machine": machine(), "tensorflow": tf.__version__, "keras": keras.__version__,
              "data_source": arrays.source, "rounds": args.rounds,
              "command": "python benchmarks/throughput.py " + " ".join(argv if argv is not None else sys.argv[1:])}
    rates = matmul_rates(MLP_LAYERS)
    result["matmul_gflops_at_mlp_sizes"] = rates
    print(f"matmul at (a)'s sizes: {rates}", file=sys.stderr)
    if "mlp" in models:
        print("(a) mlp", file=sys.stderr)
        a = _examples_per_second(measure(mlp_runners(train), args.rounds), len(train))
        tf_best = max((k for k in a if not k.startswith(("tfpvae", "pytorch"))),
                      key=lambda k: a[k]["examples_per_second"])
        limit = {k: v * 1e9 / MLP_TRAIN_FLOP for k, v in rates.items()}
        best = a[tf_best]["examples_per_second"]
        result["mlp"] = {"runs": a, "fastest_tf_baseline": tf_best,
                         "ratio_to_fastest_tf_baseline": {k: v["examples_per_second"] / best for k, v in a.items()},
                         "matmul_limit_examples_per_second": limit,
                         "fraction_of_fp32_matmul_limit": {k: v["examples_per_second"] / limit["float32"]
                                                           for k, v in a.items()}}
        if torch_loop is None:
            result["mlp"]["pytorch"] = "not installed (pip install -e .[benchmarks]): not measured"
        else:
            import torch

            plain = a["pytorch"]["examples_per_second"]
            result["mlp"]["pytorch"] = {"version": torch.__version__, "threads": torch.get_num_threads()}
            result["mlp"]["ratio_to_plain_pytorch"] = {k: v["examples_per_second"] / plain for k, v in a.items()}
    if "iaf" in models:
        print("(b) iaf", file=sys.stderr)
        b = measure(iaf_runners(train), args.rounds)
        ratios = [f / p for f, p in zip(b["vae_iaf2"]["seconds"], b["vae"]["seconds"])]
        result["iaf"] = {"runs": b, "epoch_time_ratio_iaf2_to_vae": statistics.median(ratios)}
    if "conv" in models:
        print("(c) conv", file=sys.stderr)
        x = arrays.train[:args.conv_examples].reshape(-1, 28, 28, 1)
        c = _examples_per_second(measure(conv_runners(x), args.rounds), len(x))
        base = c["tf_tutorial_loop"]["examples_per_second"]
        result["conv"] = {"runs": c, "examples": len(x),
                          "ratio_to_tf_tutorial_loop": {k: v["examples_per_second"] / base for k, v in c.items()}}
    if "bnn" in models:
        print("(d) bnn", file=sys.stderr)
        mnist = tdata.load_arrays("mnist", args.data_dir)
        x, y = mnist.train[:args.examples].reshape(-1, 784), mnist.train_labels[:args.examples].astype("int64")
        d = _examples_per_second(measure(bnn_runners(x, y), args.rounds), len(x))
        base = d["tfp_layers_tf_keras"]["examples_per_second"]
        result["bnn"] = {"runs": d, "ratio_to_tfp_layers": {k: v["examples_per_second"] / base for k, v in d.items()}}
    output = Path(args.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=1) + "\n")
    print(table(result))
    return 0


def table(result: dict) -> str:
    lines = ["| model | implementation | median examples/s | ratio | first epoch (s) | loss, last epoch |",
             "|---|---|---|---|---|---|"]
    for key, ratio_key in (("mlp", "ratio_to_fastest_tf_baseline"), ("conv", "ratio_to_tf_tutorial_loop"),
                           ("bnn", "ratio_to_tfp_layers")):
        if key in result:
            for name, run in result[key]["runs"].items():
                lines.append(f"| {key} | {name} | {run['examples_per_second']:.0f} | "
                             f"{result[key][ratio_key][name]:.2f} | {run['first_epoch_seconds_with_build']:.1f} | "
                             f"{run['loss'][-1]:.2f} |")
    if "iaf" in result:
        ratio = result["iaf"]["epoch_time_ratio_iaf2_to_vae"]
        lines.append(f"| iaf | epoch time IAF-2 / flowless | | {ratio:.2f} | | |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
