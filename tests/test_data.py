"""Tests of tfpvae.data: local/tfds/embedded sources and the tf.data pipeline.

All tests run offline: the `offline` fixture sets TFPVAE_OFFLINE=1, points the
tfds data dir at an empty temporary folder and makes any reachability check
fail the test. Test data are tiny arrays written into `tmp_path`.
"""

import gzip
import os
import struct
import sys
import types
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tfpvae import data  # noqa: E402
from tfpvae.data import tfds_source  # noqa: E402
from helpers import write_tiny_binarized_mnist  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
IDX_NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


@pytest.fixture(autouse=True)
def offline(no_downloads):
  """Every test here runs with conftest's `no_downloads`."""


def write_idx(path, array, magic):
  """Writes uint8 `array` as a gzipped IDX file (big-endian header)."""
  header = struct.pack(">I", magic) + b"".join(
      struct.pack(">I", d) for d in array.shape)
  with gzip.open(path, "wb") as f:
    f.write(header + np.ascontiguousarray(array, np.uint8).tobytes())


def write_mnist_folder(folder, n_train=5, n_test=3, names=IDX_NAMES):
  folder.mkdir(parents=True, exist_ok=True)
  rng = np.random.default_rng(0)
  arrays = {
      IDX_NAMES[0]: rng.integers(0, 256, (n_train, 28, 28), np.uint8),
      IDX_NAMES[1]: rng.integers(0, 10, (n_train,), np.uint8),
      IDX_NAMES[2]: rng.integers(0, 256, (n_test, 28, 28), np.uint8),
      IDX_NAMES[3]: rng.integers(0, 10, (n_test,), np.uint8),
  }
  for name in names:
    a = arrays[name]
    write_idx(folder / f"{name}.gz", a, 2051 if a.ndim == 3 else 2049)
  return arrays


def batches(ds):
  return [tuple(t.numpy() for t in b) if isinstance(b, tuple) else b.numpy()
          for b in ds]


# ----------------------------------------------------------------- sources


def test_local_idx_mnist(tmp_path):
  arrays = write_mnist_folder(tmp_path / "mnist")
  d = data.load_arrays("mnist", tmp_path)
  assert d.source == f"local:{tmp_path / 'mnist'}"
  assert d.train.shape == (5, 28, 28, 1) and d.train.dtype == np.uint8
  assert d.test.shape == (3, 28, 28, 1) and d.valid is None
  np.testing.assert_array_equal(d.train[..., 0], arrays[IDX_NAMES[0]])
  np.testing.assert_array_equal(d.test_labels, arrays[IDX_NAMES[3]])
  assert d.train_labels.dtype == np.int64 and d.event_shape == (28, 28, 1)
  # data_dir may also be the dataset folder itself.
  assert data.load_arrays("mnist", tmp_path / "mnist").train.shape[0] == 5


def test_local_idx_bad_magic_raises(tmp_path):
  write_mnist_folder(tmp_path / "mnist")
  write_idx(tmp_path / "mnist" / "t10k-labels-idx1-ubyte.gz",
            np.zeros(3, np.uint8), 2051)
  with pytest.raises(data.DataFileError, match="magic number 2051, expected 2049"):
    data.load_arrays("mnist", tmp_path)


def test_local_binarized_npz(tmp_path):
  rng = np.random.default_rng(1)

  def split(n):
    return (rng.random((n, 784)) < 0.13).astype(np.uint8)
  (tmp_path / "binarized_mnist").mkdir()
  np.savez_compressed(tmp_path / "binarized_mnist" / "binarized_mnist.npz",
                      train=split(6), valid=split(2), test=split(4))
  d = data.load_arrays("binarized_mnist", tmp_path)
  assert d.train.shape == (6, 28, 28, 1) and d.valid.shape == (2, 28, 28, 1)
  assert d.test.shape == (4, 28, 28, 1) and d.train_labels is None
  assert set(np.unique(d.train)) <= {0, 1} and d.binary


def test_local_cifar10_npz(tmp_path):
  (tmp_path / "cifar10").mkdir()
  np.savez_compressed(tmp_path / "cifar10" / "cifar10.npz",
                      x_train=np.zeros((4, 32, 32, 3), np.uint8),
                      y_train=np.arange(4), x_test=np.ones((2, 32, 32, 3),
                                                           np.uint8),
                      y_test=np.arange(2))
  d = data.load_arrays("cifar10", tmp_path)
  assert d.train.shape == (4, 32, 32, 3) and d.test_labels.tolist() == [0, 1]


