"""Reader for the IDX format of MNIST / Fashion-MNIST (optionally gzipped).

Format: magic `0x00 0x00 <dtype code> <ndim>` (2051 = uint8 images with 3 dims,
2049 = uint8 labels with 1 dim), then `ndim` big-endian uint32 sizes, then the
data in row-major order.

References:
  LeCun et al. (1998); the format is described at yann.lecun.com/exdb/mnist.
"""

from __future__ import annotations

import gzip
import os
import zlib

import numpy as np

from tfpvae.data.info import DataFileError

__all__ = ["read_idx", "IMAGES_MAGIC", "LABELS_MAGIC"]

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
_UBYTE = 0x08


def read_idx(path: os.PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Reads an IDX file (gzip detected from its first bytes) as uint8.

    Args:
      path: File path, `.gz` or raw.
      expected_magic: If given, 2051 (images) or 2049 (labels); a different
        magic number raises DataFileError.

    Returns:
      uint8 array: [N, 28, 28] for images, [N] for labels.

    Raises:
      DataFileError (a ValueError): one line naming `path`: unreadable, truncated
        or corrupt gzip stream, bad magic number, non-uint8 data, or a payload
        whose size differs from the header's shape.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DataFileError(path, f"cannot be read ({e.strerror or e})") from None
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise DataFileError(path, f"is a truncated or corrupt gzip file ({type(e).__name__}: {e}); "
                                      "replace it") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataFileError(path, "is not an IDX file (bad header)")
    magic = int.from_bytes(data[:4], "big")
    if data[2] != _UBYTE:
        raise DataFileError(path, f"has dtype code {data[2]:#04x}, expected 0x08 (unsigned byte)")
    if expected_magic is not None and magic != expected_magic:
        raise DataFileError(path, f"has magic number {magic}, expected {expected_magic}")
    ndim = data[3]
    offset = 4 + 4 * ndim
    if ndim < 1 or len(data) < offset:
        raise DataFileError(path, f"has a truncated or invalid header ({ndim} dimensions, {len(data)} bytes)")
    shape = tuple(int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim))
    size = int(np.prod(shape, dtype=np.int64))
    if len(data) - offset != size:
        raise DataFileError(path, f"header says shape {shape} ({size} bytes) but holds {len(data) - offset} "
                                  "bytes (truncated or corrupt)")
    return np.frombuffer(data, np.uint8, offset=offset).reshape(shape)
