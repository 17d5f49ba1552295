"""Any-order autoregressive objectives: masked conditionals and permuted cell sequences [P046].

An any-order autoregressive model gives ``log p(x_i | x_S)`` for any observed set ``S``,
and for an order ``sigma`` (a permutation of the ``D`` positions) the log-likelihood

    L_sigma(x) = sum_{k=1..D} log p(x_sigma(k) | x_sigma(<k)).

Training maximizes the order-averaged ``E_sigma L_sigma(x)`` over uniform ``sigma``
(Uria et al. 2014; STable [P046], Pietruszka et al. 2022, which trains a text-to-table
decoder on random factorisation orders of the table's cells; the conditionals of the
marginalization models [P033] are trained the same way). Two forms live here:

**Masked-input form** (a network reads ``x`` with the unobserved positions replaced by a
mask value and returns log-probabilities ``(D, K)`` for every position):

* :func:`order_log_likelihood`: ``L_sigma(x)`` exactly, ``D`` network calls;
* :func:`order_log_likelihood_estimate`: ``D log p(x_sigma(d) | x_sigma(<d))`` with
  ``d ~ U{1..D}``: unbiased for ``L_sigma(x)`` (any fixed or random ``sigma``), one call;
* :func:`any_order_log_likelihood_estimate`: the one-call estimator of
  ``E_sigma L_sigma(x)`` that scores every unobserved position,

      hat L = D / (D - d + 1) * sum_{i not in sigma(<d)} log p(x_i | x_sigma(<d)),

  unbiased because, given the set ``sigma(<d)`` (uniform of size ``d - 1``), ``sigma(d)``
  is uniform over the ``D - d + 1`` others (Hoogeboom et al. 2022, "Autoregressive
  diffusion models");
* :func:`all_orders_log_likelihood`: ``E_sigma L_sigma(x)`` by enumerating the ``D!``
  orders (``D <= 7``), the reference the tests hold the estimators to.

**Sequence form** (STable [P046]; an encoder-decoder with a causal decoder): the decoder
reads the cells in the order ``sigma`` as the interleaved sequence
``[Q(sigma(1)), v(sigma(1)), Q(sigma(2)), v(sigma(2)), ...]`` (:func:`interleave_cells`),
``Q(c)`` a query token naming cell ``c`` (its row and column) and ``v(c)`` its value. With
the causal mask, the logits at the query position ``2k`` see the document, the queries and
values of the cells ``sigma(<k)`` and the name of cell ``sigma(k)``: they are
``p(v_sigma(k) | v_sigma(<k), doc)``, so one pass gives every term of ``L_sigma``
(:func:`permuted_cell_log_likelihood`). Permuting the sequence under a causal mask is the
same as permuting the attention mask of a fixed sequence (XLNet's two-stream trick); the
cell identity travels in the query token, not in the position. Inference searches over
orders (:func:`any_order_greedy_decode`): at every step the model scores every remaining
cell as the next one and the most confident cell (largest top probability) is written
first, which the paper uses to avoid early errors; a fixed order (left to right) is the
baseline.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable

import jax
import jax.numpy as jnp

LogConditionalFn = Callable[[jax.Array], jax.Array]
"""``tokens (D,) -> log-probabilities (D, K)`` of every position given the observed ones."""

MAX_ENUMERATED_LENGTH = 7


def _check_order(x: jax.Array, order: jax.Array) -> None:
    if x.ndim != 1 or order.shape != x.shape:
        raise ValueError(f"x and order must be one example of the same shape (D,), got "
                         f"{x.shape} and {order.shape}")


def ranks(order: jax.Array) -> jax.Array:
    """``rank[i]`` = the step ``k`` (0-based) at which position ``i`` comes in ``order``."""
    return jnp.argsort(order)


def observed_before(order: jax.Array, d: jax.Array) -> jax.Array:
    """Boolean ``(D,)``: positions among the first ``d`` of ``order`` (``sigma(<=d)``, 1-based)."""
    return ranks(order) < d


def mask_unobserved(x: jax.Array, observed: jax.Array, mask_value: int) -> jax.Array:
    """``x`` with the unobserved positions replaced by ``mask_value``."""
    return jnp.where(observed, x, mask_value).astype(jnp.int32)


def _gather(log_probs: jax.Array, x: jax.Array) -> jax.Array:
    """``log_probs[i, x_i]`` for every position, ``(D,)``."""
    return jnp.take_along_axis(log_probs, x[:, None].astype(jnp.int32), axis=-1)[:, 0]


def order_log_likelihood(log_cond_fn: LogConditionalFn, x: jax.Array, order: jax.Array,
                         mask_value: int) -> jax.Array:
    """``L_sigma(x) = sum_k log p(x_sigma(k) | x_sigma(<k))`` exactly (``D`` sequential calls).

    Args:
      log_cond_fn: ``tokens (D,) -> (D, K)`` log-probabilities (masked input).
      x: one example ``(D,)`` of ints in ``[0, K)``.
      order: a permutation of ``0..D-1``.
      mask_value: the token of an unobserved position.

    Returns:
      A scalar.
    """
    _check_order(x, order)

    def step(total, k):
        tokens = mask_unobserved(x, observed_before(order, k), mask_value)
        log_probs = log_cond_fn(tokens)
        position = order[k]
        return total + log_probs[position, x[position]], None

    total, _ = jax.lax.scan(step, jnp.zeros((), jnp.float32), jnp.arange(x.shape[0]))
    return total


def order_log_likelihood_estimate(log_cond_fn: LogConditionalFn, x: jax.Array,
                                  order: jax.Array, key: jax.Array,
                                  mask_value: int) -> jax.Array:
    """``D log p(x_sigma(d) | x_sigma(<d))``, ``d ~ U{1..D}``: unbiased for ``L_sigma(x)``.

    One network call. Valid for any order, fixed (an ordinary autoregressive model trained
    on a subset of its terms per example) or drawn at random.
    """
    _check_order(x, order)
    size = x.shape[0]
    d = jax.random.randint(key, (), 0, size)  # 0-based: observe sigma(<d), predict sigma(d)
    log_probs = log_cond_fn(mask_unobserved(x, observed_before(order, d), mask_value))
    position = order[d]
    return size * log_probs[position, x[position]]


def any_order_log_likelihood_estimate(log_cond_fn: LogConditionalFn, x: jax.Array,
                                      key: jax.Array, mask_value: int) -> jax.Array:
    """Unbiased one-call estimate of ``E_sigma L_sigma(x)`` (uniform orders).

    ``D / (D - d + 1) * sum_{i unobserved} log p(x_i | x_sigma(<d))`` with ``sigma`` uniform
    and ``d ~ U{1..D}`` (see the module docstring). Scoring all ``D - d + 1`` unobserved
    positions lowers the variance against :func:`order_log_likelihood_estimate`.
    """
    if x.ndim != 1:
        raise ValueError(f"x must be one example (D,), got shape {x.shape}")
    size = x.shape[0]
    order_key, d_key = jax.random.split(key)
    order = jax.random.permutation(order_key, size)
    d = jax.random.randint(d_key, (), 0, size)  # number observed, 0..D-1
    return any_order_log_likelihood_term(log_cond_fn, x, order, d, mask_value)


def any_order_log_likelihood_term(log_cond_fn: LogConditionalFn, x: jax.Array,
                                  order: jax.Array, d: jax.Array,
                                  mask_value: int) -> jax.Array:
    """``D / (D - d) * sum_{i not in sigma(<d)} log p(x_i | x_sigma(<d))``, ``d`` 0-based.

    The estimator of :func:`any_order_log_likelihood_estimate` at a given order and step;
    its mean over all orders and ``d = 0..D-1`` is ``E_sigma L_sigma(x)``.
    """
    _check_order(x, order)
    size = x.shape[0]
    observed = observed_before(order, d)
    log_probs = _gather(log_cond_fn(mask_unobserved(x, observed, mask_value)), x)
    return size / (size - d) * jnp.sum(jnp.where(observed, 0.0, log_probs))


def all_orders_log_likelihood(log_cond_fn: LogConditionalFn, x: jax.Array,
                              mask_value: int) -> jax.Array:
    """``E_sigma L_sigma(x)`` by enumerating all ``D!`` orders (``D <= 7``)."""
    size = x.shape[0]
    if size > MAX_ENUMERATED_LENGTH:
        raise ValueError(f"enumerating {size}! orders is too many (D <= "
                         f"{MAX_ENUMERATED_LENGTH})")
    orders = jnp.asarray(list(itertools.permutations(range(size))), jnp.int32)
    values = jax.vmap(lambda o: order_log_likelihood(log_cond_fn, x, o, mask_value))(orders)
    return jnp.mean(values)


def log_mean_exp_over_orders(log_cond_fn: LogConditionalFn, x: jax.Array, key: jax.Array,
                             mask_value: int, num_orders: int) -> jax.Array:
    """``log (1/M) sum_m exp L_sigma_m(x)``, ``M`` random orders (``D`` calls each).

    The log-likelihood of the order-mixture ``E_sigma p_sigma(x)``; with few orders it is
    a stochastic lower bound in expectation (Jensen), tight when the orders agree.
    """
    orders = jax.vmap(lambda k: jax.random.permutation(k, x.shape[0]))(
        jax.random.split(key, num_orders))
    values = jax.vmap(lambda o: order_log_likelihood(log_cond_fn, x, o, mask_value))(orders)
    return jax.nn.logsumexp(values) - math.log(num_orders)


# -- Sequence form: permuted cells for a causal decoder (STable [P046]) -------------------


def query_token(cell: jax.Array, num_values: int) -> jax.Array:
    """Decoder id of the query naming ``cell``: ``num_values + cell`` (values are ``0..V-1``)."""
    return num_values + cell


def interleave_cells(cells: jax.Array, order: jax.Array, num_values: int) -> jax.Array:
    """Decoder inputs ``(2T,)``: ``[Q(sigma_1), v(sigma_1), ..., Q(sigma_T), v(sigma_T)]``.

    Args:
      cells: the table's values ``(T,)`` (cells in row-major order), ints in ``[0, V)``.
      order: a permutation of ``0..T-1``: the factorisation order of the cells.
      num_values: ``V``; queries get ids ``V..V+T-1`` (decoder vocabulary ``V + T``).
    """
    _check_order(cells, order)
    pairs = jnp.stack([query_token(order, num_values), cells[order]], axis=1)
    return pairs.reshape(-1).astype(jnp.int32)


def permuted_cell_log_probs(logits: jax.Array, cells: jax.Array,
                            order: jax.Array) -> jax.Array:
    """``log p(v_sigma(k) | v_sigma(<k), doc)`` for ``k = 1..T``, from the decoder's logits.

    Args:
      logits: ``(2T, V)`` decoder logits on :func:`interleave_cells`'s sequence (the ones at
        the query positions ``0, 2, ..., 2T - 2`` are used).
      cells: ``(T,)`` values.
      order: the permutation the sequence was built with.

    Returns:
      ``(T,)``, in the order's steps; their sum is ``L_sigma``.
    """
    _check_order(cells, order)
    if logits.ndim != 2 or logits.shape[0] != 2 * cells.shape[0]:
        raise ValueError(f"logits must have shape (2T, V) = ({2 * cells.shape[0]}, V), got "
                         f"{logits.shape}")
    return _gather(jax.nn.log_softmax(logits[0::2], axis=-1), cells[order])


def permuted_cell_log_likelihood(logits: jax.Array, cells: jax.Array,
                                 order: jax.Array) -> jax.Array:
    """``L_sigma = sum_k log p(v_sigma(k) | v_sigma(<k), doc)``: one decoder pass, one order.

    With ``order`` uniform this is an unbiased one-sample estimate of the any-order
    objective ``E_sigma L_sigma`` of STable [P046] (a test checks it against all ``T!``
    orders of a tiny table).
    """
    return jnp.sum(permuted_cell_log_probs(logits, cells, order))


CellLogitsFn = Callable[[jax.Array, jax.Array], jax.Array]
"""``(prefix (2T,), k) -> (T, V)`` logits of every cell as the ``k``-th (0-based) cell."""


def any_order_greedy_decode(cell_logits_fn: CellLogitsFn, num_cells: int, num_values: int,
                            order: jax.Array | None = None
                            ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Greedy decoding of a table cell by cell, in a searched or a fixed order [P046].

    At step ``k`` the prefix holds the first ``k`` (query, value) pairs; ``cell_logits_fn``
    scores every cell as the next one. With ``order=None`` the remaining cell of largest
    top probability is chosen (STable's confidence-ordered search); otherwise ``order[k]``.
    The chosen cell gets its argmax value.

    Args:
      cell_logits_fn: see :data:`CellLogitsFn` (prefix entries at ``>= 2k`` are ignored by
        a causal decoder and hold zeros).
      num_cells: ``T``.
      num_values: ``V``.
      order: a fixed order ``(T,)``, or None to search.

    Returns:
      ``(cells (T,), order (T,), log_probs (T,))``: the decoded values in cell order, the
      order used, and the log-probability of each chosen value in the order's steps.
    """
    fixed = order is not None

    def step(k, carry):
        prefix, done, cells, chosen, log_probs = carry
        lp = jax.nn.log_softmax(cell_logits_fn(prefix, k), axis=-1)  # (T, V)
        best = jnp.max(lp, axis=-1)
        cell = order[k] if fixed else jnp.argmax(jnp.where(done, -jnp.inf, best))
        value = jnp.argmax(lp[cell]).astype(jnp.int32)
        prefix = prefix.at[2 * k].set(query_token(cell, num_values)).at[2 * k + 1].set(value)
        return (prefix, done.at[cell].set(True), cells.at[cell].set(value),
                chosen.at[k].set(cell), log_probs.at[k].set(lp[cell, value]))

    init = (jnp.zeros((2 * num_cells,), jnp.int32), jnp.zeros((num_cells,), bool),
            jnp.zeros((num_cells,), jnp.int32), jnp.zeros((num_cells,), jnp.int32),
            jnp.zeros((num_cells,), jnp.float32))
    _, _, cells, chosen, log_probs = jax.lax.fori_loop(0, num_cells, step, init)
    return cells, chosen, log_probs
