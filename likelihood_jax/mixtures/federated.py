r"""Federated EM for a Gaussian mixture with per-client mixing weights [P065].

Wu, Zhang, et al. (2023), "Personalized Federated Learning under Mixture of Distributions"
(FedGMM, ICML 2023). Client ``c`` holds data ``(x, y)`` drawn from

    p(x, y | c) = sum_k pi_{c,k} N(x; mu_k, Sigma_k) p_{theta_k}(y | x),

with mixing weights ``pi_c`` private to the client and the components ``(mu_k, Sigma_k,
theta_k)`` shared. Here the predictors are linear-Gaussian, ``p_{theta_k}(y | x) =
N(y; W_k^T [x; 1], Psi_k)``, so that every M-step is in closed form (the paper trains neural
predictors by gradient steps inside the same EM); without ``y`` the model is a plain GMM per
client.

One round (:func:`federated_em_step`):

* **E-step on each client** (in parallel, ``jax.vmap`` over clients):
  ``r_nk = pi_{c,k} N(x_n; mu_k, Sigma_k) p_k(y_n|x_n) / sum_j (...)``, then the sufficient
  statistics ``N_ck = sum_n r_nk``, ``s_ck = sum_n r_nk x_n``, ``S_ck = sum_n r_nk x_n x_n^T``
  (and ``sum r z z^T``, ``sum r z y^T``, ``sum r y y^T`` with ``z = [x; 1]``)
  (:func:`client_statistics`). The client sets ``pi_{c,k} = N_ck / sum_j N_cj`` itself.
* **Server M-step** on the statistics summed over clients (:func:`server_m_step`):
  ``mu_k = s_k / N_k``, ``Sigma_k = (S_k - s_k mu_k^T - mu_k s_k^T + N_k mu_k mu_k^T) / N_k``,
  ``W_k = (sum r z z^T)^{-1} sum r z y^T``, ``Psi_k = (sum r y y^T - W_k^T sum r z y^T) / N_k``.

Sums commute, so the aggregated M-step **equals** centralized EM of the same model on the
pooled data exactly (:func:`pooled_em_step` computes it that way); with one client and no
predictor it is :func:`likelihood_jax.mixtures.gmm.gmm_em_step` (including its ``10 * eps``
guard on the counts and ``reg_covar``). As exact EM (``reg_covar = 0``, ``ridge = 0``) the
total log-likelihood never decreases. A client's personalized prediction is
``E[y | x, c] = sum_k q_ck(x) W_k^T [x; 1]`` with ``q_ck(x) ∝ pi_{c,k} N(x; mu_k, Sigma_k)``
(:func:`personalized_predict`).

Shapes: ``xs (C, N, D)`` padded per client with ``masks (C, N)`` (True for a real point),
``ys (C, N, Dy)`` or None, ``client_weights (C, K)``, and :class:`MixtureParams`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import jax
import jax.numpy as jnp

from likelihood_jax import _checks

Array = jax.Array


class MixtureParams(NamedTuple):
    """The shared (server) parameters.

    Attributes:
      means: ``mu_k``, shape ``(K, D)``.
      covariances: ``Sigma_k``, shape ``(K, D, D)``, symmetric positive definite.
      coefficients: ``W_k`` of the linear-Gaussian predictors, shape ``(K, D + 1, Dy)`` (the
        last row is the intercept), or None without predictors.
      noise: ``Psi_k``, the predictors' noise covariances, shape ``(K, Dy, Dy)``, or None.
    """

    means: Array
    covariances: Array
    coefficients: Array | None = None
    noise: Array | None = None


def _gaussian_log_probs(x: Array, means: Array, covariances: Array) -> Array:
    """``log N(x_n; mu_k, Sigma_k)`` for ``x (N, D)``, shape ``(N, K)`` (Cholesky per k)."""
    chol = jnp.linalg.cholesky(covariances)  # (K, D, D)
    diff = x[None, :, :] - means[:, None, :]  # (K, N, D)
    solved = jax.vmap(lambda c, d: jax.scipy.linalg.solve_triangular(c, d.T, lower=True))(
        chol, diff)  # (K, D, N)
    log_det = 2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), -1)
    out = -0.5 * (jnp.sum(solved**2, axis=1) + log_det[:, None]
                  + x.shape[-1] * math.log(2.0 * math.pi))
    return out.T


def _with_intercept(x: Array) -> Array:
    return jnp.concatenate([x, jnp.ones(x.shape[:-1] + (1,), x.dtype)], -1)


def log_joint(x: Array, y: Array | None, weights: Array, params: MixtureParams) -> Array:
    """``log pi_k + log N(x_n; mu_k, Sigma_k) [+ log N(y_n; W_k^T [x_n; 1], Psi_k)]``, ``(N, K)``.

    For one client: ``x (N, D)``, ``y (N, Dy)`` or None, ``weights (K,)``.
    """
    out = _gaussian_log_probs(x, params.means, params.covariances) + jnp.log(weights)
    if y is None:
        return out
    predicted = jnp.einsum("ne,kef->knf", _with_intercept(x), params.coefficients)
    zero = jnp.zeros(y.shape[-1], y.dtype)

    def target_log_probs(residual, noise):  # log N(y_n; W_k^T z_n, Psi_k) for one k, (N,)
        return _gaussian_log_probs(residual, zero[None], noise[None])[:, 0]

    return out + jax.vmap(target_log_probs)(y[None] - predicted, params.noise).T


def _moments(resp: Array, x: Array, y: Array | None) -> dict[str, Array]:
    """The responsibility-weighted sums of the M-step (module docstring)."""
    stats = {"counts": jnp.sum(resp, 0), "sum_x": resp.T @ x,
             "sum_xx": jnp.einsum("nk,ni,nj->kij", resp, x, x)}
    if y is not None:
        z = _with_intercept(x)
        stats.update(sum_zz=jnp.einsum("nk,ni,nj->kij", resp, z, z),
                     sum_zy=jnp.einsum("nk,ni,nj->kij", resp, z, y),
                     sum_yy=jnp.einsum("nk,ni,nj->kij", resp, y, y))
    return stats


def client_statistics(x: Array, y: Array | None, mask: Array, weights: Array,
                      params: MixtureParams) -> dict[str, Array]:
    """The E-step of one client: its sufficient statistics and log-likelihood.

    Args:
      x: the client's points, shape ``(N, D)`` (padding rows allowed).
      y: its targets ``(N, Dy)``, or None.
      mask: ``(N,)`` bool, True for real points.
      weights: the client's ``pi_c``, shape ``(K,)``.
      params: the shared components.

    Returns:
      ``counts (K,)``, ``sum_x (K, D)``, ``sum_xx (K, D, D)``, ``log_likelihood`` (the sum over
      the client's points of ``log p(x_n, y_n | c)`` at ``params``), and with ``y``:
      ``sum_zz (K, D+1, D+1)``, ``sum_zy (K, D+1, Dy)``, ``sum_yy (K, Dy, Dy)``.
    """
    joint = log_joint(x, y, weights, params)
    log_norm = jax.nn.logsumexp(joint, axis=1)
    resp = jnp.exp(joint - log_norm[:, None]) * mask[:, None]
    return {**_moments(resp, x, y), "log_likelihood": jnp.sum(jnp.where(mask, log_norm, 0.0))}


def _guarded(counts: Array) -> Array:
    """``N_k + 10 eps``, as :func:`likelihood_jax.mixtures.gmm.gmm_em_step` (empty components)."""
    return counts + 10.0 * jnp.finfo(counts.dtype).eps


def client_mixing_weights(counts: Array) -> Array:
    """A client's new ``pi_c = N_ck / sum_j N_cj`` (counts guarded as in ``gmm_em_step``)."""
    guarded = _guarded(counts)
    return guarded / jnp.sum(guarded, -1, keepdims=True)


def server_m_step(stats: dict[str, Array], *, reg_covar: float = 0.0,
                  ridge: float = 0.0) -> MixtureParams:
    """The closed-form M-step of the shared components from statistics summed over clients.

    ``reg_covar`` is added to the diagonals of ``Sigma_k`` and ``Psi_k`` (as scikit-learn's
    ``GaussianMixture``); ``ridge`` to that of ``sum r z z^T`` before the solve for ``W_k``.
    Both 0 give exact EM.
    """
    raw = stats["counts"]
    counts = _guarded(raw)
    s = stats["sum_x"]
    means = s / counts[:, None]
    outer = jnp.einsum("ki,kj->kij", s, means)
    scatter = (stats["sum_xx"] - outer - jnp.swapaxes(outer, 1, 2)
               + raw[:, None, None] * jnp.einsum("ki,kj->kij", means, means))
    dim = means.shape[-1]
    covariances = scatter / counts[:, None, None] + reg_covar * jnp.eye(dim, dtype=means.dtype)
    if "sum_zz" not in stats:
        return MixtureParams(means, covariances)
    zz = stats["sum_zz"] + ridge * jnp.eye(dim + 1, dtype=means.dtype)
    coefficients = jnp.linalg.solve(zz, stats["sum_zy"])
    out_dim = coefficients.shape[-1]
    residual = stats["sum_yy"] - jnp.einsum("kei,kej->kij", stats["sum_zy"], coefficients)
    residual = 0.5 * (residual + jnp.swapaxes(residual, 1, 2))
    noise = residual / counts[:, None, None] + reg_covar * jnp.eye(out_dim, dtype=means.dtype)
    return MixtureParams(means, covariances, coefficients, noise)


def _check(function: str, xs, masks, ys, client_weights, params: MixtureParams,
           validate_args: bool, client_axis: bool = True) -> None:
    """Shapes always; with ``validate_args`` positive definite covariances and weights."""
    if not isinstance(params, MixtureParams):
        raise _checks.error(function, "params", "a MixtureParams", type(params).__name__)
    if client_axis:
        (x_name, x_shape), (m_name, m_shape), (y_name, y_shape) = (
            ("xs", "(C, N, D)"), ("masks", "(C, N)"), ("ys", "(C, N, Dy)"))
    else:
        (x_name, x_shape), (m_name, m_shape), (y_name, y_shape) = (
            ("x", "(N, D)"), ("client_ids", "(N,)"), ("y", "(N, Dy)"))
    _checks.require_rank(function, x_name, xs, 3 if client_axis else 2, x_shape)
    _checks.require_floating(function, x_name, xs)
    _checks.require_shape(function, m_name, masks, xs.shape[:-1], m_shape)
    num_clients = xs.shape[0] if client_axis else client_weights.shape[0]
    k, dim = params.means.shape[0], xs.shape[-1]
    _checks.require_shape(function, "means", params.means, (k, dim), "(K, D)")
    _checks.require_shape(function, "covariances", params.covariances, (k, dim, dim),
                          "(K, D, D)")
    _checks.require_shape(function, "client_weights", client_weights, (num_clients, k),
                          "(C, K)")
    if ys is not None:
        _checks.require_rank(function, y_name, ys, xs.ndim, y_shape)
        _checks.require_shape(function, y_name, ys, xs.shape[:-1] + ys.shape[-1:], y_shape)
        out = ys.shape[-1]
        if params.coefficients is None or params.noise is None:
            raise _checks.error(function, "params", "MixtureParams with coefficients and "
                                "noise when targets are given", "None")
        _checks.require_shape(function, "coefficients", params.coefficients,
                              (k, dim + 1, out), "(K, D + 1, Dy)")
        _checks.require_shape(function, "noise", params.noise, (k, out, out), "(K, Dy, Dy)")
    if validate_args:
        _checks.check_positive_definite(function, "covariances", params.covariances,
                                        jnp.linalg.cholesky(params.covariances))
        _checks.check_probabilities(function, "client_weights", client_weights)


def federated_em_step(xs: Array, masks: Array, client_weights: Array, params: MixtureParams,
                      ys: Array | None = None, *, reg_covar: float = 0.0, ridge: float = 0.0,
                      validate_args: bool = False) -> tuple[Array, MixtureParams, Array]:
    """One round of federated EM [P065]: client E-steps, summed statistics, server M-step.

    Args:
      xs: the clients' points, shape ``(C, N, D)``, padded to a common ``N``.
      masks: ``(C, N)`` bool, True for real points.
      client_weights: the clients' ``pi_c``, shape ``(C, K)``, rows summing to one.
      params: the shared components (:class:`MixtureParams`).
      ys: targets ``(C, N, Dy)`` for the per-component predictors, or None.
      reg_covar: added to covariance diagonals (0: exact EM).
      ridge: added to the predictors' normal equations (0: exact EM).
      validate_args: also check (with ``jax.experimental.checkify``) that the covariances are
        positive definite and the client weights sum to one.

    Returns:
      ``(client_weights, params, log_likelihood)``: the new weights and components, and the
      total log-likelihood ``sum_c sum_n log p(x_n, y_n | c)`` at the **old** parameters.
    """
    function = "federated_em_step"
    xs, masks = jnp.asarray(xs), jnp.asarray(masks, bool)
    client_weights = jnp.asarray(client_weights)
    _check(function, xs, masks, ys, client_weights, params, validate_args)
    stats = jax.vmap(client_statistics, in_axes=(0, None if ys is None else 0, 0, 0, None))(
        xs, ys, masks, client_weights, params)
    summed = jax.tree.map(lambda a: jnp.sum(a, 0), stats)  # what the server receives
    new_params = server_m_step(summed, reg_covar=reg_covar, ridge=ridge)
    return client_mixing_weights(stats["counts"]), new_params, summed["log_likelihood"]


def pooled_em_step(x: Array, client_ids: Array, client_weights: Array, params: MixtureParams,
                   y: Array | None = None, *, reg_covar: float = 0.0, ridge: float = 0.0,
                   validate_args: bool = False) -> tuple[Array, MixtureParams, Array]:
    """Centralized EM of the same model on the pooled data (the reference of federated EM).

    ``x (N, D)`` with ``client_ids (N,)`` in ``0..C-1`` (and ``y (N, Dy)``): each point's
    responsibilities use its client's ``pi``; the statistics are sums over all points and the
    client weights segment sums. Same returns as :func:`federated_em_step`.
    """
    function = "pooled_em_step"
    x, client_ids = jnp.asarray(x), jnp.asarray(client_ids)
    client_weights = jnp.asarray(client_weights)
    _check(function, x, client_ids, y, client_weights, params, validate_args,
           client_axis=False)
    log_weights = jnp.log(client_weights)[client_ids]  # (N, K)
    joint = log_joint(x, y, jnp.ones(params.means.shape[0], x.dtype), params) + log_weights
    log_norm = jax.nn.logsumexp(joint, axis=1)
    resp = jnp.exp(joint - log_norm[:, None])
    per_client = jax.ops.segment_sum(resp, client_ids, num_segments=client_weights.shape[0])
    new_params = server_m_step(_moments(resp, x, y), reg_covar=reg_covar, ridge=ridge)
    return client_mixing_weights(per_client), new_params, jnp.sum(log_norm)


def client_log_likelihood(x: Array, y: Array | None, weights: Array,
                          params: MixtureParams) -> Array:
    """``log p(x_n [, y_n] | c)`` per point of one client, shape ``(N,)``."""
    return jax.nn.logsumexp(log_joint(x, y, weights, params), axis=1)


def personalized_predict(x: Array, weights: Array, params: MixtureParams) -> Array:
    """``E[y | x, c] = sum_k q_ck(x) W_k^T [x; 1]``, ``q_ck ∝ pi_{c,k} N(x; mu_k, Sigma_k)``.

    ``x (N, D)``, the client's ``weights (K,)``; returns ``(N, Dy)``.
    """
    gate = jax.nn.softmax(log_joint(x, None, weights, params), axis=1)  # (N, K)
    per_component = jnp.einsum("ne,kef->nkf", _with_intercept(x), params.coefficients)
    return jnp.einsum("nk,nkf->nf", gate, per_component)
