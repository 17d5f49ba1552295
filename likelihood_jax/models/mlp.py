"""Multi-layer perceptrons (flax.linen), plain and residual.

``MLP`` is the textbook stack ``Dense -> act -> ... -> Dense``. ``ResidualMLP`` adds identity
skips around every hidden layer whose width matches its input (He et al. 2016), the form used
as the coupling conditioner of RealNVP (Dinh et al. 2017, "Density estimation using Real NVP")
in :mod:`likelihood_jax.flows`::

    h_0 = W_0 x + b_0
    h_k = h_{k-1} + W_k act(h_{k-1}) + b_k      (or without the skip if the width changes)
    out = W_out act(h_K) + b_out

Both accept ``zero_init_last=True``, which zero-initializes the output layer so that the
network outputs exactly 0 at initialization (a coupling layer then starts as the identity).
Inputs are batch-first or single examples: only the last axis is mixed.
"""

from collections.abc import Callable, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp


def _output_layer(features: int, zero_init: bool) -> nn.Dense:
    if zero_init:
        return nn.Dense(features, kernel_init=nn.initializers.zeros, name="output")
    return nn.Dense(features, name="output")


class MLP(nn.Module):
    """Plain MLP: hidden ``Dense`` layers with ``activation``, then a linear output layer.

    Attributes:
        hidden_dims: widths of the hidden layers.
        out_dim: size of the output (last axis).
        activation: elementwise nonlinearity between layers.
        zero_init_last: if True, the output layer's kernel (and bias) start at zero.
    """

    hidden_dims: Sequence[int]
    out_dim: int
    activation: Callable[[jax.Array], jax.Array] = nn.silu
    zero_init_last: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Maps ``x`` of shape ``(..., D_in)`` to ``(..., out_dim)``."""
        h = jnp.asarray(x)
        for width in self.hidden_dims:
            h = self.activation(nn.Dense(width)(h))
        return _output_layer(self.out_dim, self.zero_init_last)(h)


class ResidualMLP(nn.Module):
    """MLP with identity skip connections around equal-width hidden layers.

    The input is projected to ``hidden_dims[0]``; each further hidden layer computes
    ``h + Dense(act(h))`` when its width equals the current width and ``Dense(act(h))``
    otherwise; the output layer reads ``act(h)``.

    Attributes:
        hidden_dims: widths of the hidden layers (at least one).
        out_dim: size of the output (last axis).
        activation: elementwise nonlinearity.
        zero_init_last: if True, the output layer's kernel (and bias) start at zero.
    """

    hidden_dims: Sequence[int]
    out_dim: int
    activation: Callable[[jax.Array], jax.Array] = nn.silu
    zero_init_last: bool = False

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        """Maps ``x`` of shape ``(..., D_in)`` to ``(..., out_dim)``."""
        if not self.hidden_dims:
            raise ValueError("ResidualMLP needs at least one hidden layer.")
        h = nn.Dense(self.hidden_dims[0], name="input")(jnp.asarray(x))
        for i, width in enumerate(self.hidden_dims[1:]):
            update = nn.Dense(width, name=f"hidden_{i}")(self.activation(h))
            h = h + update if width == h.shape[-1] else update
        return _output_layer(self.out_dim, self.zero_init_last)(self.activation(h))
