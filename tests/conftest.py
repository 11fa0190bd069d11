import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TFPVAE_OFFLINE", "1")  # tests never download

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture
def shared_data() -> Path:
    """The real datasets beside the clone (CI has them); skip with the reason where absent."""
    if not (SHARED_DATA / "binarized_mnist" / "binarized_mnist.npz").exists():
        pytest.skip(f"real data not found at {SHARED_DATA} (integration test needs ../shared/data beside the clone)")
    return SHARED_DATA
