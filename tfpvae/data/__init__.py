"""Datasets for VAE experiments: loaders and tf.data pipelines.

Typical use::

  from tfpvae import data
  arrays = data.load_arrays("binarized_mnist", data_dir="shared/data")
  train = lambda epoch: data.make_dataset(arrays.train, batch_size=100,
                                          epoch=epoch, flatten=True)

`load_arrays` tries a local folder, then tensorflow-datasets (only if it can
work quickly), then a small embedded sample (mnist, binarized_mnist) with an
`EmbeddedSampleWarning`. Set `TFPVAE_OFFLINE=1` to never download and
`TFPVAE_DATA_DIR` to give a default local folder.
"""

from tfpvae.data.info import (DATASETS, KNOWN_DATASETS, DataArrays,
                              DatasetInfo, DataUnavailableError, dataset_info)
from tfpvae.data.loaders import EmbeddedSampleWarning, load_arrays
from tfpvae.data.pipeline import BINARIZE_MODES, make_dataset

__all__ = [
    "BINARIZE_MODES", "DATASETS", "DataArrays", "DataUnavailableError",
    "DatasetInfo", "EmbeddedSampleWarning", "KNOWN_DATASETS", "dataset_info",
    "load_arrays", "make_dataset",
]

from tfpvae.data.tabular import (UCI_DATASETS, Standardizer, TabularSplit, load_uci,  # noqa: E402
                                  make_tabular_dataset, uci_num_splits, uci_path)
__all__ += ["UCI_DATASETS", "Standardizer", "TabularSplit", "load_uci", "make_tabular_dataset", "uci_num_splits",
            "uci_path"]

from tfpvae.data.faces import load_celeb_a, load_frey_faces  # noqa: E402
from tfpvae.data.info import GALLERY_DATASETS  # noqa: E402
from tfpvae.data.sprites import FACTOR_NAMES, SHAPES, Sprites, sprites_arrays  # noqa: E402  (generator: data.sprites.sprites)
__all__ += ["GALLERY_DATASETS", "load_frey_faces", "load_celeb_a", "Sprites", "sprites_arrays", "FACTOR_NAMES", "SHAPES"]
