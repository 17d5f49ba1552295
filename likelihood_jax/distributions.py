"""Log-densities and log-probabilities, numerically stable in float32.

Every function broadcasts like ``jnp`` arithmetic (elementwise ones) or states
its shapes; none allocates more than its inputs need. All are pure and work
under ``jax.jit``, ``jax.vmap`` and ``jax.grad``, and stay finite for finite
inputs wherever the true value is representable (softplus / log-sigmoid forms,
no ``log(sigmoid(.))`` or ``log(1 - sigmoid(.))``).

Shapes, ranks and parameters given as Python numbers are checked when a function is
called or traced (free under ``jax.jit``); checks of values (data in range, mixture
weights summing to one, positive definite covariances) run with ``validate_args=True``
through ``jax.experimental.checkify`` (eagerly they raise at once; under ``jax.jit`` wrap
the caller: ``err, out = jax.jit(checkify.checkify(f))(...)``, then ``err.throw()``).
Every error is a ``ValueError`` naming the function and the argument.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from likelihood_jax import _checks

Array = jax.Array

_HALF_LOG_TWO_PI = 0.5 * math.log(2.0 * math.pi)


def normal_log_prob(x: Array, mean=0.0, log_scale=0.0) -> Array:
    """Elementwise log-density of a normal distribution.

    ``log N(x; mu, sigma^2) = -0.5 ((x - mu) / sigma)^2 - log sigma - 0.5 log(2 pi)``
    with ``sigma = exp(log_scale)``. Exact (closed form); arguments broadcast.

    Args:
      x: points.
      mean: the mean ``mu``, broadcastable with ``x``.
      log_scale: the log standard deviation ``log sigma`` (any real),
        broadcastable with ``x``.

    Returns:
      Log-densities with the broadcast shape of the arguments.

    Raises:
      ValueError: if the shapes do not broadcast.
    """
    _checks.require_broadcast("normal_log_prob", x=jnp.shape(x), mean=jnp.shape(mean),
                              log_scale=jnp.shape(log_scale))
    z = (x - mean) * jnp.exp(-log_scale)
    return -0.5 * z * z - log_scale - _HALF_LOG_TWO_PI


def logistic_log_prob(x: Array, loc=0.0, log_scale=0.0) -> Array:
    """Elementwise log-density of a logistic distribution.

    With ``z = (x - loc) / s`` and ``s = exp(log_scale)`` the density is
    ``e^{-z} / (s (1 + e^{-z})^2)``; in the symmetric, overflow-free form
    ``log p = -|z| - 2 softplus(-|z|) - log s``. Exact; arguments broadcast.

    Args:
      x: points.
      loc: the location (mean and median), broadcastable with ``x``.
      log_scale: the log scale ``log s`` (any real), broadcastable with ``x``.

    Returns:
      Log-densities with the broadcast shape of the arguments.

    Raises:
      ValueError: if the shapes do not broadcast.
    """
    _checks.require_broadcast("logistic_log_prob", x=jnp.shape(x), loc=jnp.shape(loc),
                              log_scale=jnp.shape(log_scale))
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
                                          num_levels: int | None = None,
                                          fallback_threshold: float = 1e-5,
                                          min_log_scale: float | None = -7.0,
                                          validate_args: bool = False) -> Array:
    """Discretized logistic mixture log-likelihood (PixelCNN++, Salimans et al. 2017).

    Data ``x`` lie in ``[-1, 1]`` on the grid of ``L`` levels ``-1 + 2k/(L - 1)``
    (``L = num_levels`` when given, e.g. 17 for scikit-learn's digits, else
    ``L = 2**num_bits``); each level owns the bin ``[x - h, x + h]`` with half-width
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
      logit_weights: unnormalized mixture log-weights, shape ``S + (K,)``
        (``K >= 1``; the leading axes may broadcast).
      means: component locations, shape ``S + (K,)``.
      log_scales: component log-scales (any reals), shape ``S + (K,)``.
      num_bits: bits per value, an integer ``>= 1``; ``2**num_bits`` levels, used
        when ``num_levels`` is None.
      num_levels: the number of levels ``L``, an integer ``>= 2`` (any, not only a
        power of two); when given it decides ``L``, and ``num_bits`` must be left at
        its default or agree (``2**num_bits == num_levels``).
      fallback_threshold: interior bins with mass at most this use the mid-bin
        density approximation (``1e-5`` as in PixelCNN++; ``0.0`` keeps the exact
        mass wherever it is representable); in ``[0, 1)``.
      min_log_scale: lower clamp on ``log_scales``; ``-7`` (default) as in the
        PixelCNN++ code, ``None`` uses the scales as given. Independently of
        this, log-scales below ``-(log(float_max) - 10)`` are clamped so that
        ``1/s`` stays finite.
      validate_args: also check the values: ``x`` in ``[-1, 1]`` (with
        ``jax.experimental.checkify``; see the module docstring).

    Returns:
      Log-probabilities of shape ``S``.

    Raises:
      ValueError: for shapes that do not broadcast to ``S + (K,)``, a bad
        ``num_bits``, ``num_levels`` (or both given and disagreeing) or
        ``fallback_threshold``; with ``validate_args``, for
        ``x`` outside ``[-1, 1]``.
    """
    function = "discretized_logistic_mixture_log_prob"
    _checks.require_integer_at_least(function, "num_bits", num_bits, 1)
    if num_levels is not None:
        _checks.require_integer_at_least(function, "num_levels", num_levels, 2)
        if num_bits != 8 and 2**num_bits != num_levels:
            raise _checks.error(function, "num_levels", f"2**num_bits = {2**num_bits} when "
                                "both are given", repr(num_levels))
    _checks.require_at_least(function, "fallback_threshold", fallback_threshold, 0.0)
    if not _checks.is_traced(fallback_threshold) and not fallback_threshold < 1:
        raise _checks.error(function, "fallback_threshold", "< 1", repr(fallback_threshold))
    for name, value in (("logit_weights", logit_weights), ("means", means),
                        ("log_scales", log_scales)):
        _checks.require_min_rank(function, name, value, 1, "S + (K,)")
    x = jnp.asarray(x)
    _checks.require_broadcast(function, **{"x[..., None]": x.shape + (1,)},
                              logit_weights=jnp.shape(logit_weights), means=jnp.shape(means),
                              log_scales=jnp.shape(log_scales))
    if validate_args:
        _checks.check(function, jnp.all((x >= -1) & (x <= 1)),
                      "x must be in [-1, 1], got min {} and max {}", jnp.min(x), jnp.max(x))
    dtype = jnp.result_type(x, means, log_scales, jnp.float32)
    x = x.astype(dtype)[..., None]
    means = jnp.asarray(means, dtype)
    log_scales = jnp.asarray(log_scales, dtype)
    if min_log_scale is not None:
        log_scales = jnp.maximum(log_scales, min_log_scale)
    log_scales = jnp.maximum(log_scales, -(math.log(jnp.finfo(dtype).max) - 10.0))
    num_levels = 2**num_bits if num_levels is None else int(num_levels)
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


def _gaussian_log_prob_from_cholesky(x: Array, mean: Array, chol: Array) -> Array:
    """``log N(x; mean, L L^T)`` for one point given the Cholesky factor ``L``."""
    z = jax.scipy.linalg.solve_triangular(chol, x - mean, lower=True)
    dim = jnp.shape(x)[-1]
    return (-0.5 * jnp.sum(z * z) - jnp.sum(jnp.log(jnp.diagonal(chol)))
            - dim * _HALF_LOG_TWO_PI)


def multivariate_normal_log_prob(x: Array, mean: Array, covariance: Array, *,
                                 validate_args: bool = False) -> Array:
    """Log-density of a full-covariance multivariate normal at one point.

    ``log N(x; mu, Sigma) = -0.5 |L^{-1}(x - mu)|^2 - sum_i log L_ii - (D/2) log(2 pi)``
    with ``Sigma = L L^T`` (Cholesky). Exact. Cost: ``O(D^3)`` for the Cholesky
    factor (computed once when vmapped over ``x`` only) and ``O(D^2)`` per point.

    Args:
      x: one point, shape ``(D,)`` (``jax.vmap`` over a batch).
      mean: shape ``(D,)``.
      covariance: symmetric positive definite, shape ``(D, D)`` (a matrix that
        is not gives NaN unless ``validate_args``).
      validate_args: also check that ``covariance`` is symmetric positive
        definite (with ``jax.experimental.checkify``; see the module docstring).

    Returns:
      A scalar log-density.

    Raises:
      ValueError: for shapes other than ``(D,)``, ``(D,)``, ``(D, D)``; with
        ``validate_args``, for a covariance that is not symmetric positive
        definite.
    """
    function = "multivariate_normal_log_prob"
    _checks.require_rank(function, "x", x, 1, "(D,)", "; jax.vmap over a batch")
    dim = jnp.shape(x)[0]
    _checks.require_shape(function, "mean", mean, (dim,), "(D,)")
    _checks.require_shape(function, "covariance", covariance, (dim, dim), "(D, D)")
    chol = jnp.linalg.cholesky(covariance)
    if validate_args:
        _checks.check_positive_definite(function, "covariance", covariance, chol)
    return _gaussian_log_prob_from_cholesky(x, mean, chol)


def gaussian_mixture_log_prob(x: Array, weights: Array, means: Array,
                              covariances: Array, *, validate_args: bool = False) -> Array:
    """Log-density of a Gaussian mixture at one point.

    ``log p(x) = logsumexp_k [log w_k + log N(x; mu_k, Sigma_k)]``, each component
    through its Cholesky factor (see :func:`multivariate_normal_log_prob`). Exact.
    Cost: ``K`` Cholesky factorizations and triangular solves.

    Args:
      x: one point, shape ``(D,)`` (``jax.vmap`` over a batch).
      weights: mixture weights, non-negative and summing to one, shape ``(K,)``
        with ``K >= 1`` (a negative weight gives NaN unless ``validate_args``).
      means: shape ``(K, D)``.
      covariances: symmetric positive definite, shape ``(K, D, D)``.
      validate_args: also check the values: ``weights`` non-negative and summing
        to one, ``covariances`` symmetric positive definite (with
        ``jax.experimental.checkify``; see the module docstring).

    Returns:
      A scalar log-density.

    Raises:
      ValueError: for shapes other than those above; with ``validate_args``, for
        weights that are not probabilities or covariances that are not
        symmetric positive definite.
    """
    function = "gaussian_mixture_log_prob"
    _checks.require_rank(function, "x", x, 1, "(D,)", "; jax.vmap over a batch")
    _checks.require_rank(function, "weights", weights, 1, "(K,)")
    dim, num_components = jnp.shape(x)[0], jnp.shape(weights)[0]
    if num_components < 1:
        raise _checks.error(function, "weights", "of shape (K,) with K >= 1",
                            f"shape {jnp.shape(weights)}")
    _checks.require_shape(function, "means", means, (num_components, dim), "(K, D)")
    _checks.require_shape(function, "covariances", covariances,
                          (num_components, dim, dim), "(K, D, D)")
    chols = jnp.linalg.cholesky(covariances)
    if validate_args:
        _checks.check_probabilities(function, "weights", weights)
        _checks.check_positive_definite(function, "covariances", covariances, chols)
    component_log_probs = jax.vmap(_gaussian_log_prob_from_cholesky, in_axes=(None, 0, 0))(
        x, means, chols)
    return jax.nn.logsumexp(component_log_probs + jnp.log(weights))
