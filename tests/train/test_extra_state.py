"""``TrainState.extra``: made by ``init_extra``, stepped in the jitted step, checkpointed,
and resumed exactly after an interruption."""


import jax
import numpy as np
import pytest

from likelihood_jax import data
from likelihood_jax.train import Interrupted, loop
from tests.train import toys


def test_extra_counts_steps_and_averages_the_batches(tmp_path):
    config = toys.base(total_steps=12)
    experiment = toys.MeanFit(config)
    loop.train_and_evaluate(experiment, str(tmp_path))
    state = toys.final_state(experiment, str(tmp_path))
    assert int(state.extra["count"]) == 12
    moons = data.load_dataset("moons").train
    batches = [data.batch_at_step(moons, 16, config.seed, s)["x"] for s in range(12)]
    np.testing.assert_allclose(state.extra["mean_x"], np.mean([b.mean(0) for b in batches], 0),
                               rtol=1e-5, atol=1e-6)


def test_interrupted_and_resumed_run_matches_the_uninterrupted_one(tmp_path, monkeypatch):
    config = toys.base(total_steps=12)
    reference = str(tmp_path / "reference")
    loop.train_and_evaluate(toys.MeanFit(config), reference)
    resumed = str(tmp_path / "resumed")
    toys.stop_after(monkeypatch, 5)
    with pytest.raises(Interrupted, match="at step 6"):
        loop.train_and_evaluate(toys.MeanFit(config), resumed)
    assert int(toys.final_state(toys.MeanFit(config), resumed).extra["count"]) == 6
    monkeypatch.undo()
    loop.train_and_evaluate(toys.MeanFit(config), resumed)
    a, b = toys.final_state(toys.MeanFit(config), reference), toys.final_state(toys.MeanFit(config),
                                                                      resumed)
    assert int(b.step) == 12 and int(b.extra["count"]) == 12
    for x, y in zip(jax.tree.leaves((a.params, a.extra, a.opt_state)),
                    jax.tree.leaves((b.params, b.extra, b.opt_state))):
        np.testing.assert_array_equal(x, y)
