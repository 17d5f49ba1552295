"""naive_bayes_vs_lr [P094]: the learning-curve subsets, the crossover rule and the source."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from experiments.naive_bayes_vs_lr import experiment as exp
from likelihood_jax import data
from likelihood_jax.data.synthetic import gaussian_classes


def test_subset_masks_are_nested_sized_and_hold_every_class():
    labels = np.repeat(np.arange(4), [50, 5, 30, 15])
    masks = exp.subset_masks(labels, (4, 10, 60), 4, seed=3)
    assert masks.sum(1).tolist() == [4, 10, 60]
    assert np.all(masks[:-1] <= masks[1:])  # nested
    assert sorted(labels[masks[0] > 0].tolist()) == [0, 1, 2, 3]
    assert not np.array_equal(masks, exp.subset_masks(labels, (4, 10, 60), 4, seed=4))
    with pytest.raises(ValueError, match="holds 3 of the 4 classes"):
        exp.subset_masks(labels[labels != 1], (4,), 4, seed=0)


def test_crossover_is_where_lr_stays_below():
    sizes = (1, 2, 4, 8)
    assert exp.crossover([0.3, 0.2, 0.1, 0.1], [0.4, 0.1, 0.2, 0.05], sizes) == 8
    assert exp.crossover([0.3, 0.2, 0.1, 0.1], [0.4, 0.1, 0.05, 0.05], sizes) == 2
    assert exp.crossover([0.3, 0.2], [0.4, 0.3], sizes[:2]) == 0


@pytest.mark.parametrize("correlation", [0.0, 0.6])
def test_source_covariance_and_class_means(correlation):
    ds = data.load_dataset("gaussian_classes", dim=3, correlation=correlation,
                           num_train=20000, num_test=10)
    means, cov = gaussian_classes.gaussian_classes_parameters(2, 3, 3.0, correlation, 1.0, 0)
    x, y = ds.train["x"], ds.train["label"]
    np.testing.assert_allclose([x[y == c].mean(0) for c in range(2)], means, atol=0.1)
    resid = x - means[y]
    np.testing.assert_allclose(np.cov(resid.T), cov, atol=0.06 * np.abs(cov).max())
    corr = cov / np.sqrt(np.outer(np.diag(cov), np.diag(cov)))
    np.testing.assert_allclose(corr[~np.eye(3, dtype=bool)], correlation, atol=1e-6)


def check_runlocal(workdir: str) -> None:
    """The harness's check of the runlocal run: a curve per method and a consistent crossover."""
    with open(os.path.join(workdir, "curve.json")) as f:
        curve = json.load(f)
    errors = {k: np.asarray(v) for k, v in curve["test_error"].items()}
    assert set(errors) == set(exp.METHODS)
    for v in errors.values():
        assert v.shape == (curve["seeds"], len(curve["sizes"]))
        assert np.all((v >= 0) & (v <= 1))
    assert curve["crossover_n"] == exp.crossover(errors["nb_shared"].mean(0),
                                                 errors["lr"].mean(0), curve["sizes"])
