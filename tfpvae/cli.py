"""``tfpvae train | sample | reconstruct | plot | evaluate``: argument parsing only; the defaults live in
:class:`tfpvae.runs.RunConfig` and the work in :mod:`tfpvae.runs.commands`."""

from __future__ import annotations

import argparse
import dataclasses
import sys

__all__ = ["main"]


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(t) for t in text.replace(" ", "").split(",") if t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}") from None
    if not values or any(v <= 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected comma-separated positive integers, got {text!r}")
    return values


def _bounded(kind, strict: bool, what: str):
    """An argparse type: ``kind(text)`` that must be > 0 (``strict``) or >= 0, else a one-line error."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        if value is None or not (value > 0 if strict else value >= 0):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    return parse


def _positive(kind):
    return _bounded(kind, True, f"a positive {kind.__name__}")


def _non_negative(kind):
    return _bounded(kind, False, f"a {kind.__name__} >= 0")


_non_negative_float = _bounded(float, False, "a number >= 0")


def _defaults() -> dict:
    from tfpvae.runs.config import RunConfig

    return {f.name: f.default for f in dataclasses.fields(RunConfig)}


def _train_parser(sub) -> None:
    from tfpvae.runs.config import CHOICES

    d = _defaults()
    t = sub.add_parser("train", help="train a VAE or autoencoder; writes metrics.json, samples.png, "
                       "reconstructions.png, checkpoints/", formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    a = t.add_argument
    a("--model", choices=CHOICES["model"], default=d["model"], help="variational or deterministic autoencoder")
    a("--dataset", choices=CHOICES["dataset"], default=d["dataset"], help="dataset name")
    a("--data-dir", default=d["data_dir"], help="local folder laid out like shared/data (one subfolder per dataset; "
      "a folder that lacks the dataset is an error). Without it: binarized_mnist from the full copy shipped with "
      "tfpvae; other datasets from tensorflow-datasets, mnist last from a small labelled sample (with a warning)")
    a("--max-examples", type=_positive(int), default=d["max_examples"], metavar="N",
      help="keep the first N images of each split (training, validation, test): a quick run, or celeb_a with only "
      "N photos per split decoded by tensorflow-datasets; default all")
    a("--latent-dim", type=_positive(int), default=d["latent_dim"], help="size of z")
    a("--architecture", choices=CHOICES["architecture"], default=d["architecture"], help="encoder/decoder networks")
    a("--hidden", type=_ints, default=d["hidden"],
      help="hidden sizes (mlp, default 200,200) or conv filters (conv, default 32,64), comma-separated")
    a("--activation", choices=CHOICES["activation"], default=d["activation"],
      help="hidden activation of the MLPs")
    a("--likelihood", choices=CHOICES["likelihood"], default=d["likelihood"],
      help="decoder distribution; default logistic (discretized) for cifar10 and celeb_a, gaussian for frey_faces, "
      "else bernoulli")
    a("--binarize", choices=CHOICES["binarize"], default=d["binarize"],
      help="binarisation of grey-level data (default: dynamic with a Bernoulli decoder on grey-level data, else none)")
    a("--epochs", type=_positive(int), default=d["epochs"], help="total epochs (a resumed run continues to this)")
    a("--batch-size", type=_positive(int), default=d["batch_size"], help="examples per step (the global batch)")
    a("--learning-rate", type=_positive(float), default=d["learning_rate"], help="Adam learning rate")
    a("--beta", type=_non_negative_float, default=d["beta"], help="KL weight")
    a("--warmup-epochs", type=_non_negative(int), default=d["warmup_epochs"],
      help="linearly anneal beta from 0 over this many epochs")
    a("--objective", choices=CHOICES["objective"], default=d["objective"], help="training objective")
    a("--kl", choices=CHOICES["kl"], default=d["kl"], help="KL term of the ELBO (monte_carlo with flows)")
    a("--num-samples", type=_positive(int), default=d["num_samples"], help="z samples per example (IWAE: K)")
    a("--prior", choices=CHOICES["prior"], default=d["prior"],
      help="p(z): standard normal, a learnable mixture of Gaussians, or the VampPrior")
    a("--prior-components", type=_positive(int), default=d["prior_components"],
      help="mixture components (mog) or pseudo-inputs (vamp)")
    a("--flow", choices=CHOICES["flow"], default=d["flow"], help="posterior flow stack")
    a("--flow-steps", type=_positive(int), default=d["flow_steps"], help="flow steps")
    a("--flow-hidden", type=_ints, default=d["flow_hidden"], help="hidden units of each flow network")
    a("--context-dim", type=_non_negative(int), default=d["context_dim"],
      help="width of the encoder context h for iaf/gated_iaf (default 50 with those flows, else 0)")
    a("--patience", type=_non_negative(int), default=d["patience"],
      help="early-stopping patience in epochs on validation loss (0: off)")
    a("--jit", nargs="?", const="on", choices=CHOICES["jit"], default=d["jit"],
      help="compile the training loop with XLA: auto (default: dense VAEs and flows on one device, "
      "where XLA was measured faster), on (--jit alone) or off")
    a("--strategy", choices=CHOICES["strategy"], default=d["strategy"],
      help="tf.distribute strategy: default (one device), mirrored (all GPUs, or --cpu-replicas logical CPUs), "
      "multiworker (the cluster in TF_CONFIG)")
    a("--cpu-replicas", type=_non_negative(int), default=d["cpu_replicas"],
      help="split the CPU into this many logical devices for --strategy mirrored on a machine without GPUs")
    a("--precision", choices=CHOICES["precision"], default=d["precision"],
      help="network compute precision; heads, log-probabilities and the loss stay float32")
    a("--on-nonfinite", choices=CHOICES["on_nonfinite"], default=d["on_nonfinite"],
      help="a batch with a non-finite loss or gradient is never applied: stop the run, or skip the batch")
    a("--clip-norm", type=_positive(float), default=d["clip_norm"], help="clip gradients to this global norm")
    a("--gif", action="store_true", help="decode 16 fixed prior draws after every epoch (RUN/frames/) and "
      "assemble them into RUN/plots/gif.gif")
    a("--tensorboard", default=d["tensorboard"], metavar="DIR", help="log per-epoch scalars and samples to DIR")
    a("--seed", type=_non_negative(int), default=d["seed"], help="seed of weights, data order and noise")
    a("--output", default=d["output"], help="run directory (resumed if it holds a run with the same model)")
    a("--quiet", action="store_true", help="no progress bar")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tfpvae", description="Train and use VAEs built from TFP distributions.")
    sub = p.add_subparsers(dest="command", required=True)
    _train_parser(sub)
    for name, helptext in (("sample", "write OUT/samples.png from a saved run"),
                           ("reconstruct", "write OUT/reconstructions.png of test images from a saved run")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("run_dir", help="a directory written by tfpvae train")
        s.add_argument("--num", type=_positive(int), default=100 if name == "sample" else 20, help="images")
        s.add_argument("--seed", type=_non_negative(int), default=0)
        s.add_argument("--checkpoint", choices=("best", "latest"), default="best")
    pl = sub.add_parser("plot", help="write RUN/plots/KIND.png (or gif.gif) from a saved run")
    pl.add_argument("run_dir")
    pl.add_argument("--kind", required=True, choices=("samples", "reconstructions", "scatter", "manifold", "traversal",
                                                      "interpolation", "curves", "gif", "attributes"))
    pl.add_argument("--seed", type=_non_negative(int), default=0)
    pl.add_argument("--checkpoint", choices=("best", "latest"), default="best")
    e = sub.add_parser("evaluate", help="importance-sampled test log-likelihood of a saved run -> OUT/evaluation.json")
    e.add_argument("run_dir")
    e.add_argument("--num-samples", type=_positive(int), default=5000, help="importance samples K per example")
    e.add_argument("--chunk-size", type=_positive(int), default=100,
                   help="importance samples per pass (memory ~ chunk x 100 examples)")
    e.add_argument("--limit", type=_positive(int), default=None, help="evaluate only the first N test examples")
    e.add_argument("--seed", type=_non_negative(int), default=0)
    e.add_argument("--checkpoint", choices=("best", "latest"), default="best")
    return p


def config_from_args(args):
    """The :class:`~tfpvae.runs.RunConfig` of parsed ``train`` arguments (one field per flag)."""
    from tfpvae.runs.config import RunConfig

    names = {f.name for f in dataclasses.fields(RunConfig)} - {"event_shape"}
    return RunConfig(**{name: getattr(args, name) for name in names})


def _load_commands():
    """Import the commands (and TensorFlow) with the C++ runtime's start-up lines (CUDA probing,
    CPU feature notes: printed before absl logging is configured, so TF_CPP_MIN_LOG_LEVEL cannot
    hide them) kept off the console; they are shown if the import fails, or with TFPVAE_VERBOSE=1."""
    import importlib
    import os
    import tempfile

    if "tensorflow" in sys.modules or os.environ.get("TFPVAE_VERBOSE"):
        return importlib.import_module("tfpvae.runs.commands")
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            commands = importlib.import_module("tfpvae.runs.commands")
            import tensorflow as tf

            tf.config.list_physical_devices()  # device probing happens here, still captured
        except BaseException:
            os.dup2(saved, 2)
            captured.seek(0)
            sys.stderr.write(captured.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    return commands


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            config = config_from_args(args)  # refused combinations fail here, before TensorFlow loads
            _load_commands().train(config, quiet=args.quiet)
        elif args.command == "plot":
            _load_commands().plot(args.run_dir, args.kind, seed=args.seed, checkpoint=args.checkpoint)
        elif args.command in ("sample", "reconstruct"):
            getattr(_load_commands(), args.command)(args.run_dir, num=args.num, seed=args.seed,
                                                    checkpoint=args.checkpoint)
        else:
            evaluate = _load_commands().evaluate

            evaluate(args.run_dir, num_samples=args.num_samples, chunk_size=args.chunk_size, limit=args.limit,
                     seed=args.seed, checkpoint=args.checkpoint)
    except (ValueError, FileNotFoundError, FloatingPointError) as err:
        print(f"tfpvae {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"tfpvae {args.command}: interrupted; the last completed epoch is saved: run the same command to resume",
              file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
