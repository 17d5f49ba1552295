"""Distances between distributions given by statistics or samples."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from likelihood_jax import _checks

Array = jax.Array


def frechet_distance(mean0, cov0, mean1, cov1, *, validate_args: bool = False) -> Array:
    """Fréchet distance between two Gaussians (the statistic behind FID).

    ``|m0 - m1|^2 + tr(C0 + C1 - 2 (C0^{1/2} C1 C0^{1/2})^{1/2})`` (Dowson &
    Landau 1982; Heusel et al. 2017 apply it to Inception features). The matrix
    square roots use symmetric eigendecompositions, so the result is real and,
    up to rounding, non-negative.

    Called on concrete arrays it checks eagerly, always, that the covariances are
    symmetric positive semi-definite (eigenvalues ``>= -1e-6`` times the largest
    magnitude, rounding of a sample covariance allowed); under a transformation
    (``jax.jit``) only with ``validate_args=True``, through
    ``jax.experimental.checkify`` (``jax.jit(checkify.checkify(f))``, then
    ``err.throw()``).

    Args:
      mean0: first mean, shape ``(F,)``.
      cov0: first covariance, symmetric positive semi-definite, shape ``(F, F)``.
      mean1: second mean, shape ``(F,)``.
      cov1: second covariance, symmetric positive semi-definite, shape ``(F, F)``.
      validate_args: check the covariances also when traced (see above).

    Returns:
      The scalar squared distance.

    Raises:
      ValueError: for shapes other than those above; for a covariance that is
        not symmetric positive semi-definite (eagerly, or with ``validate_args``).
    """
    function = "frechet_distance"
    _checks.require_rank(function, "mean0", mean0, 1, "(F,)")
    dim = jnp.shape(mean0)[0]
    _checks.require_shape(function, "cov0", cov0, (dim, dim), "(F, F)")
    _checks.require_shape(function, "mean1", mean1, (dim,), "(F,)")
    _checks.require_shape(function, "cov1", cov1, (dim, dim), "(F, F)")
    cov0, cov1 = jnp.asarray(cov0), jnp.asarray(cov1)
    if validate_args or not _checks.is_traced(cov0, cov1):
        for name, cov in (("cov0", cov0), ("cov1", cov1)):
            _checks.check_positive_semidefinite(function, name, cov)

    def sqrtm_psd(c):
        w, v = jnp.linalg.eigh(c)
        return (v * jnp.sqrt(jnp.clip(w, 0.0))) @ v.T

    root0 = sqrtm_psd(cov0)
    cross = sqrtm_psd(root0 @ cov1 @ root0)
    diff = jnp.asarray(mean0) - jnp.asarray(mean1)
    return diff @ diff + jnp.trace(cov0) + jnp.trace(cov1) - 2.0 * jnp.trace(cross)


def mmd_squared(x, y, *, bandwidth, unbiased: bool = True) -> Array:
    """Squared maximum mean discrepancy between two samples with a Gaussian kernel.

    ``MMD^2 = E k(x, x') + E k(y, y') - 2 E k(x, y)`` with
    ``k(a, b) = exp(-|a - b|^2 / (2 bandwidth^2))`` (Gretton et al. 2012, "A kernel
    two-sample test", Eqs. 3-5). ``unbiased=True`` gives the U-statistic

        sum_{i != j} k(x_i, x_j) / (N (N - 1)) + sum_{i != j} k(y_i, y_j) / (M (M - 1))
        - 2 sum_{i, j} k(x_i, y_j) / (N M),

    unbiased for ``MMD^2`` (so it may be negative, and is zero in expectation when both
    samples come from one distribution); ``unbiased=False`` the V-statistic (all Gram entries
    averaged, diagonals included), the squared RKHS distance between the two empirical mean
    embeddings: non-negative (rounding below zero is clipped) and biased upwards by
    ``O(1/N + 1/M)``. Costs ``O((N + M)^2 D)``.

    Args:
      x: first sample, shape ``(N, D)``; ``N >= 2`` when ``unbiased``.
      y: second sample, shape ``(M, D)``; ``M >= 2`` when ``unbiased``.
      bandwidth: kernel bandwidth ``> 0`` (a number or a traced scalar).
      unbiased: the U-statistic (True) or the V-statistic (False).

    Returns:
      The scalar estimate of ``MMD^2``.

    Raises:
      ValueError: for ranks or feature sizes other than above, non-floating samples, a
        bandwidth ``<= 0`` or fewer than two points per sample for the U-statistic.
    """
    function = "mmd_squared"
    _checks.require_rank(function, "x", x, 2, "(N, D)")
    _checks.require_rank(function, "y", y, 2, "(M, D)")
    x, y = jnp.asarray(x), jnp.asarray(y)
    _checks.require_floating(function, "x", x)
    _checks.require_floating(function, "y", y)
    if y.shape[1] != x.shape[1]:
        raise _checks.error(function, "y", f"of shape (M, D) with D = {x.shape[1]} as x",
                            f"shape {y.shape}")
    _checks.require_greater(function, "bandwidth", bandwidth)
    minimum = 2 if unbiased else 1
    for name, sample in (("x", x), ("y", y)):
        if sample.shape[0] < minimum:
            raise _checks.error(function, name, f"at least {minimum} points"
                                + (" for the unbiased statistic" if unbiased else ""),
                                f"shape {sample.shape}")

    def gram(a, b):
        sq = (jnp.sum(a * a, axis=1)[:, None] + jnp.sum(b * b, axis=1)[None, :]
              - 2.0 * a @ b.T)
        return jnp.exp(-jnp.maximum(sq, 0.0) / (2.0 * jnp.square(bandwidth)))

    k_xx, k_yy, k_xy = gram(x, x), gram(y, y), gram(x, y)
    n, m = x.shape[0], y.shape[0]
    if not unbiased:
        return jnp.maximum(jnp.mean(k_xx) + jnp.mean(k_yy) - 2.0 * jnp.mean(k_xy), 0.0)
    within_x = (jnp.sum(k_xx) - jnp.trace(k_xx)) / (n * (n - 1))
    within_y = (jnp.sum(k_yy) - jnp.trace(k_yy)) / (m * (m - 1))
    return within_x + within_y - 2.0 * jnp.mean(k_xy)
