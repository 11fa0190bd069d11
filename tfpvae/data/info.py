"""Dataset metadata and the array container returned by the loaders."""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

import numpy as np

from tfpvae._validation import int_at_least_one

__all__ = [
    "DatasetInfo", "DataArrays", "DataUnavailableError", "DataFileError", "DATASETS",
    "KNOWN_DATASETS", "GALLERY_DATASETS", "dataset_info",
]


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """Static facts about one supported dataset.

    Attributes:
      name: Our name (also the tensorflow-datasets name).
      event_shape: Shape of one image, `(H, W, C)`.
      binary: True if the stored pixels are already {0, 1} (no rescaling).
      num_classes: Number of label classes, or None when unlabelled.
      has_valid: True if the dataset ships a fixed validation split.
      download_url: Base URL tfds downloads the raw files from (used only for
        the quick reachability check before `tfds.load`).
    """

    name: str
    event_shape: Tuple[int, int, int]
    binary: bool
    num_classes: Optional[int]
    has_valid: bool
    download_url: str

    @property
    def event_size(self) -> int:
        """Number of pixels (times channels) per image, e.g. 784 for MNIST."""
        return int(np.prod(self.event_shape))


DATASETS = {
    "mnist": DatasetInfo(
        "mnist", (28, 28, 1), False, 10, False,
        "https://storage.googleapis.com/cvdf-datasets/mnist/"),
    "binarized_mnist": DatasetInfo(
        "binarized_mnist", (28, 28, 1), True, None, True,
        "http://www.cs.toronto.edu/~larocheh/public/datasets/binarized_mnist/"),
    "fashion_mnist": DatasetInfo(
        "fashion_mnist", (28, 28, 1), False, 10, False,
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"),
    "cifar10": DatasetInfo(
        "cifar10", (32, 32, 3), False, 10, False,
        "https://www.cs.toronto.edu/~kriz/"),
    # The gallery sets (issue 11): generated in code, a local file, or tfds only.
    "frey_faces": DatasetInfo(  # local file only (shared/data/frey_faces)
        "frey_faces", (28, 20, 1), False, None, True, ""),
    "sprites": DatasetInfo(  # generated in code (tfpvae.data.sprites)
        "sprites", (64, 64, 1), True, 3, False, ""),
    "celeb_a": DatasetInfo(  # tfds; its files come from Google Drive
        "celeb_a", (64, 64, 3), False, None, True, "https://drive.google.com/"),
}
# Loaded from a local folder, tensorflow-datasets or the embedded sample.
KNOWN_DATASETS = ("mnist", "binarized_mnist", "fashion_mnist", "cifar10")
# Loaded by their own modules (tfpvae.data.faces, tfpvae.data.sprites).
GALLERY_DATASETS = ("frey_faces", "sprites", "celeb_a")


def dataset_info(name: str) -> DatasetInfo:
    """Returns the `DatasetInfo` of `name`; ValueError listing known names."""
    try:
        return DATASETS[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"tfpvae.data: unknown dataset {name!r}; expected one of "
            f"{', '.join(DATASETS)}") from None


class DataUnavailableError(FileNotFoundError):
    """No allowed source (local folder, tfds, embedded data) could provide a dataset.

    With one reason (e.g. an explicitly given folder that lacks the data) the message is one line;
    with several it lists the reason each source failed. `reasons` holds them as strings.
    """

    def __init__(self, name: str, reasons, note: str = ""):
        self.reasons = list(reasons)
        if len(self.reasons) == 1:
            message = f"tfpvae.data: could not load {name!r}: {self.reasons[0]}"
        else:
            lines = "\n".join(f"  - {r}" for r in self.reasons)
            message = f"tfpvae.data: could not load {name!r} from any source:\n{lines}"
        super().__init__(message + (f" {note}" if note else ""))


class DataFileError(ValueError):
    """A data file exists but is truncated, corrupt or not what its name says.

    The message is one line naming the file; `path` holds it.
    """

    def __init__(self, path, problem: str):
        self.path = str(path)
        super().__init__(f"tfpvae.data: {self.path} {problem}")


@dataclasses.dataclass(frozen=True, repr=False)
class DataArrays:
    """In-memory dataset in the canonical layout.

    Images are uint8 arrays of shape [N, H, W, C]: 0..255 intensities, or {0, 1}
    for `binarized_mnist`. Labels are int64 arrays of shape [N] or None.

    Attributes:
      name: Dataset name, e.g. "mnist".
      train: Training images, uint8 [N_train, H, W, C].
      test: Test images, uint8 [N_test, H, W, C].
      train_labels: int64 [N_train] or None.
      test_labels: int64 [N_test] or None.
      valid: Validation images (binarized_mnist, frey_faces, celeb_a), else None.
      source: Where the data came from: "local:<folder or file>", "tfds:<data dir>",
        "embedded: ..." (what was shipped, e.g. the full binarized MNIST or the small MNIST
        sample) or "generated: ...".
      event_shape: Shape of one image, (H, W, C).
      train_attributes: Named per-example attributes of the training images,
        `{name: array [N_train]}` (sprites' generative factors, celeb_a's 40
        binary attributes), or None. The labels of attribute vectors.
      test_attributes: The same for the test images, or None.
      valid_attributes: The same for the validation images, or None.
    """

    name: str
    train: np.ndarray
    test: np.ndarray
    train_labels: Optional[np.ndarray] = None
    test_labels: Optional[np.ndarray] = None
    valid: Optional[np.ndarray] = None
    source: str = ""
    event_shape: Tuple[int, ...] = ()
    train_attributes: Optional[dict] = None
    test_attributes: Optional[dict] = None
    valid_attributes: Optional[dict] = None

    @property
    def embedded(self) -> bool:
        """True if the arrays came from the copy shipped inside the package."""
        return self.source.startswith("embedded")

    @property
    def binary(self) -> bool:
        """True if the pixels are {0, 1} (binarized_mnist)."""
        return DATASETS[self.name].binary

    def head(self, n: int) -> DataArrays:
        """The first ``n`` images of each split (all of a split that has fewer), with their labels
        and attributes: a quick run, or a run on a fixed subset. ``source`` says so.

        >>> arrays = make_arrays("mnist", "generated: zeros", np.zeros((5, 28, 28, 1), np.uint8),
        ...                      np.zeros((3, 28, 28, 1), np.uint8), np.arange(5), np.arange(3))
        >>> small = arrays.head(2)
        >>> small.train.shape, small.test_labels.tolist(), small.source
        ((2, 28, 28, 1), [0, 1], 'generated: zeros (first 2 of each split)')
        """
        n = int_at_least_one(n, "DataArrays.head", "n")

        def first(a):  # a copy: a view would keep the whole array alive
            return None if a is None else a[:n].copy()

        def first_attributes(attrs):
            return None if attrs is None else {k: first(v) for k, v in attrs.items()}

        return dataclasses.replace(
            self, train=first(self.train), test=first(self.test), valid=first(self.valid),
            train_labels=first(self.train_labels), test_labels=first(self.test_labels),
            train_attributes=first_attributes(self.train_attributes),
            test_attributes=first_attributes(self.test_attributes),
            valid_attributes=first_attributes(self.valid_attributes),
            source=f"{self.source} (first {n} of each split)")

    def __repr__(self) -> str:
        def shp(a):
            return None if a is None else f"{a.dtype}{list(a.shape)}"
        return (f"DataArrays(name={self.name!r}, train={shp(self.train)}, "
                f"test={shp(self.test)}, valid={shp(self.valid)}, "
                f"labels={self.train_labels is not None}, "
                f"attributes={None if self.train_attributes is None else len(self.train_attributes)}, "
                f"source={self.source!r})")


def make_arrays(name: str, source: str, train, test, train_labels=None,
                test_labels=None, valid=None, attributes=None) -> DataArrays:
    """Builds a `DataArrays`, coercing to the canonical layout and checking it.

    `attributes`, if given, maps "train"/"test"/"valid" to `{name: array [N]}`.
    """
    info = dataset_info(name)

    def images(a, split):
        if a is None:
            return None
        a = np.asarray(a)
        if a.dtype == np.bool_:
            a = a.astype(np.uint8)
        if a.ndim == 2 and a.shape[1] == info.event_size:
            a = a.reshape((-1,) + info.event_shape)
        elif a.ndim == 3 and info.event_shape[-1] == 1:  # [N, H, W] -> [N, H, W, 1]
            a = a[..., None]
        if a.dtype != np.uint8 or a.shape[1:] != info.event_shape:
            raise ValueError(
                f"tfpvae.data: {name} {split} images from {source} have "
                f"{a.dtype}{list(a.shape)}, expected uint8[N, "
                f"{', '.join(map(str, info.event_shape))}]")
        return np.ascontiguousarray(a)

    def labels(y, x, split):
        if y is None:
            return None
        y = np.asarray(y).astype(np.int64).reshape(-1)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"tfpvae.data: {name} {split} from {source} has "
                             f"{x.shape[0]} images but {y.shape[0]} labels")
        return y

    def attrs(split, x):
        named = (attributes or {}).get(split)
        if named is None:
            return None
        if x is None:
            raise ValueError(f"tfpvae.data: {name} has {split} attributes but "
                             f"no {split} images")
        out = {}
        for key, a in named.items():
            a = np.asarray(a).reshape(-1)
            if a.shape[0] != x.shape[0]:
                raise ValueError(f"tfpvae.data: {name} {split} attribute {key!r} "
                                 f"from {source} has {a.shape[0]} values for "
                                 f"{x.shape[0]} images")
            out[key] = a
        return out

    train, test, valid = (images(train, "train"), images(test, "test"),
                          images(valid, "valid"))
    return DataArrays(name, train, test, labels(train_labels, train, "train"),
                      labels(test_labels, test, "test"), valid, source,
                      info.event_shape, attrs("train", train),
                      attrs("test", test), attrs("valid", valid))
