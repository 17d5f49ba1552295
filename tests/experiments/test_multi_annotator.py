"""multi_annotator [P127]: the simulated annotators follow their confusion matrices."""

from __future__ import annotations

import json
import os

import numpy as np

from likelihood_jax import data
from likelihood_jax.data.synthetic import annotators as annotator_data


def test_confusions_are_stochastic_with_the_stated_accuracies():
    conf, kinds = annotator_data.annotator_confusions(10)
    np.testing.assert_allclose(conf.sum(-1), 1.0, atol=1e-12)
    acc = np.diagonal(conf, axis1=1, axis2=2).mean(1)
    np.testing.assert_allclose(acc, [0.9, 0.75, 0.6, 0.6, 0.6, 0.1, 0.1, 0.4, 0.4, 0.4])
    assert kinds.count("spammer") == 2 and kinds.count("correlated") == 3


def test_simulated_labels_follow_the_confusions_and_correlate():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 40000)
    conf, kinds = annotator_data.annotator_confusions(10)
    ann = annotator_data.simulate_annotations(labels, conf, kinds, 0.9, rng)
    for a in (0, 3, 5, 7):  # an expert, a flipper, a spammer, a correlated annotator
        empirical = np.array([np.bincount(ann[labels == y, a], minlength=10) / (labels == y).sum()
                              for y in range(10)])
        np.testing.assert_allclose(empirical, conf[a], atol=0.03)
    corr = [a for a, k in enumerate(kinds) if k == "correlated"]
    # copies agree with probability >= 0.81 (both copied); two independent ones far less
    assert np.mean(ann[:, corr[0]] == ann[:, corr[1]]) > 0.8
    assert np.mean(ann[:, 2] == ann[:, 3]) < 0.5


def test_dataset_masks_every_row_and_keeps_the_true_label():
    ds = data.load_dataset("digits_annotators", label_prob=0.3)
    digits = data.load_dataset("digits")
    np.testing.assert_array_equal(ds.train["label"], digits.train["label"])
    mask = ds.train["annotation_mask"]
    assert mask.sum(1).min() >= 1 and 0.3 < mask.mean() < 0.45
    assert ds.test["annotation_mask"].min() == 1.0


def check_runlocal(workdir: str) -> None:
    """The harness's check: per-annotator accuracies of the truth, MaDL and majority vote."""
    with open(os.path.join(workdir, "annotators.json")) as f:
        record = json.load(f)
    assert len(record["true"]) == len(record["madl"]) == len(record["majority_vote"]) == 10
    assert all(0.0 <= v <= 1.0 for v in record["madl"])
