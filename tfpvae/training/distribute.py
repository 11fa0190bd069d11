"""Strategies for :func:`tfpvae.fit`: any ``tf.distribute.Strategy``, plus the helpers the CLI uses.

``fit(..., strategy=s)`` runs each step under ``s.run`` with the dataset distributed by ``s``; the
batch size of the data is the *global* batch. Build the model (and the optimizer, if you pass one)
inside ``with s.scope():`` so its variables are mirrored; ``fit`` checks and names any variable
created outside. Only the chief of a multi-worker cluster writes files: :func:`is_chief` and
:func:`worker_directory` follow the ``tf.distribute`` convention (other workers write to a
temporary folder that is removed).
"""

from __future__ import annotations

import json
import os
import tempfile

import tensorflow as tf

__all__ = ["STRATEGIES", "configure_cpu_replicas", "make_strategy", "is_chief", "worker_directory", "num_replicas"]

STRATEGIES = ("default", "mirrored", "multiworker")


def configure_cpu_replicas(n: int) -> list:
    """Split the (first) CPU into ``n`` logical devices so a ``MirroredStrategy`` has ``n`` replicas
    on a machine without accelerators. Must run before TensorFlow's first op (a clear error if not)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"cpu_replicas must be a positive integer, got {n!r}")
    cpu = tf.config.list_physical_devices("CPU")[0]
    wanted = [tf.config.LogicalDeviceConfiguration() for _ in range(n)]
    try:
        tf.config.set_logical_device_configuration(cpu, wanted)
    except RuntimeError as err:
        current = tf.config.get_logical_device_configuration(cpu)
        if current is not None and len(current) == n:
            return tf.config.list_logical_devices("CPU")
        raise ValueError(f"cpu_replicas={n}: TensorFlow is already initialised with "
                         f"{len(tf.config.list_logical_devices('CPU'))} CPU device(s); set it before any op") from err
    return tf.config.list_logical_devices("CPU")


def make_strategy(name: str = "default", cpu_replicas: int = 0) -> tf.distribute.Strategy:
    """The strategy the CLI's ``--strategy`` names.

    ``default``: the current strategy (one device). ``mirrored``: every visible GPU, else (with
    ``cpu_replicas`` > 1) that many logical CPU devices. ``multiworker``: a
    ``MultiWorkerMirroredStrategy`` over the cluster in ``TF_CONFIG``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    if cpu_replicas and name == "default":
        raise ValueError("cpu_replicas needs strategy 'mirrored' (or 'multiworker')")
    if cpu_replicas:
        configure_cpu_replicas(cpu_replicas)
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] or [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if "TF_CONFIG" not in os.environ:
        raise ValueError("strategy 'multiworker' reads the cluster from the TF_CONFIG environment variable, "
                         "which is not set (see README: Training on several machines)")
    try:
        json.loads(os.environ["TF_CONFIG"])
    except json.JSONDecodeError as err:
        raise ValueError(f"TF_CONFIG is not valid JSON: {err}") from None
    return tf.distribute.MultiWorkerMirroredStrategy()


def num_replicas(strategy: tf.distribute.Strategy | None = None) -> int:
    return (strategy or tf.distribute.get_strategy()).num_replicas_in_sync


def is_chief(strategy: tf.distribute.Strategy | None = None) -> bool:
    """True unless this process is a non-chief worker of a multi-worker cluster."""
    strategy = strategy or tf.distribute.get_strategy()
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not getattr(resolver, "task_type", None):
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    if task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return task_type == "worker" and task_id == 0 and not has_chief


def worker_directory(directory, strategy: tf.distribute.Strategy | None = None) -> str:
    """``directory`` for the chief; a fresh temporary folder for every other worker (they must still
    write checkpoints, since saving is collective, but their copies are thrown away)."""
    if is_chief(strategy):
        return str(directory)
    return tempfile.mkdtemp(prefix="tfpvae_worker_")
