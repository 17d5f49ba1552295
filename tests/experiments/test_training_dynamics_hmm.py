"""Training-dynamics HMM [P209]: the metric sequences read from a run's metrics.jsonl and
the choice of K by BIC on sequences with two known regimes."""

from __future__ import annotations

import json

import ml_collections
import numpy as np
import pytest

from experiments.training_dynamics_hmm import experiment


def test_reads_training_lines_and_log_metrics(tmp_path):
    lines = [{"step": 1, "loss": 3.0, "grad_norm": np.e}, {"step": 1, "split": "test",
                                                           "nll": 1.0},
             {"step": 2, "loss": 2.0, "grad_norm": 1.0}]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in lines))
    steps, values = experiment.read_metric_sequence(str(tmp_path), ("loss", "log_grad_norm"))
    np.testing.assert_array_equal(steps, [1, 2])
    np.testing.assert_allclose(values, [[3.0, 1.0], [2.0, 0.0]])


@pytest.mark.nightly  # two EM compilations: seconds
def test_held_out_bic_prefers_two_states_to_one_for_two_regime_sequences():
    # A "fast" then a "slow" phase (a level shift at a random step) in each run.
    rng = np.random.default_rng(0)
    runs = []
    for _ in range(6):
        switch = rng.integers(15, 25)
        level = np.where(np.arange(40) < switch, 0.0, 3.0)
        runs.append(experiment.zscore(np.stack([level, -level], 1)
                                      + 0.3 * rng.normal(size=(40, 2))))
    runs = np.stack(runs).astype(np.float32)
    config = ml_collections.ConfigDict({"dynamics": {
        "max_states": 2, "restarts": 1, "em_iters": 20, "reg_covar": 1e-3}})
    fits = experiment.select_num_states(config, runs[:4], runs[4:])
    assert min(fits, key=lambda k: fits[k]["bic"]) == 2
