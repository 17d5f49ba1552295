"""Marginalization models [P033]: the experiment's exact Ising reference and data; the runlocal
run's metrics (``check_runlocal``); the energy-based objective end to end (nightly)."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.marginalization_models.experiment import MarginalizationModels
from likelihood_jax.data.synthetic import ising
from likelihood_jax.main import load_config
from likelihood_jax.train import train_and_evaluate
from tests.clitools import REPO, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "marginalization_models", "configs", "ising.py")


def test_exact_reference_and_data():
    config = load_config(f"{CONFIG}:runlocal")
    experiment = MarginalizationModels(config)
    log_p = experiment.exact_log_probs
    exact = ising.enumerate_exact(experiment.target)
    np.testing.assert_allclose(np.exp(log_p).sum(), 1.0, rtol=1e-5)
    spins = 2.0 * experiment.states - 1.0
    np.testing.assert_allclose(log_p, jax.vmap(experiment.target.log_prob_unnormalized)(spins)
                               - exact["log_z"], atol=1e-4)
    x = experiment.data({"x": jnp.zeros((3000, 1))}, jax.random.key(0))
    codes = np.asarray(x) @ (2 ** np.arange(experiment.num_dims - 1, -1, -1))
    freq = np.bincount(codes, minlength=len(log_p)) / len(codes)
    assert 0.5 * np.abs(freq - np.exp(log_p)).sum() < 0.05
    config.dataset.name = "digits"
    digits = MarginalizationModels(config).data(
        {"x": jnp.array([[[[0], [7]], [[8], [16]]]])}, None)
    np.testing.assert_array_equal(digits, [[0, 0, 1, 1]])


def test_bad_settings_raise():
    config = load_config(f"{CONFIG}:runlocal")
    for field, value, match in (("objective", "ml", "objective"), ("order", "zigzag", "order")):
        bad = load_config(f"{CONFIG}:runlocal")
        bad[field] = value
        with pytest.raises(ValueError, match=match):
            MarginalizationModels(bad)
    config.objective, config.dataset.name = "kl", "digits"
    with pytest.raises(ValueError, match="target"):
        MarginalizationModels(config)


def check_runlocal(workdir: str) -> None:
    """The harness's run (2x2, MLE): loss down, marginals close to the exact ones."""
    train = train_lines(workdir)
    assert train[-1]["loss"] < train[0]["loss"]
    metrics = eval_lines(workdir)[-1]
    assert np.isfinite(metrics["nll"]) and metrics["nll"] < 4 * np.log(2) + 0.3
    assert metrics["conditional_tv"] < 0.2 and metrics["residual_abs"] < 1.0


@pytest.mark.nightly
def test_energy_based_objective_runs_end_to_end(tmp_path):
    config = load_config(f"{CONFIG}:runlocal")
    config.objective = "kl"
    metrics = train_and_evaluate(MarginalizationModels(config), str(tmp_path))
    assert np.isfinite(metrics["kl_exact_model_renormalized"])
