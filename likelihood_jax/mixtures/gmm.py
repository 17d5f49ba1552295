"""Gaussian mixture models fitted by expectation-maximization.

Full-covariance mixtures ``p(x) = sum_k w_k N(x; mu_k, Sigma_k)`` on data
``x (N, D)`` with ``weights (K,)``, ``means (K, D)`` and ``covariances (K, D, D)``.
One EM iteration (Dempster, Laird and Rubin 1977) never decreases the
log-likelihood (with ``reg_covar = 0``); the M-step follows scikit-learn's
``GaussianMixture`` (including its ``reg_covar`` and its ``10 * eps`` guard on
the component counts), so one step matches ``GaussianMixture(max_iter=1)``
started from the same parameters.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from likelihood_jax import distributions

Array = jax.Array


def _component_log_probs(x: Array, weights: Array, means: Array, covariances: Array) -> Array:
    """``log w_k + log N(x_n; mu_k, Sigma_k)`` for all ``n, k``: shape ``(N, K)``."""
    per_point = jax.vmap(distributions.multivariate_normal_log_prob, in_axes=(0, None, None))
    per_component = jax.vmap(per_point, in_axes=(None, 0, 0), out_axes=1)
    return per_component(x, means, covariances) + jnp.log(weights)


def gmm_log_likelihood(x: Array, weights: Array, means: Array, covariances: Array) -> Array:
    """**Mean** per-point log-likelihood of data under a Gaussian mixture.

    ``(1/N) sum_n log sum_k w_k N(x_n; mu_k, Sigma_k)`` (the same quantity as
    scikit-learn's ``GaussianMixture.score``; multiply by ``N`` for the total).
    Exact. Cost: ``K`` Cholesky factorizations plus ``O(N K D^2)``.

    Args:
      x: data, shape ``(N, D)``.
      weights: shape ``(K,)``, summing to one.
      means: shape ``(K, D)``.
      covariances: shape ``(K, D, D)``, symmetric positive definite.

    Returns:
      A scalar, the mean log-likelihood in nats.
    """
    return jnp.mean(jax.nn.logsumexp(_component_log_probs(x, weights, means, covariances),
                                     axis=1))


def gmm_em_step(x: Array, weights: Array, means: Array, covariances: Array, *,
                reg_covar: float = 0.0) -> tuple[Array, Array, Array]:
    """One full EM iteration for a full-covariance Gaussian mixture.

    E-step: responsibilities ``r_nk = w_k N(x_n; mu_k, Sigma_k) / p(x_n)``.
    M-step (closed form): ``N_k = sum_n r_nk`` (plus ``10 * eps`` as in
    scikit-learn, so an empty component does not divide by zero),
    ``w_k = N_k / sum_j N_j``, ``mu_k = sum_n r_nk x_n / N_k``,
    ``Sigma_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k + reg_covar * I``.

    With ``reg_covar = 0`` the step never decreases the log-likelihood
    (:func:`gmm_log_likelihood`) (Dempster, Laird and Rubin 1977, "Maximum
    likelihood from incomplete data via the EM algorithm"); ``reg_covar > 0``
    adds to the covariance diagonal exactly as scikit-learn's
    ``GaussianMixture`` does, trading that guarantee for positive definiteness.
    Cost: ``K`` Cholesky factorizations plus ``O(N K D^2)``.

    Args:
      x: data, shape ``(N, D)``.
      weights: shape ``(K,)``, summing to one.
      means: shape ``(K, D)``.
      covariances: shape ``(K, D, D)``, symmetric positive definite.
      reg_covar: non-negative value added to the diagonal of each new covariance.

    Returns:
      The updated ``(weights, means, covariances)``.
    """
    x = jnp.asarray(x)
    log_joint = _component_log_probs(x, weights, means, covariances)
    resp = jnp.exp(log_joint - jax.nn.logsumexp(log_joint, axis=1, keepdims=True))
    counts = jnp.sum(resp, axis=0) + 10.0 * jnp.finfo(resp.dtype).eps
    new_weights = counts / jnp.sum(counts)
    new_means = (resp.T @ x) / counts[:, None]
    centered = x[None, :, :] - new_means[:, None, :]  # (K, N, D)
    new_covariances = jnp.einsum("nk,kni,knj->kij", resp, centered, centered)
    new_covariances = new_covariances / counts[:, None, None]
    new_covariances = new_covariances + reg_covar * jnp.eye(x.shape[1], dtype=x.dtype)
    return new_weights, new_means, new_covariances
