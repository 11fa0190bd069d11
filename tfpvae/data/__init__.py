"""Datasets for VAE experiments: loaders, support checks and tf.data pipelines.

Typical use::

  from tfpvae import data
  arrays = data.load_arrays("binarized_mnist")            # the full set shipped in the package
  data.check_support(arrays.train, "bernoulli", "binarized_mnist train")
  train = data.ArrayData(arrays.train, batch_size=100, flatten=True)  # fit gathers its batches
  test = data.make_dataset(arrays.test, batch_size=1000, shuffle=False, flatten=True)  # a tf.data pipeline

`load_arrays` loads from the source asked for and only from it: a data folder (`data_dir=` or
`TFPVAE_DATA_DIR`) that lacks the dataset is an error naming the folder and the expected files.
With no source asked for, binarized_mnist comes from the complete copy shipped in the package,
the others from tensorflow-datasets when it can work quickly (`TFPVAE_OFFLINE=1` forbids
downloads), and mnist last from a small labelled embedded sample with an `EmbeddedSampleWarning`.
Corrupt or truncated files raise a one-line `DataFileError` naming the file.
"""

from tfpvae.data.info import (DATASETS, KNOWN_DATASETS, DataArrays, DataFileError,
                              DatasetInfo, DataUnavailableError, dataset_info)
from tfpvae.data.loaders import EmbeddedSampleWarning, load_arrays
from tfpvae.data.pipeline import BINARIZE_MODES, ArrayData, make_dataset
from tfpvae.data.support import SUPPORT_LIKELIHOODS, GreyLevelWarning, check_support

__all__ = [
    "ArrayData", "BINARIZE_MODES", "DATASETS", "DataArrays", "DataFileError", "DataUnavailableError",
    "DatasetInfo", "EmbeddedSampleWarning", "GreyLevelWarning", "KNOWN_DATASETS",
    "SUPPORT_LIKELIHOODS", "check_support", "dataset_info", "load_arrays", "make_dataset",
]

from tfpvae.data.tabular import (UCI_DATASETS, Standardizer, TabularSplit, load_uci,  # noqa: E402
                                  make_tabular_dataset, uci_num_splits, uci_path)
__all__ += ["UCI_DATASETS", "Standardizer", "TabularSplit", "load_uci", "make_tabular_dataset", "uci_num_splits",
            "uci_path"]

from tfpvae.data.faces import load_celeb_a, load_frey_faces  # noqa: E402
from tfpvae.data.info import GALLERY_DATASETS  # noqa: E402
from tfpvae.data.sprites import FACTOR_NAMES, SHAPES, Sprites, sprites_arrays  # noqa: E402  (generator: data.sprites.sprites)
__all__ += ["GALLERY_DATASETS", "load_frey_faces", "load_celeb_a", "Sprites", "sprites_arrays", "FACTOR_NAMES",
            "SHAPES"]
