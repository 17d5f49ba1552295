"""Calibration of probabilistic classifiers."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from likelihood_jax import _checks

Array = jax.Array


def expected_calibration_error(probs, labels, *, num_bins: int = 15, mask=None,
                               validate_args: bool = False) -> Array:
    """Expected calibration error of a classifier (Guo et al. 2017, "On calibration...").

    The confidence of example ``i`` is ``c_i = max_k probs[i, k]``, its prediction the
    argmax. Examples fall into ``num_bins`` equal-width bins of confidence, bin ``b`` holding
    ``c in ((b - 1) / M, b / M]`` (confidence 0 goes to the first bin), and

        ECE = sum_b (n_b / N) |accuracy(b) - mean confidence(b)|,

    0 for a perfectly calibrated classifier (in every bin the accuracy equals the stated
    confidence). Empty bins contribute nothing. Jit-compatible (``segment_sum`` over bins).

    Called on concrete arrays (the usual case: a metric on evaluation outputs) it checks
    the values eagerly, always; under a transformation (``jax.jit``, ``jax.vmap``) it
    checks them only with ``validate_args=True``, through ``jax.experimental.checkify``
    (under ``jax.jit``: ``jax.jit(checkify.checkify(f))``, then ``err.throw()``).

    Args:
      probs: ``[N, K]`` predicted class probabilities: non-negative, rows summing
        to 1 (within ``max(1e-5, 4 K eps)``).
      labels: ``[N]`` integer labels in ``[0, K)``.
      num_bins: number of confidence bins ``M``, an integer ``>= 1``.
      mask: optional ``[N]`` weights (1 keeps an example, 0 drops it, e.g. padding).
      validate_args: check the values also when traced (see above).

    Returns:
      The scalar ECE in ``[0, 1]``.

    Raises:
      ValueError: for shapes other than those above, non-integer labels or
        ``num_bins < 1``; for probabilities that are not, or labels out of range
        (eagerly, or with ``validate_args``).
    """
    function = "expected_calibration_error"
    probs = jnp.asarray(probs)
    labels = jnp.asarray(labels)
    _checks.require_rank(function, "probs", probs, 2, "(N, K)")
    _checks.require_shape(function, "labels", labels, probs.shape[:1], "(N,)")
    _checks.require_integer(function, "labels", labels)
    _checks.require_integer_at_least(function, "num_bins", num_bins, 1)
    if mask is not None:
        _checks.require_shape(function, "mask", mask, probs.shape[:1], "(N,)")
    if validate_args or not _checks.is_traced(probs, labels):
        _checks.check_probabilities(function, "probs", probs)
        _checks.check_in_range(function, "labels", labels, 0, probs.shape[1])
    weights = (jnp.ones(labels.shape, probs.dtype) if mask is None
               else jnp.asarray(mask, probs.dtype))
    confidence = jnp.max(probs, axis=-1)
    correct = (jnp.argmax(probs, axis=-1) == labels).astype(probs.dtype)
    bins = jnp.clip(jnp.ceil(confidence * num_bins).astype(jnp.int32) - 1, 0, num_bins - 1)
    count = jax.ops.segment_sum(weights, bins, num_bins)
    gap = jax.ops.segment_sum(weights * (correct - confidence), bins, num_bins)
    return jnp.sum(jnp.abs(gap)) / jnp.maximum(jnp.sum(count), 1e-12)