def test_unknown_dataset_lists_known_names():
  with pytest.raises(ValueError, match="mnist, binarized_mnist, fashion_mnist"):
    data.load_arrays("svhn")


def test_fashion_labels_only_names_missing_image_files(tmp_path):
  """An explicit folder that lacks the images is the only source tried: one reason, naming them."""
  write_mnist_folder(tmp_path / "fashion_mnist", names=IDX_NAMES[1::2])
  with pytest.raises(data.DataUnavailableError) as err:
    data.load_arrays("fashion_mnist", tmp_path)
  msg = str(err.value)
  assert "train-images-idx3-ubyte.gz" in msg
  assert "t10k-images-idx3-ubyte.gz" in msg and "only the label" in msg
  assert str(tmp_path / "fashion_mnist") in msg
  assert "no other source was tried" in msg and "\n" not in msg
  assert len(err.value.reasons) == 1


def test_no_source_given_binarized_mnist_is_the_full_embedded_set():
  with warnings.catch_warnings():
    warnings.simplefilter("error")  # the complete dataset: no sample warning
    d = data.load_arrays("binarized_mnist")
  assert d.source == ("embedded: full statically binarized MNIST "
                      "(Larochelle & Murray 2011)") and d.embedded
  assert (len(d.train), len(d.valid), len(d.test)) == (50000, 10000, 10000)
  assert d.train.dtype == np.uint8 and set(np.unique(d.test)) == {0, 1}
  assert abs(d.train.mean() - 0.13056) < 1e-5
  assert abs(d.test.mean() - 0.13251) < 1e-5


def test_no_source_given_mnist_is_the_labelled_sample_with_a_warning():
  with pytest.warns(data.EmbeddedSampleWarning, match="SMALL MNIST sample") as record:
    d = data.load_arrays("mnist")
  msg = str(record[0].message)
  assert "TFPVAE_OFFLINE=1" in msg and "not comparable" in msg
  assert d.source.startswith("embedded: SMALL MNIST sample") and d.embedded
  assert d.train.shape == (3000, 28, 28, 1) and d.test.shape == (1000, 28, 28, 1)
  assert d.train.max() == 255 and d.train_labels.dtype == np.int64
  # Drawn at random across classes: balanced, and no split begins with a run of one digit.
  assert np.bincount(d.train_labels).tolist() == [300] * 10
  assert np.bincount(d.test_labels).tolist() == [100] * 10
  assert len(set(d.test_labels[:20].tolist())) >= 6
  assert d.test[:100].mean() > 20  # the file-order test head of the old sample was all zeros


def test_no_embedded_fallback_when_disallowed():
  with pytest.raises(data.DataUnavailableError, match="allow_embedded=False"):
    data.load_arrays("mnist", allow_embedded=False)


def test_auto_download_skips_tfds_when_host_unreachable(monkeypatch):
  monkeypatch.delenv("TFPVAE_OFFLINE")
  checked = []

  def fake_reachable(host, port=443, *a, **k):
    checked.append((host, port))
    return "" if host == "storage.googleapis.com" else f"{host} down (fake)"
  monkeypatch.setattr(tfds_source, "host_reachable", fake_reachable)
  monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)  # No import.
  with pytest.raises(data.DataUnavailableError,
                     match="www.cs.toronto.edu down"):
    data.load_arrays("binarized_mnist", allow_embedded=False)
  assert checked == [("storage.googleapis.com", 443), ("www.cs.toronto.edu",
                                                        80)]


def install_fake_tfds(monkeypatch, results):
  calls = []

  def fake_load(name, split, batch_size, data_dir, download, **kw):
    calls.append((name, split, batch_size, data_dir, download, kw))
    return results
  fake = types.SimpleNamespace(load=fake_load, as_numpy=lambda x: x)
  monkeypatch.setitem(sys.modules, "tensorflow_datasets", fake)
  return calls


def test_tfds_used_when_prepared(monkeypatch, tmp_path):
  """Prepared data is loaded offline with download=False; names are mapped."""
  tfds_dir = tmp_path / "tfds"
  (tfds_dir / "binarized_mnist" / "1.0.0").mkdir(parents=True)
  (tfds_dir / "binarized_mnist" / "1.0.0" / "dataset_info.json").touch()
  calls = install_fake_tfds(monkeypatch, [
      {"image": np.ones((n, 28, 28, 1), np.uint8)} for n in (5, 2, 3)])
  d = data.load_arrays("binarized_mnist", tfds_data_dir=tfds_dir)
  assert calls == [("binarized_mnist", ["train", "validation", "test"], -1,
                    str(tfds_dir), False, {})]
  assert d.source == f"tfds:{tfds_dir}"
  assert (d.train.shape[0], d.valid.shape[0], d.test.shape[0]) == (5, 2, 3)


