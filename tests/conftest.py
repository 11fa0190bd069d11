import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TFPVAE_OFFLINE", "1")  # tests never download
os.environ.setdefault("TFPVAE_AUTO_JIT", "0")  # fit(jit_compile="auto") stays uncompiled: tests pass True to test XLA

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def no_downloads(monkeypatch, tmp_path):
    """Data tests never touch the network: TFPVAE_OFFLINE=1, no TFPVAE_DATA_DIR, an empty tfds
    folder, and a reachability check that fails the test if called."""
    from tfpvae.data import tfds_source

    monkeypatch.setenv("TFPVAE_OFFLINE", "1")
    monkeypatch.delenv("TFPVAE_DATA_DIR", raising=False)
    monkeypatch.setenv("TFDS_DATA_DIR", str(tmp_path / "empty_tfds"))

    def no_network(*args, **kwargs):
        raise AssertionError("test tried a network reachability check")
    monkeypatch.setattr(tfds_source, "host_reachable", no_network)


@pytest.fixture
def shared_data() -> Path:
    """The real datasets beside the clone (CI has them); skip with the reason where absent."""
    if not (SHARED_DATA / "binarized_mnist" / "binarized_mnist.npz").exists():
        pytest.skip(f"real data not found at {SHARED_DATA} (integration test needs ../shared/data beside the clone)")
    return SHARED_DATA
