"""Run-directory operations behind the CLI: train, sample, reconstruct, evaluate.

A run directory (:mod:`tfpvae.runs.layout`) holds ``config.json``, ``metrics.json``,
``checkpoints/`` (``latest/`` for resume, ``best/`` by validation loss, both by variable name),
``samples.png`` and ``reconstructions.png``. Under a multi-worker strategy only the chief writes
them; the other workers write their (collective) checkpoints to a temporary folder.
"""

from __future__ import annotations

import dataclasses
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfpvae import data as tdata
from tfpvae.objectives import ELBO
from tfpvae.runs.builders import build_model, build_objective, kl_mode
from tfpvae.runs.config import RunConfig, load_config
from tfpvae.runs.layout import RunDirectory, RunLock, RunRecord
from tfpvae.training import (ActiveUnitsLogger, Callback, Checkpoint, EarlyStopping, GracefulStop, ProgressBar, fit,
                             is_chief, make_strategy, restore_model, worker_directory)
from tfpvae.training.io import atomic_write_json

__all__ = ["train", "sample", "reconstruct", "evaluate", "plot", "load_run"]


def _load_arrays(config: RunConfig):
    """The run's dataset: all of it, or the first ``config.max_examples`` images of each split."""
    return tdata.load_arrays(config.dataset, config.data_dir, max_examples=config.max_examples)


def _splits(arrays):
    """(train, validation, test) image arrays: the dataset's own validation split, else the last
    10% of the training images held out (checkpoints are selected on validation, never on test)."""
    if arrays.valid is not None:
        return arrays.train, arrays.valid, arrays.test
    n_valid = max(1, len(arrays.train) // 10)
    return arrays.train[:-n_valid], arrays.train[-n_valid:], arrays.test


def _split_tensors(arrays) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """:func:`_splits` as tensors, made once: ``ArrayData`` keeps its images as a tensor, a copy of
    the numpy array it is given, so a run that kept the loaded arrays held every image twice (binarized
    MNIST: 55 MB more at the peak of a training; CelebA at 64 x 64: 2 GB). The caller drops the arrays."""
    return tuple(tf.convert_to_tensor(images) for images in _splits(arrays))  # type: ignore[return-value]


def _arrays(config: RunConfig, images, *, shuffle: bool, batch_size: int | None = None) -> tdata.ArrayData:
    return tdata.ArrayData(images, batch_size=batch_size or config.batch_size, shuffle=shuffle, seed=config.seed,
                           binarize=None if config.binarize == "none" else config.binarize,
                           flatten=config.architecture == "mlp")


def _pipeline(config: RunConfig, images, *, shuffle: bool, epoch: int = 0, batch_size: int | None = None):
    return _arrays(config, images, shuffle=shuffle, batch_size=batch_size).dataset(epoch)


def _event_shape(config: RunConfig, arrays) -> tuple[int, ...]:
    shape = tuple(int(d) for d in arrays.train.shape[1:])
    return (int(np.prod(shape)),) if config.architecture == "mlp" else shape


# Fields a resumed run may change: how long to train, where things are, how a stop is decided, and
# whether the loop is compiled.
_RESUMABLE_CHANGES = ("epochs", "output", "data_dir", "patience", "gif", "tensorboard", "jit")


_JIT_COMPILE: dict[str, bool | str] = {"auto": "auto", "on": True, "off": False}


def _check_resumable(run: RunDirectory, config: RunConfig) -> None:
    """A run directory resumes only with the same model and the same training settings: a new
    learning rate, batch size, beta, objective, strategy, ... would silently mix two runs."""
    if not run.config_path.exists():
        return
    old = load_config(run.path)
    if old.model_fields() != config.model_fields():
        changed = sorted(k for k, v in config.model_fields().items() if old.model_fields().get(k) != v)
        raise ValueError(f"{run.path} holds a run with a different model ({', '.join(changed)} differ); "
                         "choose another --output or delete that directory")
    before, now = old.to_dict(), config.to_dict()
    changed = [f"{k} {before.get(k)!r} -> {v!r}" for k, v in now.items()
               if k not in _RESUMABLE_CHANGES and k != "event_shape" and before.get(k) != v]
    if changed:
        raise ValueError(f"{run.path} holds a run trained with other settings ({'; '.join(changed)}); resuming would "
                         f"mix the two. Use the same flags (only {_flags(_RESUMABLE_CHANGES)} may change) "
                         "or choose another --output")


def _check_same_data(run: RunDirectory, source: str) -> None:
    """A run resumed or evaluated on data from another source (say the embedded copy after a
    mistyped folder) would mix two datasets in one record: refuse, showing both."""
    recorded = _recorded_source(run)
    if recorded and _source_kind(recorded) != _source_kind(source):
        raise ValueError(f"{run.path} was trained on data from {recorded!r}, but this invocation found {source!r}; "
                         "give the same --data-dir")


def _source_kind(source: str) -> str:
    """The kind of a data source (local / tfds / embedded / generated): the same files seen through
    another path (relative vs absolute --data-dir) count as the same source."""
    return source.split(":", 1)[0].split(" ", 1)[0]


def _flags(fields) -> str:
    return ", ".join("--" + k.replace("_", "-") for k in fields if k not in ("output", "data_dir"))


def train(config: RunConfig, quiet: bool = False) -> dict:
    """Train (or resume) the run ``config`` describes; returns the metrics dict written to metrics.json."""
    strategy = make_strategy(config.strategy, config.cpu_replicas)  # before TensorFlow's first op
    chief = is_chief(strategy)
    arrays = _load_arrays(config)
    for split, images in zip(("train", "validation", "test"), _splits(arrays)):  # before anything is written
        tdata.check_support(images, config.likelihood, f"{config.dataset} {split}", binarize=config.binarize)
    config = dataclasses.replace(config, event_shape=_event_shape(config, arrays))
    splits, source = _split_tensors(arrays), arrays.source
    del arrays, images  # the numpy copies: the tensors are what the run uses
    run = RunDirectory(config.output if chief else worker_directory(config.output, strategy))
    try:
        run.path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError, PermissionError) as err:
        raise ValueError(f"--output {config.output}: cannot create the run directory ({err.strerror})") from None
    try:
        with RunLock(run.path):  # one training per output folder
            return _train_locked(config, run, splits, source, strategy, chief, quiet)
    finally:
        if not chief:
            shutil.rmtree(run.path, ignore_errors=True)


