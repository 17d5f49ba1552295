"""Free-form injective flows (FIF): maximum likelihood on a learned manifold [P009].

Sorrenson, Draxler, Rousselot, Hummerich, Zimmermann & Koethe 2024, "Lifting Architectural
Constraints of Injective Flows" (ICLR; arXiv:2306.01843; code: github.com/vislearn/FFF).
A decoder ``g: R^d -> R^D`` (``d < D``) spans a manifold; a free-form encoder
``f: R^D -> R^d`` acts as its pseudo-inverse. For a point on the manifold, ``x = g(z)``,

    log p(x) = log p_Z(z) - 1/2 log det(J_g(z)^T J_g(z)),   z = f(x),

and off the manifold the model reads ``x`` at its projection ``x_hat = g(f(x))``. The loss
per example is

    L(x) = -log p_Z(f(x)) + 1/2 log det(J_g^T J_g) + beta |x - g(f(x))|^2.

**The surrogate.** ``d/dtheta 1/2 log det(J_g^T J_g) = tr(J_g^+ dJ_g/dtheta)`` and, when the
encoder inverts the decoder on the manifold, ``J_g^+ = J_f``. So the log-det term is
replaced by its surrogate (:func:`volume_change_surrogate`)

    S(x) = E_v[ v^T sg(J_f) J_g v ],   E[v v^T] = I_d,

whose value is a Hutchinson estimate of ``tr(J_f J_g)`` (``= d`` at the optimum, not the
log-det) and whose gradient is the log-det's gradient. One probe costs one ``jax.jvp`` of the
decoder (``J_g v``, which also yields ``g(z)``) and one ``jax.vjp`` of the encoder
(``v^T J_f``); no ``D x d`` Jacobian is formed.

**The stabilised objective.** Evaluating ``J_f`` at the reconstruction ``x_hat`` (the
pseudo-inverse on the manifold, ``jacobian_at="reconstruction"``) is the naive estimator of
the likelihood of ``x_hat``; the paper shows that optimizing it can drive the manifold's
curvature to diverge, and fixes it by evaluating the encoder's Jacobian at the data point
``x`` (``jacobian_at="data"``, the default, as in the paper's code). Probes are Gaussian
columns orthonormalized by a QR decomposition and scaled by ``sqrt(d)`` (``probe="orthogonal"``,
the paper's ``sample_v``): with ``d`` of them the estimate is exact.

Evaluation uses :func:`manifold_log_prob`: the exact ``log p`` of ``x_hat`` on the learned
manifold, with ``1/2 log det(J_g^T J_g)`` from ``jax.jacfwd`` and ``slogdet``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from likelihood_jax import _checks
from likelihood_jax.distributions import normal_log_prob

Array = jax.Array
Map = Callable[[Array], Array]
PROBES = ("orthogonal", "gaussian", "rademacher")
JACOBIAN_AT = ("data", "reconstruction")


def latent_probes(key: Array, latent_dim: int, num_probes: int = 1,
                  probe: str = "orthogonal", dtype=jnp.float32) -> Array:
    """Probe vectors ``(num_probes, latent_dim)`` with ``E[v v^T] = I`` [P009].

    ``"orthogonal"``: the columns of ``Q`` from the QR decomposition of a Gaussian
    ``(latent_dim, num_probes)`` matrix, scaled by ``sqrt(latent_dim)`` (needs
    ``num_probes <= latent_dim``; with ``num_probes = latent_dim``,
    ``sum_k v_k v_k^T / K = I`` exactly). ``"gaussian"`` and ``"rademacher"``: i.i.d. entries.
    """
    _checks.require_option("latent_probes", "probe", probe, PROBES)
    _checks.require_integer_at_least("latent_probes", "num_probes", num_probes, 1)
    if probe == "rademacher":
        return jax.random.rademacher(key, (num_probes, latent_dim), dtype)
    v = jax.random.normal(key, (num_probes, latent_dim), dtype)
    if probe == "gaussian":
        return v
    if num_probes > latent_dim:
        raise _checks.error("latent_probes", "num_probes", f"<= latent_dim={latent_dim} for "
                            "orthogonal probes", str(num_probes))
    q, _ = jnp.linalg.qr(v.T)
    return q.T * jnp.sqrt(jnp.asarray(latent_dim, dtype))


def surrogate_from_probes(encode: Map, decode: Map, x: Array, probes: Array, *,
                          jacobian_at: str = "data") -> tuple[Array, Array, Array]:
    """``(mean_k v_k^T sg(J_f) J_g v_k, z, x_hat)`` for one example ``x (D,)`` [P009].

    ``J_g`` is the decoder's Jacobian at ``z = f(x)`` (``jax.jvp``, gradients flow through
    it to both networks); ``J_f`` the encoder's at ``x`` (``jacobian_at="data"``, the
    stabilised objective) or at ``x_hat = g(z)`` (``"reconstruction"``, the naive one),
    behind ``stop_gradient`` (``jax.vjp``). ``probes`` is ``(K, d)``.
    """
    _checks.require_option("surrogate_from_probes", "jacobian_at", jacobian_at, JACOBIAN_AT)
    _checks.require_rank("surrogate_from_probes", "x", x, 1, "(D,)")
    z = encode(x)
    _checks.require_rank("surrogate_from_probes", "probes", probes, 2, f"(K, {z.shape[-1]})")
    probes = jnp.asarray(probes, z.dtype)
    x_hat, jg_v = jax.vmap(lambda v: jax.jvp(decode, (z,), (v,)))(probes)
    x_hat = x_hat[0]
    at = x if jacobian_at == "data" else x_hat
    _, pullback = jax.vjp(encode, jax.lax.stop_gradient(at))
    vt_jf = jax.lax.stop_gradient(jax.vmap(lambda v: pullback(v)[0])(probes))
    return jnp.mean(jnp.sum(vt_jf * jg_v, -1)), z, x_hat


def volume_change_surrogate(encode: Map, decode: Map, x: Array, key: Array, *,
                            num_probes: int = 1, probe: str = "orthogonal",
                            jacobian_at: str = "data") -> tuple[Array, Array, Array]:
    """:func:`surrogate_from_probes` with probes drawn by :func:`latent_probes` [P009]."""
    latent = jax.eval_shape(encode, x)
    probes = latent_probes(key, latent.shape[-1], num_probes, probe, latent.dtype)
    return surrogate_from_probes(encode, decode, x, probes, jacobian_at=jacobian_at)


def injective_flow_loss(encode: Map, decode: Map, x: Array, key: Array, *, beta: float,
                        num_probes: int = 1, probe: str = "orthogonal",
                        jacobian_at: str = "data") -> tuple[Array, dict[str, Array]]:
    """FIF's per-example loss ``-log N(f(x)) + S(x) + beta |x - g(f(x))|^2`` [P009].

    ``S`` is :func:`volume_change_surrogate` (its gradient, not its value, is that of
    ``1/2 log det(J_g^T J_g)``). Returns the scalar loss and ``{"reconstruction",
    "latent_nll", "surrogate"}``.
    """
    _checks.require_at_least("injective_flow_loss", "beta", beta, 0.0)
    surrogate, z, x_hat = volume_change_surrogate(
        encode, decode, x, key, num_probes=num_probes, probe=probe, jacobian_at=jacobian_at)
    latent_nll = -jnp.sum(normal_log_prob(z))
    reconstruction = jnp.sum((x - x_hat) ** 2)
    loss = latent_nll + surrogate + beta * reconstruction
    return loss, {"reconstruction": reconstruction, "latent_nll": latent_nll,
                  "surrogate": surrogate}


def half_log_det_metric(decode: Map, z: Array) -> Array:
    """``1/2 log det(J_g(z)^T J_g(z))`` exactly (``jax.jacfwd`` and ``slogdet``), ``z (d,)``."""
    _checks.require_rank("half_log_det_metric", "z", z, 1, "(d,)")
    jac = jax.jacfwd(decode)(z)
    return 0.5 * jnp.linalg.slogdet(jac.T @ jac)[1]


def manifold_log_prob(encode: Map, decode: Map, x: Array) -> Array:
    """``log p(x_hat) = log N(f(x); 0, I) - 1/2 log det(J_g^T J_g)`` on the manifold [P009].

    The exact log-density, with respect to the manifold's volume measure, of the
    projection ``x_hat = g(f(x))`` of ``x (D,)`` (a density on the ``d``-dimensional
    manifold, so not comparable with a ``D``-dimensional density).
    """
    z = encode(x)
    return jnp.sum(normal_log_prob(z)) - half_log_det_metric(decode, z)


def principal_angles(a: Array, b: Array) -> Array:
    """Principal angles (radians, ascending) between the column spans of ``a`` and ``b``.

    ``arccos`` of the singular values of ``Q_a^T Q_b`` (orthonormal bases by QR); 0 when the
    subspaces coincide. Used to check that a linear injective flow finds PPCA's principal
    subspace.
    """
    _checks.require_rank("principal_angles", "a", a, 2, "(D, k)")
    _checks.require_rank("principal_angles", "b", b, 2, "(D, m)")
    qa, _ = jnp.linalg.qr(a)
    qb, _ = jnp.linalg.qr(b)
    s = jnp.linalg.svd(qa.T @ qb, compute_uv=False)
    return jnp.sort(jnp.arccos(jnp.clip(s, -1.0, 1.0)))
