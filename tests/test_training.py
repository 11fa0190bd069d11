"""The generic trainer: resume, checkpoints, early stopping, non-VAE models, failure modes."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfpvae
from tfpvae.data import make_dataset
from tfpvae.training import Checkpoint, EarlyStopping, LambdaCallback, TimeLimit, fit, fit_epochs, restore_model

tfd = tfp.distributions


def _binary_images(n=64, seed=0):
    return (np.random.default_rng(seed).random((n, 4, 4, 1)) < 0.3).astype(np.uint8)


def _run(tmp_path, epochs, images, restore=True):
    keras.utils.set_random_seed(0)
    vae = tfpvae.mlp_vae((16,), latent_dim=2, hidden=(8,))
    opt = keras.optimizers.Adam(1e-2)
    data = lambda epoch: make_dataset(images, batch_size=16, seed=3, epoch=epoch, flatten=True)
    ckpt = Checkpoint(tmp_path / "ckpt", monitor="validation/loss", restore=restore)
    state = fit(vae, tfpvae.ELBO(), data, epochs=epochs, optimizer=opt, seed=11,
                validation_data=make_dataset(images, batch_size=32, shuffle=False, flatten=True), callbacks=[ckpt])
    return vae, opt, state, ckpt


def test_resume_continues_from_saved_epoch_with_same_optimizer_state(tmp_path):
    images = _binary_images()
    straight, straight_opt, straight_state, _ = _run(tmp_path / "a", 3, images)
    _run(tmp_path / "b", 2, images)  # "killed" after epoch 2
    resumed, resumed_opt, resumed_state, ckpt = _run(tmp_path / "b", 3, images)
    assert ckpt.restored_epoch == 2
    assert [h["epoch"] for h in resumed_state.history] == [1, 2, 3]
    assert int(resumed_opt.iterations.numpy()) == int(straight_opt.iterations.numpy()) == 12
    for a, b in zip(straight.trainable_variables, resumed.trainable_variables):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-6, atol=1e-6)
    for a, b in zip(straight_opt.variables, resumed_opt.variables):  # Adam moments included
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-6, atol=1e-6)
    assert straight_state.history[-1]["train"]["loss"] == pytest.approx(resumed_state.history[-1]["train"]["loss"],
                                                                        rel=1e-5)


def test_fit_epochs_interleaves_two_trainings_and_matches_fit():
    """Two trainings taking turns epoch by epoch give exactly what each gives alone; the running
    term means a callback sees are the epoch's means so far."""
    images = _binary_images()
    data = lambda epoch: make_dataset(images, batch_size=16, seed=3, epoch=epoch, flatten=True)

    def job(seed):
        keras.utils.set_random_seed(seed)
        return dict(model=tfpvae.mlp_vae((16,), latent_dim=2, hidden=(8,)), objective=tfpvae.ELBO(), train_data=data,
                    epochs=3, optimizer=keras.optimizers.Adam(1e-2), seed=seed, steps_per_execution=2)

    alone = [fit(**job(seed)).history for seed in (0, 1)]
    runs, seen = [fit_epochs(**job(seed)) for seed in (0, 1)], []
    for _ in range(3):  # one epoch of each, in turn
        seen.append([next(run).epoch for run in runs])
    assert seen == [[1, 1], [2, 2], [3, 3]]
    for run, history in zip(runs, alone):
        with pytest.raises(StopIteration) as done:
            next(run)
        assert [h["train"] for h in done.value.value.history] == [h["train"] for h in history]

    running = []

    class Running(tfpvae.training.Callback):
        def on_batch_end(self, state, step, totals):
            running.append(totals.means())

    fit(**job(0), callbacks=[Running()])
    assert len(running) == 3 * 2  # 4 batches per epoch, 2 per execution
    assert running[1]["loss"] == pytest.approx(alone[0][0]["train"]["loss"], rel=1e-5)


