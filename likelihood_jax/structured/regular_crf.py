"""Linear-chain CRFs constrained to a regular language of tag sequences [P126].

Papay, Klinger and Padó (ICLR 2022), "Constraining Linear-chain CRFs to Regular Languages":
the regular-constrained CRF (RegCCRF) keeps the linear-chain score of
:mod:`~likelihood_jax.structured.crf`,

    score(y) = start[y_1] + sum_t unary[t, y_t] + sum_{t>1} transition[y_{t-1}, y_t] + end[y_T],

but puts zero probability on every tag sequence outside a regular language ``L``:

    P(y | L) = exp(score(y)) 1[y in L] / Z_L,    Z_L = sum_{y in L} exp(score(y)).

``L`` is given by a deterministic finite automaton (DFA) over the tags: ``dfa_next (Q, K)``
(int) is the state after reading tag ``k`` in state ``q``, ``-1`` where the automaton
rejects (a dead state), ``dfa_accept (Q,)`` (bool) marks the accepting states and
``dfa_start`` is the initial state. A DFA has one path per sequence, so the pair
``(y_t, q_t)`` of the current tag and the automaton's state after it is a Markov chain, and
the forward algorithm over these ``K Q`` product states is exact:

    alpha_1[j, q'] = start[j] + unary[0, j]                                if q' = next(q0, j)
    alpha_t[j, q'] = logsumexp_{i, q: next(q, j) = q'} (alpha_{t-1}[i, q] + transition[i, j])
                     + unary[t, j]
    log Z_L       = logsumexp_{j, q accepting} (alpha_T[j, q] + end[j])

in two stages per step (``logsumexp`` over ``i``, then over ``q``), ``O(T (K^2 Q + K Q^2))``
time with ``lax.scan``. Viterbi is the same recursion in the max semiring with back-pointers
over the product states. (The paper builds the same product from an unambiguous automaton
with an auxiliary CRF over its transitions; for a DFA both give this recursion.) With no
accepted sequence of length ``T``, ``log Z_L = -inf``; the recursion keeps ``-inf`` exact
and its gradients finite (a ``logsumexp`` over nothing but ``-inf`` is ``-inf`` with a zero
gradient).

Argument domains: those of :mod:`~likelihood_jax.structured.crf` for ``unary``,
``transition``, ``start``, ``end``; ``dfa_next`` integer of shape exactly ``(Q, K)`` with
``Q >= 1`` and entries in ``[-1, Q)``; ``dfa_accept`` boolean of shape exactly ``(Q,)``;
``dfa_start`` an integer in ``[0, Q)``. Shapes and dtypes are checked when a function is
traced; the entries of ``dfa_next`` and ``dfa_start`` are checked whenever they are concrete
(a DFA is usually a constant, also under ``jax.jit``), and for traced ones only with
``validate_args=True`` (``jax.experimental.checkify``, as for the tags).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from likelihood_jax import _checks
from likelihood_jax.structured import crf

Array = jax.Array


def _check_dfa(function: str, num_tags: int, dfa_next, dfa_accept, dfa_start,
               validate_args: bool) -> tuple[Array, Array, Array]:
    """The DFA as arrays (int32 ``(Q, K)``, bool ``(Q,)``, int32 scalar), checked."""
    _checks.require_integer(function, "dfa_next", dfa_next)
    _checks.require_rank(function, "dfa_next", dfa_next, 2, "(Q, K)")
    num_states = jnp.shape(dfa_next)[0]
    if num_states < 1 or jnp.shape(dfa_next)[1] != num_tags:
        raise _checks.error(function, "dfa_next", f"of shape (Q, K) with Q >= 1 and K = "
                            f"{num_tags} (unary's tags)", f"shape {jnp.shape(dfa_next)}")
    if jnp.result_type(dfa_accept) != jnp.bool_:
        raise _checks.error(function, "dfa_accept", "a boolean array",
                            f"dtype {jnp.result_type(dfa_accept)}")
    _checks.require_shape(function, "dfa_accept", dfa_accept, (num_states,), "(Q,)")
    _checks.require_rank(function, "dfa_start", dfa_start, 0, "() (a state)")
    _checks.require_integer(function, "dfa_start", dfa_start)
    if not _checks.is_traced(dfa_next):
        entries = np.asarray(dfa_next)
        if entries.size and (entries.min() < -1 or entries.max() >= num_states):
            raise _checks.error(function, "dfa_next", f"states in [-1, {num_states}) "
                                f"(-1: reject)", f"min {entries.min()} and max {entries.max()}")
    elif validate_args:
        _checks.check_in_range(function, "dfa_next", dfa_next, -1, num_states)
    if not _checks.is_traced(dfa_start):
        if not 0 <= int(dfa_start) < num_states:
            raise _checks.error(function, "dfa_start", f"a state in [0, {num_states})",
                                repr(int(dfa_start)))
    elif validate_args:
        _checks.check_in_range(function, "dfa_start", dfa_start, 0, num_states)
    return (jnp.asarray(dfa_next, jnp.int32), jnp.asarray(dfa_accept),
            jnp.asarray(dfa_start, jnp.int32))


def _log_mask(condition: Array, dtype) -> Array:
    """``0`` where ``condition`` holds, ``-inf`` elsewhere."""
    return jnp.where(condition, jnp.zeros((), dtype), -jnp.inf)


def _logsumexp(x: Array, axis) -> Array:
    """``logsumexp`` that returns ``-inf`` with a zero (not NaN) gradient over all ``-inf``."""
    some = jnp.isfinite(jnp.max(x, axis=axis, keepdims=True))
    out = jax.nn.logsumexp(jnp.where(some, x, 0.0), axis=axis)
    return jnp.where(jnp.squeeze(some, axis), out, -jnp.inf)


def _product_chain(function: str, unary, transition, dfa_next, dfa_accept, dfa_start, start,
                   end, validate_args: bool = False):
    """The checked arrays and the product-chain pieces shared by the recursions.

    Returns ``unary (T, K)``, ``transition``, ``first (K, Q)`` (the scores of
    ``(y_1, q_1)``), ``moves (Q, K, Q)`` (``0`` where ``next(q, j) = q'``, else ``-inf``)
    and ``final (K, Q)`` (``end[j]`` at accepting ``q``, else ``-inf``).
    """
    unary, transition, start, end = crf._as_arrays(function, unary, transition, start, end)
    dfa_next, dfa_accept, dfa_start = _check_dfa(function, unary.shape[1], dfa_next,
                                                 dfa_accept, dfa_start, validate_args)
    num_states = dfa_next.shape[0]
    moves = _log_mask(dfa_next[:, :, None] == jnp.arange(num_states), unary.dtype)
    first = (start + unary[0])[:, None] + moves[dfa_start]
    final = end[:, None] + _log_mask(dfa_accept, unary.dtype)[None, :]
    return unary, transition, first, moves, final


def regular_crf_log_partition(unary: Array, transition: Array, dfa_next: Array,
                              dfa_accept: Array, *, dfa_start: int = 0,
                              start: Array | None = None, end: Array | None = None) -> Array:
    """``log Z_L = log sum_{y in L} exp(score(y))`` by the forward algorithm [P126].

    The linear-chain CRF restricted to the tag sequences accepted by the DFA
    ``(dfa_next, dfa_accept, dfa_start)``; the recursion over the ``K Q`` product states of
    the module docstring, exact, ``O(T (K^2 Q + K Q^2))``. ``-inf`` when no sequence of
    length ``T`` is accepted. Differentiable: ``d log Z_L / d unary[t, k] = P(y_t = k | L)``.

    Args:
      unary: per-position tag scores, shape ``(T, K)`` with ``T, K >= 1``.
      transition: ``transition[i, j]`` for tag ``i`` followed by tag ``j``, shape
        exactly ``(K, K)``.
      dfa_next: integer, shape exactly ``(Q, K)`` with ``Q >= 1``: the state after tag
        ``k`` in state ``q``, in ``[0, Q)``, or ``-1`` (reject).
      dfa_accept: boolean, shape exactly ``(Q,)``: the accepting states.
      dfa_start: the initial state, an integer in ``[0, Q)``.
      start: optional score of the first tag, shape exactly ``(K,)``.
      end: optional score of the last tag, shape exactly ``(K,)``.

    Returns:
      A scalar, ``log Z_L``.

    Raises:
      ValueError: for shapes or dtypes other than those above, or (when concrete)
        ``dfa_next`` entries outside ``[-1, Q)`` or ``dfa_start`` outside ``[0, Q)``.
    """
    return _log_partition("regular_crf_log_partition", unary, transition, dfa_next,
                          dfa_accept, dfa_start, start, end)


def _log_partition(function: str, unary, transition, dfa_next, dfa_accept, dfa_start, start,
                   end, validate_args: bool = False) -> Array:
    """:func:`regular_crf_log_partition`, its errors naming ``function``."""
    unary, transition, first, moves, final = _product_chain(
        function, unary, transition, dfa_next, dfa_accept, dfa_start, start, end,
        validate_args)

    def step(alpha, unary_t):  # alpha [i, q]
        by_tag = _logsumexp(alpha.T[:, :, None] + transition, axis=1)  # [q, j]
        alpha = _logsumexp(by_tag[:, :, None] + moves, axis=0) + unary_t[:, None]  # [j, q']
        return alpha, None

    alpha, _ = lax.scan(step, first, unary[1:])
    return _logsumexp((alpha + final).reshape(-1), axis=0)


def regular_crf_viterbi(unary: Array, transition: Array, dfa_next: Array, dfa_accept: Array,
                        *, dfa_start: int = 0, start: Array | None = None,
                        end: Array | None = None) -> tuple[Array, Array]:
    """The best tag sequence in the regular language ``L`` (constrained Viterbi) [P126].

    ``argmax_{y in L} score(y)``: the max-semiring recursion over the ``(tag, state)``
    product of the module docstring with back-pointers, then backtracking, both by
    ``lax.scan``; exact, ``O(T (K^2 Q + K Q^2))``. Ties go to the lowest flat index.

    Args:
      unary: per-position tag scores, shape ``(T, K)`` with ``T, K >= 1``.
      transition: ``transition[i, j]`` for tag ``i`` followed by tag ``j``, shape
        exactly ``(K, K)``.
      dfa_next: integer, shape exactly ``(Q, K)`` with ``Q >= 1``: the state after tag
        ``k`` in state ``q``, in ``[0, Q)``, or ``-1`` (reject).
      dfa_accept: boolean, shape exactly ``(Q,)``: the accepting states.
      dfa_start: the initial state, an integer in ``[0, Q)``.
      start: optional score of the first tag, shape exactly ``(K,)``.
      end: optional score of the last tag, shape exactly ``(K,)``.

    Returns:
      ``(tags, score)``: int32 ``(T,)`` and its unnormalized score ``max_{y in L}
      score(y)``. When no sequence of length ``T`` is accepted the score is ``-inf``
      and the tags mean nothing.

    Raises:
      ValueError: as :func:`regular_crf_log_partition`.
    """
    unary, transition, first, moves, final = _product_chain(
        "regular_crf_viterbi", unary, transition, dfa_next, dfa_accept, dfa_start, start, end)
    num_tags, num_states = first.shape

    def forward(delta, unary_t):  # delta [i, q]
        candidates = delta.T[:, :, None] + transition  # [q, i, j]
        by_tag, best_tag = jnp.max(candidates, axis=1), jnp.argmax(candidates, axis=1)
        candidates = by_tag[:, :, None] + moves  # [q, j, q']
        delta = jnp.max(candidates, axis=0) + unary_t[:, None]
        return delta, (best_tag, jnp.argmax(candidates, axis=0))

    delta, (tag_pointers, state_pointers) = lax.scan(forward, first, unary[1:])
    scores = (delta + final).reshape(-1)
    last = jnp.argmax(scores).astype(jnp.int32)
    last_tag, last_state = last // num_states, last % num_states

    def backward(carry, pointers):
        tag, state = carry
        tag_pointers_t, state_pointers_t = pointers
        previous_state = state_pointers_t[tag, state].astype(jnp.int32)
        previous_tag = tag_pointers_t[previous_state, tag].astype(jnp.int32)
        return (previous_tag, previous_state), previous_tag

    _, earlier = lax.scan(backward, (last_tag, last_state), (tag_pointers, state_pointers),
                          reverse=True)
    return jnp.concatenate([earlier, last_tag[None]]), jnp.max(scores)


def dfa_accepts(tags: Array, dfa_next: Array, dfa_accept: Array, *, dfa_start: int = 0,
                validate_args: bool = False) -> Array:
    """Whether the DFA accepts the tag sequence: ``1[y in L]`` [P126].

    Runs ``q_t = dfa_next[q_{t-1}, y_t]`` from ``q_0 = dfa_start`` (``lax.scan``, ``O(T)``);
    accepted iff no step rejects (``-1``) and ``q_T`` is accepting.

    Args:
      tags: integer tags in ``[0, K)``, shape ``(T,)`` with ``T >= 1``.
      dfa_next: integer, shape exactly ``(Q, K)`` with ``Q >= 1``: the state after tag
        ``k`` in state ``q``, in ``[0, Q)``, or ``-1`` (reject).
      dfa_accept: boolean, shape exactly ``(Q,)``: the accepting states.
      dfa_start: the initial state, an integer in ``[0, Q)``.
      validate_args: also check that the tags lie in ``[0, K)`` and (when traced) the
        DFA's entries (``jax.experimental.checkify``).

    Returns:
      A boolean scalar.

    Raises:
      ValueError: for shapes or dtypes other than those above, or bad concrete DFA
        entries; with ``validate_args``, for a tag outside ``[0, K)``.
    """
    return _accepts("dfa_accepts", tags, dfa_next, dfa_accept, dfa_start, validate_args)


def _accepts(function: str, tags, dfa_next, dfa_accept, dfa_start, validate_args) -> Array:
    """:func:`dfa_accepts`, its errors naming ``function``."""
    tags = jnp.asarray(tags)
    _checks.require_integer(function, "tags", tags)
    _checks.require_rank(function, "tags", tags, 1, "(T,)")
    if tags.shape[0] < 1:
        raise _checks.error(function, "tags", "of shape (T,) with T >= 1",
                            f"shape {tags.shape}")
    num_tags = jnp.shape(dfa_next)[-1] if jnp.ndim(dfa_next) else 0  # a bad rank raises below
    dfa_next, dfa_accept, dfa_start = _check_dfa(function, num_tags, dfa_next, dfa_accept,
                                                 dfa_start, validate_args)
    if validate_args:
        _checks.check_in_range(function, "tags", tags, 0, dfa_next.shape[1])

    def step(state, tag):
        following = dfa_next[jnp.maximum(state, 0), tag]
        return jnp.where(state < 0, -1, following), None

    state, _ = lax.scan(step, dfa_start, tags.astype(jnp.int32))
    return (state >= 0) & dfa_accept[jnp.maximum(state, 0)]


def regular_crf_log_likelihood(tags: Array, unary: Array, transition: Array, dfa_next: Array,
                               dfa_accept: Array, *, dfa_start: int = 0,
                               start: Array | None = None, end: Array | None = None,
                               validate_args: bool = False) -> Array:
    """``log P(tags | L) = score(tags) - log Z_L`` for tags in ``L``, else ``-inf`` [P126].

    The RegCCRF's training objective (constrained training, the paper's point: the model
    is fitted to the distribution restricted to ``L``, not only decoded in it). Exact;
    differentiable in all scores (zero gradient for tags outside ``L``).

    Args:
      tags: integer tags in ``[0, K)``, shape ``(T,)``.
      unary: per-position tag scores, shape ``(T, K)`` with ``T, K >= 1``.
      transition: ``transition[i, j]`` for tag ``i`` followed by tag ``j``, shape
        exactly ``(K, K)``.
      dfa_next: integer, shape exactly ``(Q, K)`` with ``Q >= 1``: the state after tag
        ``k`` in state ``q``, in ``[0, Q)``, or ``-1`` (reject).
      dfa_accept: boolean, shape exactly ``(Q,)``: the accepting states.
      dfa_start: the initial state, an integer in ``[0, Q)``.
      start: optional score of the first tag, shape exactly ``(K,)``.
      end: optional score of the last tag, shape exactly ``(K,)``.
      validate_args: also check that the tags lie in ``[0, K)`` and (when traced) the
        DFA's entries (``jax.experimental.checkify``).

    Returns:
      A scalar log-probability (``<= 0``; ``-inf`` for tags outside ``L``).

    Raises:
      ValueError: for shapes or dtypes other than those above, or bad concrete DFA
        entries; with ``validate_args``, for a tag outside ``[0, K)``.
    """
    function = "regular_crf_log_likelihood"
    score = crf._sequence_score(function, tags, unary, transition, start, end, validate_args)
    log_z = _log_partition(function, unary, transition, dfa_next, dfa_accept, dfa_start, start,
                           end, validate_args)
    accepted = _accepts(function, tags, dfa_next, dfa_accept, dfa_start, False)
    return jnp.where(accepted, score - log_z, -jnp.inf)


def bio_span_count_dfa(num_types: int, counted_type: int, count: int
                       ) -> tuple[np.ndarray, np.ndarray]:
    """The DFA of valid BIO tag sequences with exactly ``count`` spans of one type [P126].

    Tags: ``0`` is ``O``, ``1 + 2 t`` is ``B-t`` and ``2 + 2 t`` is ``I-t`` for span types
    ``t < num_types`` (``K = 1 + 2 num_types``). ``I-t`` may only follow ``B-t`` or ``I-t``;
    the spans of ``counted_type`` (each begins with its ``B``) must number exactly
    ``count``: a global arity constraint, which no linear-chain CRF can express. State
    ``c (1 + num_types) + last`` holds the spans counted so far ``c <= count`` and the last
    tag's class (``0``: ``O`` or the start, ``1 + t``: inside a span of type ``t``); the
    start state is ``0``; accepting states are those with ``c = count``.

    Args:
      num_types: the number of span types, an integer ``>= 1``.
      counted_type: the type whose spans are counted, an integer in ``[0, num_types)``.
      count: the required number of its spans, an integer ``>= 0``.

    Returns:
      ``(dfa_next, dfa_accept)``: int32 ``(Q, K)`` and bool ``(Q,)`` numpy arrays with
      ``Q = (count + 1)(num_types + 1)``; pass them with ``dfa_start=0``.

    Raises:
      ValueError: for arguments outside the domains above.
    """
    function = "bio_span_count_dfa"
    _checks.require_integer_at_least(function, "num_types", num_types, 1)
    _checks.require_integer_at_least(function, "count", count, 0)
    _checks.require_integer_at_least(function, "counted_type", counted_type, 0)
    if counted_type >= num_types:
        raise _checks.error(function, "counted_type", f"an integer in [0, {num_types})",
                            repr(counted_type))
    classes = num_types + 1
    dfa_next = np.full(((count + 1) * classes, 1 + 2 * num_types), -1, np.int32)
    for counted in range(count + 1):
        for last in range(classes):
            state = counted * classes + last
            dfa_next[state, 0] = counted * classes
            for t in range(num_types):
                after = counted + (t == counted_type)
                if after <= count:
                    dfa_next[state, 1 + 2 * t] = after * classes + 1 + t
                if last == 1 + t:
                    dfa_next[state, 2 + 2 * t] = state
    dfa_accept = np.zeros((count + 1) * classes, bool)
    dfa_accept[count * classes:] = True
    return dfa_next, dfa_accept
