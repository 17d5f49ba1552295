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
cost); vmap over several minibatches if needed. Sizes, shapes and parameters given as
Python numbers are checked when a function is called or traced (free under
``jax.jit``); finiteness of the points with ``validate_args=True``, through
``jax.experimental.checkify`` (under ``jax.jit``: ``jax.jit(checkify.checkify(f))``, then
``err.throw()``). Every error is a ``ValueError`` naming the function and the argument.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import scipy.optimize

from likelihood_jax import _checks

Array = jax.Array


def _check_batches(function: str, x0, x1, *, equal_sizes: bool) -> tuple[Array, Array]:
    """``(x0, x1)`` as arrays: batches ``(B, ...)`` of at least one point of one shape."""
    x0, x1 = jnp.asarray(x0), jnp.asarray(x1)
    for name, x in (("x0", x0), ("x1", x1)):
        _checks.require_min_rank(function, name, x, 1, "(B, ...)")
        if x.shape[0] < 1:
            raise _checks.error(function, name, "a batch of at least one point",
                                f"shape {x.shape}")
    if x0.shape[1:] != x1.shape[1:]:
        raise _checks.error(function, "x1", f"points of x0's shape {x0.shape[1:]}",
                            f"points of shape {x1.shape[1:]}")
    if equal_sizes and x0.shape[0] != x1.shape[0]:
        raise _checks.error(function, "x1", f"a batch of x0's size {x0.shape[0]}",
                            f"{x1.shape[0]}")
    return x0, x1


def squared_distances(x0: Array, x1: Array) -> Array:
    """Pairwise squared Euclidean distances ``C_ij = |x0_i - x1_j|^2``, shape ``(B0, B1)``.

    Computed as differences (not ``|a|^2 + |b|^2 - 2 a.b``), so it is exact-ish
    and non-negative. Cost ``O(B0 B1 D)`` memory and time.

    Args:
      x0: shape ``(B0, ...)``, ``B0 >= 1``.
      x1: shape ``(B1, ...)`` with the same trailing shape, ``B1 >= 1``.

    Returns:
      The cost matrix, shape ``(B0, B1)``.

    Raises:
      ValueError: for an empty batch, a scalar, or points of different shapes.
    """
    x0, x1 = _check_batches("squared_distances", x0, x1, equal_sizes=False)
    a = jnp.reshape(x0, (x0.shape[0], -1))
    b = jnp.reshape(x1, (x1.shape[0], -1))
    diff = a[:, None, :] - b[None, :, :]
    return jnp.sum(diff * diff, axis=-1)


def _assignment_on_host(cost: np.ndarray, function: str = "exact_ot_pairing") -> np.ndarray:
    if not np.all(np.isfinite(cost)):
        raise _checks.error(function, "x0 and x1", "finite",
                            "NaN or infinite entries (the cost matrix is not finite)")
    rows, cols = scipy.optimize.linear_sum_assignment(np.asarray(cost, dtype=np.float64))
    perm = np.empty(cost.shape[0], dtype=np.int32)
    perm[rows] = cols
    return perm


