"""Distances between distributions given by statistics or samples."""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def frechet_distance(mean0, cov0, mean1, cov1) -> Array:
    """Fréchet distance between two Gaussians (the statistic behind FID).

    ``|m0 - m1|^2 + tr(C0 + C1 - 2 (C0^{1/2} C1 C0^{1/2})^{1/2})`` (Dowson &
    Landau 1982; Heusel et al. 2017 apply it to Inception features). The matrix
    square roots use symmetric eigendecompositions, so the result is real and,
    up to rounding, non-negative.

    Args:
      mean0: first mean, shape ``(F,)``.
      cov0: first covariance, shape ``(F, F)``.
      mean1: second mean, shape ``(F,)``.
      cov1: second covariance, shape ``(F, F)``.

    Returns:
      The scalar squared distance.
    """
    def sqrtm_psd(c):
        w, v = jnp.linalg.eigh(c)
        return (v * jnp.sqrt(jnp.clip(w, 0.0))) @ v.T

    root0 = sqrtm_psd(jnp.asarray(cov0))
    cross = sqrtm_psd(root0 @ jnp.asarray(cov1) @ root0)
    diff = jnp.asarray(mean0) - jnp.asarray(mean1)
    return diff @ diff + jnp.trace(cov0) + jnp.trace(cov1) - 2.0 * jnp.trace(cross)
