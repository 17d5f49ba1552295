"""Calibration of probabilistic classifiers."""

from __future__ import annotations

import jax
import jax.numpy as jnp

Array = jax.Array


def expected_calibration_error(probs, labels, *, num_bins: int = 15, mask=None) -> Array:
    """Expected calibration error of a classifier (Guo et al. 2017, "On calibration...").

    The confidence of example ``i`` is ``c_i = max_k probs[i, k]``, its prediction the
    argmax. Examples fall into ``num_bins`` equal-width bins of confidence, bin ``b`` holding
    ``c in ((b - 1) / M, b / M]`` (confidence 0 goes to the first bin), and

        ECE = sum_b (n_b / N) |accuracy(b) - mean confidence(b)|,

    0 for a perfectly calibrated classifier (in every bin the accuracy equals the stated
    confidence). Empty bins contribute nothing. Jit-compatible (``segment_sum`` over bins).

    Args:
      probs: ``[N, K]`` predicted class probabilities (rows sum to 1).
      labels: ``[N]`` integer labels.
      num_bins: number of confidence bins ``M``.
      mask: optional ``[N]`` weights (1 keeps an example, 0 drops it, e.g. padding).

    Returns:
      The scalar ECE in ``[0, 1]``.
    """
    probs = jnp.asarray(probs)
    labels = jnp.asarray(labels)
    if probs.ndim != 2 or labels.shape != probs.shape[:1]:
        raise ValueError(f"probs must be [N, K] and labels [N], got {probs.shape} and "
                         f"{labels.shape}")
    if num_bins < 1:
        raise ValueError(f"num_bins must be >= 1, got {num_bins}")
    weights = (jnp.ones(labels.shape, probs.dtype) if mask is None
               else jnp.asarray(mask, probs.dtype))
    confidence = jnp.max(probs, axis=-1)
    correct = (jnp.argmax(probs, axis=-1) == labels).astype(probs.dtype)
    bins = jnp.clip(jnp.ceil(confidence * num_bins).astype(jnp.int32) - 1, 0, num_bins - 1)
    count = jax.ops.segment_sum(weights, bins, num_bins)
    gap = jax.ops.segment_sum(weights * (correct - confidence), bins, num_bins)
    return jnp.sum(jnp.abs(gap)) / jnp.maximum(jnp.sum(count), 1e-12)
