"""Loss smoothing experiment: zero smoothing is MLE, RAML resampling edits the expected share
of tokens; runlocal with sequence-level smoothing too trains end to end (nightly), and checks on
the harness's runlocal run (``check_runlocal``)."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.loss_smoothing.experiment import LossSmoothing
from likelihood_jax.main import load_config
from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.train import train_and_evaluate
from tests.clitools import REPO, checkpoint_steps, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "loss_smoothing", "configs", "synthetic.py")


def make(**objective):
    config = load_config(CONFIG + ":runlocal")
    config.objective.update(objective)
    experiment = LossSmoothing(config)
    batch = {"x": jnp.asarray(experiment.dataset.train["x"][:64])}
    params = experiment.init_params(jax.random.key(0), batch)
    return config, experiment, batch, params


def test_no_smoothing_is_mle():
    _, experiment, batch, params = make(token_weight=0.0, seq_temperature=0.0)
    loss, metrics = experiment.loss_fn(params, batch, jax.random.key(1), jnp.int32(0))
    np.testing.assert_allclose(loss, metrics["nll"], rtol=1e-6)


def test_sequence_level_resampling_edits_the_expected_share_of_tokens():
    config, experiment, batch, params = make(token_weight=0.0, seq_temperature=0.3, seq_rate=1.0)
    length, vocab = batch["x"].shape[1], experiment.vocab_size
    expected = np.sum(np.arange(length + 1) * seq_losses.hamming_edit_distance_distribution(
        length, vocab, 0.3)) / length
    x = jnp.tile(batch["x"], (50, 1))
    sampled = seq_losses.sample_hamming_targets(jax.random.key(2), x, vocab, 0.3)
    np.testing.assert_allclose(np.mean(np.asarray(sampled != x)), expected, atol=0.01)
    # The loss is the NLL of a resampled sequence: above the clean NLL at initialization
    # is not guaranteed, but it must differ from it.
    loss, metrics = experiment.loss_fn(params, batch, jax.random.key(3), jnp.int32(0))
    assert not np.allclose(loss, metrics["nll"])
    config.objective.token_weight = 1.5
    with pytest.raises(ValueError, match="token_weight"):
        LossSmoothing(config)


def check_runlocal(workdir: str) -> None:
    """The end-to-end harness's run (token level): the exact TV is a distance in [0, 1)."""
    tv = eval_lines(workdir)[-1]["tv"]
    assert 0.0 <= tv < 1.0


@pytest.mark.nightly
def test_runlocal_with_sequence_level_smoothing_trains_end_to_end(tmp_path):
    config = load_config(CONFIG + ":runlocal")
    config.objective.seq_temperature = 0.3
    metrics = train_and_evaluate(LossSmoothing(config), str(tmp_path))
    train = train_lines(tmp_path)
    assert train[-1]["nll"] < train[0]["nll"]
    assert checkpoint_steps(tmp_path)[-1] == config.total_steps
    assert 0.0 <= metrics["tv"] < 1.0
