"""Exact inference in linear-chain conditional random fields (``lax.scan``).

A linear-chain CRF over tags ``y_1..y_T in {0..K-1}`` (Lafferty, McCallum and
Pereira 2001) scores a sequence as

    score(y) = start[y_1] + sum_t unary[t, y_t] + sum_{t>1} transition[y_{t-1}, y_t] + end[y_T]

and ``log P(y) = score(y) - log Z`` with ``log Z = logsumexp_y score(y)``. The
forward algorithm (log-semiring) gives ``log Z`` and Viterbi (max-semiring) the
best sequence, each in ``O(T K^2)`` time. One sequence per call: ``unary`` is
``(T, K)``; callers ``jax.vmap`` over a batch. ``start`` and ``end`` default to
zeros.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

Array = jax.Array


def _as_arrays(unary, transition, start, end) -> tuple[Array, Array, Array, Array]:
    """Converts the CRF scores to arrays of one dtype; missing boundaries become zeros."""
    unary = jnp.asarray(unary)
    if unary.ndim != 2:
        raise ValueError(f"unary must have shape (T, K), got {unary.shape}.")
    num_tags = unary.shape[-1]
    transition = jnp.asarray(transition, unary.dtype)
    zeros = jnp.zeros((num_tags,), unary.dtype)
    start = zeros if start is None else jnp.asarray(start, unary.dtype)
    end = zeros if end is None else jnp.asarray(end, unary.dtype)
    return unary, transition, start, end


def crf_log_partition(unary: Array, transition: Array, start: Array | None = None,
                      end: Array | None = None) -> Array:
    """Log-partition function ``log Z`` of a linear-chain CRF (forward algorithm).

    ``alpha_1 = start + unary[0]``,
    ``alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + transition[i, j]) + unary[t, j]``,
    ``log Z = logsumexp_j(alpha_T[j] + end[j])``. Exact (sum over all ``K^T``
    sequences) in ``O(T K^2)`` via ``lax.scan`` (Lafferty et al. 2001).

    Args:
      unary: per-position tag scores, shape ``(T, K)``.
      transition: ``transition[i, j]`` is the score of tag ``i`` followed by tag
        ``j``, shape ``(K, K)``.
      start: optional score of the first tag, shape ``(K,)``.
      end: optional score of the last tag, shape ``(K,)``.

    Returns:
      A scalar, ``log Z``.
    """
    unary, transition, start, end = _as_arrays(unary, transition, start, end)

    def step(alpha, unary_t):
        alpha = jax.nn.logsumexp(alpha[:, None] + transition, axis=0) + unary_t
        return alpha, None

    alpha, _ = lax.scan(step, start + unary[0], unary[1:])
    return jax.nn.logsumexp(alpha + end)


def crf_sequence_score(tags: Array, unary: Array, transition: Array,
                       start: Array | None = None, end: Array | None = None) -> Array:
    """Unnormalized score of one tag sequence under a linear-chain CRF.

    ``score(y) = start[y_1] + sum_t unary[t, y_t] + sum_{t>1} transition[y_{t-1}, y_t]
    + end[y_T]``. Exact, ``O(T)``.

    Args:
      tags: integer tags, shape ``(T,)``.
      unary: shape ``(T, K)``.
      transition: shape ``(K, K)``, ``transition[i, j]`` for ``i`` then ``j``.
      start: optional, shape ``(K,)``.
      end: optional, shape ``(K,)``.

    Returns:
      A scalar score.
    """
    unary, transition, start, end = _as_arrays(unary, transition, start, end)
    tags = jnp.asarray(tags)
    emissions = jnp.sum(jnp.take_along_axis(unary, tags[:, None], axis=1))
    transitions = jnp.sum(transition[tags[:-1], tags[1:]])
    return start[tags[0]] + emissions + transitions + end[tags[-1]]


def crf_log_likelihood(tags: Array, unary: Array, transition: Array,
                       start: Array | None = None, end: Array | None = None) -> Array:
    """Log-likelihood ``log P(tags) = score(tags) - log Z`` of one tag sequence.

    Exact (Lafferty et al. 2001); cost ``O(T K^2)`` for ``log Z`` (forward
    algorithm) plus ``O(T)`` for the score. Differentiable in all scores.

    Args:
      tags: integer tags, shape ``(T,)``.
      unary: shape ``(T, K)``.
      transition: shape ``(K, K)``, ``transition[i, j]`` for ``i`` then ``j``.
      start: optional, shape ``(K,)``.
      end: optional, shape ``(K,)``.

    Returns:
      A scalar log-probability (``<= 0``).
    """
    return (crf_sequence_score(tags, unary, transition, start, end)
            - crf_log_partition(unary, transition, start, end))


def crf_viterbi(unary: Array, transition: Array, start: Array | None = None,
                end: Array | None = None) -> tuple[Array, Array]:
    """Most likely tag sequence of a linear-chain CRF (Viterbi 1967).

    Max-product recursion ``delta_t[j] = max_i(delta_{t-1}[i] + transition[i, j])
    + unary[t, j]`` with back-pointers, then backtracking, both with
    ``lax.scan``. Exact; ``O(T K^2)``. Ties go to the lowest tag index.

    Args:
      unary: shape ``(T, K)``.
      transition: shape ``(K, K)``, ``transition[i, j]`` for ``i`` then ``j``.
      start: optional, shape ``(K,)``.
      end: optional, shape ``(K,)``.

    Returns:
      ``(tags, score)``: the best sequence, int32 of shape ``(T,)``, and its
      unnormalized score (``max_y score(y)``; subtract ``crf_log_partition`` for
      its log-probability).
    """
    unary, transition, start, end = _as_arrays(unary, transition, start, end)

    def forward(delta, unary_t):
        candidates = delta[:, None] + transition
        return jnp.max(candidates, axis=0) + unary_t, jnp.argmax(candidates, axis=0)

    delta, backpointers = lax.scan(forward, start + unary[0], unary[1:])
    final = delta + end
    last_tag = jnp.argmax(final).astype(jnp.int32)

    def backward(tag, pointers_t):
        previous = pointers_t[tag].astype(jnp.int32)
        return previous, previous

    _, earlier = lax.scan(backward, last_tag, backpointers, reverse=True)
    tags = jnp.concatenate([earlier, last_tag[None]])
    return tags, jnp.max(final)
