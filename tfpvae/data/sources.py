"""Data sources: a local folder, tensorflow-datasets, the embedded sample.

Each `load_*` function returns a `DataArrays` or raises `SourceUnavailable`
with a one-line reason; `tfpvae.data.loaders.load_arrays` tries them in order.
Files that exist but are malformed raise ValueError instead (no fall-through).
"""

from __future__ import annotations

import importlib.resources
import io
from pathlib import Path

import numpy as np

from tfpvae.data import idx
from tfpvae.data.info import DataArrays, make_arrays

__all__ = ["SourceUnavailable", "load_local", "load_embedded",
           "EMBEDDED_DATASETS", "EMBEDDED_SOURCE"]

EMBEDDED_DATASETS = ("mnist", "binarized_mnist")
EMBEDDED_SOURCE = "embedded sample (3000 train / 1000 test)"

# IDX file stems (the loader accepts `<stem>.gz` or the raw `<stem>`).
_IDX_FILES = {
    "train": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_NPZ_FILES = {"binarized_mnist": "binarized_mnist.npz",
              "cifar10": "cifar10.npz"}


class SourceUnavailable(Exception):
    """A source does not have the dataset; `str(e)` is the reason."""


def _dataset_folder(root: Path, name: str, probe) -> Path:
    """`root/name` if it exists, else `root` itself when it holds the files."""
    sub = root / name
    if sub.is_dir():
        return sub
    if root.is_dir() and probe(root):
        return root
    if not root.is_dir():
        raise SourceUnavailable(f"local: folder {root} does not exist")
    raise SourceUnavailable(f"local: no {name}/ subfolder in {root}")


def _find(folder: Path, stem: str):
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def _load_idx_dataset(root: Path, name: str) -> DataArrays:
    folder = _dataset_folder(
        root, name, lambda d: any(_find(d, s) for s in _IDX_FILES.values()))
    paths = {k: _find(folder, s) for k, s in _IDX_FILES.items()}
    missing = [f"{_IDX_FILES[k]}.gz" for k, p in paths.items() if p is None]
    if missing:
        present = [p.name for p in paths.values() if p is not None]
        only = ""
        if present and all("labels" in p for p in present):
            only = " (only the label files are present; the image files are needed)"
        raise SourceUnavailable(
            f"local: {folder} is missing {', '.join(missing)}{only}")
    arrays = {k: idx.read_idx(p, idx.LABELS_MAGIC if "labels" in k
                              else idx.IMAGES_MAGIC)
              for k, p in paths.items()}
    return make_arrays(name, f"local:{folder}", **arrays)


def _load_npz_dataset(root: Path, name: str) -> DataArrays:
    fname = _NPZ_FILES[name]
    folder = _dataset_folder(root, name, lambda d: (d / fname).is_file())
    path = folder / fname
    if not path.is_file():
        raise SourceUnavailable(f"local: {folder} is missing {fname}")
    with np.load(path) as d:
        if name == "binarized_mnist":
            keys = ("train", "valid", "test")
        else:
            keys = ("x_train", "y_train", "x_test", "y_test")
        absent = [k for k in keys if k not in d.files]
        if absent:
            raise ValueError(f"load_arrays: {path} lacks arrays {absent}; it has "
                             f"{d.files}, expected {list(keys)}")
        a = {k: d[k] for k in keys}
    if name == "binarized_mnist":
        for k, v in a.items():
            if v.size and v.max() > 1:
                raise ValueError(f"load_arrays: {path}[{k!r}] has values up to "
                                 f"{v.max()}, expected binary {{0, 1}}")
        return make_arrays(name, f"local:{path}", a["train"], a["test"],
                           valid=a["valid"])
    return make_arrays(name, f"local:{path}", a["x_train"], a["x_test"],
                       a["y_train"], a["y_test"])


def load_local(name: str, data_dir) -> DataArrays:
    """Loads `name` from a folder laid out like `shared/data`.

    Layout: `<data_dir>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`
    (same for `fashion_mnist/`), `<data_dir>/binarized_mnist/binarized_mnist.npz`
    (uint8 `train`/`valid`/`test`, [N, 784]) and `<data_dir>/cifar10/cifar10.npz`
    (`x_train`, `y_train`, `x_test`, `y_test`). `data_dir` may also be the
    dataset's own folder.
    """
    root = Path(data_dir).expanduser()
    if name in _NPZ_FILES:
        return _load_npz_dataset(root, name)
    return _load_idx_dataset(root, name)


def load_embedded(name: str) -> DataArrays:
    """Loads the small real sample shipped in `tfpvae/data/_embedded/`.

    mnist: first 3000 train / 1000 test digits with labels. binarized_mnist:
    first 3000 train / 1000 valid / 1000 test rows (bit-packed on disk).
    See `_embedded/LICENSE.md`.
    """
    if name not in EMBEDDED_DATASETS:
        raise SourceUnavailable(
            f"embedded: no sample of {name} is shipped (only "
            f"{', '.join(EMBEDDED_DATASETS)})")
    res = importlib.resources.files("tfpvae.data").joinpath(
        "_embedded", f"{name}_sample.npz")
    try:
        raw = res.read_bytes()
    except (FileNotFoundError, OSError) as e:
        raise SourceUnavailable(f"embedded: sample file missing ({e})") from e
    with np.load(io.BytesIO(raw)) as d:
        if name == "binarized_mnist":
            unpack = lambda k: np.unpackbits(d[k], axis=1, count=784)
            return make_arrays(name, EMBEDDED_SOURCE, unpack("train"),
                               unpack("test"), valid=unpack("valid"))
        return make_arrays(name, EMBEDDED_SOURCE, d["x_train"], d["x_test"],
                           d["y_train"], d["y_test"])
