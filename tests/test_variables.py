"""The trainer must find every trainable variable, however the model holds it, and train each one."""

import keras
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_probability as tfp

import tfpvae
from helpers import assert_one_step_trains_every_variable
from tfpvae import distributions as D, networks
from tfpvae.models import Decoder, Encoder
from tfpvae.training import trainable_variables

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


def test_closures_bound_methods_and_distributions():
    made = tfb.AutoregressiveNetwork(params=2, hidden_units=[8], event_shape=[3])
    made(tf.zeros([1, 3]))

    def make_flow(net):
        return tfb.MaskedAutoregressiveFlow(lambda x: tf.unstack(net(x), axis=-1))

    prior = tfd.TransformedDistribution(tfd.MultivariateNormalDiag(tf.zeros(3)), make_flow(made))
    assert len(trainable_variables(prior)) == 4
    holder = ModuleWithKeras3()
    bound = tfb.Shift(0.0)  # any object whose callable attribute is a bound method of the module
    bound.fn = holder.__init__
    assert len(trainable_variables(bound)) == 3
    learnable = D.learnable_normal(3)
    assert len(trainable_variables(learnable)) == 2


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
            self.net = keras.Sequential([keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(2 * latent)])
            self.latent_dim = latent

        def __call__(self, x):
            loc, raw = tf.split(self.net(x), 2, axis=-1)
            return tfd.Independent(tfd.Normal(loc, tf.nn.softplus(raw) + 1e-3), 1)

    made = tfb.AutoregressiveNetwork(params=2, hidden_units=[8], event_shape=[latent], kernel_initializer="glorot_normal")
    made(tf.zeros([1, latent]))
    flow = tfb.Invert(tfb.MaskedAutoregressiveFlow(lambda z: tf.unstack(made(z), axis=-1)))
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
    vae.unused = tf.Variable(1.0, name="unused_param")  # not reachable from prior/encoder/decoder: not collected
    assert all("unused_param" not in v.name for v in vae.trainable_variables)
    x = tf.zeros([4, 6])
    with pytest.warns(UserWarning, match="receive no gradient"):
        tfpvae.fit(vae, tfpvae.ELBO(kl="monte_carlo"), tf.data.Dataset.from_tensors(x), epochs=1,
                   variables=vae.trainable_variables + [vae.unused])
