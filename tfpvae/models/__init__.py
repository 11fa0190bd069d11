"""Models: compositions of distributions. They return distributions; objectives consume them."""

from tfpvae.models.architectures import (conv_autoencoder, conv_face_vae, conv_vae, cvae_tutorial, mlp_autoencoder,
                                         mlp_vae)
from tfpvae.models.autoencoder import Autoencoder
from tfpvae.models.coders import Decoder, Encoder, Encoding
from tfpvae.models.vae import VAE

__all__ = ["VAE", "Encoder", "Decoder", "Encoding", "mlp_vae", "conv_vae",
           "Autoencoder", "cvae_tutorial", "conv_face_vae", "mlp_autoencoder", "conv_autoencoder"]
