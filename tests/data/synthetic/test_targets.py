"""Targets: log-densities against independent numpy/scipy values, samplers, bad input."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from likelihood_jax.data.synthetic import targets


def test_gaussian_mixture_log_prob_against_scipy():
    means = np.array([[0.0, 1.0], [2.0, -1.0], [-1.5, 0.5]])
    stds = np.array([0.5, 1.0, 0.3])
    weights = np.array([1.0, 2.0, 1.0])
    gmm = targets.GaussianMixture(means, stds, weights)
    x = np.random.default_rng(0).normal(size=(20, 2)) * 2
    expected = np.log(sum(w / 4.0 * stats.multivariate_normal(m, s ** 2 * np.eye(2)).pdf(x)
                          for m, s, w in zip(means, stds, weights)))
    got = jax.jit(jax.vmap(gmm.log_prob))(jnp.asarray(x, jnp.float32))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert gmm.log_normalizer == 0.0


def test_grid_mixture_is_normalized_and_sampled_exactly():
    gmm = targets.grid_gaussian_mixture(dim=2, modes_per_axis=2, loc=1.5, std=0.5)
    np.testing.assert_allclose(sorted(map(tuple, gmm.means)),
                               sorted(itertools.product([-1.5, 1.5], repeat=2)))
    grid = np.linspace(-5, 5, 401)
    xx, yy = np.meshgrid(grid, grid, indexing="ij")
    pts = jnp.asarray(np.stack([xx.ravel(), yy.ravel()], -1), jnp.float32)
    density = np.exp(np.asarray(jax.vmap(gmm.log_prob)(pts)))
    assert density.sum() * (grid[1] - grid[0]) ** 2 == pytest.approx(1.0, abs=1e-3)
    samples = np.asarray(gmm.sample(jax.random.key(0), 40000))
    np.testing.assert_allclose(samples.mean(0), 0.0, atol=0.03)
    # Var of one coordinate: std^2 + loc^2 (equal modes at +-loc).
    np.testing.assert_allclose(samples.var(0), 0.25 + 2.25, rtol=0.03)
    assert np.mean(samples[:, 0] * samples[:, 1] > 0) == pytest.approx(0.5, abs=0.02)


def _numpy_phi4_action(phi, kappa, lam):
    """Site-by-site loop over the periodic lattice (independent of the vectorized code)."""
    n0, n1 = phi.shape
    total = 0.0
    for i in range(n0):
        for j in range(n1):
            v = phi[i, j]
            neighbours = phi[(i + 1) % n0, j] + phi[i, (j + 1) % n1]
            total += -2 * kappa * v * neighbours + (1 - 2 * lam) * v ** 2 + lam * v ** 4
    return total


@pytest.mark.parametrize("shape", [(4, 4), (6, 4)])
def test_phi4_action_against_a_site_loop(shape):
    phi = np.random.default_rng(1).normal(size=shape)
    target = targets.Phi4(shape, kappa=0.3, lam=0.022)
    expected = _numpy_phi4_action(phi, 0.3, 0.022)
    with jax.enable_x64(True):
        np.testing.assert_allclose(target.action(jnp.asarray(phi)), expected, rtol=1e-12)
        np.testing.assert_allclose(target.log_prob(jnp.asarray(phi.ravel())), -expected,
                                   rtol=1e-12)
    assert target.event_shape == (shape[0] * shape[1],)
    assert target.log_normalizer is None


def test_phi4_standard_parameterization_is_the_same_theory():
    """S_hop(phi) == S_std(sqrt(2 kappa) phi) with the (m2, g) <-> (kappa, lambda) map."""
    with jax.enable_x64(True):
        m2, g = -4.0, 8.0  # Albergo et al. 2019's L = 8 point
        target = targets.Phi4.from_standard((8, 8), m2, g)
        d = 2
        assert (1 - 2 * target.lam) / target.kappa - 2 * d == pytest.approx(m2)
        assert target.lam / (4 * target.kappa ** 2) == pytest.approx(g)
        phi = jnp.asarray(np.random.default_rng(2).normal(size=(8, 8)))
        np.testing.assert_allclose(
            target.action(phi),
            targets.standard_phi4_action(np.sqrt(2 * target.kappa) * phi, m2, g), rtol=1e-12)
        free = targets.Phi4.from_standard((4, 4), 1.0, 0.0)
        assert free.kappa == pytest.approx(1 / 5) and free.lam == 0.0


def test_phi4_log_prob_is_symmetric_and_jittable():
    target = targets.Phi4((4, 4), 0.3, 0.022)
    phi = jax.random.normal(jax.random.key(0), (8, 16))
    lp = jax.jit(jax.vmap(target.log_prob))(phi)
    np.testing.assert_allclose(lp, jax.vmap(target.log_prob)(-phi), rtol=1e-6)
    np.testing.assert_allclose(target.magnetization(phi[0]), phi[0].mean(), rtol=1e-6)


def test_bad_input_raises():
    with pytest.raises(ValueError, match="shape"):
        targets.Phi4((4, 4)).log_prob(jnp.zeros(15))
    with pytest.raises(ValueError, match="extents"):
        targets.Phi4((1, 4))
    with pytest.raises(ValueError, match="kappa"):
        targets.Phi4((4, 4), kappa=-1.0)
    with pytest.raises(ValueError, match=r"\(K, D\)"):
        targets.GaussianMixture(np.zeros(3), 1.0)
    with pytest.raises(ValueError, match="positive"):
        targets.GaussianMixture(np.zeros((2, 2)), [1.0, 0.0])
    with pytest.raises(ValueError, match="weights"):
        targets.GaussianMixture(np.zeros((2, 2)), 1.0, [1.0])
    with pytest.raises(ValueError, match="one point"):
        targets.grid_gaussian_mixture().log_prob(jnp.zeros(3))
    with pytest.raises(ValueError, match="modes_per_axis"):
        targets.grid_gaussian_mixture(modes_per_axis=1)
    with pytest.raises(ValueError, match="m2"):
        targets.Phi4.from_standard((4, 4), -5.0, 0.0)
