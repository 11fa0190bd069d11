"""Honest data sources (issue 13): the source asked for or an error, the shipped data, corrupt files.

Proves: a data folder that was given (argument or TFPVAE_DATA_DIR) and lacks the dataset is a
one-line `DataUnavailableError` naming the folder and the expected files, and no other source is
touched; the embedded binarized MNIST is the complete official set (checksums, split sizes, and equal
to `shared/data` when present); the MNIST sample is balanced, random and equal to the rows it names;
truncated / random-bytes / pickled npz and IDX files give one-line `DataFileError`s naming the file,
never numpy's advice to enable pickle; `check_support` refuses data a decoder cannot score.
"""

import gzip
import hashlib
import importlib.resources
import os
import struct
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from tfpvae import data  # noqa: E402
from tfpvae.data import sources, tfds_source  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
EMBEDDED = REPO / "tfpvae" / "data" / "_embedded"
BINARIZED_SHA256 = {
    "train": "43490d4d6ac9002727af4426d8748609fdb7e4094fa65ad8d681ea60082a7a5a",
    "valid": "069b4f0beb389b776478c3e872b4df71c95ac4be64d7cbe6d32e24ebac8e6d5e",
    "test": "ca0294c3b8d984c7a1dc891015a8eea6f37bae59a34e35ea0fc8c47110a8dd86",
}


@pytest.fixture(autouse=True)
def offline(no_downloads):
    """Every test here runs with conftest's `no_downloads`."""


@pytest.fixture
def no_other_source(monkeypatch):
    """Any use of the embedded data or tfds fails the test."""
    def forbidden(*args, **kwargs):
        raise AssertionError("a source that was not asked for was used")
    monkeypatch.setattr(sources, "load_embedded", forbidden)
    monkeypatch.setattr(tfds_source, "load_tfds", forbidden)


def one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


# ------------------------------------------------------- a folder that was asked for


@pytest.mark.parametrize("name,expected", [
    ("binarized_mnist", "binarized_mnist.npz"), ("mnist", "train-images-idx3-ubyte.gz"),
    ("cifar10", "cifar10.npz")])
def test_missing_folder_argument_is_an_error_naming_folder_and_file(tmp_path, no_other_source, name, expected):
    folder = tmp_path / "typo"
    with pytest.raises(data.DataUnavailableError) as err:
        data.load_arrays(name, folder)
    msg = one_line(err)
    assert f"data_dir={folder}" in msg and "does not exist" in msg
    assert f"{folder / name}/" in msg and expected in msg
    assert "no other source was tried" in msg


def test_missing_folder_from_environment_is_an_error(tmp_path, monkeypatch, no_other_source):
    monkeypatch.setenv("TFPVAE_DATA_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(data.DataUnavailableError, match="TFPVAE_DATA_DIR=.*nowhere does not hold it") as err:
        data.load_arrays("binarized_mnist")
    one_line(err)


def test_folder_holding_other_datasets_is_an_error_not_the_embedded_copy(tmp_path, no_other_source):
    (tmp_path / "mnist").mkdir()
    with pytest.raises(data.DataUnavailableError) as err:
        data.load_arrays("binarized_mnist", tmp_path)
    msg = one_line(err)
    assert f"{tmp_path} has no binarized_mnist/ subfolder" in msg and "binarized_mnist.npz" in msg


def test_subfolder_without_the_file_names_the_file(tmp_path, no_other_source):
    (tmp_path / "binarized_mnist").mkdir()
    with pytest.raises(data.DataUnavailableError, match="binarized_mnist is missing binarized_mnist.npz"):
        data.load_arrays("binarized_mnist", tmp_path)


def test_environment_folder_is_used_when_it_holds_the_data(tmp_path, monkeypatch, no_other_source):
    (tmp_path / "binarized_mnist").mkdir()
    split = np.eye(2, 784, dtype=np.uint8)
    np.savez(tmp_path / "binarized_mnist" / "binarized_mnist.npz", train=split, valid=split, test=split)
    monkeypatch.setenv("TFPVAE_DATA_DIR", str(tmp_path))
    d = data.load_arrays("binarized_mnist")
    assert d.source == f"local:{tmp_path / 'binarized_mnist' / 'binarized_mnist.npz'}" and not d.embedded
    assert d.train.shape == (2, 28, 28, 1) and d.train[1, 0, 1, 0] == 1


def test_tfds_asked_for_and_unavailable_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "load_embedded", lambda *a: pytest.fail("embedded used"))
    with pytest.raises(data.DataUnavailableError, match="tfds was asked for") as err:
        data.load_arrays("binarized_mnist", tfds_data_dir=tmp_path / "tfds")
    assert "not prepared" in one_line(err)


