"""Property tests for tfpvae.flows, driven by a registry of flow stacks (adding a flow is one line)."""
import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

from tfpvae import flows
from tfpvae.testing import assert_bijector_ok, assert_sample_and_log_prob_consistent, perturb_variables

tfb, tfd = tfp.bijectors, tfp.distributions

D, C, B, H = 4, 3, 5, (8, 8)  # event size, context width, batch, hidden units
CONTEXT = tf.random.stateless_normal([B, C], seed=[7, 7])


def _chain_with_permutations():
    """A hand-built stack mixing step kinds (applied bottom-up, as tfb.Chain does)."""
    return tfb.Chain([flows.realnvp(D, num_steps=1, hidden_units=H, seed=20),
                      tfb.Permute([2, 0, 3, 1]),
                      flows.iaf(D, num_steps=1, hidden_units=H, gated=True, seed=21),
                      tfb.Permute([3, 2, 1, 0]),
                      flows.maf(D, num_steps=1, hidden_units=H, seed=22)])


FLOW_REGISTRY = {
    "iaf": lambda: flows.iaf(D, hidden_units=H, seed=0),
    "gated_iaf": lambda: flows.iaf(D, hidden_units=H, gated=True, forget_bias=2.0, seed=1),
    "conditional_iaf": lambda: flows.iaf(D, hidden_units=H, context_dim=C, permutation="random", seed=2),
    "conditional_gated_iaf": lambda: flows.iaf(D, hidden_units=H, context_dim=C, gated=True, seed=3),
    "conditional_iaf_context_all_layers": lambda: flows.iaf(D, hidden_units=H, context_dim=C, context_layers="all",
                                                            seed=10),
    "maf": lambda: flows.maf(D, hidden_units=H, permutation="random", seed=4),
    "realnvp": lambda: flows.realnvp(5, num_steps=3, hidden_units=H, seed=5),
    "conditional_realnvp": lambda: flows.realnvp(D, hidden_units=H, context_dim=C, seed=6),
    "spline_coupling": lambda: flows.spline(D, hidden_units=H, num_bins=4, seed=7),
    "spline_autoregressive": lambda: flows.spline(D, hidden_units=H, num_bins=4, layout="maf", seed=8),
    "conditional_spline_iaf": lambda: flows.spline(D, hidden_units=H, layout="iaf", context_dim=C, seed=9),
    "chain_with_permutations": _chain_with_permutations,
}
CONDITIONAL = [name for name in FLOW_REGISTRY if name.startswith("conditional")]


def _make(name):
    """(bijector, event_size, flow): conditional flows bound to CONTEXT, variables perturbed (seeded)."""
    flow = FLOW_REGISTRY[name]()
    perturb_variables(flow, scale=0.05, seed=11)
    bijector = flow.bind(CONTEXT) if flows.is_conditional(flow) else flow
    return bijector, getattr(flow, "event_size", D), flow


@pytest.mark.parametrize("name", FLOW_REGISTRY)
def test_bijector_properties(name):
    bijector, size, _ = _make(name)
    assert_bijector_ok(bijector, size, batch=B, seed=3, autoregressive=True)


# Graph mode too, for a core subset covering every step kind but splines: tracing the gradient of a
# rational-quadratic spline (and of MAF's tf.while_loop) costs seconds per Jacobian, too slow for CI.
@pytest.mark.parametrize("name", ["iaf", "gated_iaf", "conditional_iaf", "conditional_realnvp",
                                  "chain_with_permutations"])
def test_bijector_properties_in_tf_function(name):
    bijector, size, _ = _make(name)
    assert_bijector_ok(bijector, size, batch=B, seed=3, autoregressive=True, in_tf_function=True)


@pytest.mark.parametrize("name", FLOW_REGISTRY)
def test_sample_and_log_prob_consistent(name):
    bijector, size, _ = _make(name)
    q = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros([B, size])), bijector)
    assert_sample_and_log_prob_consistent(q, seed=[1, 2], sample_shape=(2,))


