"""MDNS [P099]: the sampler and WDCE objective against enumeration; the runlocal run's metrics
(``check_runlocal``); the other objectives' runlocal runs (nightly)."""

import itertools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.mdns.experiment import MASK, MDNS
from likelihood_jax.continuous_time import masked_diffusion as md
from likelihood_jax.data.synthetic import ising as discrete_targets
from likelihood_jax.main import load_config
from likelihood_jax.train import train_and_evaluate
from tests.clitools import REPO, checkpoint_steps, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "mdns", "configs", "ising.py")


def get_config(mode="runlocal", **overrides):
    config = load_config(f"{CONFIG}:{mode}")
    config.target.shape = (2, 2)
    for name, value in overrides.items():
        config[name] = value
    return config


def _experiment_and_params(**overrides):
    experiment = MDNS(get_config(**overrides))
    params = experiment.init_params(jax.random.key(0), {"x": jnp.zeros((4, 1))})
    params = jax.tree.map(lambda p: p + 0.3 * jax.random.normal(jax.random.key(1), p.shape),
                          params)
    return experiment, params


def _all_configurations(num_sites):
    return jnp.asarray(list(itertools.product((0, 1), repeat=num_sites)))


def test_sampler_probabilities_sum_to_one_on_2x2():
    experiment, params = _experiment_and_params()
    fn = experiment.logits_fn(params)
    x = _all_configurations(4)
    log_q = jax.jit(jax.vmap(lambda xi: md.exact_log_prob(fn, xi, experiment.num_steps,
                                                          MASK)))(x)
    np.testing.assert_allclose(jnp.sum(jnp.exp(log_q)), 1.0, rtol=1e-5)
    # The autoregressive baseline (raster order) has an exact likelihood.
    ar, ar_params = _experiment_and_params(order="raster", objective="rerf")
    orders = jnp.broadcast_to(jnp.arange(4), (16, 4))
    log_p = jax.jit(ar.path_log_prob)(ar_params, x, orders)
    np.testing.assert_allclose(jnp.sum(jnp.exp(log_p)), 1.0, rtol=1e-5)


def test_wdce_value_and_gradient_match_enumeration_on_2x2():
    """E_q[w/E w * DCE(x)] = sum_x pi(x) E_sigma[-log q(x | sigma)], and so do the gradients."""
    experiment, params = _experiment_and_params(num_masks=4)
    x_all = _all_configurations(4)
    pi = jax.nn.softmax(experiment.log_target(x_all))
    orders = jnp.asarray(list(itertools.permutations(range(4))))

    def exact(p):
        fn = experiment.logits_fn(p)
        nll = jax.vmap(lambda xi: -jnp.mean(jax.vmap(
            lambda o: md.path_log_prob(fn, xi, o, 4, MASK))(orders)))(x_all)
        return jnp.sum(pi * nll)

    def monte_carlo(p):
        loss, _ = experiment.loss_fn(p, {"x": jnp.zeros((32768, 1))}, jax.random.key(5), 0)
        return jnp.mean(loss)

    v_exact, g_exact = jax.jit(jax.value_and_grad(exact))(params)
    v_mc, g_mc = jax.jit(jax.value_and_grad(monte_carlo))(params)
    np.testing.assert_allclose(v_mc, v_exact, rtol=0.02)
    flat_exact, flat_mc = (jnp.concatenate([a.ravel() for a in jax.tree.leaves(g)])
                           for g in (g_exact, g_mc))
    cosine = flat_exact @ flat_mc / (jnp.linalg.norm(flat_exact) * jnp.linalg.norm(flat_mc))
    assert cosine > 0.97, cosine
    np.testing.assert_allclose(jnp.linalg.norm(flat_mc), jnp.linalg.norm(flat_exact), rtol=0.1)


def test_importance_weighted_estimates_are_exact_for_the_target_itself():
    """The path log-weights give log Z: checked against enumeration by an exact mean."""
    experiment, params = _experiment_and_params(order="raster", objective="rerf")
    x_all = _all_configurations(4)
    log_q = experiment.path_log_prob(params, x_all, jnp.broadcast_to(jnp.arange(4), (16, 4)))
    log_w = experiment.log_target(x_all) - log_q
    # E_q[w] = sum_x q(x) pi~(x) / q(x) = Z.
    z = jnp.sum(jnp.exp(log_q + log_w))
    exact = discrete_targets.enumerate_exact(experiment.target)["log_z"]
    np.testing.assert_allclose(jnp.log(z), exact, rtol=1e-5)


def test_unknown_objective_or_order_raises():
    with pytest.raises(ValueError, match="objective"):
        MDNS(get_config(objective="kl"))
    with pytest.raises(ValueError, match="order"):
        MDNS(get_config(order="spiral"))


def check_runlocal(workdir: str) -> None:
    """The harness's runlocal run (WDCE, random order, 2x3): the sampler learns the target."""
    _check_sampler(workdir, eval_lines(workdir)[-1])


def _check_sampler(workdir, metrics) -> None:
    train = train_lines(workdir)
    # The mean path log-weight (a lower bound on log Z) rises as the sampler learns.
    assert train[-1]["log_weight"] > train[0]["log_weight"] + 0.5
    assert metrics["ess_fraction"] > 0.3, metrics
    assert abs(metrics["log_z_error"]) < 0.2, metrics


@pytest.mark.nightly
@pytest.mark.parametrize("objective,order", [("rerf", "raster"), ("lv", "random")])
def test_other_objectives_runlocal_train_end_to_end(objective, order, tmp_path):
    config = load_config(f"{CONFIG}:runlocal")
    config.objective, config.order = objective, order
    metrics = train_and_evaluate(MDNS(config), str(tmp_path))
    assert eval_lines(tmp_path)[-1]["ess_fraction"] == pytest.approx(metrics["ess_fraction"])
    assert checkpoint_steps(tmp_path) == [config.total_steps]
    _check_sampler(tmp_path, metrics)


def test_the_dataset_is_the_registered_placeholder_sized_by_the_batch_sizes():
    config = load_config(f"{CONFIG}:runlocal")
    experiment = MDNS(config)
    assert experiment._dataset is None and experiment._model is None
    assert experiment.dataset.name == "ising"
    assert len(experiment.dataset.train["x"]) == config.batch_size == 128
    assert len(experiment.dataset.test["x"]) == config.eval_batch_size == 500
    config.eval_batch_size = 64  # the dataset follows (a field reference)
    assert len(MDNS(config).dataset.test["x"]) == 64
    assert experiment.num_sites == 6 and experiment.fixed_order is None
