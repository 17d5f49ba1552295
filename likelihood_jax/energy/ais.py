r"""Annealed importance sampling (Neal 2001) for log partition functions [P139].

Given unnormalized densities ``f_beta`` on a path ``0 = beta_0 < ... < beta_K = 1`` whose
start ``f_0`` has a known normalizer ``Z_0`` and is easy to sample, and kernels ``T_beta``
that leave ``f_beta`` invariant, one AIS run draws ``x_0 ~ f_0 / Z_0`` and
``x_k ~ T_{beta_k}(x_{k-1}, .)``, with the log importance weight

    log w = sum_{k=1}^{K} [log f_{beta_k}(x_{k-1}) - log f_{beta_{k-1}}(x_{k-1})].

``E[w] = Z_1 / Z_0`` exactly for every schedule, so ``Zhat = Z_0 mean_i w_i`` over
independent runs is unbiased for ``Z_1`` and ``log Zhat`` is, by Jensen, biased low in
expectation (a stochastic lower bound; the bias shrinks as the schedule gets finer). Cost:
``K`` evaluations of the log-density pair and ``K - 1`` transitions per run.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import _checks

Array = jax.Array


class AISResult(NamedTuple):
    """What :func:`annealed_importance_sampling` returns.

    Attributes:
      log_normalizer: ``log Zhat = log Z_0 + log mean_i w_i``.
      log_weights: the per-run ``log w_i`` ``(num_chains,)``.
      effective_sample_size: ``(sum w)^2 / sum w^2`` of the runs.
    """

    log_normalizer: Array
    log_weights: Array
    effective_sample_size: Array


def annealed_importance_sampling(key, log_density_fn: Callable, transition_fn: Callable,
                                 init_sample_fn: Callable, init_log_normalizer, betas, *,
                                 num_chains: int) -> AISResult:
    """Estimates ``log Z_1 = log sum_x f_1(x)`` by annealed importance sampling (Neal 2001).

    Args:
      key: PRNG key.
      log_density_fn: ``(beta, x) -> log f_beta(x)`` for one state ``x`` (a scalar).
      transition_fn: ``(key, beta, x) -> x'``, a kernel leaving ``f_beta`` invariant.
      init_sample_fn: ``key -> x``, a draw from ``f_0 / Z_0``.
      init_log_normalizer: ``log Z_0``.
      betas: the schedule ``(K + 1,)``, increasing from 0 to 1.
      num_chains: number of independent runs (an integer ``>= 1``).

    Returns:
      :class:`AISResult`.
    """
    function = "annealed_importance_sampling"
    for name, fn in (("log_density_fn", log_density_fn), ("transition_fn", transition_fn),
                     ("init_sample_fn", init_sample_fn)):
        _checks.require_callable(function, name, fn)
    _checks.require_integer_at_least(function, "num_chains", num_chains, 1)
    betas = jnp.asarray(betas, jnp.float32)
    _checks.require_rank(function, "betas", betas, 1, "(K + 1,)")
    if betas.shape[0] < 2:
        raise _checks.error(function, "betas", "at least two temperatures (0 and 1)",
                            f"{betas.shape[0]}")
    if not _checks.is_traced(betas):
        b = np.asarray(betas)
        if b[0] != 0.0 or b[-1] != 1.0 or np.any(np.diff(b) <= 0):
            raise _checks.error(function, "betas", "a schedule increasing from 0 to 1",
                                f"{b[0]} ... {b[-1]} (increasing: {bool(np.all(np.diff(b) > 0))})")
    key_init, key_run = jax.random.split(key)

    def one_run(run_key, x):
        def step(carry, inputs):
            x, log_w = carry
            beta_prev, beta, step_key = inputs
            log_w = log_w + log_density_fn(beta, x) - log_density_fn(beta_prev, x)
            return (transition_fn(step_key, beta, x), log_w), None

        keys = jax.random.split(run_key, betas.shape[0] - 1)
        (_, log_w), _ = jax.lax.scan(step, (x, jnp.zeros(())), (betas[:-1], betas[1:], keys))
        return log_w

    x0 = jax.vmap(init_sample_fn)(jax.random.split(key_init, num_chains))
    log_w = jax.vmap(one_run)(jax.random.split(key_run, num_chains), x0)
    log_mean = jax.nn.logsumexp(log_w) - jnp.log(float(num_chains))
    ess = jnp.exp(2.0 * jax.nn.logsumexp(log_w) - jax.nn.logsumexp(2.0 * log_w))
    return AISResult(init_log_normalizer + log_mean, log_w, ess)
