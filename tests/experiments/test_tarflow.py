"""tarflow [P008]: the comparison's configs (equal size) and the diagonal-Gaussian baseline."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats

from experiments.tarflow.experiment import TarFlowExperiment
from likelihood_jax.main import load_config
from likelihood_jax.models.transformer import num_params
from tests.clitools import REPO


def _experiment(kind, mode=""):
    spec = os.path.join(REPO, "experiments", "tarflow", "configs", "digits.py")
    config = load_config(spec + (f":{mode}" if mode else ""))
    config.model.kind = kind
    return TarFlowExperiment(config)


def _num_params(experiment):
    x = jax.random.uniform(jax.random.key(0), (4, 64))
    return num_params(jax.eval_shape(lambda: experiment.model.init(jax.random.key(1), x)))


def test_tarflow_and_realnvp_have_equal_parameter_counts():
    tarflow, realnvp = _num_params(_experiment("tarflow")), _num_params(_experiment("realnvp"))
    assert abs(tarflow - realnvp) / tarflow < 0.01, (tarflow, realnvp)


def test_diag_gaussian_baseline_is_a_diagonal_normal():
    experiment = _experiment("diag_gaussian", "runlocal")
    v = jax.random.normal(jax.random.key(2), (16, 64)) * 2.0 + 1.0
    params = experiment.model.init(jax.random.key(3), v)
    (actnorm,) = params
    got = experiment.per_example_log_prob(params, v[:3])
    expected = scipy.stats.norm.logpdf(np.asarray(v[:3]), np.asarray(actnorm["loc"]),
                                       np.exp(np.asarray(actnorm["log_scale"]))).sum(-1)
    np.testing.assert_allclose(got, expected, rtol=1e-5)
    # Data-dependent init: the maximum-likelihood diagonal Gaussian of the batch.
    np.testing.assert_allclose(actnorm["loc"], jnp.mean(v, 0), rtol=1e-5)


def test_unknown_kind_raises():
    with pytest.raises(ValueError, match="model.kind"):
        _ = _experiment("glow").model