def test_time_limit_stops_before_the_budget_would_be_crossed():
    images = _binary_images()
    data = lambda epoch: make_dataset(images, batch_size=16, seed=3, epoch=epoch, flatten=True)
    run = lambda limit: fit(tfpvae.mlp_vae((16,), latent_dim=2, hidden=(8,)), tfpvae.ELBO(), data, epochs=5,
                            callbacks=[limit])
    tight = TimeLimit(1e-3)  # any epoch is longer: stop after the first
    assert len(run(tight).history) == 1 and tight.stopped_epoch == 1 and tight.fraction() == 1.0
    loose = TimeLimit(3600)
    assert len(run(loose).history) == 5 and loose.stopped_epoch is None and 0 < loose.fraction() < 1
    with pytest.raises(ValueError, match="TimeLimit: seconds must be a positive number"):
        TimeLimit(0)


def test_best_checkpoint_restores_into_a_fresh_model(tmp_path):
    images = _binary_images()
    vae, _, state, _ = _run(tmp_path, 2, images)
    best = json.loads((tmp_path / "ckpt" / "best.json").read_text())
    losses = [h["validation"]["loss"] for h in state.history]
    assert best["epoch"] == int(np.argmin(losses)) + 1
    keras.utils.set_random_seed(1)
    fresh = tfpvae.mlp_vae((16,), latent_dim=2, hidden=(8,))
    restore_model(tmp_path / "ckpt", fresh, which="latest")
    for a, b in zip(vae.trainable_variables, fresh.trainable_variables):
        np.testing.assert_array_equal(np.array(a), np.array(b))


def test_early_stopping_and_callbacks(tmp_path):
    seen = []
    images = _binary_images()
    vae = tfpvae.mlp_vae((16,), latent_dim=2, hidden=(8,))
    stopper = EarlyStopping("validation/loss", patience=1, min_delta=1e9)  # nothing counts as improvement
    state = fit(vae, tfpvae.ELBO(), make_dataset(images, batch_size=16, flatten=True), epochs=10,
                validation_data=make_dataset(images, batch_size=64, shuffle=False, flatten=True),
                callbacks=[stopper, LambdaCallback(on_epoch_end=lambda s, logs: seen.append(logs["epoch"]))])
    assert state.epoch == 2 and seen == [1, 2]


def test_validation_freq_evaluates_every_nth_and_last_epoch_and_callbacks_skip_the_rest(tmp_path):
    images = _binary_images()
    vae = tfpvae.mlp_vae((16,), latent_dim=2, hidden=(8,))
    valid = make_dataset(images, batch_size=64, shuffle=False, flatten=True)
    stopper = EarlyStopping("validation/loss", patience=2, min_delta=1e9)
    state = fit(vae, tfpvae.ELBO(), make_dataset(images, batch_size=16, flatten=True), epochs=7,
                validation_data={"validation": valid}, validation_freq=3,
                callbacks=[Checkpoint(tmp_path), stopper])
    assert [h["validated"] for h in state.history] == [False, False, True, False, False, True, True]
    assert [h["epoch"] for h in state.history if "validation" in h] == [3, 6, 7]
    validated = [h for h in state.history if h["validated"]]
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["epoch"] == min(validated, key=lambda h: h["validation"]["loss"])["epoch"]
    # patience counts validated epochs: 6 and 7 did not improve on 3 (counting every epoch would stop at 5)
    assert stopper.wait == 2 and state.stop_training and state.epoch == 7
    with pytest.raises(ValueError, match="fit: validation_freq must be a positive integer"):
        fit(vae, tfpvae.ELBO(), valid, epochs=1, validation_freq=0)


def test_nan_loss_stops_with_clear_error(tmp_path):
    class Exploding:
        def __call__(self, model, x, *, seed, step):
            return tfpvae.objectives.NLLTerms(loss=model.w * x[:, 0] * np.nan, log_likelihood=x[:, 0])

    model = tf.Module()
    model.w = tf.Variable(1.0)
    with pytest.raises(FloatingPointError, match=r"non-finite loss, gradient at step 1 \(epoch 1, batch 1\)"):
        fit(model, Exploding(), tf.data.Dataset.from_tensors(tf.ones([4, 2])), epochs=3)
    assert float(model.w.numpy()) == 1.0  # the poisoned update never reached the variable


