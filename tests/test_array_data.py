"""In-memory data gathered inside the compiled loop (`ArrayData`), and when `fit` compiles with XLA."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfpvae
from helpers import record_jit_compile
from tfpvae.data import ArrayData, make_dataset
from tfpvae.training import fit
from tfpvae.training.compilation import resolve_jit_compile, slower_under_xla


def _grey_images(n=70, seed=0):
    return (np.random.default_rng(seed).random((n, 4, 4, 1)) * 255).astype(np.uint8)


def _train(data, *, jit=False, epochs=2, objective=None, nonfinite="stop", steps_per_execution=3):
    keras.utils.set_random_seed(0)
    vae = tfpvae.mlp_vae((16,), latent_dim=2, hidden=(8,))
    state = fit(vae, objective or tfpvae.ELBO(), data, epochs=epochs, optimizer=keras.optimizers.Adam(1e-2), seed=5,
                jit_compile=jit, steps_per_execution=steps_per_execution, nonfinite=nonfinite)
    return vae, state


def test_array_data_yields_the_batches_of_make_dataset():
    images, labels = _grey_images(), np.arange(70) % 3
    kw = dict(batch_size=16, seed=4, binarize="dynamic", flatten=True, labels=labels)
    data = ArrayData(images, **kw)
    assert (data.full_batches, data.remainder, data.steps_per_epoch) == (4, 6, 5)
    for epoch in (0, 3):
        expected = list(make_dataset(images, epoch=epoch, **kw))
        order, noise = data.plan(epoch)
        for i, (x, y) in enumerate(expected):
            gx, gy = data.batch(order, noise, i, int(x.shape[0]))
            np.testing.assert_array_equal(gx.numpy(), x.numpy())
            np.testing.assert_array_equal(gy.numpy(), y.numpy())
        assert [int(x.shape[0]) for x, _ in data(epoch)] == [16, 16, 16, 16, 6]
    assert not np.array_equal(data.plan(0)[0].numpy(), data.plan(1)[0].numpy())  # a new order each epoch


def test_first_batch_of_array_data_is_the_pipelines_first_batch_and_empty_data_is_refused():
    from tfpvae.training.loop import _first_batch

    images, labels = _grey_images(), np.arange(70) % 3
    for batch_size, drop in ((16, False), (100, False)):  # a full first batch; a first batch that is the remainder
        data = ArrayData(images, batch_size=batch_size, seed=4, binarize="dynamic", labels=labels, drop_remainder=drop)
        x, y = _first_batch(data)
        ex, ey = next(iter(data(0)))
        np.testing.assert_array_equal(x.numpy(), ex.numpy())
        np.testing.assert_array_equal(y.numpy(), ey.numpy())
    with pytest.raises(ValueError, match="yielded no batches"):
        _first_batch(ArrayData(images, batch_size=100, drop_remainder=True))


def test_fit_on_array_data_equals_fit_on_its_tf_data_pipeline():
    """Gathered in-graph (remainder batch included) or pulled from tf.data: the same run, bit for bit."""
    images = _grey_images()
    kw = dict(batch_size=16, seed=4, binarize="dynamic", flatten=True)
    in_graph, a = _train(ArrayData(images, **kw))
    pipeline, b = _train(lambda epoch: make_dataset(images, epoch=epoch, **kw))
    assert [h["train"] for h in a.history] == [h["train"] for h in b.history]
    assert a.steps_per_epoch == b.steps_per_epoch == 5
    for u, v in zip(tfpvae.training.trainable_variables(in_graph), tfpvae.training.trainable_variables(pipeline)):
        np.testing.assert_array_equal(u.numpy(), v.numpy())


def test_xla_compiled_loop_trains_like_the_per_step_compiled_one():
    """The whole multi-step loop as one XLA computation gives the run that XLA-compiled steps fed by
    tf.data give, up to floating-point reassociation. (With dynamic binarisation the two would
    differ: XLA's stateless samplers draw other numbers from the same seed than TensorFlow's
    kernels, and only the loop draws the binarisation noise under XLA.) Against the uncompiled run,
    the same curve within noise."""
    images = (_grey_images() > 127).astype(np.uint8)
    kw = dict(batch_size=16, seed=4, flatten=True)
    _, loop = _train(ArrayData(images, **kw), jit=True, epochs=3)
    _, steps = _train(lambda epoch: make_dataset(images, epoch=epoch, **kw), jit=True, epochs=3)
    _, plain = _train(ArrayData(images, **kw), epochs=3)
    for x, s, p in zip(loop.history, steps.history, plain.history):
        assert x["train"]["loss"] == pytest.approx(s["train"]["loss"], rel=1e-5)
        assert x["train"]["loss"] == pytest.approx(p["train"]["loss"], rel=0.05)


class _PoisonedELBO:
    """The ELBO with a NaN loss for the examples of optimizer step ``at``."""

    def __init__(self, at):
        self.at, self.elbo = at, tfpvae.ELBO()

    def __call__(self, model, batch, *, seed, step=0):
        terms = self.elbo(model, batch, seed=seed, step=step)
        nan = tf.fill(tf.shape(terms.loss), float("nan"))
        return terms._replace(loss=tf.where(tf.equal(tf.cast(step, tf.int64), self.at), nan, terms.loss))


@pytest.mark.parametrize("jit", [False, True])
def test_guard_holds_inside_the_in_graph_loop(jit):
    data = ArrayData(_grey_images(64), batch_size=16, seed=4, binarize="dynamic", flatten=True)
    with pytest.raises(FloatingPointError, match=r"non-finite loss at step 6 \(epoch 2, batch 2\)"):
        _train(data, jit=jit, objective=_PoisonedELBO(5))
    _, state = _train(data, jit=jit, objective=_PoisonedELBO(5), nonfinite="skip")
    # a skipped batch does not advance the optimizer's step, so the poison holds for the epoch's rest
    assert [h["skipped_batches"] for h in state.history] == [0, 3]
    assert np.isfinite(state.history[-1]["train"]["loss"])


def test_auto_compiles_dense_vaes_but_not_convolutions_or_bayesian_layers(monkeypatch):
    monkeypatch.setenv("TFPVAE_AUTO_JIT", "1")
    one = tf.distribute.get_strategy()
    mlp, conv = tfpvae.mlp_vae((16,), 2, (8,)), tfpvae.conv_vae((8, 8, 1), 2, (4,))
    bnn = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), tfpvae.layers.DenseFlipout(2)])
    assert not slower_under_xla(mlp) and slower_under_xla(conv) and slower_under_xla(bnn)
    assert resolve_jit_compile("auto", mlp, one) is True
    assert resolve_jit_compile("auto", conv, one) is False and resolve_jit_compile("auto", bnn, one) is False
    assert resolve_jit_compile(False, mlp, one) is False and resolve_jit_compile(True, conv, one) is True
    assert resolve_jit_compile("auto", mlp, one, static_batch=False) is False  # batch size unknown when traced
    assert resolve_jit_compile(True, mlp, one, static_batch=False) is True  # asked for: compiled
    monkeypatch.setenv("TFPVAE_AUTO_JIT", "0")
    assert resolve_jit_compile("auto", mlp, one) is False
    with pytest.raises(ValueError, match="jit_compile must be True, False or 'auto'"):
        resolve_jit_compile("yes", mlp, one)


@pytest.mark.parametrize("feed", ["ArrayData", "make_dataset", "make_dataset, drop_remainder"])
def test_auto_compiles_a_maf_posterior_only_with_a_fixed_batch_size(monkeypatch, feed):
    """A MAF posterior samples in a while loop whose gradient XLA cannot convert when the batch size
    is unknown at tracing: "auto" on a tf.data pipeline with a smaller last batch failed its first
    step ("tf2xla conversion failed"). It now trains uncompiled there, compiled with a fixed size."""
    monkeypatch.setenv("TFPVAE_AUTO_JIT", "1")
    compiled = record_jit_compile(monkeypatch)
    x = (np.random.default_rng(0).random((250, 16)) > 0.5).astype(np.uint8)
    data = {"ArrayData": ArrayData(x, batch_size=100),
            "make_dataset": lambda e: make_dataset(x, batch_size=100, epoch=e),
            "make_dataset, drop_remainder": lambda e: make_dataset(x, batch_size=100, epoch=e, drop_remainder=True)}
    keras.utils.set_random_seed(0)
    vae = tfpvae.mlp_vae((16,), latent_dim=4, hidden=(8,), context_dim=4,
                         posterior_flow=tfpvae.flows.maf(4, num_steps=1, hidden_units=(8,), context_dim=4))
    state = fit(vae, tfpvae.ELBO(kl="monte_carlo"), data[feed], epochs=2, optimizer=keras.optimizers.Adam(1e-2))
    assert compiled == [feed != "make_dataset"]
    assert all(np.isfinite(h["train"]["loss"]) for h in state.history)


def test_array_data_is_taken_wherever_a_dataset_of_batches_is():
    """Iterating an ``ArrayData`` gives epoch 0's batches, so the evaluation functions accept it as they
    accept a ``tf.data.Dataset``: ``evaluate_dataset`` failed with "'ArrayData' object is not iterable"."""
    from tfpvae import latent
    from tfpvae.evaluation import active_units, evaluate_dataset
    from tfpvae.training import make_evaluate

    images = _grey_images(40)
    data = ArrayData(images, batch_size=16, shuffle=False, flatten=True, labels=np.arange(40) % 3)
    dataset = data.dataset(0)
    for (x, y), (dx, dy) in zip(data, dataset, strict=True):
        np.testing.assert_array_equal(x.numpy(), dx.numpy())
        np.testing.assert_array_equal(y.numpy(), dy.numpy())
    keras.utils.set_random_seed(0)
    vae = tfpvae.mlp_vae((16,), latent_dim=2, hidden=(8,))
    ours, theirs = (evaluate_dataset(vae, d, num_samples=8, chunk_size=4, seed=3) for d in (data, dataset))
    assert ours["num_examples"] == 40 and ours["nll"] == theirs["nll"]
    ours, theirs = active_units(vae, data), active_units(vae, dataset)
    assert ours.count == theirs.count
    np.testing.assert_array_equal(ours.variances, theirs.variances)
    np.testing.assert_array_equal(latent.aggregate_posterior(vae, data).mean().numpy(),
                                  latent.aggregate_posterior(vae, dataset).mean().numpy())
    unlabelled = ArrayData(images, batch_size=16, shuffle=False, flatten=True)
    evaluate = make_evaluate(vae, tfpvae.ELBO(), seed=[0, 1])
    assert evaluate(unlabelled) == evaluate(unlabelled.dataset(0))
