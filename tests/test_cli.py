"""The command line: files a run writes, resume, sample/reconstruct from a saved run, clear errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from tfpvae.cli import main


@pytest.fixture
def tiny_data(tmp_path):
    """A local data folder holding a tiny binarized_mnist (400/100/100 random digits-like images)."""
    rng = np.random.default_rng(0)
    folder = tmp_path / "data" / "binarized_mnist"
    folder.mkdir(parents=True)
    make = lambda n: (rng.random((n, 784)) < 0.15).astype(np.uint8)
    np.savez_compressed(folder / "binarized_mnist.npz", train=make(400), valid=make(100), test=make(100))
    return tmp_path / "data"


def _train(tiny_data, out, epochs, extra=()):
    return main(["train", "--dataset", "binarized_mnist", "--data-dir", str(tiny_data), "--epochs", str(epochs),
                 "--latent-dim", "4", "--hidden", "16", "--batch-size", "50", "--output", str(out), "--quiet", *extra])


def test_train_writes_metrics_pictures_checkpoints_and_resumes(tiny_data, tmp_path):
    out = tmp_path / "run"
    assert _train(tiny_data, out, 1) == 0
    for name in ("metrics.json", "samples.png", "reconstructions.png", "config.json"):
        assert (out / name).exists(), name
    assert any((out / "checkpoints" / "latest").iterdir())
    assert _train(tiny_data, out, 2) == 0  # continues from epoch 1
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["resumed_from_epoch"] == 1
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2]
    epoch = metrics["epochs"][-1]
    for split in ("train", "validation", "test"):
        assert {"elbo", "log_likelihood", "kl", "loss"} <= set(epoch[split])
    assert epoch["seconds"] > 0 and epoch["examples_per_second"] > 0
    assert metrics["config"]["latent_dim"] == 4 and metrics["final"]["epoch"] == 2
    assert metrics["data_source"].startswith("local:")
    (out / "samples.png").unlink()
    assert main(["sample", str(out), "--num", "16"]) == 0 and (out / "samples.png").exists()
    assert main(["reconstruct", str(out), "--num", "10"]) == 0
    assert main(["evaluate", str(out), "--num-samples", "50", "--chunk-size", "20", "--limit", "30"]) == 0
    report = json.loads((out / "evaluation.json").read_text())
    assert report["num_examples"] == 30 and report["num_samples"] == 50
    assert report["test_nll_nats"] <= -report["test_elbo"] + 1.0  # the K=50 bound is at least as tight as the ELBO
    assert report["bits_per_dim"] is None and "bernoulli" in report["bits_per_dim_note"]
    assert report["seconds"] > 0 and report["peak_memory_mb"] > 0


def test_vamp_prior_run_restores_its_learnt_pseudo_inputs(tiny_data, tmp_path):
    from tfpvae.app import load_run
    from tfpvae.runs import build_model

    out = tmp_path / "vamp"
    assert _train(tiny_data, out, 1, ("--prior", "vamp", "--prior-components", "6", "--flow", "iaf")) == 0
    config, trained = load_run(out, "latest")
    assert config.prior == "vamp" and config.prior_components == 6
    fresh = build_model(config)
    assert not np.allclose(fresh.prior.pseudo_inputs.numpy(), trained.prior.pseudo_inputs.numpy())  # learnt and saved
    assert main(["evaluate", str(out), "--num-samples", "20", "--limit", "10"]) == 0
    report = json.loads((out / "evaluation.json").read_text())
    assert np.isfinite(report["test_nll_nats"]) and report["test_nll_nats"] <= -report["test_elbo"] + 1.0


def test_resume_refuses_a_different_model(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tiny_data, out, 1) == 0
    assert main(["train", "--dataset", "binarized_mnist", "--data-dir", str(tiny_data), "--epochs", "2",
                 "--latent-dim", "5", "--hidden", "16", "--output", str(out), "--quiet"]) == 2
    assert "latent_dim" in capsys.readouterr().err


@pytest.mark.parametrize("flag,value,message", [("--epochs", "-3", "expected a positive int"),
                                                ("--hidden", "200,x", "comma-separated positive integers"),
                                                ("--architecture", "rnn", "invalid choice"),
                                                ("--beta", "-1", "expected a number >= 0")])
def test_bad_flag_values_get_one_line_errors(flag, value, message):
    proc = subprocess.run([sys.executable, "-m", "tfpvae.cli", "train", flag, value], capture_output=True, text=True)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_help_documents_every_flag():
    proc = subprocess.run([sys.executable, "-m", "tfpvae.cli", "train", "--help"], capture_output=True, text=True)
    for flag in ("--dataset", "--data-dir", "--latent-dim", "--architecture", "--hidden", "--epochs", "--batch-size",
                 "--learning-rate", "--beta", "--seed", "--output", "--flow", "--flow-steps"):
        assert flag in proc.stdout


def test_missing_run_dir_is_a_clear_error(tmp_path, capsys):
    assert main(["sample", str(tmp_path / "nowhere")]) == 2
    assert "not a tfpvae run directory" in capsys.readouterr().err