# ------------------------------------------------------------ what the package ships


def test_package_data_covers_the_embedded_files():
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"tfpvae.data" = ["_embedded/*"]' in pyproject
    shipped = importlib.resources.files("tfpvae.data").joinpath("_embedded")
    names = {p.name for p in shipped.iterdir()}
    assert {"binarized_mnist.npz", "mnist_sample.npz", "LICENSE.md"} <= names
    assert (EMBEDDED / "binarized_mnist.npz").stat().st_size < 2_400_000  # bit-packed
    licence = (EMBEDDED / "LICENSE.md").read_text()
    for digest in BINARIZED_SHA256.values():
        assert digest in licence
    with np.load(EMBEDDED / "binarized_mnist.npz", allow_pickle=False) as f:
        assert f["train"].shape == (50000, 98) and f["train"].dtype == np.uint8


def test_embedded_binarized_mnist_is_the_complete_set():
    d = sources.load_embedded("binarized_mnist")
    for split, digest in BINARIZED_SHA256.items():
        flat = getattr(d, split).reshape(-1, 784)
        assert hashlib.sha256(flat.tobytes()).hexdigest() == digest, split
    assert (len(d.train), len(d.valid), len(d.test)) == (50000, 10000, 10000)


@pytest.mark.skipif(not (SHARED_DATA / "binarized_mnist").is_dir(), reason="shared data absent")
def test_embedded_binarized_mnist_equals_shared_copy():
    d = sources.load_embedded("binarized_mnist")
    with np.load(SHARED_DATA / "binarized_mnist" / "binarized_mnist.npz") as f:
        for split in ("train", "valid", "test"):
            np.testing.assert_array_equal(getattr(d, split).reshape(-1, 784), f[split])


@pytest.mark.skipif(not (SHARED_DATA / "mnist").is_dir(), reason="shared data absent")
def test_mnist_sample_rows_are_the_rows_it_names():
    from tfpvae.data.idx import read_idx
    full = data.load_arrays("mnist", SHARED_DATA)
    with np.load(EMBEDDED / "mnist_sample.npz") as f:
        train_index, test_index = f["train_index"], f["test_index"]
    sample = sources.load_embedded("mnist")
    np.testing.assert_array_equal(sample.train, full.train[train_index])
    np.testing.assert_array_equal(sample.test_labels, full.test_labels[test_index])
    assert len(set(train_index.tolist())) == 3000 and len(set(test_index.tolist())) == 1000
    # Random across the file, not the first rows: indices cover the whole range.
    assert train_index.min() < 1000 and train_index.max() > 59000 and np.median(train_index) > 20000
    assert read_idx(SHARED_DATA / "mnist" / "t10k-labels-idx1-ubyte.gz").shape == (10000,)


# --------------------------------------------------------------------- corrupt files


def _valid_npz_bytes(tmp_path) -> bytes:
    path = tmp_path / "ok.npz"
    split = np.zeros((3, 784), np.uint8)
    np.savez_compressed(path, train=split, valid=split, test=split)
    return path.read_bytes()


def _corrupt_npz(kind, tmp_path) -> bytes | None:
    good = _valid_npz_bytes(tmp_path)
    rng = np.random.default_rng(0)
    if kind == "truncated":
        return good[: len(good) // 2]
    if kind == "random":
        return rng.integers(0, 256, 4096, np.uint8).tobytes()
    if kind == "empty":
        return b""
    if kind == "zip_random_body":
        return good[:30] + rng.integers(0, 256, len(good) - 30, np.uint8).tobytes()
    if kind == "pickled":
        path = tmp_path / "pickled.npz"
        obj = np.empty(1, object)
        obj[0] = {"a": 1}
        np.savez(path, train=obj, valid=obj, test=obj)
        return path.read_bytes()
    if kind == "missing_arrays":
        path = tmp_path / "partial.npz"
        np.savez(path, train=np.zeros((1, 784), np.uint8))
        return path.read_bytes()
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["truncated", "random", "empty", "zip_random_body", "pickled",
                                  "missing_arrays"])
def test_corrupt_npz_is_a_one_line_error_naming_the_file(tmp_path, kind):
    folder = tmp_path / "data" / "binarized_mnist"
    folder.mkdir(parents=True)
    path = folder / "binarized_mnist.npz"
    path.write_bytes(_corrupt_npz(kind, tmp_path))
    with pytest.raises(data.DataFileError) as err:
        data.load_arrays("binarized_mnist", tmp_path / "data")
    msg = one_line(err)
    assert str(path) in msg and err.value.path == str(path)
    assert "allow_pickle" not in msg and isinstance(err.value, ValueError)


