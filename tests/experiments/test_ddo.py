"""DDO [P084] wiring: the implicit discriminator at the reference, self-play rounds."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.ddo.configs import digits
from experiments.ddo.experiment import DDOFlow


@pytest.mark.nightly  # flax models and Langevin chains: tens of seconds on 2 loaded cores
def test_loss_is_two_log_two_at_the_reference_and_rounds_replace_it():
    config = digits.get_config("runlocal")
    config.ddo.role = "ddo"
    exp = DDOFlow(config)
    raw = {"x": jnp.asarray(exp.dataset.train["x"][:8])}
    params = MLE = super(DDOFlow, exp).init_params(jax.random.key(0), raw)
    batch = dict(exp.preprocess(raw, jax.random.key(1)),
                 extra=exp.init_extra(jax.random.key(2), raw, params))
    loss, metrics = exp.loss_fn(params, batch, jax.random.key(3), jnp.asarray(0))
    # d = log p_theta - log p_ref = 0 on data and on reference samples: log 2 + log 2.
    np.testing.assert_allclose(loss, 2 * np.log(2.0) * np.ones(8), rtol=1e-5)
    np.testing.assert_allclose(metrics["d_ref"], 0.5 * np.ones(8), rtol=1e-5)
    moved = jax.tree.map(lambda p: p + 1.0, MLE)
    rounds = config.ddo.round_steps
    kept = exp.update_extra(batch["extra"], moved, batch, jax.random.key(4),
                            jnp.asarray(rounds - 2))
    replaced = exp.update_extra(batch["extra"], moved, batch, jax.random.key(4),
                                jnp.asarray(rounds - 1))
    for a, b, c, m in zip(*map(jax.tree.leaves, (kept["reference"], replaced["reference"],
                                                  MLE, moved))):
        np.testing.assert_array_equal(a, c)
        np.testing.assert_array_equal(b, m)


@pytest.mark.nightly  # builds the flow and runs its loss: seconds
def test_the_mle_baseline_stage_is_the_pretraining_loss_and_bad_objectives_are_refused():
    config = digits.get_config("runlocal")
    config.ddo.role, config.ddo.objective = "ddo", "mle"
    exp = DDOFlow(config)
    raw = {"x": jnp.asarray(exp.dataset.train["x"][:8])}
    params = super(DDOFlow, exp).init_params(jax.random.key(0), raw)
    batch = dict(exp.preprocess(raw, jax.random.key(1)),
                 extra=exp.init_extra(jax.random.key(2), raw, params))
    loss, _ = exp.loss_fn(params, batch, jax.random.key(3), jnp.asarray(0))
    mle, _ = super(DDOFlow, exp).loss_fn(params, batch, jax.random.key(3), jnp.asarray(0))
    np.testing.assert_allclose(loss, mle, rtol=1e-6)
    config.ddo.objective = "gan"
    with pytest.raises(ValueError, match=r"config.ddo.objective must be one of \('ddo', 'mle'\)"):
        DDOFlow(config).objective  # noqa: B018
