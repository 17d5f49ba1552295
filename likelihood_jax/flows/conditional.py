"""Conditional flows ``p(y | c)``: affine couplings whose conditioner also sees a context ``c``.

Direction: ``forward`` maps the modelled variable y -> latent z, ``inverse`` maps z -> y (the
convention of :mod:`likelihood_jax.flows.base`). The context ``c`` (e.g. features of an input
x for a label flow, Lu et al. "Weakly Supervised Label Learning Flows") is never transformed.

**How the context is passed.** Conditional layers keep the Bijector conventions with one
extra, explicit positional argument, the context of the same example:

* ``init(key, y_batch, context_batch) -> params``;
* ``forward_and_log_det(params, y, context) -> (z, log|det dz/dy|)`` on one example;
* ``inverse_and_log_det(params, z, context) -> (y, log|det dy/dz|)`` on one example.

:class:`ConditionalChain` composes conditional layers with ordinary (unconditional)
bijectors such as :class:`~likelihood_jax.flows.Reverse` or
:class:`~likelihood_jax.flows.Permute`; it hands the context to the layers that are
:class:`ConditionalBijector` s and calls the others without it. :class:`ConditionalFlow` puts
a standard-normal base under the chain.

**ConditionalAffineCoupling** (RealNVP's coupling, Dinh et al. 2017, Eq. 4-9, with the
conditioner input extended by the context)::

    z_c = y_c,   z_t = y_t * exp(s(y_c, c)) + t(y_c, c),   log|det dz/dy| = sum_j s_j(y_c, c),
    y_t = (z_t - t(z_c, c)) * exp(-s(z_c, c))                              (the inverse).

The Jacobian stays triangular in y for every fixed c, so the log-det is the sum of the
log-scales. The raw log-scale is bounded, ``s = a * tanh(r)``: ``a`` is learned per
dimension (initialized to 1) when ``log_scale_bound`` is None, else the fixed number
``log_scale_bound``. A fixed bound bounds the flow's log-det, which keeps objectives that
maximize the likelihood of the flow's own samples (LLF's inverse training) from collapsing
the distribution to a point.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from likelihood_jax.flows.base import Bijector, Params
from likelihood_jax.flows.coupling import AffineCoupling
from likelihood_jax.flows.flow import standard_normal_log_prob
from likelihood_jax.flows.linear import Reverse


@dataclasses.dataclass(frozen=True)
class ConditionalBijector(Bijector):
    """A bijector of y given a context c; every method takes the context explicitly."""

    def init(self, key: jax.Array, x: jax.Array, context: jax.Array) -> Params:
        """Parameters from a batch ``x (B, D)`` and its contexts ``(B, C)`` (default: none)."""
        del key, x, context
        return {}

    def forward_and_log_det(self, params: Params, x: jax.Array, context: jax.Array
                            ) -> tuple[jax.Array, jax.Array]:
        """Maps one ``y`` (given its context) to ``(z, log|det dz/dy|)``."""
        raise NotImplementedError

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: jax.Array
                            ) -> tuple[jax.Array, jax.Array]:
        """Maps one ``z`` (given its context) to ``(y, log|det dy/dz|)``."""
        raise NotImplementedError

    def forward(self, params: Params, x: jax.Array, context: jax.Array) -> jax.Array:
        """``y -> z`` for one example."""
        return self.forward_and_log_det(params, x, context)[0]

    def inverse(self, params: Params, z: jax.Array, context: jax.Array) -> jax.Array:
        """``z -> y`` for one example."""
        return self.inverse_and_log_det(params, z, context)[0]


@dataclasses.dataclass(frozen=True)
class ConditionalAffineCoupling(AffineCoupling, ConditionalBijector):
    """Affine coupling on vectors ``(D,)`` whose shift and log-scale see a context ``(C,)``.

    :class:`~likelihood_jax.flows.AffineCoupling` with the conditioner input
    ``concat(y_c, context)``; identity at initialization (the conditioner's output layer is
    zero). Same attributes (``mask``, ``hidden_dims``, ``scale_fn``, ``log_scale_bound``).
    """

    def init(self, key: jax.Array, x: jax.Array, context: jax.Array) -> Params:
        """Conditioner params (zero output layer) and, if learned, log-scale bounds of 1.

        Args:
            key: a ``jax.random.key``.
            x: a batch ``(B, D)`` of the modelled variable.
            context: the matching batch of contexts ``(B, C)``.

        Returns:
            The parameters.
        """
        if context.ndim != 2 or context.shape[0] != x.shape[0]:
            raise ValueError(f"The context must be a batch (B, C) with B = {x.shape[0]}, "
                             f"got {context.shape}.")
        return self._init(key, x, context)

    @staticmethod
    def _check_context(context: jax.Array) -> None:
        if context.ndim != 1:
            raise ValueError(f"One example's context must be a vector, got {context.shape}.")

    def forward_and_log_det(self, params: Params, x: jax.Array, context: jax.Array
                            ) -> tuple[jax.Array, jax.Array]:
        """``z_t = y_t exp(s(y_c, c)) + t(y_c, c)``, ``log_det = sum(s)``."""
        self._check_context(context)
        return self._forward(params, x, context)

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: jax.Array
                            ) -> tuple[jax.Array, jax.Array]:
        """``y_t = (z_t - t(z_c, c)) exp(-s(z_c, c))``, ``log_det = -sum(s)``."""
        self._check_context(context)
        return self._inverse(params, z, context)


@dataclasses.dataclass(frozen=True)
class ConditionalChain(ConditionalBijector):
    """Composition of conditional and plain bijectors; ``forward`` applies ``layers`` in order.

    Conditional layers receive the context; plain bijectors are called without it. Params are
    a tuple with one entry per layer.

    Attributes:
        layers: the bijectors, y side first.
    """

    layers: tuple[Bijector, ...]

    def __post_init__(self):
        object.__setattr__(self, "layers", tuple(self.layers))

    @staticmethod
    def _call(layer, method, params, x, context):
        if isinstance(layer, ConditionalBijector):
            return getattr(layer, method)(params, x, context)
        return getattr(layer, method)(params, x)

    def init(self, key: jax.Array, x: jax.Array, context: jax.Array) -> Params:
        """Initializes the layers in order on the batch ``x`` moved through those before."""
        keys = jax.random.split(key, len(self.layers))
        params = []
        for layer, layer_key in zip(self.layers, keys):
            if isinstance(layer, ConditionalBijector):
                layer_params = layer.init(layer_key, x, context)
                x = jax.vmap(layer.forward, in_axes=(None, 0, 0))(layer_params, x, context)
            else:
                layer_params = layer.init(layer_key, x)
                x = jax.vmap(layer.forward, in_axes=(None, 0))(layer_params, x)
            params.append(layer_params)
        return tuple(params)

    def forward_and_log_det(self, params: Params, x: jax.Array, context: jax.Array
                            ) -> tuple[jax.Array, jax.Array]:
        """Applies the layers in order; the log-dets add."""
        if len(params) != len(self.layers):
            raise ValueError(f"Chain of {len(self.layers)} layers got {len(params)} params.")
        log_det = jnp.zeros((), x.dtype)
        for layer, layer_params in zip(self.layers, params):
            x, ld = self._call(layer, "forward_and_log_det", layer_params, x, context)
            log_det = log_det + ld
        return x, log_det

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: jax.Array
                            ) -> tuple[jax.Array, jax.Array]:
        """Applies the layers' inverses in reverse order; the log-dets add."""
        if len(params) != len(self.layers):
            raise ValueError(f"Chain of {len(self.layers)} layers got {len(params)} params.")
        log_det = jnp.zeros((), z.dtype)
        for layer, layer_params in zip(reversed(self.layers), reversed(params)):
            z, ld = self._call(layer, "inverse_and_log_det", layer_params, z, context)
            log_det = log_det + ld
        return z, log_det


