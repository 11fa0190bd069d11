"""The trainer must find every trainable variable, however the model holds it, and train each one."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfpvae
from helpers import assert_one_step_trains_every_variable
from tfpvae import distributions as D, networks
from tfpvae.models import Decoder
from tfpvae.testing import assert_trackable
from tfpvae.training import hidden_variables, named_variables, trainable_variables

tfb, tfd = tfp.bijectors, tfp.distributions


class Keras3WithMADE(keras.Model):  # Keras 3 alone lists only its Dense variables
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(4)
        self.made = tfb.AutoregressiveNetwork(params=2, hidden_units=[8], event_shape=[4])

    def call(self, x):
        return self.made(self.dense(x))


class ModuleWithKeras3(tf.Module):  # tf.Module alone lists none of the Dense's variables
    def __init__(self):
        super().__init__()
        self.dense = keras.layers.Dense(4)
        self.dense.build((None, 3))
        self.scale = tf.Variable(1.0)


def test_keras3_model_holding_tf_keras_made():
    m = Keras3WithMADE()
    m(tf.ones([2, 3]))
    assert len(m.trainable_variables) == 2  # the framework's own view misses the MADE
    assert len(trainable_variables(m)) == 2 + 4


def test_tf_module_holding_keras3_layer():
    m = ModuleWithKeras3()
    assert len(m.trainable_variables) == 1
    assert len(trainable_variables(m)) == 3


def test_closures_and_bound_methods_hide_variables_and_are_named():
    """The one rule: tracked attributes. A MADE reachable only through a lambda is not a parameter;
    assert_trackable names it, and holding it as an attribute fixes it."""
    made = tfb.AutoregressiveNetwork(params=2, hidden_units=[8], event_shape=[3])
    made(tf.zeros([1, 3]))
    flow = tfb.MaskedAutoregressiveFlow(lambda x: tf.unstack(made(x), axis=-1))
    prior = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros(3)), flow)
    assert trainable_variables(prior) == []
    assert len(hidden_variables(prior)) == 4
    with pytest.raises(AssertionError, match=r"4 trainable variable\(s\) of .* are not tracked[\s\S]*<closure"):
        assert_trackable(prior)
    flow.network = made  # tracked attribute: now a parameter, with a path
    assert len(trainable_variables(prior)) == 4 and not hidden_variables(prior)
    assert all(path.startswith("_bijector/network/") for path in assert_trackable(prior))

    holder = ModuleWithKeras3()
    bound = tfb.Shift(0.0)
    bound.fn = holder.__init__  # a bound method is not tracked
    assert trainable_variables(bound) == [] and len(hidden_variables(bound)) == 3
    learnable = D.learnable_normal(3)
    assert len(trainable_variables(learnable)) == 2


def test_fit_refuses_hidden_variables_by_name_and_accepts_explicit_ones():
    net = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)])
    hidden_scale = tf.Variable(1.0, name="hidden_scale")

    class Model(tf.Module):
        def __init__(self):
            super().__init__()
            self.net = net
            self.scale_fn = lambda: tf.nn.softplus(hidden_scale)

        def __call__(self, x):
            return tfd.Categorical(logits=self.net(x) * self.scale_fn())

    data = tf.data.Dataset.from_tensors((tf.zeros([4, 2]), tf.zeros([4], tf.int32)))
    with pytest.raises(ValueError,
                       match=r"1 trainable variable\(s\) of Model are reachable only through closures.*hidden_scale"):
        tfpvae.fit(Model(), tfpvae.NegativeLogLikelihood(), data, epochs=1)
    state = tfpvae.fit(Model(), tfpvae.NegativeLogLikelihood(), data, epochs=1,
                       variables=net.trainable_variables + [hidden_scale])
    assert len(state.variables) == 3


def test_named_paths_follow_attributes_not_creation_order():
    """Two same-shape layers created in the opposite order get the same paths, so a checkpoint
    written by one restores into the other without swapping their values."""
    class TwoLayers(tf.Module):
        def __init__(self, swap):
            super().__init__()
            a, b = keras.layers.Dense(3, name="a"), keras.layers.Dense(3, name="b")
            for layer in ((b, a) if swap else (a, b)):
                layer.build((None, 3))
            self.first, self.second = a, b

    one, two = TwoLayers(False), TwoLayers(True)
    assert list(named_variables(one)) == list(named_variables(two))
    assert list(named_variables(one)) == ["first/_kernel", "first/bias", "second/_kernel", "second/bias"]
    for v in named_variables(one).values():
        v.assign(tf.random.normal(v.shape, seed=1))
    path = tf.train.Checkpoint(model=one).save(str(tmp_dir() / "ck"))
    tf.train.Checkpoint(model=two).restore(path).assert_consumed()
    for (pa, va), (pb, vb) in zip(named_variables(one).items(), named_variables(two).items()):
        np.testing.assert_array_equal(va.numpy(), vb.numpy(), err_msg=pa)


def tmp_dir():
    import tempfile
    from pathlib import Path

    return Path(tempfile.mkdtemp())


def test_mixture_priors_hold_their_variables_as_tracked_attributes():
    vae = tfpvae.mlp_vae((6,), latent_dim=2, hidden=(4,))
    vae.prior = D.mixture_of_gaussians(2, num_components=3)
    paths = list(assert_trackable(vae))
    assert {"prior/components_fn/loc", "prior/components_fn/raw_scale", "prior/components_fn/logits"} <= set(paths)
    vae.prior = D.vamp_prior(vae.encoder, tf.zeros([3, 6]))
    assert "prior/pseudo_inputs" in assert_trackable(vae)  # the shortest tracked path names it


def test_excludes_integer_counters_and_dedupes():
    made = tfb.AutoregressiveNetwork(params=2, hidden_units=[8], event_shape=[3])
    made(tf.zeros([1, 3]))
    found = trainable_variables(made, [made, {"again": made}])
    assert len(found) == 4 and all(v.dtype.is_floating for v in found)


def _user_vae():
    """Encoder: a user tf.Module over Keras 3 layers; decoder: Keras 3 net; prior: trainable; flow: tf-keras MADE."""
    latent = 3

    class MyEncoder(tf.Module):
        def __init__(self):
            super().__init__()
            self.net = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"),
                                         keras.layers.Dense(2 * latent)])
            self.latent_dim = latent

        def __call__(self, x):
            loc, raw = tf.split(self.net(x), 2, axis=-1)
            return tfd.Independent(tfd.Normal(loc, tf.nn.softplus(raw) + 1e-3), 1)

    made = tfb.AutoregressiveNetwork(params=2, hidden_units=[8], event_shape=[latent],
                                     kernel_initializer="glorot_normal")
    made(tf.zeros([1, latent]))
    maf = tfb.MaskedAutoregressiveFlow(lambda z: tf.unstack(made(z), axis=-1))
    maf.network = made  # the lambda hides it; the attribute makes it a tracked parameter
    flow = tfb.Invert(maf)
    dec = Decoder(networks.mlp((latent,), 6, hidden=(8,)), D.BernoulliHead((6,)))
    return tfpvae.VAE(D.learnable_normal(latent), MyEncoder(), dec, posterior_flow=flow)


def test_one_step_changes_every_variable_of_every_part():
    vae = _user_vae()
    x = tf.constant(np.random.default_rng(0).integers(0, 2, size=(16, 6)), tf.float32)
    variables = vae.trainable_variables
    # encoder net 4 + decoder net 4 + prior 2 + flow MADE 4
    assert len(variables) == 14
    assert_one_step_trains_every_variable(vae, x)


def test_untrainable_variable_is_reported():
    vae = _user_vae()
    vae.unused = tf.Variable(1.0, name="unused_param")  # a tracked attribute: a parameter the loss ignores
    assert any("unused_param" in v.name for v in vae.trainable_variables)
    x = tf.zeros([4, 6])
    with pytest.warns(UserWarning, match="receive no gradient"):
        tfpvae.fit(vae, tfpvae.ELBO(kl="monte_carlo"), tf.data.Dataset.from_tensors(x), epochs=1)
