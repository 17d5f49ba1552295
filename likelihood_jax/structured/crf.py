"""Exact inference in linear-chain conditional random fields (``lax.scan``).

A linear-chain CRF over tags ``y_1..y_T in {0..K-1}`` (Lafferty, McCallum and
Pereira 2001) scores a sequence as

    score(y) = start[y_1] + sum_t unary[t, y_t] + sum_{t>1} transition[y_{t-1}, y_t] + end[y_T]

and ``log P(y) = score(y) - log Z`` with ``log Z = logsumexp_y score(y)``. The
forward algorithm (log-semiring) gives ``log Z`` and Viterbi (max-semiring) the
best sequence, each in ``O(T K^2)`` time; forward-backward gives the node and edge
marginals (Sutton and McCallum 2012, "An Introduction to Conditional Random Fields"
[P068], sections 4.1-4.3). One sequence per call: ``unary`` is
``(T, K)``; callers ``jax.vmap`` over a batch. ``start`` and ``end`` default to
zeros.

Argument domains: ``T >= 1`` and ``K >= 1``; ``transition`` exactly ``(K, K)`` and
``start``, ``end`` exactly ``(K,)`` (no broadcasting); integer tags of shape ``(T,)``.
These are checked when a function is called or traced (free under ``jax.jit``) and raise
a ``ValueError`` naming the function and the argument. Tags in ``[0, K)`` are a value
check, run with ``validate_args=True`` through ``jax.experimental.checkify`` (eagerly it
raises at once; under ``jax.jit`` wrap the caller, ``jax.jit(checkify.checkify(f))``,
then ``err.throw()``): without it a tag out of range gives NaN or a wrong finite number.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from likelihood_jax import _checks

Array = jax.Array


def _as_arrays(function: str, unary, transition, start,
               end) -> tuple[Array, Array, Array, Array]:
    """The CRF scores, shapes checked, as arrays of one floating dtype; missing ends are zeros.

    Integer scores become float32.
    """
    unary = jnp.asarray(unary)
    _checks.require_rank(function, "unary", unary, 2, "(T, K)",
                         "; jax.vmap over a batch of sequences" if unary.ndim == 3 else "")
    if unary.shape[0] < 1 or unary.shape[1] < 1:
        raise _checks.error(function, "unary", "of shape (T, K) with T >= 1 and K >= 1",
                            f"shape {unary.shape}")
    if not jnp.issubdtype(unary.dtype, jnp.floating):
        unary = unary.astype(jnp.float32)
    num_tags = unary.shape[-1]
    _checks.require_shape(function, "transition", transition, (num_tags, num_tags), "(K, K)")
    transition = jnp.asarray(transition, unary.dtype)
    zeros = jnp.zeros((num_tags,), unary.dtype)
    boundaries = []
    for name, value in (("start", start), ("end", end)):
        if value is not None:
            _checks.require_shape(function, name, value, (num_tags,), "(K,)")
        boundaries.append(zeros if value is None else jnp.asarray(value, unary.dtype))
    return (unary, transition, *boundaries)


def _check_tags(function: str, tags, unary: Array, validate_args: bool) -> Array:
    """Integer tags of shape ``(T,)``; with ``validate_args``, in ``[0, K)``."""
    tags = jnp.asarray(tags)
    _checks.require_integer(function, "tags", tags)
    _checks.require_shape(function, "tags", tags, unary.shape[:1], "(T,)")
    if validate_args:
        _checks.check_in_range(function, "tags", tags, 0, unary.shape[1])
    return tags


def crf_log_partition(unary: Array, transition: Array, start: Array | None = None,
                      end: Array | None = None) -> Array:
    """Log-partition function ``log Z`` of a linear-chain CRF (forward algorithm).

    ``alpha_1 = start + unary[0]``,
    ``alpha_t[j] = logsumexp_i(alpha_{t-1}[i] + transition[i, j]) + unary[t, j]``,
    ``log Z = logsumexp_j(alpha_T[j] + end[j])``. Exact (sum over all ``K^T``
    sequences) in ``O(T K^2)`` via ``lax.scan`` (Lafferty et al. 2001).

    Args:
      unary: per-position tag scores, shape ``(T, K)`` with ``T, K >= 1``.
      transition: ``transition[i, j]`` is the score of tag ``i`` followed by tag
        ``j``, shape exactly ``(K, K)``.
      start: optional score of the first tag, shape exactly ``(K,)``.
      end: optional score of the last tag, shape exactly ``(K,)``.

    Returns:
      A scalar, ``log Z``.

    Raises:
      ValueError: for shapes other than those above.
    """
    unary, transition, start, end = _as_arrays("crf_log_partition", unary, transition, start,
                                               end)

    def step(alpha, unary_t):
        alpha = jax.nn.logsumexp(alpha[:, None] + transition, axis=0) + unary_t
        return alpha, None

    alpha, _ = lax.scan(step, start + unary[0], unary[1:])
    return jax.nn.logsumexp(alpha + end)


def crf_sequence_score(tags: Array, unary: Array, transition: Array,
                       start: Array | None = None, end: Array | None = None, *,
                       validate_args: bool = False) -> Array:
    """Unnormalized score of one tag sequence under a linear-chain CRF.

    ``score(y) = start[y_1] + sum_t unary[t, y_t] + sum_{t>1} transition[y_{t-1}, y_t]
    + end[y_T]``. Exact, ``O(T)``.

    Args:
      tags: integer tags in ``[0, K)``, shape ``(T,)``.
      unary: shape ``(T, K)`` with ``T, K >= 1``.
      transition: shape exactly ``(K, K)``, ``transition[i, j]`` for ``i`` then
        ``j``.
      start: optional, shape exactly ``(K,)``.
      end: optional, shape exactly ``(K,)``.
      validate_args: also check that the tags lie in ``[0, K)`` (with
        ``jax.experimental.checkify``; see the module docstring).

    Returns:
      A scalar score.

    Raises:
      ValueError: for non-integer tags or shapes other than those above; with
        ``validate_args``, for a tag outside ``[0, K)``.
    """
    return _sequence_score("crf_sequence_score", tags, unary, transition, start, end,
                           validate_args)


def _sequence_score(function: str, tags, unary, transition, start, end,
                    validate_args: bool) -> Array:
    """:func:`crf_sequence_score`, its errors naming ``function``."""
    unary, transition, start, end = _as_arrays(function, unary, transition, start, end)
    tags = _check_tags(function, tags, unary, validate_args)
    emissions = jnp.sum(jnp.take_along_axis(unary, tags[:, None], axis=1))
    transitions = jnp.sum(transition[tags[:-1], tags[1:]])
    return start[tags[0]] + emissions + transitions + end[tags[-1]]


def crf_log_likelihood(tags: Array, unary: Array, transition: Array,
                       start: Array | None = None, end: Array | None = None, *,
                       validate_args: bool = False) -> Array:
    """Log-likelihood ``log P(tags) = score(tags) - log Z`` of one tag sequence.

    Exact (Lafferty et al. 2001); cost ``O(T K^2)`` for ``log Z`` (forward
    algorithm) plus ``O(T)`` for the score. Differentiable in all scores.

    Args:
      tags: integer tags in ``[0, K)``, shape ``(T,)`` (a tag out of range gives
        NaN or a wrong number unless ``validate_args``).
      unary: shape ``(T, K)`` with ``T, K >= 1``.
      transition: shape exactly ``(K, K)``, ``transition[i, j]`` for ``i`` then
        ``j``.
      start: optional, shape exactly ``(K,)``.
      end: optional, shape exactly ``(K,)``.
      validate_args: also check that the tags lie in ``[0, K)`` (with
        ``jax.experimental.checkify``; see the module docstring).

    Returns:
      A scalar log-probability (``<= 0``).

    Raises:
      ValueError: for non-integer tags or shapes other than those above; with
        ``validate_args``, for a tag outside ``[0, K)``.
    """
    return (_sequence_score("crf_log_likelihood", tags, unary, transition, start, end,
                            validate_args)
            - crf_log_partition(unary, transition, start, end))


def crf_viterbi(unary: Array, transition: Array, start: Array | None = None,
                end: Array | None = None) -> tuple[Array, Array]:
    """Most likely tag sequence of a linear-chain CRF (Viterbi 1967).

    Max-product recursion ``delta_t[j] = max_i(delta_{t-1}[i] + transition[i, j])
    + unary[t, j]`` with back-pointers, then backtracking, both with
    ``lax.scan``. Exact; ``O(T K^2)``. Ties go to the lowest tag index.

    Args:
      unary: shape ``(T, K)`` with ``T, K >= 1``.
      transition: shape exactly ``(K, K)``, ``transition[i, j]`` for ``i`` then
        ``j``.
      start: optional, shape exactly ``(K,)``.
      end: optional, shape exactly ``(K,)``.

    Returns:
      ``(tags, score)``: the best sequence, int32 of shape ``(T,)``, and its
      unnormalized score (``max_y score(y)``; subtract ``crf_log_partition`` for
      its log-probability).

    Raises:
      ValueError: for shapes other than those above.
    """
    unary, transition, start, end = _as_arrays("crf_viterbi", unary, transition, start, end)

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


def crf_marginals(unary: Array, transition: Array, start: Array | None = None,
                  end: Array | None = None) -> tuple[Array, Array]:
    """Node and edge marginals of a linear-chain CRF by forward-backward [P068].

    Forward ``alpha_1 = start + unary[0]``, ``alpha_t[j] = logsumexp_i(alpha_{t-1}[i] +
    transition[i, j]) + unary[t, j]``; backward ``beta_T = end``, ``beta_t[i] =
    logsumexp_j(transition[i, j] + unary[t+1, j] + beta_{t+1}[j])``, both by ``lax.scan``
    in the log semiring; with ``log Z = logsumexp(alpha_T + end)``,

        P(y_t = k) = exp(alpha_t[k] + beta_t[k] - log Z),
        P(y_t = i, y_{t+1} = j) = exp(alpha_t[i] + transition[i, j] + unary[t+1, j]
                                      + beta_{t+1}[j] - log Z).

    Exact, ``O(T K^2)`` (Sutton and McCallum 2012, section 4.1). These are the expected
    feature counts of the log-likelihood gradient: ``d log P(y) / d unary[t, k] =
    1[y_t = k] - P(y_t = k)`` and ``d log P(y) / d transition[i, j] = sum_t 1[y_t = i,
    y_{t+1} = j] - sum_t P(y_t = i, y_{t+1} = j)``.

    Args:
      unary: per-position tag scores, shape ``(T, K)`` with ``T, K >= 1``.
      transition: ``transition[i, j]`` for tag ``i`` followed by tag ``j``, shape
        exactly ``(K, K)``.
      start: optional score of the first tag, shape exactly ``(K,)``.
      end: optional score of the last tag, shape exactly ``(K,)``.

    Returns:
      ``(node, edge)``: ``node (T, K)``, each row summing to one, and ``edge (T-1, K,
      K)``, ``edge[t, i, j] = P(y_t = i, y_{t+1} = j)`` (``(0, K, K)`` when ``T = 1``).

    Raises:
      ValueError: for shapes other than those above.
    """
    unary, transition, start, end = _as_arrays("crf_marginals", unary, transition, start, end)

    def forward(alpha, unary_t):
        alpha = jax.nn.logsumexp(alpha[:, None] + transition, axis=0) + unary_t
        return alpha, alpha

    first = start + unary[0]
    last, alphas = lax.scan(forward, first, unary[1:])
    alphas = jnp.concatenate([first[None], alphas])
    log_z = jax.nn.logsumexp(last + end)

    def backward(beta, unary_next):
        beta = jax.nn.logsumexp(transition + unary_next + beta, axis=1)
        return beta, beta

    _, betas = lax.scan(backward, end, unary[1:], reverse=True)
    betas = jnp.concatenate([betas, end[None]])
    node = jnp.exp(alphas + betas - log_z)
    edge = jnp.exp(alphas[:-1, :, None] + transition + (unary[1:] + betas[1:])[:, None, :]
                   - log_z)
    return node, edge


def crf_count_gradients(tags: Array, unary: Array, transition: Array,
                        start: Array | None = None, end: Array | None = None
                        ) -> tuple[Array, Array, Array, Array]:
    """The gradient of ``log P(tags)`` as empirical minus expected counts [P068].

    For the linear-chain CRF the log-likelihood is linear in its scores up to ``log Z``,
    and ``d log Z`` is the vector of marginals (Sutton and McCallum 2012, eq. 5.6):

        d/d unary[t, k]        = 1[y_t = k] - P(y_t = k)
        d/d transition[i, j]   = sum_t 1[y_t = i, y_{t+1} = j] - sum_t P(y_t = i, y_{t+1} = j)
        d/d start[k], d/d end[k] = 1[y_1 = k] - P(y_1 = k),  1[y_T = k] - P(y_T = k)

    with the marginals of :func:`crf_marginals` (forward-backward, no autodiff). Features
    ``phi`` that map to the scores linearly get ``sum_t phi_t (1[y_t] - P(y_t))`` by the
    chain rule. Equal to ``jax.grad(crf_log_likelihood, argnums=(1, 2, 3, 4))``.

    Args:
      tags: integer tags in ``[0, K)``, shape ``(T,)``.
      unary: per-position tag scores, shape ``(T, K)`` with ``T, K >= 1``.
      transition: ``transition[i, j]`` for tag ``i`` followed by tag ``j``, shape
        exactly ``(K, K)``.
      start: optional score of the first tag, shape exactly ``(K,)``.
      end: optional score of the last tag, shape exactly ``(K,)``.

    Returns:
      ``(d_unary (T, K), d_transition (K, K), d_start (K,), d_end (K,))``.

    Raises:
      ValueError: for non-integer tags or shapes other than those above.
    """
    unary, transition, start, end = _as_arrays("crf_count_gradients", unary, transition,
                                               start, end)
    tags = _check_tags("crf_count_gradients", tags, unary, False)
    node, edge = crf_marginals(unary, transition, start, end)
    observed = jax.nn.one_hot(tags, unary.shape[1], dtype=unary.dtype)
    pairs = jnp.einsum("ti,tj->ij", observed[:-1], observed[1:])
    return (observed - node, pairs - edge.sum(axis=0), observed[0] - node[0],
            observed[-1] - node[-1])
