"""LogME [P204]: the evidence against scipy, the fixed point against a grid and an optimizer."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.experimental import checkify
from scipy import optimize, stats

from likelihood_jax import metrics
from likelihood_jax.metrics.logme import (
    linear_regression_log_evidence,
    maximize_linear_regression_evidence,
)


def _mvn_evidence(f, y, alpha, beta):
    """``log N(y; 0, F F^T / alpha + I / beta) / N`` by scipy (float64)."""
    n = len(y)
    cov = f @ f.T / alpha + np.eye(n) / beta
    return stats.multivariate_normal(np.zeros(n), cov).logpdf(y) / n


def _regression(seed, n, d, noise=0.5):
    rng = np.random.default_rng(seed)
    f = rng.normal(size=(n, d))
    return f, f @ rng.normal(size=d) + noise * rng.normal(size=n)


@pytest.mark.parametrize("n, d", [(9, 4), (4, 7)])  # N > D and N < D (rank-deficient F^T F)
def test_evidence_equals_the_marginal_gaussian_logpdf(n, d):
    f, y = _regression(0, n, d)
    with jax.enable_x64(True):
        for alpha, beta in ((1.0, 1.0), (0.3, 4.0), (20.0, 0.05)):
            got = linear_regression_log_evidence(jnp.asarray(f), jnp.asarray(y), alpha, beta)
            np.testing.assert_allclose(got, _mvn_evidence(f, y, alpha, beta), rtol=1e-10)


def _dual_grid_evidence(f, y, log_alpha, log_beta):
    """``log N(y; 0, F F^T / alpha + I / beta) / N`` on a grid, from ``eigh(F F^T)`` (numpy)."""
    lam, u = np.linalg.eigh(f @ f.T)
    z2 = (u.T @ y) ** 2
    var = np.maximum(lam, 0.0) / np.exp(log_alpha)[..., None] + np.exp(-log_beta)[..., None]
    return -0.5 * (len(y) * np.log(2 * np.pi) + np.log(var).sum(-1)
                   + (z2 / var).sum(-1)) / len(y)


def test_fixed_point_is_the_grid_maximizer():
    f, y = _regression(1, 30, 3, noise=0.7)
    log_a, log_b = np.meshgrid(np.linspace(-6, 6, 481), np.linspace(-6, 6, 481),
                               indexing="ij")  # spacing 0.025 in log
    grid = _dual_grid_evidence(f, y, log_a, log_b)
    best = np.unravel_index(np.argmax(grid), grid.shape)
    with jax.enable_x64(True):
        value, alpha, beta, iterations = maximize_linear_regression_evidence(
            jnp.asarray(f), jnp.asarray(y), tol=1e-10, max_iterations=500)
    assert int(iterations) < 500
    assert grid.max() - 1e-12 <= float(value) <= grid.max() + 1e-4
    np.testing.assert_allclose(np.log([float(alpha), float(beta)]),
                               [log_a[best], log_b[best]], atol=0.025)


def test_logme_is_the_mean_of_the_maximized_class_evidences():
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(3), 8)
    f = rng.normal(size=(24, 4)) + labels[:, None] * np.array([1.0, -0.5, 0.0, 0.3])
    per_class = []
    for c in range(3):
        y = (labels == c).astype(float)
        fit = optimize.minimize(lambda p, y=y: -_mvn_evidence(f, y, *np.exp(p)), np.zeros(2),
                                method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-12})
        per_class.append(-fit.fun)
    with jax.enable_x64(True):
        jitted = jax.jit(functools.partial(metrics.logme, num_classes=3, tol=1e-10))
        got = jitted(jnp.asarray(f), jnp.asarray(labels))
        np.testing.assert_allclose(got, np.mean(per_class), rtol=1e-7)
        # a global scale and (eagerly) zero columns leave LogME unchanged
        np.testing.assert_allclose(jitted(7.0 * f, labels), got, rtol=1e-7)
        padded = np.concatenate([f, np.zeros((24, 3))], axis=1)
        np.testing.assert_allclose(metrics.logme(padded, labels, tol=1e-10), got, rtol=1e-9)


def test_logme_in_float32_prefers_informative_features():
    rng = np.random.default_rng(3)
    labels = jnp.asarray(np.arange(60) % 3)
    signal = jax.nn.one_hot(labels, 3) * 2.0 + rng.normal(size=(60, 3))
    good = jnp.asarray(np.concatenate([signal, rng.normal(size=(60, 2))], 1), jnp.float32)
    bad = jnp.asarray(rng.normal(size=(60, 5)), jnp.float32)
    jitted = jax.jit(functools.partial(metrics.logme, num_classes=3))
    assert jitted(good, labels).dtype == jnp.float32
    assert float(jitted(good, labels)) > float(jitted(bad, labels))


@pytest.mark.parametrize("call, argument", [
    (lambda: metrics.logme(jnp.zeros(4), jnp.zeros(4, int)), "features"),
    (lambda: metrics.logme(jnp.zeros((4, 2)), jnp.zeros(3, int)), "labels"),
    (lambda: metrics.logme(jnp.zeros((4, 2)), jnp.zeros(4)), "labels"),  # not integer
    (lambda: metrics.logme(jnp.ones((4, 2)), jnp.zeros(4, int)), "labels"),  # one class
    (lambda: metrics.logme(jnp.ones((4, 2)), jnp.array([0, 2, 2, 0])), "labels"),  # 1 absent
    (lambda: metrics.logme(jnp.ones((4, 2)), jnp.array([0, 1, 1, 0]), num_classes=1),
     "num_classes"),
    (lambda: jax.jit(metrics.logme)(jnp.ones((4, 2)), jnp.array([0, 1, 1, 0])), "num_classes"),
])
def test_bad_inputs_raise_one_clear_error(call, argument):
    with pytest.raises(ValueError, match=rf"^logme: {argument} must ") as info:
        call()
    assert "\n" not in str(info.value)


def test_validate_args_checks_traced_labels():
    def score(labels):
        return metrics.logme(jnp.ones((4, 2)), labels, num_classes=3, validate_args=True)

    err, _ = jax.jit(checkify.checkify(score))(jnp.array([0, 1, 1, 0]))
    with pytest.raises(ValueError, match="logme: labels must hold every class"):
        err.throw()
