"""A plain PyTorch training loop for (a)'s MLP VAE (issue 14): the comparison outside TensorFlow.

The same model as the TensorFlow baselines (784 -> 200 -> 200 -> 2 x 50 tanh encoder, 50 -> 200 ->
200 -> 784 Bernoulli-logit decoder, analytic KL to N(0, I), one reparameterised sample, Adam 1e-3,
batch 100), written as PyTorch users write it: the images as one in-memory tensor, a fresh
``torch.randperm`` order each epoch and an index per batch (PyTorch's most direct in-memory input,
no ``DataLoader`` worker overhead), PyTorch's default Adam, the epoch's loss summed on the device and
read once at the end (as every other implementation does). ``compiled=True`` runs the step under
``torch.compile`` (TorchInductor's CPU code generation): PyTorch's counterpart of XLA.

Optional: ``torch`` is not a dependency of tfpvae (``pip install -e .[benchmarks]`` adds it);
``benchmarks/throughput.py`` measures these runners when it can import it.
"""

from __future__ import annotations

import time

import numpy as np
import torch
import torch._dynamo  # noqa: F401  (eagerly: Adam and torch.compile import it lazily, which crashed after TensorFlow)
import torch._inductor.compile_fx  # noqa: F401  (likewise, torch.compile's code generator)
from torch import nn
from torch.nn import functional as F


class MlpVae(nn.Module):
    def __init__(self, latent_dim: int = 50):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(784, 200), nn.Tanh(), nn.Linear(200, 200), nn.Tanh(),
                                     nn.Linear(200, 2 * latent_dim))
        self.decoder = nn.Sequential(nn.Linear(latent_dim, 200), nn.Tanh(), nn.Linear(200, 200), nn.Tanh(),
                                     nn.Linear(200, 784))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Per-example negative ELBO."""
        mean, logvar = self.encoder(x).chunk(2, dim=-1)
        z = mean + torch.randn_like(mean) * torch.exp(0.5 * logvar)
        reconstruction = F.binary_cross_entropy_with_logits(self.decoder(z), x, reduction="none").sum(-1)
        kl = 0.5 * (mean.square() + logvar.exp() - 1.0 - logvar).sum(-1)
        return reconstruction + kl


class Runner:
    """``epoch() -> (seconds, mean loss)`` of the plain loop over ``images`` (uint8 or float, any shape
    with 784 values per image; values above 1 are taken as 0-255 grey levels)."""

    def __init__(self, images, *, batch_size: int = 100, compiled: bool = False, seed: int = 0):
        torch.manual_seed(seed)
        x = np.asarray(images).reshape(len(images), -1).astype(np.float32)
        self.x = torch.from_numpy(x / 255.0 if x.max() > 1 else x)
        self.batch_size = batch_size
        self.model = MlpVae()
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=1e-3)
        self.step = torch.compile(self._step) if compiled else self._step

    def _step(self, batch: torch.Tensor) -> torch.Tensor:
        self.optimizer.zero_grad(set_to_none=True)
        losses = self.model(batch)
        losses.mean().backward()
        self.optimizer.step()
        return losses.detach().sum()

    def epoch(self) -> tuple[float, float]:
        start = time.perf_counter()
        order = torch.randperm(len(self.x))
        total = torch.zeros(())
        for first in range(0, len(self.x), self.batch_size):
            total += self.step(self.x[order[first:first + self.batch_size]])
        loss = float(total) / len(self.x)  # waits for the last step
        return time.perf_counter() - start, loss
