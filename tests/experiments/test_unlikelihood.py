"""Unlikelihood: continuation logits line up with greedy decoding, the sequence-level update
lowers the probability of repeated n-grams; checks on the harness's runlocal run
(``check_runlocal``); nightly: the runlocal config fine-tunes (init_from) end to end with update
kinds drawn at their rates, and the README table's chain fine-tunes from its pretraining
stage."""

import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.unlikelihood.experiment import Unlikelihood
from likelihood_jax import main
from likelihood_jax.main import load_config
from likelihood_jax.sequence import decoding
from likelihood_jax.sequence import objectives as seq_losses
from likelihood_jax.train import TrainState, loop, stages, train_and_evaluate
from likelihood_jax.train.checkpoints import Checkpoints
from likelihood_jax.train.optimizers import make_optimizer
from tests.clitools import REPO, checkpoint_steps, eval_lines, train_lines

CONFIG = os.path.join(REPO, "experiments", "unlikelihood", "configs", "shakespeare.py")
TABLE = os.path.join(REPO, "experiments", "unlikelihood", "configs", "shakespeare_table.py")


def make(scale=3.0, **objective):
    config = load_config(CONFIG + ":runlocal")
    config.objective.update(objective)
    experiment = Unlikelihood(config)
    batch = {"x": jnp.asarray(experiment.dataset.train["x"][:8])}
    params = jax.jit(experiment.init_params)(jax.random.key(0), batch)
    return config, experiment, batch, jax.tree.map(lambda p: scale * p, params)


def test_sequence_update_lowers_repeated_ngram_probabilities():
    _, experiment, batch, params = make(ngram=2)
    prompt = batch["x"][:, :experiment.prefix_len]
    continuation = decoding.greedy(experiment.model, params, prompt, experiment.continuation_len)
    continuation_logits = jax.jit(experiment._continuation_logits)
    logits = continuation_logits(params, prompt, continuation)
    # Teacher-forced logits of the continuation line up with the decoder's choices.
    np.testing.assert_array_equal(jnp.argmax(logits, -1), continuation)
    candidates = jax.vmap(lambda s: decoding.ngram_repeat_mask(s, experiment.ngram))(continuation)
    assert int(jnp.sum(candidates)) > 0  # a random model repeats itself

    def candidate_log_prob(p):
        lp = -seq_losses.token_cross_entropy(continuation_logits(p, prompt, continuation),
                                             continuation)
        return float(jnp.sum(jnp.where(candidates, lp, 0.0)))

    grads = jax.jit(jax.grad(
        lambda p: jnp.mean(experiment._sequence_update(p, batch["x"], None)[0])))(params)
    stepped = jax.tree.map(lambda p, g: p - 0.05 * g, params, grads)
    assert candidate_log_prob(stepped) < candidate_log_prob(params)


def test_bad_rates_are_refused():
    config = load_config(CONFIG + ":runlocal")
    config.objective.update({"seq_rate": 0.7, "pg_rate": 0.5})
    with pytest.raises(ValueError, match="seq_rate"):
        Unlikelihood(config)


def check_runlocal(workdir: str) -> None:
    """The end-to-end harness's run (from scratch, all three update kinds): better than
    uniform over the 83 characters, repetition rates are fractions."""
    metrics = eval_lines(workdir)[-1]
    assert metrics["bits_per_char"] < np.log2(83)
    for name in ("seq_rep_4_greedy", "seq_rep_4_sample", "rep16", "wrep16"):
        assert 0.0 <= metrics[name] <= 1.0, (name, metrics[name])


@pytest.mark.nightly
def test_runlocal_fine_tunes_from_a_checkpoint_end_to_end(tmp_path):
    """init_from restores the saved parameters; update kinds are drawn at their rates."""
    config = load_config(CONFIG + ":runlocal")  # alpha 1, seq_rate 0.25, pg_rate 0.25
    config.log_every = 1
    config.total_steps = config.checkpoint_every = 40  # 40 draws of the update kind
    # A "pretrained" run: a checkpoint of (perturbed) initial parameters, saved as the loop
    # saves its state.
    _, _, batch, saved = make(scale=1.0, alpha=0.0, seq_rate=0.0, pg_rate=0.0)
    state = TrainState.create(saved, make_optimizer(config.optim, config.total_steps),
                              jax.random.key(0))
    checkpoints = Checkpoints(str(tmp_path / "pre" / "checkpoints"))
    checkpoints.save(state.replace(step=jnp.array(7, jnp.int32)))
    checkpoints.close()

    config.objective.init_from = str(tmp_path / "pre")
    experiment = Unlikelihood(config)
    start = experiment.init_params(jax.random.key(5), batch)
    for a, b in zip(jax.tree.leaves(start), jax.tree.leaves(saved)):
        np.testing.assert_array_equal(a, b)
    metrics = train_and_evaluate(experiment, str(tmp_path / "tune"))
    lines = train_lines(tmp_path / "tune")
    assert checkpoint_steps(tmp_path / "tune")[-1] == config.total_steps
    assert os.path.exists(os.path.join(tmp_path / "tune", "loss.png"))
    assert lines[-1]["nll"] < lines[0]["nll"]
    assert metrics["bits_per_char"] < np.log2(83)
    # One line per step: each step made exactly one kind of update, at the configured rates.
    seq = np.array([line["seq_update"] for line in lines])
    pg = np.array([line["pg_update"] for line in lines])
    assert len(lines) == config.total_steps and np.all(seq + pg <= 1)
    # 40 draws of each: Bin(40, 0.25) has mean 10 and standard deviation 2.7.
    assert 2 <= seq.sum() <= 19 and 2 <= pg.sum() <= 19


@pytest.mark.nightly
def test_table_chain_fine_tunes_from_its_pretraining_stage(tmp_path):
    """shakespeare_table.py: ``ft_iut`` starts from the ``token`` stage's final parameters."""
    config = load_config(TABLE + ":runlocal")
    config.stages.order = ("token", "ft_iut")
    config.total_steps, config.checkpoint_every, config.log_every = 4, 4, 2
    root = str(tmp_path / "chain")
    metrics = main.run(config, root)
    assert np.isfinite(metrics["bits_per_char"])
    token = Unlikelihood(stages.stage_config(config, "token", root))
    checkpoints = Checkpoints(os.path.join(root, "token", loop.CHECKPOINT_DIR))
    try:
        final = checkpoints.restore_latest(loop.init_state(loop.make_run(token)))
    finally:
        checkpoints.close()
    assert int(final.step) == 4
    tuned = Unlikelihood(stages.stage_config(config, "ft_iut", root))
    assert tuned.pretrained is not None
    assert (tuned.alpha, tuned.seq_rate, tuned.pg_rate) == (1.0, 0.25, 0.25)
    assert tuned.config.optim.schedule == "constant" and tuned.config.optim.lr == 5e-4
    for a, b in zip(jax.tree.leaves(tuned.init_params(jax.random.key(1), None)),
                    jax.tree.leaves(jax.device_get(final.params)), strict=True):
        np.testing.assert_array_equal(a, b)
