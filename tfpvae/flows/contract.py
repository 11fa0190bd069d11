"""Checks that a posterior flow fits the model it is plugged into."""
from __future__ import annotations

import tensorflow_probability as tfp

tfb = tfp.bijectors


def is_conditional(flow) -> bool:
    """True for conditional flows (objects with `bind(context)`), False for plain `tfb.Bijector`s."""
    return hasattr(flow, "bind") and callable(flow.bind)


def validate(flow, latent_dim: int, context_dim: int = 0, name: str = "posterior_flow") -> None:
    """Raises if `flow` cannot act on latents of size `latent_dim` given an encoder context of `context_dim`.

    Reads the attributes `event_size` (skipped when absent, e.g. a hand-built `tfb.Exp()`) and
    `context_dim` (0 for plain bijectors without it).

    Raises:
      TypeError: `flow` is neither a `tfb.Bijector` nor has `bind`.
      ValueError: naming both sizes when `event_size != latent_dim` or `context_dim` differs.
    """
    conditional = is_conditional(flow)
    if not conditional and not isinstance(flow, tfb.Bijector):
        raise TypeError(f"{name}: expected a tfb.Bijector or an object with bind(context), "
                        f"got {type(flow).__name__}")
    event_size = getattr(flow, "event_size", None)
    if event_size is not None and int(event_size) != int(latent_dim):
        raise ValueError(f"{name}: flow has event_size {event_size}, expected latent_dim = {latent_dim}")
    width = getattr(flow, "context_dim", None if conditional else 0)
    if width is not None and int(width) != int(context_dim):
        raise ValueError(f"{name}: flow expects a context of width context_dim = {width}, but the encoder "
                         f"emits a context of width {context_dim}")
