"""Likelihood-adjusted SDP clustering of a heterogeneous Gaussian mixture [P101].

Zhuang, Chen & Yang (ICML 2023), "Likelihood Adjusted Semidefinite Programs for Clustering
Heterogeneous Data". The labels of ``n`` points become ``K`` group membership matrices
``Z_k = 1_{G_k} 1_{G_k}^T / n_k``; with the centroids profiled out,

    sum_{i in G_k} (x_i - xbar_k)^T S_k^{-1} (x_i - xbar_k) = <D_k, Z_k> / 2,
    D_k[i, j] = (x_i - x_j)^T S_k^{-1} (x_i - x_j),   n_k = <J, Z_k>,

so for fixed covariances ``S_k`` the negative log-likelihood of a partition is the linear
function ``sum_k <W_k, Z_k>``, ``W_k = (D_k + log|S_k| J) / 2`` (constants dropped), and
the convex relaxation replaces the membership matrices by

    Z_k PSD,  Z_k >= 0,  tr Z_k = 1,  sum_k Z_k 1 = 1.

iLA-SDP alternates this SDP with ``S_k = sum_ij Z_k[i, j] (x_i - x_j)(x_i - x_j)^T /
(2 <J, Z_k>)`` (no centroid is estimated), started from the K-means SDP of Peng & Wei
(one block, ``tr Z = K``, ``W = D / 2`` with Euclidean ``D``).

The solver is consensus ADMM over three copies of the blocks (the affine constraints with
the linear objective, the PSD cone by an ``eigh`` projection, the non-negative orthant);
each step is closed form. No maintained JAX SDP solver covers this (cvxpy/SCS are not JAX and
not dependencies), and the problems here are small (``n`` in the hundreds).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from likelihood_jax import _checks

Array = jax.Array


def project_psd(matrix: Array) -> Array:
    """The nearest (Frobenius) symmetric PSD matrix: ``V max(w, 0) V^T`` of the symmetric part."""
    sym = 0.5 * (matrix + jnp.swapaxes(matrix, -1, -2))
    w, v = jnp.linalg.eigh(sym)
    return (v * jnp.maximum(w, 0.0)[..., None, :]) @ jnp.swapaxes(v, -1, -2)


def _affine_projector(num_points: int, traces: Array):
    """Projection of symmetric blocks ``(B, n, n)`` onto ``tr X_b = t_b, sum_b X_b 1 = 1``.

    ``X = V - A*((A A*)^{-1} (A V - b))`` with ``A X = (tr X_b; sum_b X_b 1)`` and its adjoint
    on symmetric blocks ``A*(a, y)_b = a_b I + (y 1^T + 1 y^T) / 2``.
    """
    n, b = num_points, traces.shape[0]
    ones_n, ones_b = jnp.ones(n), jnp.ones(b)
    gram = jnp.block([[n * jnp.eye(b), jnp.outer(ones_b, ones_n)],
                      [jnp.outer(ones_n, ones_b),
                       0.5 * b * n * jnp.eye(n) + 0.5 * b * jnp.ones((n, n))]])
    gram_inv = jnp.linalg.pinv(gram)
    target = jnp.concatenate([traces, ones_n])

    def project(v):
        residual = jnp.concatenate([jnp.trace(v, axis1=1, axis2=2), jnp.sum(v, axis=(0, 2))])
        coef = gram_inv @ (residual - target)
        a, y = coef[:b], coef[b:]
        adjoint = (a[:, None, None] * jnp.eye(n)
                   + 0.5 * (y[:, None] + y[None, :])[None])
        return v - adjoint
    return project


def solve_membership_sdp(costs: Array, traces: Array, *, rho: float = 0.3,
                         num_steps: int = 500) -> Array:
    """``min sum_b <W_b, Z_b>`` over ``Z_b`` PSD, ``>= 0``, ``tr Z_b = t_b``, ``sum_b Z_b 1 = 1``.

    Consensus ADMM (Boyd et al. 2011, section 7) on ``W / max|W|`` (the same minimizer)
    with penalty ``rho`` for ``num_steps`` steps: ``X_1`` = affine projection of
    ``Z - U_1 - W / rho``, ``X_2`` = PSD projection of ``Z - U_2`` (``eigh``),
    ``X_3 = max(Z - U_3, 0)``, ``Z`` = their mean plus the mean dual,
    ``U_i += X_i - Z``. Returns the PSD copy ``X_2`` (feasible up to the ADMM residual).
    Cost per step: ``B`` eigendecompositions of ``n x n``.

    Args:
      costs: ``W`` of shape ``(B, n, n)``, symmetric.
      traces: ``t`` of shape ``(B,)`` (``sum_b t_b`` is the number of clusters).
      rho: the ADMM penalty (``> 0``).
      num_steps: ADMM iterations.

    Returns:
      ``Z`` of shape ``(B, n, n)``.
    """
    _checks.require_rank("solve_membership_sdp", "costs", costs, 3, "(B, n, n)")
    b, n, m = jnp.shape(costs)
    if n != m:
        raise _checks.error("solve_membership_sdp", "costs", "of shape (B, n, n)",
                            f"shape {jnp.shape(costs)}")
    _checks.require_shape("solve_membership_sdp", "traces", traces, (b,), "(B,)")
    _checks.require_greater("solve_membership_sdp", "rho", rho)
    _checks.require_integer_at_least("solve_membership_sdp", "num_steps", num_steps, 1)
    costs = jnp.asarray(costs)
    scaled = costs / jnp.max(jnp.abs(costs))  # the same minimizer; rho is relative to it
    project_affine = _affine_projector(n, jnp.asarray(traces, costs.dtype))
    z0 = project_affine(jnp.zeros_like(costs))
    duals0 = jnp.zeros((3,) + costs.shape, costs.dtype)

    def step(carry, _):
        z, u = carry
        x = jnp.stack([project_affine(z - u[0] - scaled / rho), project_psd(z - u[1]),
                       jnp.maximum(z - u[2], 0.0)])
        z = jnp.mean(x + u, axis=0)
        return (z, u + x - z[None]), None

    (z, u), _ = jax.lax.scan(step, (z0, duals0), length=num_steps)
    return project_psd(z - u[1])


def mahalanobis_costs(x: Array, covariances: Array) -> Array:
    """``W_k = (D_k + log|S_k| J) / 2`` with ``D_k[i, j] = (x_i - x_j)^T S_k^{-1} (x_i - x_j)``."""
    diff = x[:, None, :] - x[None, :, :]  # (n, n, D)
    chol = jnp.linalg.cholesky(covariances)

    def one(factor):
        solved = jax.scipy.linalg.solve_triangular(factor, diff.reshape(-1, x.shape[1]).T,
                                                   lower=True)
        dist = jnp.sum(solved**2, axis=0).reshape(x.shape[0], x.shape[0])
        logdet = 2.0 * jnp.sum(jnp.log(jnp.diagonal(factor)))
        return 0.5 * (dist + logdet)
    return jax.vmap(one)(chol)


def membership_covariances(x: Array, z: Array, reg: float = 1e-6) -> Array:
    """``S_k = sum_ij Z_k[i,j] (x_i - x_j)(x_i - x_j)^T / (2 <J, Z_k>) + reg I``: ``(K, D, D)``.

    For an exact membership matrix this is the cluster's maximum-likelihood covariance.
    """
    diff = x[:, None, :] - x[None, :, :]
    scatter = jnp.einsum("kij,ijd,ije->kde", z, diff, diff)
    sizes = jnp.sum(z, axis=(1, 2))
    return scatter / (2.0 * sizes[:, None, None]) + reg * jnp.eye(x.shape[1])


def membership_labels(z: Array) -> Array:
    """Labels ``argmax_k (Z_k 1)_i`` (for exact blocks ``(Z_k 1)_i = [i in G_k]``)."""
    return jnp.argmax(jnp.sum(z, axis=2), axis=0)


def kmeans_sdp(x: Array, num_clusters: int, **solver) -> Array:
    """Peng & Wei's K-means SDP: one block, ``tr Z = K``, ``W = ||x_i - x_j||^2 / 2``."""
    sq = jnp.sum((x[:, None, :] - x[None, :, :]) ** 2, axis=-1)
    return solve_membership_sdp(0.5 * sq[None], jnp.array([float(num_clusters)]), **solver)[0]


