"""Optimally-weighted MMD estimators [P048]: closed forms, weights, the estimator's error."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from likelihood_jax import metrics
from likelihood_jax.energy import weighted_mmd as wm


def _rbf(a, b, lengthscale):
    d2 = ((np.asarray(a)[:, None] - np.asarray(b)[None]) ** 2).sum(-1)
    return np.exp(-d2 / (2 * lengthscale ** 2))


def test_gaussian_location_closed_form_matches_monte_carlo():
    """Each expectation of the closed form against a 200k-draw Monte Carlo (5 std errors)."""
    rng = np.random.default_rng(0)
    y = rng.normal(0.5, 1.2, (6, 2))
    theta, scale, bandwidth = np.array([0.3, -0.2]), 0.8, 1.1
    x, x2 = (theta + scale * rng.normal(size=(200_000, 2)) for _ in range(2))
    within = np.exp(-((x - x2) ** 2).sum(-1) / (2 * bandwidth ** 2))
    cross = _rbf(x, y, bandwidth).mean(1)  # E_y-mean of k(x, y_j) per draw
    draws = within - 2 * cross
    monte_carlo = draws.mean() + _rbf(y, y, bandwidth).mean()
    got = wm.gaussian_location_mmd_squared(jnp.asarray(theta, jnp.float32),
                                           jnp.asarray(y, jnp.float32), scale=scale,
                                           bandwidth=bandwidth)
    assert abs(float(got) - monte_carlo) < 5 * draws.std() / np.sqrt(draws.size) + 1e-6


def test_embeddings_match_quadrature():
    u = np.array([[-0.4], [0.3], [1.7]])
    for i, ui in enumerate(u[:, 0]):
        gauss = integrate.quad(lambda v, ui=ui: np.exp(-(ui - v) ** 2 / (2 * 0.7 ** 2))
                               * stats.norm.pdf(v), -np.inf, np.inf)[0]
        unif = integrate.quad(lambda v, ui=ui: np.exp(-(ui - v) ** 2 / (2 * 0.7 ** 2)), 0, 1)[0]
        np.testing.assert_allclose(wm.gaussian_embedding(jnp.asarray(u, jnp.float32),
                                                         lengthscale=0.7)[i], gauss, rtol=1e-5)
        np.testing.assert_allclose(wm.uniform_embedding(jnp.asarray(u, jnp.float32),
                                                        lengthscale=0.7)[i], unif, rtol=1e-5)
    # Product over dimensions: the 2D embedding is the product of the 1D ones.
    u2 = jnp.asarray([[-0.4, 0.3]], jnp.float32)
    np.testing.assert_allclose(wm.gaussian_embedding(u2, lengthscale=0.7),
                               wm.gaussian_embedding(u2[:, :1], lengthscale=0.7)
                               * wm.gaussian_embedding(u2[:, 1:], lengthscale=0.7), rtol=1e-6)


def test_median_heuristic_and_uniform_weights_give_the_v_statistic():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(7, 2)).astype(np.float32), rng.normal(size=(9, 2)).astype(np.float32)
    d2 = ((x[:, None] - x[None]) ** 2).sum(-1)[np.triu_indices(7, 1)]
    np.testing.assert_allclose(wm.median_heuristic(x), np.sqrt(np.median(d2) / 2), rtol=1e-6)
    got = wm.weighted_mmd_squared(x, y, jnp.full((7,), 1 / 7), bandwidth=0.9)
    np.testing.assert_allclose(got, metrics.mmd_squared(x, y, bandwidth=0.9, unbiased=False),
                               rtol=1e-5)


def test_optimal_weights_beat_the_v_statistic_and_give_the_right_gradient():
    """Gaussian-location simulator, m = 30 in 1D, 6 draws of the inputs (float64 as the paper):
    the weighted estimator's squared error is far below the V-statistic's, and its gradient
    in theta (through x = theta + u) matches the closed form's."""
    with jax.enable_x64(True):
        y = jax.random.normal(jax.random.key(0), (50, 1), jnp.float64) + 1.0
        bandwidth = wm.median_heuristic(y)
        theta = jnp.array([0.4])
        exact = wm.gaussian_location_mmd_squared(theta, y, bandwidth=bandwidth)

        @jax.jit
        def estimates(key):
            u = jax.random.normal(key, (30, 1), jnp.float64)
            weights = wm.optimal_weights(u)

            def weighted(t):
                return wm.weighted_mmd_squared(t + u, y, weights, bandwidth=bandwidth)

            v_stat = wm.weighted_mmd_squared(theta + u, y, jnp.full((30,), 1 / 30),
                                             bandwidth=bandwidth)
            return weighted(theta), v_stat, jax.grad(weighted)(theta), weights.sum()

        ow, v, grad, total = jax.vmap(estimates)(jax.random.split(jax.random.key(1), 6))
        ow_mse, v_mse = np.mean((ow - exact) ** 2), np.mean((v - exact) ** 2)
        assert ow_mse < 1e-3 * v_mse
        exact_grad = jax.grad(lambda t: wm.gaussian_location_mmd_squared(
            t, y, bandwidth=bandwidth))(theta)
        np.testing.assert_allclose(grad[:, 0], exact_grad[0], rtol=5e-2)
        np.testing.assert_allclose(total, 1.0, atol=5e-2)


@pytest.mark.nightly
def test_optimal_weights_integrate_rkhs_functions_exactly():
    """``sum_i w_i c(u_i, a) = z(a)`` for ``a`` among the nodes: quadrature exact on the span."""
    with jax.enable_x64(True):
        u = np.asarray(jax.random.uniform(jax.random.key(2), (12, 2), jnp.float64))
        w = jax.jit(lambda u: wm.optimal_weights(u, measure="uniform", lengthscale=0.5,
                                                  jitter=0.0))(u)
        quadrature = _rbf(u, u[:3], 0.5).T @ np.asarray(w)
        np.testing.assert_allclose(quadrature, wm.uniform_embedding(u[:3], lengthscale=0.5),
                                   rtol=1e-6)


@pytest.mark.parametrize("call, match", [
    (lambda: wm.optimal_weights(jnp.ones((3, 1)), measure="cauchy"), "measure"),
    (lambda: wm.optimal_weights(jnp.ones(3)), "u"),
    (lambda: wm.weighted_mmd_squared(jnp.ones((3, 1)), jnp.ones((2, 2)), jnp.ones(3),
                                     bandwidth=1.0), "y"),
    (lambda: wm.weighted_mmd_squared(jnp.ones((3, 1)), jnp.ones((2, 1)), jnp.ones(2),
                                     bandwidth=1.0), "weights"),
    (lambda: wm.gaussian_location_mmd_squared(jnp.ones(2), jnp.ones((4, 1)), bandwidth=1.0),
     "theta"),
    (lambda: wm.gaussian_embedding(jnp.ones((2, 1)), lengthscale=-1.0), "lengthscale"),
    (lambda: wm.median_heuristic(jnp.ones((1, 2))), "at least 2"),
])
def test_bad_arguments_are_refused(call, match):
    with pytest.raises(ValueError, match=match):
        call()
