"""CDRL [P172] wiring: the proposals, the players' separate gradients, ancestral sampling."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.cdrl.configs import eight_gaussians
from experiments.cdrl.experiment import CDRLExperiment


def _experiment(initializer: bool):
    config = eight_gaussians.get_config("runlocal")
    config.cdrl.initializer = initializer
    return CDRLExperiment(config)


@pytest.mark.nightly  # eager flax + Langevin under vmap: tens of seconds on 2 loaded cores
def test_players_get_only_their_own_gradients_and_drl_starts_at_the_noisy_point():
    exp = _experiment(True)
    batch = {"x": jnp.asarray(exp.dataset.train["x"][:16], jnp.float32)}
    params = exp.init_params(jax.random.key(0), batch)
    batch = exp.preprocess(batch, jax.random.key(1))
    step = jnp.asarray(3, jnp.int32)
    for group in ("ebm", "initializer"):
        grads = jax.jit(jax.grad(lambda p, g=group: jnp.mean(
            exp.group_loss_fn(g, p, batch, jax.random.key(2), step)[0])))(params)
        other = "initializer" if group == "ebm" else "ebm"
        assert sum(float(jnp.abs(g).sum()) for g in jax.tree.leaves(grads[other])) == 0.0
        assert sum(float(jnp.abs(g).sum()) for g in jax.tree.leaves(grads[group])) > 0.0
    # The initializer's last layer starts at zero: its proposal is DRL's x_{t+1} / alpha_t.
    t = jnp.arange(16) % exp.config.cdrl.num_levels
    alphas = np.asarray(exp.levels[0])
    np.testing.assert_allclose(exp.proposal_mean(params, batch["x"], t),
                               batch["x"] / alphas[np.asarray(t)][:, None], rtol=1e-6)
    drl = _experiment(False)
    loss, _ = drl.group_loss_fn("initializer", params, batch, jax.random.key(2), step)
    np.testing.assert_array_equal(loss, np.zeros(16))


@pytest.mark.nightly  # eager flax + Langevin under vmap: tens of seconds on 2 loaded cores
def test_generate_returns_finite_samples_in_data_space():
    exp = _experiment(True)
    batch = {"x": jnp.asarray(exp.dataset.train["x"][:4], jnp.float32)}
    params = exp.init_params(jax.random.key(0), batch)
    samples = exp.generate(params, jax.random.key(1), 8)
    assert samples.shape == (8, 2) and bool(jnp.all(jnp.isfinite(samples)))
