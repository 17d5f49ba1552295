"""trade [P027]: the experiment's wiring (discrete columns, losses, the entropy gap)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.trade.configs import correlated_gaussian, tabular
from experiments.trade.experiment import TraDEExperiment
from likelihood_jax.data import tabular as tabular_data


@pytest.mark.nightly  # compiles the gradient through the sampler's scan
def test_diabetes_model_has_its_discrete_column_and_loss_is_the_penalized_nll():
    config = tabular.get_config("runlocal")
    exp = TraDEExperiment(config)
    assert exp.model.categories == tabular_data.tabular_categories("diabetes")
    batch = {"x": jnp.asarray(exp.dataset.train["x"][:8])}
    params = jax.jit(exp.init_params)(jax.random.key(0), batch)
    loss, m = jax.jit(exp.loss_fn)(params, batch, jax.random.key(1), 0)
    np.testing.assert_allclose(loss - m["nll"], config.trade.mmd_weight * m["mmd2"],
                               rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(m["nll"], -exp.model.log_prob(params, batch["x"]), rtol=1e-5)


@pytest.mark.nightly  # compiles the sampler's scan
def test_entropy_gap_is_nll_minus_the_analytic_entropy():
    config = correlated_gaussian.get_config("runlocal")
    exp = TraDEExperiment(config)
    x = jnp.asarray(exp.dataset.test["x"][:256])
    params = jax.jit(exp.init_params)(jax.random.key(0), {"x": x[:4]})
    out = exp.model_metrics(params, jax.random.key(1))
    nll = -float(jnp.mean(exp.model.log_prob(params, x)))
    entropy = tabular_data.correlated_gaussian_entropy(config.dataset.dim, config.dataset.rho)
    np.testing.assert_allclose(out["entropy_gap"], nll - entropy, rtol=1e-4)
    assert np.isfinite(out["mmd2"])