def exact_ot_pairing(x0: Array, x1: Array, *, validate_args: bool = False) -> Array:
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

    Non-finite points: called eagerly (concrete arrays) the assignment runs
    directly on the host and raises the ``ValueError`` itself. Inside a
    transformation (``jit``, ``vmap``, ``grad``) it runs in the callback, where
    an exception reaches the caller wrapped by the runtime; ``validate_args=True``
    checks finiteness before the callback instead, with
    ``jax.experimental.checkify`` (under ``jit``: ``jax.jit(checkify.checkify(f))``).

    Args:
      x0: source batch, shape ``(B, ...)`` with ``B >= 1``, finite.
      x1: target batch, shape ``(B, ...)``: as many points as ``x0``, of the
        same shape.
      validate_args: check that the points are finite before the callback.

    Returns:
      ``perm``, int32 of shape ``(B,)``: pair ``x0[i]`` with ``x1[perm[i]]``.

    Raises:
      ValueError: for an empty batch, different batch sizes or point shapes, or
        non-finite points.
    """
    return _ot_pairing("exact_ot_pairing", x0, x1, validate_args)


def _ot_pairing(function: str, x0, x1, validate_args: bool) -> Array:
    """:func:`exact_ot_pairing`, its errors naming ``function``."""
    x0, x1 = _check_batches(function, x0, x1, equal_sizes=True)
    cost = jax.lax.stop_gradient(squared_distances(x0, x1))
    assignment = functools.partial(_assignment_on_host, function=function)
    if not _checks.is_traced(cost):
        return jnp.asarray(assignment(np.asarray(cost)))
    if validate_args:  # checkify reports the error; the callback must not raise its own
        finite = jnp.isfinite(cost)
        _checks.check(function, jnp.all(finite),
                      "x0 and x1 must be finite, got NaN or infinite entries")
        cost = jnp.where(finite, cost, 0.0)
    result = jax.ShapeDtypeStruct((x0.shape[0],), jnp.int32)
    return jax.pure_callback(assignment, result, cost, vmap_method="sequential")


def sinkhorn_plan(x0: Array, x1: Array, *, epsilon: float, threshold: float = 1e-3,
                  max_iterations: int = 2000, validate_args: bool = False) -> Array:
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
      x0: source batch, shape ``(B0, ...)``, ``B0 >= 1``.
      x1: target batch, shape ``(B1, ...)`` with points of ``x0``'s shape.
      epsilon: entropic regularization strength, ``> 0`` (``0`` would return
        a zero plan; checked when it is a Python number or a concrete array).
      threshold: marginal-error stopping threshold of the Sinkhorn iterations,
        ``> 0``.
      max_iterations: maximum number of Sinkhorn iterations, an integer ``>= 1``.
      validate_args: also check that the points are finite (with
        ``jax.experimental.checkify``; see the module docstring).

    Returns:
      The coupling matrix, shape ``(B0, B1)``, summing to one.

    Raises:
      ValueError: for ``epsilon <= 0``, ``threshold <= 0``, ``max_iterations < 1``,
        an empty batch or points of different shapes; with ``validate_args``,
        for non-finite points.
    """
    function = "sinkhorn_plan"
    _checks.require_greater(function, "epsilon", epsilon, 0.0)
    _checks.require_greater(function, "threshold", threshold, 0.0)
    _checks.require_integer_at_least(function, "max_iterations", max_iterations, 1)
    x0, x1 = _check_batches(function, x0, x1, equal_sizes=False)
    if validate_args:
        _checks.check_finite(function, "x0", x0)
        _checks.check_finite(function, "x1", x1)
    from ott.geometry import pointcloud
    from ott.problems.linear import linear_problem
    from ott.solvers.linear import sinkhorn

    a = jnp.reshape(x0, (x0.shape[0], -1))
    b = jnp.reshape(x1, (x1.shape[0], -1))
    geom = pointcloud.PointCloud(a, b, epsilon=epsilon)
    solver = sinkhorn.Sinkhorn(threshold=threshold, max_iterations=max_iterations)
    return solver(linear_problem.LinearProblem(geom)).matrix


def empirical_wasserstein2(x0: Array, x1: Array, *, validate_args: bool = False) -> Array:
    """2-Wasserstein distance between two equal-size empirical measures.

    ``W2 = sqrt(min_perm mean_i |x0_i - x1_perm(i)|^2)`` with the exact optimal
    permutation of :func:`exact_ot_pairing`: exact for the empirical measures (a
    consistent, upward-biased estimate of W2 between the underlying
    distributions). Cost: one ``B x B`` linear assignment on the host.

    Args:
      x0: shape ``(B, ...)`` with ``B >= 1``, finite.
      x1: shape ``(B, ...)``: as many points as ``x0``, of the same shape.
      validate_args: as in :func:`exact_ot_pairing`.

    Returns:
      The scalar distance.

    Raises:
      ValueError: as :func:`exact_ot_pairing`.
    """
    perm = _ot_pairing("empirical_wasserstein2", x0, x1, validate_args)
    x0, x1 = jnp.asarray(x0), jnp.asarray(x1)
    diff = (x0 - x1[perm]).reshape(x0.shape[0], -1)
    return jnp.sqrt(jnp.mean(jnp.sum(jnp.square(diff), axis=-1)))