def _train_locked(config: RunConfig, run: RunDirectory, splits, source: str, strategy, chief: bool,
                  quiet: bool) -> dict:
    _check_resumable(RunDirectory(config.output), config)
    _check_same_data(RunDirectory(config.output), source)
    if chief:
        atomic_write_json(run.config_path, config.to_dict())
    train_x, valid_x, test_x = splits
    if chief:
        print(f"tfpvae: {config.dataset} from {source}: {len(train_x)} train / {len(valid_x)} validation / "
              f"{len(test_x)} test; {strategy.num_replicas_in_sync} replica(s), {config.precision}", file=sys.stderr)
    with strategy.scope():
        model = build_model(config)
        optimizer = _optimizer(config)
    steps = -(-len(train_x) // config.batch_size)
    objective = build_objective(config, steps)
    checkpoint = Checkpoint(run.checkpoints, monitor="validation/loss",
                            restore_directory=RunDirectory(config.output).checkpoints)  # workers resume from the chief
    stop = GracefulStop()
    callbacks: list[Callback] = [stop]
    if config.model == "vae":  # logged before the checkpoint saves the epoch's logs
        units_data = _pipeline(config, _spread(valid_x, 1000), shuffle=False, batch_size=1000)
        callbacks.append(ActiveUnitsLogger(units_data, min_active=1))
    callbacks.append(checkpoint)
    if config.patience:
        callbacks.append(EarlyStopping("validation/loss", patience=config.patience))
    record = RunRecord(run.metrics_path if chief else None, checkpoint, {
        "config": config.to_dict(), "data_source": source, "objective": objective.config,
        "num_train": len(train_x), "num_validation": len(valid_x), "num_test": len(test_x),
        "strategy": config.strategy, "replicas": strategy.num_replicas_in_sync, "precision": config.precision},
        stop=stop)
    callbacks.append(record)
    if chief:
        callbacks += _picture_callbacks(config, run, model, source)
    if not quiet and chief:
        callbacks.append(ProgressBar(steps_per_epoch=steps))
    state = fit(model, objective, _arrays(config, train_x, shuffle=True),  # batches gathered in the compiled loop
                epochs=config.epochs, optimizer=optimizer,
                validation_data={"validation": _pipeline(config, valid_x, shuffle=False, batch_size=1000),
                                 "test": _pipeline(config, test_x, shuffle=False, batch_size=1000)},
                callbacks=callbacks, seed=config.seed, jit_compile=_JIT_COMPILE[config.jit], strategy=strategy,
                precision=config.precision, nonfinite=config.on_nonfinite, clip_norm=config.clip_norm)
    if chief:
        _pictures(run, config, model, test_x, seed=config.seed, data_source=source)
        if stop.requested:
            where = (f"in epoch {state.epoch + 1} after {state.resume_step} batches" if state.interrupted
                     else f"after epoch {state.epoch}")
            print(f"tfpvae: stopped {where}, saved in {run.checkpoints}; run the same command to resume",
                  file=sys.stderr)
        _summary(run, state, model)
    return record.metrics(state, record.final_status())


def _summary(run: RunDirectory, state, model) -> None:
    """The closing lines: the final bound and where everything is."""
    final = state.history[-1] if state.history else None
    if final is not None:
        test = final.get("test", {})
        bound = test.get("elbo", test.get("bound"))
        shown = f"test ELBO {bound:.2f}" if bound is not None else f"test loss {test.get('loss', float('nan')):.4f}"
        print(f"tfpvae: {state.epoch} epoch(s): {shown} nats", file=sys.stderr)
    pictures = [p.name for p in (run.samples, run.reconstructions) if p.exists()]
    print(f"tfpvae: metrics {run.metrics_path}; pictures {', '.join(pictures)} in {run.path}; checkpoints "
          f"{run.checkpoints}", file=sys.stderr)


def _picture_callbacks(config: RunConfig, run: RunDirectory, model, data_source: str) -> list:
    """``--gif``: the same 16 prior draws decoded after every epoch (``RUN/frames/epoch_NNNN.png``,
    assembled into ``RUN/plots/gif.gif`` at the end); ``--tensorboard DIR``: scalars and samples."""
    out: list[Callback] = []
    shape = tuple(tdata.dataset_info(config.dataset).event_shape)
    if config.gif:
        from tfpvae.plotting import EpochImages

        latents = model.prior.sample(16, seed=[config.seed, 11])
        out.append(EpochImages(run.frames, latents, model, gif_path=run.plots / "gif.gif", image_shape=shape,
                               data_source=data_source))
    if config.tensorboard:
        from tfpvae.training.tensorboard import TensorBoard

        out.append(TensorBoard(config.tensorboard, model if hasattr(model, "sample") else None, image_shape=shape,
                               seed=config.seed))
    return out


def _optimizer(config: RunConfig):
    import keras

    return keras.optimizers.Adam(config.learning_rate)


def load_run(run_dir, checkpoint: str = "best"):
    """``(config, model)`` of a saved run, the model's variables restored by name."""
    config = load_config(run_dir)
    model = build_model(config)
    restore_model(RunDirectory(run_dir).checkpoints, model, which=checkpoint)
    return config, model


def _test_batch(config: RunConfig, num: int) -> tuple[tf.Tensor, str]:
    """``num`` test images spread over the test set, and where they came from."""
    arrays = _load_arrays(config)
    return next(iter(_pipeline(config, _spread(arrays.test, num), shuffle=False, batch_size=num))), arrays.source


def _recorded_source(run: RunDirectory) -> str | None:
    """The data source a run's metrics.json records (None if it has none)."""
    import json

    try:
        return json.loads(run.metrics_path.read_text()).get("data_source")
    except (OSError, json.JSONDecodeError):
        return None


def _spread(images, num: int):
    """``num`` images spread evenly over the set (a test split in file order can begin with a long
    run of one digit: the first ``num`` are not a fair sample)."""
    index = np.linspace(0, len(images) - 1, num=min(num, len(images))).astype(int)
    return tf.gather(images, index)  # numpy arrays or tensors


def _pictures(run: RunDirectory, config: RunConfig, model, test_x, seed: int, data_source: str,
              num_samples: int = 100, num_recon: int = 20):
    from tfpvae.plotting import save_image_grid, save_reconstructions

    image_shape = tuple(int(d) for d in test_x.shape[1:])
    if hasattr(model, "sample"):
        means = model.sample(num_samples, seed=[seed, 7]).mean()
        save_image_grid(run.samples, np.asarray(means), ncols=10, image_shape=image_shape,
                        title=f"{config.dataset}: decoder means for z ~ p(z)", data_source=data_source)
    x = next(iter(_pipeline(config, _spread(test_x, num_recon), shuffle=False, batch_size=num_recon)))
    recon = model.reconstruct(x, seed=[seed, 8]).mean()
    save_reconstructions(run.reconstructions, np.asarray(x), np.asarray(recon), image_shape, data_source=data_source)


def sample(run_dir, num: int = 100, seed: int = 0, checkpoint: str = "best") -> Path:
    """Write ``run_dir/samples.png``: decoder means for ``num`` draws from the prior."""
    from tfpvae.plotting import save_image_grid

    config, model = load_run(run_dir, checkpoint)
    if not hasattr(model, "sample"):
        raise ValueError(f"{run_dir} holds an autoencoder (--model ae): it has no prior to sample from")
    path = RunDirectory(run_dir).samples
    means = model.sample(num, seed=[seed, 7]).mean()
    save_image_grid(path, np.asarray(means), ncols=10, image_shape=_image_shape(config),
                    title=f"{config.dataset}: decoder means for z ~ p(z)",
                    data_source=_recorded_source(RunDirectory(run_dir)))
    print(f"tfpvae: wrote {path}", file=sys.stderr)
    return path


def reconstruct(run_dir, num: int = 20, seed: int = 0, checkpoint: str = "best") -> Path:
    """Write ``run_dir/reconstructions.png`` for ``num`` test images spread over the test set."""
    from tfpvae.plotting import save_reconstructions

    config, model = load_run(run_dir, checkpoint)
    path = RunDirectory(run_dir).reconstructions
    x, source = _test_batch(config, num)
    recon = model.reconstruct(x, seed=[seed, 8]).mean()
    save_reconstructions(path, np.asarray(x), np.asarray(recon), _image_shape(config), data_source=source)
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
    if config.model == "ae":
        raise ValueError(f"{run_dir} holds an autoencoder (--model ae): it defines no likelihood p(x) to evaluate")
    arrays = _load_arrays(config)
    tdata.check_support(arrays.test, config.likelihood, f"{config.dataset} test", binarize=config.binarize)
    _check_same_data(RunDirectory(run_dir), arrays.source)
    source, test_x = arrays.source, tf.convert_to_tensor(arrays.test if limit is None else arrays.test[:limit])
    del arrays  # the training images and the numpy copy of the test images: not needed to evaluate
    test = _pipeline(config, test_x, shuffle=False, batch_size=100)
    start = time.perf_counter()
    elbo = make_evaluate(model, ELBO(num_samples=1, kl="monte_carlo" if kl_mode(config) == "monte_carlo" else "auto"),
                         seed=[seed, 1])(test)
    result = evaluate_dataset(model, test, num_samples=num_samples, chunk_size=chunk_size, seed=seed)
    report = {"run_dir": str(run_dir), "checkpoint": checkpoint, "dataset": config.dataset,
              "data_source": source,
              "num_examples": int(result["num_examples"]), "num_samples": num_samples, "chunk_size": chunk_size,
              "test_elbo": elbo["elbo"], "test_nll_nats": result["nll"], "test_nll_stderr": result["nll_stderr"],
              "bits_per_dim": result.get("bits_per_dim"),
              "bits_per_dim_note": None if "bits_per_dim" in result else
              f"not reported: a {config.likelihood} likelihood is not a mass over 8-bit values",
              "seconds": time.perf_counter() - start,
              "peak_memory_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    atomic_write_json(RunDirectory(run_dir).evaluation, report)
    print(f"tfpvae: test NLL {report['test_nll_nats']:.2f} nats (K={num_samples}), test ELBO {report['test_elbo']:.2f}"
          + (f", {report['bits_per_dim']:.3f} bits/dim" if report["bits_per_dim"] is not None else "")
          + f" -> {RunDirectory(run_dir).evaluation}", file=sys.stderr)
    return report


def plot(run_dir, kind: str, seed: int = 0, checkpoint: str = "best", num: int = 5000) -> Path:
    """Write ``RUN/plots/KIND.png`` (``gif.gif`` for ``kind="gif"``) for a saved run.

    Data are ``num`` test images spread over the test set, with their labels (scatter colours) and
    attributes (``attributes``: bool attributes as they are; other factors, e.g. sprites'
    x position, split at their median).
    """
    from tfpvae.plotting import PLOT_KINDS, make_gif, plot_kind, save_figure

    run = RunDirectory(run_dir)
    kinds = PLOT_KINDS + ("gif",)
    if kind not in kinds:
        raise ValueError(f"plot: kind must be one of {', '.join(kinds)}, got {kind!r}")
    if kind == "gif":
        if not run.frames.exists():
            raise ValueError(f"{run_dir} has no per-epoch frames: train it with --gif")
        path = make_gif(run.frames, run.plots / "gif.gif")
        print(f"tfpvae: wrote {path}", file=sys.stderr)
        return path
    config = load_config(run_dir)
    if kind == "curves":
        fig = plot_kind("curves", None, metrics=run.metrics_path)
        return _save(save_figure, fig, run.plots / "curves.png")
    if kind in ("samples", "manifold") and config.model == "ae":
        raise ValueError(f"{run_dir} holds an autoencoder (--model ae): it has no prior for {kind!r}")
    if kind == "manifold" and config.latent_dim != 2:
        raise ValueError(f"plot: the manifold needs a 2-D latent space; {run_dir} has latent_dim {config.latent_dim}")
    config, model = load_run(run_dir, checkpoint)
    arrays = _load_arrays(config)
    index = np.linspace(0, len(arrays.test) - 1, num=min(num, len(arrays.test))).astype(int)
    x = next(iter(_pipeline(config, arrays.test[index], shuffle=False, batch_size=len(index))))
    labels = None if arrays.test_labels is None else np.asarray(arrays.test_labels)[index]
    attributes, names = None, None
    if kind == "attributes":
        if not arrays.test_attributes:
            raise ValueError(f"plot: {config.dataset} has no attribute labels (sprites and celeb_a do)")
        names = sorted(arrays.test_attributes)
        columns = [np.asarray(arrays.test_attributes[n])[index] for n in names]
        attributes = np.stack([c.astype(bool) if c.dtype == bool else c > np.median(c) for c in columns], axis=1)
    fig = plot_kind(kind, model, x, labels=labels, attributes=attributes, attribute_names=names, seed=seed,
                    image_shape=tuple(tdata.dataset_info(config.dataset).event_shape), data_source=arrays.source)
    return _save(save_figure, fig, run.plots / f"{kind}.png")


def _save(save_figure, fig, path: Path) -> Path:
    save_figure(fig, path)
    print(f"tfpvae: wrote {path}", file=sys.stderr)
    return path
