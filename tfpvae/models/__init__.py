"""Models: compositions of distributions. They return distributions; objectives consume them."""

from tfpvae.models.architectures import conv_vae, mlp_vae
from tfpvae.models.coders import Decoder, Encoder, Encoding
from tfpvae.models.vae import VAE

__all__ = ["VAE", "Encoder", "Decoder", "Encoding", "mlp_vae", "conv_vae"]