def test_tfds_download_when_reachable(monkeypatch, tmp_path):
  monkeypatch.delenv("TFPVAE_OFFLINE")
  monkeypatch.setattr(tfds_source, "host_reachable", lambda *a, **k: "")
  calls = install_fake_tfds(monkeypatch, [
      (np.zeros((n, 28, 28, 1), np.uint8), np.arange(n)) for n in (4, 2)])
  d = data.load_arrays("mnist", tfds_data_dir=tmp_path)
  assert calls == [("mnist", ["train", "test"], -1, str(tmp_path), True,
                    {"as_supervised": True})]
  assert d.train.shape == (4, 28, 28, 1) and d.test_labels.tolist() == [0, 1]


# ---------------------------------------------------------------- pipeline


def test_static_binarization_threshold_is_half():
  x = np.array([0, 127, 128, 255], np.uint8).reshape(4, 1, 1, 1)
  out = batches(data.make_dataset(x, batch_size=4, shuffle=False,
                                  binarize="static"))[0]
  assert out.dtype == np.float32 and out.ravel().tolist() == [0, 0, 1, 1]
  f = np.array([0.5, 0.5 + 1e-6, 0.49, 1.0], np.float32).reshape(4, 1)
  out = batches(data.make_dataset(f, batch_size=4, shuffle=False,
                                  binarize="static"))[0]
  assert out.ravel().tolist() == [0, 1, 0, 1]  # 1 iff x > 0.5 exactly.


def test_scaling_to_unit_interval():
  x = np.array([0, 51, 255], np.uint8).reshape(3, 1)
  out = batches(data.make_dataset(x, batch_size=3, shuffle=False))[0]
  np.testing.assert_allclose(out.ravel(), [0.0, 0.2, 1.0], rtol=1e-6)
  b = np.array([0, 1, 1], np.uint8).reshape(3, 1)  # Already binary: kept.
  out = batches(data.make_dataset(b, batch_size=3, shuffle=False))[0]
  assert out.ravel().tolist() == [0.0, 1.0, 1.0]


def test_dynamic_binarization():
  p = np.array([0, 26, 77, 128, 204, 255], np.uint8)  # ~0, .1, .3, .5, .8, 1
  x = np.broadcast_to(p[:, None, None, None], (6, 28, 28, 1)).copy()
  x = np.tile(x, (10, 1, 1, 1))  # 60 images, 7840 draws per intensity.

  def run(seed, epoch):
    ds = data.make_dataset(x, batch_size=16, shuffle=False, seed=seed,
                           epoch=epoch, binarize="dynamic")
    return np.concatenate(batches(ds))
  a = run(3, 0)
  assert set(np.unique(a)) == {0.0, 1.0}
  np.testing.assert_array_equal(a, run(3, 0))  # Same (seed, epoch).
  np.testing.assert_array_equal(a, run(np.array([0, 3]), 0))  # int == [0, s].
  assert (a != run(3, 1)).mean() > 0.05  # Fresh noise each epoch.
  assert (a != run(4, 0)).mean() > 0.05
  # Mean matches the intensity: |mean - q| < 5 standard errors per level.
  for i, level in enumerate(p):
    q = level / 255.0
    n = a[i::6].size
    tol = 5 * np.sqrt(q * (1 - q) / n) + 1e-12
    assert abs(a[i::6].mean() - q) <= tol, (level, a[i::6].mean())


def test_shuffle_is_deterministic_permutation():
  n = 50
  x = np.zeros((n, 2, 2, 1), np.uint8)
  labels = np.arange(n)

  def order(seed, epoch, shuffle=True):
    ds = data.make_dataset(x, batch_size=8, seed=seed, epoch=epoch,
                           labels=labels, shuffle=shuffle)
    return np.concatenate([y for _, y in batches(ds)])
  o = order(0, 0)
  assert sorted(o.tolist()) == list(range(n)) and o.tolist() != list(range(n))
  np.testing.assert_array_equal(o, order(0, 0))
  assert o.tolist() != order(0, 1).tolist()
  assert o.tolist() != order(1, 0).tolist()
  assert order(0, 0, shuffle=False).tolist() == list(range(n))


