"""Wiring checks of experiments/incremental_gmm [P138, P211] (the math: tests/mixtures)."""

from __future__ import annotations

import json
import os

import numpy as np

from experiments.incremental_gmm import experiment


def test_pca_features_are_standardized_projections_fitted_on_the_fit_rows():
    rng = np.random.default_rng(0)
    fit, other = rng.normal(size=(50, 6)) @ rng.normal(size=(6, 6)), rng.normal(size=(7, 6))
    feats, projected = experiment.pca_features(fit, [other], 3)
    np.testing.assert_allclose(feats.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(feats.std(0), 1, rtol=1e-4)
    np.testing.assert_allclose(np.corrcoef(feats.T), np.eye(3), atol=1e-4)  # uncorrelated
    # The same affine map on other rows: differences of rows map linearly.
    both = experiment.pca_features(fit, [np.stack([fit[0], fit[1]])], 3)[1]
    np.testing.assert_allclose(both, feats[:2], atol=1e-4)
    assert projected.shape == (7, 3)


def test_scores_and_nll_against_hand_values():
    log_probs = np.log(np.array([[0.6, 0.4], [0.3, 0.7], [0.5, 0.5]]))
    accuracy, nll = experiment.scores_and_nll(log_probs, np.log([0.5, 0.5]),
                                              np.array([0, 0, 1]))
    assert accuracy == 1 / 3  # the tie of the third row goes to class 0 (argmax)
    np.testing.assert_allclose(nll, -np.mean(np.log([0.6, 0.3, 0.5])))


def check_runlocal(workdir):
    """The runlocal run's summary: the single-pass classifier beats chance by far."""
    with open(os.path.join(workdir, "results.json")) as f:
        results = json.load(f)
    assert all(r["igmn_accuracy"] > 0.5 for r in results["per_seed"]), results
