"""``Checkpoints``: the config hash written and checked, and corrupt steps replaced."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from likelihood_jax.train.checkpoints import Checkpoints, ConfigMismatchError
from likelihood_jax.train.state import TrainState
from tests.clitools import corrupt_checkpoint


def _state(step: int, value: float) -> TrainState:
    state = TrainState.create({"w": jnp.full((3,), value)}, optax.sgd(0.1), jax.random.key(0))
    return state.replace(step=jnp.asarray(step, state.step.dtype))


def _save(folder, *states, config_hash=None):
    checkpoints = Checkpoints(str(folder), config_hash=config_hash)
    try:
        for state in states:
            checkpoints.save(state)
    finally:
        checkpoints.close()


def _restore(folder, config_hash=None):
    checkpoints = Checkpoints(str(folder), config_hash=config_hash)
    try:
        return checkpoints.restore_latest(_state(0, 0.0))
    finally:
        checkpoints.close()


def test_a_checkpoint_of_another_config_is_refused(tmp_path):
    _save(tmp_path, _state(1, 1.0), config_hash="aaaa")
    with pytest.raises(ConfigMismatchError, match=r"step 1 .*config hash aaaa.* is bbbb"):
        _restore(tmp_path, config_hash="bbbb")
    assert int(_restore(tmp_path, config_hash="aaaa").step) == 1
    assert int(_restore(tmp_path).step) == 1  # no hash given: not compared
    checkpoints = Checkpoints(str(tmp_path))
    assert checkpoints.config_hashes() == {1: "aaaa"}
    checkpoints.close()


def test_steps_that_do_not_restore_are_replaced_by_the_next_save(tmp_path):
    _save(tmp_path, _state(1, 1.0), _state(2, 2.0))
    corrupt_checkpoint(tmp_path)
    checkpoints = Checkpoints(str(tmp_path))
    try:
        assert checkpoints.restore_latest(_state(0, 0.0)) is None  # every step is corrupt
        checkpoints.save(_state(1, 5.0))  # the run trained again from scratch
    finally:
        checkpoints.close()
    restored = _restore(tmp_path)
    assert int(restored.step) == 1  # step 2 (corrupt, newer) was deleted, not kept
    np.testing.assert_array_equal(restored.params["w"], np.full(3, 5.0, np.float32))
