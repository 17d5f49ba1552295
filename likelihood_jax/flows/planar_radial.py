"""Planar and radial flows for variational inference (Rezende & Mohamed 2015).

Rezende & Mohamed 2015, "Variational Inference with Normalizing Flows", Sec. 4.1 and App. A.
Both are maps ``x = f(z) = z + (something in a rank-one or radial direction)`` whose
log-determinant costs O(D), written for the **sampling** direction of variational inference:
a base draw ``z`` is pushed to ``x = f(z)`` with ``log q(x) = log q(z) - log|det df/dz|``.

Direction: in this library ``forward`` maps data x -> latent z and ``inverse`` maps z -> x
(``flows.base``), so the paper's closed-form ``f`` is :meth:`inverse_and_log_det` (what
:meth:`~likelihood_jax.flows.Flow.sample_and_log_prob` calls: cheap VI), and
:meth:`forward_and_log_det` (``log_prob`` of a given x) solves ``f(z) = x`` numerically:

**Planar** (:class:`Planar`, Eq. 10-12)::

    x = f(z) = z + u_hat tanh(w^T z + b),
    log|det df/dz| = log|1 + u_hat^T psi(z)|,   psi(z) = (1 - tanh^2(w^T z + b)) w.

``f`` is invertible iff ``w^T u_hat >= -1`` (App. A.1); any ``u`` is mapped to
``u_hat = u + (m(w^T u) - w^T u) w / ||w||^2`` with ``m(a) = -1 + softplus(a)``, so
``w^T u_hat = m(w^T u) > -1``. Here ``softplus`` is floored at ``1e-4`` (it changes ``m`` only
for ``a < -9.2``): in float32 ``-1 + softplus(a)`` rounds to ``-1`` below ``a = -17``, where
the Jacobian would become singular. The layer uses ``m`` itself for ``w^T u_hat``, not the
rounded dot product. Inverse: ``alpha = w^T z`` solves the scalar equation
``w^T x = alpha + (w^T u_hat) tanh(alpha + b)``, strictly increasing in ``alpha`` (slope
``1 + (w^T u_hat) tanh' >= min(1, 1 + w^T u_hat) > 0``) with the root in
``[w^T x - |w^T u_hat|, w^T x + |w^T u_hat|]``: bisection, then Newton steps; the last step
starts from the root under ``stop_gradient``, so gradients are those of the implicit function
theorem. Then ``z = x - u_hat tanh(alpha + b)``.

**Radial** (:class:`Radial`, Eq. 14)::

    x = f(z) = z + beta h(r) (z - z_0),   r = ||z - z_0||,   h(r) = 1 / (alpha + r),
    log|det df/dz| = (D - 1) log(1 + beta h(r)) + log(1 + beta h(r) + beta h'(r) r),

with ``1 + beta h + beta h' r = 1 + beta alpha / (alpha + r)^2``; invertible iff
``beta >= -alpha`` (App. A.2), enforced by ``alpha = softplus(a)`` and
``beta = -alpha + softplus(c)``. Inverse in closed form: ``rho = ||x - z_0|| =
r (1 + beta / (alpha + r))`` gives the positive root of ``r^2 + (alpha + beta - rho) r -
alpha rho = 0``, and ``z = z_0 + (x - z_0) / (1 + beta / (alpha + r))``.

Both act on vector events ``(D,)``; stack them in a :class:`~likelihood_jax.flows.Chain`.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from likelihood_jax.flows.base import Bijector, Context, Params

_BISECTION_STEPS = 60
_MIN_PLANAR_GAP = 1e-4  # 1 + w^T u_hat >= this
_NEWTON_STEPS = 2


def _check_vector_batch(name: str, x: jax.Array) -> None:
    if x.ndim != 2:
        raise ValueError(f"{name}.init needs a batch of vectors (B, D), got shape {x.shape}.")


def planar_u_hat(w: jax.Array, u: jax.Array) -> tuple[jax.Array, jax.Array]:
    """``(u_hat, w^T u_hat)`` with ``u_hat = u + (m(w^T u) - w^T u) w / ||w||^2``.

    ``m(a) = -1 + max(softplus(a), 1e-4)``, so ``w^T u_hat = m(w^T u) > -1``: the planar map's
    invertibility condition (Rezende & Mohamed 2015, App. A.1; the floor: module docstring).
    The second output is ``m(w^T u)`` itself, free of the dot product's rounding.
    """
    wu = jnp.dot(w, u)
    m = jnp.maximum(jax.nn.softplus(wu), _MIN_PLANAR_GAP) - 1.0
    return u + (m - wu) * w / jnp.dot(w, w), m


@dataclasses.dataclass(frozen=True)
class Planar(Bijector):
    """Planar flow ``x = z + u_hat tanh(w^T z + b)`` (closed form in ``inverse``).

    Parameters ``{"w": (D,), "u": (D,), "b": ()}``; see the module docstring.
    """

    log_det_depends_on_x = True

    def init(self, key: jax.Array, x: jax.Array, context: Context = None) -> Params:
        """``w, u ~ N(0, I / D)``, ``b = 0``, sized from the batch ``x (B, D)``."""
        _check_vector_batch("Planar", x)
        dim = x.shape[-1]
        kw, ku = jax.random.split(key)
        scale = 1.0 / jnp.sqrt(jnp.asarray(dim, x.dtype))
        return {"w": scale * jax.random.normal(kw, (dim,), x.dtype),
                "u": scale * jax.random.normal(ku, (dim,), x.dtype),
                "b": jnp.zeros((), x.dtype)}

    @staticmethod
    def _pieces(params: Params) -> tuple[jax.Array, jax.Array, jax.Array]:
        """``(u_hat, w, w^T u_hat)``."""
        u_hat, wu = planar_u_hat(params["w"], params["u"])
        return u_hat, params["w"], wu

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """The paper's ``x = z + u_hat tanh(w^T z + b)``, ``log|1 + (w^T u_hat) tanh'|``."""
        u_hat, w, wu = self._pieces(params)
        pre = jnp.dot(w, z) + params["b"]
        slope = 1.0 - jnp.square(jnp.tanh(pre))
        return z + u_hat * jnp.tanh(pre), jnp.log1p(wu * slope)

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z = f^{-1}(x)`` by the 1-D root along ``w``; log-det ``-log|det df/dz|``."""
        u_hat, w, wu = self._pieces(params)
        b, target = params["b"], jnp.dot(w, x)

        def excess(alpha):  # increasing in alpha; zero at alpha = w^T z
            return alpha + wu * jnp.tanh(alpha + b) - target

        def newton(alpha):
            slope = 1.0 + wu * (1.0 - jnp.square(jnp.tanh(alpha + b)))
            return alpha - excess(alpha) / slope

        def bisect(_, bounds):
            lo, hi = bounds
            mid = 0.5 * (lo + hi)
            below = excess(mid) < 0
            return jnp.where(below, mid, lo), jnp.where(below, hi, mid)

        radius = jnp.abs(wu)
        lo, hi = jax.lax.fori_loop(0, _BISECTION_STEPS, bisect,
                                   (target - radius, target + radius))
        alpha = jax.lax.stop_gradient(0.5 * (lo + hi))
        for _ in range(_NEWTON_STEPS - 1):
            alpha = jax.lax.stop_gradient(newton(alpha))
        alpha = newton(alpha)  # from the root under stop_gradient: implicit gradients
        pre = alpha + b
        z = x - u_hat * jnp.tanh(pre)
        return z, -jnp.log1p(wu * (1.0 - jnp.square(jnp.tanh(pre))))


