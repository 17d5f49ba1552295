"""Sum-product belief propagation over binary variables with pairwise and counting factors.

The Gibbs distribution of "Learning from Label Proportions: Bootstrapping Supervised
Learners via Belief Propagation" [P231] (Havaldar et al. 2024) over labels
``y in {0, 1}^N``:

    log p(y) = sum_i unary[i, y_i] + sum_e pairwise[e, y_{a_e}, y_{b_e}]
               + sum_m count_log_potentials[m, sum_{i in bag m} y_i] - log Z

with edges ``(a_e, b_e)`` (e.g. a kNN graph: similar covariates, similar labels) and one
counting factor per bag (its label count, the bag's label proportion times its size).
Messages live in log space, normalized to ``logsumexp = 0``:

* factor-to-variable along a pairwise edge:
  ``m_{e->b}(y_b) = logsumexp_{y_a} pairwise[e, y_a, y_b] + q_{a->e}(y_a)``;
* counting factor ``m`` to a member ``i`` (the message of a counting factor, by dynamic
  programming over counts instead of the ``2^n`` sum):
  ``m_{m->i}(y) = logsumexp_c phi_m(c + y) + log P_{-i}(c)`` where ``P_{-i}`` is the
  distribution of the count of the *other* members under their incoming messages, the
  convolution of the prefix and suffix count distributions (``lax.scan``), ``O(n^3)``
  per bag of ``n``;
* variable-to-factor: ``q_{i->f} = belief_i - m_{f->i}`` with
  ``belief_i = unary_i + sum_f m_{f->i}`` (summed with ``segment_sum``).

All messages are updated in parallel (a flooding schedule) for ``num_iters`` iterations by
``lax.scan``, with optional damping ``m <- (1 - damping) m_new + damping m_old`` (in log
space) for loopy graphs. On a tree-structured factor graph the beliefs are the exact
marginals once ``num_iters`` exceeds its diameter (Pearl 1988); on loopy graphs they are
the Bethe approximation when BP converges (``residuals`` tells).

Bags of different sizes are padded to ``S`` slots with ``bag_mask``; a padded slot is a
label fixed to 0 that adds nothing to the count. Log-potentials may be ``-inf``
(a hard count); messages are floored at ``-1e4`` so that no ``inf - inf`` arises.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from likelihood_jax import _checks

Array = jax.Array
_LOG_FLOOR = -1e4


class BPResult(NamedTuple):
    """Output of :func:`belief_propagation_marginals`.

    Attributes:
      marginals: ``p(y_i = 1)`` (beliefs normalized), shape ``(N,)``.
      log_beliefs: normalized log-beliefs ``(N, 2)``.
      residuals: the largest change of any log-message at each iteration,
        ``(num_iters,)``; it goes to zero when BP converges.
    """

    marginals: Array
    log_beliefs: Array
    residuals: Array


def _normalize(log_messages: Array) -> Array:
    """Log-messages over the last axis normalized to ``logsumexp = 0``, floored."""
    normalized = log_messages - jax.nn.logsumexp(log_messages, axis=-1, keepdims=True)
    return jnp.maximum(jnp.nan_to_num(normalized, nan=_LOG_FLOOR), _LOG_FLOOR)


def _log_convolve(a: Array, b: Array) -> Array:
    """``c -> logsumexp_k a[k] + b[c - k]`` for ``c = 0..len(a)-1`` (log of a convolution)."""
    size = a.shape[0]
    shift = jnp.arange(size)[:, None] - jnp.arange(size)[None, :]  # c - k
    shifted = jnp.where(shift >= 0, b[jnp.clip(shift, 0, size - 1)], -jnp.inf)
    return jax.nn.logsumexp(a[None, :] + shifted, axis=1)


def counting_factor_messages(incoming: Array, count_log_potential: Array,
                             member_mask: Array | None = None) -> Array:
    """Messages of one counting factor to its members, by dynamic programming [P231].

    For members ``i = 1..S`` with incoming log-messages ``q_i(y)`` and the factor
    ``phi(c)``, ``c = sum_i y_i``:
    ``m_i(y) = log sum_{y_{-i}} phi(y + sum_{j != i} y_j) prod_{j != i} exp q_j(y_j)``
    (normalized). The count distribution of the other members is the log-space
    convolution of the prefix distributions (members ``< i``) and suffix distributions
    (members ``> i``), each built by ``lax.scan`` with
    ``P_{j+1}(c) = P_j(c) p_j(0) + P_j(c - 1) p_j(1)``. Exact; ``O(S^3)`` instead of ``2^S``.

    Args:
      incoming: log-messages from the members, shape ``(S, 2)`` (any normalization).
      count_log_potential: ``log phi(c)`` for ``c = 0..S``, shape ``(S + 1,)``; ``-inf``
        for an impossible count.
      member_mask: optional boolean ``(S,)``: ``False`` marks a padded slot (its label is
        fixed to 0; its message is returned as ``(0, floor)`` and does not matter).

    Returns:
      Normalized log-messages to the members, shape ``(S, 2)``.

    Raises:
      ValueError: for shapes other than those above.
    """
    function = "counting_factor_messages"
    incoming = jnp.asarray(incoming)
    _checks.require_rank(function, "incoming", incoming, 2, "(S, 2)")
    size = incoming.shape[0]
    _checks.require_shape(function, "incoming", incoming, (size, 2), "(S, 2)")
    _checks.require_shape(function, "count_log_potential", count_log_potential, (size + 1,),
                          "(S + 1,)")
    if member_mask is not None:
        _checks.require_shape(function, "member_mask", member_mask, (size,), "(S,)")
    return _counting_messages(incoming, jnp.asarray(count_log_potential, incoming.dtype),
                              None if member_mask is None else jnp.asarray(member_mask, bool))


def _counting_messages(incoming: Array, phi: Array, mask: Array | None) -> Array:
    """:func:`counting_factor_messages` on checked arguments."""
    size = incoming.shape[0]
    log_p = jax.nn.log_softmax(incoming, axis=-1)
    if mask is not None:
        fixed_zero = jnp.array([0.0, -jnp.inf], log_p.dtype)
        log_p = jnp.where(mask[:, None], log_p, fixed_zero)
    delta = jnp.full((size + 1,), -jnp.inf, log_p.dtype).at[0].set(0.0)

    def add_member(dist, log_p_j):
        shifted = jnp.concatenate([jnp.full((1,), -jnp.inf, dist.dtype), dist[:-1]])
        new = jnp.logaddexp(dist + log_p_j[0], shifted + log_p_j[1])
        return new, dist  # emits the distribution *before* member j

    _, prefix = lax.scan(add_member, delta, log_p)  # prefix[i]: members < i
    _, suffix = lax.scan(add_member, delta, log_p, reverse=True)  # suffix[i]: members > i
    others = jax.vmap(_log_convolve)(prefix, suffix)  # (S, S + 1): count of the others
    phi_next = jnp.concatenate([phi[1:], jnp.full((1,), -jnp.inf, phi.dtype)])
    messages = jnp.stack([jax.nn.logsumexp(others + phi, axis=1),
                          jax.nn.logsumexp(others + phi_next, axis=1)], axis=1)
    return _normalize(messages)


def label_count_log_potentials(counts: Array, sizes: Array, num_slots: int, *,
                               strength: float | None = None) -> Array:
    """Counting-factor log-potentials for bags with known label counts [P231].

    ``strength=None``: the hard constraint ``phi(c) = 1[c = count]`` (``log 0 = -inf``);
    otherwise the soft ``log phi(c) = -strength (c - count)^2 / size`` (a Gaussian on the
    proportion). Counts beyond a bag's size are impossible either way.

    Args:
      counts: each bag's number of positive labels, shape ``(M,)``.
      sizes: each bag's size, shape ``(M,)``, at most ``num_slots``.
      num_slots: ``S``, the padded bag size.
      strength: ``None`` or a positive number.

    Returns:
      ``(M, S + 1)`` log-potentials.
    """
    function = "label_count_log_potentials"
    _checks.require_integer_at_least(function, "num_slots", num_slots, 1)
    if strength is not None:
        _checks.require_greater(function, "strength", strength, 0.0)
    counts, sizes = jnp.asarray(counts), jnp.asarray(sizes)
    _checks.require_rank(function, "counts", counts, 1, "(M,)")
    _checks.require_shape(function, "sizes", sizes, counts.shape, "(M,)")
    c = jnp.arange(num_slots + 1)[None, :]
    counts, sizes = counts[:, None].astype(jnp.float32), sizes[:, None]
    if strength is None:
        log_phi = jnp.where(c == counts, 0.0, -jnp.inf)
    else:
        log_phi = -strength * (c - counts) ** 2 / jnp.maximum(sizes, 1)
    return jnp.where(c <= sizes, log_phi, -jnp.inf)


def _check_graph(function: str, unary, edges, pairwise, bags, bag_mask, count_log_potentials):
    unary = jnp.asarray(unary)
    _checks.require_rank(function, "unary", unary, 2, "(N, 2)")
    if unary.shape[1] != 2 or unary.shape[0] < 1:
        raise _checks.error(function, "unary", "of shape (N, 2) with N >= 1",
                            f"shape {unary.shape}")
    if not jnp.issubdtype(unary.dtype, jnp.floating):
        unary = unary.astype(jnp.float32)
    edges = jnp.zeros((0, 2), jnp.int32) if edges is None else jnp.asarray(edges)
    _checks.require_rank(function, "edges", edges, 2, "(E, 2)")
    _checks.require_shape(function, "edges", edges, (edges.shape[0], 2), "(E, 2)")
    _checks.require_integer(function, "edges", edges)
    pairwise = (jnp.zeros((0, 2, 2), unary.dtype) if pairwise is None
                else jnp.asarray(pairwise, unary.dtype))
    _checks.require_shape(function, "pairwise", pairwise, (edges.shape[0], 2, 2), "(E, 2, 2)")
    if bags is None:
        bags = jnp.zeros((0, 1), jnp.int32)
        count_log_potentials = jnp.zeros((0, 2), unary.dtype)
    bags = jnp.asarray(bags)
    _checks.require_rank(function, "bags", bags, 2, "(M, S)")
    _checks.require_integer(function, "bags", bags)
    bag_mask = (jnp.ones(bags.shape, bool) if bag_mask is None
                else jnp.asarray(bag_mask).astype(bool))
    _checks.require_shape(function, "bag_mask", bag_mask, bags.shape, "(M, S)")
    _checks.require_shape(function, "count_log_potentials", count_log_potentials,
                          (bags.shape[0], bags.shape[1] + 1), "(M, S + 1)")
    count_log_potentials = jnp.asarray(count_log_potentials, unary.dtype)
    return unary, edges, pairwise, bags, bag_mask, count_log_potentials


def belief_propagation_marginals(unary: Array, edges: Array | None = None,
                       pairwise: Array | None = None, bags: Array | None = None,
                       bag_mask: Array | None = None,
                       count_log_potentials: Array | None = None, *, num_iters: int = 50,
                       damping: float = 0.0) -> BPResult:
    """Sum-product BP with pairwise and counting factors over binary labels [P231].

    See the module docstring for the distribution and the message updates (parallel
    schedule, ``lax.scan`` over iterations, counting-factor messages by dynamic programming
    over counts). Exact on tree-structured factor graphs for ``num_iters`` at least the
    diameter; on loopy graphs use ``damping`` (e.g. 0.5) and read ``residuals``.

    Args:
      unary: log-potentials ``(N, 2)`` (``[i, y]`` for label ``y`` of variable ``i``).
      edges: integer ``(E, 2)``, the endpoints ``(a, b)`` of each pairwise factor, or None.
      pairwise: log-potentials ``(E, 2, 2)``, ``[e, y_a, y_b]``.
      bags: integer ``(M, S)``, the members of each counting factor (padded), or None.
      bag_mask: boolean ``(M, S)``, ``False`` on padded slots (default all ``True``).
      count_log_potentials: ``(M, S + 1)``, ``log phi_m(c)`` for ``c = 0..S``
        (:func:`label_count_log_potentials`).
      num_iters: iterations, an integer ``>= 1``.
      damping: in ``[0, 1)``.

    Returns:
      :class:`BPResult` ``(marginals (N,), log_beliefs (N, 2), residuals (num_iters,))``.

    Raises:
      ValueError: for shapes or dtypes other than those above, ``num_iters < 1`` or a
        damping outside ``[0, 1)``.
    """
    function = "belief_propagation_marginals"
    _checks.require_integer_at_least(function, "num_iters", num_iters, 1)
    _checks.require_at_least(function, "damping", damping, 0.0)
    if not _checks.is_traced(damping) and not float(damping) < 1.0:
        raise _checks.error(function, "damping", "in [0, 1)", repr(damping))
    unary, edges, pairwise, bags, bag_mask, phi = _check_graph(
        function, unary, edges, pairwise, bags, bag_mask, count_log_potentials)
    num_vars = unary.shape[0]
    tail, head = edges[:, 0], edges[:, 1]
    flat_members = bags.reshape(-1)
    slot_weight = bag_mask.reshape(-1, 1).astype(unary.dtype)
    messages_for_bags = jax.vmap(_counting_messages)

    def log_beliefs(to_tail, to_head, to_members):
        total = unary + jax.ops.segment_sum(to_tail, tail, num_vars)
        total = total + jax.ops.segment_sum(to_head, head, num_vars)
        return total + jax.ops.segment_sum(to_members.reshape(-1, 2) * slot_weight,
                                           flat_members, num_vars)

    def iteration(messages, _):
        to_tail, to_head, to_members = messages
        beliefs = log_beliefs(*messages)
        from_tail = beliefs[tail] - to_tail
        from_head = beliefs[head] - to_head
        new_to_head = _normalize(jax.nn.logsumexp(pairwise + from_tail[:, :, None], axis=1))
        new_to_tail = _normalize(jax.nn.logsumexp(pairwise + from_head[:, None, :], axis=2))
        from_members = beliefs[bags] - to_members
        new_to_members = messages_for_bags(from_members, phi, bag_mask)
        new = (new_to_tail, new_to_head, new_to_members)
        new = jax.tree.map(lambda n, o: (1.0 - damping) * n + damping * o, new, messages)
        residual = jnp.max(jnp.stack([jnp.max(jnp.abs(n - o), initial=0.0)
                                      for n, o in zip(new, messages)]))
        return new, residual

    zeros = jnp.zeros((edges.shape[0], 2), unary.dtype)
    start = (zeros, zeros, jnp.zeros((*bags.shape, 2), unary.dtype))
    messages, residuals = lax.scan(iteration, start, None, length=int(num_iters))
    beliefs = jax.nn.log_softmax(log_beliefs(*messages), axis=-1)
    return BPResult(jnp.exp(beliefs[:, 1]), beliefs, residuals)


def bags_from_index(bag_index, num_bags: int | None = None,
                    num_slots: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Padded member lists ``(bags (M, S), bag_mask (M, S))`` from each item's bag index.

    Host-side (numpy) preparation of counting factors: item ``i`` belongs to bag
    ``bag_index[i]`` (negative: to none); members keep their order. ``num_bags`` and
    ``num_slots`` pad beyond the largest bag index and size (fixed shapes compile once);
    padded slots point at item 0 with ``bag_mask = False``, padded bags are empty.

    Raises:
      ValueError: for a ``bag_index`` that is not a 1-D integer array, or ``num_bags`` /
        ``num_slots`` smaller than needed.
    """
    function = "bags_from_index"
    bag_index = np.asarray(bag_index)
    if bag_index.ndim != 1 or not np.issubdtype(bag_index.dtype, np.integer):
        raise _checks.error(function, "bag_index", "a 1-D integer array",
                            f"shape {bag_index.shape} and dtype {bag_index.dtype}")
    valid = bag_index >= 0
    sizes = np.bincount(bag_index[valid], minlength=0)
    num_bags = len(sizes) if num_bags is None else num_bags
    num_slots = int(sizes.max(initial=1)) if num_slots is None else num_slots
    if num_bags < len(sizes):
        raise _checks.error(function, "num_bags", f">= {len(sizes)}", repr(num_bags))
    if num_slots < sizes.max(initial=0):
        raise _checks.error(function, "num_slots", f">= {sizes.max()}", repr(num_slots))
    bags = np.zeros((num_bags, num_slots), np.int32)
    mask = np.zeros((num_bags, num_slots), bool)
    items = np.flatnonzero(valid)
    order = items[np.argsort(bag_index[items], kind="stable")]
    slots = np.arange(len(order)) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    bags[bag_index[order], slots] = order
    mask[bag_index[order], slots] = True
    return bags, mask
