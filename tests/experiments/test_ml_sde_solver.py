"""ml_sde_solver [P017]: the solver comparison on analytic Gaussians and on a trained model."""

import os

import jax
import numpy as np
import pytest

from experiments.ml_sde_solver.experiment import MLSolverDiffusion, gaussian_table, sample_with
from likelihood_jax import sde as sde_lib
from likelihood_jax.main import load_config
from tests.clitools import REPO, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "ml_sde_solver", "configs", "digits.py")


def test_gaussian_table_shows_the_claim_and_the_exact_full_solver():
    """2D Gaussian with the analytic score: ML < EM at few steps; ML with v_t exact."""
    table = gaussian_table((2, 4), num_samples=20_000)
    for i in range(2):
        assert table["ml"][i] < 0.2 * table["em"][i], table
        assert table["ml_full"][i] < 0.01, table  # exact up to Monte Carlo error
        assert table["ml_full"][i] < table["ode"][i] < table["em"][i], table


def test_sample_with_refuses_unknown_solvers():
    with pytest.raises(ValueError, match="unknown solver 'heun'"):
        sample_with("heun", sde_lib.VPSDE(), lambda t, x: -x, np.zeros((2, 2)),
                    jax.random.key(0), num_steps=2, t_min=1e-3)


def check_runlocal(workdir: str) -> None:
    """The harness's runlocal run: every solver scored, all above the data's floor."""
    config = load_config(f"{CONFIG}:runlocal")
    train = train_lines(workdir)
    assert train[-1]["loss"] < 0.8 * train[0]["loss"], train
    metrics = eval_lines(workdir)[-1]
    expected = {f"frechet_{s}_{n}" for s in ("em", "ml", "ode") for n in config.sample.steps}
    assert expected | {"frechet_data", "frechet_ml_2"} <= set(metrics)
    assert all(np.isfinite(metrics[k]) for k in expected)
    assert metrics["frechet_data"] < min(metrics[k] for k in expected)
    assert os.path.getsize(os.path.join(workdir, "samples.png")) > 1000


def test_unknown_solver_in_config_is_refused():
    config = load_config(f"{CONFIG}:runlocal")
    config.sample.solvers = ("em", "rk4")
    with pytest.raises(ValueError, match="unknown solver 'rk4'"):
        MLSolverDiffusion(config)


def test_construction_does_no_work_and_vector_data_is_refused_on_first_use():
    config = load_config(f"{CONFIG}:runlocal")
    config.dataset.name = "moons"
    config.model.event_shape = (2,)
    experiment = MLSolverDiffusion(config)
    assert experiment._dataset is None and experiment._model is None
    assert experiment.headline_metric == "frechet_ml_2"
    with pytest.raises(ValueError, match="needs an image dataset"):
        experiment.dataset
