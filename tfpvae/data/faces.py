"""Face datasets: Frey faces (a local file) and CelebA (tensorflow-datasets, with 40 attributes).

Frey faces: 1965 grey 28 x 20 frames of one face (Frey, Colmenarez & Huang 1998), the Gaussian-decoder
example of Kingma & Welling (2014). The file has no split; ours is a fixed random permutation (NumPy
seed 0) into 1565 train / 200 validation / 200 test frames. The frames come from one video, so
neighbouring frames are near duplicates: test frames have close neighbours in train, and the test
bound measures fit to this face rather than generalisation to new faces.

CelebA: 202,599 colour photos (178 x 218) with 40 binary attributes (Liu et al. 2015), loaded through
``tfds.load("celeb_a")`` when tfds can (prepared in the tfds data dir, or a download is allowed and
reachable), centre-cropped to 148 x 148 and resized to 64 x 64 with area averaging (the crop of the
common 64 x 64 CelebA VAE setups).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from tfpvae._validation import int_at_least_one
from tfpvae.data import sources, tfds_source
from tfpvae.data.info import DataArrays, DataUnavailableError, make_arrays

__all__ = ["load_frey_faces", "load_celeb_a", "FREY_SPLIT", "FREY_SPLIT_SEED", "CELEB_A_CROP"]

FREY_FILE = "frey_faces.npz"
FREY_SPLIT = (1565, 200, 200)  # train, validation, test
FREY_SPLIT_SEED = 0
CELEB_A_CROP = 148


def load_frey_faces(data_dir=None) -> DataArrays:
    """Frey faces from ``<data_dir>/frey_faces/frey_faces.npz`` (or ``<data_dir>/frey_faces.npz``).

    Args:
      data_dir: a folder laid out like ``shared/data``; default ``$TFPVAE_DATA_DIR``.

    Returns:
      ``DataArrays`` with uint8 images ``[N, 28, 20, 1]`` (raw grey levels 8..238; ``make_dataset``
      scales them to [0, 1]): train 1565, valid 200, test 200 (see :data:`FREY_SPLIT`), no labels.

    Raises:
      DataUnavailableError: no data_dir, or the file is not there (the reason names the path).
      ValueError: the file exists but does not hold ``images`` uint8 ``[1965, 28, 20]``.
    """
    root = data_dir if data_dir is not None else os.environ.get("TFPVAE_DATA_DIR")
    if not root:
        raise DataUnavailableError("frey_faces", [
            "local: no data_dir given and TFPVAE_DATA_DIR is not set (frey_faces is only read from a local "
            f"folder holding frey_faces/{FREY_FILE})"])
    try:
        folder = sources._dataset_folder(Path(root).expanduser(), "frey_faces", lambda d: (d / FREY_FILE).is_file())
    except sources.SourceUnavailable as e:
        raise DataUnavailableError("frey_faces", [str(e)]) from None
    path = folder / FREY_FILE
    if not path.is_file():
        raise DataUnavailableError("frey_faces", [f"local: {folder} is missing {FREY_FILE}"])
    images = sources.read_npz(path, ("images",), str(path))["images"]
    if images.dtype != np.uint8 or images.shape != (sum(FREY_SPLIT), 28, 20):
        raise ValueError(f"load_frey_faces: {path} images are {images.dtype}{list(images.shape)}, "
                         f"expected uint8[{sum(FREY_SPLIT)}, 28, 20]")
    order = np.random.default_rng(FREY_SPLIT_SEED).permutation(len(images))
    n_train, n_valid, _ = FREY_SPLIT
    train, valid, test = np.split(images[order], [n_train, n_train + n_valid])
    return make_arrays("frey_faces", f"local:{path}", train, test, valid=valid)


def prepare_celeb_a(example, size: int = 64, crop: int = CELEB_A_CROP):
    """One tfds CelebA example (or a batch) -> (uint8 image ``[..., size, size, 3]``, int64
    attributes ``[..., 40]`` in sorted attribute-name order). Centre crop ``crop x crop``, then area
    resize."""
    import tensorflow as tf  # pylint: disable=g-import-not-at-top

    image = example["image"]
    h, w = image.shape[-3], image.shape[-2]
    top, left = (h - crop) // 2, (w - crop) // 2
    image = image[..., top:top + crop, left:left + crop, :]
    image = tf.image.resize(tf.cast(image, tf.float32), (size, size), method="area")
    image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)
    names = sorted(example["attributes"])
    attributes = tf.stack([tf.cast(example["attributes"][k], tf.int64) for k in names], axis=-1)
    return image, attributes


def load_celeb_a(*, download="auto", tfds_data_dir=None, size: int = 64, max_examples: int | None = None,
                 batch_size: int = 1024) -> DataArrays:
    """CelebA through tensorflow-datasets, resized to ``size x size``, with its 40 attributes.

    Args:
      download: "auto" (download if the hosts answer), True or False (only data already prepared).
      tfds_data_dir: tfds data dir; default ``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets``.
      size: output height and width (64 by default; the registered ``event_shape``).
      max_examples: keep the first ``max_examples`` images of each split (tfds decodes only those;
        all 162,770 train images at 64 x 64 take 2 GB); an int >= 1, or None for all.
      batch_size: images decoded per tfds batch.

    Returns:
      ``DataArrays`` (train / valid / test from tfds' splits), uint8 ``[N, size, size, 3]``, and
      ``train_attributes`` etc. ``{attribute name: int64 [N] in {0, 1}}`` (40 names, e.g. "Smiling").

    Raises:
      DataUnavailableError: tfds cannot provide celeb_a (not prepared and no download possible:
        offline, ``TFPVAE_OFFLINE=1``, ``download=False``, or tfds failed); the message says which.
      ValueError: ``max_examples`` or ``size`` is not an int >= 1.
    """
    max_examples = int_at_least_one(max_examples, "load_celeb_a", "max_examples", optional=True)
    size = int_at_least_one(size, "load_celeb_a", "size")
    data_dir = Path(tfds_data_dir or tfds_source.default_tfds_data_dir()).expanduser()
    try:
        must_download = tfds_source._check_can_load("celeb_a", download, data_dir)
        import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    except sources.SourceUnavailable as e:
        raise DataUnavailableError("celeb_a", [str(e)]) from None
    except ImportError as e:
        raise DataUnavailableError("celeb_a", [f"tfds: tensorflow-datasets not installed ({e})"]) from None
    splits, attributes = {}, {}
    try:
        for ours, theirs in (("train", "train"), ("valid", "validation"), ("test", "test")):
            split = theirs if max_examples is None else f"{theirs}[:{max_examples}]"
            ds = tfds.load("celeb_a", split=split, data_dir=str(data_dir), download=must_download)
            names = sorted(ds.element_spec["attributes"])
            ds = ds.batch(batch_size).map(lambda e: prepare_celeb_a(e, size))
            images, attrs = zip(*tfds.as_numpy(ds))
            splits[ours] = np.concatenate(images)
            attributes[ours] = dict(zip(names, np.concatenate(attrs).T))
    except Exception as e:  # tfds raises many types (IO, DownloadError, NonMatchingChecksumError, ...)
        raise DataUnavailableError("celeb_a", [f"tfds: tfds.load('celeb_a') failed: {type(e).__name__}: {e}"]) from e
    source = f"tfds:{data_dir}" + ("" if max_examples is None else f" (first {max_examples} of each split)")
    arrays = make_arrays("celeb_a", source, splits["train"], splits["test"], valid=splits["valid"],
                         attributes=attributes) if size == 64 else None
    if arrays is None:  # another size: the registered event shape does not apply
        arrays = DataArrays("celeb_a", splits["train"], splits["test"], valid=splits["valid"],
                            source=source, event_shape=(size, size, 3),
                            train_attributes=attributes["train"],
                            test_attributes=attributes["test"], valid_attributes=attributes["valid"])
    return arrays
