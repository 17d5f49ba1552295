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
