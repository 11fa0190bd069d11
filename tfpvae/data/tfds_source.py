"""tensorflow-datasets source, used only when it can work without hanging.

Offline, `tfds.load` retries a download for minutes, so before calling it we
decide quickly: the dataset is already prepared in the tfds data dir (no
network needed), or downloading is allowed (`TFPVAE_OFFLINE` unset and, for
`download="auto"`, the tfds GCS host completes a verified TLS handshake and
the dataset's download host accepts a connection, each within
`CONNECT_TIMEOUT_S`).
"""

from __future__ import annotations

import functools
import os
import socket
import ssl
import threading
import urllib.parse
from pathlib import Path

from tfpvae.data.info import DataArrays, dataset_info, make_arrays
from tfpvae.data.sources import SourceUnavailable

__all__ = ["offline_forced", "host_reachable", "default_tfds_data_dir",
           "is_prepared", "load_tfds", "GCS_HOST", "CONNECT_TIMEOUT_S"]

GCS_HOST = "storage.googleapis.com"
CONNECT_TIMEOUT_S = 2.0
_TRUE = ("1", "true", "yes", "on")


def offline_forced() -> bool:
    """True when the environment variable `TFPVAE_OFFLINE` is 1/true/yes/on."""
    return os.environ.get("TFPVAE_OFFLINE", "").strip().lower() in _TRUE


@functools.lru_cache(maxsize=None)
def host_reachable(host: str, port: int = 443,
                   timeout: float = CONNECT_TIMEOUT_S) -> str:
    """Returns "" if `host:port` answers within `timeout`, else the reason.

    Port 443 requires a verified TLS handshake for `host`: a bare TCP connect
    is not enough evidence, since intercepting proxies accept any connection.
    Runs in a daemon thread so that a hanging DNS lookup (not covered by the
    socket timeout) cannot block longer than `timeout`. Cached per process, so
    repeated loads pay the timeout at most once.
    """
    result = []

    def connect():
        try:
            with socket.create_connection((host, port), timeout=timeout) as sock:
                if port == 443:
                    ssl.create_default_context().wrap_socket(
                        sock, server_hostname=host).close()
            result.append("")
        except (OSError, ssl.SSLError) as e:
            result.append(f"({e})")

    thread = threading.Thread(target=connect, daemon=True)
    thread.start()
    thread.join(timeout)
    if result and not result[0]:
        return ""
    detail = result[0] if result else "(timed out)"
    return f"{host}:{port} unreachable within {timeout:g} s {detail}"


def _url_host_port(url: str):
    parts = urllib.parse.urlsplit(url)
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)


def default_tfds_data_dir() -> Path:
    """`$TFDS_DATA_DIR`, else `~/tensorflow_datasets` (the tfds default)."""
    return Path(os.environ.get("TFDS_DATA_DIR")
                or "~/tensorflow_datasets").expanduser()


def is_prepared(name: str, tfds_data_dir) -> bool:
    """True if `<tfds_data_dir>/<name>/<version>/dataset_info.json` exists."""
    return any(Path(tfds_data_dir).glob(f"{name}/*/dataset_info.json"))


def _check_can_load(name: str, download, data_dir: Path) -> bool:
    """Returns whether tfds must download; raises SourceUnavailable if unable."""
    if is_prepared(name, data_dir):
        return False
    where = f"tfds: {name} is not prepared in {data_dir}"
    if offline_forced():
        raise SourceUnavailable(f"{where} and TFPVAE_OFFLINE=1 forbids download")
    if download is False:
        raise SourceUnavailable(f"{where} and download=False")
    if download == "auto":
        targets = ((GCS_HOST, 443), _url_host_port(dataset_info(name).download_url))
        for host, port in dict.fromkeys(targets):
            reason = host_reachable(host, port)
            if reason:
                raise SourceUnavailable(f"{where} and {reason}")
    return True


def load_tfds(name: str, *, download="auto", tfds_data_dir=None) -> DataArrays:
    """Loads the full dataset with `tfds.load(..., batch_size=-1)`.

    Args:
      name: One of `KNOWN_DATASETS` (same names as in tfds).
      download: "auto" (download if the hosts are reachable), True (always try),
        False (only use data already prepared).
      tfds_data_dir: tfds data dir; default `default_tfds_data_dir()`.

    Raises:
      SourceUnavailable: tfds cannot provide the data (reason in the message).
    """
    data_dir = Path(tfds_data_dir or default_tfds_data_dir()).expanduser()
    must_download = _check_can_load(name, download, data_dir)
    try:
        import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top
    except ImportError as e:
        raise SourceUnavailable(f"tfds: tensorflow-datasets not installed ({e})")
    source = f"tfds:{data_dir}"
    common = dict(batch_size=-1, data_dir=str(data_dir), download=must_download)
    try:
        if name == "binarized_mnist":  # Unlabelled; feature "image" only.
            splits = tfds.load(name, split=["train", "validation", "test"], **common)
            train, valid, test = (tfds.as_numpy(s)["image"] for s in splits)
            y_train = y_test = None
        else:
            splits = tfds.load(name, split=["train", "test"], as_supervised=True,
                               **common)
            (train, y_train), (test, y_test) = (tfds.as_numpy(s) for s in splits)
            valid = None
    except Exception as e:  # tfds raises many types (IO, DownloadError, ...).
        raise SourceUnavailable(
            f"tfds: tfds.load({name!r}) failed: {type(e).__name__}: {e}") from e
    return make_arrays(name, source, train, test, y_train, y_test, valid)
