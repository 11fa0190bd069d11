"""A 2-process MultiWorkerMirroredStrategy run on localhost: trains, only the chief writes, resumes."""

import json
import os
import socket
import subprocess
import sys

import pytest

from helpers import write_tiny_binarized_mnist


def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("localhost", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _cluster(tiny_data, out, epochs, cwd):
    workers = [f"localhost:{p}" for p in _free_ports(2)]
    procs = []
    for index in range(2):
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": "",
               "TF_CONFIG": json.dumps({"cluster": {"worker": workers}, "task": {"type": "worker", "index": index}})}
        cmd = [sys.executable, "-m", "tfpvae.cli", "train", "--dataset", "binarized_mnist",
               "--data-dir", str(tiny_data),
               "--epochs", str(epochs), "--latent-dim", "4", "--hidden", "16", "--batch-size", "50", "--quiet",
               "--strategy", "multiworker", "--output", str(out)]
        procs.append(subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    results = []
    for p in procs:
        try:
            _, err = p.communicate(timeout=240)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("multi-worker run did not finish in 240 s")
        results.append((p.returncode, err))
    return results


def test_two_worker_cluster_trains_writes_on_the_chief_only_and_resumes(tmp_path):
    tiny_data = write_tiny_binarized_mnist(tmp_path / "data")
    out = tmp_path / "run"
    for code, err in _cluster(tiny_data, out, 1, tmp_path):
        assert code == 0, err[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["strategy"] == "multiworker" and metrics["replicas"] == 2 and metrics["status"] == "finished"
    assert (out / "samples.png").exists() and any((out / "checkpoints" / "latest").iterdir())
    leftovers = [p for p in tmp_path.iterdir() if p.name not in ("data", "run")]
    assert leftovers == []  # nothing else written beside the chief's directory
    for code, err in _cluster(tiny_data, out, 2, tmp_path):  # a restarted cluster resumes from the chief's checkpoint
        assert code == 0, err[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == 1 and [e["epoch"] for e in metrics["epochs"]] == [1, 2]
