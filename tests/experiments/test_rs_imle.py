"""RS-IMLE [P079]: the few-shot subset and the experiment's RS-IMLE loss against a numpy
brute-force selection on the generator's own samples."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.rs_imle.experiment import RSIMLE, few_shot_subset
from likelihood_jax import data
from likelihood_jax.main import load_config
from tests.clitools import REPO

CONFIG = os.path.join(REPO, "experiments", "rs_imle", "configs", "toy2d.py")


def test_rs_imle_loss_matches_brute_force_selection():
    config = load_config(f"{CONFIG}:runlocal")
    config.data.num_shots, config.imle.num_samples, config.imle.eps = 6, 30, 0.4
    toy = data.Dataset("8gaussians", {"x": data.sample_toy("8gaussians", 100, seed=0)},
                       {"x": data.sample_toy("8gaussians", 10, seed=1)},
                       data.DatasetInfo("continuous", (2,)))
    subset = few_shot_subset(toy, 6, seed=0)
    experiment = RSIMLE(config, dataset=subset)
    x = experiment.dataset.train["x"]
    assert x.shape == (6, 2)
    rows = np.sort(np.random.default_rng(0).permutation(100)[:6])
    np.testing.assert_array_equal(x, toy.train["x"][rows])
    params = jax.jit(experiment.init_params)(jax.random.key(0), {"x": jnp.asarray(x)})
    key = jax.random.key(2)
    loss, _ = jax.jit(experiment.loss_fn)(params, {"x": jnp.asarray(x)}, key, 0)
    samples = np.asarray(jax.jit(experiment.generate, static_argnums=2)(params, key, 30))
    d = np.linalg.norm(x[:, None] - samples[None], axis=-1)
    kept = d.min(axis=0) >= 0.4
    expected = [d[i, kept].min() if kept.any() else 0.0 for i in range(6)]
    np.testing.assert_allclose(loss, expected, rtol=1e-5)
    with pytest.raises(ValueError, match="eps"):
        config.imle.eps = -1.0
        RSIMLE(config)
