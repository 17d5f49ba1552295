"""D-RMM detection mixture [P136]: the NLL against scipy densities, MCM, and the box metrics."""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special, stats
from sklearn.metrics import average_precision_score

from likelihood_jax.mixtures import detection


def _mixture(rng, g=3, k=4, d=4):
    boxes = rng.uniform(0, 1, (g, d))
    logits = rng.normal(size=k)
    means = rng.uniform(0, 1, (k, d))
    scales = rng.uniform(0.05, 0.4, (k, d))
    return boxes, logits, means, scales


def test_gaussian_nll_equals_a_scipy_diagonal_gmm():
    rng = np.random.default_rng(0)
    boxes, logits, means, scales = _mixture(rng)
    mask = np.array([1.0, 1.0, 0.0])
    with jax.enable_x64(True):
        nll = float(jax.jit(lambda *a: detection.mixture_nll(detection.component_log_joint(
            a[0], detection.mixing_log_weights(a[1]), a[2], a[3], "gaussian"), a[4]))(
                boxes, logits, means, scales, mask))
    weights = special.expit(logits) / special.expit(logits).sum()
    density = [sum(w * stats.multivariate_normal(m, np.diag(s ** 2)).pdf(b)
                   for w, m, s in zip(weights, means, scales)) for b in boxes[:2]]
    np.testing.assert_allclose(nll, -np.sum(np.log(density)), rtol=1e-10)


def test_cauchy_components_with_classes_equal_scipy():
    rng = np.random.default_rng(1)
    boxes, logits, means, scales = _mixture(rng, g=2, k=3)
    class_probs = rng.dirichlet(np.ones(5), size=3)
    labels = np.array([4, 1])
    with jax.enable_x64(True):
        log_joint = jax.jit(lambda *a: detection.component_log_joint(
            a[0], detection.mixing_log_weights(a[1]), a[2], a[3], "cauchy", a[4],
            jnp.log(a[5])))(boxes, logits, means, scales, labels, class_probs)
    weights = special.expit(logits) / special.expit(logits).sum()
    expected = np.array([[np.log(weights[k]) + stats.cauchy(means[k], scales[k]).logpdf(b).sum()
                          + np.log(class_probs[k, c]) for k in range(3)]
                         for b, c in zip(boxes, labels)])
    np.testing.assert_allclose(np.asarray(log_joint), expected, rtol=1e-10)


def test_mcm_is_minus_log_of_the_largest_responsibility():
    rng = np.random.default_rng(2)
    log_joint = rng.normal(size=(3, 5)) * 3
    resp = special.softmax(log_joint, axis=1)
    mcm = jax.jit(detection.max_component_loss)
    np.testing.assert_allclose(float(mcm(log_joint)), -np.log(resp.max(1)).sum(), rtol=1e-5)
    assert float(detection.max_component_loss(log_joint[:, :1])) == 0.0


def _two_components_for_one_box(log_weights):
    """The NLL and MCM of one box; components 0 and 1 identical, component 2 far away."""
    box = jnp.array([[0.2, 0.3, 0.5, 0.6]])
    means = jnp.array([[0.21, 0.29, 0.52, 0.6]] * 2 + [[0.9, 0.9, 1.0, 1.0]])
    lj = detection.component_log_joint(box, log_weights, means, jnp.full((3, 4), 0.02))
    return detection.mixture_nll(lj), detection.max_component_loss(lj)


def test_splitting_a_component_keeps_the_nll_and_costs_log2_in_mcm():
    """Duplicates are free for the NLL; MCM charges exactly log 2 for an even split."""
    weights = jnp.array([[1.0, 0.0, 1e-6], [0.5, 0.5, 1e-6]])
    nll, mcm = jax.jit(jax.vmap(_two_components_for_one_box))(jnp.log(weights / 1.000001))
    np.testing.assert_allclose(nll[1], nll[0], atol=1e-5)
    np.testing.assert_allclose(mcm, [0.0, np.log(2.0)], atol=1e-5)


def test_mcm_gradient_moves_weight_from_the_duplicate_to_the_winner():
    grads = jax.jit(jax.jacrev(lambda f: _two_components_for_one_box(
        detection.mixing_log_weights(f))))(jnp.array([0.4, -0.2, -8.0]))
    nll_grad, mcm_grad = grads
    # identical components: the NLL is flat in how they share weight (up to the far one's 1e-4)
    np.testing.assert_allclose(nll_grad[:2], 0.0, atol=1e-3)
    assert np.all(np.abs(mcm_grad[:2]) > 0.1)
    assert mcm_grad[0] < 0 < mcm_grad[1]


