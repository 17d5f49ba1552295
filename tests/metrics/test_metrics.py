"""Bits/dim and the dequantization convention against values known by hand."""

import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from absl.testing import parameterized

from likelihood_jax import metrics


class BitsPerDimTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    def test_nats_to_bits(self):
        fn = self.variant(lambda nll: metrics.bits_per_dim(nll, 784))
        np.testing.assert_allclose(fn(784 * math.log(2.0)), 1.0, rtol=1e-6)
        np.testing.assert_allclose(fn(jnp.asarray([0.0, 1000.0])),
                                   [0.0, 1000.0 / (784 * math.log(2.0))], rtol=1e-6)


class DequantizationTest(chex.TestCase):

    @chex.variants(with_jit=True, without_jit=True)
    @parameterized.parameters(256, 17)
    def test_uniform_dequantize_is_the_documented_map(self, num_levels):
        x = np.random.default_rng(0).integers(0, num_levels, size=(1000,))
        key = jax.random.key(1)
        y = self.variant(lambda k, x: metrics.uniform_dequantize(k, x, num_levels=num_levels))(
            key, x)
        chex.assert_type(y, jnp.float32)
        assert np.all((np.asarray(y) >= 0) & (np.asarray(y) < 1))
        u = np.asarray(y, np.float64) * num_levels - x
        assert np.all((u > -1e-4) & (u < 1 + 1e-4))
        np.testing.assert_allclose(u, jax.random.uniform(key, x.shape), atol=1e-4)
        # u looks uniform: mean 1/2, variance 1/12.
        np.testing.assert_allclose([u.mean(), u.var()], [0.5, 1 / 12], atol=0.03)

    @chex.variants(with_jit=True, without_jit=True)
    def test_uniform_model_on_256_levels_is_eight_bits(self):
        dims = 3 * 32 * 32
        fn = self.variant(lambda lp, s: metrics.dequantized_bits_per_dim(lp, dims, scale=s))
        # Uniform density on [0, 1)^D: log p = 0, slope 1/256.
        np.testing.assert_allclose(fn(0.0, 1 / 256), 8.0, rtol=1e-6)
        # Uniform density on [-1, 1)^D: log p = -D log 2, slope 2/256.
        np.testing.assert_allclose(fn(-dims * math.log(2.0), 2 / 256), 8.0, rtol=1e-6)
        # The default slope is 1/num_levels.
        np.testing.assert_allclose(metrics.dequantized_bits_per_dim(0.0, dims), 8.0, rtol=1e-6)

    def test_digits_uniform_is_log2_17(self):
        np.testing.assert_allclose(
            metrics.dequantized_bits_per_dim(0.0, 64, num_levels=17), math.log2(17), rtol=1e-6)
        np.testing.assert_allclose(
            metrics.dequantized_bits_per_dim(jnp.zeros(5), 64, scale=1 / 17), [math.log2(17)] * 5,
            rtol=1e-6)

    def test_piecewise_constant_density_recovers_the_discrete_likelihood(self):
        # A density that is constant on every dequantization cell, p_Z(z) = P(k) / scale^D,
        # makes the Jensen bound tight: dequantized bits/dim == -log2 P(k) / D exactly.
        num_levels, dims = 17, 4
        probs = np.random.default_rng(2).dirichlet(np.ones(num_levels))
        k = np.random.default_rng(3).integers(0, num_levels, size=(10, dims))
        z = jax.vmap(lambda kk, x: metrics.uniform_dequantize(kk, x, num_levels=num_levels))(
            jax.random.split(jax.random.key(4), 10), k)
        cells = np.floor(np.asarray(z, np.float64) * num_levels).astype(int)
        np.testing.assert_array_equal(cells, k)
        log_density = np.sum(np.log(probs[cells] * num_levels), axis=1)
        got = metrics.dequantized_bits_per_dim(log_density, dims, num_levels=num_levels)
        expected = -np.sum(np.log2(probs[k]), axis=1) / dims
        np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_frechet_distance_matches_scipy_sqrtm():
    import scipy.linalg

    from likelihood_jax.metrics import frechet_distance
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(4, 4)), rng.normal(size=(4, 4))
    c0, c1 = a @ a.T + 0.1 * np.eye(4), b @ b.T + 0.1 * np.eye(4)
    m0, m1 = rng.normal(size=4), rng.normal(size=4)
    expected = (np.sum((m0 - m1) ** 2) + np.trace(c0) + np.trace(c1)
                - 2 * np.trace(scipy.linalg.sqrtm(c0 @ c1)).real)
    with jax.enable_x64(True):
        got = frechet_distance(m0, c0, m1, c1)
    np.testing.assert_allclose(got, expected, rtol=1e-8)
    np.testing.assert_allclose(frechet_distance(m0, c0, m0, c0), 0.0, atol=1e-4)


def _ece_reference(probs, labels, num_bins):
    """Guo et al.'s ECE by an explicit loop over bins (numpy)."""
    probs, labels = np.asarray(probs, np.float64), np.asarray(labels)
    conf, pred = probs.max(1), probs.argmax(1)
    edges = np.linspace(0.0, 1.0, num_bins + 1)
    total = 0.0
    for b in range(num_bins):
        lo, hi = edges[b], edges[b + 1]
        inside = (conf > lo) & (conf <= hi) if b else (conf >= lo) & (conf <= hi)
        if inside.any():
            total += inside.mean() * abs((pred[inside] == labels[inside]).mean()
                                         - conf[inside].mean())
    return total


def test_expected_calibration_error_matches_a_loop_and_known_cases():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(500, 4)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = rng.integers(0, 4, size=500)
    for m in (1, 10, 15):
        np.testing.assert_allclose(metrics.expected_calibration_error(probs, labels, num_bins=m),
                                   _ece_reference(probs, labels, m), rtol=1e-5, atol=1e-7)
    # Calibrated by construction: labels drawn from the predicted probabilities -> ECE ~ 0.
    drawn = np.array([rng.choice(4, p=p) for p in probs])
    assert float(metrics.expected_calibration_error(probs, drawn, num_bins=5)) < 0.05
    # Confident and always wrong: ECE = confidence.
    confident = np.tile([[0.9, 0.1]], (10, 1))
    np.testing.assert_allclose(
        metrics.expected_calibration_error(confident, np.ones(10, int)), 0.9, rtol=1e-6)
    # A mask drops examples: the masked half changes nothing.
    mixed = np.concatenate([confident, np.tile([[0.2, 0.8]], (10, 1))])
    mask = np.r_[np.ones(10), np.zeros(10)]
    np.testing.assert_allclose(
        metrics.expected_calibration_error(mixed, np.ones(20, int), mask=mask), 0.9, rtol=1e-6)
    with pytest.raises(ValueError, match="probs must be"):
        metrics.expected_calibration_error(probs[0], labels)
