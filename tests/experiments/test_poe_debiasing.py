"""poe_debiasing [P069]: the planted shortcut, the frozen weak learner; checks on the harness's
runlocal run (PoE, ``check_runlocal``) and CE end to end (nightly)."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.poe_debiasing.experiment import ProductOfExpertsDebiasing
from likelihood_jax import data as data_lib
from likelihood_jax.data.synthetic.shortcut_digits import BORDER, patch_code, shortcut_digits
from likelihood_jax.main import load_config
from likelihood_jax.train import train_and_evaluate
from tests.clitools import REPO, checkpoint_steps, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "poe_debiasing", "configs", "digits.py")


def shortcut_class(x):
    """The class whose code pixels are all lit (-1 if none)."""
    out = np.full(len(x), -1)
    for k in range(10):
        lit = np.all([x[:, r, c, 0] == 16 for r, c in patch_code(k, 1)], axis=0)
        out[lit & (out == -1)] = k
    return out


def test_shortcut_is_planted_as_specified():
    ds = shortcut_digits(correlation=0.9, seed=0)
    raw = data_lib.load_dataset("digits")
    # Only border pixels change, and exactly one per image with num_pixels=1.
    inner = np.ones((8, 8), bool)
    for r, c in BORDER:
        inner[r, c] = False
    np.testing.assert_array_equal(ds.train["x"][:, inner], raw.train["x"][:, inner])
    agree = np.mean(shortcut_class(ds.train["x"]) == ds.train["label"])
    assert abs(agree - 0.9) < 0.03  # ~1350 of 1500 images, binomial error ~0.008
    test = ds.test
    assert np.all(shortcut_class(test["x_flipped"]) != test["label"])
    assert np.mean(shortcut_class(test["x_random"]) == test["label"]) < 0.2
    assert np.mean(shortcut_class(test["x"]) == test["label"]) > 0.8
    assert len({patch_code(k, 3) for k in range(10)}) == 10  # multi-pixel codes are distinct
    with pytest.raises(ValueError, match="correlation"):
        shortcut_digits(correlation=1.5)


def test_border_weak_learner_models_only_the_shortcut():
    config = load_config(f"{CONFIG}:runlocal")
    config.weak.inputs = "border"
    config.weak.steps, config.weak.lr = 300, 0.05
    weak = ProductOfExpertsDebiasing(config).weak_metrics
    assert weak["weak_acc_iid"] > 0.85 and weak["weak_acc_flipped"] < 0.05, weak


def test_poe_loss_with_uniform_weak_learner_is_the_ce_loss():
    config = load_config(f"{CONFIG}:runlocal")
    experiment = ProductOfExpertsDebiasing(config)
    batch = {k: v[:16] for k, v in experiment.dataset.train.items()}
    params = experiment.init_params(jax.random.key(0), batch)
    key, step = jax.random.key(1), jnp.int32(0)
    poe, _ = experiment.loss_fn(params, dict(batch, weak_log_probs=jnp.zeros((16, 10))), key,
                                step)
    experiment.config.objective = "ce"
    ce, _ = experiment.loss_fn(params, batch, key, step)
    np.testing.assert_allclose(poe, ce, rtol=1e-5)
    experiment.config.objective = "poe"
    confident = jax.nn.log_softmax(20.0 * jax.nn.one_hot(batch["label"], 10))
    poe_right, _ = experiment.loss_fn(params, dict(batch, weak_log_probs=confident), key, step)
    assert np.all(np.asarray(poe_right) < 1e-3)  # a confident, right weak learner: no loss


def _check_run(workdir) -> None:
    train = train_lines(workdir)
    assert train[-1]["loss"] < 0.5 * train[0]["loss"], train
    metrics = eval_lines(workdir)[-1]
    assert metrics["acc_iid"] > 0.8
    for name in ("acc_iid", "acc_random", "acc_flipped", "weak_acc_iid", "weak_acc_flipped"):
        assert 0.0 <= metrics[name] <= 1.0


def check_runlocal(workdir: str) -> None:
    """The end-to-end harness's run (``objective=poe``)."""
    _check_run(workdir)


@pytest.mark.nightly
def test_runlocal_with_the_ce_objective_trains_end_to_end(tmp_path):
    config = load_config(f"{CONFIG}:runlocal")
    config.objective = "ce"
    train_and_evaluate(ProductOfExpertsDebiasing(config), str(tmp_path))
    _check_run(tmp_path)
    assert checkpoint_steps(tmp_path)[-1] == config.total_steps


def test_bad_config_is_refused():
    config = load_config(f"{CONFIG}:runlocal")
    config.objective = "focal"
    with pytest.raises(ValueError, match="unknown config.objective 'focal'"):
        ProductOfExpertsDebiasing(config)
    config.objective = "poe"
    config.weak.inputs = "patch"
    with pytest.raises(ValueError, match="unknown config.weak.inputs 'patch'"):
        ProductOfExpertsDebiasing(config)


def test_registered_dataset_is_shortcut_digits_of_its_options():
    ds = data_lib.load_dataset("shortcut_digits", correlation=0.8, num_pixels=2, seed=1)
    direct = shortcut_digits(correlation=0.8, num_pixels=2, seed=1)
    for split in ("train", "test"):
        for key, value in getattr(direct, split).items():
            np.testing.assert_array_equal(getattr(ds, split)[key], value)
    assert ds.name == "shortcut_digits"