def test_box_scales_floor_at_the_box_size():
    means = jnp.array([[0.0, 0.0, 0.4, 0.2]])
    scales = detection.box_scales(jnp.full((1, 4), -10.0), means, 0.1)
    np.testing.assert_allclose(scales, [[0.04, 0.02, 0.04, 0.02]], rtol=1e-5)
    big = detection.box_scales(jnp.full((1, 4), 2.0), means, 0.1)
    np.testing.assert_allclose(big, jax.nn.softplus(2.0) * np.ones((1, 4)), rtol=1e-6)


def test_box_iou_against_pixel_counting():
    rng = np.random.default_rng(3)
    corners = rng.integers(0, 12, (6, 2, 2))
    boxes = np.concatenate([corners.min(1), corners.max(1) + 1], 1).astype(float)

    def pixels(b):
        grid = np.zeros((14, 14), bool)
        grid[int(b[1]):int(b[3]), int(b[0]):int(b[2])] = True
        return grid

    iou = detection.box_iou(boxes[:3], boxes[3:])
    for i, j in itertools.product(range(3), range(3)):
        a, b = pixels(boxes[i]), pixels(boxes[3 + j])
        np.testing.assert_allclose(iou[i, j], (a & b).sum() / (a | b).sum())


def test_average_precision_matches_sklearn_on_the_matched_labels():
    """Non-interpolated AP = (TP / G) * sklearn's AP of the TP labels (recall over all G)."""
    gt = np.array([[[0, 0, 2, 2], [4, 4, 6, 6]], [[1, 1, 3, 3], [0, 0, 0, 0]]], float)
    mask = np.array([[1, 1], [1, 0]])
    pred = np.array([[[0, 0, 2, 2], [0.1, 0, 2, 2], [8, 8, 9, 9]],  # hit, duplicate, miss
                     [[1, 1, 3, 3.2], [5, 5, 6, 6], [1, 1, 2.9, 3]]], float)
    scores = np.array([[0.9, 0.8, 0.3], [0.7, 0.6, 0.5]])
    ap = detection.average_precision(scores, pred, gt, mask)
    tp = np.array([1, 0, 0, 1, 0, 0])  # the [4,4,6,6] box is never found
    ref = 2 / 3 * average_precision_score(tp, scores.ravel()[[0, 1, 2, 3, 4, 5]])
    np.testing.assert_allclose(ap, ref)
    np.testing.assert_allclose(ap, (1 / 1 + 2 / 3) / 3)  # TPs at ranks 1 and 3
    # NMS drops both duplicates: the two hits rank first and second
    keep = np.stack([detection.non_maximum_suppression(s, b) for s, b in zip(scores, pred)])
    np.testing.assert_array_equal(keep, [[1, 0, 1], [1, 1, 0]])
    np.testing.assert_allclose(detection.average_precision(scores, pred, gt, mask,
                                                           pred_mask=keep), 2 / 3)


def test_components_per_object_counts_weighted_overlapping_components():
    gt = np.array([[[0, 0, 2, 2], [4, 4, 6, 6]]], float)
    pred = np.array([[[0, 0, 2, 2], [0.1, 0, 2, 2], [4, 4, 6, 6], [4, 4, 6.1, 6]]], float)
    weights = np.array([[0.6, 0.4, 0.95, 0.05]])
    counts = detection.components_per_object(weights, pred, gt, np.ones((1, 2)), 0.1)
    np.testing.assert_array_equal(counts, [2, 1])


@pytest.mark.parametrize("family", detection.FAMILIES)
def test_component_log_joint_is_jittable_and_vmappable(family):
    rng = np.random.default_rng(4)
    boxes, logits, means, scales = (jnp.asarray(a, jnp.float32) for a in _mixture(rng))
    batched = jax.jit(jax.vmap(lambda b: detection.component_log_joint(
        b, detection.mixing_log_weights(logits), means, scales, family)))
    out = batched(jnp.stack([boxes, boxes]))
    assert out.shape == (2, 3, 4) and out.dtype == jnp.float32
    np.testing.assert_allclose(out[0], out[1])
