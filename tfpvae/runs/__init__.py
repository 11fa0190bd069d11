"""The application layer: a run's config (the single source of defaults), model builders, the run
directory and the train / sample / reconstruct / evaluate commands. ``tfpvae.cli`` only parses
arguments into a :class:`RunConfig` and calls these.

Importing this package does not import TensorFlow; the commands do, when called.
"""

from tfpvae.runs.config import (ARCHITECTURES, BINARIZE, CHOICES, DATASETS, FLOWS, KL_MODES, LIKELIHOODS, MODELS,
                                NONFINITE, OBJECTIVES, PRECISIONS, PRIORS, STRATEGIES, RunConfig, load_config)

__all__ = ["RunConfig", "load_config", "build_model", "build_objective", "train", "sample", "reconstruct", "evaluate",
           "plot", "load_run", "CHOICES", "MODELS", "DATASETS", "ARCHITECTURES", "LIKELIHOODS", "BINARIZE", "FLOWS",
           "OBJECTIVES",
           "PRIORS", "KL_MODES", "STRATEGIES", "PRECISIONS", "NONFINITE"]

_LAZY = {"build_model": "builders", "build_objective": "builders", "train": "commands", "sample": "commands",
         "reconstruct": "commands", "evaluate": "commands", "plot": "commands", "load_run": "commands"}


def __getattr__(name):  # the builders and commands import TensorFlow: load them on first use
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"tfpvae.runs.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'tfpvae.runs' has no attribute {name!r}")
