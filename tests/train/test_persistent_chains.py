"""The losses read ``TrainState.extra`` as ``batch["extra"]``: persistent contrastive
divergence with Langevin chains that live in ``extra``, trained, evaluated and resumed."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.train import Interrupted, loop
from likelihood_jax.train.writers import read_metrics
from tests.train import toys


def pcd_config(total_steps):
    config = toys.base(total_steps=total_steps, batch_size=64)
    config.optim.lr = 0.05
    return config


def pcd(config):
    return toys.PersistentChains(config, dataset=toys.gaussian_1d(mean=2.0))


def test_with_extra_adds_the_state_only_when_it_has_leaves():
    batch = {"x": jnp.ones((3, 1))}
    assert loop.with_extra(batch, {}) is batch
    assert loop.with_extra(batch, {"empty": ()}) is batch
    extra = {"chains": jnp.zeros((4, 1))}
    out = loop.with_extra(batch, extra)
    assert out["extra"] is extra and out["x"] is batch["x"] and "extra" not in batch
    with pytest.raises(ValueError, match="already has a field 'extra'"):
        loop.with_extra({"x": batch["x"], "extra": batch["x"]}, extra)


def test_persistent_chains_move_mu_to_the_data_mean(tmp_path):
    # Contrastive divergence on E(x) = (x - mu)^2 / 2: d loss / d mu = mean(chains) - mean(x),
    # so mu (from 0) settles at the data mean and the chains follow N(mu, 1).
    config = pcd_config(150)
    experiment = pcd(config)
    metrics = loop.train_and_evaluate(experiment, str(tmp_path))
    data_mean = float(experiment.dataset.train["x"].mean())
    assert abs(metrics["mu"] - data_mean) < 0.15, (metrics["mu"], data_mean)
    state = toys.final_state(experiment, str(tmp_path))
    chains = np.asarray(state.extra["chains"])
    assert chains.shape == (toys.PersistentChains.num_chains, 1)
    assert abs(chains.mean() - metrics["mu"]) < 0.4 and 0.5 < chains.std() < 1.5
    # eval_fn (the loss) saw the final chains as batch["extra"]: exactly their mean.
    np.testing.assert_allclose(metrics["chain_mean"], chains.mean(), rtol=1e-5, atol=1e-6)


def test_chains_start_from_init_extra_and_the_first_loss_sees_them(tmp_path):
    config = pcd_config(1)
    config.log_every = 1
    experiment = pcd(config)
    loop.train_and_evaluate(experiment, str(tmp_path))
    first = jax.random.normal(  # init_extra's key: fold_in(init key, the extra stream)
        jax.random.fold_in(loop._keys(config.seed)[0], loop._EXTRA_STREAM),
        (toys.PersistentChains.num_chains, 1))
    train = [m for m in read_metrics(str(tmp_path)) if m.get("split") != "test"]
    np.testing.assert_allclose(train[0]["chain_mean"], float(jnp.mean(first)), rtol=1e-5,
                               atol=1e-6)


def test_killed_and_resumed_pcd_run_matches_the_uninterrupted_one(tmp_path, monkeypatch):
    config = pcd_config(12)
    reference = str(tmp_path / "reference")
    ref_metrics = loop.train_and_evaluate(pcd(config), reference)
    resumed = str(tmp_path / "resumed")
    toys.stop_after(monkeypatch, 5)
    with pytest.raises(Interrupted, match="at step 6"):
        loop.train_and_evaluate(pcd(config), resumed)
    monkeypatch.undo()
    metrics = loop.train_and_evaluate(pcd(config), resumed)
    a, b = toys.final_state(pcd(config), reference), toys.final_state(pcd(config), resumed)
    assert int(b.step) == 12
    for x, y in zip(jax.tree.leaves((a.params, a.extra, a.opt_state)),
                    jax.tree.leaves((b.params, b.extra, b.opt_state)), strict=True):
        np.testing.assert_array_equal(x, y)
    assert metrics == ref_metrics
