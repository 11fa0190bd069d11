"""Flows inside the VAE: every stack trains through the ELBO, log q per example, clear construction errors."""

import numpy as np
import pytest
import tensorflow as tf

import tfpvae
from helpers import assert_one_step_trains_every_variable, record_jit_compile
from tfpvae.runs import FLOWS, RunConfig, build_model


@pytest.mark.parametrize("flow", [f for f in FLOWS if f != "none"])
def test_every_flow_variable_changes_after_one_step(flow):
    config = RunConfig(latent_dim=4, hidden=(16,), flow=flow, flow_steps=2, flow_hidden=(16,),
                       context_dim=6 if flow in ("iaf", "gated_iaf") else 0, event_shape=(12,))
    vae = build_model(config)
    variables = vae.trainable_variables
    flow_vars = tfpvae.trainable_variables(vae.posterior_flow)
    assert flow_vars and all(any(w is v for v in variables) for w in flow_vars)
    x = tf.constant((np.random.default_rng(0).random((16, 12)) < 0.3).astype("float32"))
    assert_one_step_trains_every_variable(vae, x, label=flow)


def test_flow_log_q_is_per_example_and_matches_log_prob():
    vae = build_model(RunConfig(latent_dim=3, hidden=(8,), flow="iaf", flow_hidden=(8,), context_dim=4,
                                event_shape=(5,)))
    tfpvae.testing.perturb_variables(vae.posterior_flow, scale=0.3, seed=1)
    q = vae.encode(tf.ones([7, 5]))
    z, log_q = q.experimental_sample_and_log_prob(2, seed=[0, 3])
    assert log_q.shape == (2, 7)
    np.testing.assert_allclose(log_q, q.log_prob(tf.identity(z)), atol=1e-3)  # inverting the IAF: test only


def test_wrong_sizes_fail_at_construction():
    with pytest.raises(ValueError, match="event_size 5, expected latent_dim = 4"):
        tfpvae.mlp_vae((12,), latent_dim=4, hidden=(8,), posterior_flow=tfpvae.flows.iaf(5, hidden_units=(8,)))
    with pytest.raises(ValueError, match="context_dim = 3, but the encoder emits a context of width 6"):
        tfpvae.mlp_vae((12,), latent_dim=4, hidden=(8,), context_dim=6,
                       posterior_flow=tfpvae.flows.iaf(4, hidden_units=(8,), context_dim=3))


@pytest.mark.parametrize("layout", ["maf"])  # coupling and iaf splines train in the registry tests
def test_spline_posteriors_train_inside_the_compiled_step(layout):
    """A MAF-layout spline posterior samples in TFP's tf.while_loop: it crashed inside fit with a
    loop-shape error while working eagerly."""
    flow = tfpvae.flows.spline(4, num_steps=2, hidden_units=(16,), layout=layout, seed=0)
    vae = tfpvae.mlp_vae((16,), latent_dim=4, hidden=(8,), posterior_flow=flow)
    x = (np.random.default_rng(0).random((64, 16)) < 0.3).astype(np.float32)
    state = tfpvae.fit(vae, tfpvae.ELBO(kl="monte_carlo"), tf.data.Dataset.from_tensor_slices(x).batch(16), epochs=2)
    assert all(np.isfinite(h["train"]["loss"]) for h in state.history)


@pytest.mark.parametrize("flow", FLOWS)
def test_every_flow_trains_in_the_xla_loop_auto_picks_for_array_data(monkeypatch, flow):
    """What users run by default: ``ArrayData`` and ``jit_compile="auto"`` compile the whole loop
    with XLA for these dense models (the test suite otherwise runs with auto off). A flow that XLA
    cannot convert fails here rather than in a user's first step (a MAF posterior on a tf.data
    pipeline did; with a fixed batch size every flow compiles)."""
    monkeypatch.setenv("TFPVAE_AUTO_JIT", "1")
    compiled = record_jit_compile(monkeypatch)
    config = RunConfig(latent_dim=4, hidden=(16,), flow=flow, flow_steps=2, flow_hidden=(16,),
                       context_dim=6 if flow in ("iaf", "gated_iaf") else 0, event_shape=(12,))
    x = (np.random.default_rng(0).random((70, 12)) < 0.3).astype(np.uint8)  # 70: a smaller last batch
    state = tfpvae.fit(build_model(config), tfpvae.ELBO(kl="monte_carlo"), tfpvae.data.ArrayData(x, batch_size=32),
                       epochs=2)
    assert compiled == [True]
    assert all(np.isfinite(h["train"]["loss"]) for h in state.history)
