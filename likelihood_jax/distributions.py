"""Log-densities and log-probabilities, numerically stable in float32.

Every function broadcasts like ``jnp`` arithmetic (elementwise ones) or states
its shapes; none allocates more than its inputs need. All are pure and work
under ``jax.jit``, ``jax.vmap`` and ``jax.grad``, and stay finite for finite
inputs wherever the true value is representable (softplus / log-sigmoid forms,
no ``log(sigmoid(.))`` or ``log(1 - sigmoid(.))``).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

Array = jax.Array

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


def normal_log_prob(x: Array, mean=0.0, log_scale=0.0) -> Array:
    """Elementwise log-density of a normal distribution.

    ``log N(x; mu, sigma^2) = -0.5 ((x - mu) / sigma)^2 - log sigma - 0.5 log(2 pi)``
    with ``sigma = exp(log_scale)``. Exact (closed form); arguments broadcast.

    Args:
      x: points.
      mean: the mean ``mu``.
      log_scale: the log standard deviation ``log sigma``.

    Returns:
      Log-densities with the broadcast shape of the arguments.
    """
    z = (x - mean) * jnp.exp(-log_scale)
    return -0.5 * z * z - log_scale - _HALF_LOG_TWO_PI


def logistic_log_prob(x: Array, loc=0.0, log_scale=0.0) -> Array:
    """Elementwise log-density of a logistic distribution.

    With ``z = (x - loc) / s`` and ``s = exp(log_scale)`` the density is
    ``e^{-z} / (s (1 + e^{-z})^2)``; in the symmetric, overflow-free form
    ``log p = -|z| - 2 softplus(-|z|) - log s``. Exact; arguments broadcast.

    Args:
      x: points.
      loc: the location (mean and median).
      log_scale: the log scale ``log s``.

    Returns:
      Log-densities with the broadcast shape of the arguments.
    """
    abs_z = jnp.abs((x - loc) * jnp.exp(-log_scale))
    return -abs_z - 2.0 * jax.nn.softplus(-abs_z) - log_scale


def _log_sigmoid_difference(upper: Array, lower: Array, width: Array) -> Array:
    """Stable ``log(sigmoid(upper) - sigmoid(lower))`` given ``width = upper - lower >= 0``.

    Uses ``sigmoid(a) - sigmoid(b) = sigmoid(a) sigmoid(-b) (1 - e^{-(a - b)})``,
    exact in both tails (no cancellation between two CDF values near 1). The
    width is passed separately because ``upper - lower`` itself cancels when
    both are large.
    """
    width = jnp.maximum(width, jnp.finfo(jnp.result_type(width)).tiny)
    return (jax.nn.log_sigmoid(upper) + jax.nn.log_sigmoid(-lower)
            + jnp.log(-jnp.expm1(-width)))


def discretized_logistic_mixture_log_prob(x: Array, logit_weights: Array, means: Array,
                                          log_scales: Array, *, num_bits: int = 8,
                                          fallback_threshold: float = 1e-5,
                                          min_log_scale: float | None = -7.0) -> Array:
    """Discretized logistic mixture log-likelihood (PixelCNN++, Salimans et al. 2017).

    Data ``x`` lie in ``[-1, 1]`` on the grid of ``L = 2**num_bits`` levels
    ``-1 + 2k/(L - 1)``; each level owns the bin ``[x - h, x + h]`` with half-width
    ``h = 1/(L - 1)``. Each component ``k`` is a logistic with CDF
    ``sigmoid((x - mu_k) / s_k)``, and

        P(x) = sum_k pi_k * [sigmoid((x + h - mu_k)/s_k) - sigmoid((x - h - mu_k)/s_k)]

    except that the edge bins take the whole tail mass: at ``x = -1`` the lower
    CDF is replaced by 0 and at ``x = 1`` the upper one by 1, so the ``L``
    probabilities sum to one. Following PixelCNN++, an interior bin whose mass
    is ``<= fallback_threshold`` (``1e-5``, where float32 CDF differences
    underflow or cancel) uses the mid-bin density approximation
    ``log pdf(x) + log(2h)`` instead. The interior mass is computed as
    ``log sigmoid(a) + log sigmoid(-b) + log(1 - e^{b - a})``, exact in both tails
    (Salimans, Karpathy, Chen and Kingma 2017, "PixelCNN++: Improving the PixelCNN
    with discretized logistic mixture likelihood and other modifications").

    Exact likelihood of the discrete data (apart from the fallback bins, whose
    mass is below the threshold). Cost: ``O(K)`` elementwise operations per
    value. Mixture weights are ``softmax(logit_weights)`` over the last axis.

    Args:
      x: data in ``[-1, 1]`` on the grid above, shape ``S``.
      logit_weights: unnormalized mixture log-weights, shape ``S + (K,)``.
      means: component locations, shape ``S + (K,)``.
      log_scales: component log-scales, shape ``S + (K,)``.
      num_bits: bits per value; ``2**num_bits`` levels.
      fallback_threshold: interior bins with mass at most this use the mid-bin
        density approximation (``1e-5`` as in PixelCNN++; ``0.0`` keeps the exact
        mass wherever it is representable).
      min_log_scale: lower clamp on ``log_scales``; ``-7`` (default) as in the
        PixelCNN++ code, ``None`` uses the scales as given. Independently of
        this, log-scales below ``-(log(float_max) - 10)`` are clamped so that
        ``1/s`` stays finite.

    Returns:
      Log-probabilities of shape ``S``.
    """
    x = jnp.asarray(x)
    dtype = jnp.result_type(x, means, log_scales, jnp.float32)
    x = x.astype(dtype)[..., None]
    means = jnp.asarray(means, dtype)
    log_scales = jnp.asarray(log_scales, dtype)
    if min_log_scale is not None:
        log_scales = jnp.maximum(log_scales, min_log_scale)
    log_scales = jnp.maximum(log_scales, -(math.log(jnp.finfo(dtype).max) - 10.0))
    num_levels = 2**num_bits
    half_bin = 1.0 / (num_levels - 1)

    inv_scale = jnp.exp(-log_scales)
    centered = x - means
    upper = inv_scale * (centered + half_bin)
    lower = inv_scale * (centered - half_bin)
    mid = inv_scale * centered

    log_cdf_upper = jax.nn.log_sigmoid(upper)  # the bin at -1: P(X <= -1 + h)
    log_survival_lower = jax.nn.log_sigmoid(-lower)  # the bin at 1: P(X > 1 - h)
    log_bin_mass = _log_sigmoid_difference(upper, lower, inv_scale * (2.0 * half_bin))
    log_mid_density = logistic_log_prob(mid) - log_scales
    log_mid_mass = log_mid_density + math.log(2.0 * half_bin)

    if fallback_threshold > 0:
        use_exact = log_bin_mass > math.log(fallback_threshold)
    else:
        use_exact = inv_scale > 0
    interior = jnp.where(use_exact, log_bin_mass, log_mid_mass)
    log_probs = jnp.where(x < -1.0 + half_bin, log_cdf_upper,
                          jnp.where(x > 1.0 - half_bin, log_survival_lower, interior))
    log_weights = jax.nn.log_softmax(jnp.asarray(logit_weights, dtype), axis=-1)
    return jax.nn.logsumexp(log_probs + log_weights, axis=-1)


def multivariate_normal_log_prob(x: Array, mean: Array, covariance: Array) -> Array:
    """Log-density of a full-covariance multivariate normal at one point.

    ``log N(x; mu, Sigma) = -0.5 |L^{-1}(x - mu)|^2 - sum_i log L_ii - (D/2) log(2 pi)``
    with ``Sigma = L L^T`` (Cholesky). Exact. Cost: ``O(D^3)`` for the Cholesky
    factor (computed once when vmapped over ``x`` only) and ``O(D^2)`` per point.

    Args:
      x: one point, shape ``(D,)``.
      mean: shape ``(D,)``.
      covariance: symmetric positive definite, shape ``(D, D)``.

    Returns:
      A scalar log-density.
    """
    chol = jnp.linalg.cholesky(covariance)
    z = jax.scipy.linalg.solve_triangular(chol, x - mean, lower=True)
    dim = jnp.shape(x)[-1]
    return (-0.5 * jnp.sum(z * z) - jnp.sum(jnp.log(jnp.diagonal(chol)))
            - dim * _HALF_LOG_TWO_PI)


def gaussian_mixture_log_prob(x: Array, weights: Array, means: Array,
                              covariances: Array) -> Array:
    """Log-density of a Gaussian mixture at one point.

    ``log p(x) = logsumexp_k [log w_k + log N(x; mu_k, Sigma_k)]``, each component
    through its Cholesky factor (see :func:`multivariate_normal_log_prob`). Exact.
    Cost: ``K`` Cholesky factorizations and triangular solves.

    Args:
      x: one point, shape ``(D,)``.
      weights: mixture weights (probabilities summing to one), shape ``(K,)``.
      means: shape ``(K, D)``.
      covariances: symmetric positive definite, shape ``(K, D, D)``.

    Returns:
      A scalar log-density.
    """
    component_log_probs = jax.vmap(multivariate_normal_log_prob, in_axes=(None, 0, 0))(
        x, means, covariances)
    return jax.nn.logsumexp(component_log_probs + jnp.log(weights))
