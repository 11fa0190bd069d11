"""Data sources: a local folder and the data shipped inside the package.

Each `load_*` function returns a `DataArrays` or raises `SourceUnavailable` with a one-line reason
that names the folder and the file it expected; `tfpvae.data.loaders.load_arrays` decides what a
missing source means (an explicitly given folder that lacks the data is an error). Files that exist
but are malformed, truncated or not what their name says raise `DataFileError` (a ValueError) naming
the file: they are never skipped.

References:
  Larochelle & Murray (2011), The Neural Autoregressive Distribution Estimator (the binarization);
  LeCun et al. (1998), Gradient-based learning applied to document recognition (MNIST).
"""

from __future__ import annotations

import importlib.resources
import io
import zipfile
import zlib
from pathlib import Path

import numpy as np

from tfpvae.data import idx
from tfpvae.data.info import DataArrays, DataFileError, make_arrays

__all__ = ["SourceUnavailable", "load_local", "load_embedded", "read_npz", "expected_files",
           "EMBEDDED_DATASETS", "EMBEDDED_SOURCES"]

# What the package ships: the whole binarized MNIST, and a small labelled MNIST sample.
EMBEDDED_DATASETS = ("mnist", "binarized_mnist")
EMBEDDED_FILES = {"binarized_mnist": "binarized_mnist.npz", "mnist": "mnist_sample.npz"}
EMBEDDED_SOURCES = {
    "binarized_mnist": "embedded: full statically binarized MNIST (Larochelle & Murray 2011)",
    "mnist": "embedded: SMALL MNIST sample (3000 train / 1000 test, 300 / 100 per class drawn at random; "
             "not the full dataset)",
}

# IDX file stems (the loader accepts `<stem>.gz` or the raw `<stem>`).
_IDX_FILES = {"train": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
              "test": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}
_NPZ_FILES = {"binarized_mnist": "binarized_mnist.npz", "cifar10": "cifar10.npz"}
_NPZ_KEYS = {"binarized_mnist": ("train", "valid", "test"), "cifar10": ("x_train", "y_train", "x_test", "y_test")}
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_READ_ERRORS = (OSError, EOFError, ValueError, zipfile.BadZipFile, zlib.error, KeyError)


class SourceUnavailable(Exception):
    """A source does not have the dataset; `str(e)` is the reason."""


def expected_files(name: str) -> list[str]:
    """The file names a local folder must hold for `name` (IDX files may also be un-gzipped)."""
    if name in _NPZ_FILES:
        return [_NPZ_FILES[name]]
    return [f"{stem}.gz" for stem in _IDX_FILES.values()]


def _dataset_folder(root: Path, name: str, probe) -> Path:
    """`root/name` if it exists, else `root` itself when it holds the files."""
    sub = root / name
    if sub.is_dir():
        return sub
    if root.is_dir() and probe(root):
        return root
    if not root.is_dir():
        raise SourceUnavailable(f"folder {root} does not exist")
    raise SourceUnavailable(f"{root} has no {name}/ subfolder (and does not itself hold the files)")


def _find(folder: Path, stem: str):
    for candidate in (folder / f"{stem}.gz", folder / stem):
        if candidate.is_file():
            return candidate
    return None


