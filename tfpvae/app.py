"""Run-directory operations behind the CLI: train, sample, reconstruct, evaluate.

A run directory holds ``config.json``, ``metrics.json``, ``checkpoints/`` (``latest/`` for resume,
``best/`` by validation loss), ``samples.png`` and ``reconstructions.png``.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfpvae import data as tdata
from tfpvae.plotting import save_image_grid, save_reconstructions
from tfpvae.objectives import ELBO
from tfpvae.runs import RunConfig, build_model, build_objective, load_config
from tfpvae.training import Checkpoint, EarlyStopping, JSONLogger, ProgressBar, fit, restore_model
from tfpvae.training.io import atomic_write_json

__all__ = ["train", "sample", "reconstruct", "evaluate", "load_run"]


def _splits(config: RunConfig, arrays):
    """(train, validation, test) image arrays: the dataset's own validation split, else the last
    10% of the training images held out (checkpoints are selected on validation, never on test)."""
    if arrays.valid is not None:
        return arrays.train, arrays.valid, arrays.test
    n_valid = max(1, len(arrays.train) // 10)
    return arrays.train[:-n_valid], arrays.train[-n_valid:], arrays.test


def _pipeline(config: RunConfig, images, *, shuffle: bool, epoch: int = 0, batch_size: int | None = None):
    return tdata.make_dataset(images, batch_size=batch_size or config.batch_size, shuffle=shuffle, seed=config.seed,
                              epoch=epoch, binarize=config.binarize, flatten=config.architecture == "mlp")


def _event_shape(config: RunConfig, arrays) -> tuple[int, ...]:
    shape = tuple(int(d) for d in arrays.train.shape[1:])
    return (int(np.prod(shape)),) if config.architecture == "mlp" else shape


def _check_resumable(out: Path, config: RunConfig) -> None:
    if not (out / "config.json").exists():
        return
    old = load_config(out)
    if old.model_fields() != config.model_fields():
        changed = sorted(k for k, v in config.model_fields().items() if old.model_fields().get(k) != v)
        raise ValueError(f"{out} holds a run with a different model ({', '.join(changed)} differ); "
                         "choose another --output or delete that directory")


def train(config: RunConfig, quiet: bool = False) -> dict:
    """Train (or resume) the run ``config`` describes; returns the metrics dict written to metrics.json."""
    out = Path(config.output)
    arrays = tdata.load_arrays(config.dataset, config.data_dir)
    config = dataclasses.replace(config, event_shape=_event_shape(config, arrays))
    _check_resumable(out, config)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", config.to_dict())
    train_x, valid_x, test_x = _splits(config, arrays)
    train_images = tf.convert_to_tensor(train_x)  # converted once: make_dataset runs every epoch
    print(f"tfpvae: {config.dataset} from {arrays.source}: {len(train_x)} train / {len(valid_x)} validation / "
          f"{len(test_x)} test", file=sys.stderr)
    model = build_model(config)
    steps = -(-len(train_x) // config.batch_size)
    objective = build_objective(config, steps)
    callbacks = [Checkpoint(out / "checkpoints", monitor="validation/loss")]
    if config.patience:
        callbacks.append(EarlyStopping("validation/loss", patience=config.patience))
    record = {"config": config.to_dict(), "data_source": arrays.source, "objective": objective.config,
              "num_train": len(train_x), "num_validation": len(valid_x), "num_test": len(test_x)}
    callbacks.append(JSONLogger(out / "metrics.json", record))
    if not quiet:
        callbacks.append(ProgressBar())
    start = time.perf_counter()
    state = fit(model, objective, lambda epoch: _pipeline(config, train_images, shuffle=True, epoch=epoch),
                epochs=config.epochs, optimizer=keras.optimizers.Adam(config.learning_rate),
                validation_data={"validation": _pipeline(config, valid_x, shuffle=False, batch_size=1000),
                                 "test": _pipeline(config, test_x, shuffle=False, batch_size=1000)},
                callbacks=callbacks, seed=config.seed, jit_compile=config.jit)
    metrics = {**record, "epochs": state.history, "final": state.history[-1] if state.history else None,
               "resumed_from_epoch": callbacks[0].restored_epoch, "wall_seconds_this_invocation": time.perf_counter() - start}
    atomic_write_json(out / "metrics.json", metrics)
    _pictures(out, config, model, test_x, seed=config.seed)
    return metrics


def load_run(run_dir, checkpoint: str = "best"):
    """(config, model with restored weights, data arrays) of a saved run."""
    config = load_config(run_dir)
    model = build_model(config)
    restore_model(Path(run_dir) / "checkpoints", model, which=checkpoint)
    return config, model


def _test_batch(config: RunConfig, num: int) -> tf.Tensor:
    arrays = tdata.load_arrays(config.dataset, config.data_dir)
    return next(iter(_pipeline(config, arrays.test[:num], shuffle=False, batch_size=num)))


def _pictures(out: Path, config: RunConfig, model, test_x, seed: int, num_samples: int = 100, num_recon: int = 20):
    image_shape = tuple(test_x.shape[1:])
    means = model.sample(num_samples, seed=[seed, 7]).mean()
    save_image_grid(out / "samples.png", _to_unit(means), ncols=10, image_shape=image_shape,
                    title=f"{config.dataset}: decoder means for z ~ p(z)")
    x = next(iter(_pipeline(config, test_x[:num_recon], shuffle=False, batch_size=num_recon)))
    recon = model.reconstruct(x, seed=[seed, 8]).mean()
    save_reconstructions(out / "reconstructions.png", _to_unit(x), _to_unit(recon), image_shape)


def _to_unit(x) -> np.ndarray:
    return np.clip(np.asarray(x, np.float32), 0.0, 1.0)


def sample(run_dir, num: int = 100, seed: int = 0, checkpoint: str = "best") -> Path:
    config, model = load_run(run_dir, checkpoint)
    path = Path(run_dir) / "samples.png"
    means = model.sample(num, seed=[seed, 7]).mean()
    save_image_grid(path, _to_unit(means), ncols=10, image_shape=_image_shape(config),
                    title=f"{config.dataset}: decoder means for z ~ p(z)")
    print(f"tfpvae: wrote {path}", file=sys.stderr)
    return path


def reconstruct(run_dir, num: int = 20, seed: int = 0, checkpoint: str = "best") -> Path:
    config, model = load_run(run_dir, checkpoint)
    path = Path(run_dir) / "reconstructions.png"
    x = _test_batch(config, num)
    recon = model.reconstruct(x, seed=[seed, 8]).mean()
    save_reconstructions(path, _to_unit(x), _to_unit(recon), _image_shape(config))
    print(f"tfpvae: wrote {path}", file=sys.stderr)
    return path


def _image_shape(config: RunConfig) -> tuple[int, ...]:
    return tuple(tdata.dataset_info(config.dataset).event_shape)


def evaluate(run_dir, num_samples: int = 5000, chunk_size: int = 100, limit: int | None = None, seed: int = 0,
             checkpoint: str = "best") -> dict:
    """Importance-sampled test NLL (K = ``num_samples``), the test ELBO, and bits/dim where the
    likelihood is a mass over 8-bit values; writes ``OUT/evaluation.json``."""
    import resource

    from tfpvae.evaluation import evaluate_dataset
    from tfpvae.training import make_evaluate

    config, model = load_run(run_dir, checkpoint)
    arrays = tdata.load_arrays(config.dataset, config.data_dir)
    test_x = arrays.test if limit is None else arrays.test[:limit]
    test = _pipeline(config, test_x, shuffle=False, batch_size=100)
    start = time.perf_counter()
    elbo = make_evaluate(model, ELBO(num_samples=1, kl="monte_carlo" if config.flow != "none" else "auto"),
                         seed=[seed, 1])(test)
    result = evaluate_dataset(model, test, num_samples=num_samples, chunk_size=chunk_size, seed=seed)
    report = {"run_dir": str(run_dir), "checkpoint": checkpoint, "dataset": config.dataset, "data_source": arrays.source,
              "num_examples": int(result["num_examples"]), "num_samples": num_samples, "chunk_size": chunk_size,
              "test_elbo": elbo["elbo"], "test_nll_nats": result["nll"], "test_nll_stderr": result["nll_stderr"],
              "bits_per_dim": result.get("bits_per_dim"),
              "bits_per_dim_note": None if "bits_per_dim" in result else
              f"not reported: a {config.likelihood} likelihood is not a mass over 8-bit values",
              "seconds": time.perf_counter() - start,
              "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    atomic_write_json(Path(run_dir) / "evaluation.json", report)
    print(f"tfpvae: test NLL {report['test_nll_nats']:.2f} nats (K={num_samples}), test ELBO {report['test_elbo']:.2f}"
          + (f", {report['bits_per_dim']:.3f} bits/dim" if report["bits_per_dim"] is not None else "")
          + f" -> {Path(run_dir) / 'evaluation.json'}", file=sys.stderr)
    return report
