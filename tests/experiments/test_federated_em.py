"""Wiring checks of experiments/federated_em [P065] (the math: tests/mixtures)."""

from __future__ import annotations

import json
import os

import numpy as np

from experiments.federated_em import experiment


def test_client_arrays_pad_each_clients_rows_in_order():
    rows = {"x": np.arange(10, dtype=np.float32).reshape(5, 2),
            "y": np.arange(5, dtype=np.float32)[:, None], "client": np.array([1, 0, 1, 1, 0])}
    xs, ys, masks = experiment.client_arrays(rows, 3)
    assert xs.shape == (3, 3, 2) and masks.sum(1).tolist() == [2, 3, 0]
    np.testing.assert_array_equal(xs[1][masks[1]], rows["x"][[0, 2, 3]])
    np.testing.assert_array_equal(ys[0][masks[0]], rows["y"][[1, 4]])


def check_runlocal(workdir):
    """Federated EM equals centralized EM and never lowered the log-likelihood."""
    with open(os.path.join(workdir, "results.json")) as f:
        results = json.load(f)
    for r in results["per_seed"]:
        assert r["centralized_max_abs_difference"] < 1e-3, r
        assert r["log_likelihood_decreases"] == 0, r
