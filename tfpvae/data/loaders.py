"""`load_arrays`: one entry point that loads from the source asked for, and only from it.

A source that was asked for (a data folder, a tfds data dir, a tfds download) either provides the
data or is an error naming what it lacked: a mistyped folder never trains on something else in
silence. The data shipped in the package is used only when no source was asked for.
"""

from __future__ import annotations

import os
import warnings

from tfpvae._validation import int_at_least_one
from tfpvae.data import sources, tfds_source
from tfpvae.data.info import GALLERY_DATASETS, DataArrays, DataUnavailableError, dataset_info

__all__ = ["load_arrays", "EmbeddedSampleWarning"]

_DOWNLOAD_VALUES = ("auto", True, False)


class EmbeddedSampleWarning(UserWarning):
    """Issued when `load_arrays` returns the small embedded MNIST sample (not the full dataset)."""


def load_arrays(name: str, data_dir=None, *, download="auto", tfds_data_dir=None,
                allow_embedded: bool = True, max_examples: int | None = None) -> DataArrays:
    """Loads a dataset as in-memory uint8 arrays from the source asked for.

    1. A data folder laid out like `shared/data` (`sources.load_local`): `data_dir`, else
       `$TFPVAE_DATA_DIR`. When one is given it is the ONLY source: if it does not hold the
       dataset, `DataUnavailableError` names the folder and the files expected there.
    2. tensorflow-datasets when asked for (`tfds_data_dir=` or `download=True`): the only source.
    3. Nothing asked for: binarized_mnist comes from the WHOLE copy shipped in the package
       (50000 / 10000 / 10000, identical to the original files, no network needed); the other
       datasets from tfds when it is prepared or a download can work (`TFPVAE_OFFLINE=1` forbids
       downloads; `download="auto"` first checks the hosts within 2 s); mnist last from a small
       embedded labelled sample (300 train / 100 test per class) with an `EmbeddedSampleWarning`.
       If all fail, `DataUnavailableError` lists every reason.

    `DataArrays.source` always says where the data came from ("local:<path>", "tfds:<dir>",
    "embedded: ...").

    The gallery datasets take their own route: "sprites" is generated in code, "frey_faces" is read
    from the local folder only, "celeb_a" from tfds only (`tfpvae.data.faces`, `tfpvae.data.sprites`).

    Args:
      name: "mnist", "binarized_mnist", "fashion_mnist", "cifar10", or one of the gallery sets
        "frey_faces", "sprites", "celeb_a".
      data_dir: Root of a local data folder (or the dataset's own folder).
      download: "auto", True (tfds download asked for) or False (never download).
      tfds_data_dir: tfds data dir (giving it asks for tfds); default `$TFDS_DATA_DIR` or
        `~/tensorflow_datasets`.
      allow_embedded: If False, never use the data shipped in the package.
      max_examples: Keep the first ``max_examples`` images of each split (`DataArrays.head`), an
        int >= 1, or None for all. celeb_a asks tfds for those rows only, so only they are decoded
        (all 162,770 training photos at 64 x 64 take 2 GB); the other datasets load whole, then slice.

    Returns:
      `DataArrays`; images uint8 [N, H, W, C] (binarized_mnist: {0, 1}), labels int64 [N] or None.

    Raises:
      ValueError: Unknown `name` or bad `download`; `DataFileError` (a ValueError) for a file that is
        there but truncated, corrupt or malformed (one line naming the file).
      DataUnavailableError: The source asked for lacks the data, or no source has it.
    """
    dataset_info(name)  # ValueError listing the known names.
    if download not in _DOWNLOAD_VALUES or not isinstance(download, (str, bool)):
        raise ValueError(f"load_arrays: download must be 'auto', True or False, got {download!r}")
    max_examples = int_at_least_one(max_examples, "load_arrays", "max_examples", optional=True)
    if name == "celeb_a":  # tfds decodes only the rows asked for
        return _load_gallery(name, data_dir, download, tfds_data_dir, max_examples)
    arrays = _load_whole(name, data_dir, download, tfds_data_dir, allow_embedded)
    return arrays if max_examples is None else arrays.head(max_examples)


def _load_whole(name: str, data_dir, download, tfds_data_dir, allow_embedded: bool) -> DataArrays:
    if name in GALLERY_DATASETS:
        return _load_gallery(name, data_dir, download, tfds_data_dir)
    origin = "data_dir" if data_dir is not None else "TFPVAE_DATA_DIR"
    root = data_dir if data_dir is not None else os.environ.get("TFPVAE_DATA_DIR")
    if root is not None and str(root) != "":
        return _load_asked_folder(name, root, origin)
    if tfds_data_dir is not None or download is True:
        try:
            return tfds_source.load_tfds(name, download=download, tfds_data_dir=tfds_data_dir)
        except sources.SourceUnavailable as e:
            raise DataUnavailableError(name, [str(e)], note="(tfds was asked for, so no other source was tried)") \
                from None
    reasons = ["local: no data_dir given and TFPVAE_DATA_DIR is not set"]
    if name == "binarized_mnist" and allow_embedded:
        return sources.load_embedded(name)  # the complete dataset: nothing to download
    try:
        return tfds_source.load_tfds(name, download=download)
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
        f"tfpvae.data: using the {arrays.source}, because no data folder was given and tfds could not "
        f"provide {name} ({'; '.join(reasons)}). Results are not comparable with published numbers: pass "
        f"data_dir= (or set TFPVAE_DATA_DIR) to a folder holding {name}/{sources.expected_files(name)[0]} etc."),
        stacklevel=3)
    return arrays


def _load_asked_folder(name: str, root, origin: str) -> DataArrays:
    """The folder the user named, or a one-line error naming it and the files expected there."""
    try:
        return sources.load_local(name, root)
    except sources.SourceUnavailable as e:
        files = ", ".join(sources.expected_files(name))
        raise DataUnavailableError(
            name, [f"{origin}={root} does not hold it: {e}; expected {os.path.join(str(root), name)}/ with {files}."],
            note="A data folder was given, so no other source was tried: fix the path, or leave it unset to use "
                 "tensorflow-datasets or the data shipped with tfpvae.") from None


def _load_gallery(name, data_dir, download, tfds_data_dir, max_examples=None) -> DataArrays:
    from tfpvae.data.faces import load_celeb_a, load_frey_faces  # pylint: disable=g-import-not-at-top
    from tfpvae.data.sprites import sprites_arrays  # pylint: disable=g-import-not-at-top
    if name == "sprites":
        return sprites_arrays()
    if name == "frey_faces":
        return load_frey_faces(data_dir)
    return load_celeb_a(download=download, tfds_data_dir=tfds_data_dir, max_examples=max_examples)
