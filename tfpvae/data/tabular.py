"""Tabular regression data: standardisation kept for original units, tf.data pipelines, UCI loaders.

The UCI loader reads the folders of Hernandez-Lobato & Adams (2015) / Gal & Ghahramani (2016)
(``<data_dir>/uci/<name>/``: ``data.txt``, ``index_features.txt``, ``index_target.txt``,
``index_train_<k>.txt``, ``index_test_<k>.txt``; 20 splits, 5 for protein) and standardises
inputs and targets with the mean and standard deviation of the training part only (features with
zero spread keep scale 1), so test metrics can be reported in original units:
``rmse_orig = rmse_std * y_std`` and ``loglik_orig = loglik_std - log(y_std)``.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import tensorflow as tf

__all__ = ["Standardizer", "TabularSplit", "UCI_DATASETS", "uci_path", "uci_num_splits", "load_uci",
           "make_tabular_dataset"]

# Short name -> folder name under <data_dir>/uci/ (the folder names work too).
UCI_DATASETS = {"boston": "bostonHousing", "concrete": "concrete", "energy": "energy", "kin8nm": "kin8nm",
                "naval": "naval-propulsion-plant", "power": "power-plant", "protein": "protein-tertiary-structure",
                "wine": "wine-quality-red", "yacht": "yacht"}


@dataclasses.dataclass(frozen=True)
class Standardizer:
    """``z = (v - mean) / std`` per column; ``std`` of 0 is replaced by 1."""

    mean: np.ndarray
    std: np.ndarray

    @classmethod
    def fit(cls, values: np.ndarray) -> Standardizer:
        values = np.asarray(values, np.float64)
        std = values.std(axis=0)
        return cls(values.mean(axis=0), np.where(std > 0, std, 1.0))

    def transform(self, values) -> np.ndarray:
        return ((np.asarray(values, np.float64) - self.mean) / self.std).astype(np.float32)

    def inverse(self, values) -> np.ndarray:
        return np.asarray(values, np.float64) * self.std + self.mean


@dataclasses.dataclass(frozen=True)
class TabularSplit:
    """One split, standardised on ``x_train``/``y_train``: inputs float32 ``[N, D]``, targets float32
    ``[N, 1]``. ``x_valid``/``y_valid`` are set when a validation part was carved from the training
    split (it is then not in ``x_train``). ``y_stats`` maps targets back to original units."""

    name: str
    split: int
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    x_stats: Standardizer
    y_stats: Standardizer
    x_valid: np.ndarray | None = None
    y_valid: np.ndarray | None = None

    @property
    def y_scale(self) -> float:
        """Standard deviation of the training targets (multiply RMSEs by it; subtract its log from log-likelihoods)."""
        return float(self.y_stats.std[0])


def uci_path(name: str, data_dir: str | os.PathLike | None = None) -> Path:
    """Folder of UCI set ``name`` (short or folder name) under ``data_dir`` (or ``$TFPVAE_DATA_DIR``);
    ``data_dir`` may be the data root (holding ``uci/``) or the ``uci`` folder itself."""
    folder = UCI_DATASETS.get(name, name)
    if folder not in UCI_DATASETS.values():
        raise ValueError(f"load_uci: unknown UCI dataset {name!r}; expected one of {sorted(UCI_DATASETS)} "
                         f"(or their folder names {sorted(UCI_DATASETS.values())})")
    root = data_dir if data_dir is not None else os.environ.get("TFPVAE_DATA_DIR")
    if root is None:
        raise FileNotFoundError("load_uci: pass data_dir (the folder holding uci/) or set TFPVAE_DATA_DIR")
    root = Path(root)
    for candidate in (root / "uci" / folder, root / folder):
        if (candidate / "data.txt").exists():
            return candidate
    raise FileNotFoundError(f"load_uci: no {folder}/data.txt under {root / 'uci'} or {root}")


def uci_num_splits(name: str, data_dir: str | os.PathLike | None = None) -> int:
    """Number of standard splits of ``name`` (``n_splits.txt``: 20, or 5 for protein)."""
    return int(np.loadtxt(uci_path(name, data_dir) / "n_splits.txt"))


def load_uci(name: str, split: int = 0, data_dir: str | os.PathLike | None = None, *,
             validation_fraction: float = 0.0, seed: int = 0) -> TabularSplit:
    """Split ``split`` of UCI set ``name``, standardised on its training part.

    Args:
      name: ``boston``, ``concrete``, ``energy``, ``kin8nm``, ``naval``, ``power``, ``protein``,
        ``wine``, ``yacht`` (or the folder names).
      split: index in ``[0, n_splits)``.
      data_dir: data root holding ``uci/`` (default ``$TFPVAE_DATA_DIR``).
      validation_fraction: if > 0, this fraction of the training split (a permutation seeded by
        ``seed`` and ``split``) becomes ``x_valid``/``y_valid`` for tuning; statistics then come
        from the remaining training part. The test split is never touched.
      seed: seed of that permutation.

    Returns:
      :class:`TabularSplit`.
    """
    folder = uci_path(name, data_dir)
    n_splits = int(np.loadtxt(folder / "n_splits.txt"))
    if isinstance(split, bool) or not isinstance(split, (int, np.integer)) or not 0 <= split < n_splits:
        raise ValueError(f"load_uci: split must be an int in [0, {n_splits}) for {folder.name}, got {split!r}")
    if not 0.0 <= validation_fraction < 1.0:
        raise ValueError(f"load_uci: validation_fraction must be in [0, 1), got {validation_fraction!r}")
    data = np.loadtxt(folder / "data.txt")
    features = np.atleast_1d(np.loadtxt(folder / "index_features.txt", dtype=int))
    target = int(np.loadtxt(folder / "index_target.txt"))
    train = np.loadtxt(folder / f"index_train_{split}.txt", dtype=int)
    test = np.loadtxt(folder / f"index_test_{split}.txt", dtype=int)
    valid = None
    if validation_fraction > 0:
        perm = np.random.default_rng([seed, int(split)]).permutation(train)
        n_valid = max(1, int(round(validation_fraction * len(train))))
        valid, train = perm[:n_valid], perm[n_valid:]
    x, y = data[:, features], data[:, target:target + 1]
    x_stats, y_stats = Standardizer.fit(x[train]), Standardizer.fit(y[train])
    extra = {}
    if valid is not None:
        extra = {"x_valid": x_stats.transform(x[valid]), "y_valid": y_stats.transform(y[valid])}
    return TabularSplit(UCI_DATASETS.get(name, name) if name in UCI_DATASETS else name, int(split),
                        x_stats.transform(x[train]), y_stats.transform(y[train]),
                        x_stats.transform(x[test]), y_stats.transform(y[test]), x_stats, y_stats, **extra)


def make_tabular_dataset(x, y, batch_size: int, *, shuffle: bool = True, seed: int = 0, epoch: int = 0,
                         drop_remainder: bool = False) -> tf.data.Dataset:
    """``(x, y)`` batches of in-memory arrays; with ``shuffle`` the order is a permutation seeded by
    ``(seed, epoch)``, so ``lambda epoch: make_tabular_dataset(..., epoch=epoch)`` gives a resumable run.

    Example:
      >>> ds = make_tabular_dataset(np.zeros([10, 3]), np.zeros([10, 1]), batch_size=4, seed=1, epoch=2)
      >>> [tuple(b[0].shape) for b in ds]
      [(4, 3), (4, 3), (2, 3)]
    """
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ValueError(f"make_tabular_dataset: x and y must have the same length, got {len(x)} and {len(y)}")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"make_tabular_dataset: batch_size must be a positive integer, got {batch_size!r}")
    if shuffle:
        perm = np.random.default_rng([int(seed), int(epoch)]).permutation(len(x))
        x, y = x[perm], y[perm]
    x = x.astype(np.float32) if np.issubdtype(x.dtype, np.floating) else x
    y = y.astype(np.float32) if np.issubdtype(y.dtype, np.floating) else y
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size, drop_remainder=drop_remainder)
