"""``tfpvae train | sample | reconstruct | evaluate``: the command line over the library."""

from __future__ import annotations

import argparse
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


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {text!r}")
        return value
    return parse


def _non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    from tfpvae.runs import ARCHITECTURES, FLOWS, LIKELIHOODS, OBJECTIVES, PRIORS

    p = argparse.ArgumentParser(prog="tfpvae", description="Train and use VAEs built from TFP distributions.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train a VAE; writes metrics.json, samples.png, reconstructions.png, checkpoints/",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    t.add_argument("--dataset", default="binarized_mnist", choices=("mnist", "binarized_mnist", "fashion_mnist", "cifar10"),
                   help="dataset name")
    t.add_argument("--data-dir", default=None, help="local folder laid out like shared/data (one subfolder per dataset); "
                   "without it, tensorflow-datasets, then the embedded MNIST sample")
    t.add_argument("--latent-dim", type=_positive(int), default=50, help="size of z")
    t.add_argument("--architecture", choices=ARCHITECTURES, default="mlp", help="encoder/decoder networks")
    t.add_argument("--hidden", type=_ints, default=None,
                   help="hidden sizes (mlp, default 200,200) or conv filters (conv, default 32,64), comma-separated")
    t.add_argument("--activation", default="tanh", help="hidden activation of the MLPs (Keras name)")
    t.add_argument("--likelihood", choices=LIKELIHOODS, default=None,
                   help="decoder distribution; default bernoulli for binary data, logistic (discretized) for cifar10")
    t.add_argument("--binarize", choices=("static", "dynamic", "none"), default=None,
                   help="binarisation of grey-level data (default: dynamic for mnist/fashion_mnist with a Bernoulli decoder)")
    t.add_argument("--epochs", type=_positive(int), default=10, help="total epochs (a resumed run continues to this)")
    t.add_argument("--batch-size", type=_positive(int), default=100, help="examples per step")
    t.add_argument("--learning-rate", type=_positive(float), default=1e-3, help="Adam learning rate")
    t.add_argument("--beta", type=_non_negative_float, default=1.0, help="KL weight")
    t.add_argument("--warmup-epochs", type=int, default=0, help="linearly anneal beta from 0 over this many epochs")
    t.add_argument("--objective", choices=OBJECTIVES, default="elbo", help="training objective")
    t.add_argument("--num-samples", type=_positive(int), default=1, help="z samples per example (IWAE: K)")
    t.add_argument("--prior", choices=PRIORS, default="normal",
                   help="p(z): standard normal, a learnable mixture of Gaussians, or the VampPrior")
    t.add_argument("--prior-components", type=_positive(int), default=500,
                   help="mixture components (mog) or pseudo-inputs (vamp)")
    t.add_argument("--flow", choices=FLOWS, default="none", help="posterior flow stack")
    t.add_argument("--flow-steps", type=_positive(int), default=2, help="flow steps")
    t.add_argument("--flow-hidden", type=_ints, default=(256, 256), help="hidden units of each flow network")
    t.add_argument("--context-dim", type=int, default=None,
                   help="width of the encoder context h for iaf/gated_iaf (default 50 with those flows, else 0)")
    t.add_argument("--patience", type=int, default=0, help="early-stopping patience in epochs on validation loss (0: off)")
    t.add_argument("--jit", action="store_true", help="compile the train step with XLA")
    t.add_argument("--seed", type=int, default=0, help="seed of weights, data order and noise")
    t.add_argument("--output", default="runs/vae", help="run directory (resumed if it holds a run with the same model)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    for name, helptext in (("sample", "write OUT/samples.png from a saved run"),
                           ("reconstruct", "write OUT/reconstructions.png of test images from a saved run")):
        s = sub.add_parser(name, help=helptext)
        s.add_argument("run_dir", help="a directory written by tfpvae train")
        s.add_argument("--num", type=_positive(int), default=100 if name == "sample" else 20, help="images")
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--checkpoint", choices=("best", "latest"), default="best")
    e = sub.add_parser("evaluate", help="importance-sampled test log-likelihood of a saved run -> OUT/evaluation.json")
    e.add_argument("run_dir")
    e.add_argument("--num-samples", type=_positive(int), default=5000, help="importance samples K per example")
    e.add_argument("--chunk-size", type=_positive(int), default=100, help="importance samples per pass (memory ~ chunk x 100 examples)")
    e.add_argument("--limit", type=int, default=None, help="evaluate only the first N test examples")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--checkpoint", choices=("best", "latest"), default="best")
    return p


def _config_from_args(args):
    from tfpvae.runs import RunConfig

    flowing = args.flow in ("iaf", "gated_iaf")
    binary = args.dataset == "binarized_mnist"
    likelihood = args.likelihood or ("logistic" if args.dataset == "cifar10" else "bernoulli")
    binarize = args.binarize
    if binarize is None:
        binarize = "dynamic" if (likelihood == "bernoulli" and not binary) else "none"
    return RunConfig(
        dataset=args.dataset, data_dir=args.data_dir, latent_dim=args.latent_dim, architecture=args.architecture,
        hidden=args.hidden or ((200, 200) if args.architecture == "mlp" else (32, 64)), activation=args.activation,
        likelihood=likelihood, binarize=None if binarize == "none" else binarize, epochs=args.epochs,
        batch_size=args.batch_size, learning_rate=args.learning_rate, beta=args.beta, warmup_epochs=args.warmup_epochs,
        objective=args.objective, num_samples=args.num_samples, prior=args.prior,
        prior_components=args.prior_components, flow=args.flow, flow_steps=args.flow_steps,
        flow_hidden=args.flow_hidden, context_dim=args.context_dim if args.context_dim is not None else (50 if flowing else 0),
        patience=args.patience, jit=args.jit, seed=args.seed, output=args.output)


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "train":
            from tfpvae.app import train

            train(_config_from_args(args), quiet=args.quiet)
        elif args.command in ("sample", "reconstruct"):
            from tfpvae import app

            getattr(app, args.command)(args.run_dir, num=args.num, seed=args.seed, checkpoint=args.checkpoint)
        else:
            from tfpvae.app import evaluate

            evaluate(args.run_dir, num_samples=args.num_samples, chunk_size=args.chunk_size, limit=args.limit,
                     seed=args.seed, checkpoint=args.checkpoint)
    except (ValueError, FileNotFoundError, FloatingPointError) as err:
        print(f"tfpvae {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