@pytest.mark.parametrize("name", FLOW_REGISTRY)
def test_variables_exist_at_construction_and_sizes_are_attributes(name):
    flow = FLOW_REGISTRY[name]()
    assert flow.trainable_variables, "variables must exist before the first call"
    if name == "chain_with_permutations":
        return
    assert flow.event_size == (5 if name == "realnvp" else D)
    assert flow.context_dim == (C if name in CONDITIONAL else 0)
    assert isinstance(flow, flows.ConditionalFlow) == (name in CONDITIONAL)
    if name in CONDITIONAL:
        assert len(flow.networks) == 2
        bound = flow.bind(CONTEXT)
        assert {id(v) for v in bound.trainable_variables} == {id(v) for v in flow.trainable_variables}


@pytest.mark.parametrize("name", CONDITIONAL)
def test_bind_checks_context(name):
    flow = FLOW_REGISTRY[name]()
    with pytest.raises(ValueError, match=r"width 4.*context_dim = 3"):
        flow.bind(tf.zeros([B, C + 1]))
    with pytest.raises(ValueError, match="context_dim = 3"):
        flow.bind(None)


def test_context_changes_the_map_and_broadcasts_over_samples():
    flow = flows.iaf(D, hidden_units=H, context_dim=C, seed=0)
    z = tf.random.stateless_normal([2, B, D], seed=[0, 1])  # [samples, batch, event]
    y1, y2 = flow.bind(CONTEXT).forward(z), flow.bind(CONTEXT + 1.0).forward(z)
    assert y1.shape == (2, B, D)
    assert np.max(np.abs(y1 - y2)) > 1e-3


def test_unconditional_flow_object_rejects_context():
    flow = flows.ConditionalFlow([flows.made(D, 2, H)], flows.maf_step, event_size=D)
    assert isinstance(flow.bind(), tfb.Bijector)
    with pytest.raises(ValueError, match=r"width 3.*context_dim = 0"):
        flow.bind(CONTEXT)


def test_validate():
    flows.validate(flows.iaf(D, hidden_units=H), latent_dim=D)
    flows.validate(flows.iaf(D, hidden_units=H, context_dim=C), latent_dim=D, context_dim=C)
    flows.validate(tfb.Exp(), latent_dim=7)  # no event_size: only the context is checked
    with pytest.raises(ValueError, match=r"event_size 4, expected latent_dim = 6"):
        flows.validate(flows.maf(D, hidden_units=H), latent_dim=6)
    with pytest.raises(ValueError, match=r"context_dim = 3.*width 5"):
        flows.validate(flows.iaf(D, hidden_units=H, context_dim=C), latent_dim=D, context_dim=5)
    with pytest.raises(ValueError, match=r"context_dim = 0.*width 3"):
        flows.validate(tfb.Exp(), latent_dim=D, context_dim=C)
    with pytest.raises(TypeError, match="bind"):
        flows.validate("iaf", latent_dim=D)


def test_factory_argument_errors():
    with pytest.raises(ValueError, match="needs a seed"):
        flows.iaf(D, hidden_units=H, permutation="random")
    with pytest.raises(ValueError, match="permutation"):
        flows.maf(D, hidden_units=H, permutation="shuffle")
    with pytest.raises(ValueError, match="layout"):
        flows.spline(D, hidden_units=H, layout="spiral")
    with pytest.raises(ValueError, match="num_masked is 4"):
        flows.realnvp(D, hidden_units=H, num_masked=4)
    with pytest.raises(ValueError, match="context_layers must be one of"):
        flows.iaf(D, hidden_units=H, context_dim=C, context_layers="middle")


def test_seed_makes_construction_reproducible():
    a, b = flows.iaf(D, hidden_units=H, seed=3), flows.iaf(D, hidden_units=H, seed=3)
    for u, v in zip(a.trainable_variables, b.trainable_variables):
        np.testing.assert_array_equal(u.numpy(), v.numpy())
    assert not np.array_equal(a.trainable_variables[0].numpy(), flows.iaf(D, hidden_units=H, seed=4)
                              .trainable_variables[0].numpy())


def test_gated_iaf_stays_finite_for_large_inputs():
    bijector = flows.iaf(D, hidden_units=H, gated=True, seed=0)
    x = tf.random.stateless_normal([B, D], seed=[0, 3]) * 1e4
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(bijector.forward(x) ** 2) - tf.reduce_sum(
            bijector.forward_log_det_jacobian(x, event_ndims=1))
    grads = tape.gradient(loss, bijector.trainable_variables)
    assert np.all(np.isfinite(loss)) and all(np.all(np.isfinite(g)) for g in grads)


