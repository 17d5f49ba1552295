"""Generative marginalization models (MaM): a network for every marginal ``log p(x_S)`` [P033].

Liu, Ramadge & Adams (2024), "Generative Marginalization Models" (ICML; code
github.com/PrincetonLIPS/MaM, read for the losses below, none of it copied). Discrete data
``x in [0, K)^D``. A *marginal network* ``f_theta`` reads ``x`` with the unobserved
positions replaced by the mask token ``K`` and returns one number, ``log p_theta(x_S)``
(unnormalized: the total mass is ``p_theta(empty) = exp f_theta(all masked)``). A
*conditional network* ``g_phi`` (an any-order autoregressive model,
:mod:`likelihood_jax.flows.any_order`) returns ``log p_phi(x_i | x_S)`` for every ``i``.

Marginals are self-consistent when ``p(x_S) = sum_{x_i} p(x_S, x_i)`` for every ``S`` and
``i not in S`` (:func:`sum_rule_residual`). The paper trains the equivalent one-step form
with the conditionals, over random orders ``sigma`` and steps ``d``
(:func:`self_consistency_residual`):

    r = log p_theta(x_sigma(<=d)) - log p_theta(x_sigma(<d)) - log p_phi(x_sigma(d) | x_sigma(<d)),

and pins the empty marginal, ``log p_theta(empty) = log Z`` (0 for a normalized model).
:func:`self_consistency_loss` is the paper's penalty per example, ``D r^2 + (f_theta(empty)
- log Z)^2`` (``D`` times the mean over ``d`` of the squared residuals, plus the anchor).

Training (the paper's two settings):

* maximum likelihood: the conditionals by the any-order objective on data
  (:func:`~likelihood_jax.flows.any_order.any_order_log_likelihood_estimate`), the marginals by
  the self-consistency penalty against them (the public code fits them in two steps; here
  both in one with ``stop_gradient`` on the conditionals in the penalty, which is the same
  fixed point);
* energy-based, to a target known up to a constant ``p~ = exp(-E)``: reverse KL
  ``KL(p_theta || p)`` by REINFORCE on samples of the conditionals
  (:func:`reinforce_kl_surrogate`, the code's standardized weights), plus the penalty on
  those samples.

Evaluation is one pass: :func:`marginal_log_prob` ``= f_theta(x_S) - f_theta(empty)``
(normalized by the learned total mass), :func:`log_prob` the full ``x``; an autoregressive
model needs ``|S|`` sequential passes for the same marginal. Sampling uses the
conditionals (:func:`sample`), ancestral in a random order.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp

from likelihood_jax.flows import any_order

LogMarginalFn = Callable[[jax.Array], jax.Array]
"""``tokens (D,) -> log p_theta(x_S)`` (scalar), unobserved positions holding the mask token."""


def all_masked(num_dims: int, num_values: int) -> jax.Array:
    """The empty observation: ``(D,)`` of mask tokens ``K``."""
    return jnp.full((num_dims,), num_values, jnp.int32)


def marginal_log_prob(log_marginal_fn: LogMarginalFn, x: jax.Array, observed: jax.Array,
                      num_values: int) -> jax.Array:
    """``log p_theta(x_S) - log p_theta(empty)``: the normalized marginal of ``S = observed``.

    Two network calls (one if the caller caches ``f_theta(empty)``), whatever ``|S|``.
    """
    if observed.shape != x.shape or x.ndim != 1:
        raise ValueError(f"x and observed must be one example of the same shape (D,), got "
                         f"{x.shape} and {observed.shape}")
    tokens = any_order.mask_unobserved(x, observed, num_values)
    return log_marginal_fn(tokens) - log_marginal_fn(all_masked(x.shape[0], num_values))


def log_prob(log_marginal_fn: LogMarginalFn, x: jax.Array, num_values: int) -> jax.Array:
    """``log p_theta(x)`` of a full example ``(D,)`` (the density's log-likelihood)."""
    return marginal_log_prob(log_marginal_fn, x, jnp.ones(x.shape, bool), num_values)


def sum_rule_residual(log_marginal_fn: LogMarginalFn, x: jax.Array, observed: jax.Array,
                      position: jax.Array, num_values: int) -> jax.Array:
    """``log p_theta(x_S) - logsumexp_v log p_theta(x_S, x_i = v)``, ``i = position not in S``.

    Zero for every ``(x, S, i)`` exactly when the marginals are self-consistent. ``K + 1``
    network calls.
    """
    tokens = any_order.mask_unobserved(x, observed, num_values)
    extended = jax.vmap(lambda v: tokens.at[position].set(v))(jnp.arange(num_values))
    return log_marginal_fn(tokens) - jax.nn.logsumexp(jax.vmap(log_marginal_fn)(extended))


def conditional_from_marginals(log_marginal_fn: LogMarginalFn, x: jax.Array,
                               observed: jax.Array, position: jax.Array,
                               num_values: int) -> jax.Array:
    """``log p_theta(x_i = v | x_S)`` for ``v = 0..K-1`` from the marginals alone, ``(K,)``.

    ``log p_theta(x_S, x_i = v) - log p_theta(x_S)``: normalized only if self-consistent.
    """
    tokens = any_order.mask_unobserved(x, observed, num_values)
    extended = jax.vmap(lambda v: tokens.at[position].set(v))(jnp.arange(num_values))
    return jax.vmap(log_marginal_fn)(extended) - log_marginal_fn(tokens)


def self_consistency_residual(log_marginal_fn: LogMarginalFn,
                              log_cond_fn: any_order.LogConditionalFn, x: jax.Array,
                              order: jax.Array, d: jax.Array, num_values: int) -> jax.Array:
    """``log p(x_sigma(<=d)) - log p(x_sigma(<d)) - log p_phi(x_sigma(d) | x_sigma(<d))``.

    Args:
      log_marginal_fn: the marginal network ``tokens (D,) -> scalar``.
      log_cond_fn: the conditional network ``tokens (D,) -> (D, K)`` log-probabilities.
      x: one example ``(D,)``.
      order: a permutation of ``0..D-1``.
      d: the 0-based step (``sigma(d)`` is the added position, ``sigma(<d)`` the ``d``
        observed before it).
      num_values: ``K`` (the mask token).
    """
    before = any_order.observed_before(order, d)
    prev = any_order.mask_unobserved(x, before, num_values)
    position = order[d]
    curr = prev.at[position].set(x[position])
    log_cond = log_cond_fn(prev)[position, x[position]]
    return log_marginal_fn(curr) - log_marginal_fn(prev) - log_cond


def self_consistency_loss(log_marginal_fn: LogMarginalFn,
                          log_cond_fn: any_order.LogConditionalFn, x: jax.Array,
                          key: jax.Array, num_values: int,
                          log_z: float | jax.Array = 0.0) -> tuple[jax.Array, jax.Array]:
    """The paper's penalty on one example: ``D r^2 + (f_theta(empty) - log Z)^2``.

    ``r`` is :func:`self_consistency_residual` at a uniform order and a uniform step, so
    ``D r^2`` is unbiased for the sum over the ``D`` steps of the squared residuals of
    that order.

    Returns:
      ``(loss, r)``.
    """
    size = x.shape[0]
    order_key, d_key = jax.random.split(key)
    order = jax.random.permutation(order_key, size)
    d = jax.random.randint(d_key, (), 0, size)
    r = self_consistency_residual(log_marginal_fn, log_cond_fn, x, order, d, num_values)
    anchor = log_marginal_fn(all_masked(size, num_values)) - log_z
    return size * r ** 2 + anchor ** 2, r


def reinforce_kl_surrogate(log_p_model: jax.Array, log_target: jax.Array,
                           eps: float = 1e-6) -> jax.Array:
    """Per-sample surrogate whose gradient estimates that of ``KL(p_theta || p)``, ``[B]``.

    ``r_b = standardize(sg(log p_theta(x_b) - log p~(x_b)))`` over the batch and the
    surrogate ``r_b log p_theta(x_b)`` (the public code's REINFORCE with a mean baseline and
    a standard-deviation scale, for samples ``x_b`` of the model). ``log p~`` may miss its
    constant: the baseline removes it.
    """
    if log_p_model.ndim != 1 or log_p_model.shape != log_target.shape:
        raise ValueError(f"log_p_model and log_target must have the same shape [B], got "
                         f"{log_p_model.shape} and {log_target.shape}")
    f = jax.lax.stop_gradient(log_p_model - log_target)
    r = (f - jnp.mean(f)) / (jnp.std(f) + eps)
    return r * log_p_model


def sample(log_cond_fn: any_order.LogConditionalFn, key: jax.Array, num_dims: int,
           num_values: int, order: jax.Array | None = None) -> jax.Array:
    """One sample ``(D,)`` of the conditionals, ancestral in ``order`` (default: random).

    Returns:
      ints in ``[0, K)``.
    """
    order_key, key = jax.random.split(key)
    if order is None:
        order = jax.random.permutation(order_key, num_dims)

    def step(tokens, inputs):
        position, k = inputs
        value = jax.random.categorical(k, log_cond_fn(tokens)[position])
        return tokens.at[position].set(value.astype(jnp.int32)), None

    tokens, _ = jax.lax.scan(step, all_masked(num_dims, num_values),
                             (order, jax.random.split(key, num_dims)))
    return tokens
