"""Ranking metrics of scores against binary labels."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from likelihood_jax import _checks

Array = jax.Array


def auroc(scores, labels, *, validate_args: bool = False) -> Array:
    """Area under the ROC curve: the chance that a positive scores above a negative.

        AUROC = (1 / (n_+ n_-)) sum_{i: y_i = 1} sum_{j: y_j = 0} ([s_i > s_j] + [s_i = s_j] / 2),

    ties counted one half, i.e. the Mann-Whitney statistic ``U / (n_+ n_-)``. Computed from
    mid-ranks, ``U = sum_{i: y_i = 1} rank_i - n_+ (n_+ + 1) / 2`` (ranks from 1, tied scores
    sharing the mean of their ranks), in ``O(N log N)``; exact up to floating-point rounding.
    Jit-compatible. Positives are expected to score higher (1 = perfect ranking, 0.5 = chance).

    Called on concrete arrays it checks the labels eagerly, always; under a transformation
    (``jax.jit``, ``jax.vmap``) only with ``validate_args=True``, through
    ``jax.experimental.checkify`` (a traced call with one class only returns NaN).

    Args:
      scores: ``[N]`` real scores, floating.
      labels: ``[N]`` labels, each 0 or 1 (integer or bool), both classes present.
      validate_args: check the labels also when traced (see above).

    Returns:
      The scalar AUROC in ``[0, 1]``.

    Raises:
      ValueError: for shapes other than ``[N]`` or non-floating scores; for labels other than
        0 and 1 or a single class (eagerly, or with ``validate_args``).
    """
    function = "auroc"
    scores, labels = jnp.asarray(scores), jnp.asarray(labels)
    _checks.require_rank(function, "scores", scores, 1, "(N,)")
    _checks.require_shape(function, "labels", labels, scores.shape, "(N,)")
    _checks.require_floating(function, "scores", scores)
    if validate_args or not _checks.is_traced(scores, labels):
        _checks.check(function, jnp.all((labels == 0) | (labels == 1)),
                      "labels must be 0 or 1, got min {} and max {}",
                      jnp.min(labels.astype(jnp.int32)), jnp.max(labels.astype(jnp.int32)))
        num_pos = jnp.sum(labels == 1)
        _checks.check(function, (num_pos > 0) & (num_pos < labels.shape[0]),
                      "labels must hold both classes, got {} positives of {}",
                      num_pos, jnp.asarray(labels.shape[0]))
    positive = (labels == 1).astype(scores.dtype)
    ordered = jnp.sort(scores)
    below = jnp.searchsorted(ordered, scores, side="left")
    up_to = jnp.searchsorted(ordered, scores, side="right")
    mid_rank = 0.5 * (below + up_to + 1).astype(scores.dtype)
    num_pos = jnp.sum(positive)
    num_neg = scores.shape[0] - num_pos
    u = jnp.sum(positive * mid_rank) - 0.5 * num_pos * (num_pos + 1)
    return u / (num_pos * num_neg)
