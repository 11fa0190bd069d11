"""An uncompiled step applies its optimizer update as one XLA computation under ``jit_compile="auto"``
when it trains many parameters: the same training, step by step, and only where it applies."""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfpvae
from tfpvae.data import ArrayData
from tfpvae.training import fit
from tfpvae.training import compilation
from tfpvae.training import step as step_module
from tfpvae.training.compilation import resolve_update_compile
from tfpvae.training.step import make_train_step


def _labelled(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.random((n, 6)).astype(np.float32)
    return x, (x[:, 0] > x[:, 1]).astype(np.int64)


def _bnn():
    return keras.Sequential([keras.Input((6,)), tfpvae.layers.DenseFlipout(8, activation="relu"),
                             tfpvae.layers.DenseReparameterization(3), tfpvae.distributions.CategoricalHead(3)])


def _auto(monkeypatch):
    """``"auto"`` as outside the test suite, with the update compiled for these tiny models too."""
    monkeypatch.setenv("TFPVAE_AUTO_JIT", "1")
    monkeypatch.setattr(compilation, "UPDATE_COMPILE_MIN_PARAMETERS", 0)


def _spy_on_compiled_update(monkeypatch) -> list[int]:
    """A list that gets the variable count of every trace of the compiled update."""
    traced = []
    original = step_module._CompiledUpdate.__call__
    monkeypatch.setattr(step_module._CompiledUpdate, "__call__",
                        lambda self, pairs: traced.append(len(pairs)) or original(self, pairs))
    return traced


def _train_bnn(monkeypatch, jit_compile, epochs=3, expect_compiled_update=None, **kw):
    _auto(monkeypatch)
    traced = _spy_on_compiled_update(monkeypatch)
    keras.utils.set_random_seed(0)
    model = _bnn()
    x, y = _labelled()
    state = fit(model, tfpvae.objectives.BayesianELBO(num_examples=len(x)), ArrayData(x, labels=y, batch_size=32),
                epochs=epochs, optimizer=keras.optimizers.Adam(1e-2), jit_compile=jit_compile,
                steps_per_execution=2, **kw)
    if expect_compiled_update is not None:
        assert bool(traced) == expect_compiled_update
    return [h["train"]["loss"] for h in state.history], [v.numpy() for v in model.trainable_variables]


def _xla_functions(concrete) -> list[str]:
    """Names of the functions in ``concrete``'s library that XLA must compile."""
    library = concrete.graph.as_graph_def().library.function
    return [f.signature.name for f in library if f.attr["_XlaMustCompile"].b]


def test_auto_compiles_the_update_of_an_uncompiled_step_that_trains_many_parameters(monkeypatch):
    monkeypatch.setenv("TFPVAE_AUTO_JIT", "1")
    one = tf.distribute.get_strategy()
    big = [tf.Variable(tf.zeros([500, 500]))]  # 250,000 values: the threshold
    small = [tf.Variable(tf.zeros([499, 500]))]
    assert resolve_update_compile("auto", False, big, one) is True
    assert resolve_update_compile("auto", False, small, one) is False
    assert resolve_update_compile("auto", True, big, one) is False  # the whole step is XLA already
    assert resolve_update_compile(False, False, big, one) is False  # False compiles nothing
    assert resolve_update_compile(True, True, big, one) is False
    two_replicas = types.SimpleNamespace(num_replicas_in_sync=2)  # the rule reads only the replica count
    assert resolve_update_compile("auto", False, big, two_replicas) is False
    monkeypatch.setenv("TFPVAE_AUTO_JIT", "0")
    assert resolve_update_compile("auto", False, big, one) is False


def test_a_bayesian_net_trains_the_same_with_the_compiled_update(monkeypatch):
    """Same losses and weights (to float32 round-off: XLA may fuse the arithmetic in another order)."""
    compiled_losses, compiled_weights = _train_bnn(monkeypatch, "auto", expect_compiled_update=True)
    plain_losses, plain_weights = _train_bnn(monkeypatch, False, expect_compiled_update=False)
    np.testing.assert_allclose(compiled_losses, plain_losses, rtol=1e-5)
    for a, b in zip(compiled_weights, plain_weights):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert plain_losses[-1] < plain_losses[0]  # it trains


def test_the_compiled_update_is_an_xla_computation_and_only_where_it_applies():
    x, y = _labelled(32)
    batch = (tf.constant(x), tf.constant(y))

    def step_functions(optimizer, model=None, **kw):
        model = model or _bnn()
        objective = tfpvae.objectives.BayesianELBO(num_examples=32)
        objective(model, batch, seed=[0, 0], step=0)  # builds the layers
        optimizer.build(model.trainable_variables)
        step = make_train_step(model, objective, optimizer, model.trainable_variables, seed=[0, 0], **kw)
        ok, _ = step(batch)
        assert bool(ok)
        return _xla_functions(step.get_concrete_function(batch))

    assert len(step_functions(keras.optimizers.Adam(1e-3), compile_update=True)) == 1
    assert step_functions(keras.optimizers.Adam(1e-3), compile_update=False) == []
    # a loss-scale optimizer keeps its own update (its scale logic), uncompiled
    scaled = keras.optimizers.LossScaleOptimizer(keras.optimizers.Adam(1e-3))
    assert step_functions(scaled, compile_update=True) == []


def test_a_sparse_gradient_trains_the_same_through_the_compiled_update(monkeypatch):
    """An embedding's gradient is an ``IndexedSlices``: the compiled update takes it, and fit trains
    as with jit_compile=False."""
    _auto(monkeypatch)
    rng = np.random.default_rng(3)
    tokens = rng.integers(0, 5, size=(64, 1)).astype(np.float32) / 4.0
    labels = (tokens[:, 0] > 0.5).astype(np.int64)

    def train(jit_compile):
        traced = _spy_on_compiled_update(monkeypatch)
        keras.utils.set_random_seed(0)
        net = keras.Sequential([keras.Input((1,)), keras.layers.Lambda(lambda t: tf.cast(tf.round(t * 4), tf.int32)),
                                keras.layers.Embedding(5, 4), keras.layers.Flatten(), tfpvae.layers.DenseFlipout(2),
                                tfpvae.distributions.CategoricalHead(2)])
        state = fit(net, tfpvae.objectives.BayesianELBO(num_examples=64),
                    ArrayData(tokens, labels=labels, batch_size=16, shuffle=False), epochs=2,
                    optimizer=keras.optimizers.Adam(1e-2), jit_compile=jit_compile)
        assert bool(traced) == (jit_compile == "auto")
        return [h["train"]["loss"] for h in state.history]

    np.testing.assert_allclose(train("auto"), train(False), rtol=1e-5)


@pytest.mark.parametrize("kw", [{"clip_norm": 1.0}, {"nonfinite": "skip"}], ids=["clip_norm", "skip"])
def test_the_compiled_update_composes_with_clipping_and_skipping(monkeypatch, kw):
    compiled_losses, _ = _train_bnn(monkeypatch, "auto", epochs=2, expect_compiled_update=True, **kw)
    plain_losses, _ = _train_bnn(monkeypatch, False, epochs=2, expect_compiled_update=False, **kw)
    np.testing.assert_allclose(compiled_losses, plain_losses, rtol=1e-5)