@pytest.mark.parametrize("factory, cheap", [
    (lambda: flows.iaf(6, hidden_units=H, context_dim=C, seed=0), "sample"),
    (lambda: flows.spline(6, hidden_units=H, layout="iaf", seed=0), "sample"),
    (lambda: flows.maf(6, hidden_units=H, seed=0), "density"),
], ids=["iaf", "spline_iaf", "maf"])
def test_network_passes_match_documented_cost(monkeypatch, factory, cheap):
    """IAF: sample + log q without inverting (O(1) passes per step), density of a given point D passes."""
    flow = factory()
    bijector = flow.bind(CONTEXT) if flows.is_conditional(flow) else flow
    q = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros([B, 6])), bijector)
    z, _ = q.experimental_sample_and_log_prob(seed=[0, 1])
    calls, call = [], flows.ConditionedNetwork.__call__
    monkeypatch.setattr(flows.ConditionedNetwork, "__call__",
                        lambda self, *a, **k: calls.append(1) or call(self, *a, **k))
    q.experimental_sample_and_log_prob(seed=[0, 2])
    sample_passes = len(calls)
    q.log_prob(tf.identity(z))
    density_passes = len(calls) - sample_passes
    cheap_passes, costly_passes = (sample_passes, density_passes) if cheap == "sample" else (density_passes,
                                                                                             sample_passes)
    assert cheap_passes <= 2 * 2, (sample_passes, density_passes)  # 2 steps, <= 2 passes each
    assert costly_passes >= 6 * 2, (sample_passes, density_passes)  # 2 steps, D = 6 passes each


@pytest.mark.parametrize("name, direction", [
    ("iaf", "sample"), ("gated_iaf", "sample"), ("conditional_iaf", "sample"), ("conditional_gated_iaf", "sample"),
    ("conditional_spline_iaf", "sample"), ("maf", "density"), ("spline_autoregressive", "density")])
def test_log_det_reuses_the_transform_pass_in_a_graph(monkeypatch, name, direction):
    """In a compiled step the log-det costs no extra network pass: sample + log q (IAF-like) or
    log_prob (MAF-like) run each step's network exactly as often as the transform alone. (Coupling
    layers are left out: TFP's RealNVP slices its input afresh for the log-det, so they pay twice.)"""
    bijector, size, _ = _make(name)
    q = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros([B, size])), bijector)
    z = q.sample(seed=[0, 1]) if direction == "density" else None
    passes, run = [], flows.ConditionedNetwork._call
    monkeypatch.setattr(flows.ConditionedNetwork, "_call", lambda self, x: passes.append(1) or run(self, x))

    def count(fn):
        del passes[:]
        tf.function(fn).get_concrete_function()  # trace only: one entry per network pass in the graph
        return len(passes)

    if direction == "sample":
        transform = count(lambda: bijector.forward(tf.zeros([B, size])))
        with_log_det = count(lambda: q.experimental_sample_and_log_prob(seed=[0, 2]))
    else:
        transform = count(lambda: bijector.inverse(z))
        with_log_det = count(lambda: q.log_prob(z))
    assert transform >= 1 and with_log_det == transform, (transform, with_log_det)


def test_bind_and_sample_inside_tf_function_matches_eager():
    """What a compiled training step does: bind, sample with log q, differentiate w.r.t. the flow."""
    flow = FLOW_REGISTRY["conditional_gated_iaf"]()

    def log_q(context):
        with tf.GradientTape() as tape:
            q = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros([B, D])), flow.bind(context))
            _, log_prob = q.experimental_sample_and_log_prob(2, seed=[3, 4])
            loss = -tf.reduce_mean(log_prob)
        return log_prob, tape.gradient(loss, flow.trainable_variables)

    (eager, eager_grads), (graph, graph_grads) = log_q(CONTEXT), tf.function(log_q)(CONTEXT)
    assert eager.shape == (2, B)
    np.testing.assert_allclose(graph, eager, atol=1e-5)
    assert all(g is not None for g in graph_grads)
    for g, e in zip(graph_grads, eager_grads):
        np.testing.assert_allclose(g, e, atol=1e-5)