def read_npz(source, keys, label) -> dict:
    """Reads arrays `keys` from an .npz (a path or bytes) with `allow_pickle=False`.

    Raises:
      DataFileError: One line naming `label`: not a zip archive (e.g. random bytes), truncated or
        corrupt, pickled objects inside, or lacking one of `keys`.
    """
    try:
        if isinstance(source, bytes):
            head = source[:4]
        else:
            with open(source, "rb") as f:
                head = f.read(4)
    except OSError as e:
        raise DataFileError(label, f"cannot be read ({e.strerror or e})") from None
    if head not in _ZIP_MAGIC:
        raise DataFileError(label, "is not an .npz file (no zip signature at its start: corrupt or not "
                                   "written by numpy.savez); replace it")
    try:  # the file is opened (and closed) here: numpy leaks its handle when the archive is corrupt
        with (io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")) as f, \
                np.load(f, allow_pickle=False) as d:
            absent = [k for k in keys if k not in d.files]
            if absent:
                raise DataFileError(label, f"lacks arrays {absent}; it has {d.files}, expected {list(keys)}")
            return {k: d[k] for k in keys}
    except DataFileError:
        raise
    except _READ_ERRORS as e:
        detail = ("it holds pickled objects, which tfpvae never loads" if "pickle" in str(e).lower()
                  else f"truncated or corrupt: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
        raise DataFileError(label, f"is not a readable .npz file ({detail}); replace it") from None


def _load_idx_dataset(root: Path, name: str) -> DataArrays:
    folder = _dataset_folder(root, name, lambda d: any(_find(d, s) for s in _IDX_FILES.values()))
    paths = {k: _find(folder, s) for k, s in _IDX_FILES.items()}
    missing = [f"{_IDX_FILES[k]}.gz" for k, p in paths.items() if p is None]
    if missing:
        present = [p.name for p in paths.values() if p is not None]
        only = ""
        if present and all("labels" in p for p in present):
            only = " (only the label files are present; the image files are needed)"
        raise SourceUnavailable(f"{folder} is missing {', '.join(missing)}{only}")
    arrays = {k: idx.read_idx(p, idx.LABELS_MAGIC if "labels" in k else idx.IMAGES_MAGIC) for k, p in paths.items()}
    return make_arrays(name, f"local:{folder}", **arrays)


def _load_npz_dataset(root: Path, name: str) -> DataArrays:
    fname = _NPZ_FILES[name]
    folder = _dataset_folder(root, name, lambda d: (d / fname).is_file())
    path = folder / fname
    if path.exists() and not path.is_file():
        raise DataFileError(path, "is not a regular file")
    if not path.is_file():
        raise SourceUnavailable(f"{folder} is missing {fname}")
    a = read_npz(path, _NPZ_KEYS[name], str(path))
    if name == "cifar10":
        return make_arrays(name, f"local:{path}", a["x_train"], a["x_test"], a["y_train"], a["y_test"])
    for k, v in a.items():
        if v.size and v.max() > 1:
            raise DataFileError(str(path), f"array {k!r} has values up to {v.max()}, expected binary {{0, 1}}")
    return make_arrays(name, f"local:{path}", a["train"], a["test"], valid=a["valid"])


def load_local(name: str, data_dir) -> DataArrays:
    """Loads `name` from a folder laid out like `shared/data`.

    Layout: `<data_dir>/mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz` (same for
    `fashion_mnist/`), `<data_dir>/binarized_mnist/binarized_mnist.npz` (uint8 `train`/`valid`/`test`,
    [N, 784]) and `<data_dir>/cifar10/cifar10.npz` (`x_train`, `y_train`, `x_test`, `y_test`).
    `data_dir` may also be the dataset's own folder.

    Raises:
      SourceUnavailable: The folder or a file is missing (the reason names them).
      DataFileError: A file is there but unreadable or malformed.
    """
    root = Path(data_dir).expanduser()
    if name in _NPZ_FILES:
        return _load_npz_dataset(root, name)
    return _load_idx_dataset(root, name)


def load_embedded(name: str) -> DataArrays:
    """Loads the data shipped in `tfpvae/data/_embedded/` (provenance in its `LICENSE.md`).

    binarized_mnist: the WHOLE statically binarized MNIST, 50000 / 10000 / 10000 (bit-packed on
    disk, unpacked to uint8 {0, 1}). mnist: a SMALL labelled sample, 300 train / 100 test images per
    class drawn at random (3000 / 1000), with `source` saying so.

    Raises:
      SourceUnavailable: No embedded copy of `name`, or the file is missing from the install.
      DataFileError: The shipped file is corrupt (a broken install).
    """
    if name not in EMBEDDED_DATASETS:
        raise SourceUnavailable(f"embedded: nothing of {name} is shipped (only {', '.join(EMBEDDED_DATASETS)})")
    res = importlib.resources.files("tfpvae.data").joinpath("_embedded", EMBEDDED_FILES[name])
    try:
        raw = res.read_bytes()
    except OSError as e:
        raise SourceUnavailable(f"embedded: {res} is missing from this install ({e.strerror or e})") from None
    source = EMBEDDED_SOURCES[name]
    if name == "binarized_mnist":
        d = read_npz(raw, ("train", "valid", "test"), str(res))
        unpack = {k: np.unpackbits(v, axis=1, count=784) for k, v in d.items()}
        return make_arrays(name, source, unpack["train"], unpack["test"], valid=unpack["valid"])
    d = read_npz(raw, ("x_train", "y_train", "x_test", "y_test"), str(res))
    return make_arrays(name, source, d["x_train"], d["x_test"], d["y_train"], d["y_test"])
