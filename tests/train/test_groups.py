"""Optimizer groups: each player moves by its own gradient with its own optimizer."""

import shutil

import jax
import ml_collections
import numpy as np
import pytest

from likelihood_jax.train import loop
from likelihood_jax.train.optimizers import group_config, group_names, make_optimizer
from likelihood_jax.train.state import TrainState
from tests.clitools import train_lines
from tests.train import toys

LR = {"x": 0.1, "y": 0.25}


def game_config(update, steps):
    config = toys.base(total_steps=steps)
    config.optim.name = "sgd"
    config.optim.groups = ml_collections.ConfigDict({g: {"lr": lr} for g, lr in LR.items()})
    config.optim.group_update = update
    config.optim.group_order = ("y", "x")  # y moves first in an alternating step
    return config


def numpy_game(update, steps):
    """The same SGD recursion written out: x' = x - a dLx/dx, y' = y - b dLy/dy."""
    c, d = toys.QuadraticGame.c, toys.QuadraticGame.d
    x = y = 0.0
    for _ in range(steps):
        y_new = y - LR["y"] * (y - d - x)
        x = x - LR["x"] * (x - c + (y_new if update == "alternating" else y))
        y = y_new
    return x, y


@pytest.mark.parametrize("update", ["simultaneous", "alternating"])
def test_two_players_follow_their_own_gradients_to_the_equilibrium(tmp_path, update):
    metrics = loop.train_and_evaluate(toys.QuadraticGame(game_config(update, 8)),
                                      str(tmp_path / "short"))
    np.testing.assert_allclose([metrics["x"], metrics["y"]], numpy_game(update, 8), rtol=1e-5)
    lines = train_lines(tmp_path / "short")
    assert {"loss", "loss_x", "loss_y", "grad_norm_x", "grad_norm_y", "x_value"} <= set(lines[-1])
    assert lines[-1]["loss"] == pytest.approx(lines[-1]["loss_x"] + lines[-1]["loss_y"])
    assert {"loss_x", "loss_y", "x_value"} <= set(metrics)  # the default eval_fn, per group
    c, d = toys.QuadraticGame.c, toys.QuadraticGame.d
    long = loop.train_and_evaluate(toys.QuadraticGame(game_config(update, 200)),
                                   str(tmp_path / "long"))
    np.testing.assert_allclose([long["x"], long["y"]], [(c - d) / 2, (c + d) / 2], atol=1e-4)


def test_group_optimizers_take_shared_fields_and_their_own():
    optim = game_config("alternating", 1).optim
    assert group_names(optim) == ("y", "x")
    assert group_config(optim, "y").lr == 0.25 and group_config(optim, "y").name == "sgd"
    assert set(make_optimizer(optim, 10)) == {"x", "y"}
    optim.group_order = ("x",)
    with pytest.raises(ValueError, match="group_order"):
        group_names(optim)
    optim.group_order, optim.group_update = ("x", "y"), "sometimes"
    with pytest.raises(ValueError, match="group_update"):
        group_names(optim)


def test_params_must_be_keyed_by_group():
    optimizers = make_optimizer(game_config("simultaneous", 1).optim, 1)
    with pytest.raises(ValueError, match="exactly those keys"):
        TrainState.create({"x": np.zeros(())}, optimizers, jax.random.key(0))


def numpy_game_with_updates(steps, y_updates):
    """Alternating, y first, taking ``y_updates`` SGD steps against the current x each step."""
    c, d = toys.QuadraticGame.c, toys.QuadraticGame.d
    x = y = 0.0
    for _ in range(steps):
        for _ in range(y_updates):
            y = y - LR["y"] * (y - d - x)
        x = x - LR["x"] * (x - c + y)
    return x, y


def test_a_group_with_several_updates_per_step_takes_them_in_turn(tmp_path):
    config = game_config("alternating", 6)
    config.optim.groups.y.updates_per_step = 3  # a critic's n_critic
    metrics = loop.train_and_evaluate(toys.QuadraticGame(config), str(tmp_path))
    np.testing.assert_allclose([metrics["x"], metrics["y"]], numpy_game_with_updates(6, 3),
                               rtol=1e-5)
    assert group_config(config.optim, "y").get("updates_per_step") is None  # not an optax field


@pytest.mark.parametrize("count", [0, 2.0, True])
def test_updates_per_step_must_be_a_positive_integer(tmp_path, count):
    config = game_config("alternating", 1)
    config.optim.groups.y.updates_per_step = count
    with pytest.raises(ValueError, match=r"optim.groups.y.updates_per_step \(a GAN's n_critic\)"):
        loop.train_and_evaluate(toys.QuadraticGame(config), str(tmp_path))


def test_two_players_with_adam_resume_from_a_checkpoint_like_an_unbroken_run(tmp_path):
    """Both players' parameters and Adam states come back: the resumed run matches."""
    def config():
        c = game_config("alternating", 8)
        c.optim.name, c.checkpoints_to_keep = "adam", 3
        c.optim.groups.y.updates_per_step = 2
        return c

    unbroken = loop.train_and_evaluate(toys.QuadraticGame(config()), str(tmp_path / "a"))
    loop.train_and_evaluate(toys.QuadraticGame(config()), str(tmp_path / "b"))
    shutil.rmtree(tmp_path / "b" / "checkpoints" / "8")  # the run "died" after step 4's save
    resumed = loop.train_and_evaluate(toys.QuadraticGame(config()), str(tmp_path / "b"))
    assert train_lines(tmp_path / "b")[-1]["step"] == 8
    np.testing.assert_allclose([resumed["x"], resumed["y"]], [unbroken["x"], unbroken["y"]],
                               rtol=1e-6)
    assert unbroken["x"] != pytest.approx(numpy_game_with_updates(8, 2)[0])  # Adam, not SGD
