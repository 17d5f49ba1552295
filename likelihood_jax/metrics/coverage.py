"""Mode coverage of samples from a mixture with known, well-separated modes.

The measure used since unrolled GANs and VEEGAN (Metz et al. 2017; Srivastava et al. 2017) on
the ring and grid of Gaussians: a sample is *high quality* when it lies within ``num_std``
standard deviations of its nearest mode centre, and a mode is *hit* (captured) when at least
``min_count`` high-quality samples have it as their nearest centre. The share of all samples
nearest each centre, compared with the mixture weights, shows mode dropping and mode collapse
[P072, P015].
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from likelihood_jax import _checks

Array = jax.Array


class ModeCoverage(NamedTuple):
    """What :func:`mode_coverage` returns.

    Attributes:
      modes_hit: integer scalar, the number of centres with at least ``min_count``
        high-quality samples nearest to them.
      high_quality_fraction: scalar in ``[0, 1]``, the share of samples within
        ``num_std * std`` of their nearest centre.
      mode_fractions: ``[K]``, the share of all samples whose nearest centre is each one
        (sums to 1).
    """

    modes_hit: Array
    high_quality_fraction: Array
    mode_fractions: Array


def mode_coverage(samples, centers, *, std, num_std: float = 3.0,
                  min_count: int = 1) -> ModeCoverage:
    """How many modes of a known mixture the samples cover, and how well.

    With ``c(x) = argmin_k ||x - mu_k||`` the nearest centre of sample ``x``::

        high_quality(x) = ||x - mu_c(x)|| <= num_std * std
        modes_hit       = #{k : #{x : c(x) = k, high_quality(x)} >= min_count}
        mode_fractions  = (#{x : c(x) = k} / N)_k

    Jit-compatible (``min_count`` and ``num_std`` static or traced alike).

    Args:
      samples: ``[N, D]`` floating.
      centers: ``[K, D]`` floating, the mode centres.
      std: positive scalar, the (isotropic) standard deviation of each mode.
      num_std: positive, the high-quality radius in units of ``std`` (default 3).
      min_count: integer ``>= 1``, high-quality samples a mode needs to count as hit.

    Returns:
      A :class:`ModeCoverage`.

    Raises:
      ValueError: shapes other than ``[N, D]`` and ``[K, D]`` with the same ``D``, integer
        inputs, or a non-positive ``std`` / ``num_std`` or ``min_count < 1`` (checked when
        concrete).
    """
    function = "mode_coverage"
    samples, centers = jnp.asarray(samples), jnp.asarray(centers)
    _checks.require_rank(function, "samples", samples, 2, "(N, D)")
    _checks.require_rank(function, "centers", centers, 2, "(K, D)")
    _checks.require_floating(function, "samples", samples)
    _checks.require_floating(function, "centers", centers)
    if samples.shape[1] != centers.shape[1]:
        raise ValueError(f"{function}: samples have {samples.shape[1]} dimensions but centers "
                         f"have {centers.shape[1]}; both must be (., D) with the same D")
    _checks.require_integer_at_least(function, "min_count", min_count, 1)
    _checks.require_greater(function, "std", std)
    _checks.require_greater(function, "num_std", num_std)
    distances = jnp.linalg.norm(samples[:, None, :] - centers[None, :, :], axis=-1)  # [N, K]
    nearest = jnp.argmin(distances, axis=1)
    high_quality = jnp.min(distances, axis=1) <= num_std * std
    assigned = jax.nn.one_hot(nearest, centers.shape[0], dtype=jnp.int32)  # [N, K]
    good_per_mode = jnp.sum(assigned * high_quality[:, None], axis=0)
    return ModeCoverage(
        modes_hit=jnp.sum(good_per_mode >= min_count),
        high_quality_fraction=jnp.mean(high_quality.astype(samples.dtype)),
        mode_fractions=jnp.mean(assigned.astype(samples.dtype), axis=0))


def mode_coverage_summary(samples, centers, *, std, weights=None) -> dict[str, float]:
    """:func:`mode_coverage` at its defaults as plain floats, for ``model_metrics``.

    Returns ``{"modes_hit", "high_quality", "mode_tv"}``: the number of modes hit, the
    high-quality fraction, and the total variation ``0.5 sum_k |f_k - w_k|`` between the
    samples' mode shares ``f`` and the mixture weights ``w`` (default: equal weights).
    """
    cover = mode_coverage(samples, centers, std=std)
    k = cover.mode_fractions.shape[0]
    weights = jnp.full((k,), 1.0 / k) if weights is None else jnp.asarray(weights)
    _checks.require_shape("mode_coverage_summary", "weights", weights, (k,), "(K,)")
    return {"modes_hit": float(cover.modes_hit),
            "high_quality": float(cover.high_quality_fraction),
            "mode_tv": float(0.5 * jnp.sum(jnp.abs(cover.mode_fractions - weights)))}
