"""The multi-annotator likelihood [P127] against enumeration and its limiting cases."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from likelihood_jax.mixtures import annotators

C, A = 4, 3
# One compile per shape instead of one per primitive.
nll_fn = jax.jit(annotators.multi_annotator_nll)


@pytest.fixture(scope="module")
def logits():
    k1, k2 = jax.random.split(jax.random.key(0))
    return jax.random.normal(k1, (C,)), 2.0 * jax.random.normal(k2, (A, C, C))


def test_annotation_probabilities_sum_to_one_and_match_enumeration(logits):
    class_logits, confusion_logits = logits
    p_y = np.asarray(jax.nn.softmax(class_logits), np.float64)
    conf = np.asarray(jax.nn.softmax(confusion_logits, -1), np.float64)
    log_p = jax.jit(annotators.annotation_log_probs)(jnp.log(p_y), jnp.log(conf))
    np.testing.assert_allclose(np.exp(log_p).sum(1), 1.0, atol=1e-6)
    brute = np.array([[sum(p_y[y] * conf[a, y, z] for y in range(C)) for z in range(C)]
                      for a in range(A)])
    np.testing.assert_allclose(np.exp(log_p), brute, rtol=1e-5)


def test_nll_is_the_masked_weighted_sum_of_annotation_log_probs(logits):
    class_logits, confusion_logits = logits
    log_p = annotators.annotation_log_probs(jax.nn.log_softmax(class_logits),
                                            jax.nn.log_softmax(confusion_logits, -1))
    z, mask, w = jnp.array([1, 3, 0]), jnp.array([1.0, 0.0, 1.0]), jnp.array([0.5, 2.0, 1.5])
    nll = nll_fn(class_logits, confusion_logits, z, mask, w)
    expected = -(0.5 * log_p[0, 1] + 1.5 * log_p[2, 0]) / 2.0
    np.testing.assert_allclose(nll, expected, rtol=1e-6)


def test_one_perfect_annotator_gives_cross_entropy(logits):
    class_logits, _ = logits
    perfect = 1e4 * (jnp.eye(C) - 1.0)[None]  # P(z | y) = [z = y] to float precision
    for label in range(C):
        nll = nll_fn(class_logits, perfect, jnp.array([label]), jnp.ones(1))
        np.testing.assert_allclose(nll, -jax.nn.log_softmax(class_logits)[label], rtol=1e-6)
    # and its gradient is the cross-entropy's
    g = jax.jit(jax.grad(nll_fn))(class_logits, perfect, jnp.array([2]), jnp.ones(1))
    np.testing.assert_allclose(g, jax.nn.softmax(class_logits) - jax.nn.one_hot(2, C),
                               atol=1e-6)


def test_annotator_weights_count_groups():
    emb = jnp.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [50.0, 0.0]])
    w = annotators.annotator_weights(emb, bandwidth=1.0)
    np.testing.assert_allclose(w, [2 / 3, 2 / 3, 2 / 3, 2.0], rtol=1e-6)  # group of 3 ~ one
    assert float(jnp.sum(w)) == pytest.approx(4.0)


def test_accuracies_and_majority_vote():
    conf = np.stack([0.7 * np.eye(2) + 0.15, np.full((2, 2), 0.5)])
    np.testing.assert_allclose(annotators.annotator_accuracies(conf, np.array([0.2, 0.8])),
                               [0.85, 0.5], rtol=1e-6)
    ann = jnp.array([[1, 1, 0], [2, 0, 0], [2, 1, 1]])
    mask = jnp.array([[1, 1, 1], [1, 0, 0], [1, 0, 1]])
    assert annotators.majority_vote(ann, mask, 3).tolist() == [1, 2, 1]


def test_bad_inputs_name_the_argument(logits):
    class_logits, confusion_logits = logits
    with pytest.raises(ValueError, match="annotation_log_probs: confusion_log_probs must be"):
        annotators.annotation_log_probs(class_logits, confusion_logits[:, :2])
    with pytest.raises(ValueError, match="multi_annotator_nll: annotations must be"):
        annotators.multi_annotator_nll(class_logits, confusion_logits, jnp.zeros(2, int),
                                       jnp.ones(2))
    with pytest.raises(ValueError, match="annotator_weights: bandwidth must be > 0"):
        annotators.annotator_weights(jnp.zeros((2, 3)), 0.0)
