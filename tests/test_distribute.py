"""tf.distribute: 2 logical CPU replicas give one device's update; each replica draws its own noise."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import tensorflow as tf

import tfpvae
from tfpvae.training import make_strategy

HERE = Path(__file__).resolve().parent


def _run_checks(mode: str) -> dict:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run([sys.executable, str(HERE / "distributed_checks.py"), mode], capture_output=True, text=True,
                          timeout=300, env=env, cwd=HERE)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_mirrored_two_cpu_replicas_match_one_device():
    result = _run_checks("mirrored")
    assert result["replicas"] == 2
    # stated tolerance: float32 reduction order differs between 2 replicas and one device
    assert result["regression_max_abs_diff"] < 1e-5
    assert result["regression_loss"][0] == pytest.approx(result["regression_loss"][1], rel=1e-5)
    assert result["vae_max_abs_diff"] < 1e-5
    assert result["bayesian_layers_max_abs_diff"] < 1e-5  # Flipout/reparameterization layers, KL / N per example
    assert result["same_noise_loss_differs"]


def test_strategy_arguments_are_checked():
    with pytest.raises(ValueError, match="strategy must be one of"):
        make_strategy("tpu")
    with pytest.raises(ValueError, match="cpu_replicas needs strategy 'mirrored'"):
        make_strategy("default", cpu_replicas=2)
    env_before = os.environ.pop("TF_CONFIG", None)
    try:
        with pytest.raises(ValueError, match="reads the cluster from the TF_CONFIG"):
            make_strategy("multiworker")
    finally:
        if env_before is not None:
            os.environ["TF_CONFIG"] = env_before


def test_variables_created_outside_the_scope_are_refused():
    strategy = tf.distribute.OneDeviceStrategy("/cpu:0")
    vae = tfpvae.mlp_vae((4,), latent_dim=2, hidden=(4,))  # built outside strategy.scope()
    with pytest.raises(ValueError, match="created outside the strategy's scope"):
        tfpvae.fit(vae, tfpvae.ELBO(), tf.data.Dataset.from_tensors(tf.zeros([2, 4])), epochs=1, strategy=strategy)