def test_flow_prior():
    prior = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros(D), tf.ones(D)),
                                        flows.maf(D, hidden_units=H, seed=0))
    z = prior.sample(7, seed=[0, 4])
    assert z.shape == (7, D) and prior.log_prob(z).shape == (7,)
    assert_sample_and_log_prob_consistent(prior, seed=[0, 5])


# The checks themselves must fail when they should.
class _Broken(tfb.Bijector):
    """y = 2x with a wrong log-det ("offset"), a batch-summed one ("batch_sum") or a wrong inverse."""

    def __init__(self, mode):
        self.mode = mode
        super().__init__(forward_min_event_ndims=1, parameters=dict(mode=mode), name="broken")

    def _forward(self, x):
        return 2.0 * x

    def _inverse(self, y):
        return (0.4 if self.mode == "bad_inverse" else 0.5) * y

    def _forward_log_det_jacobian(self, x):
        ldj = tf.fill(tf.shape(x)[:-1], tf.cast(tf.shape(x)[-1], x.dtype) * np.log(2.0).astype(np.float32))
        return {"offset": ldj + 1.0, "batch_sum": tf.reduce_sum(ldj)}.get(self.mode, ldj)

    def _inverse_log_det_jacobian(self, y):
        return -tf.fill(tf.shape(y)[:-1], tf.cast(tf.shape(y)[-1], y.dtype) * np.log(2.0).astype(np.float32))


def test_checks_catch_broken_bijectors():
    with pytest.raises(AssertionError, match=r"log\|det"):
        assert_bijector_ok(_Broken("offset"), D)
    with pytest.raises(AssertionError, match="shape"):
        assert_bijector_ok(_Broken("batch_sum"), D)
    with pytest.raises(AssertionError, match="identity"):
        assert_bijector_ok(tfb.Identity(), D)
    full = tf.linalg.LinearOperatorFullMatrix(tf.eye(D) + 0.3 * tf.ones([D, D]))
    with pytest.raises(AssertionError, match="not lower triangular"):
        assert_bijector_ok(tfb.ScaleMatvecLinearOperator(full), D, autoregressive=True)
    with pytest.raises(AssertionError, match="no gradient"):
        assert_bijector_ok(flows.maf(D, hidden_units=H, seed=0), D, variables=[tf.Variable(1.0)])
    with pytest.raises(AssertionError, match="round trip"):
        assert_bijector_ok(_Broken("bad_inverse"), D)
    q = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros([B, D])), _Broken("bad_inverse"))
    with pytest.raises(AssertionError, match="sample_and_log_prob vs log_prob"):
        assert_sample_and_log_prob_consistent(q, seed=[0, 1])


def test_perturb_variables_keeps_made_masks():
    """A zero-initialised MAF is the identity; perturbing keeps it autoregressive (masks are constraints)."""
    made = tfb.AutoregressiveNetwork(params=2, event_shape=[D], hidden_units=list(H),
                                     kernel_initializer="zeros")
    made(tf.zeros([1, D]))
    bijector = flows.ConditionalFlow([made], flows.maf_step, event_size=D).bind()
    with pytest.raises(AssertionError, match="identity"):
        assert_bijector_ok(bijector, D)
    perturb_variables(made, scale=0.3, seed=1)
    assert_bijector_ok(bijector, D, autoregressive=True)


def test_made_masks_survive_a_keras_optimizer_step():
    """MADE masks are kernel *constraints*: the optimizer (Keras 3 here) must re-apply them after updates."""
    bijector = flows.iaf(D, num_steps=1, hidden_units=H, seed=0)
    optimizer, x = keras.optimizers.Adam(0.1), tf.random.stateless_normal([16, D], seed=[0, 1])
    for _ in range(2):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.reduce_sum(bijector.forward(x) ** 2, -1)
                                  - bijector.forward_log_det_jacobian(x, event_ndims=1))
        optimizer.apply_gradients(zip(tape.gradient(loss, bijector.trainable_variables),
                                      bijector.trainable_variables))
    assert_bijector_ok(bijector, D, autoregressive=True, check_gradients=False)
