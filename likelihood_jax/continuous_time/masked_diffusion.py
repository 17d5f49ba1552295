"""Masked-diffusion neural samplers: MDNS [P099] (Zhu, Guo, Choi, Liu, Chen & Tao, NeurIPS 2025).

Target: ``pi(x) = pi~(x) / Z`` on ``{0..q-1}^D``, known through ``log pi~``.

Sampler. A masked diffusion model starts from the all-masked sequence (token
``q``) and unmasks sites until none is left. Its network gives, for a partially
masked ``z``, the factorized conditionals ``p_theta(x_d = v | z)`` of every site
(``logits_fn(z) -> [D, q]``). Sampling (the first-hitting / random-order
discretization of the unmasking CTMC) draws a uniformly random order ``sigma``,
splits it into ``K`` consecutive groups (``K = D``: one site per step) and, at
step ``k``, draws every site of group ``k`` independently from
``p_theta(. | z_k)``. The probability of the generated path given the order is

    log q_theta(x | sigma) = sum_k sum_{d in group k} log p_theta(x_d | z_k),

which is exact and cheap (:func:`path_log_prob`). The sampler's marginal
``q_theta(x) = E_sigma q_theta(x | sigma)`` needs a sum over orders (tractable
only for tiny ``D``: :func:`exact_log_prob`).

Path-measure alignment. The target path measure masks ``x ~ pi`` in the same
random order, so the Radon-Nikodym derivative of target over sampler paths is

    log w(x, sigma) = log pi~(x) - log q_theta(x | sigma) - log Z

(the order's probability cancels). ``w`` are valid importance weights for
``pi`` (``E_q[w] = 1`` up to ``Z``): they give the effective sample size
(:func:`effective_sample_size`), ``log Z`` estimates
(:func:`log_partition_estimate`) and self-normalized estimates of observables.

Objectives (stochastic optimal control of the CTMC, paper Sec. 3-4):

* WDCE, weighted denoising cross-entropy (the paper's main objective): the
  cross-entropy ``KL(P_target || Q_theta)`` of path measures, estimated with
  samples from a (stop-gradient) copy of the sampler reweighted by
  ``w / mean w`` (self-normalized in the batch), where the per-sample
  cross-entropy is the masked-diffusion denoising loss

      DCE(x) = E_{lambda ~ U(0, 1)} E_{z ~ mask(x, lambda)}
               [ (1 / lambda) sum_{d masked in z} -log p_theta(x_d | z) ],

  each site masked independently with probability ``lambda`` (estimated in the
  equivalent form with a uniform number of masked sites, see
  :func:`denoising_cross_entropy`).
  ``E[DCE(x)] = E_sigma[-log q_theta(x | sigma)]`` exactly (any-order identity:
  ``int lambda^{m-1} (1-lambda)^{D-m} d lambda = 1 / (m C(D, m))``), so the loss is
  ``E_pi[-log q_theta(x | sigma)] + const``, minimized by ``q_theta = pi``.
  (:func:`denoising_cross_entropy`, :func:`wdce_loss`.)
* LV, log-variance: ``Var_{x ~ sg q}[log w(x, sigma)]`` over the batch, gradient
  through ``log q_theta`` of stop-gradient samples (:func:`log_variance_loss`).
* RERF, relative entropy with REINFORCE: ``KL(Q_theta || P_target)`` of path
  measures, the score-function surrogate
  ``sg(log q - log pi~ - b) * log q`` with a leave-one-out baseline ``b``
  (:func:`reinforce_loss`; also the loss of the autoregressive baseline, which
  is this sampler with a fixed order).

Pure functions on one example unless the name says batch; callers vmap.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

LogitsFn = Callable[[jax.Array], jax.Array]  # tokens [D] in {0..q} (q = mask) -> logits [D, q]


def _check_tokens(x: jax.Array, name: str = "x") -> None:
    if x.ndim != 1:
        raise ValueError(f"{name} must be one sequence of tokens [D], got shape {x.shape}")


def step_of_site(order: jax.Array, num_steps: int) -> jax.Array:
    """Unmasking step ``[D]`` of every site: site ``order[r]`` is unmasked at ``r K // D``."""
    num_sites = order.shape[0]
    if not 1 <= num_steps <= num_sites:
        raise ValueError(f"num_steps must be in [1, D={num_sites}], got {num_steps}")
    rank = jnp.zeros(num_sites, jnp.int32).at[order].set(jnp.arange(num_sites, dtype=jnp.int32))
    return rank * num_steps // num_sites


