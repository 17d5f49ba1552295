"""AUROC against a brute-force pair count and scikit-learn."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import sklearn.metrics
from jax.experimental import checkify

from likelihood_jax import metrics


def _pair_count(scores, labels):
    """Brute force: the fraction of (positive, negative) pairs ranked right, ties one half."""
    pos, neg = scores[labels == 1], scores[labels == 0]
    wins = (pos[:, None] > neg[None]).sum() + 0.5 * (pos[:, None] == neg[None]).sum()
    return wins / (len(pos) * len(neg))


@pytest.mark.parametrize("seed", range(3))
def test_auroc_equals_pair_count_and_sklearn_with_ties(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, size=40)
    labels[:2] = [0, 1]
    scores = np.round(rng.normal(size=40) + labels, 1).astype(np.float32)  # many ties
    value = metrics.auroc(scores, labels)
    np.testing.assert_allclose(value, _pair_count(scores, labels), rtol=1e-6)
    np.testing.assert_allclose(value, sklearn.metrics.roc_auc_score(labels, scores), rtol=1e-6)
    np.testing.assert_allclose(jax.jit(metrics.auroc)(scores, labels), value, rtol=1e-6)


def test_auroc_known_values():
    labels = np.array([0, 0, 1, 1])
    assert metrics.auroc(np.array([0.1, 0.2, 0.3, 0.4]), labels) == 1.0
    assert metrics.auroc(np.array([0.4, 0.3, 0.2, 0.1]), labels) == 0.0
    assert metrics.auroc(np.ones(4), labels) == 0.5
    assert metrics.auroc(np.array([0.1, 0.3, 0.3, 0.4]), labels.astype(bool)) == 0.875


@pytest.mark.parametrize("argument, scores, labels", [
    ("scores", jnp.ones((3, 2)), jnp.array([0, 1, 0])),
    ("labels", jnp.ones(3), jnp.array([0, 1])),
    ("scores", jnp.arange(3), jnp.array([0, 1, 0])),
])
def test_bad_shapes_raise_at_trace_time(argument, scores, labels):
    with pytest.raises(ValueError, match=rf"^auroc: {argument} must "):
        jax.eval_shape(metrics.auroc, scores, labels)


@pytest.mark.parametrize("labels, message", [
    (jnp.array([0, 2, 1]), "labels must be 0 or 1"),
    (jnp.array([1, 1, 1]), "labels must hold both classes"),
])
def test_bad_labels_raise_eagerly_and_under_checkify(labels, message):
    scores = jnp.array([0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=f"^auroc: {message}"):
        metrics.auroc(scores, labels)
    jax.jit(metrics.auroc)(scores, labels)  # unchecked when traced without validate_args
    err, _ = jax.jit(checkify.checkify(
        lambda s, y: metrics.auroc(s, y, validate_args=True)))(scores, labels)
    with pytest.raises(ValueError, match=message):
        err.throw()
