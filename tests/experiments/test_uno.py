"""uno: pretrain a RealNVP on digits with the loop, then unlearn one class (two stages)."""

import json
import os

import jax
import numpy as np
import pytest

from experiments.uno.experiment import UNOFlow, flat_results, restore_params
from likelihood_jax.flows import unlearning
from likelihood_jax.main import load_config
from tests.clitools import REPO, eval_lines

CONFIG = os.path.join(REPO, "experiments", "uno", "configs", "digits.py")


def test_forget_class_split_and_bad_workdir(tmp_path):
    experiment = UNOFlow(load_config(CONFIG + ":runlocal"))
    forget, retain = experiment.split_by_class("train")
    assert np.all(forget["label"] == 0) and np.all(retain["label"] != 0)
    assert len(forget["x"]) + len(retain["x"]) == len(experiment.dataset.train["x"])
    with pytest.raises(FileNotFoundError, match="pretrain first"):
        restore_params(experiment, str(tmp_path))


def check_runlocal(workdir: str) -> None:
    """The harness's run of ``digits.py:runlocal``: pretraining, then UNO forgets class 0."""
    config = load_config(CONFIG + ":runlocal")
    with open(os.path.join(workdir, "unlearn", "unlearning.json")) as f:
        results = json.load(f)
    # The Procedure stage logs the same numbers, flattened, as its test line.
    line = eval_lines(os.path.join(workdir, "unlearn"))[-1]
    for k, v in flat_results(results).items():
        assert line[k] == pytest.approx(v, rel=1e-9)
    assert set(results["methods"]) == set(config.unlearn.methods)
    for method, out in results["methods"].items():
        assert out["reached_target"], (method, out)
        assert out["forget_increase"] >= config.unlearn.target_increase
        assert 1 <= out["steps"] <= config.unlearn.max_steps
        assert out["wall_time_s"] > 0
    uno = results["methods"]["uno"]
    # The forget class's NLL rises, the retained classes' barely moves.
    assert abs(uno["retain_change"]) < 0.1 * uno["forget_increase"], uno
    assert results["before"]["retain_bpd"] < 4.1  # the pretrained model beats uniform (log2 17)
    # The unlearning started from the pretraining stage's final parameters.
    assert eval_lines(os.path.join(workdir, "pretrain"))[-1]["step"] == config.total_steps


def test_uno_step_on_the_flow_is_orthogonal_to_the_retain_gradient(tmp_path):
    """On real flow gradients (pytrees of flax params), <d, g_R> ~ 0."""
    experiment = UNOFlow(load_config(CONFIG + ":runlocal"))
    forget, retain = experiment.split_by_class("train")
    key = jax.random.key(0)
    params = jax.jit(experiment.init_params)(key, {"x": retain["x"][:64]})

    def nll(p, x):
        v = experiment.preprocess({"x": x}, key)["x"]
        return -experiment.per_example_log_prob(p, v).mean()

    grad = jax.jit(jax.grad(nll))
    g_f = grad(params, forget["x"][:32])
    g_r = grad(params, retain["x"][:64])
    d = unlearning.uno_direction(g_f, g_r)
    scale = float(unlearning.tree_dot(g_r, g_r)) ** 0.5 * float(unlearning.tree_dot(d, d)) ** 0.5
    assert abs(float(unlearning.tree_dot(d, g_r))) < 1e-5 * scale