@dataclasses.dataclass(frozen=True)
class ConditionalFlow:
    """``p(y | c)``: ``y = f^{-1}(z; c)``, ``z ~ N(0, I)``, with ``f = bijector.forward``.

    ``log p(y | c) = log N(f(y; c); 0, I) + log|det df/dy|``. Methods act on one example
    ``y (D,)`` with its context ``c (C,)``; callers vmap.

    Attributes:
        bijector: a :class:`ConditionalBijector` (y -> z given c).
        event_dim: D, the length of y.
    """

    bijector: ConditionalBijector
    event_dim: int

    def init(self, key: jax.Array, y: jax.Array, context: jax.Array) -> Params:
        """Initializes on a batch ``y (B, D)`` and contexts ``(B, C)``."""
        if y.ndim != 2 or y.shape[1] != self.event_dim:
            raise ValueError(f"Expected a batch (B, {self.event_dim}), got {y.shape}.")
        return self.bijector.init(key, y, context)

    def log_prob(self, params: Params, y: jax.Array, context: jax.Array) -> jax.Array:
        """Exact ``log p(y | c)`` of one example."""
        z, log_det = self.bijector.forward_and_log_det(params, y, context)
        return standard_normal_log_prob(z) + log_det

    def sample_and_log_prob_from_latent(self, params: Params, z: jax.Array,
                                        context: jax.Array) -> tuple[jax.Array, jax.Array]:
        """``y = f^{-1}(z; c)`` and ``log p(y | c) = log N(z) - log|det df^{-1}/dz|``.

        The reparameterized sample: gradients flow into the parameters through ``y``.
        """
        y, log_det = self.bijector.inverse_and_log_det(params, z, context)
        return y, standard_normal_log_prob(z) - log_det

    def sample_and_log_prob(self, params: Params, key: jax.Array, context: jax.Array,
                            num_samples: int) -> tuple[jax.Array, jax.Array]:
        """``num_samples`` draws of ``y | c`` for one context, ``(S, D)`` and ``(S,)``."""
        leaves = [p for p in jax.tree.leaves(params) if jnp.issubdtype(p.dtype, jnp.floating)]
        dtype = jnp.result_type(*leaves) if leaves else jnp.float32
        z = jax.random.normal(key, (num_samples, self.event_dim), dtype)
        return jax.vmap(self.sample_and_log_prob_from_latent, in_axes=(None, 0, None))(
            params, z, context)


