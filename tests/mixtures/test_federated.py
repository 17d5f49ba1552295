"""Federated EM [P065] against centralized numpy EM, gmm_em_step and the true parameters."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
from scipy import stats

from likelihood_jax.data.synthetic import federated_mixture
from likelihood_jax.mixtures import federated, gmm


def numpy_centralized_em(x, y, clients, weights, means, covs, coefs, noise):
    """One EM step of the same model on the pooled data, with numpy/scipy (centered scatter)."""
    k_all = range(len(means))
    z = np.concatenate([x, np.ones((len(x), 1))], 1)
    log_joint = np.stack([
        np.log(weights[clients, k]) + stats.multivariate_normal(means[k], covs[k]).logpdf(x)
        + stats.multivariate_normal(np.zeros(y.shape[1]), noise[k]).logpdf(y - z @ coefs[k])
        .reshape(len(x)) for k in k_all], 1)
    log_lik = np.logaddexp.reduce(log_joint, 1)
    r = np.exp(log_joint - log_lik[:, None])
    eps = 10 * np.finfo(np.float64).eps
    counts = r.sum(0) + eps
    new_means = (r.T @ x) / counts[:, None]
    new_covs, new_coefs, new_noise = [], [], []
    for k in k_all:
        d = x - new_means[k]
        new_covs.append((r[:, k, None] * d).T @ d / counts[k])
        w = np.linalg.solve((r[:, k, None] * z).T @ z, (r[:, k, None] * z).T @ y)
        res = y - z @ w
        new_coefs.append(w)
        new_noise.append((r[:, k, None] * res).T @ res / counts[k])
    per_client = np.stack([r[clients == c].sum(0) for c in range(weights.shape[0])]) + eps
    return (per_client / per_client.sum(1, keepdims=True), new_means, np.stack(new_covs),
            np.stack(new_coefs), np.stack(new_noise), log_lik.sum())


def _padded(rows, num_clients):
    """Client-major padded arrays ``(C, N, ...)`` and masks of the pooled ``rows``."""
    length = np.bincount(rows["client"], minlength=num_clients).max()
    out = {key: np.zeros((num_clients, length) + rows[key].shape[1:], rows[key].dtype)
           for key in ("x", "y")}
    mask = np.zeros((num_clients, length), bool)
    for c in range(num_clients):
        idx = np.flatnonzero(rows["client"] == c)
        for key in out:
            out[key][c, :len(idx)] = rows[key][idx]
        mask[c, :len(idx)] = True
    return out["x"], out["y"], mask


def _problem(num_clients=3, max_size=40, seed=0):
    truth = federated_mixture.federated_mixture_parameters(
        num_clients=num_clients, num_components=2, dim=2, min_size=5, max_size=max_size,
        seed=seed)
    rows = federated_mixture.sample_clients(truth, truth["sizes"], np.random.default_rng(seed))
    rows = {k: v.astype(np.float64) if v.dtype == np.float32 else v for k, v in rows.items()}
    return truth, rows


def _start(truth, num_clients):
    """Parameters away from the truth (shifted means, unit covariances, zero regressions)."""
    k = len(truth["means"])
    return (np.full((num_clients, k), 1.0 / k),
            federated.MixtureParams(jnp.asarray(truth["means"] + 1.0), jnp.stack([jnp.eye(2)] * k),
                                    jnp.zeros((k, 3, 1)), jnp.stack([jnp.eye(1)] * k)))


def test_aggregated_m_step_equals_centralized_em_and_personalized_prediction():
    truth, rows = _problem()
    with jax.enable_x64(True):
        weights, params = _start(truth, 3)
        xs, ys, masks = _padded(rows, 3)
        got = jax.jit(federated.federated_em_step)(xs, masks, weights, params, ys)
        pooled = jax.jit(federated.pooled_em_step)(rows["x"], rows["client"], weights, params,
                                                   rows["y"])
        want = numpy_centralized_em(rows["x"], rows["y"], rows["client"], weights,
                                    *map(np.asarray, params))
        for ours in (got, pooled):
            flat = [ours[0], *ours[1], ours[2]]
            for a, b in zip(flat, want):
                np.testing.assert_allclose(np.asarray(a), b, rtol=1e-9, atol=1e-9)
        # Personalized prediction: gate pi_c N(x; mu_k, Sigma_k), then the gated regressions.
        new_weights, new_params, _ = got
        x = rows["x"][:5]
        gate = np.stack([new_weights[1, k] * stats.multivariate_normal(
            new_params.means[k], new_params.covariances[k]).pdf(x) for k in range(2)], 1)
        gate /= gate.sum(1, keepdims=True)
        z = np.concatenate([x, np.ones((5, 1))], 1)
        expected = sum(gate[:, k, None] * (z @ np.asarray(new_params.coefficients[k]))
                       for k in range(2))
        np.testing.assert_allclose(
            jax.jit(federated.personalized_predict)(jnp.asarray(x), new_weights[1], new_params),
            expected, rtol=1e-10)


def test_one_client_without_predictor_is_gmm_em_step():
    truth, rows = _problem(num_clients=1, max_size=60, seed=1)
    with jax.enable_x64(True):
        weights, params = _start(truth, 1)
        x = jnp.asarray(rows["x"])
        new_weights, new_params, _ = jax.jit(federated.federated_em_step)(
            x[None], jnp.ones((1, len(x)), bool), weights,
            federated.MixtureParams(params.means, params.covariances), reg_covar=1e-3)
        want = gmm.gmm_em_step(x, jnp.asarray(weights[0]), params.means, params.covariances,
                               reg_covar=1e-3)
        for a, b in zip((new_weights[0], new_params.means, new_params.covariances), want):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-10, atol=1e-12)


def test_log_likelihood_never_decreases_and_true_parameters_are_recovered():
    truth, rows = _problem(num_clients=4, max_size=500, seed=2)
    with jax.enable_x64(True):
        weights, params = _start(truth, 4)
        xs, ys, masks = _padded(rows, 4)
        step = jax.jit(federated.federated_em_step)
        history = []
        for _ in range(40):
            weights, params, log_lik = step(xs, masks, weights, params, ys)
            history.append(float(log_lik))
    assert np.all(np.diff(history) >= -1e-8 * abs(history[-1])), np.diff(history).min()
    # Match components to the truth (label switching), then compare.
    perm = min(itertools.permutations(range(2)), key=lambda p: np.sum(
        (np.asarray(params.means)[list(p)] - truth["means"]) ** 2))
    perm = list(perm)
    np.testing.assert_allclose(np.asarray(params.means)[perm], truth["means"], atol=0.2)
    np.testing.assert_allclose(np.asarray(params.covariances)[perm], truth["covariances"],
                               atol=0.25)
    np.testing.assert_allclose(np.asarray(params.coefficients)[perm],
                               truth["coefficients"], atol=0.15)
    np.testing.assert_allclose(np.asarray(weights)[:, perm], truth["client_weights"],
                               atol=0.15)
