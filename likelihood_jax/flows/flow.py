"""A normalizing flow: a bijector onto a standard-normal base, and the RealNVP baseline.

Direction: the bijector's ``forward`` maps data x -> latent z, ``inverse`` maps z -> x (see
``flows.base``). With ``p_Z = N(0, I)`` the change of variables formula gives::

    log p_X(x) = log N(f(x); 0, I) + log|det df/dx|,

and sampling draws ``z ~ N(0, I)`` and returns ``x = f^{-1}(z)``, with
``log p_X(x) = log N(z; 0, I) - log|det df^{-1}/dz|`` at no extra cost.

**EBFlow view** (Chao et al. 2023, "Training Energy-Based Normalizing Flow with Score-Matching
Objectives"). Splitting the log-det into the layers whose log-det depends on x and the rest,

    log p_X(x) = -E(x) - log Z,
    E(x)  = -log N(f(x); 0, I) - sum_{x-dependent layers} log|det J_i(x)|     (Flow.energy)
    log Z = -sum_{x-independent layers} log|det J_i|                  (Flow.log_normalizer)

so ``grad_x log p = -grad_x E`` needs no determinant of a dense layer: score-matching
objectives on ``-E`` (``Flow.unnormalized_log_prob``) cost O(D^2 L) per example where the
exact ``log_prob`` (with ``slogdet``) costs O(D^3 L) per batch.

**Conditional flows.** Every method takes the optional ``context`` of the bijector contract
(:mod:`likelihood_jax.flows.base`): ``log_prob(params, x, context)`` is ``log p(x | c)``, and
``sample(params, key, n, context)`` draws ``n`` examples for one context (vmap over contexts
for one draw each).

``realnvp`` builds the maximum-likelihood baseline of Dinh et al. 2017 ("Density estimation
using Real NVP") for vector data: alternating-mask affine couplings, each preceded by a Glow
ActNorm (Kingma & Dhariwal 2018) in place of RealNVP's batch normalization.
"""

import dataclasses
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp

from likelihood_jax.flows.base import Bijector, Context, Params
from likelihood_jax.flows.chain import Chain, forward_and_x_dependent_log_det
from likelihood_jax.flows.coupling import AffineCoupling, alternating_mask
from likelihood_jax.flows.elementwise import ActNorm


def standard_normal_log_prob(z: jax.Array) -> jax.Array:
    """``log N(z; 0, I)`` summed over all axes of one example."""
    return -0.5 * jnp.sum(jnp.square(z)) - 0.5 * z.size * math.log(2.0 * math.pi)


