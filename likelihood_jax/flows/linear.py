"""Linear bijectors acting on the last axis: permutations and a dense invertible matrix.

Direction: ``forward`` maps data x -> latent z, ``inverse`` maps z -> x (see ``flows.base``).
All of them act on the last axis of the event (the vector for ``(D,)`` events, the channels for
``(H, W, C)`` events), and none has a log-det that depends on x.

**Reverse / Permute** (Dinh et al. 2017, RealNVP; Kingma & Dhariwal 2018, Glow's fixed
shuffle and reverse): ``z = x[..., perm]``, ``log|det| = 0``.

**Dense** (Glow's invertible 1x1 convolution, Kingma & Dhariwal 2018, with an unconstrained
``W`` rather than the LU parameterization): ``z = W x + b`` applied at each of the ``P``
positions, ``log|det dz/dx| = P log|det W|``. The log-det is computed with ``slogdet`` each
call, an O(C^3) LU factorization, and the inverse solves ``W x = z - b`` (another O(C^3) per
example). The log-det is constant in x, which is why EBFlow (Chao et al. 2023) never computes it
during training.
"""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.flows.base import Bijector, Context, Params


@dataclasses.dataclass(frozen=True)
class Reverse(Bijector):
    """Reverses the last axis: ``z = x[..., ::-1]``; log-det 0, independent of x."""

    log_det_depends_on_x = False

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z = x[..., ::-1]``, log-det 0."""
        del params
        return x[..., ::-1], jnp.zeros((), x.dtype)

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``x = z[..., ::-1]``, log-det 0."""
        del params
        return z[..., ::-1], jnp.zeros((), z.dtype)


@dataclasses.dataclass(frozen=True)
class Permute(Bijector):
    """Fixed permutation of the last axis: ``z[..., i] = x[..., perm[i]]``; log-det 0.

    Attributes:
        perm: a permutation of ``range(C)``, as a tuple of ints (lists are converted).
    """

    perm: tuple[int, ...]
    log_det_depends_on_x = False

    def __post_init__(self):
        perm = tuple(int(i) for i in self.perm)
        if sorted(perm) != list(range(len(perm))):
            raise ValueError(f"Permute needs a permutation of range(n), got {perm}.")
        object.__setattr__(self, "perm", perm)

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z = x[..., perm]``, log-det 0."""
        del params
        return x[..., np.asarray(self.perm)], jnp.zeros((), x.dtype)

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``x = z[..., argsort(perm)]``, log-det 0."""
        del params
        return z[..., np.argsort(self.perm)], jnp.zeros((), z.dtype)


@dataclasses.dataclass(frozen=True)
class Dense(Bijector):
    """Unconstrained invertible linear map ``z = W x + b`` on the last axis (Glow's 1x1 conv).

    ``W`` (C, C) is initialized to a random orthogonal matrix (log-det 0 at init), ``b`` to 0.
    ``log_det = P * slogdet(W)``: O(C^3) per call, constant in x.
    """

    log_det_depends_on_x = False

    def init(self, key: jax.Array, x: jax.Array, context: Context = None) -> Params:
        """Random orthogonal ``W`` and zero ``b``, sized from the batch's last axis."""
        dim = x.shape[-1]
        w = jax.nn.initializers.orthogonal()(key, (dim, dim), x.dtype)
        return {"w": w, "b": jnp.zeros((dim,), x.dtype)}

    def forward(self, params: Params, x: jax.Array, context: Context = None) -> jax.Array:
        """``z = W x + b`` at each position, without the O(C^3) log-det."""
        return x @ params["w"].T + params["b"]

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z = W x + b`` at each position, ``log_det = P log|det W|``."""
        return self.forward(params, x), math.prod(x.shape[:-1]) * jnp.linalg.slogdet(
            params["w"])[1]

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``x = W^{-1} (z - b)`` by ``jnp.linalg.solve``, ``log_det = -P log|det W|``."""
        dim = z.shape[-1]
        rhs = (z - params["b"]).reshape(-1, dim).T
        x = jnp.linalg.solve(params["w"], rhs).T.reshape(z.shape)
        return x, -math.prod(z.shape[:-1]) * jnp.linalg.slogdet(params["w"])[1]