def test_regression_with_learned_scale_through_the_same_loop():
    """A heteroscedastic regression net trains with -log p(y|x): noise std grows with |x|."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-2, 2, size=(2000, 1)).astype(np.float32)
    y = (2 * x[:, 0] + 0.1 * (1 + np.abs(x[:, 0])) * rng.normal(size=2000)).astype(np.float32)

    class Heteroscedastic(tf.Module):  # the network is a tracked attribute: trained and checkpointed by name
        def __init__(self):
            super().__init__()
            self.net = keras.Sequential([keras.Input((1,)), keras.layers.Dense(32, activation="tanh"),
                                         keras.layers.Dense(2)])

        def __call__(self, inputs):
            out = self.net(inputs)
            return tfd.Normal(out[:, 0], tf.nn.softplus(out[:, 1]) + 1e-3)

    model = Heteroscedastic()
    state = fit(model, tfpvae.NegativeLogLikelihood(), tf.data.Dataset.from_tensor_slices((x, y)).batch(100),
                epochs=30, optimizer=keras.optimizers.Adam(1e-2))
    pred = model(tf.constant([[0.0], [1.5]]))
    assert state.history[-1]["train"]["loss"] < state.history[0]["train"]["loss"]
    np.testing.assert_allclose(pred.mean(), [0.0, 3.0], atol=0.15)
    assert float(pred.stddev()[1]) > 1.5 * float(pred.stddev()[0])


def test_classification_with_categorical_head():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(600, 2)).astype(np.float32)
    labels = (x[:, 0] + x[:, 1] > 0).astype(np.int32)
    net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    model = lambda inputs: tfd.Categorical(logits=net(inputs))
    fit(model, tfpvae.NegativeLogLikelihood(), tf.data.Dataset.from_tensor_slices((x, labels)).batch(60), epochs=20,
        optimizer=keras.optimizers.Adam(5e-2), variables=net.trainable_variables)
    accuracy = np.mean(np.argmax(net(x), -1) == labels)
    assert accuracy > 0.95


@pytest.mark.parametrize("arrays", [False, True], ids=["tf.data", "ArrayData"])
def test_a_model_branching_in_python_on_a_tensor_still_trains(arrays):
    """The loops trace without AutoGraph; a model that needs it (a Python `if` on a tensor) is traced
    again with AutoGraph, and trains exactly as a model without the branch."""
    from tfpvae.data import ArrayData

    rng = np.random.default_rng(2)
    x = rng.random((240, 2)).astype(np.float32)  # in [0, 1]: ArrayData takes image-like data
    labels = (x[:, 0] > x[:, 1]).astype(np.int64)

    def train(branching):
        keras.utils.set_random_seed(0)
        net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])

        def model(inputs):
            logits = net(inputs)
            if branching and tf.reduce_sum(logits) > 1e30:  # never true; needs AutoGraph to trace
                logits = logits * 0.0
            return tfd.Categorical(logits=logits)

        data = (ArrayData(x, labels=labels, batch_size=60, shuffle=False) if arrays else
                tf.data.Dataset.from_tensor_slices((x, labels)).batch(60))
        fit(model, tfpvae.NegativeLogLikelihood(), data, epochs=3, optimizer=keras.optimizers.Adam(5e-2),
            variables=net.trainable_variables, steps_per_execution=2)
        return [v.numpy() for v in net.trainable_variables]

    for branched, plain in zip(train(True), train(False)):
        np.testing.assert_allclose(branched, plain, rtol=1e-5, atol=1e-6)


def test_nll_refuses_unsummed_event():
    net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3)])
    model = lambda inputs: tfd.Normal(net(inputs), 1.0)  # batch [B, 3], not one number per example
    with pytest.raises(ValueError, match="one number per example"):
        tfpvae.NegativeLogLikelihood()(model, (tf.zeros([4, 2]), tf.zeros([4, 3])))


def test_nll_refuses_targets_that_would_broadcast():
    """A [B, 1] head with [B] targets trained silently on a broadcast [B, B] loss before."""
    net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model = lambda inputs: tfd.Independent(tfd.Normal(net(inputs), 1.0), 1)  # event [1]
    with pytest.raises(ValueError, match=r"targets have shape \(4,\).*must have shape \(4, 1\)"):
        tfpvae.NegativeLogLikelihood()(model, (tf.zeros([4, 2]), tf.zeros([4])))
    terms = tfpvae.NegativeLogLikelihood()(model, (tf.zeros([4, 2]), tf.zeros([4, 1])))
    assert terms.loss.shape == (4,)


class _StopAt(tfpvae.training.Callback):
    """Sets ``state.stop_now`` (what Ctrl-C does through GracefulStop) once ``at`` steps of epoch
    ``epoch`` have run."""

    def __init__(self, epoch, at):
        self.epoch, self.at = epoch, at

    def on_batch_end(self, state, step, totals):
        if state.epoch + 1 == self.epoch and step >= self.at:
            state.stop_now = True


@pytest.mark.parametrize("arrays", [True, False], ids=["ArrayData", "tf.data"])
def test_a_stop_mid_epoch_saves_the_partial_epoch_and_resumes_to_the_uninterrupted_result(tmp_path, arrays):
    images = _binary_images(80)
    kw = dict(batch_size=8, seed=3, flatten=True)
    data = tfpvae.data.ArrayData(images, **kw) if arrays else (lambda e: make_dataset(images, epoch=e, **kw))

    def run(folder, callbacks=()):
        keras.utils.set_random_seed(0)
        vae = tfpvae.mlp_vae((16,), latent_dim=2, hidden=(8,))
        ckpt = Checkpoint(folder, monitor=None)
        state = fit(vae, tfpvae.ELBO(), data, epochs=3, optimizer=keras.optimizers.Adam(1e-2), seed=11,
                    steps_per_execution=2, callbacks=[*callbacks, ckpt])
        return vae, state, ckpt

    straight, straight_state, _ = run(tmp_path / "a")
    _, stopped, _ = run(tmp_path / "b", [_StopAt(epoch=2, at=4)])
    assert stopped.interrupted and stopped.epoch == 1 and len(stopped.history) == 1
    assert int(stopped.optimizer.iterations.numpy()) == 10 + 4  # stopped after the execution that reached step 4
    assert (tmp_path / "b" / "partial").is_dir()
    resumed, resumed_state, ckpt = run(tmp_path / "b")
    assert ckpt.restored_step == 4 and not resumed_state.interrupted
    assert not (tmp_path / "b" / "partial").exists()  # behind the epoch saved since
    for a, b in zip(straight_state.history, resumed_state.history):
        assert a["train"] == pytest.approx(b["train"], rel=1e-6)  # the resumed epoch's sums include the saved part
    for a, b in zip(tfpvae.training.trainable_variables(straight), tfpvae.training.trainable_variables(resumed)):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-7)


def test_an_unreadable_mid_epoch_checkpoint_is_named_and_the_last_whole_epoch_used(tmp_path, capsys):
    images = _binary_images(80)
    data = tfpvae.data.ArrayData(images, batch_size=8, seed=3, flatten=True)

    def run(callbacks=()):
        keras.utils.set_random_seed(0)
        ckpt = Checkpoint(tmp_path, monitor=None)
        state = fit(tfpvae.mlp_vae((16,), latent_dim=2, hidden=(8,)), tfpvae.ELBO(), data, epochs=3,
                    optimizer=keras.optimizers.Adam(1e-2), seed=11, steps_per_execution=2, callbacks=[*callbacks, ckpt])
        return state, ckpt

    run([_StopAt(epoch=2, at=4)])
    for f in (tmp_path / "partial").glob("ckpt-*.data-*"):
        f.write_bytes(b"garbage")
    state, ckpt = run()
    assert "mid-epoch checkpoint" in capsys.readouterr().err and ckpt.restored_step == 0
    assert ckpt.restored_epoch == 1 and [h["epoch"] for h in state.history] == [1, 2, 3]


def test_progress_bar_counts_the_epochs_steps_and_ends_each_epoch_with_one_summary_line():
    import io

    images, stream = _binary_images(64), io.StringIO()
    keras.utils.set_random_seed(0)
    fit(tfpvae.mlp_vae((16,), latent_dim=2, hidden=(8,)), tfpvae.ELBO(),
        lambda e: make_dataset(images, batch_size=16, seed=3, epoch=e, flatten=True), epochs=2,
        steps_per_execution=1, callbacks=[tfpvae.training.ProgressBar(stream, interval=0.0, steps_per_epoch=4)])
    text = stream.getvalue()
    assert "epoch 1/2" in text and "4/4" in text and "loss=" in text  # tqdm's bar: steps of the epoch, live loss
    summaries = [line for line in text.replace("\r", "\n").splitlines() if "ex/s) train loss" in line]
    assert [s.split()[1] for s in summaries] == ["1/2", "2/2"]