def path_log_prob(logits_fn: LogitsFn, x: jax.Array, order: jax.Array, num_steps: int,
                  mask_token: int) -> jax.Array:
    """``log q_theta(x | sigma) = sum_k sum_{d in group k} log p_theta(x_d | z_k)``.

    Evaluates the network on all ``K`` partially masked states at once (cost
    ``K`` network calls, vectorized).

    Args:
      logits_fn: network ``tokens [D] -> logits [D, q]``.
      x: a complete sequence ``[D]`` of tokens in ``{0..q-1}``.
      order: the unmasking order, a permutation of ``range(D)``.
      num_steps: ``K``, the number of unmasking steps.
      mask_token: the mask token ``q``.

    Returns:
      A scalar.
    """
    _check_tokens(x)
    step = step_of_site(order, num_steps)

    def one_step(k):
        z = jnp.where(step < k, x, mask_token)
        log_p = jax.nn.log_softmax(logits_fn(z), axis=-1)
        picked = jnp.take_along_axis(log_p, x[:, None], axis=-1)[:, 0]
        return jnp.sum(jnp.where(step == k, picked, 0.0))

    return jnp.sum(jax.vmap(one_step)(jnp.arange(num_steps)))


def sample(logits_fn: LogitsFn, key: jax.Array, num_sites: int, num_steps: int,
           mask_token: int, order: jax.Array | None = None
           ) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Draws one sequence by unmasking in ``K`` steps; returns ``(x, order, log q(x | order))``.

    Args:
      logits_fn: network ``tokens [D] -> logits [D, q]``.
      key: PRNG key.
      num_sites: ``D``.
      num_steps: ``K``.
      mask_token: the mask token ``q``.
      order: a fixed order (an autoregressive sampler); random if None.

    Returns:
      ``x [D]`` int32, ``order [D]`` and the path log-probability (a scalar).
    """
    order_key, step_key = jax.random.split(key)
    if order is None:
        order = jax.random.permutation(order_key, num_sites)
    step = step_of_site(order, num_steps)

    def body(carry, k):
        z, log_q = carry
        log_p = jax.nn.log_softmax(logits_fn(z), axis=-1)
        draw = jax.random.categorical(jax.random.fold_in(step_key, k), log_p, axis=-1)
        now = step == k
        picked = jnp.take_along_axis(log_p, draw[:, None], axis=-1)[:, 0]
        z = jnp.where(now, draw, z)
        return (z, log_q + jnp.sum(jnp.where(now, picked, 0.0))), None

    z0 = jnp.full((num_sites,), mask_token, jnp.int32)
    (x, log_q), _ = jax.lax.scan(body, (z0, jnp.zeros(())), jnp.arange(num_steps))
    return x, order, log_q


def denoising_cross_entropy(logits_fn: LogitsFn, x: jax.Array, key: jax.Array,
                            mask_token: int, num_masks: int = 1) -> jax.Array:
    """One-sample estimate of ``DCE(x) = E_lambda (1/lambda) sum_masked -log p_theta(x_d | z)``.

    Unbiased for ``E_sigma[-log q_theta(x | sigma)]`` (``K = D``). The
    ``lambda``-integral is sampled in its equivalent discrete form (finite
    variance, unlike ``1/lambda`` near 0): the number of masked sites
    ``m ~ U{1..D}``, a uniform subset ``M`` of that size, and the estimate
    ``(D / m) sum_{d in M} -log p_theta(x_d | x with M masked)``; both have
    expectation ``sum_M 1/(|M| C(D,|M|)) sum_{d in M} -log p``. Averages
    ``num_masks`` independent draws.

    Args:
      logits_fn: network ``tokens [D] -> logits [D, q]``.
      x: a complete sequence ``[D]``.
      key: PRNG key.
      mask_token: the mask token ``q``.
      num_masks: independent masks to average.

    Returns:
      A scalar.
    """
    _check_tokens(x)

    num_sites = x.shape[0]

    def one(k):
        size_key, perm_key = jax.random.split(k)
        size = jax.random.randint(size_key, (), 1, num_sites + 1)
        masked = jax.random.permutation(perm_key, num_sites) < size
        z = jnp.where(masked, mask_token, x)
        log_p = jax.nn.log_softmax(logits_fn(z), axis=-1)
        picked = jnp.take_along_axis(log_p, x[:, None], axis=-1)[:, 0]
        return -jnp.sum(jnp.where(masked, picked, 0.0)) * num_sites / size

    return jnp.mean(jax.vmap(one)(jax.random.split(key, num_masks)))


def exact_denoising_cross_entropy(logits_fn: LogitsFn, x: jax.Array,
                                  mask_token: int) -> jax.Array:
    """``E[DCE(x)]`` by summing over all ``2^D`` mask patterns (tiny ``D``; a test oracle).

    ``sum_M 1 / (|M| C(D, |M|)) sum_{d in M} -log p_theta(x_d | x with M masked)``.
    """
    _check_tokens(x)
    num_sites = x.shape[0]
    if num_sites > 16:
        raise ValueError(f"exact DCE enumerates 2^D masks; D={num_sites} > 16")
    masks = ((jnp.arange(2 ** num_sites)[:, None] >> jnp.arange(num_sites)) & 1).astype(bool)
    sizes = jnp.sum(masks, axis=1)
    coef = jnp.asarray([0.0] + [1.0 / (m * math.comb(num_sites, m))
                                for m in range(1, num_sites + 1)])[sizes]

    def term(mask):
        log_p = jax.nn.log_softmax(logits_fn(jnp.where(mask, mask_token, x)), axis=-1)
        picked = jnp.take_along_axis(log_p, x[:, None], axis=-1)[:, 0]
        return -jnp.sum(jnp.where(mask, picked, 0.0))

    return jnp.sum(coef * jax.vmap(term)(masks))


def exact_log_prob(logits_fn: LogitsFn, x: jax.Array, num_steps: int,
                   mask_token: int) -> jax.Array:
    """Sampler marginal ``log q_theta(x) = log mean_sigma q_theta(x | sigma)`` over all orders.

    Sums the ``D!`` orders: only for tiny ``D`` (``D <= 7``); a test oracle.
    """
    import itertools
    _check_tokens(x)
    num_sites = x.shape[0]
    if num_sites > 7:
        raise ValueError(f"exact_log_prob sums over D! orders; D={num_sites} > 7")
    orders = jnp.asarray(list(itertools.permutations(range(num_sites))))
    log_q = jax.vmap(lambda o: path_log_prob(logits_fn, x, o, num_steps, mask_token))(orders)
    return jax.nn.logsumexp(log_q) - jnp.log(orders.shape[0])


def self_normalized_weights(log_weights: jax.Array) -> jax.Array:
    """Batch: ``w_i / mean_j w_j`` (``[B] -> [B]``, mean one), computed in log space."""
    if log_weights.ndim != 1:
        raise ValueError(f"log_weights must be [B], got shape {log_weights.shape}")
    return jax.nn.softmax(log_weights) * log_weights.shape[0]


def wdce_loss(logits_fn: LogitsFn, x: jax.Array, weight: jax.Array, key: jax.Array,
              mask_token: int, num_masks: int = 1) -> jax.Array:
    """Per-example WDCE: ``sg(weight) * DCE(x)`` (``weight`` from :func:`self_normalized_weights`).

    The batch mean estimates ``E_pi[DCE(x)]`` (biased by self-normalization,
    consistent as ``B -> inf``); gradients flow only through the network in DCE.
    """
    return jax.lax.stop_gradient(weight) * denoising_cross_entropy(
        logits_fn, x, key, mask_token, num_masks)


def log_variance_loss(log_q: jax.Array, log_target: jax.Array) -> jax.Array:
    """Batch: per-example ``(log w_i - sg(mean log w))^2``, ``log w = log pi~ - log q``.

    Its batch mean is the sample variance of ``log w``, whose gradient
    ``2 Cov(log w, -grad log q)`` vanishes iff ``q`` matches ``pi`` on the batch.
    ``log_q`` must carry the gradient (recomputed on stop-gradient samples).
    """
    log_w = log_target - log_q
    return (log_w - jax.lax.stop_gradient(jnp.mean(log_w))) ** 2


def leave_one_out_baseline(values: jax.Array) -> jax.Array:
    """Batch: ``b_i = mean_{j != i} values_j`` (``B >= 2``)."""
    n = values.shape[0]
    if n < 2:
        raise ValueError("the leave-one-out baseline needs a batch of at least 2")
    return (jnp.sum(values) - values) / (n - 1)


def reinforce_loss(log_q: jax.Array, log_target: jax.Array) -> jax.Array:
    """Batch: per-example REINFORCE surrogate of reverse KL with a leave-one-out baseline.

    ``sg(f_i - b_i) * log q_i`` with ``f = log q - log pi~``; its batch-mean
    gradient is unbiased for ``grad KL(q || pi)`` (the ``E[grad log q] = 0`` term
    drops). The value is a surrogate; log ``mean(f)`` (``KL + log Z``) instead.
    """
    f = jax.lax.stop_gradient(log_q - log_target)
    return (f - leave_one_out_baseline(f)) * log_q


def effective_sample_size(log_weights: jax.Array) -> jax.Array:
    """Batch: ``(sum w)^2 / sum w^2`` of unnormalized log importance weights ``[N]``."""
    return jnp.exp(2 * jax.nn.logsumexp(log_weights) - jax.nn.logsumexp(2 * log_weights))


def log_partition_estimate(log_weights: jax.Array) -> jax.Array:
    """Batch: ``log mean_i exp(log w_i)``, ``log w = log pi~ - log q`` (unbiased in ``Z``)."""
    return jax.nn.logsumexp(log_weights) - jnp.log(log_weights.shape[0])
