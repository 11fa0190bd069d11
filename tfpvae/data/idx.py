"""Reader for the IDX format of MNIST / Fashion-MNIST (optionally gzipped).

Format: magic `0x00 0x00 <dtype code> <ndim>` (2051 = uint8 images with 3 dims,
2049 = uint8 labels with 1 dim), then `ndim` big-endian uint32 sizes, then the
data in row-major order.
"""

from __future__ import annotations

import gzip
import os

import numpy as np

__all__ = ["read_idx", "IMAGES_MAGIC", "LABELS_MAGIC"]

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_UBYTE = 0x08


def read_idx(path: os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Reads an IDX file (gzip detected from its first bytes) as uint8.

    Args:
      path: File path, `.gz` or raw.
      expected_magic: If given, 2051 (images) or 2049 (labels); a different
        magic number raises ValueError.

    Returns:
      uint8 array: [N, 28, 28] for images, [N] for labels.

    Raises:
      ValueError: Bad magic number, non-uint8 data or truncated payload.
    """
    with open(path, "rb") as f:
        data = f.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"read_idx: {path} is not an IDX file (bad header)")
    magic = int.from_bytes(data[:4], "big")
    if data[2] != _UBYTE:
        raise ValueError(f"read_idx: {path} has dtype code {data[2]:#04x}, "
                         f"expected 0x08 (unsigned byte)")
    if expected_magic is not None and magic != expected_magic:
        raise ValueError(f"read_idx: {path} has magic number {magic}, expected "
                         f"{expected_magic}")
    ndim = data[3]
    offset = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big")
                  for i in range(ndim))
    size = int(np.prod(shape)) if shape else 0
    if len(data) - offset != size:
        raise ValueError(f"read_idx: {path} header says shape {shape} "
                         f"({size} bytes) but holds {len(data) - offset} bytes")
    return np.frombuffer(data, np.uint8, offset=offset).reshape(shape)