def test_directory_in_place_of_npz_names_it(tmp_path):
    (tmp_path / "cifar10" / "cifar10.npz").mkdir(parents=True)
    with pytest.raises(data.DataFileError, match="cifar10.npz is not a regular file") as err:
        data.load_arrays("cifar10", tmp_path)
    one_line(err)


def _idx_bytes(array, magic) -> bytes:
    header = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.tobytes()


def _write_mnist(folder: Path, images_bytes: bytes, gz: bool = True):
    folder.mkdir(parents=True, exist_ok=True)
    labels = _idx_bytes(np.zeros(2, np.uint8), 2049)
    test = _idx_bytes(np.zeros((2, 28, 28), np.uint8), 2051)
    for stem, payload in (("train-labels-idx1-ubyte", labels), ("t10k-labels-idx1-ubyte", labels),
                          ("t10k-images-idx3-ubyte", test)):
        (folder / f"{stem}.gz").write_bytes(gzip.compress(payload))
    target = folder / ("train-images-idx3-ubyte.gz" if gz else "train-images-idx3-ubyte")
    target.write_bytes(images_bytes)
    return target


@pytest.mark.parametrize("kind,gz,match", [
    ("truncated_gzip", True, "truncated or corrupt gzip"),
    ("gzip_random_body", True, "truncated or corrupt gzip"),
    ("random", True, "not an IDX file"),
    ("truncated_payload", False, "truncated or corrupt"),
    ("truncated_header", False, "truncated or invalid header"),
    ("zero_dims", False, "magic number 2048, expected 2051"),
])
def test_corrupt_idx_is_a_one_line_error_naming_the_file(tmp_path, kind, gz, match):
    rng = np.random.default_rng(1)
    good = _idx_bytes(rng.integers(0, 256, (2, 28, 28), np.uint8), 2051)
    payload = {
        "truncated_gzip": gzip.compress(good)[:200],
        "gzip_random_body": b"\x1f\x8b" + rng.integers(0, 256, 500, np.uint8).tobytes(),
        "random": b"\x07" + rng.integers(0, 256, 500, np.uint8).tobytes(),
        "truncated_payload": good[:-100],
        "truncated_header": good[:9],
        "zero_dims": b"\x00\x00\x08\x00",
    }[kind]
    path = _write_mnist(tmp_path / "mnist", payload, gz)
    with pytest.raises(data.DataFileError, match=match) as err:
        data.load_arrays("mnist", tmp_path)
    assert str(path) in one_line(err)


def test_read_idx_refuses_a_header_without_dimensions(tmp_path):
    from tfpvae.data.idx import read_idx
    path = tmp_path / "zero-dims"
    path.write_bytes(b"\x00\x00\x08\x00")
    with pytest.raises(data.DataFileError, match="zero-dims has a truncated or invalid header"):
        read_idx(path)
    with pytest.raises(data.DataFileError, match="cannot be read"):
        read_idx(tmp_path / "absent")


# ------------------------------------------------------------------- support checks


def test_check_support_bernoulli_accepts_binary_and_warns_on_grey_levels():
    binary = np.array([[0, 1], [1, 0]], np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert data.check_support(binary, "bernoulli", "toy") == "binary {0, 1}"
        assert data.check_support(binary.astype(np.float32), "bernoulli", "toy") == "binary {0, 1}"
        grey = np.array([[0, 255], [51, 0]], np.uint8)
        assert data.check_support(grey, "bernoulli", "toy", binarize="dynamic") == "binary {0, 1}"
    with pytest.warns(data.GreyLevelWarning, match=r"check_support: toy .* 0\.2 \(first at example 1, "
                                                   r"element 0; 1 of 4 values\).*binarize"):
        assert data.check_support(grey, "bernoulli", "toy") == "grey levels in [0, 1]"
    with pytest.warns(data.GreyLevelWarning, match=r"0\.25 \(first at example 0, element 1"):
        data.check_support(np.array([[1.0, 0.25]]), "bernoulli", "floats")


@pytest.mark.parametrize("likelihood", ["bernoulli", "continuous_bernoulli"])
def test_check_support_refuses_0_255_floats_for_unit_interval_likelihoods(likelihood):
    x = np.array([[0.0, 17.0], [255.0, 3.0]], np.float32)
    with pytest.raises(ValueError, match=rf"check_support: mnist train for a {likelihood} likelihood: values "
                                         r"must lie in \[0, 1\], found 17\.0 \(first at example 0, element 1; "
                                         r"3 of 4 values\): these look like 0\.\.255 intensities") as err:
        data.check_support(x, likelihood, "mnist train")
    one_line(err)
    with pytest.raises(ValueError, match=r"found -0\.5"):
        data.check_support(np.array([0.2, -0.5]), likelihood, "neg")


@pytest.mark.parametrize("likelihood", ["bernoulli", "gaussian", "logistic", "continuous_bernoulli"])
def test_check_support_refuses_non_finite_values(likelihood):
    x = np.zeros((3, 4), np.float32)
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match=r"toy for a .* likelihood: non-finite value nan \(first at example 2, "
                                         r"element 1"):
        data.check_support(x, likelihood, "toy")
    x[2, 1] = np.inf
    with pytest.raises(ValueError, match="non-finite value inf"):
        data.check_support(x, likelihood, "toy")


