"""Face datasets: Frey faces from the local folder (shape, range, a fixed split) and CelebA through
tfds only when it can load (offline: a clear DataUnavailableError), plus its crop-and-resize step."""

import numpy as np
import pytest
import tensorflow as tf

from tfpvae import data
from tfpvae.data.faces import FREY_SPLIT, prepare_celeb_a


def test_frey_faces_shape_range_and_split(shared_data):
    arrays = data.load_arrays("frey_faces", data_dir=shared_data)
    assert (len(arrays.train), len(arrays.valid), len(arrays.test)) == FREY_SPLIT == (1565, 200, 200)
    for split in (arrays.train, arrays.valid, arrays.test):
        assert split.dtype == np.uint8 and split.shape[1:] == (28, 20, 1)
    everything = np.concatenate([arrays.train, arrays.valid, arrays.test])
    assert everything.min() == 8 and everything.max() == 238  # the raw grey levels of the file
    with np.load(shared_data / "frey_faces" / "frey_faces.npz") as d:
        raw = d["images"].reshape(len(d["images"]), -1)
    flat = everything.reshape(len(everything), -1)  # a permutation of the file's frames, none lost
    np.testing.assert_array_equal(flat[np.lexsort(flat.T[::-1])], raw[np.lexsort(raw.T[::-1])])
    again = data.load_arrays("frey_faces", data_dir=shared_data)
    np.testing.assert_array_equal(again.test, arrays.test)  # the split is fixed
    assert arrays.train_labels is None and data.dataset_info("frey_faces").event_shape == (28, 20, 1)
    x = next(iter(data.make_dataset(arrays.train, batch_size=16, shuffle=False)))
    assert x.shape == (16, 28, 20, 1) and 0.0 < float(tf.reduce_min(x)) and float(tf.reduce_max(x)) < 1.0


def test_frey_faces_missing_file_names_the_folder(tmp_path):
    (tmp_path / "frey_faces").mkdir()
    with pytest.raises(data.DataUnavailableError, match="frey_faces is missing frey_faces.npz"):
        data.load_arrays("frey_faces", data_dir=tmp_path)


def test_celeb_a_offline_raises_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("TFPVAE_OFFLINE", "1")
    with pytest.raises(data.DataUnavailableError,
                       match="celeb_a is not prepared in .* TFPVAE_OFFLINE=1 forbids download"):
        data.load_arrays("celeb_a", tfds_data_dir=tmp_path)
    monkeypatch.delenv("TFPVAE_OFFLINE")
    with pytest.raises(data.DataUnavailableError, match="celeb_a is not prepared in .* and download=False"):
        data.load_celeb_a(download=False, tfds_data_dir=tmp_path)


def test_celeb_a_crop_resize_and_attributes():
    image = np.zeros((2, 218, 178, 3), np.uint8)
    image[:, :, 89:] = 200  # right half bright: the centre crop keeps the split in the middle
    image[:, :35] = 255  # top band outside the 148 x 148 centre crop (rows 35..182)
    example = {"image": tf.constant(image),
               "attributes": {"Smiling": tf.constant([True, False]), "Bald": tf.constant([False, False]),
                              "Young": tf.constant([True, True])}}
    out, attributes = prepare_celeb_a(example)
    out = out.numpy()
    assert out.shape == (2, 64, 64, 3) and out.dtype == np.uint8
    assert (out[:, :, :31] == 0).all() and (out[:, :, 33:] == 200).all()  # the 255 band was cropped away
    np.testing.assert_array_equal(attributes, [[0, 1, 1], [0, 0, 1]])  # sorted names: Bald, Smiling, Young


def test_data_arrays_attributes_are_optional():
    a = data.DataArrays("mnist", np.zeros((2, 28, 28, 1), np.uint8), np.zeros((1, 28, 28, 1), np.uint8))
    assert a.train_attributes is None and a.test_attributes is None and a.valid_attributes is None
    assert set(data.GALLERY_DATASETS) <= set(data.DATASETS) and "sprites" not in data.KNOWN_DATASETS
