"""flowavenet: the experiment's metrics against independent values; the runs' outputs."""

import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.flowavenet.experiment import FloWaveNetExperiment
from experiments.flowavenet.synthesize import synthesize
from likelihood_jax.data import audio
from likelihood_jax.main import load_config
from likelihood_jax.train import train_and_evaluate
from tests.clitools import REPO, checkpoint_steps, eval_lines, train_lines

CONFIGS = os.path.join(REPO, "experiments", "flowavenet", "configs")


def get_config(name, mode="runlocal"):
    return load_config(os.path.join(CONFIGS, f"{name}.py:{mode}"))


def test_eval_metrics_are_per_sample_nll_and_the_16_bit_bound():
    """nll = -log p / T from the flow; bits/sample = (nll + log 32768) / ln 2; true NLL exact."""
    experiment = FloWaveNetExperiment(get_config("ar1"))
    test = experiment.dataset.test
    batch = {k: jnp.asarray(v[:4]) for k, v in test.items()}
    params = jax.jit(experiment.init_params)(jax.random.key(0), batch)
    out = jax.jit(experiment.eval_fn)(params, batch, jax.random.key(1))
    log_prob = jax.jit(jax.vmap(experiment.flow.log_prob, in_axes=(None, 0, 0)))(
        params, batch["x"], batch["mel"])
    np.testing.assert_allclose(out["nll"], -log_prob / experiment.length, rtol=1e-6)
    np.testing.assert_allclose(out["true_nll"], -test["true_log_prob"][:4] / experiment.length,
                               rtol=1e-6)
    np.testing.assert_allclose(out["nll_gap"], out["nll"] - out["true_nll"], atol=1e-6)
    # The speech metric, on the same numbers: the dequantization bound of 16-bit audio.
    experiment.speech = True
    speech_out = experiment.eval_fn(params, batch, jax.random.key(1))
    expected = (np.asarray(out["nll"]) + math.log(32768.0)) / math.log(2.0)
    np.testing.assert_allclose(speech_out["bits_per_sample"], expected, rtol=1e-5)


def check_runlocal(workdir: str) -> None:
    """The harness's run of ``ar1.py:runlocal``: near the analytic NLL, audio written."""
    config = get_config("ar1")
    metrics = eval_lines(workdir)[-1]
    # Nats per sample above the truth after 100 steps: 0.366, 0.373, 0.384 (seeds 0-2).
    assert -0.05 < metrics["nll_gap"] < 0.5, metrics
    # The loop writes the generated audio at every evaluation ...
    pcm, rate = audio.read_wav(os.path.join(workdir, "generated.wav"))
    assert rate == 16000 and np.std(pcm) > 0
    # ... and the synthesize command writes it again from the newest checkpoint.
    os.remove(os.path.join(workdir, "generated.wav"))
    paths = synthesize(FloWaveNetExperiment(config), workdir)
    pcm, rate = audio.read_wav(paths["generated"])
    assert rate == 16000 and pcm.shape == (config.dataset.length,)
    assert np.std(pcm) > 0 and os.path.getsize(os.path.join(workdir, "waveforms.png")) > 1000


@pytest.mark.nightly  # a convergence check: the gap shrinks between evaluations
def test_ar1_nll_gap_shrinks_during_training(tmp_path):
    config = get_config("ar1")
    config.eval_every = 20
    experiment = FloWaveNetExperiment(config)
    metrics = train_and_evaluate(experiment, str(tmp_path))
    train = train_lines(tmp_path)
    assert train[-1]["loss"] < train[0]["loss"]
    gaps = [m["nll_gap"] for m in eval_lines(tmp_path)]
    assert gaps[-1] < gaps[0] and metrics["nll_gap"] == pytest.approx(gaps[-1])
    assert checkpoint_steps(tmp_path)[-1] == config.total_steps


@pytest.mark.nightly  # another config's runlocal
def test_speech_runlocal_trains_end_to_end(tmp_path):
    config = get_config("speech")
    experiment = FloWaveNetExperiment(config)
    x = experiment.dataset.train["x"][:4]
    dequantized = experiment.preprocess({"x": jnp.asarray(x)}, jax.random.key(0))["x"]
    assert bool(jnp.all((dequantized >= -1) & (dequantized < 1)))
    offset = np.asarray(dequantized, np.float64) * 32768 - x  # the dequantization noise u
    assert np.all((offset >= -1e-3) & (offset <= 1 + 1e-3)) and np.std(offset) > 0.2
    metrics = train_and_evaluate(experiment, str(tmp_path))
    train = train_lines(tmp_path)
    assert train[-1]["loss"] < train[0]["loss"]
    assert metrics["bits_per_sample"] < 16.0  # better than uniform over the 16-bit levels
    assert checkpoint_steps(tmp_path)[-1] == config.total_steps


def test_unknown_dataset_is_a_value_error():
    config = get_config("ar1")
    config.dataset.name = "music"
    with pytest.raises(ValueError, match="music"):
        FloWaveNetExperiment(config).dataset  # noqa: B018 (loading raises)


def test_hop_length_must_match_the_upsampling():
    config = get_config("ar1")
    config.dataset.hop_length = 8
    with pytest.raises(ValueError, match="upsample_factors"):
        FloWaveNetExperiment(config).model  # noqa: B018 (building raises)
