"""Minibatch optimal transport couplings for flow matching.

Tong et al. (2023, "Improving and generalizing flow-based generative models with
minibatch optimal transport", OT-CFM) pair noise ``x0`` and data ``x1`` within a
minibatch by an optimal transport plan for the squared Euclidean cost
``C_ij = |x0_i - x1_j|^2``, which straightens the conditional paths.

* :func:`exact_ot_pairing`: the exact plan between two equal-size uniform
  empirical measures is a permutation (Birkhoff); found by the Hungarian-type
  linear assignment of ``scipy.optimize.linear_sum_assignment`` on the host.
* :func:`sinkhorn_plan`: the entropy-regularized plan (Cuturi 2013) through
  ott-jax, differentiable and on-device.

Both take one minibatch ``(B, ...)`` per call (trailing axes are flattened for the
cost); vmap over several minibatches if needed.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

Array = jax.Array


def squared_distances(x0: Array, x1: Array) -> Array:
    """Pairwise squared Euclidean distances ``C_ij = |x0_i - x1_j|^2``, shape ``(B0, B1)``.

    Computed as differences (not ``|a|^2 + |b|^2 - 2 a.b``), so it is exact-ish
    and non-negative. Cost ``O(B0 B1 D)`` memory and time.

    Args:
      x0: shape ``(B0, ...)``.
      x1: shape ``(B1, ...)`` with the same trailing shape.

    Returns:
      The cost matrix, shape ``(B0, B1)``.
    """
    a = jnp.reshape(x0, (x0.shape[0], -1))
    b = jnp.reshape(x1, (x1.shape[0], -1))
    diff = a[:, None, :] - b[None, :, :]
    return jnp.sum(diff * diff, axis=-1)


def _assignment_on_host(cost: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(cost)):
        raise ValueError("exact OT pairing: the cost matrix has NaN or infinite entries "
                         "(non-finite points in x0 or x1)")
    rows, cols = scipy.optimize.linear_sum_assignment(np.asarray(cost, dtype=np.float64))
    perm = np.empty(cost.shape[0], dtype=np.int32)
    perm[rows] = cols
    return perm


def exact_ot_pairing(x0: Array, x1: Array) -> Array:
    """Exact minibatch OT pairing: the permutation minimizing the total squared cost.

    Returns ``perm`` with ``sum_i |x0[i] - x1[perm[i]]|^2`` minimal over all
    permutations, i.e. the exact optimal transport plan between the uniform
    empirical measures of two equal-size batches (Tong et al. 2023, OT-CFM; the
    plan is a permutation by Birkhoff's theorem). Solved exactly by
    ``scipy.optimize.linear_sum_assignment`` (``O(B^3)``, on the host) through
    ``jax.pure_callback``, so it works under ``jax.jit``; under ``jax.vmap`` the
    callback runs once per minibatch (``vmap_method="sequential"``). The
    permutation is not differentiable; inputs are wrapped in
    ``lax.stop_gradient`` so that it can sit inside a differentiated loss.

    Args:
      x0: source batch, shape ``(B, ...)``.
      x1: target batch, shape ``(B, ...)``.

    Returns:
      ``perm``, int32 of shape ``(B,)``: pair ``x0[i]`` with ``x1[perm[i]]``.

    Raises:
      ValueError: if the batch sizes differ.
    """
    x0, x1 = jnp.asarray(x0), jnp.asarray(x1)
    if x0.shape[0] != x1.shape[0]:
        raise ValueError(f"exact_ot_pairing needs equal batch sizes, got {x0.shape[0]} "
                         f"and {x1.shape[0]}.")
    cost = jax.lax.stop_gradient(squared_distances(x0, x1))
    result = jax.ShapeDtypeStruct((x0.shape[0],), jnp.int32)
    return jax.pure_callback(_assignment_on_host, result, cost, vmap_method="sequential")


def sinkhorn_plan(x0: Array, x1: Array, *, epsilon: float, threshold: float = 1e-3,
                  max_iterations: int = 2000) -> Array:
    """Entropy-regularized OT coupling between two uniform empirical measures.

    Solves ``min_P <P, C> - epsilon H(P)`` over couplings with marginals
    ``P 1 = 1/B0`` and ``P^T 1 = 1/B1`` for ``C_ij = |x0_i - x1_j|^2`` by Sinkhorn
    iterations in the log domain (Cuturi 2013, "Sinkhorn distances: lightspeed
    computation of optimal transport"), using ott-jax. ``epsilon`` is absolute
    (in units of the cost). As ``epsilon -> 0`` the plan approaches the exact
    plan (for equal sizes, ``1/B`` times the permutation matrix of
    :func:`exact_ot_pairing`); the marginals hold up to ``threshold`` (the L1
    marginal error at which the iterations stop). Cost: ``O(B0 B1 D)`` per
    iteration, on device, under ``jax.jit`` and ``jax.vmap``.

    Args:
      x0: source batch, shape ``(B0, ...)``.
      x1: target batch, shape ``(B1, ...)``.
      epsilon: entropic regularization strength (> 0).
      threshold: marginal-error stopping threshold of the Sinkhorn iterations.
      max_iterations: maximum number of Sinkhorn iterations.

    Returns:
      The coupling matrix, shape ``(B0, B1)``, summing to one.
    """
    from ott.geometry import pointcloud
    from ott.problems.linear import linear_problem
    from ott.solvers.linear import sinkhorn

    a = jnp.reshape(x0, (x0.shape[0], -1))
    b = jnp.reshape(x1, (x1.shape[0], -1))
    geom = pointcloud.PointCloud(a, b, epsilon=epsilon)
    solver = sinkhorn.Sinkhorn(threshold=threshold, max_iterations=max_iterations)
    return solver(linear_problem.LinearProblem(geom)).matrix


def empirical_wasserstein2(x0: Array, x1: Array) -> Array:
    """2-Wasserstein distance between two equal-size empirical measures.

    ``W2 = sqrt(min_perm mean_i |x0_i - x1_perm(i)|^2)`` with the exact optimal
    permutation of :func:`exact_ot_pairing`: exact for the empirical measures (a
    consistent, upward-biased estimate of W2 between the underlying
    distributions). Cost: one ``B x B`` linear assignment on the host.

    Args:
      x0: shape ``(B, ...)``.
      x1: shape ``(B, ...)``.

    Returns:
      The scalar distance.
    """
    perm = exact_ot_pairing(x0, x1)
    diff = (x0 - x1[perm]).reshape(x0.shape[0], -1)
    return jnp.sqrt(jnp.mean(jnp.sum(jnp.square(diff), axis=-1)))
