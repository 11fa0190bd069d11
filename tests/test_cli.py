"""The command line: files a run writes, resume, sample/reconstruct from a saved run, clear errors."""

import json
import subprocess
import sys

import numpy as np
import pytest

from helpers import write_tiny_binarized_mnist
from tfpvae.cli import main


@pytest.fixture
def tiny_data(tmp_path):
    """A local data folder holding a tiny binarized_mnist (400/100/100 random digits-like images)."""
    return write_tiny_binarized_mnist(tmp_path / "data")


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


def test_a_training_holds_each_image_once(tiny_data, tmp_path, monkeypatch):
    """While it trains, the CLI holds the images only as the tensors its data objects use: the loaded
    numpy arrays are released, and every ``ArrayData`` gets a tensor (which it does not copy). The
    run kept the arrays and handed them over, holding every image twice (binarized MNIST: 55 MB)."""
    import gc
    import weakref

    import tensorflow as tf

    from tfpvae import data as tdata
    from tfpvae.runs import commands

    loaded, given, released = [], [], []
    load = tdata.load_arrays

    def load_arrays(*args, **kwargs):
        arrays = load(*args, **kwargs)
        loaded.extend(weakref.ref(a) for a in (arrays.train, arrays.valid, arrays.test))
        return arrays

    class ArrayData(tdata.ArrayData):
        def __init__(self, images, **kwargs):
            given.append(images)
            super().__init__(images, **kwargs)

    def fit(*args, **kwargs):
        gc.collect()
        released.append([ref() is None for ref in loaded])
        return commands_fit(*args, **kwargs)

    commands_fit = commands.fit
    monkeypatch.setattr(tdata, "load_arrays", load_arrays)
    monkeypatch.setattr(tdata, "ArrayData", ArrayData)
    monkeypatch.setattr(commands, "fit", fit)
    assert _train(tiny_data, tmp_path / "run", 1) == 0
    assert released == [[True, True, True]]
    assert len(given) >= 3 and all(isinstance(images, tf.Tensor) for images in given)


def test_vamp_prior_run_restores_its_learnt_pseudo_inputs(tiny_data, tmp_path):
    from tfpvae.runs import load_run
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
                                                ("--beta", "-1", "expected a number >= 0"),
                                                ("--max-examples", "0", "expected a positive int")])
def test_bad_flag_values_get_one_line_errors(flag, value, message):
    proc = subprocess.run([sys.executable, "-m", "tfpvae.cli", "train", flag, value], capture_output=True, text=True)
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_help_documents_every_flag():
    proc = subprocess.run([sys.executable, "-m", "tfpvae.cli", "train", "--help"], capture_output=True, text=True)
    for flag in ("--dataset", "--data-dir", "--latent-dim", "--architecture", "--hidden", "--epochs", "--batch-size",
                 "--learning-rate", "--beta", "--seed", "--output", "--flow", "--flow-steps", "--max-examples"):
        assert flag in proc.stdout


def test_missing_run_dir_is_a_clear_error(tmp_path, capsys):
    assert main(["sample", str(tmp_path / "nowhere")]) == 2
    assert "not a tfpvae run directory" in capsys.readouterr().err


def test_cli_defaults_are_runconfig_defaults():
    """One source of defaults: parsing no flags gives RunConfig(); conv/cifar10 resolve alike."""
    from tfpvae.cli import _parser, config_from_args
    from tfpvae.runs import RunConfig

    assert config_from_args(_parser().parse_args(["train"])) == RunConfig()
    args = _parser().parse_args(["train", "--architecture", "conv", "--dataset", "cifar10", "--flow", "iaf"])
    cli, direct = config_from_args(args), RunConfig(architecture="conv", dataset="cifar10", flow="iaf")
    assert cli == direct
    assert (direct.hidden, direct.likelihood, direct.binarize, direct.context_dim) == ((32, 64), "logistic", "none", 50)
    assert RunConfig(dataset="mnist").binarize == "dynamic" and RunConfig().binarize == "none"


@pytest.mark.parametrize("flags,message", [
    (["--objective", "iwae", "--beta", "0.5"], "the IWAE objective has no KL weight"),
    (["--objective", "iwae", "--warmup-epochs", "3"], "the IWAE objective has no KL weight"),
    (["--flow", "iaf", "--kl", "analytic"], "a flow posterior has no closed-form KL"),
    (["--prior", "mog", "--kl", "analytic"], "the mog prior has no closed-form KL"),
    (["--model", "ae", "--flow", "iaf"], "an autoencoder (--model ae) has no posterior"),
    (["--cpu-replicas", "2"], "--cpu-replicas splits the CPU for --strategy mirrored"),
    (["--dataset", "cifar10", "--binarize", "static"], "the discretized logistic likelihood scores 8-bit data"),
    (["--patience", "-1"], "expected a int >= 0"),
])
def test_combinations_that_cannot_work_are_refused(flags, message):
    proc = subprocess.run([sys.executable, "-m", "tfpvae.cli", "train", *flags, "--output", "/nonexistent/x"],
                          capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-800:]


