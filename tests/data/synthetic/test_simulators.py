"""likelihood_jax.data.synthetic.simulators: the Gaussian-linear posterior and its dataset."""

import numpy as np
import pytest

from likelihood_jax import data
from likelihood_jax.data.synthetic import simulators


def test_posterior_equals_conditioning_the_joint_gaussian():
    sim = simulators.GaussianLinearSimulator(2, 3, 0.5, seed=1)
    xs = np.random.default_rng(0).normal(size=(4, 3))
    mean, cov = sim.posterior(xs)
    # Joint of (theta, x_1..x_n): theta ~ N(0, I), x_j = A theta + b + noise.
    a = np.vstack([sim.A] * 4)
    joint_xx = a @ a.T + 0.25 * np.eye(12)
    gain = a.T @ np.linalg.inv(joint_xx)
    np.testing.assert_allclose(mean, gain @ (xs - sim.b).ravel(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(cov, np.eye(2) - gain @ a, rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="dim_theta"):
        simulators.GaussianLinearSimulator(3, 2, 0.5)


def test_dataset_rows_hold_a_set_and_single_pairs():
    ds = data.load_dataset("gaussian_linear", n_max=5, single_simulations=40,
                           set_simulations=20, num_test_rows=3, seed=2)
    assert ds.train["x_set"].shape == (4, 5, 2) and ds.train["theta_single"].shape == (4, 10, 2)
    assert ds.test["theta_set"].shape == (3, 2)
    sim = simulators.GaussianLinearSimulator(2, 2, 0.8, seed=0)
    rng = np.random.default_rng(2)
    theta = sim.prior_sample(rng, (4,))
    np.testing.assert_allclose(ds.train["theta_set"], theta.astype(np.float32))
    assert simulators.simulation_rows(5, 40, 20) == (4, 10)
    with pytest.raises(ValueError, match="multiple of n_max"):
        simulators.simulation_rows(6, 40, 20)
    with pytest.raises(ValueError, match="multiple of the number of sets"):
        simulators.simulation_rows(5, 41, 20)
