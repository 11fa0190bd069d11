"""Tabular pipelines and the UCI loader: standard splits, training-only statistics, original units."""

import numpy as np
import pytest

from tfpvae import data


def test_standardizer_round_trip_and_zero_spread_columns():
    values = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    stats = data.Standardizer.fit(values)
    z = stats.transform(values)
    np.testing.assert_allclose(z[:, 0], [-1.2247449, 0.0, 1.2247449], rtol=1e-6)
    np.testing.assert_array_equal(z[:, 1], 0.0)  # constant column: scale 1, not a division by 0
    np.testing.assert_allclose(stats.inverse(z), values, rtol=1e-6)


def test_make_tabular_dataset_is_a_permutation_fixed_by_seed_and_epoch():
    x, y = np.arange(20, dtype="float32").reshape(10, 2), np.arange(10, dtype="float32")[:, None]

    def order(**kw):
        return np.concatenate([b[1].numpy()[:, 0] for b in data.make_tabular_dataset(x, y, 3, **kw)])

    assert sorted(order(seed=0, epoch=1)) == list(range(10))
    np.testing.assert_array_equal(order(seed=0, epoch=1), order(seed=0, epoch=1))
    assert not np.array_equal(order(seed=0, epoch=1), order(seed=0, epoch=2))
    np.testing.assert_array_equal(order(shuffle=False), np.arange(10))
    with pytest.raises(ValueError, match="same length"):
        data.make_tabular_dataset(x, y[:5], 3)


@pytest.mark.parametrize("name,n_train,n_test,features,splits", [("boston", 455, 51, 13, 20),
                                                                  ("yacht", 277, 31, 6, 20)])
def test_uci_standard_splits_normalised_on_the_training_part(shared_data, name, n_train, n_test, features, splits):
    if not (shared_data / "uci").exists():
        pytest.skip("no uci/ in the shared data folder")
    assert data.uci_num_splits(name, shared_data) == splits
    split = data.load_uci(name, 3, shared_data)
    assert split.x_train.shape == (n_train, features) and split.x_test.shape == (n_test, features)
    assert split.y_train.shape == (n_train, 1) and split.x_train.dtype == np.float32
    np.testing.assert_allclose(split.x_train.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(split.y_train.std(), 1.0, rtol=1e-5)
    # Back to original units: the raw targets of the test rows of split 3.
    folder = data.uci_path(name, shared_data)
    raw = np.loadtxt(folder / "data.txt")
    test_rows = np.loadtxt(folder / "index_test_3.txt", dtype=int)
    target = int(np.loadtxt(folder / "index_target.txt"))
    np.testing.assert_allclose(split.y_stats.inverse(split.y_test)[:, 0], raw[test_rows, target], rtol=1e-5)
    # A validation part is carved from the training split only, and the statistics come from the rest.
    tuned = data.load_uci(name, 3, shared_data, validation_fraction=0.2)
    assert len(tuned.x_valid) + len(tuned.x_train) == n_train and len(tuned.x_test) == n_test
    np.testing.assert_allclose(tuned.x_train.mean(0), 0.0, atol=1e-5)
    np.testing.assert_allclose(tuned.y_stats.inverse(tuned.y_test), split.y_stats.inverse(split.y_test), rtol=1e-5)


def test_uci_errors_name_the_expected_values(shared_data):
    with pytest.raises(ValueError, match="unknown UCI dataset 'mnist'"):
        data.load_uci("mnist", 0, shared_data)
    if (shared_data / "uci").exists():
        with pytest.raises(ValueError, match=r"split must be an int in \[0, 5\)"):
            data.load_uci("protein", 5, shared_data)
