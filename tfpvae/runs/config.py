"""The one place for the defaults of a run: :class:`RunConfig`.

Every field of a training run lives here, with its default. ``tfpvae train`` takes its flags'
defaults from these fields (a test proves they agree), ``benchmarks/`` and tutorials build the same
models from the same config, and ``config.json`` in a run directory is ``RunConfig.to_dict()``.
Fields whose sensible default depends on others (the hidden sizes of a conv net, the likelihood of
CIFAR-10, the binarisation of grey-level MNIST, the context width of an IAF) are ``None`` until
:meth:`RunConfig.__post_init__` resolves them, so ``RunConfig(architecture="conv",
dataset="cifar10")`` builds exactly what ``tfpvae train --architecture conv --dataset cifar10`` does.
Combinations that cannot work together are refused with a message, never silently dropped.
"""

from __future__ import annotations

import dataclasses
import json
import numbers
from dataclasses import dataclass, field
from pathlib import Path

from tfpvae._validation import FLOAT32_MAX, FLOAT32_TINY  # rates and weights are float32

__all__ = ["RunConfig", "load_config", "MODELS", "DATASETS", "ARCHITECTURES", "LIKELIHOODS", "BINARIZE", "FLOWS",
           "OBJECTIVES", "PRIORS", "KL_MODES", "STRATEGIES", "PRECISIONS", "NONFINITE", "JIT", "ACTIVATIONS"]

MODELS = ("vae", "ae")
DATASETS = ("mnist", "binarized_mnist", "fashion_mnist", "cifar10", "frey_faces", "sprites", "celeb_a")
ARCHITECTURES = ("mlp", "conv")
LIKELIHOODS = ("bernoulli", "gaussian", "logistic", "continuous_bernoulli")
BINARIZE = ("static", "dynamic", "none")
FLOWS = ("none", "iaf", "gated_iaf", "maf", "realnvp", "spline")
OBJECTIVES = ("elbo", "iwae")
PRIORS = ("normal", "mog", "vamp")
KL_MODES = ("auto", "analytic", "monte_carlo")
STRATEGIES = ("default", "mirrored", "multiworker")  # tfpvae.training.distribute.STRATEGIES
PRECISIONS = ("float32", "mixed_float16", "mixed_bfloat16")  # tfpvae.training.precision.PRECISIONS
NONFINITE = ("stop", "skip")  # tfpvae.training.step.NONFINITE_POLICIES
JIT = ("auto", "on", "off")  # fit(jit_compile="auto" | True | False)
# Hidden activations of the MLPs: names keras.activations.get accepts.
ACTIVATIONS = ("tanh", "relu", "elu", "selu", "gelu", "silu", "swish", "softplus", "sigmoid", "leaky_relu", "relu6",
               "mish", "softsign", "linear")
_INT32_MAX = 2**31 - 1  # sizes and seeds become int32 tensors (shapes, stateless seeds)
_BINARY_DATASETS = ("binarized_mnist", "sprites")
_CONTEXT_FLOWS = ("iaf", "gated_iaf")

# Every choice field and its allowed values: the CLI's `choices=` come from here too.
CHOICES = {"model": MODELS, "dataset": DATASETS, "architecture": ARCHITECTURES, "likelihood": LIKELIHOODS,
           "binarize": BINARIZE, "flow": FLOWS, "objective": OBJECTIVES, "prior": PRIORS, "kl": KL_MODES,
           "strategy": STRATEGIES, "precision": PRECISIONS, "on_nonfinite": NONFINITE, "jit": JIT,
           "activation": ACTIVATIONS}


