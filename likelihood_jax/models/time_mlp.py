"""A time-conditioned MLP ``f(t, x)``: a CNF vector field or a diffusion score/noise net.

The time enters as an extra input feature, either the raw ``t`` (``"concat"``, the
torchcfm toy architecture of Tong et al. 2023: ``MLP(dim + 1 -> 64 -> 64 -> 64 -> dim)``
with SELU) or Fourier features ``[t, sin(2 pi f_k t), cos(2 pi f_k t)]`` with
geometrically spaced frequencies ``f_k`` from 1 to ``max_frequency`` (``"fourier"``;
smoother dependence on ``t`` for diffusion nets that see ``t`` across a wide
noise range). The body is :class:`likelihood_jax.models.mlp.MLP`.

``x`` is a vector per example (``(..., D)``); ``t`` is a scalar or has shape
``x.shape[:-1]``, so the same module serves one example (``model.apply(p, t, x)`` with
``x`` of shape ``(D,)``, as the pure ODE/loss functions call it) and a batch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from likelihood_jax.models.mlp import MLP

ACTIVATIONS: dict[str, Callable[[jax.Array], jax.Array]] = {
    "selu": nn.selu, "silu": nn.silu, "relu": nn.relu, "tanh": jnp.tanh, "gelu": nn.gelu,
    "softplus": nn.softplus, "elu": nn.elu,
}
TIME_EMBEDDINGS = ("concat", "fourier")


def activation_by_name(name: str) -> Callable[[jax.Array], jax.Array]:
    """The activation function called ``name`` (a key of :data:`ACTIVATIONS`).

    Raises:
      ValueError: for an unknown name.
    """
    if name not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {name!r}; expected one of {tuple(ACTIVATIONS)}.")
    return ACTIVATIONS[name]


def time_features(t: jax.Array, kind: str = "concat", num_frequencies: int = 8,
                  max_frequency: float = 64.0) -> jax.Array:
    """Features of ``t`` (shape ``S``) -> ``S + (F,)``.

    Args:
      t: times.
      kind: ``"concat"`` (``F = 1``: ``t`` itself) or ``"fourier"`` (``F = 1 + 2K``:
        ``t``, then ``sin`` and ``cos`` of ``2 pi f_k t`` for ``K = num_frequencies``
        frequencies spaced geometrically in ``[1, max_frequency]``).
      num_frequencies: ``K``.
      max_frequency: the largest frequency.

    Returns:
      The features.

    Raises:
      ValueError: for an unknown ``kind``.
    """
    if kind not in TIME_EMBEDDINGS:
        raise ValueError(f"Unknown time embedding {kind!r}; expected one of {TIME_EMBEDDINGS}.")
    t = t[..., None]
    if kind == "concat":
        return t
    freqs = jnp.exp(jnp.linspace(0.0, math.log(max_frequency), num_frequencies)).astype(t.dtype)
    angles = 2.0 * math.pi * freqs * t
    return jnp.concatenate([t, jnp.sin(angles), jnp.cos(angles)], axis=-1)


class TimeMLP(nn.Module):
    """``f(t, x) = MLP([x, features(t)])``.

    Attributes:
      hidden_dims: widths of the hidden layers (torchcfm's toy net: ``(64, 64, 64)``).
      out_dim: output size; ``None`` means the input size (a vector field).
      activation: name of the nonlinearity (see :data:`ACTIVATIONS`).
      time_embedding: ``"concat"`` or ``"fourier"`` (see :func:`time_features`).
      num_frequencies: Fourier frequencies (``"fourier"`` only).
      max_frequency: the largest Fourier frequency.
      zero_init_last: start with a zero output layer (the field is 0 at init).
    """

    hidden_dims: Sequence[int] = (64, 64, 64)
    out_dim: int | None = None
    activation: str = "selu"
    time_embedding: str = "concat"
    num_frequencies: int = 8
    max_frequency: float = 64.0
    zero_init_last: bool = False

    @nn.compact
    def __call__(self, t: jax.Array, x: jax.Array) -> jax.Array:
        """Maps ``t`` (scalar or ``x.shape[:-1]``) and ``x`` ``(..., D)`` to ``(..., out_dim)``."""
        x = jnp.asarray(x)
        if x.ndim == 0:
            raise ValueError("TimeMLP needs x with a feature axis, got a scalar.")
        t = jnp.broadcast_to(jnp.asarray(t, x.dtype), x.shape[:-1])
        h = jnp.concatenate([x, time_features(t, self.time_embedding, self.num_frequencies,
                                              self.max_frequency)], axis=-1)
        out_dim = x.shape[-1] if self.out_dim is None else self.out_dim
        return MLP(tuple(self.hidden_dims), out_dim, activation_by_name(self.activation),
                   zero_init_last=self.zero_init_last, name="mlp")(h)
