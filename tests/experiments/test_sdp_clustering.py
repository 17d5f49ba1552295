"""sdp_clustering [P101]: the error under permutations, the off-block mass and the source."""

from __future__ import annotations

import json
import os

import numpy as np

from experiments.sdp_clustering import experiment as exp
from likelihood_jax import data
from likelihood_jax.data.synthetic import heterogeneous_gmm
from likelihood_jax.mixtures import sdp_clustering as sc


def test_misclustering_error_is_permutation_invariant():
    truth = np.array([0, 0, 1, 1, 2, 2])
    assert exp.misclustering_error(np.array([2, 2, 0, 0, 1, 1]), truth, 3) == 0.0
    assert exp.misclustering_error(np.array([2, 2, 0, 1, 1, 1]), truth, 3) == 1 / 6


def test_off_block_mass_of_exact_and_mixed_memberships():
    truth = np.array([0, 0, 1, 1])
    exact = np.asarray(sc.labels_to_memberships(truth, 2))
    assert exp.off_block_mass(exact, truth) == 0.0
    wrong = np.asarray(sc.labels_to_memberships(np.array([0, 1, 0, 1]), 2))
    assert exp.off_block_mass(wrong, truth) == 0.5


def test_source_clusters_have_their_covariances():
    ds = data.load_dataset("heterogeneous_gmm", num_per_cluster=4000)
    means, covs = heterogeneous_gmm.heterogeneous_gmm_parameters(6.0, 2.0, 0.2)
    x, y = ds.train["x"], ds.train["label"]
    for k in range(3):
        np.testing.assert_allclose(x[y == k].mean(0), means[k], atol=0.1)
        np.testing.assert_allclose(np.cov(x[y == k].T), covs[k], atol=0.15)


def check_runlocal(workdir: str) -> None:
    """The harness's check: one error per method and seed, each in [0, 1]."""
    with open(os.path.join(workdir, "clustering.json")) as f:
        record = json.load(f)
    assert set(record["errors"]) == set(exp.METHODS)
    assert all(0.0 <= e <= 1.0 for v in record["errors"].values() for e in v)
