"""celeb_a through ``load_arrays`` with ``max_examples``, on a fake tensorflow-datasets module (the
real set cannot be downloaded here): tfds is asked for the first ``max_examples`` of each split
only, and the arrays, attributes and validation follow."""

import sys
import types

import numpy as np
import pytest
import tensorflow as tf

from tfpvae import data
from tfpvae.data import tfds_source

SPLIT_SIZES = {"train": 5, "validation": 3, "test": 4}
NAMES = ("Bald", "Smiling", "Young")


def _split(name: str) -> tf.data.Dataset:
    """A split of fake 218 x 178 photos: image k of a split has grey level 10 k + offset, Smiling = k odd."""
    base, _, cut = name.partition("[:")
    n = SPLIT_SIZES[base]
    k = np.arange(n)
    offset = {"train": 0, "validation": 100, "test": 150}[base]
    images = np.broadcast_to((10 * k + offset).astype(np.uint8)[:, None, None, None], (n, 218, 178, 3))
    attributes = {"Bald": np.zeros(n, bool), "Smiling": k % 2 == 1, "Young": np.ones(n, bool)}
    ds = tf.data.Dataset.from_tensor_slices({"image": images, "attributes": attributes})
    return ds.take(int(cut.rstrip("]"))) if cut else ds


@pytest.fixture
def fake_tfds(monkeypatch, tmp_path):
    """``tensorflow_datasets`` replaced by a module whose ``load`` records the splits asked for; the
    celeb_a folder counts as prepared, so nothing is downloaded."""
    calls = []
    module = types.ModuleType("tensorflow_datasets")
    module.load = lambda name, split, data_dir, download: calls.append((name, split, download)) or _split(split)
    module.as_numpy = lambda ds: ds.as_numpy_iterator()
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", module)
    monkeypatch.setattr(tfds_source, "host_reachable", lambda *a, **k: pytest.fail("network check"))
    (tmp_path / "celeb_a" / "2.1.0").mkdir(parents=True)
    (tmp_path / "celeb_a" / "2.1.0" / "dataset_info.json").write_text("{}")
    return tmp_path, calls


def test_max_examples_asks_tfds_for_the_first_rows_of_each_split_only(fake_tfds):
    root, calls = fake_tfds
    arrays = data.load_arrays("celeb_a", tfds_data_dir=root, max_examples=2)
    assert calls == [("celeb_a", "train[:2]", False), ("celeb_a", "validation[:2]", False),
                     ("celeb_a", "test[:2]", False)]
    assert arrays.train.shape == (2, 64, 64, 3) and arrays.valid.shape == (2, 64, 64, 3)
    assert arrays.test.shape == (2, 64, 64, 3) and arrays.train.dtype == np.uint8
    np.testing.assert_array_equal(arrays.train[:, 0, 0, 0], [0, 10])  # the first rows, in order
    np.testing.assert_array_equal(arrays.test[:, 0, 0, 0], [150, 160])
    assert sorted(arrays.train_attributes) == list(NAMES)
    np.testing.assert_array_equal(arrays.train_attributes["Smiling"], [0, 1])
    assert arrays.source == f"tfds:{root} (first 2 of each split)"
    more = data.load_arrays("celeb_a", tfds_data_dir=root, max_examples=4)  # above a split's size: all of it
    assert (len(more.train), len(more.valid), len(more.test)) == (4, 3, 4)
    whole = data.load_arrays("celeb_a", tfds_data_dir=root)
    assert calls[-3][1] == "train" and (len(whole.train), len(whole.valid), len(whole.test)) == (5, 3, 4)
    assert whole.source == f"tfds:{root}"


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "10"])
def test_max_examples_is_validated_before_tfds_is_touched(bad, fake_tfds):
    root, calls = fake_tfds
    with pytest.raises(ValueError, match=r"load_arrays: max_examples must be an int >= 1 or None, got"):
        data.load_arrays("celeb_a", tfds_data_dir=root, max_examples=bad)
    with pytest.raises(ValueError, match=r"load_celeb_a: max_examples must be an int >= 1 or None, got"):
        data.load_celeb_a(tfds_data_dir=root, max_examples=bad)
    assert calls == []


def test_the_cli_trains_on_the_first_celeb_a_photos_that_tfds_decodes(fake_tfds, monkeypatch, tmp_path):
    """``tfpvae train --dataset celeb_a --max-examples N`` asks tfds for N rows of each split."""
    import json
    import warnings

    from tfpvae.cli import main
    from tfpvae.evaluation import PosteriorCollapseWarning

    root, calls = fake_tfds
    monkeypatch.setenv("TFDS_DATA_DIR", str(root))
    out = tmp_path / "run"
    with warnings.catch_warnings():  # two flat photos per split: the collapse warning is the truth, not the point
        warnings.simplefilter("ignore", PosteriorCollapseWarning)
        assert main(["train", "--dataset", "celeb_a", "--max-examples", "2", "--latent-dim", "2", "--hidden", "8",
                     "--epochs", "1", "--batch-size", "2", "--output", str(out), "--quiet"]) == 0
    assert [split for _, split, _ in calls] == ["train[:2]", "validation[:2]", "test[:2]"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["num_train"], metrics["num_validation"], metrics["num_test"]) == (2, 2, 2)
    assert np.isfinite(metrics["final"]["test"]["loss"])