@dataclass
class RunConfig:
    """Everything that defines a training run (the CLI flags, one field each). ``None`` fields are
    resolved from the others at construction (see the module docstring)."""

    model: str = "vae"
    dataset: str = "binarized_mnist"
    data_dir: str | None = None
    max_examples: int | None = None  # the first N images of each split (celeb_a: tfds decodes only those)
    latent_dim: int = 50
    architecture: str = "mlp"
    hidden: tuple[int, ...] | None = None  # mlp: (200, 200); conv: (32, 64) filters
    activation: str = "tanh"
    likelihood: str | None = None  # logistic (discretized) for cifar10/celeb_a, gaussian for frey_faces, else bernoulli
    binarize: str | None = None  # dynamic for grey-level data with a Bernoulli likelihood, else none
    epochs: int = 10
    batch_size: int = 100
    learning_rate: float = 1e-3
    beta: float = 1.0
    warmup_epochs: int = 0
    objective: str = "elbo"
    num_samples: int = 1
    kl: str = "auto"
    prior: str = "normal"
    prior_components: int = 500
    flow: str = "none"
    flow_steps: int = 2
    flow_hidden: tuple[int, ...] = (256, 256)
    context_dim: int | None = None  # 50 for iaf/gated_iaf, else 0
    patience: int = 0
    jit: str = "auto"  # XLA: "auto" (dense VAEs and flows on one device), "on" or "off"
    strategy: str = "default"
    cpu_replicas: int = 0
    precision: str = "float32"
    on_nonfinite: str = "stop"
    clip_norm: float | None = None
    gif: bool = False
    tensorboard: str | None = None
    seed: int = 0
    output: str = "runs/vae"
    event_shape: tuple[int, ...] = field(default=())

    def __post_init__(self):
        self._resolve()
        self._check_values()
        self._check_combinations()

    def _resolve(self) -> None:
        if type(self.jit) is bool:  # config.json of tfpvae <= 0.3: a switch, default off
            self.jit = "on" if self.jit else "off"
        for name in ("hidden", "flow_hidden", "event_shape"):
            value = getattr(self, name)
            if not (value is None and name == "hidden") and not isinstance(value, (tuple, list)):
                raise ValueError(f"RunConfig: {name} must be a sequence of positive integers, got {value!r}")
        if self.hidden is None:
            self.hidden = (200, 200) if self.architecture == "mlp" else (32, 64)
        if self.likelihood is None:
            self.likelihood = {"cifar10": "logistic", "celeb_a": "logistic", "frey_faces": "gaussian"}.get(
                self.dataset, "bernoulli")
        if self.binarize is None:
            grey = self.dataset not in _BINARY_DATASETS
            self.binarize = "dynamic" if (self.likelihood == "bernoulli" and grey) else "none"
        if self.context_dim is None:
            self.context_dim = 50 if self.flow in _CONTEXT_FLOWS else 0
        self.hidden, self.flow_hidden = tuple(self.hidden), tuple(self.flow_hidden)
        self.event_shape = tuple(self.event_shape)

    def _check_values(self) -> None:
        self._check_types()
        for name, allowed in CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"RunConfig: {name} must be one of {allowed}, got {getattr(self, name)!r}")
        for name in ("latent_dim", "epochs", "batch_size", "num_samples", "flow_steps", "prior_components"):
            value = getattr(self, name)
            if not _is_int(value) or not (0 if name == "epochs" else 1) <= value <= _INT32_MAX:
                raise ValueError(f"RunConfig: {name} must be a positive integer up to 2**31 - 1, got {value!r}")
        for name in ("warmup_epochs", "patience", "context_dim", "cpu_replicas", "seed"):
            value = getattr(self, name)
            if not _is_int(value) or not 0 <= value <= _INT32_MAX:
                raise ValueError(f"RunConfig: {name} must be an integer from 0 to 2**31 - 1, got {value!r}")
        if self.max_examples is not None and (not _is_int(self.max_examples)
                                              or not 1 <= self.max_examples <= _INT32_MAX):
            raise ValueError(f"RunConfig: max_examples must be a positive integer up to 2**31 - 1 or None, got "
                             f"{self.max_examples!r}")
        sizes = (*(self.hidden or ()), *self.flow_hidden)
        if any(not _is_int(h) or not 1 <= h <= _INT32_MAX for h in sizes):
            raise ValueError(f"RunConfig: hidden sizes must be positive integers up to 2**31 - 1, got {self.hidden} / "
                             f"{self.flow_hidden}")
        for name in ("learning_rate", "clip_norm"):  # a float32 of 0 would silently never move the weights
            value = getattr(self, name)
            if value is not None and not (FLOAT32_TINY <= value <= FLOAT32_MAX):
                raise ValueError(f"RunConfig: {name} must be a positive number within float32's range "
                                 f"[1.2e-38, 3.4e38], got {value!r}")
        if not 0 <= self.beta <= FLOAT32_MAX:
            raise ValueError(f"RunConfig: beta must be a non-negative number up to 3.4e38 (float32), got {self.beta!r}")
        for name in ("data_dir", "output", "tensorboard"):
            value = getattr(self, name)
            if value is not None and not value.strip():
                raise ValueError(f"RunConfig: {name} must be a non-empty path, got {value!r}")

    def _check_types(self) -> None:
        """Types first, so that a comparison never raises a TypeError or passes by accident."""
        for name in ("learning_rate", "beta", "clip_norm"):
            value = getattr(self, name)
            if not (value is None and name == "clip_norm") and not _is_real(value):
                raise ValueError(f"RunConfig: {name} must be a number, got {value!r}")
        for name in ("model", "dataset", "architecture", "activation", "output", "likelihood", "binarize", "flow",
                     "objective", "prior", "kl", "strategy", "precision", "on_nonfinite", "jit"):
            if not isinstance(getattr(self, name), str):
                raise ValueError(f"RunConfig: {name} must be a string, got {getattr(self, name)!r}")
        for name in ("data_dir", "tensorboard"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise ValueError(f"RunConfig: {name} must be a path (string) or None, got {getattr(self, name)!r}")
        if type(self.gif) is not bool:
            raise ValueError(f"RunConfig: gif must be True or False, got {self.gif!r}")

    def _check_combinations(self) -> None:
        refuse = []
        if self.objective == "iwae":
            if self.beta != 1.0 or self.warmup_epochs:
                refuse.append("the IWAE objective has no KL weight: --beta and --warmup-epochs apply to elbo only")
            if self.kl != "auto":
                refuse.append("the IWAE objective has no KL term: --kl applies to elbo only")
        if self.kl == "analytic" and self.flow != "none":
            refuse.append("a flow posterior has no closed-form KL: use --kl monte_carlo or auto")
        if self.kl == "analytic" and self.prior != "normal":
            refuse.append(f"the {self.prior} prior has no closed-form KL: use --kl monte_carlo or auto")
        if self.model == "ae" and (self.flow != "none" or self.prior != "normal" or self.objective != "elbo"
                                   or self.beta != 1.0 or self.warmup_epochs or self.num_samples != 1):
            refuse.append("an autoencoder (--model ae) has no posterior, prior or KL: drop --flow/--prior/"
                          "--objective/--beta/--warmup-epochs/--num-samples")
        if self.likelihood == "logistic" and self.binarize != "none":
            refuse.append("the discretized logistic likelihood scores 8-bit data: use --binarize none")
        if self.cpu_replicas and self.strategy == "default":
            refuse.append("--cpu-replicas splits the CPU for --strategy mirrored (or multiworker)")
        if self.gif and self.model == "ae":
            refuse.append("--gif decodes fixed draws from the prior: an autoencoder (--model ae) has none")
        if self.architecture == "conv" and self.activation != "tanh":
            refuse.append("--activation sets the MLPs' hidden activation; the conv nets use ReLU")
        if self.strategy != "default" and self.jit == "on":
            refuse.append("--jit compiles a one-replica step: it does not combine with --strategy "
                          f"{self.strategy} (the guarded update needs a cross-replica condition)")
        if refuse:
            raise ValueError("RunConfig: " + "; ".join(refuse))

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> RunConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})

    def model_fields(self) -> dict:
        """The fields that determine the model's variables (a resumed run must match them)."""
        keys = ("model", "dataset", "latent_dim", "architecture", "hidden", "activation", "likelihood", "flow",
                "flow_steps", "flow_hidden", "context_dim", "prior", "prior_components", "event_shape", "seed")
        return {k: getattr(self, k) for k in keys}


def load_config(run_dir) -> RunConfig:
    """The :class:`RunConfig` in ``run_dir/config.json``, with a one-line error if there is none."""
    path = Path(run_dir) / "config.json"
    if not path.exists():
        raise FileNotFoundError(f"{run_dir} is not a tfpvae run directory (no config.json)")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path} is not valid JSON ({err}); the run directory is damaged") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path} holds {type(data).__name__}, not a JSON object; the run directory is damaged")
    if "model" not in data:  # written by tfpvae 0.1: no model field, and null meant "no binarisation"
        data = {**data, "model": "vae", "binarize": data.get("binarize") or "none"}
    try:
        return RunConfig.from_dict(data)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: {err}; the run directory is damaged") from None


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)
