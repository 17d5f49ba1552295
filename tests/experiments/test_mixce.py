"""MixCE: the experiment's Monte Carlo metrics against exact enumeration, the objective's
neutral setting; checks on the harness's runlocal run (``check_runlocal``) and the shakespeare
config's runlocal end to end (nightly)."""

import functools
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.mixce.experiment import MixCE
from likelihood_jax.data.synthetic import sources
from likelihood_jax.main import load_config
from likelihood_jax.train import train_and_evaluate
from tests.clitools import REPO, checkpoint_steps, eval_lines, train_lines

CONFIGS = os.path.join(REPO, "experiments", "mixce", "configs")


def get_config(name, mode="runlocal"):
    return load_config(os.path.join(CONFIGS, f"{name}.py:{mode}"))


@functools.lru_cache(maxsize=None)
def get_dataset():
    return MixCE(get_config("synthetic")).dataset


def test_monte_carlo_metrics_agree_with_exact_enumeration():
    """With sequence length = enumeration length, the per-example MC estimates of forward and
    reverse CE average to the exact values, and TV equals an independent enumeration."""
    config = get_config("synthetic")
    config.dataset.update({"vocab_size": 5, "length": 3, "num_train": 64, "num_test": 3000})
    config.eval.enum_length = 3
    experiment = MixCE(config)
    params = jax.jit(experiment.init_params)(jax.random.key(0), experiment.dataset.train)
    params = jax.tree.map(lambda p: p * 3.0, params)  # a model far from uniform
    x = jnp.asarray(experiment.dataset.test["x"])
    out = jax.jit(experiment.synthetic_metrics)(params, x, jax.random.key(1))
    for mc, exact in [("fwd_ce", "fwd_ce_enum"), ("rev_ce", "rev_ce_enum")]:
        values = np.asarray(out[mc])
        stderr = values.std() / np.sqrt(len(values))
        assert abs(values.mean() - float(out[exact][0])) < 4 * stderr, (mc, values.mean())
    # Independent path: score every full sequence with the model directly.
    seqs = sources.enumerate_sequences(5, 3)
    log_q = jax.jit(experiment.model_log_prob)(params, seqs)
    np.testing.assert_allclose(jnp.sum(jnp.exp(log_q)), 1.0, rtol=1e-4)
    log_p = jax.jit(jax.vmap(experiment.source.log_prob))(seqs)
    tv = 0.5 * np.abs(np.exp(np.asarray(log_p)) - np.exp(np.asarray(log_q))).sum()
    np.testing.assert_allclose(out["tv"][0], tv, rtol=1e-4)
    assert np.all(np.asarray(out["src_entropy"]) > 0)


def test_eta_one_is_mle_and_eta_outside_unit_interval_is_refused():
    config = get_config("synthetic")
    experiment = MixCE(config, dataset=get_dataset())
    batch = {"x": jnp.asarray(experiment.dataset.train["x"][:8])}
    params = jax.jit(experiment.init_params)(jax.random.key(0), batch)
    loss, metrics = jax.jit(experiment.loss_fn)(params, batch, jax.random.key(1), jnp.int32(0))
    np.testing.assert_allclose(loss, metrics["nll"], rtol=1e-6)
    config.objective.eta = 1.5
    with pytest.raises(ValueError, match="eta"):
        MixCE(config, dataset=get_dataset())


def check_runlocal(workdir: str) -> None:
    """The end-to-end harness's run of ``synthetic.py:runlocal``."""
    metrics = eval_lines(workdir)[-1]
    assert 0.0 <= metrics["tv"] < 1.0
    assert metrics["fwd_kl"] > -0.05  # KL >= 0 up to Monte Carlo noise


@pytest.mark.nightly
def test_shakespeare_runlocal_trains_end_to_end(tmp_path):
    config = get_config("shakespeare")
    metrics = train_and_evaluate(MixCE(config), str(tmp_path))
    train = train_lines(tmp_path)
    assert train[-1]["loss"] < train[0]["loss"]
    assert checkpoint_steps(tmp_path)[-1] == config.total_steps
    assert os.path.exists(os.path.join(tmp_path, "loss.png"))
    assert eval_lines(tmp_path)[-1]["bits_per_char"] == pytest.approx(metrics["bits_per_char"])
    assert metrics["bits_per_char"] < np.log2(83)  # better than uniform
    assert 0.0 <= metrics["seq_rep_4_greedy"] <= 1.0
