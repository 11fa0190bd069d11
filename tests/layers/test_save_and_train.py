"""Bayesian layers save, load, train (Sequential, tf.Module, eager, compiled) and convert from deterministic nets."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfpvae
from tfpvae import distributions as D
from tfpvae import layers as L
from tfpvae.objectives import BayesianELBO


def _classifier():
    return keras.Sequential([
        keras.Input((6, 6, 1)),
        L.Conv2DFlipout(3, 3, activation="relu", kernel_prior=L.ScaleMixtureNormal(pi=0.5, sigma1=1.0, sigma2=0.1)),
        L.Conv2DReparameterization(2, 2, strides=2, bias_posterior=L.MeanFieldNormal(init_scale=0.05)),
        keras.layers.Flatten(),
        L.DenseLocalReparameterization(5, activation="tanh",
                                       kernel_posterior=L.MeanFieldNormal(init_scale=0.02, scale="exp")),
        L.DenseFlipout(4, kernel_prior=L.NormalPrior(0.0, 0.5)),
        L.DenseReparameterization(3),
        D.CategoricalHead(3),
    ])


def _predict(model, x, seed=11):
    with L.noise_seed(seed):
        return model(x).logits_parameter().numpy()


def test_keras_file_round_trip_predicts_identically(tmp_path):
    model = _classifier()
    x = tf.random.stateless_normal([4, 6, 6, 1], seed=[1, 2])
    before = _predict(model, x)
    path = tmp_path / "bnn.keras"
    model.save(path)
    loaded = keras.saving.load_model(path)
    np.testing.assert_array_equal(_predict(loaded, x), before)
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    assert isinstance(loaded.layers[0].kernel_prior, L.ScaleMixtureNormal)
    assert loaded.layers[0].kernel_prior.sigma2 == 0.1
    assert loaded.layers[3].kernel_posterior.scale == "exp"
    with L.noise_seed(5):
        kl_loaded = float(L.kl_divergence(loaded))
    with L.noise_seed(5):
        kl_model = float(L.kl_divergence(model))
    assert kl_loaded == kl_model


def test_checkpoint_round_trip_predicts_identically(tmp_path):
    model = _classifier()
    x = tf.random.stateless_normal([4, 6, 6, 1], seed=[1, 2])
    before = _predict(model, x)
    path = tf.train.Checkpoint(model=model).write(str(tmp_path / "ckpt"))
    fresh = _classifier()
    assert not np.array_equal(_predict(fresh, x), before)
    tf.train.Checkpoint(model=fresh).read(path).assert_consumed()
    np.testing.assert_array_equal(_predict(fresh, x), before)


def _toy_classification(n=96, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 2)).astype("float32")
    y = (x[:, 0] + 0.5 * x[:, 1] > 0).astype("int64") + (x[:, 0] > 1).astype("int64")
    return x, y


def _train_data(x, y, batch):
    return lambda epoch: tfpvae.data.make_tabular_dataset(x, y, batch, seed=0, epoch=epoch)


@pytest.mark.parametrize("jit", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_sequential_trains_with_fit(jit):
    keras.utils.set_random_seed(0)
    x, y = _toy_classification()
    model = keras.Sequential([L.DenseFlipout(16, activation="relu"), L.DenseFlipout(3), D.CategoricalHead(3)])
    objective = BayesianELBO(num_examples=len(x))
    state = tfpvae.fit(model, objective, _train_data(x, y, 32), epochs=40, optimizer=keras.optimizers.Adam(0.02),
                       seed=0, jit_compile=jit)
    first, last = state.history[0]["train"], state.history[-1]["train"]
    assert last["loss"] < 0.6 * first["loss"]
    probs = tfpvae.evaluation.class_probabilities(tfpvae.evaluation.predictive_distribution(model, x, num_samples=8,
                                                                                             seed=0))
    assert tfpvae.evaluation.accuracy(probs.numpy(), y) > 0.85


class ModuleNet(tf.Module):
    """A user's tf.Module holding Keras layers (TensorFlow's own tracking does not see their variables)."""

    def __init__(self):
        super().__init__()
        self.hidden = L.DenseReparameterization(16, activation="relu")
        self.out = L.DenseLocalReparameterization(3)
        self.head = D.CategoricalHead(3)

    def __call__(self, x):
        return self.head(self.out(self.hidden(x)))


def test_tf_module_trains_eagerly_with_a_gradient_tape():
    keras.utils.set_random_seed(0)
    x, y = _toy_classification()
    net = ModuleNet()
    objective = BayesianELBO(num_examples=len(x))
    optimizer = keras.optimizers.Adam(0.02)
    losses, nlls = [], []
    for step in range(60):
        with tf.GradientTape() as tape:
            terms = objective(net, (x, y), seed=[0, step], step=step)
            loss = tf.reduce_mean(terms.loss)
        variables = tfpvae.trainable_variables(net)
        grads = tape.gradient(loss, variables)
        assert all(g is not None for g in grads)
        optimizer.apply_gradients(zip(grads, variables))
        losses.append(float(loss))
        nlls.append(-float(tf.reduce_mean(terms.log_likelihood)))
    assert len(variables) == 6  # loc, raw scale, bias per layer
    assert np.mean(losses[-5:]) < 0.8 * np.mean(losses[:5])
    assert np.mean(nlls[-5:]) < 0.5 * np.mean(nlls[:5])


def test_tf_module_trains_with_fit_compiled():
    keras.utils.set_random_seed(0)
    x, y = _toy_classification()
    net = ModuleNet()
    net(x[:2])
    before = [np.array(v) for v in tfpvae.trainable_variables(net)]
    state = tfpvae.fit(net, BayesianELBO(num_examples=len(x)), _train_data(x, y, 32), epochs=30,
                       optimizer=keras.optimizers.Adam(0.02), seed=0)
    after = tfpvae.trainable_variables(net)
    assert all(not np.array_equal(b, np.array(a)) for b, a in zip(before, after))
    first, last = state.history[0]["train"], state.history[-1]["train"]
    assert last["loss"] < 0.8 * first["loss"]
    assert -last["log_likelihood"] < 0.5 * -first["log_likelihood"]  # the data term (KL/N dominates the loss)


@pytest.mark.parametrize("flipout", [False, True])
def test_to_bayesian_starts_from_the_trained_weights(flipout):
    keras.utils.set_random_seed(0)  # an unseeded relu net could start with every 'fc' unit dead: then nothing samples
    model = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, activation="relu", name="conv"),
                              keras.layers.BatchNormalization(name="bn"), keras.layers.Flatten(),
                              keras.layers.Dense(4, activation="relu", name="fc"), keras.layers.Dense(3, name="out")])
    x = tf.random.stateless_normal([5, 6, 6, 1], seed=[3, 4])
    model.layers[1].moving_mean.assign([0.3, -0.2])  # non-trainable state must be copied too
    bayes = L.to_bayesian(model, init_scale_relative=0.1, flipout=flipout)
    kinds = [type(layer).__name__ for layer in bayes.layers]
    assert kinds == (["Conv2DFlipout", "BatchNormalization", "Flatten", "DenseFlipout", "DenseFlipout"] if flipout else
                     ["Conv2DReparameterization", "BatchNormalization", "Flatten", "DenseReparameterization",
                      "DenseReparameterization"])
    with L.deterministic():
        np.testing.assert_allclose(bayes(x).numpy(), model(x).numpy(), rtol=1e-5, atol=1e-5)
    for name in ("fc", "conv"):
        old, new = model.get_layer(name), bayes.get_layer(name)
        scale = new.kernel_posterior_distribution().stddev().numpy()
        np.testing.assert_allclose(scale, np.maximum(np.abs(np.asarray(old.kernel)) * 0.1, 1e-6), rtol=1e-4, atol=1e-7)
    assert not np.allclose(bayes(x).numpy(), bayes(x).numpy())  # it samples


def test_to_bayesian_converts_only_the_named_layers_and_rejects_unknown_names():
    inputs = keras.Input((3,))
    outputs = keras.layers.Dense(2, name="b")(keras.layers.Dense(4, name="a")(inputs))
    model = keras.Model(inputs, outputs)
    bayes = L.to_bayesian(model, layers=["b"], prior=L.NormalPrior(0.0, 0.3))
    assert isinstance(bayes.get_layer("a"), keras.layers.Dense)
    assert isinstance(bayes.get_layer("b"), L.DenseReparameterization)
    assert float(bayes.get_layer("b").kernel_prior.scale) == pytest.approx(0.3)
    with pytest.raises(ValueError, match=r"no layers named \['c'\]"):
        L.to_bayesian(model, layers=["c"])
