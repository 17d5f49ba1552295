"""The loop's EMA with warm-up (bias correction): the pure update, and the loop using it."""


import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax import data
from likelihood_jax.train import Interrupted, loop
from likelihood_jax.train.state import ema_decay_at, ema_update
from tests.train import toys


def normalized_average(path: np.ndarray, decay: float) -> np.ndarray:
    """``sum_s d^(t-s) p_s / sum_s d^(t-s)`` over the rows ``p_1..p_t`` of ``path`` (float64)."""
    t = len(path)
    weights = decay ** (t - np.arange(1, t + 1, dtype=np.float64))
    return np.tensordot(weights, path.astype(np.float64), axes=1) / weights.sum()


def run_ema(path: np.ndarray, decay: float, start: np.ndarray) -> list[np.ndarray]:
    """``ema_update`` applied along ``path`` from ``start``; the EMA after each step."""
    ema, out = jnp.asarray(start), []
    for t, params in enumerate(path, start=1):
        ema = ema_update(ema, jnp.asarray(params), t, decay)
        out.append(np.asarray(ema))
    return out


@pytest.mark.parametrize("decay", [0.5, 0.9, 0.999])
def test_ema_update_is_the_normalized_weighted_average(decay):
    path = np.random.default_rng(0).normal(size=(9, 3)).astype(np.float32)
    emas = run_ema(path, decay, start=np.full(3, 100.0, np.float32))  # start is forgotten
    for t in range(1, len(path) + 1):
        np.testing.assert_allclose(emas[t - 1], normalized_average(path[:t], decay),
                                   rtol=1e-5, atol=1e-6)


def test_first_ema_is_the_first_parameters():
    params = {"w": jnp.array([1.5, -2.0]), "b": jnp.array(3.0)}
    start = {"w": jnp.array([100.0, 100.0]), "b": jnp.array(-7.0)}
    ema = ema_update(start, params, 1, 0.999)
    for got, want in zip(jax.tree.leaves(ema), jax.tree.leaves(params)):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("decay,step", [(0.9, 2), (0.999, 10), (0.9999, 1000),
                                        (0.9999, 1_000_000), (0.999999, 123_457)])
def test_decay_at_step_in_float32_matches_float64(decay, step):
    want = decay * (1 - decay ** (step - 1)) / (1 - decay ** step)
    got = ema_decay_at(jnp.asarray(step, jnp.int32), decay)
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(float(got), want, rtol=2e-6)


def test_decay_at_step_one_is_zero_and_tends_to_decay():
    assert float(ema_decay_at(1, 0.99)) == 0.0
    np.testing.assert_allclose(float(ema_decay_at(100_000, 0.99)), 0.99, rtol=1e-7)


@pytest.mark.parametrize("decay", [-0.1, 1.0, 1.5])
def test_decay_outside_unit_interval_is_an_error(decay):
    with pytest.raises(ValueError, match="ema_decay"):
        ema_decay_at(3, decay)


class KnownPath(toys.MeanFit):
    """``after_update`` overwrites ``w`` with a known path: after step ``s``, ``(s, s^2 / 4)``."""

    def after_update(self, params, step):
        s = (step + 1).astype(jnp.float32)
        return {"w": jnp.stack([s, 0.25 * s ** 2])}


def known_path(t: int) -> np.ndarray:
    s = np.arange(1, t + 1, dtype=np.float64)
    return np.stack([s, 0.25 * s ** 2], axis=1)


@pytest.mark.parametrize("total_steps", [1, 6])
def test_loop_evaluates_the_normalized_average_of_the_iterates(tmp_path, total_steps):
    config = toys.base(total_steps=total_steps, ema_decay=0.8)
    loop.train_and_evaluate(KnownPath(config), str(tmp_path))
    state = toys.final_state(KnownPath(config), str(tmp_path))
    assert int(state.step) == total_steps
    np.testing.assert_allclose(state.ema_params["w"],
                               normalized_average(known_path(total_steps), 0.8), rtol=1e-6)
    if total_steps == 1:  # the first EMA is the first parameters, not the initialization
        np.testing.assert_array_equal(state.ema_params["w"], state.params["w"])


def test_train_step_ema_matches_numpy_along_a_trained_path():
    config = toys.base(total_steps=5, ema_decay=0.7)
    run = loop.make_run(toys.MeanFit(config))
    state, step_fn = loop.init_state(run), loop.make_train_step(run)
    path, emas = [], []
    for s in range(config.total_steps):
        batch = data.batch_at_step(run.experiment.dataset.train, config.batch_size,
                                   config.seed, s)
        state, _ = step_fn(state, jax.tree.map(jnp.asarray, batch))
        path.append(np.asarray(state.params["w"]))
        emas.append(np.asarray(state.ema_params["w"]))
    assert not np.allclose(path[0], path[-1])  # the parameters did move
    for t in range(1, len(path) + 1):
        np.testing.assert_allclose(emas[t - 1], normalized_average(np.stack(path[:t]), 0.7),
                                   rtol=1e-5, atol=1e-6)


def test_resumed_run_has_the_ema_of_the_uninterrupted_one(tmp_path, monkeypatch):
    config = toys.base(total_steps=12, ema_decay=0.9)
    reference = str(tmp_path / "reference")
    loop.train_and_evaluate(toys.MeanFit(config), reference)
    resumed = str(tmp_path / "resumed")
    toys.stop_after(monkeypatch, 5)
    with pytest.raises(Interrupted, match="at step 6"):
        loop.train_and_evaluate(toys.MeanFit(config), resumed)
    monkeypatch.undo()
    loop.train_and_evaluate(toys.MeanFit(config), resumed)
    a = toys.final_state(toys.MeanFit(config), reference)
    b = toys.final_state(toys.MeanFit(config), resumed)
    assert int(b.step) == 12
    assert not np.allclose(a.ema_params["w"], a.params["w"])  # the EMA is not the params
    np.testing.assert_array_equal(a.ema_params["w"], b.ema_params["w"])
