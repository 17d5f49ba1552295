"""Probability-based objectives experiment: the noisy data, the pretrain-then-fine-tune
schedule driven by the step; checks on the harness's runlocal run (``check_runlocal``)."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.prob_objectives.experiment import ProbObjectives
from likelihood_jax.data.synthetic.sources import corrupt_tokens
from likelihood_jax.main import load_config
from likelihood_jax.sequence import objectives as seq_losses
from tests.clitools import REPO, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "prob_objectives", "configs", "synthetic.py")


def test_corrupt_tokens_rate():
    x = np.zeros((200, 50), np.int32)
    noisy = corrupt_tokens(x, 10, 0.3, seed=0)
    # A flipped token lands on a different value with probability 9/10.
    np.testing.assert_allclose(np.mean(noisy != 0), 0.3 * 0.9, atol=0.01)
    assert noisy.dtype == x.dtype


def test_schedule_switches_data_and_objective_at_pretrain_steps():
    config = load_config(CONFIG + ":runlocal")
    experiment = ProbObjectives(config)
    train = experiment.dataset.train
    assert train["x"].shape == train["x_noisy"].shape
    assert np.mean(train["x"] != train["x_noisy"]) > 0.1  # independent samples, then noise
    batch = {k: jnp.asarray(v[:8]) for k, v in train.items()}
    params = experiment.init_params(jax.random.key(0), batch)
    loss_fn = jax.jit(experiment.loss_fn)
    switch = config.objective.pretrain_steps
    before, _ = loss_fn(params, batch, jax.random.key(1), jnp.int32(switch - 1))
    after, _ = loss_fn(params, batch, jax.random.key(1), jnp.int32(switch))
    inputs, targets = experiment.inputs_and_targets(batch["x"])
    nll = jnp.mean(seq_losses.token_cross_entropy(experiment.logits(params, inputs), targets), -1)
    np.testing.assert_allclose(before, nll, rtol=1e-5)
    inputs, targets = experiment.inputs_and_targets(batch["x_noisy"])
    prob = jnp.mean(seq_losses.probability_objective(experiment.logits(params, inputs), targets,
                                                     alpha=1.0), -1)
    np.testing.assert_allclose(after, prob, rtol=1e-5)
    config.objective.alpha = -1.0
    with pytest.raises(ValueError, match="alpha"):
        ProbObjectives(config)
    config.objective.alpha = 1.0
    config.dataset.noisy_copy = None
    with pytest.raises(ValueError, match="noisy_copy"):
        ProbObjectives(config)


def test_mode_accuracy_is_one_for_the_source_itself():
    """A model whose logits are the source's conditionals has mode accuracy 1 (checked by
    swapping the experiment's model log-probabilities for the source's)."""
    config = load_config(CONFIG + ":runlocal")
    experiment = ProbObjectives(config)
    x = jnp.asarray(experiment.dataset.test["x"][:16])
    experiment.model_conditional_log_probs = (
        lambda params, s: jax.vmap(experiment.source.conditional_log_probs)(s))
    experiment.synthetic_metrics = lambda params, s, key: {}
    out = experiment.eval_fn(None, {"x": x}, jax.random.key(0))
    np.testing.assert_array_equal(out["mode_accuracy"], 1.0)


def check_runlocal(workdir: str) -> None:
    """The end-to-end harness's run: MLE pretraining on clean data learns, then fine-tuning."""
    config = load_config(CONFIG + ":runlocal")
    train = train_lines(workdir)
    pretraining = [line for line in train if line["step"] <= config.objective.pretrain_steps]
    assert pretraining[-1]["nll"] < pretraining[0]["nll"]  # MLE on clean data learns
    metrics = eval_lines(workdir)[-1]
    assert 0.0 <= metrics["tv"] < 1.0 and 0.0 <= metrics["mode_accuracy"] <= 1.0