def test_checkpoint_lists_variables_by_readable_paths_and_metrics_schema_is_one(tiny_data, tmp_path):
    import tensorflow as tf

    from tfpvae.runs.layout import METRICS_KEYS
    from tfpvae.training import checkpoint_keys

    out = tmp_path / "run"
    assert _train(tiny_data, out, 1, ("--prior", "mog", "--prior-components", "3")) == 0
    keys = checkpoint_keys(tf.train.latest_checkpoint(out / "checkpoints" / "latest"))
    model_keys = [k for k in keys if k.startswith("model/")]
    assert any(k.startswith("model/encoder/network/") for k in model_keys)
    assert any(k.startswith("model/decoder/network/") for k in model_keys)
    assert {"model/prior/components_fn/loc", "model/prior/components_fn/logits"} <= set(model_keys)
    assert not any(k.split("/")[1].isdigit() for k in model_keys)  # no positional keys
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(METRICS_KEYS) <= set(metrics) and metrics["status"] == "finished"
    assert metrics["strategy"] == "default" and metrics["replicas"] == 1 and metrics["skipped_batches"] == 0
    epoch = metrics["epochs"][-1]  # active units (Burda et al.) and the KL weight, per epoch
    assert 0 <= epoch["active_units"] <= 4 and epoch["beta"] == 1.0


def test_positional_checkpoint_of_tfpvae_0_1_fails_with_one_line(tiny_data, tmp_path, capsys):
    import tensorflow as tf

    from tfpvae.runs import RunConfig, build_model

    out = tmp_path / "old"
    assert _train(tiny_data, out, 1) == 0
    config = RunConfig.from_dict(json.loads((out / "config.json").read_text()))
    model = build_model(config)
    for name in ("latest", "best"):  # overwrite with the old layout: variables as an unnamed list
        for f in (out / "checkpoints" / name).iterdir():
            f.unlink()
        tf.train.CheckpointManager(tf.train.Checkpoint(model=list(model.trainable_variables)),
                                   out / "checkpoints" / name, 1).save()
    capsys.readouterr()
    assert main(["sample", str(out)]) == 2
    err = capsys.readouterr().err
    assert "positional checkpoint written by tfpvae 0.1" in err and len(err.strip().splitlines()) == 1


def test_mirrored_cli_run_on_two_logical_cpus(tiny_data, tmp_path):
    out = tmp_path / "mirrored"
    proc = subprocess.run([sys.executable, "-m", "tfpvae.cli", "train", "--dataset", "binarized_mnist", "--data-dir",
                           str(tiny_data), "--epochs", "1", "--latent-dim", "4", "--hidden", "16", "--batch-size", "50",
                           "--output", str(out), "--quiet", "--strategy", "mirrored", "--cpu-replicas", "2"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["strategy"] == "mirrored" and metrics["replicas"] == 2
    assert np.isfinite(metrics["final"]["test"]["elbo"])


def test_run_config_knows_every_dataset_the_data_package_loads():
    from tfpvae import data
    from tfpvae.runs.config import DATASETS

    assert set(DATASETS) == set(data.DATASETS)


def test_resume_with_other_training_settings_is_refused_with_the_differences(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tiny_data, out, 1) == 0
    capsys.readouterr()
    assert _train(tiny_data, out, 2, ("--learning-rate", "0.01")) == 2
    err = capsys.readouterr().err
    assert "learning_rate 0.001 -> 0.01" in err and "resuming would mix the two" in err
    assert _train(tiny_data, out, 2, ("--patience", "3")) == 0  # epochs and patience may change


def test_max_examples_trains_and_evaluates_on_the_first_images_of_each_split(tiny_data, tmp_path, capsys):
    out = tmp_path / "run"
    assert _train(tiny_data, out, 1, ("--max-examples", "60")) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["num_train"], metrics["num_validation"], metrics["num_test"]) == (60, 60, 60)
    assert metrics["data_source"].endswith("(first 60 of each split)") and metrics["config"]["max_examples"] == 60
    capsys.readouterr()
    assert _train(tiny_data, out, 2, ("--max-examples", "80")) == 2  # other data: not the same run
    assert "max_examples 60 -> 80" in capsys.readouterr().err
    assert main(["evaluate", str(out), "--num-samples", "5", "--chunk-size", "5"]) == 0
    assert json.loads((out / "evaluation.json").read_text())["num_examples"] == 60


def test_gif_tensorboard_and_every_plot_kind_from_a_run(tiny_data, tmp_path):
    from PIL import Image

    from tfpvae.plotting import PLOT_KINDS

    out = tmp_path / "run2d"
    assert _train(tiny_data, out, 2, ("--latent-dim", "2", "--gif", "--tensorboard", str(tmp_path / "tb"))) == 0
    assert sorted(p.name for p in (out / "frames").iterdir()) == ["epoch_0001.png", "epoch_0002.png"]
    with Image.open(out / "plots" / "gif.gif") as gif:
        assert gif.n_frames == 2  # exactly one frame per epoch
    assert any((tmp_path / "tb").rglob("events.out.tfevents.*"))
    kinds = [k for k in PLOT_KINDS if k != "attributes"] + ["gif"]
    for kind in kinds:
        assert main(["plot", str(out), "--kind", kind]) == 0, kind
    written = sorted(p.name for p in (out / "plots").iterdir())
    assert written == sorted(f"{k}.png" if k != "gif" else "gif.gif" for k in kinds)
    assert main(["plot", str(out), "--kind", "attributes"]) == 2  # binarized MNIST has no attribute labels


def test_plot_kinds_of_the_cli_are_the_library_s():
    from tfpvae.cli import _parser
    from tfpvae.plotting import PLOT_KINDS

    plot = _parser()._subparsers._group_actions[0].choices["plot"]
    kind = next(a for a in plot._actions if a.dest == "kind")
    assert set(kind.choices) == set(PLOT_KINDS) | {"gif"}
