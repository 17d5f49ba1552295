"""metrics.mmd_squared against a numpy double loop and Gaussian closed forms."""

from __future__ import annotations

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import metrics


def loop_mmd_squared(x, y, bandwidth, unbiased):
    def k(a, b):
        return np.exp(-np.sum((a - b) ** 2) / (2 * bandwidth**2))

    def mean_k(a, b, skip_diagonal):
        values = [k(a[i], b[j]) for i in range(len(a)) for j in range(len(b))
                  if not (skip_diagonal and i == j)]
        return np.mean(values)

    return (mean_k(x, x, unbiased) + mean_k(y, y, unbiased) - 2 * mean_k(x, y, False))


def gaussian_kernel_mean(delta, variance, bandwidth, dim):
    """E k(x, y) for x - y ~ N(delta, variance I_D): the Gaussian integral in closed form."""
    s = bandwidth**2 + variance
    return (bandwidth**2 / s) ** (dim / 2) * np.exp(-np.sum(delta**2) / (2 * s))


@pytest.mark.parametrize("unbiased", [True, False])
def test_matches_double_loop(unbiased):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(7, 3)), rng.normal(0.5, 1.5, size=(5, 3))
    got = metrics.mmd_squared(jnp.asarray(x, jnp.float32), jnp.asarray(y, jnp.float32),
                              bandwidth=1.3, unbiased=unbiased)
    np.testing.assert_allclose(got, loop_mmd_squared(x, y, 1.3, unbiased), rtol=1e-5,
                               atol=1e-6)


def test_u_statistic_is_unbiased_and_v_statistic_is_not():
    """Means over 2000 replicates (N = M = 8) against MMD^2 in closed form, equal or shifted."""
    dim, n, bandwidth, replicates = 2, 8, 1.0, 2000
    shift = np.array([1.0, 0.0])
    keys = jax.random.split(jax.random.key(0), replicates)

    def statistics(key, mean_y):
        kx, ky = jax.random.split(key)
        x = jax.random.normal(kx, (n, dim))
        y = jax.random.normal(ky, (n, dim)) + mean_y
        return jnp.stack([metrics.mmd_squared(x, y, bandwidth=bandwidth),
                          metrics.mmd_squared(x, y, bandwidth=bandwidth, unbiased=False)])

    run = jax.jit(jax.vmap(statistics, in_axes=(0, None)))
    same = gaussian_kernel_mean(np.zeros(dim), 2.0, bandwidth, dim)
    for mean_y, expected in [(np.zeros(dim), 0.0),
                             (shift, 2 * same - 2 * gaussian_kernel_mean(shift, 2.0, bandwidth,
                                                                         dim))]:
        values = np.asarray(run(keys, jnp.asarray(mean_y, jnp.float32)), np.float64)
        mean, se = values.mean(0), values.std(0, ddof=1) / np.sqrt(replicates)
        assert abs(mean[0] - expected) < 4 * se[0], (mean_y, mean[0], expected, se[0])
        assert mean[1] - expected > 10 * se[1]  # the V-statistic is biased upwards
        assert np.all(values[:, 1] >= 0.0)


def test_v_statistic_of_identical_samples_is_zero_and_jit_takes_a_traced_bandwidth():
    x = jax.random.normal(jax.random.key(1), (16, 4)) * 30.0
    v = metrics.mmd_squared(x, x, bandwidth=0.5, unbiased=False)
    assert float(v) >= 0.0
    np.testing.assert_allclose(v, 0.0, atol=1e-6)
    y = x[:10] + 1.0
    jitted = jax.jit(lambda bw: metrics.mmd_squared(x, y, bandwidth=bw))(40.0)
    np.testing.assert_allclose(jitted, metrics.mmd_squared(x, y, bandwidth=40.0), rtol=1e-5)


X = jnp.zeros((4, 2))
BAD_INPUTS = [
    ("mmd_squared: x must be of shape (N, D), got shape (4,)",
     lambda: metrics.mmd_squared(jnp.zeros(4), X, bandwidth=1.0)),
    ("mmd_squared: y must be of shape (M, D) with D = 2 as x, got shape (4, 3)",
     lambda: metrics.mmd_squared(X, jnp.zeros((4, 3)), bandwidth=1.0)),
    ("mmd_squared: bandwidth must be > 0, got 0.0",
     lambda: metrics.mmd_squared(X, X, bandwidth=0.0)),
    ("mmd_squared: y must be at least 2 points for the unbiased statistic, got shape (1, 2)",
     lambda: metrics.mmd_squared(X, jnp.zeros((1, 2)), bandwidth=1.0)),
    ("mmd_squared: x must be a floating-point array, got dtype int32",
     lambda: metrics.mmd_squared(jnp.zeros((4, 2), jnp.int32), X, bandwidth=1.0)),
]


@pytest.mark.parametrize("message, call", BAD_INPUTS,
                         ids=[f"bad{i}" for i in range(len(BAD_INPUTS))])
def test_bad_inputs_raise_one_line(message, call):
    with pytest.raises(ValueError, match=re.escape(message)) as info:
        call()
    assert "\n" not in str(info.value)
