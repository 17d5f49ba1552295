"""Data mollification [P162]: sample metrics against independent values; the runs' outputs."""

import os

import numpy as np
import pytest

from experiments.mollification.experiment import MollifiedFlow
from likelihood_jax.main import load_config
from likelihood_jax.train import train_and_evaluate
from tests.clitools import REPO, eval_lines, train_lines

CONFIGS = os.path.join(REPO, "experiments", "mollification", "configs")


def get_config(name, mode="runlocal"):
    return load_config(os.path.join(CONFIGS, f"{name}.py:{mode}"))


@pytest.mark.parametrize("name, metric", [
    ("toy2d", "w2"),
    # trains the digit classifier of the feature map first (~20 s)
    pytest.param("digits", "frechet_distance", marks=pytest.mark.nightly),
])
def test_sample_metrics_vanish_when_samples_are_the_test_set(name, metric):
    experiment = MollifiedFlow(get_config(name))
    test = experiment.dataset.test["x"]
    n = min(experiment.num_eval_samples, len(test))
    if experiment.num_levels:
        as_samples = (test[:n].astype(np.float32) + 0.5) / experiment.num_levels
    else:
        as_samples = test[:n]
    experiment._sample = lambda params, key, num, s=as_samples: s[:num]
    value = experiment.model_metrics(None, None)[metric]
    # float32 cancellation in tr(C0 + C1 - 2 sqrt(...)) leaves ~1e-2 on 64 features.
    assert value == pytest.approx(0.0, abs=2e-2), (name, value)
    # and they grow when the samples are shifted away from the data
    experiment._sample = lambda params, key, num, s=as_samples: s[:num] + 0.5
    assert experiment.model_metrics(None, None)[metric] > 0.1


def _check_mollified_run(workdir, metric: str) -> None:
    train = train_lines(workdir)
    assert train[0]["mollify_noise"] > 0.5 and train[-1]["mollify_noise"] == 0.0
    # The loss is not comparable across noise levels; the final, noise-free part must improve.
    clean = [m["loss"] for m in train if m["mollify_noise"] == 0.0]
    assert len(clean) >= 2 and clean[-1] < clean[0]
    assert np.isfinite(eval_lines(workdir)[-1][metric])
    assert os.path.getsize(os.path.join(workdir, "samples.png")) > 1000


def check_runlocal(workdir: str) -> None:
    """The harness's run of ``toy2d.py:runlocal`` (its PROGRESS is None: checked here)."""
    _check_mollified_run(workdir, "w2")


@pytest.mark.nightly  # another config's runlocal (the harness runs toy2d)
def test_digits_runlocal_trains_with_mollification_end_to_end(tmp_path):
    config = get_config("digits")
    metrics = train_and_evaluate(MollifiedFlow(config), str(tmp_path))
    _check_mollified_run(tmp_path, "frechet_distance")
    assert eval_lines(tmp_path)[-1]["frechet_distance"] == pytest.approx(
        metrics["frechet_distance"])


@pytest.mark.nightly  # two runs through the loop; the schedule's math: tests/flows
def test_mollification_anneals_noise_to_zero_and_is_off_when_disabled(tmp_path):
    """config.mollify: the logged noise follows the schedule and is 0 after it."""
    config = get_config("toy2d")
    config.total_steps, config.log_every, config.checkpoint_every = 100, 1, 100
    config.mollify.fraction = 0.5
    train_and_evaluate(MollifiedFlow(config), str(tmp_path / "on"))
    noise = {m["step"]: m["mollify_noise"] for m in train_lines(tmp_path / "on")}
    assert noise[1] == pytest.approx(1.0)  # step 1 logs the noise used at step 0
    assert 0.0 < noise[25] < 1.0
    assert all(noise[s] == 0.0 for s in range(51, 101))
    config.mollify.enabled = False
    config.total_steps, config.checkpoint_every = 5, 5
    train_and_evaluate(MollifiedFlow(config), str(tmp_path / "off"))
    assert "mollify_noise" not in train_lines(tmp_path / "off")[0]