def conditional_realnvp(event_dim: int, num_layers: int = 4,
                        hidden_dims: tuple[int, ...] = (64, 64),
                        log_scale_bound: float | None = None) -> ConditionalChain:
    """A conditional RealNVP on vectors: couplings with alternating masks.

    ``ConditionalChain([Coupling(mask_0), Reverse, Coupling(mask_0), Reverse, ...])`` with
    ``Reverse`` between couplings, so every dimension is transformed. No ActNorm: its
    data-dependent init needs samples of y, which inverse-trained label flows never have.

    Args:
        event_dim: D >= 2.
        num_layers: number of coupling layers.
        hidden_dims: hidden widths of each conditioner.
        log_scale_bound: see :class:`ConditionalAffineCoupling`.

    Returns:
        A :class:`ConditionalChain`.
    """
    if event_dim < 2:
        raise ValueError(f"A coupling flow needs event_dim >= 2, got {event_dim}.")
    if num_layers < 1:
        raise ValueError(f"num_layers must be >= 1, got {num_layers}.")
    mask = tuple(int(i < math.ceil(event_dim / 2)) for i in range(event_dim))
    layers: list[Bijector] = []
    for i in range(num_layers):
        if i:
            layers.append(Reverse())
        layers.append(ConditionalAffineCoupling(mask, tuple(hidden_dims),
                                                log_scale_bound=log_scale_bound))
    return ConditionalChain(tuple(layers))
