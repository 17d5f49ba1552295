r"""Coupled Markov chains and the unbiased MCMC estimator of Jacob, O'Leary & Atchade [P139].

Jacob, O'Leary & Atchade (2020), "Unbiased Markov chain Monte Carlo with couplings" (JRSS B),
used by Taniguchi et al. (2024) for the negative phase of deep Boltzmann machines [P139].

Two chains ``X`` and ``Y`` with the same kernel ``P`` and initial law ``pi_0``, ``Y`` one step
behind (lag 1): ``X_0, Y_0 ~ pi_0`` (they may be equal), ``X_1 ~ P(X_0, .)``, then
``(X_{t+1}, Y_t) ~ Pbar((X_t, Y_{t-1}), .)``, a coupling of ``P(X_t, .)`` and
``P(Y_{t-1}, .)`` that is *faithful*: once ``X_t = Y_{t-1}`` the chains move together. With
the meeting time ``tau = min{t >= 1 : X_t = Y_{t-1}}``,

    H = h(X_0) + sum_{t=1}^{tau-1} [h(X_t) - h(Y_{t-1})]

is an unbiased estimator of ``E_pi[h]`` (the telescoping sum of Glynn & Rhee 2014: the
expected correction terms are ``E h(X_t) - E h(X_{t-1})``, since ``Y_{t-1}`` has the law of
``X_{t-1}``), whenever ``tau`` has geometric tails. It costs ``tau`` coupled steps.

Pieces:

* :func:`maximal_coupling`: a draw ``(X, Y)`` with ``X ~ p``, ``Y ~ q`` and
  ``P(X = Y) = 1 - TV(p, q)``, the largest possible (Thorisson's rejection algorithm);
* :func:`coupled_metropolis_hastings`: one step of two MH chains whose proposals are maximally
  coupled and whose accept decisions share one uniform (faithful: equal states stay equal).
  With a proposal that ignores the current state (the uniform proposal of [P139]) both chains
  propose the same state, so they meet as soon as both accept it, or, lag 1, as soon as the
  leading chain rejects its first proposal when ``X_0 = Y_0``;
* :func:`unbiased_expectation`: runs the pair in a ``lax.while_loop`` until they meet (at
  most ``max_iterations`` steps; a capped run is flagged because its estimate is truncated).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from likelihood_jax import _checks

Array = jax.Array
PyTree = object


class CoupledEstimate(NamedTuple):
    """What :func:`unbiased_expectation` returns for one pair of chains.

    Attributes:
      estimate: ``H``, the unbiased estimate of ``E_pi[h]`` (structured like ``h``'s output).
      meeting_time: ``tau`` (int32); ``max_iterations`` when capped.
      met: whether the chains met (False: capped, the estimate is truncated, hence biased).
      state: the leading chain's last state ``X_tau`` (distributed as ``P^tau(pi_0)``).
    """

    estimate: PyTree
    meeting_time: Array
    met: Array
    state: PyTree


def states_equal(x, y) -> Array:
    """Whether two states (pytrees of arrays of the same structure) are equal everywhere."""
    leaves = jax.tree.leaves(jax.tree.map(lambda a, b: jnp.all(a == b), x, y))
    return jnp.all(jnp.stack(leaves))


def maximal_coupling(key, sample_p: Callable, log_p: Callable, sample_q: Callable,
                     log_q: Callable):
    """A maximal coupling of ``p`` and ``q`` (Thorisson 2000; Jacob et al. 2020, Alg. 2).

    Draw ``X ~ p`` and ``W ~ U(0, p(X))``; if ``W <= q(X)`` return ``(X, X)``. Otherwise draw
    ``Y* ~ q`` and ``W* ~ U(0, q(Y*))`` until ``W* > p(Y*)`` and return ``(X, Y*)``. Then
    ``X ~ p``, ``Y ~ q`` and ``P(X = Y) = sum_z min(p(z), q(z)) = 1 - TV(p, q)``. The loop is
    entered with probability ``TV(p, q)`` and each try succeeds with probability
    ``TV(p, q)``, so it runs one try on average when entered (no cap: a cap would bias ``Y``).

    Args:
      key: PRNG key.
      sample_p: ``key -> z``, a draw from ``p``.
      log_p: ``z -> log p(z)`` (normalized, or with a constant shared with ``log_q``).
      sample_q: ``key -> z``, a draw from ``q`` (structured like ``sample_p``'s).
      log_q: ``z -> log q(z)``.

    Returns:
      ``(x, y)``.
    """
    for name, fn in (("sample_p", sample_p), ("log_p", log_p), ("sample_q", sample_q),
                     ("log_q", log_q)):
        _checks.require_callable("maximal_coupling", name, fn)
    key_x, key_w, key_loop = jax.random.split(key, 3)
    x = sample_p(key_x)
    log_w = jnp.log(jax.random.uniform(key_w)) + log_p(x)
    same = log_w <= log_q(x)

    def cond(carry):
        return ~carry[0]

    def body(carry):
        _, _, i = carry
        key_y, key_u = jax.random.split(jax.random.fold_in(key_loop, i))
        y = sample_q(key_y)
        done = jnp.log(jax.random.uniform(key_u)) + log_q(y) > log_p(y)
        return done, y, i + 1

    _, y, _ = jax.lax.while_loop(cond, body, (same, x, jnp.zeros((), jnp.int32)))
    return x, y


def coupled_metropolis_hastings(key, x, y, log_prob_fn: Callable, proposal_sample: Callable,
                                proposal_log_prob: Callable):
    """One coupled Metropolis-Hastings step of two chains (Jacob et al. 2020, Sec. 4.1).

    The proposals ``x' ~ q(. | x)`` and ``y' ~ q(. | y)`` come from :func:`maximal_coupling`;
    both chains accept with one shared uniform ``u``: ``x`` moves to ``x'`` iff
    ``log u < log p(x') - log p(x) + log q(x | x') - log q(x' | x)``, likewise ``y``. Each
    chain alone is an exact MH step (``p`` invariant), and ``x = y`` implies ``x' = y'``.

    Args:
      key: PRNG key.
      x: the first chain's current state.
      y: the second chain's current state (same structure).
      log_prob_fn: ``z -> log p(z)`` up to a constant (a scalar).
      proposal_sample: ``(key, z) -> z'``, a draw from ``q(. | z)``.
      proposal_log_prob: ``(to, frm) -> log q(to | frm)``, normalized (or with one constant
        shared by every ``frm``: the maximal coupling compares ``q(. | x)`` with ``q(. | y)``),
        ``-inf`` off the support.

    Returns:
      The new ``(x, y)``.
    """
    function = "coupled_metropolis_hastings"
    _checks.require_callable(function, "log_prob_fn", log_prob_fn)
    _checks.require_callable(function, "proposal_sample", proposal_sample)
    _checks.require_callable(function, "proposal_log_prob", proposal_log_prob)
    key_prop, key_u = jax.random.split(key)
    prop_x, prop_y = maximal_coupling(
        key_prop, lambda k: proposal_sample(k, x), lambda z: proposal_log_prob(z, x),
        lambda k: proposal_sample(k, y), lambda z: proposal_log_prob(z, y))
    log_u = jnp.log(jax.random.uniform(key_u))

    def move(state, proposal):
        log_ratio = (log_prob_fn(proposal) - log_prob_fn(state)
                     + proposal_log_prob(state, proposal) - proposal_log_prob(proposal, state))
        accept = log_u < jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)
        return jax.tree.map(lambda a, b: jnp.where(accept, a, b), proposal, state)

    return move(x, prop_x), move(y, prop_y)


def unbiased_expectation(key, h_fn: Callable, x0, y0, coupled_kernel: Callable, *,
                         max_iterations: int) -> CoupledEstimate:
    """The lag-1 unbiased estimator ``H`` of ``E_pi[h]`` (module docstring; [P139]).

    ``X_1`` is the first chain of ``coupled_kernel(X_0, X_0)`` (a faithful coupling's
    marginal is ``P``); then, while ``X_t != Y_{t-1}`` (and ``t < max_iterations``), add
    ``h(X_t) - h(Y_{t-1})`` and step ``(X_{t+1}, Y_t) = coupled_kernel(X_t, Y_{t-1})``, all in
    one ``lax.while_loop`` (the kernel is traced once). Under ``jax.vmap`` the loop runs until
    every pair has met.

    Args:
      key: PRNG key.
      h_fn: ``state -> pytree of arrays``, the function whose expectation is estimated.
      x0: the initial state ``X_0 ~ pi_0``.
      y0: ``Y_0 ~ pi_0`` (``y0 = x0`` is allowed: only the marginals matter).
      coupled_kernel: ``(key, x, y) -> (x', y')``, a faithful coupling of ``P(x, .)`` and
        ``P(y, .)`` for a ``pi``-invariant kernel ``P`` (e.g.
        :func:`coupled_metropolis_hastings`).
      max_iterations: cap on ``tau`` (an integer ``>= 1``); a capped pair has ``met = False``.

    Returns:
      :class:`CoupledEstimate`.
    """
    function = "unbiased_expectation"
    _checks.require_callable(function, "h_fn", h_fn)
    _checks.require_callable(function, "coupled_kernel", coupled_kernel)
    _checks.require_integer_at_least(function, "max_iterations", max_iterations, 1)

    def cond(carry):
        t, _, _, _, met = carry
        return (~met) & (t < max_iterations)

    def body(carry):
        t, x, y, total, _ = carry  # x = X_t, y = Y_{t-1} (t = 0: X_0, Y_0)
        first = t == 0
        lagged = jax.tree.map(lambda a, b: jnp.where(first, a, b), x, y)
        h_x, h_y = h_fn(x), h_fn(lagged)
        total = jax.tree.map(lambda s, a, b: s + jnp.where(first, a, a - b), total, h_x, h_y)
        x_new, y_new = coupled_kernel(jax.random.fold_in(key, t), x, lagged)
        y_new = jax.tree.map(lambda a, b: jnp.where(first, a, b), y, y_new)
        return t + 1, x_new, y_new, total, states_equal(x_new, y_new)

    zeros = jax.tree.map(jnp.zeros_like, jax.eval_shape(h_fn, x0))
    init = (jnp.zeros((), jnp.int32), x0, y0, zeros, jnp.zeros((), bool))
    t, x, _, total, met = jax.lax.while_loop(cond, body, init)
    return CoupledEstimate(total, t, met, x)
