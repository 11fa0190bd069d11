"""Keras 3 network builders for encoders and decoders. Each returns a built ``keras.Sequential``
(variables exist on return) whose output is flat ``[batch, output_dim]``, ready for a head."""

from __future__ import annotations

from collections.abc import Sequence

import keras

from tfpvae._validation import positive_int, shape_tuple

__all__ = ["mlp", "conv_encoder_net", "conv_decoder_net", "UPSAMPLING"]


def _hidden(hidden: Sequence[int], component: str) -> tuple[int, ...]:
    hidden = tuple(hidden)
    for h in hidden:
        positive_int(h, component, "each hidden size")
    return hidden


def mlp(input_shape: Sequence[int], output_dim: int, hidden: Sequence[int] = (200, 200),
        activation: str = "tanh", name: str | None = None) -> keras.Sequential:
    """Flatten -> Dense(h, activation) for each h in ``hidden`` -> Dense(output_dim) (linear).

    With ``hidden=(500,)`` and tanh this is the Gaussian/Bernoulli MLP of Kingma & Welling (2014);
    ``(200, 200)`` is the encoder/decoder of Burda et al. (2015).
    """
    input_shape = shape_tuple(input_shape, "mlp", "input_shape")
    positive_int(output_dim, "mlp", "output_dim")
    layers = [keras.Input(input_shape), keras.layers.Flatten()]
    layers += [keras.layers.Dense(h, activation=activation) for h in _hidden(hidden, "mlp")]
    layers.append(keras.layers.Dense(output_dim))
    return keras.Sequential(layers, name=name)


def conv_encoder_net(input_shape: Sequence[int], output_dim: int, filters: Sequence[int] = (32, 64),
                     kernel_size: int = 3, activation: str = "relu", name: str | None = None, *,
                     padding: str = "same") -> keras.Sequential:
    """Stride-2 convolutions (the TF CVAE tutorial's encoder) -> Flatten -> Dense(output_dim) (linear).

    ``padding="valid"`` is the tutorial's exact choice (28 -> 13 -> 6); ``"same"`` halves exactly.
    """
    input_shape = shape_tuple(input_shape, "conv_encoder_net", "input_shape")
    if len(input_shape) != 3:
        raise ValueError(f"conv_encoder_net: input_shape must be (height, width, channels), got {input_shape}")
    if padding not in _PADDINGS:
        raise ValueError(f"conv_encoder_net: padding must be one of {_PADDINGS}, got {padding!r}")
    layers = [keras.Input(input_shape)]
    layers += [keras.layers.Conv2D(f, kernel_size, strides=2, padding=padding, activation=activation)
               for f in _hidden(filters, "conv_encoder_net")]
    layers += [keras.layers.Flatten(), keras.layers.Dense(positive_int(output_dim, "conv_encoder_net", "output_dim"))]
    return keras.Sequential(layers, name=name)


_PADDINGS = ("same", "valid")
UPSAMPLING = ("transpose", "nearest", "bilinear")


def _upsample_block(f: int, kernel_size: int, activation: str, upsampling: str) -> list:
    if upsampling == "transpose":
        return [keras.layers.Conv2DTranspose(f, kernel_size, strides=2, padding="same", activation=activation)]
    return [keras.layers.UpSampling2D(2, interpolation=upsampling),
            keras.layers.Conv2D(f, kernel_size, padding="same", activation=activation)]


def conv_decoder_net(latent_dim: int, output_shape: Sequence[int], filters: Sequence[int] = (64, 32),
                     kernel_size: int = 3, activation: str = "relu", name: str | None = None, *,
                     upsampling: str = "transpose", base_channels: int | None = None) -> keras.Sequential:
    """Dense -> reshape to a ``(H / 2^n, W / 2^n, base_channels)`` map -> n doubling blocks -> a
    stride-1 conv to ``output_shape[-1]`` channels (linear) -> Flatten.

    ``output_shape`` is ``(H, W, channels * params_per_pixel)``; the output is ``[B, H * W * that]``.
    Each of the n blocks (one per entry of ``filters``) doubles height and width:
    ``upsampling="transpose"``: a stride-2 ``Conv2DTranspose`` (the TF CVAE tutorial);
    ``"nearest"`` or ``"bilinear"``: ``UpSampling2D`` then a stride-1 ``Conv2D``, which avoids the
    checkerboard artefacts of transposed convolutions (Odena et al. 2016). ``base_channels`` defaults
    to ``filters[0]``; the tutorial reshapes to 32 channels before its 64-filter block.
    """
    positive_int(latent_dim, "conv_decoder_net", "latent_dim")
    h, w, c = shape_tuple(output_shape, "conv_decoder_net", "output_shape")
    filters = _hidden(filters, "conv_decoder_net")
    if upsampling not in UPSAMPLING:
        raise ValueError(f"conv_decoder_net: upsampling must be one of {UPSAMPLING}, got {upsampling!r}")
    base = filters[0] if base_channels is None else positive_int(base_channels, "conv_decoder_net", "base_channels")
    factor = 2 ** len(filters)
    if h % factor or w % factor:
        raise ValueError(f"conv_decoder_net: height and width {h}x{w} must be divisible by 2**len(filters) = {factor}")
    layers = [keras.Input((latent_dim,)),
              keras.layers.Dense((h // factor) * (w // factor) * base, activation=activation),
              keras.layers.Reshape((h // factor, w // factor, base))]
    for f in filters:
        layers += _upsample_block(f, kernel_size, activation, upsampling)
    final = keras.layers.Conv2DTranspose if upsampling == "transpose" else keras.layers.Conv2D
    layers += [final(c, kernel_size, padding="same"), keras.layers.Flatten()]
    return keras.Sequential(layers, name=name)