@dataclasses.dataclass(frozen=True)
class Flow:
    """A normalizing flow ``x = f^{-1}(z)``, ``z ~ N(0, I)``, with ``f = bijector.forward``.

    ``log_prob`` acts on one example; ``sample`` and ``sample_and_log_prob`` return batches
    (``num_samples`` is static under ``jax.jit``). Samples have the floating dtype of the
    parameters (float32 unless they are float64). ``init`` runs the whole batch through the
    layers; wrap it in ``jax.jit`` for large flows (eager flax initialization is slow).

    Attributes:
        bijector: the data -> latent map.
        event_shape: shape of one data example.
    """

    bijector: Bijector
    event_shape: tuple[int, ...]

    def __post_init__(self):
        object.__setattr__(self, "event_shape", tuple(int(d) for d in self.event_shape))

    def init(self, key: jax.Array, x: jax.Array, context: Context = None) -> Params:
        """Initializes the bijector on a data batch ``x`` of shape ``(B,) + event_shape``.

        ``context``: the matching batch of contexts ``(B, ...)`` for a conditional flow.
        """
        if tuple(x.shape[1:]) != self.event_shape:
            raise ValueError(f"Expected a batch (B,) + {self.event_shape}, got {x.shape}.")
        if context is not None and context.shape[:1] != x.shape[:1]:
            raise ValueError(f"The contexts must be a batch of {x.shape[0]} like x, got shape "
                             f"{context.shape}.")
        return self.bijector.init(key, x, context)

    def log_prob(self, params: Params, x: jax.Array, context: Context = None) -> jax.Array:
        """Exact ``log p(x | c)`` of one example: ``log N(f(x; c); 0, I) + log|det df/dx|``."""
        z, log_det = self.bijector.forward_and_log_det(params, x, context)
        return standard_normal_log_prob(z) + log_det

    def energy(self, params: Params, x: jax.Array) -> jax.Array:
        """EBFlow's energy of one example: ``-log N(f(x)) - (x-dependent log-dets)``.

        ``E(x) = -log p(x) - log Z``: the unnormalized negative log-density, whose x-gradient
        is minus the exact score. The x-independent log-dets (dense linear layers, ActNorm,
        permutations) are never computed, see
        :func:`~likelihood_jax.flows.chain.forward_and_x_dependent_log_det`.

        Args:
            params: the bijector's parameters.
            x: one example of shape ``event_shape``.

        Returns:
            A scalar.
        """
        z, log_det = forward_and_x_dependent_log_det(self.bijector, params, x)
        return -(standard_normal_log_prob(z) + log_det)

    def unnormalized_log_prob(self, params: Params, x: jax.Array) -> jax.Array:
        """``-energy(params, x)`` = ``log p(x) + log Z``; its x-gradient is the exact score."""
        return -self.energy(params, x)

    def log_normalizer(self, params: Params) -> jax.Array:
        """``log Z = -(sum of the x-independent log-dets)``, so ``log p = -E - log Z``.

        Computes the constant log-dets (``slogdet`` of each dense layer: O(D^3)) once, by a
        forward pass of a zero example (their values do not depend on the input).
        """
        latent = self._latent(params)
        x = jnp.zeros(self.event_shape, latent.dtype)
        if isinstance(self.bijector, Chain):
            _, _, independent = self.bijector.forward_and_log_det_parts(params, x)
        elif self.bijector.log_det_depends_on_x:
            independent = jnp.zeros((), x.dtype)
        else:
            independent = self.bijector.forward_and_log_det(params, x)[1]
        return -independent

    def _latent(self, params: Params, context: Context = None) -> jax.ShapeDtypeStruct:
        leaves = jax.tree.leaves(params)
        floats = [leaf for leaf in leaves if jnp.issubdtype(leaf.dtype, jnp.floating)]
        dtype = jnp.result_type(*floats) if floats else jnp.float32
        x = jax.ShapeDtypeStruct(self.event_shape, dtype)
        return jax.eval_shape(self.bijector.forward, params, x, context)

    def sample_and_log_prob_from_latent(self, params: Params, z: jax.Array,
                                        context: Context = None
                                        ) -> tuple[jax.Array, jax.Array]:
        """``x = f^{-1}(z; c)`` and ``log p(x | c) = log N(z; 0, I) - log|det df^{-1}/dz|``.

        One example; the reparameterized sample (gradients reach the parameters through x).
        """
        x, log_det = self.bijector.inverse_and_log_det(params, z, context)
        return x, standard_normal_log_prob(z) - log_det

    def sample_and_log_prob(
        self, params: Params, key: jax.Array, num_samples: int, context: Context = None
    ) -> tuple[jax.Array, jax.Array]:
        """Draws ``num_samples`` examples and their exact log-densities.

        Args:
            params: the bijector's parameters.
            key: a ``jax.random.key``.
            num_samples: batch size (static).
            context: one example's context, shared by every sample (None: unconditional).

        Returns:
            ``(x, log_prob)`` of shapes ``(num_samples,) + event_shape`` and ``(num_samples,)``.
        """
        latent = self._latent(params, context)
        z = jax.random.normal(key, (num_samples,) + latent.shape, latent.dtype)
        return jax.vmap(self.sample_and_log_prob_from_latent, in_axes=(None, 0, None))(
            params, z, context)

    def sample(self, params: Params, key: jax.Array, num_samples: int, context: Context = None,
               *, temperature: float = 1.0) -> jax.Array:
        """Draws a batch ``(num_samples,) + event_shape``: ``x = f^{-1}(z; c)``.

        ``z ~ N(0, temperature^2 I)`` (Glow's reduced-temperature sampling when below 1).

        Args:
            params: the bijector's parameters.
            key: a ``jax.random.key``.
            num_samples: batch size (static).
            context: one example's context, shared by every sample (None: unconditional).
            temperature: standard deviation of the latent draws (1: the model itself).

        Returns:
            The samples, shape ``(num_samples,) + event_shape``.
        """
        latent = self._latent(params, context)
        z = jax.random.normal(key, (num_samples,) + latent.shape, latent.dtype)
        if temperature != 1.0:
            z = temperature * z
        return jax.vmap(self.bijector.inverse, in_axes=(None, 0, None))(params, z, context)


def realnvp(
    event_dim: int,
    num_layers: int = 8,
    hidden_dims: Sequence[int] = (64, 64),
    actnorm: bool = True,
    scale_fn: str = "tanh",
) -> Chain:
    """The RealNVP bijector for vector data ``(event_dim,)``.

    ``Chain([ActNorm, AffineCoupling(alternating_mask(D, 0)), ActNorm,
    AffineCoupling(alternating_mask(D, 1)), ...])``: consecutive couplings transform the odd
    and the even dimensions in turn, so every dimension is transformed ``num_layers / 2``
    times. Wrap it in :class:`Flow` for ``log_prob`` and ``sample``; for images, flatten first
    (or prepend :class:`~likelihood_jax.flows.Logit` for data in [0, 1]).

    Args:
        event_dim: D >= 2.
        num_layers: number of coupling layers (use an even number).
        hidden_dims: hidden widths of each coupling's residual MLP.
        actnorm: put an ActNorm before each coupling.
        scale_fn: the couplings' log-scale bound, ``"tanh"`` or ``"softplus"``.

    Returns:
        A :class:`Chain`.
    """
    if event_dim < 2:
        raise ValueError(f"A coupling flow needs event_dim >= 2, got {event_dim}.")
    layers = []
    for i in range(num_layers):
        if actnorm:
            layers.append(ActNorm())
        mask = alternating_mask(event_dim, parity=i % 2)
        layers.append(AffineCoupling(mask, tuple(hidden_dims), scale_fn))
    return Chain(tuple(layers))