def test_check_support_discretized_logistic_needs_the_8_bit_lattice():
    assert data.check_support(np.arange(256, dtype=np.uint8).reshape(4, 64), "logistic", "u8") == "8-bit lattice"
    lattice = (np.arange(256) / 255.0).astype(np.float32)
    assert data.check_support(lattice, "discretized_logistic", "k/255") == "8-bit lattice"
    with pytest.raises(ValueError, match=r"256-level lattice .* found 0\.5 \(first at example 1"):
        data.check_support(np.array([0.0, 0.5, 1.0]), "logistic", "mid")
    with pytest.raises(ValueError, match=r"values must lie in \[0, 1\], found 200 .*0\.\.255 values"):
        data.check_support(np.array([0, 200], np.int64), "logistic", "ints")
    assert data.check_support(np.array([0, 200], np.int64), "logistic", "ints", data_range=(0, 255)) == \
        "8-bit lattice"


def test_check_support_takes_range_and_bins_from_a_decoder_head():
    from tfpvae.distributions import BernoulliHead, DiscretizedLogisticHead
    head = DiscretizedLogisticHead((2,), data_range=(-1.0, 1.0))
    on = np.array([-1.0, -1 + 2 / 255, 1.0], np.float32)
    assert data.check_support(on, head, "pm1") == "8-bit lattice"
    with pytest.raises(ValueError, match=r"lattice of \[-1, 1\]"):
        data.check_support(on[:2] + 1 / 255, head, "pm1")  # half a bin off: between lattice points
    with pytest.raises(ValueError, match="bernoulli likelihood"):
        data.check_support(np.array([2.0]), BernoulliHead((1,)), "head")


def test_check_support_gaussian_and_argument_errors():
    assert data.check_support(np.array([-3.0, 1e6]), "gaussian", "real") == "real-valued"
    with pytest.raises(ValueError, match="likelihood must be one of"):
        data.check_support(np.zeros(2), "poisson", "x")
    with pytest.raises(ValueError, match="binarize must be"):
        data.check_support(np.zeros(2), "bernoulli", "x", binarize="yes")
    with pytest.raises(ValueError, match="non-empty numeric array"):
        data.check_support(np.zeros((0, 3)), "bernoulli", "x")


def test_check_support_on_the_shipped_data():
    import tensorflow as tf
    binarized = data.load_arrays("binarized_mnist")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert data.check_support(binarized.train, "bernoulli", "binarized_mnist train") == "binary {0, 1}"
        assert data.check_support(tf.constant(binarized.test[:10]), "bernoulli", "t") == "binary {0, 1}"
    with pytest.warns(data.EmbeddedSampleWarning):
        mnist = data.load_arrays("mnist")
    assert data.check_support(mnist.train, "logistic", "mnist train") == "8-bit lattice"
    with pytest.warns(data.GreyLevelWarning, match="mnist train"):
        data.check_support(mnist.train, "bernoulli", "mnist train")


# ------------------------------------------------------------ the offline first run


@pytest.mark.slow
def test_offline_demo_without_a_data_folder_reproduces_the_benchmark(tmp_path):
    """`make demo` on a fresh offline machine without ../shared: the shipped full binarized MNIST,
    10 epochs of the 784-200-200-50 VAE, test ELBO >= -112 (measured -111.2, ~2.5 min on 2 busy cores)."""
    import json
    import subprocess
    import sys
    env = {k: v for k, v in os.environ.items() if k != "TFPVAE_DATA_DIR"}
    env.update(TFPVAE_OFFLINE="1", TFDS_DATA_DIR=str(tmp_path / "no_tfds"))
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "tfpvae.cli", "train", "--dataset", "binarized_mnist", "--epochs",
                           "10", "--output", str(out), "--quiet"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=1800)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "embedded: full statically binarized MNIST" in proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data_source"] == sources.EMBEDDED_SOURCES["binarized_mnist"]
    assert metrics["num_train"] == 50000 and metrics["num_test"] == 10000
    assert metrics["final"]["test"]["elbo"] >= -112.0, metrics["final"]
