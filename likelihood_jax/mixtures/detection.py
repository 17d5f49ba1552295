"""Multi-object detection as density estimation of the ground-truth boxes (D-RMM) [P136].

Yoo, Lee, Seo, Chung & Kwak (ICML 2023), "End-to-End Multi-Object Detection with a
Regularized Mixture Model", arXiv:2205.08714. The network outputs, per image, a mixture of
``K`` components over boxes ``b = (x1, y1, x2, y2)``: a mixing weight ``pi_k`` (the
detection's confidence), a location ``mu_k`` and scales ``s_k`` (and, with classes, class
probabilities ``q_k(c)``). Component ``k``'s density is a product over the four coordinates
of one-dimensional densities (the paper's default: Cauchy; a Gaussian option):

    p_k(b, c) = q_k(c) prod_{d=1}^4 f(b_d; mu_kd, s_kd),
    f_cauchy(x; mu, s) = 1 / (pi s (1 + ((x - mu) / s)^2)),
    f_gauss(x; mu, s) = exp(-(x - mu)^2 / (2 s^2)) / (s sqrt(2 pi)).

The loss of one image with ground-truth boxes ``b_1..b_G`` has two terms only:

* the mixture negative log-likelihood ``NLL = -sum_g log sum_k pi_k p_k(b_g)``;
* the maximum component maximization (MCM) regularizer
  ``MCM = -sum_g log (max_k pi_k p_k(b_g) / sum_k pi_k p_k(b_g)) = -sum_g log max_k r_gk``,
  ``r_gk`` the responsibility of component ``k`` for box ``g``. The NLL is unchanged when a
  component is split into two identical halves (duplicates cost nothing); MCM is
  minimal (zero) only when one component takes all the responsibility for each box, so it
  suppresses duplicates without non-maximum suppression.

The paper's mixing weights are ``pi_k = sigmoid(f_k) / sum_j sigmoid(f_j)``
(:func:`mixing_log_weights`; ``sigmoid(f_k)`` is the confidence at test time) and its scales
are floored at a fraction of the predicted box's width/height (:func:`box_scales`).

Per-image functions (``jax.vmap`` over a batch): :func:`component_log_joint`,
:func:`mixture_nll`, :func:`max_component_loss`, :func:`mixing_log_weights`,
:func:`box_scales`. Host-side (numpy) evaluation over a set of images: :func:`box_iou`,
:func:`average_precision` (AP at an IoU threshold, no NMS unless given a mask),
:func:`non_maximum_suppression` (the hand-crafted step the paper removes, for the
baseline) and :func:`components_per_object` (duplicate counts).
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import _checks

Array = jax.Array

#: One-dimensional coordinate densities of a component.
FAMILIES = ("cauchy", "gaussian")


def _coordinate_log_density(x: Array, loc: Array, scale: Array, family: str) -> Array:
    """``log f(x; loc, scale)`` elementwise (broadcasting) for a family of :data:`FAMILIES`."""
    z = (x - loc) / scale
    if family == "cauchy":
        return -jnp.log(math.pi * scale) - jnp.log1p(z * z)
    return -0.5 * z * z - jnp.log(scale) - 0.5 * math.log(2.0 * math.pi)


def component_log_joint(boxes: Array, log_weights: Array, means: Array, scales: Array,
                        family: str = "cauchy", labels: Array | None = None,
                        class_log_probs: Array | None = None) -> Array:
    """``log pi_k + log p_k(b_g, c_g)`` for every box and component, shape ``(G, K)`` [P136].

    ``log p_k(b) = sum_d log f(b_d; mu_kd, s_kd)`` (the coordinates independent given the
    component), plus ``log q_k(c_g)`` when ``labels`` and ``class_log_probs`` are given.
    Exact; cost ``O(G K D)``.

    Args:
      boxes: ground-truth boxes of one image, shape ``(G, D)`` (``D = 4``: ``x1, y1, x2, y2``;
        any ``D`` works).
      log_weights: ``log pi_k``, shape ``(K,)`` (normalized; see :func:`mixing_log_weights`).
      means: component locations ``mu``, shape ``(K, D)``.
      scales: component scales ``s > 0``, shape ``(K, D)``.
      family: the coordinate density, one of :data:`FAMILIES`.
      labels: class of each box, integer shape ``(G,)``, or None (class-agnostic).
      class_log_probs: ``log q_k(c)``, shape ``(K, C)``, or None; given with ``labels``.

    Returns:
      The ``(G, K)`` log joint; ``logsumexp`` over ``K`` is ``log p(b_g)``.
    """
    fn = "component_log_joint"
    _checks.require_option(fn, "family", family, FAMILIES)
    _checks.require_rank(fn, "boxes", boxes, 2, "(G, D)")
    _checks.require_rank(fn, "log_weights", log_weights, 1, "(K,)")
    k, d = jnp.shape(log_weights)[0], jnp.shape(boxes)[1]
    _checks.require_shape(fn, "means", means, (k, d), "(K, D)")
    _checks.require_shape(fn, "scales", scales, (k, d), "(K, D)")
    if (labels is None) != (class_log_probs is None):
        raise _checks.error(fn, "labels, class_log_probs", "given together",
                            f"labels {'None' if labels is None else 'given'} and "
                            f"class_log_probs {'None' if class_log_probs is None else 'given'}")
    coords = _coordinate_log_density(boxes[:, None, :], means[None], scales[None], family)
    log_joint = jnp.sum(coords, axis=-1) + log_weights[None, :]
    if labels is not None:
        _checks.require_shape(fn, "labels", labels, (jnp.shape(boxes)[0],), "(G,)")
        _checks.require_integer(fn, "labels", labels)
        _checks.require_rank(fn, "class_log_probs", class_log_probs, 2, "(K, C)")
        _checks.require_shape(fn, "class_log_probs", class_log_probs,
                              (k, jnp.shape(class_log_probs)[1]), "(K, C)")
        log_joint = log_joint + jnp.take(class_log_probs, labels, axis=1).T
    return log_joint


def _masked_sum(fn: str, values: Array, box_mask: Array | None) -> Array:
    """``sum_g m_g values_g`` (all boxes when ``box_mask`` is None)."""
    if box_mask is None:
        return jnp.sum(values)
    _checks.require_shape(fn, "box_mask", box_mask, jnp.shape(values), "(G,)")
    return jnp.sum(jnp.where(box_mask > 0, values, 0.0))


def mixture_nll(log_joint: Array, box_mask: Array | None = None) -> Array:
    """``-sum_g m_g log sum_k pi_k p_k(b_g)``: the mixture NLL of one image's boxes [P136].

    Args:
      log_joint: ``log pi_k + log p_k(b_g)``, shape ``(G, K)`` (:func:`component_log_joint`).
      box_mask: ``(G,)``, 1 for a real box and 0 for padding; None counts every row.

    Returns:
      A scalar (0 for an image without boxes).
    """
    _checks.require_rank("mixture_nll", "log_joint", log_joint, 2, "(G, K)")
    return -_masked_sum("mixture_nll", jax.nn.logsumexp(log_joint, axis=1), box_mask)


def max_component_loss(log_joint: Array, box_mask: Array | None = None) -> Array:
    """MCM: ``-sum_g m_g log (max_k pi_k p_k(b_g) / sum_k pi_k p_k(b_g))`` [P136].

    ``= -sum_g log max_k r_gk`` with ``r_gk`` the responsibilities; in ``[0, log K]`` per
    box, zero iff one component explains the box alone. Its gradient raises the winning
    component's weight and density for the box and lowers the others' (duplicates').

    Args:
      log_joint: shape ``(G, K)`` (:func:`component_log_joint`).
      box_mask: ``(G,)`` as in :func:`mixture_nll`.

    Returns:
      A non-negative scalar.
    """
    _checks.require_rank("max_component_loss", "log_joint", log_joint, 2, "(G, K)")
    gap = jax.nn.logsumexp(log_joint, axis=1) - jnp.max(log_joint, axis=1)
    return _masked_sum("max_component_loss", gap, box_mask)


def mixing_log_weights(logits: Array) -> Array:
    """``log pi_k`` for ``pi_k = sigmoid(f_k) / sum_j sigmoid(f_j)`` (D-RMM's head) [P136].

    Args:
      logits: foreground logits ``f``, shape ``(K,)``.

    Returns:
      ``(K,)`` log weights summing to one in probability.
    """
    _checks.require_rank("mixing_log_weights", "logits", logits, 1, "(K,)")
    log_fg = jax.nn.log_sigmoid(logits)
    return log_fg - jax.nn.logsumexp(log_fg)


def box_scales(raw: Array, means: Array, min_ratio: float, min_scale: float = 1e-3) -> Array:
    """``s = max(softplus(raw), min_ratio * (w, h, w, h), min_scale)`` for ``(x1, y1, x2, y2)``.

    D-RMM floors each coordinate's scale at a fraction of the predicted box's width (``x``
    coordinates) or height (``y``), so a large box is never claimed with a tiny scale;
    ``min_scale`` keeps the scale positive for a degenerate box.

    Args:
      raw: unconstrained scales, shape ``(..., 4)``.
      means: predicted boxes ``(x1, y1, x2, y2)``, same shape.
      min_ratio: the floor's fraction of the box size, ``>= 0``.
      min_scale: the absolute floor, ``> 0``.

    Returns:
      Positive scales, shape of ``raw``.
    """
    fn = "box_scales"
    _checks.require_min_rank(fn, "raw", raw, 1, "(..., 4)")
    _checks.require_shape(fn, "raw", raw, jnp.shape(raw)[:-1] + (4,), "(..., 4)")
    _checks.require_shape(fn, "means", means, jnp.shape(raw), "(..., 4) like raw")
    _checks.require_at_least(fn, "min_ratio", min_ratio, 0.0)
    _checks.require_greater(fn, "min_scale", min_scale, 0.0)
    size = jnp.abs(means[..., 2:] - means[..., :2])
    floor = min_ratio * jnp.concatenate([size, size], axis=-1)
    return jnp.maximum(jnp.maximum(jax.nn.softplus(raw), floor), min_scale)


# -- Evaluation on the host (numpy) ------------------------------------------------------


def box_iou(a, b) -> np.ndarray:
    """Pairwise intersection over union of boxes ``(x1, y1, x2, y2)``: ``(N, M)``.

    Args:
      a: shape ``(N, 4)``. A box with ``x2 < x1`` has zero area.
      b: shape ``(M, 4)``.

    Returns:
      ``|a_i cap b_j| / |a_i cup b_j|`` (0 where the union is empty).
    """
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    for name, x in (("a", a), ("b", b)):
        if x.ndim != 2 or x.shape[1] != 4:
            raise _checks.error("box_iou", name, "of shape (N, 4)", f"shape {x.shape}")

    def area(x):
        return np.clip(x[:, 2] - x[:, 0], 0, None) * np.clip(x[:, 3] - x[:, 1], 0, None)

    lo = np.maximum(a[:, None, :2], b[None, :, :2])
    hi = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _check_detections(fn: str, scores, pred_boxes, gt_boxes, gt_mask):
    scores, pred_boxes = np.asarray(scores, np.float64), np.asarray(pred_boxes, np.float64)
    gt_boxes, gt_mask = np.asarray(gt_boxes, np.float64), np.asarray(gt_mask) > 0
    if scores.ndim != 2:
        raise _checks.error(fn, "scores", "of shape (N, K)", f"shape {scores.shape}")
    n, k = scores.shape
    if pred_boxes.shape != (n, k, 4):
        raise _checks.error(fn, "pred_boxes", f"of shape (N, K, 4) = {(n, k, 4)}",
                            f"shape {pred_boxes.shape}")
    if gt_boxes.ndim != 3 or gt_boxes.shape[0] != n or gt_boxes.shape[2] != 4:
        raise _checks.error(fn, "gt_boxes", f"of shape (N, G, 4) with N = {n}",
                            f"shape {gt_boxes.shape}")
    if gt_mask.shape != gt_boxes.shape[:2]:
        raise _checks.error(fn, "gt_mask", f"of shape (N, G) = {gt_boxes.shape[:2]}",
                            f"shape {gt_mask.shape}")
    return scores, pred_boxes, gt_boxes, gt_mask


def _check_unit(fn: str, argument: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise _checks.error(fn, argument, "in [0, 1]", repr(value))


def average_precision(scores, pred_boxes, gt_boxes, gt_mask, iou_threshold: float = 0.5,
                      pred_mask=None) -> float:
    """AP at one IoU threshold over a set of images, detections matched greedily.

    All detections of all images are ranked by score; going down the list, a detection is a
    true positive when its best-IoU still unmatched ground-truth box of the same image has
    ``IoU >= iou_threshold`` (that box is then matched), else a false positive (a duplicate
    of a matched box is one). ``AP = (1 / G) sum_{n: TP} precision@n`` (non-interpolated:
    the area under the precision-recall step curve; ``G`` the number of ground-truth boxes).

    Args:
      scores: confidences, shape ``(N, K)`` (``N`` images, ``K`` detections each).
      pred_boxes: ``(N, K, 4)`` boxes ``(x1, y1, x2, y2)``.
      gt_boxes: ``(N, G, 4)``, padded.
      gt_mask: ``(N, G)``, 1 for a real box.
      iou_threshold: in ``[0, 1]``.
      pred_mask: ``(N, K)``, 1 for a kept detection (e.g. after NMS), or None (all kept).

    Returns:
      AP in ``[0, 1]`` (0 without ground-truth boxes).
    """
    fn = "average_precision"
    scores, pred_boxes, gt_boxes, gt_mask = _check_detections(fn, scores, pred_boxes,
                                                              gt_boxes, gt_mask)
    _check_unit(fn, "iou_threshold", iou_threshold)
    keep = np.ones(scores.shape, bool) if pred_mask is None else np.asarray(pred_mask) > 0
    if keep.shape != scores.shape:
        raise _checks.error(fn, "pred_mask", f"of shape (N, K) = {scores.shape}",
                            f"shape {keep.shape}")
    num_gt = int(gt_mask.sum())
    if num_gt == 0:
        return 0.0
    image, det = np.nonzero(keep)
    order = np.argsort(-scores[image, det], kind="stable")
    ious = [box_iou(pred_boxes[i], gt_boxes[i]) for i in range(scores.shape[0])]
    matched = ~gt_mask.copy()
    tp = np.zeros(len(order), bool)
    for rank, j in enumerate(order):
        i = image[j]
        iou = np.where(matched[i], -1.0, ious[i][det[j]])
        if iou.size and iou.max() >= iou_threshold:
            matched[i, int(np.argmax(iou))] = True
            tp[rank] = True
    precision = np.cumsum(tp) / np.arange(1, len(tp) + 1)
    return float(np.sum(precision[tp]) / num_gt)


def non_maximum_suppression(scores, boxes, iou_threshold: float = 0.5) -> np.ndarray:
    """Greedy NMS of one image: keep the best box, drop boxes overlapping it, repeat.

    Args:
      scores: ``(K,)``.
      boxes: ``(K, 4)``.
      iou_threshold: in ``[0, 1]``; a box whose IoU with a kept, better-scored box exceeds
        it is dropped.

    Returns:
      Boolean ``(K,)``, True for the kept boxes.
    """
    scores, boxes = np.asarray(scores, np.float64), np.asarray(boxes, np.float64)
    if scores.ndim != 1 or boxes.shape != scores.shape + (4,):
        raise _checks.error("non_maximum_suppression", "boxes",
                            f"of shape (K, 4) with scores (K,) = {scores.shape}",
                            f"shape {boxes.shape}")
    _check_unit("non_maximum_suppression", "iou_threshold", iou_threshold)
    iou = box_iou(boxes, boxes)
    keep = np.zeros(len(scores), bool)
    suppressed = np.zeros(len(scores), bool)
    for k in np.argsort(-scores, kind="stable"):
        if not suppressed[k]:
            keep[k] = True
            suppressed |= iou[k] > iou_threshold
    return keep


def components_per_object(weights, pred_boxes, gt_boxes, gt_mask, weight_threshold: float,
                          iou_threshold: float = 0.5) -> np.ndarray:
    """Per ground-truth box, the number of components claiming it (duplicates if > 1).

    ``count_g = #{k: weights_k > weight_threshold and IoU(mu_k, b_g) >= iou_threshold}``.

    Args:
      weights: ``(N, K)`` component weights or confidences.
      pred_boxes: ``(N, K, 4)``.
      gt_boxes: ``(N, G, 4)``, padded.
      gt_mask: ``(N, G)``, 1 for a real box.
      weight_threshold: a component counts above it.
      iou_threshold: in ``[0, 1]``.

    Returns:
      Integer counts of the real boxes, flattened: shape ``(sum gt_mask,)``.
    """
    fn = "components_per_object"
    weights, pred_boxes, gt_boxes, gt_mask = _check_detections(fn, weights, pred_boxes,
                                                               gt_boxes, gt_mask)
    _check_unit(fn, "iou_threshold", iou_threshold)
    counts = [np.sum((box_iou(pred_boxes[i], gt_boxes[i]) >= iou_threshold)
                     & (weights[i] > weight_threshold)[:, None], axis=0)[gt_mask[i]]
              for i in range(weights.shape[0])]
    return np.concatenate(counts).astype(np.int64)