def labels_to_memberships(labels: Array, num_clusters: int) -> Array:
    """Exact membership matrices ``Z_k = 1_{G_k} 1_{G_k}^T / n_k``: ``(K, n, n)``."""
    onehot = jax.nn.one_hot(labels, num_clusters).T  # (K, n)
    return onehot[:, :, None] * onehot[:, None, :] / jnp.maximum(onehot.sum(1), 1.0)[:, None,
                                                                                     None]


def ila_sdp(x: Array, init_labels: Array, num_clusters: int, *, num_iterations: int = 5,
            reg: float = 1e-6, **solver) -> tuple[Array, Array]:
    """iLA-SDP [P101]: alternate the likelihood-adjusted SDP and the covariance update.

    Starts from the covariances of ``init_labels`` (e.g. the rounded K-means SDP), then
    ``num_iterations`` times: ``W_k`` from ``S_k`` (:func:`mahalanobis_costs`), ``Z`` by
    :func:`solve_membership_sdp` (``t_k = 1``), ``S_k`` from ``Z`` (:func:`membership_covariances`).

    Returns:
      ``(labels (n,), Z (K, n, n))`` of the last iteration.
    """
    _checks.require_rank("ila_sdp", "x", x, 2, "(n, D)")
    _checks.require_integer_at_least("ila_sdp", "num_clusters", num_clusters, 2)
    z = labels_to_memberships(init_labels, num_clusters)
    for _ in range(num_iterations):
        costs = mahalanobis_costs(x, membership_covariances(x, z, reg))
        z = solve_membership_sdp(costs, jnp.ones(num_clusters), **solver)
    return membership_labels(z), z


def partition_neg_log_likelihood(x: Array, labels: Array, covariances: Array) -> Array:
    """``sum_k [sum_{i in G_k} (x_i - xbar_k)^T S_k^{-1} (x_i - xbar_k) + n_k log|S_k|] / 2``.

    The objective of the SDP at the exact memberships of ``labels`` (``sum_k <W_k, Z_k>``),
    for brute-force checks.
    """
    num_clusters = covariances.shape[0]
    z = labels_to_memberships(labels, num_clusters)
    return jnp.sum(mahalanobis_costs(x, covariances) * z)