def test_labels_follow_images_and_flatten():
  rng = np.random.default_rng(2)
  x = rng.integers(0, 256, (10, 28, 28, 1), np.uint8)
  ds = data.make_dataset(x, batch_size=4, labels=np.arange(10), flatten=True,
                         seed=5)
  out = batches(ds)
  assert [xb.shape for xb, _ in out] == [(4, 784), (4, 784), (2, 784)]
  for xb, yb in out:
    np.testing.assert_allclose(xb, x[yb].reshape(-1, 784) / 255.0, rtol=1e-6)
    assert yb.dtype == np.int64
  dropped = data.make_dataset(x, batch_size=4, drop_remainder=True)
  assert dropped.element_spec.shape.as_list() == [4, 28, 28, 1]
  assert len(batches(dropped)) == 2


@pytest.mark.parametrize("kwargs,match", [
    (dict(batch_size=0), "batch_size must be an int >= 1, got 0"),
    (dict(batch_size=2.5), "batch_size must be an int >= 1"),
    (dict(batch_size=True), "batch_size must be an int >= 1"),
    (dict(batch_size=2, binarize="bernoulli"), "binarize must be one of"),
    (dict(batch_size=2, epoch=-1), "epoch must be an int >= 0"),
    (dict(batch_size=2, seed=1.5), "seed must be an int"),
    (dict(batch_size=2, labels=np.arange(3)), "labels must have shape \\[4\\]"),
])
def test_make_dataset_validation(kwargs, match):
  x = np.zeros((4, 2, 2, 1), np.uint8)
  with pytest.raises(ValueError, match="make_dataset: " + match):
    data.make_dataset(x, **kwargs)


@pytest.mark.parametrize("images", [
    np.full((2, 3), 300, np.int64), np.full((2, 3), 1.5, np.float32),
    np.full((2, 3), -0.1, np.float64)])
def test_make_dataset_rejects_bad_pixel_range(images):
  with pytest.raises(ValueError, match="make_dataset: images must be uint8"):
    data.make_dataset(images, batch_size=2)


def test_dataset_info_constants():
  assert data.KNOWN_DATASETS == ("mnist", "binarized_mnist", "fashion_mnist",
                                 "cifar10")
  assert data.dataset_info("cifar10").event_shape == (32, 32, 3)
  assert data.dataset_info("binarized_mnist").binary
  assert data.dataset_info("mnist").event_size == 784


# ------------------------------------------------------------- integration


@pytest.mark.skipif(not (SHARED_DATA / "binarized_mnist").is_dir(),
                    reason=f"shared benchmark data not present at "
                    f"{SHARED_DATA}")
def test_real_shared_binarized_mnist():
  d = data.load_arrays("binarized_mnist", SHARED_DATA)
  assert d.source.startswith("local:")
  assert (d.train.shape, d.valid.shape, d.test.shape) == (
      (50000, 28, 28, 1), (10000, 28, 28, 1), (10000, 28, 28, 1))
  assert abs(d.train.mean() - 0.1306) < 0.001
  assert abs(d.test.mean() - 0.1325) < 0.001


def test_max_examples_keeps_the_first_images_of_every_dataset(no_downloads, tmp_path):
    """The datasets that load whole are sliced after loading (`DataArrays.head`), labels and
    attributes with their images, and ``source`` says so."""
    write_tiny_binarized_mnist(tmp_path)
    whole = data.load_arrays("binarized_mnist", tmp_path)
    first = data.load_arrays("binarized_mnist", tmp_path, max_examples=30)
    for split in ("train", "valid", "test"):
        np.testing.assert_array_equal(getattr(first, split), getattr(whole, split)[:30])
    assert first.source == whole.source + " (first 30 of each split)"
    sprites, few = data.load_arrays("sprites"), data.load_arrays("sprites", max_examples=7)
    assert len(few.train) == len(few.test) == 7 and sorted(few.train_attributes) == sorted(sprites.train_attributes)
    for name, values in sprites.test_attributes.items():
        np.testing.assert_array_equal(few.test_attributes[name], values[:7])
    np.testing.assert_array_equal(few.train_labels, sprites.train_labels[:7])
    big = data.load_arrays("binarized_mnist", tmp_path, max_examples=10**6)  # above a split's size: all of it
    assert (len(big.train), len(big.valid), len(big.test)) == (len(whole.train), len(whole.valid), len(whole.test))
    with pytest.raises(ValueError, match=r"load_arrays: max_examples must be an int >= 1 or None, got 0"):
        data.load_arrays("binarized_mnist", tmp_path, max_examples=0)
