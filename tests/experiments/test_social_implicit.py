"""Social-Implicit [P015]: the experiment's IMLE and Gaussian-NLL losses against brute force
(numpy, scipy) on the model's own samples."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from experiments.social_implicit.experiment import SocialImplicit
from likelihood_jax.main import load_config
from tests.clitools import REPO

CONFIG = os.path.join(REPO, "experiments", "social_implicit", "configs", "routes.py")


def _experiment(**overrides):
    config = load_config(f"{CONFIG}:runlocal")
    config.dataset.num_train, config.dataset.num_test = 16, 8
    config.imle.num_samples = 5
    for name, value in overrides.items():
        config[name] = value
    experiment = SocialImplicit(config)
    batch = {k: jnp.asarray(v[:4]) for k, v in experiment.dataset.train.items()}
    return experiment, jax.jit(experiment.init_params)(jax.random.key(0), batch), batch


def test_imle_loss_is_the_mean_l1_of_the_nearest_of_m_samples():
    experiment, params, batch = _experiment()
    key = jax.random.key(1)
    loss, _ = jax.jit(experiment.loss_fn)(params, batch, key, 0)
    futures, _ = jax.jit(experiment.samples, static_argnums=3)(params, batch["past"], key, 5)
    futures, y = np.asarray(futures), np.asarray(batch["x"])
    expected = [min(np.abs(futures[i, j] - y[i]).mean() for j in range(5)) for i in range(4)]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_gaussian_baseline_loss_is_the_normal_nll_per_coordinate():
    experiment, params, batch = _experiment(objective="gaussian_nll")
    loss, _ = jax.jit(experiment.loss_fn)(params, batch, jax.random.key(1), 0)
    _, (mean, log_std) = jax.jit(experiment.samples, static_argnums=3)(
        params, batch["past"], jax.random.key(1), 1)
    expected = -stats.norm.logpdf(np.asarray(batch["x"]), np.asarray(mean),
                                  np.exp(np.asarray(log_std))).reshape(4, -1).mean(axis=1)
    np.testing.assert_allclose(loss, expected, rtol=1e-4)
    with pytest.raises(ValueError, match="objective"):
        _experiment(objective="gan")
