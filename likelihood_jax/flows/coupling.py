"""RealNVP affine coupling on vector events, and the masks that pick its halves.

Direction: ``forward`` maps data x -> latent z, ``inverse`` maps z -> x (see ``flows.base``).

**AffineCoupling** (Dinh et al. 2017, "Density estimation using Real NVP", Eq. 4-9). A fixed
binary mask ``b`` splits the vector ``x`` into the conditioning part ``x_c = x[b == 1]``, which
passes through unchanged, and the transformed part ``x_t = x[b == 0]``::

    z_c = x_c,    z_t = x_t * exp(s(x_c)) + t(x_c),    log|det dz/dx| = sum_j s_j(x_c),

    x_t = (z_t - t(z_c)) * exp(-s(z_c))                 (the inverse).

The shift ``t`` and raw log-scale ``r`` come from one conditioner network, a residual MLP
(:class:`likelihood_jax.models.mlp.ResidualMLP`) whose output layer is zero-initialized, so
the layer is exactly the identity at initialization. The log-det depends on x (through x_c).

**Conditional coupling** (``conditional=True``, label flows [P134]). The conditioner sees
``concat(x_c, c)`` with the example's context ``c``: ``z_t = x_t * exp(s(x_c, c)) + t(x_c, c)``.
The Jacobian in x stays triangular for every fixed c, so the log-det is still ``sum_j s_j``.
Its methods take the context as the ``context`` argument of every bijector, and an
unconditional coupling ignores that argument.

The raw output ``r`` is bounded before exponentiation, chosen by ``scale_fn``:

* ``"tanh"`` (default, RealNVP's choice): ``s = a * tanh(r)`` with a learned per-dimension
  ``a`` (``params["log_scale_bound"]``, initialized to 1), so each layer's log-scale lies in
  ``(-|a|, |a|)``. ``s = r + O(r^3)`` near the identity init.
* ``"softplus"`` (as in Glow's ``sigmoid(r + 2)`` and nflows' softplus variants): scale
  ``exp(s) = softplus(r + c) + 1e-3`` with ``c`` chosen so that ``r = 0`` gives scale 1;
  ``s`` is bounded below by ``log(1e-3)`` and grows only logarithmically in ``r``.

Helpers build masks: :func:`alternating_mask` (even/odd dimensions, RealNVP on vectors) and
:func:`checkerboard_mask` (RealNVP's spatial checkerboard on a flattened ``(H, W, C)`` image).
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.flows.base import Bijector, Context, Params
from likelihood_jax.models.mlp import ResidualMLP

_MIN_SCALE = 1e-3
_SOFTPLUS_OFFSET = math.log(math.expm1(1.0 - _MIN_SCALE))  # softplus(offset) + min = 1


def alternating_mask(dim: int, parity: int = 0) -> tuple[int, ...]:
    """Mask selecting the dimensions ``i`` with ``i % 2 == parity`` as the conditioning half.

    Args:
        dim: the vector length D.
        parity: 0 (even dimensions condition) or 1 (odd dimensions condition).

    Returns:
        A tuple of D zeros and ones.
    """
    return tuple(int(i % 2 == parity) for i in range(dim))


def checkerboard_mask(
    height: int, width: int, channels: int = 1, parity: int = 0
) -> tuple[int, ...]:
    """RealNVP's checkerboard mask for an ``(H, W, C)`` image flattened in row-major order.

    Pixel ``(h, w)`` (all its channels) conditions when ``(h + w) % 2 == parity``.

    Args:
        height: image height H.
        width: image width W.
        channels: channels C (all channels of a pixel share its mask value).
        parity: 0 or 1, which colour of the board conditions.

    Returns:
        A tuple of H * W * C zeros and ones, matching ``image.reshape(-1)``.
    """
    h, w = np.meshgrid(np.arange(height), np.arange(width), indexing="ij")
    board = ((h + w) % 2 == parity).astype(int)
    return tuple(np.repeat(board[..., None], channels, axis=-1).reshape(-1).tolist())


@dataclasses.dataclass(frozen=True)
class AffineCoupling(Bijector):
    """RealNVP affine coupling layer on vector events ``(D,)``, identity at initialization.

    Attributes:
        mask: tuple of D zeros and ones; ones mark the conditioning (unchanged) dimensions.
        hidden_dims: hidden widths of the residual MLP conditioner.
        scale_fn: ``"tanh"`` (bounded tanh, RealNVP) or ``"softplus"``; see the module
            docstring.
        log_scale_bound: for ``"tanh"``, None (the bound ``a`` is learned per dimension,
            initialized to 1) or a positive float, a fixed bound of every log-scale (which
            bounds the layer's log-det).
        conditional: the conditioner also sees the example's context ``(C,)`` (which every
            method then requires); an unconditional coupling ignores any context.
    """

    mask: tuple[int, ...]
    hidden_dims: tuple[int, ...] = (64, 64)
    scale_fn: str = "tanh"
    log_scale_bound: float | None = None
    conditional: bool = False
    log_det_depends_on_x = True

    def __post_init__(self):
        mask = tuple(int(m) for m in self.mask)
        if set(mask) != {0, 1}:
            raise ValueError(f"The mask needs both zeros and ones, got {mask}.")
        if self.scale_fn not in ("tanh", "softplus"):
            raise ValueError(f"scale_fn must be 'tanh' or 'softplus', got {self.scale_fn!r}.")
        if self.log_scale_bound is not None:
            if self.scale_fn != "tanh":
                raise ValueError("log_scale_bound applies to scale_fn='tanh' only.")
            if not self.log_scale_bound > 0:
                raise ValueError(f"log_scale_bound must be positive, got {self.log_scale_bound}.")
        object.__setattr__(self, "mask", mask)
        object.__setattr__(self, "hidden_dims", tuple(int(h) for h in self.hidden_dims))

    @property
    def conditioning_indices(self) -> np.ndarray:
        """Indices of the conditioning (unchanged) dimensions, ``mask == 1``."""
        return np.flatnonzero(np.asarray(self.mask) == 1)

    @property
    def transformed_indices(self) -> np.ndarray:
        """Indices of the transformed dimensions, ``mask == 0``."""
        return np.flatnonzero(np.asarray(self.mask) == 0)

    def _conditioner(self) -> ResidualMLP:
        return ResidualMLP(self.hidden_dims, 2 * len(self.transformed_indices),
                           zero_init_last=True)

    def _conditioner_input(self, x_cond: jax.Array, context: Context) -> jax.Array:
        """``x_c``, or ``concat(x_c, context)`` for a conditional coupling."""
        if not self.conditional:
            return x_cond
        if context is None:
            raise ValueError("A conditional AffineCoupling needs the example's context (C,).")
        if context.ndim != 1:
            raise ValueError(f"AffineCoupling: one example's context must be a vector (C,), "
                             f"got shape {context.shape}.")
        return jnp.concatenate([x_cond, context.astype(x_cond.dtype)])

    def init(self, key: jax.Array, x: jax.Array, context: Context = None) -> Params:
        """Conditioner params (zero output layer) and, for a learned tanh bound, bounds of 1.

        Args:
            key: a ``jax.random.key``.
            x: a batch ``(B, D)``.
            context: for a conditional coupling, the batch of contexts ``(B, C)`` (its
                conditioner's input grows by ``C``); ignored otherwise.

        Returns:
            The parameters.
        """
        if x.ndim != 2 or x.shape[-1] != len(self.mask):
            raise ValueError(f"{type(self).__name__} needs a batch (B, {len(self.mask)}), "
                             f"got {x.shape}.")
        if self.conditional and (context is None or context.ndim != 2
                                 or context.shape[0] != x.shape[0]):
            raise ValueError(f"The context must be a batch (B, C) with B = {x.shape[0]}, "
                             f"got {None if context is None else context.shape}.")
        inputs = self._conditioner_input(x[0, self.conditioning_indices],
                                         context[0] if self.conditional else None)
        params = {"conditioner": self._conditioner().init(key, inputs)}
        if self.scale_fn == "tanh" and self.log_scale_bound is None:
            params["log_scale_bound"] = jnp.ones((len(self.transformed_indices),), x.dtype)
        return params

    def shift_and_log_scale(self, params: Params, x_cond: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """The conditioner's ``(t, s)`` for the conditioning values ``x_c`` (and the context).

        Args:
            params: the layer's parameters.
            x_cond: ``x[conditioning_indices]`` of one example.
            context: its context ``(C,)`` for a conditional coupling, else None.

        Returns:
            ``(shift, log_scale)``, each of the length of ``transformed_indices``.
        """
        out = self._conditioner().apply(params["conditioner"],
                                        self._conditioner_input(x_cond, context))
        shift, raw = jnp.split(out, 2, axis=-1)
        if self.scale_fn == "tanh":
            bound = (params["log_scale_bound"] if self.log_scale_bound is None
                     else self.log_scale_bound)
            log_scale = bound * jnp.tanh(raw)
        else:
            log_scale = jnp.log(jax.nn.softplus(raw + _SOFTPLUS_OFFSET) + _MIN_SCALE)
        return shift, log_scale

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z_t = x_t exp(s(x_c, c)) + t(x_c, c)``, ``log_det = sum(s)``."""
        cond, trans = self.conditioning_indices, self.transformed_indices
        shift, log_scale = self.shift_and_log_scale(params, x[cond], context)
        z = x.at[trans].set(x[trans] * jnp.exp(log_scale) + shift)
        return z, jnp.sum(log_scale)

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``x_t = (z_t - t(z_c, c)) exp(-s(z_c, c))``, ``log_det = -sum(s)``."""
        cond, trans = self.conditioning_indices, self.transformed_indices
        shift, log_scale = self.shift_and_log_scale(params, z[cond], context)
        x = z.at[trans].set((z[trans] - shift) * jnp.exp(-log_scale))
        return x, -jnp.sum(log_scale)
