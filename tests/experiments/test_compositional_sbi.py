"""compositional_sbi: the simulator's posterior by brute-force conditioning, the composed
analytic score against the posterior score, the bridge sampler, and the runlocal run's
metrics (``check_runlocal``)."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.compositional_sbi.experiment import CompositionalSBI, diffused_gaussian_score
from likelihood_jax.continuous_time import conditional_score as cs
from likelihood_jax.main import load_config
from tests.clitools import REPO, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "compositional_sbi", "configs", "gaussian_linear.py")


def experiment():
    return CompositionalSBI(load_config(CONFIG + ":runlocal"))


def test_posterior_equals_conditioning_the_joint_gaussian():
    """theta | x_1..x_n from the joint covariance of (theta, x_1..x_n), Schur complement."""
    exp = experiment()
    sim = exp.sim
    n = 3
    xs = np.asarray(exp.problems[0][:n], np.float64)
    a_stack = np.concatenate([sim.A] * n)  # (n dx, d)
    cov_xx = a_stack @ sim.S0 @ a_stack.T + sim.noise_std**2 * np.eye(n * sim.dim_x)
    cov_tx = sim.S0 @ a_stack.T
    mean_x = a_stack @ sim.m0 + np.concatenate([sim.b] * n)
    want_mean = sim.m0 + cov_tx @ np.linalg.solve(cov_xx, xs.reshape(-1) - mean_x)
    want_cov = sim.S0 - cov_tx @ np.linalg.solve(cov_xx, cov_tx.T)
    with jax.enable_x64(True):
        mean, cov = sim.posterior(jnp.asarray(xs))
        mask = jnp.asarray([1.0] * n + [0.0] * 2)
        mean2, cov2 = exp._posterior(jnp.concatenate([jnp.asarray(xs), jnp.ones((2, 2))]), mask)
    np.testing.assert_allclose(np.asarray(mean), want_mean, rtol=1e-8)
    np.testing.assert_allclose(np.asarray(cov), want_cov, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(np.asarray(mean2), want_mean, rtol=1e-8)
    np.testing.assert_allclose(np.asarray(cov2), want_cov, rtol=1e-8, atol=1e-12)


def test_composed_analytic_scores_equal_the_posterior_score_at_t0_only():
    exp = experiment()
    with jax.enable_x64(True):
        xs = jnp.asarray(exp.problems[0][:10], jnp.float64)
        mean, cov = exp.sim.posterior(xs)
        theta = jnp.asarray([0.3, -0.4])
        for prior in ("bridge", "diffused"):
            got = cs.composed_posterior_score(exp.analytic_single_score, exp.prior_score, 0.0,
                                              theta, xs, prior=prior)
            np.testing.assert_allclose(np.asarray(got),
                                       np.asarray(diffused_gaussian_score(theta, mean, cov, 1.0,
                                                                          0.0)), rtol=1e-7)
        alpha, sigma = exp.sde.marginal(0.3)
        got = cs.composed_posterior_score(exp.analytic_single_score, exp.prior_score, 0.3, theta,
                                          xs)
        true = diffused_gaussian_score(theta, mean, cov, alpha, sigma)
        assert float(jnp.max(jnp.abs(got - true))) > 1e-2  # the bridge is not the diffusion


def test_oracle_bridge_sampler_matches_the_analytic_posterior():
    """The paper's sampler with exact single-observation scores, n = 5."""
    exp = experiment()
    exp.config.langevin.num_levels, exp.config.langevin.steps_per_level = 20, 10
    n = 5
    xs = exp.problems[0][:n]
    mean, cov = exp.sim.posterior(xs)
    x = jax.jit(lambda k: exp.composed_sampler(exp.analytic_single_score, xs, jnp.ones((n,)),
                                               k, 2000))(jax.random.key(0))
    dm = np.asarray(x.mean(0) - mean)
    assert float(np.sqrt(dm @ np.linalg.solve(np.asarray(cov), dm))) < 0.15
    rel = np.linalg.norm(np.cov(np.asarray(x).T) - np.asarray(cov)) / np.linalg.norm(cov)
    assert rel < 0.15


def test_budget_must_divide():
    config = load_config(CONFIG + ":runlocal")
    config.sbi.set_simulations = 2010
    with pytest.raises(ValueError, match="multiple"):
        CompositionalSBI(config)


def check_runlocal(workdir: str) -> None:
    """The harness's runlocal run: both DSM losses fall; every sampler's errors are finite."""
    config = load_config(CONFIG + ":runlocal")
    train = train_lines(workdir)
    assert train[-1]["single_dsm"] < train[0]["single_dsm"]
    assert train[-1]["set_dsm"] < train[0]["set_dsm"]
    metrics = eval_lines(workdir)[-1]
    for stem in ("composed", "oracle", "set"):
        for n in config.eval.ns:
            assert np.isfinite(metrics[f"{stem}_mean_err_n{n}"])
            assert np.isfinite(metrics[f"{stem}_cov_err_n{n}"])
    assert metrics["simulations_single"] == metrics["simulations_set"] == 2000
    assert os.path.getsize(os.path.join(workdir, "samples.png")) > 1000


def test_the_dataset_is_the_registered_simulation_set_of_config_sbi():
    config = load_config(CONFIG + ":runlocal")
    config.sbi.n_max, config.sbi.set_simulations = 10, 200  # the dataset follows config.sbi
    exp = CompositionalSBI(config)
    assert exp._dataset is None and exp._model is None
    assert exp.dataset.name == "gaussian_linear"
    assert exp.dataset.train["x_set"].shape == (20, 10, 2)
    assert exp.dataset.train["theta_single"].shape == (20, 100, 2)
    assert exp.dataset.test["theta_set"].shape == (config.eval.num_test_rows, 2)
    assert exp.problems.shape == (config.eval.num_problems, 10, 2)
