"""Nothing lost: a run killed at any moment resumes to the uninterrupted result; a corrupt or
missing checkpoint piece falls back to the previous good one; Ctrl-C stops after a saved epoch;
one training per output folder."""

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest

from helpers import write_tiny_binarized_mnist
from tfpvae.cli import main

EPOCHS = 12


def _cmd(data, out, epochs=EPOCHS):
    return [sys.executable, "-m", "tfpvae.cli", "train", "--dataset", "binarized_mnist", "--data-dir", str(data),
            "--epochs", str(epochs), "--latent-dim", "4", "--hidden", "16", "--batch-size", "25", "--quiet",
            "--output", str(out)]


def _env():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}


def _record(out):
    metrics = json.loads((out / "metrics.json").read_text())
    return [{k: e[k] for k in ("epoch", "train", "validation", "test")} for e in metrics["epochs"]], metrics


def _weights(out):
    from tfpvae.runs import load_run

    _, model = load_run(out, "latest")
    return [v.numpy() for v in model.trainable_variables]


def _checkpoints(out):
    """The newest epoch checkpoint's number (0 if none). Not a count of files: latest/ keeps two, so
    a count stops changing after the second save, and a fast run would end before it could be killed."""
    folder = out / "checkpoints" / "latest"
    return max((int(p.stem.split("-")[-1]) for p in folder.glob("ckpt-*.index")), default=0)


def test_sigkill_at_random_moments_resumes_to_the_uninterrupted_result(tmp_path):
    data = write_tiny_binarized_mnist(tmp_path / "data")
    reference = tmp_path / "reference"
    subprocess.run(_cmd(data, reference), check=True, env=_env(), capture_output=True)
    rng = random.Random(0)
    out, kills = tmp_path / "killed", 0
    for attempt in range(8):  # kill right after a new checkpoint appears, or inside its write
        proc = subprocess.Popen(_cmd(data, out), env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        before, deadline = _checkpoints(out), time.time() + 120
        while proc.poll() is None and time.time() < deadline and _checkpoints(out) == before:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.15))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
        if kills >= 4:
            break
    assert kills >= 3, "the runs finished before they could be killed"
    subprocess.run(_cmd(data, out), check=True, env=_env(), capture_output=True)  # resume to the end
    got, metrics = _record(out)
    want, _ = _record(reference)
    assert [e["epoch"] for e in got] == list(range(1, EPOCHS + 1)) and metrics["status"] == "finished"
    assert got == want  # every epoch's metrics, bit for bit
    for a, b in zip(_weights(out), _weights(reference)):
        np.testing.assert_array_equal(a, b)
    assert not list(out.rglob(".*.tmp*")) and not (out / ".lock").exists()


def test_corrupt_newest_checkpoint_falls_back_and_a_missing_state_file_is_not_a_restart(tmp_path, capsys):
    data = write_tiny_binarized_mnist(tmp_path / "data")
    out = tmp_path / "run"
    args = ["train", "--dataset", "binarized_mnist", "--data-dir", str(data), "--latent-dim", "4", "--hidden", "16",
            "--batch-size", "50", "--quiet", "--output", str(out)]
    assert main([*args, "--epochs", "2"]) == 0
    latest = out / "checkpoints" / "latest"
    (latest / "checkpoint").unlink()  # the state file is gone: the checkpoints are still found
    assert main([*args, "--epochs", "3"]) == 0
    assert json.loads((out / "metrics.json").read_text())["resumed_from_epoch"] == 2
    for f in latest.glob("ckpt-3.data-*"):  # the newest one is damaged: the previous one is used
        f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2])
    capsys.readouterr()
    assert main([*args, "--epochs", "4"]) == 0
    assert "ckpt-3 is unreadable" in capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == 2 and [e["epoch"] for e in metrics["epochs"]] == [1, 2, 3, 4]
    for f in latest.glob("ckpt-*.data-*"):  # nothing readable left: an error, never a silent restart
        f.write_bytes(b"garbage")
    assert main([*args, "--epochs", "5"]) == 2
    assert "no readable checkpoint" in capsys.readouterr().err


def test_ctrl_c_stops_after_the_current_step_saves_and_resumes(tmp_path):
    data = write_tiny_binarized_mnist(tmp_path / "data")
    out = tmp_path / "run"
    proc = subprocess.Popen(_cmd(data, out, epochs=500), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    deadline = time.time() + 120
    while _checkpoints(out) == 0 and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert "SIGINT received: stopping after the current step" in err and "run the same command to resume" in err
    record, metrics = _record(out)
    assert metrics["status"] == "stopped" and 1 <= len(record) < 500
    stopped_at = len(record)
    subprocess.run(_cmd(data, out, epochs=stopped_at + 1), check=True, env=_env(), capture_output=True)
    record, metrics = _record(out)
    assert metrics["resumed_from_epoch"] == stopped_at and len(record) == stopped_at + 1


def test_an_output_folder_in_use_is_refused_and_a_stale_lock_is_taken_over(tmp_path, capsys):
    data = write_tiny_binarized_mnist(tmp_path / "data")
    out = tmp_path / "run"
    out.mkdir()
    (out / ".lock").write_text(f"{socket.gethostname()} {os.getpid()}\n")  # a live process holds it
    args = ["train", "--dataset", "binarized_mnist", "--data-dir", str(data), "--latent-dim", "4", "--hidden", "16",
            "--epochs", "1", "--quiet", "--output", str(out)]
    assert main(args) == 2
    assert "is in use by another training" in capsys.readouterr().err
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / ".lock").write_text(f"{socket.gethostname()} {dead.stdout.strip()}\n")  # its process is gone
    assert main(args) == 0 and not (out / ".lock").exists()


@pytest.mark.parametrize("output_kind", ["a file", "inside a file"])
def test_bad_output_folders_get_one_line_errors(tmp_path, capsys, output_kind):
    data = write_tiny_binarized_mnist(tmp_path / "data")
    (tmp_path / "afile").write_text("x")
    out = tmp_path / "afile" if output_kind == "a file" else tmp_path / "afile" / "run"
    args = ["train", "--dataset", "binarized_mnist", "--data-dir", str(data), "--epochs", "1", "--quiet",
            "--output", str(out)]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot create the run directory" in err[0]
