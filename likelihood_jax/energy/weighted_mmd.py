r"""Optimally-weighted estimators of the maximum mean discrepancy [P048].

Bharti, Naslidnyk, Key, Kaski & Briol (2023), "Optimally-weighted estimators of the maximum
mean discrepancy for likelihood-free inference" (ICML, arXiv:2301.11674). A simulator draws
``x_i = G_theta(u_i)`` from inputs ``u_i ~ U`` (a known distribution, e.g. ``N(0, I)`` or
``Uniform[0, 1]^s``). The usual V-statistic weighs every simulated point by ``1 / m``::

    MMD_V^2 = (1/m^2) sum_ij k(x_i, x_j) - (2/(m n)) sum_ij k(x_i, y_j)
              + (1/n^2) sum_ij k(y_i, y_j),

whose error decays like ``m^{-1/2}``. The paper replaces ``1/m`` by Bayesian-quadrature
weights in the input space (their Eq. 5): with a kernel ``c`` on inputs, its Gram matrix
``C_ij = c(u_i, u_j)`` and the kernel mean embedding ``z_i = int c(u_i, u) U(du)``::

    w = (C + delta I)^{-1} z,
    MMD_OW^2 = w^T K_xx w - (2/n) sum_ij w_i k(x_i, y_j) + (1/n^2) sum_ij k(y_i, y_j),

i.e. each integral against ``P_theta = G_theta # U`` is replaced by the quadrature rule that
is exact for functions of ``u`` in the RKHS of ``c`` (the composite ``u -> k(G_theta(u), y)``
is smooth for a smooth simulator), giving a faster rate in ``m`` for smooth simulators with
low- to mid-dimensional inputs. The weights do not depend on ``theta``: a minimum-distance
estimate ``argmin_theta MMD_OW^2`` differentiates through ``x_i = G_theta(u_i)`` only.

Both kernels are Gaussian (RBF) here, as in the paper's experiments, with ``k``'s lengthscale
and ``c``'s by the median heuristic (:func:`median_heuristic`). Closed forms:
:func:`gaussian_embedding`, :func:`uniform_embedding` (the embeddings ``z``) and
:func:`gaussian_location_mmd_squared` (the exact ``MMD^2`` of the Gaussian-location simulator
against a point set, the reference of the estimators' error).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import cho_factor, cho_solve
from jax.scipy.stats import norm

from likelihood_jax import _checks
from likelihood_jax.gaussian_process import squared_exponential_kernel

Array = jax.Array
MEASURES = ("gaussian", "uniform")


def _points(function: str, argument: str, x) -> Array:
    x = jnp.asarray(x)
    _checks.require_rank(function, argument, x, 2, "(N, D)")
    _checks.require_floating(function, argument, x)
    return x


def _gram(a: Array, b: Array, lengthscale) -> Array:
    return squared_exponential_kernel(a, b, lengthscale=lengthscale, variance=1.0)


def median_heuristic(x) -> Array:
    """``sqrt(median_{i<j} |x_i - x_j|^2 / 2)``, the paper's lengthscale rule (no gradient).

    Args:
      x: points ``(N, D)``, ``N >= 2``.

    Returns:
      A scalar lengthscale.
    """
    x = jax.lax.stop_gradient(_points("median_heuristic", "x", x))
    if x.shape[0] < 2:
        raise _checks.error("median_heuristic", "x", "at least 2 points", f"shape {x.shape}")
    d2 = jnp.sum(jnp.square(x[:, None] - x[None]), axis=-1)
    return jnp.sqrt(jnp.median(d2[np.triu_indices(x.shape[0], 1)]) / 2.0)


def gaussian_embedding(u, *, lengthscale) -> Array:
    """``z_i = int c(u_i, v) N(v; 0, I) dv = (l^2/(l^2+1))^{D/2} exp(-|u_i|^2/(2(l^2+1)))``.

    The kernel mean embedding of ``N(0, I_D)`` under the RBF kernel ``c`` of lengthscale
    ``l`` at the points ``u (m, D)``; shape ``(m,)`` [P048].
    """
    u = _points("gaussian_embedding", "u", u)
    _checks.require_greater("gaussian_embedding", "lengthscale", lengthscale)
    l2 = jnp.square(jnp.asarray(lengthscale, u.dtype))
    scale = (l2 / (l2 + 1.0)) ** (u.shape[1] / 2.0)
    return scale * jnp.exp(-jnp.sum(jnp.square(u), axis=-1) / (2.0 * (l2 + 1.0)))


def uniform_embedding(u, *, lengthscale) -> Array:
    """``z_i = prod_d sqrt(2 pi) l (Phi((1 - u_id)/l) - Phi(-u_id/l))``: ``Uniform[0,1]^D``.

    The kernel mean embedding of the uniform distribution on the unit cube under the RBF
    kernel ``c`` of lengthscale ``l`` at the points ``u (m, D)``; shape ``(m,)`` [P048].
    """
    u = _points("uniform_embedding", "u", u)
    _checks.require_greater("uniform_embedding", "lengthscale", lengthscale)
    lengthscale = jnp.asarray(lengthscale, u.dtype)
    mass = norm.cdf((1.0 - u) / lengthscale) - norm.cdf(-u / lengthscale)
    return jnp.prod(jnp.sqrt(2.0 * jnp.pi) * lengthscale * mass, axis=-1)


def optimal_weights(u, *, measure: str = "gaussian", lengthscale=None,
                    jitter: float = 1e-8) -> Array:
    """The optimal weights ``w = (C + jitter I)^{-1} z`` over simulator inputs [P048].

    ``C`` is the RBF Gram matrix of the inputs ``u`` and ``z`` the embedding of the input
    distribution (:func:`gaussian_embedding` or :func:`uniform_embedding`), solved by a
    Cholesky factorization (``cho_solve``). The weights are Bayesian-quadrature weights:
    ``sum_i w_i f(u_i)`` integrates every ``f`` in the RKHS of ``c`` against ``U`` with the
    smallest worst-case error. ``C`` is badly conditioned for large ``m``; the paper's code
    works in float64 with ``jitter = 1e-8`` (float32 needs a larger jitter).

    Args:
      u: simulator inputs ``(m, D)`` drawn from ``measure``.
      measure: ``"gaussian"`` (``N(0, I)``) or ``"uniform"`` (``Uniform[0, 1]^D``).
      lengthscale: ``c``'s lengthscale ``> 0``; None: :func:`median_heuristic` of ``u``.
      jitter: ``delta >= 0`` added to the diagonal of ``C``.

    Returns:
      The weights ``(m,)`` (not normalized; their sum approaches 1).
    """
    function = "optimal_weights"
    u = _points(function, "u", u)
    _checks.require_option(function, "measure", measure, MEASURES)
    _checks.require_at_least(function, "jitter", jitter, 0.0)
    if lengthscale is None:
        lengthscale = median_heuristic(u)
    embed = gaussian_embedding if measure == "gaussian" else uniform_embedding
    z = embed(u, lengthscale=lengthscale)
    gram = _gram(u, u, lengthscale) + jitter * jnp.eye(u.shape[0], dtype=u.dtype)
    return cho_solve(cho_factor(gram, lower=True), z)


def weighted_mmd_squared(x, y, weights, *, bandwidth) -> Array:
    """``w^T K_xx w - (2/n) sum_ij w_i k(x_i, y_j) + (1/n^2) sum_ij k(y_i, y_j)`` [P048].

    The MMD^2 between the weighted simulated points ``sum_i w_i delta_{x_i}`` and the data's
    empirical measure, RBF kernel ``k`` of lengthscale ``bandwidth``. Uniform weights ``1/m``
    give the V-statistic (``likelihood_jax.metrics.mmd_squared(x, y, unbiased=False)``, up to
    its clipping at 0); :func:`optimal_weights` give the optimally-weighted estimator.
    Differentiable in ``x`` (and so in a simulator's parameters).

    Args:
      x: simulated points ``(m, D)``.
      y: data ``(n, D)``.
      weights: ``(m,)``.
      bandwidth: ``k``'s lengthscale ``> 0``.

    Returns:
      A scalar.
    """
    function = "weighted_mmd_squared"
    x, y = _points(function, "x", x), _points(function, "y", y)
    _checks.require_shape(function, "y", y, (y.shape[0], x.shape[1]), "(n, D) with x's D")
    _checks.require_shape(function, "weights", weights, (x.shape[0],), "(m,)")
    _checks.require_greater(function, "bandwidth", bandwidth)
    return (weights @ _gram(x, x, bandwidth) @ weights
            - 2.0 * jnp.mean(weights @ _gram(x, y, bandwidth)) + jnp.mean(_gram(y, y, bandwidth)))


def gaussian_location_mmd_squared(theta, y, *, scale=1.0, bandwidth) -> Array:
    """The exact ``MMD^2(N(theta, scale^2 I), (1/n) sum_j delta_{y_j})``, RBF kernel [P048].

    With ``k(a, b) = exp(-|a - b|^2 / (2 l^2))`` and ``x, x' ~ N(theta, s^2 I_D)``
    independent: ``E k(x, x') = (l^2 / (l^2 + 2 s^2))^{D/2}`` and
    ``E k(x, y) = (l^2 / (l^2 + s^2))^{D/2} exp(-|y - theta|^2 / (2 (l^2 + s^2)))``, so::

        MMD^2 = (l^2/(l^2+2s^2))^{D/2}
                - (2/n) sum_j (l^2/(l^2+s^2))^{D/2} exp(-|y_j - theta|^2 / (2 (l^2+s^2)))
                + (1/n^2) sum_jk k(y_j, y_k).

    The Gaussian-location simulator ``x = theta + scale * u``, ``u ~ N(0, I)``, has this
    ``MMD^2`` against the data exactly; differentiable in ``theta``.

    Args:
      theta: the location ``(D,)``.
      y: data ``(n, D)``.
      scale: the simulator's noise standard deviation ``s > 0``.
      bandwidth: ``l > 0``.

    Returns:
      A scalar.
    """
    function = "gaussian_location_mmd_squared"
    y = _points(function, "y", y)
    _checks.require_shape(function, "theta", theta, (y.shape[1],), "(D,) with y's D")
    _checks.require_greater(function, "scale", scale)
    _checks.require_greater(function, "bandwidth", bandwidth)
    l2, s2, dim = jnp.square(bandwidth), jnp.square(scale), y.shape[1]
    within = (l2 / (l2 + 2.0 * s2)) ** (dim / 2.0)
    cross = ((l2 / (l2 + s2)) ** (dim / 2.0)
             * jnp.exp(-jnp.sum(jnp.square(y - theta), axis=-1) / (2.0 * (l2 + s2))))
    return within - 2.0 * jnp.mean(cross) + jnp.mean(_gram(y, y, bandwidth))