def radial_alpha_beta(params: Params) -> tuple[jax.Array, jax.Array]:
    """``alpha = softplus(a) > 0`` and ``beta = -alpha + softplus(c) > -alpha`` (App. A.2)."""
    alpha = jax.nn.softplus(params["a"])
    return alpha, -alpha + jax.nn.softplus(params["c"])


def _radial_log_det(alpha: jax.Array, beta: jax.Array, r: jax.Array, dim: int) -> jax.Array:
    """``(D - 1) log(1 + beta h) + log(1 + beta alpha / (alpha + r)^2)``, ``h = 1/(alpha + r)``."""
    return (dim - 1) * jnp.log1p(beta / (alpha + r)) + jnp.log1p(
        beta * alpha / jnp.square(alpha + r))


@dataclasses.dataclass(frozen=True)
class Radial(Bijector):
    """Radial flow ``x = z + beta (z - z_0) / (alpha + ||z - z_0||)`` (closed form both ways).

    Parameters ``{"z0": (D,), "a": (), "c": ()}``; see the module docstring.
    """

    log_det_depends_on_x = True

    def init(self, key: jax.Array, x: jax.Array, context: Context = None) -> Params:
        """``z_0 ~ N(0, I)``, ``alpha = 1``, ``beta = 0`` (the identity), from ``x (B, D)``."""
        _check_vector_batch("Radial", x)
        one = jnp.log(jnp.expm1(jnp.ones((), x.dtype)))  # softplus(one) = 1
        return {"z0": jax.random.normal(key, x.shape[-1:], x.dtype), "a": one, "c": one}

    def inverse_and_log_det(self, params: Params, z: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """The paper's ``x = z + beta h(r) (z - z_0)`` and its ``log|det df/dz|``."""
        alpha, beta = radial_alpha_beta(params)
        diff = z - params["z0"]
        r = jnp.linalg.norm(diff)
        return z + beta / (alpha + r) * diff, _radial_log_det(alpha, beta, r, z.shape[-1])

    def forward_and_log_det(self, params: Params, x: jax.Array, context: Context = None
                            ) -> tuple[jax.Array, jax.Array]:
        """``z = f^{-1}(x)`` by the closed-form radius root; log-det ``-log|det df/dz|``."""
        alpha, beta = radial_alpha_beta(params)
        diff = x - params["z0"]
        rho = jnp.linalg.norm(diff)
        # r^2 + c r - alpha rho = 0, c = alpha + beta - rho: the positive root, computed
        # without cancellation for either sign of c.
        c = alpha + beta - rho
        root = jnp.sqrt(jnp.square(c) + 4.0 * alpha * rho)
        positive = c > 0
        r = jnp.where(positive, 2.0 * alpha * rho / jnp.where(positive, c + root, 1.0),
                      0.5 * (root - c))
        z = params["z0"] + diff / (1.0 + beta / (alpha + r))
        return z, -_radial_log_det(alpha, beta, r, x.shape[-1])
