"""`load_arrays`: one entry point that tries every data source in order."""

from __future__ import annotations

import os
import warnings

from tfpvae.data import sources, tfds_source
from tfpvae.data.info import (GALLERY_DATASETS, DataArrays, DataUnavailableError,
                              dataset_info)

__all__ = ["load_arrays", "EmbeddedSampleWarning"]

_DOWNLOAD_VALUES = ("auto", True, False)


class EmbeddedSampleWarning(UserWarning):
    """Issued when `load_arrays` falls back to the small embedded sample."""


def load_arrays(name: str, data_dir=None, *, download="auto",
                tfds_data_dir=None, allow_embedded: bool = True) -> DataArrays:
    """Loads a dataset as in-memory uint8 arrays, trying sources in order.

    1. A local folder laid out like `shared/data` (see `sources.load_local`):
       `data_dir`, or `$TFPVAE_DATA_DIR` when `data_dir` is None.
    2. tensorflow-datasets, only if the data is already prepared in the tfds
       data dir or a download can work: `TFPVAE_OFFLINE=1` forbids downloads,
       and `download="auto"` first checks the hosts with a 2 s TCP connect.
    3. The embedded sample (mnist and binarized_mnist only: 3000 train / 1000
       test images), with an `EmbeddedSampleWarning` printed to stderr.

    A source that lacks the data is skipped and its reason remembered; if all
    fail, `DataUnavailableError` lists every reason. Files that exist but are
    malformed raise ValueError.

    The gallery datasets take their own route: "sprites" is generated in code
    (`tfpvae.data.sprites.sprites_arrays`), "frey_faces" is read from the local
    folder only (`tfpvae.data.faces.load_frey_faces`), "celeb_a" from tfds only
    (`tfpvae.data.faces.load_celeb_a`, with its 40 attributes).

    Args:
      name: "mnist", "binarized_mnist", "fashion_mnist", "cifar10", or one of
        the gallery sets "frey_faces", "sprites", "celeb_a".
      data_dir: Root of a local data folder (or the dataset's own folder).
      download: "auto", True (always try a tfds download) or False (never).
      tfds_data_dir: tfds data dir; default `$TFDS_DATA_DIR` or
        `~/tensorflow_datasets`.
      allow_embedded: If False, never fall back to the embedded sample.

    Returns:
      `DataArrays`; images uint8 [N, H, W, C] (binarized_mnist: {0, 1}),
      labels int64 [N] or None, `source` telling where they came from.

    Raises:
      ValueError: Unknown `name`, bad `download`, malformed files.
      DataUnavailableError: No source has the data.
    """
    dataset_info(name)  # ValueError listing the known names.
    if download not in _DOWNLOAD_VALUES or not isinstance(download, (str, bool)):
        raise ValueError(f"load_arrays: download must be 'auto', True or False, "
                         f"got {download!r}")
    if name in GALLERY_DATASETS:
        return _load_gallery(name, data_dir, download, tfds_data_dir)
    reasons = []
    root = data_dir if data_dir is not None else os.environ.get("TFPVAE_DATA_DIR")
    if root:
        try:
            return sources.load_local(name, root)
        except sources.SourceUnavailable as e:
            reasons.append(str(e))
    else:
        reasons.append("local: no data_dir given and TFPVAE_DATA_DIR is not set")
    try:
        return tfds_source.load_tfds(name, download=download,
                                     tfds_data_dir=tfds_data_dir)
    except sources.SourceUnavailable as e:
        reasons.append(str(e))
    if not allow_embedded:
        reasons.append("embedded: disabled (allow_embedded=False)")
        raise DataUnavailableError(name, reasons)
    try:
        arrays = sources.load_embedded(name)
    except sources.SourceUnavailable as e:
        reasons.append(str(e))
        raise DataUnavailableError(name, reasons) from None
    warnings.warn(EmbeddedSampleWarning(
        f"tfpvae.data: using the EMBEDDED SAMPLE of {name} (only the first "
        f"{len(arrays.train)} train / {len(arrays.test)} test images of the "
        f"official splits), because no full copy was found:\n" + "\n".join(f"  - {r}" for r in reasons) +
        "\nResults are not comparable with published numbers. Pass data_dir= "
        "(or set TFPVAE_DATA_DIR) or allow tfds to download."), stacklevel=2)
    return arrays


def _load_gallery(name, data_dir, download, tfds_data_dir) -> DataArrays:
    from tfpvae.data.faces import load_celeb_a, load_frey_faces  # pylint: disable=g-import-not-at-top
    from tfpvae.data.sprites import sprites_arrays  # pylint: disable=g-import-not-at-top
    if name == "sprites":
        return sprites_arrays()
    if name == "frey_faces":
        return load_frey_faces(data_dir)
    return load_celeb_a(download=download, tfds_data_dir=tfds_data_dir)
