r"""Regularized auto-encoders as score estimators, and their approximate MH sampler [P029].

Alain & Bengio (2014), "What regularized auto-encoders learn from the data-generating
distribution" (JMLR 15). A reconstruction function ``r: R^D -> R^D`` trained with the
**contractive** criterion (their Eq. 3, the penalty on the whole of ``r``)::

    L_CAE(r) = E_x [ |r(x) - x|^2 + sigma^2 |dr/dx (x)|_F^2 ]

has the asymptotic minimizer (their Theorem 2, ``sigma -> 0``)::

    r*(x) = x + sigma^2 grad log p(x) + o(sigma^2),

so ``(r(x) - x) / sigma^2`` estimates the score ``grad log p`` (:func:`reconstruction_score`).
The **denoising** criterion with small Gaussian corruption (their Eq. 2)::

    L_DAE(r) = E_{x, eps} |r(x + sigma eps) - x|^2,       eps ~ N(0, I),

agrees with ``L_CAE`` to first order in ``sigma^2`` (Taylor-expand ``r`` around ``x``:
their Section 3.2), and equals ``2 sigma^4`` times denoising score matching (Vincent 2011)
of the field ``(r(x) - x) / sigma^2``. Per-example functions work on one example
``x (D,)``; callers ``jax.vmap``.

Sampling (their Section 5): the auto-encoder gives the score, not the energy, so a
Metropolis-Hastings step from ``x`` to a proposal ``x*`` estimates the energy difference by
the line integral of the estimated score along the segment (:func:`energy_difference`)::

    E(x*) - E(x) = -int_0^1 <grad log p(x + t (x* - x)), x* - x> dt,

here by the trapezoidal rule on ``num_points`` nodes, and accepts with probability
``min(1, exp(-(E(x*) - E(x))))`` (:func:`approximate_metropolis_hastings`). The chain is
exact (it leaves ``p`` invariant) when the score field is a gradient and the rule is exact,
e.g. a Gaussian's linear score with two nodes.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from likelihood_jax import _checks, estimators
from likelihood_jax.energy.mcmc import MCMCResult, _metropolis_accept, _run

Array = jax.Array
Reconstruction = Callable[[Array], Array]


def _check_sigma(function: str, sigma) -> None:
    _checks.require_rank(function, "sigma", sigma, 0, "() (a scalar)")
    _checks.require_greater(function, "sigma", sigma)


def _reconstruct(function: str, reconstruct: Reconstruction, x) -> tuple[Array, Array]:
    """Checks ``reconstruct`` and one example ``x (D,)``; returns ``(x, r(x))``."""
    _checks.require_callable(function, "reconstruct", reconstruct)
    x = _checks.one_example(function, x, 1)
    y = reconstruct(x)
    _checks.require_field_output(function, "reconstruct", y, x)
    return x, y


def jacobian_frobenius_squared(f: Reconstruction, x, key=None, *, num_probes: int = 1,
                               probe: str = "rademacher") -> Array:
    """``|df/dx (x)|_F^2``, exactly or by a Hutchinson estimate through ``jax.jvp`` [P029].

    Exact (``key=None``): the full Jacobian by ``jax.jacfwd`` (``D`` forward passes), then
    the sum of its squared entries. Estimate (a ``key``): ``mean_p |J v_p|^2`` over
    ``num_probes`` probes with ``E[v v^T] = I`` (:func:`likelihood_jax.estimators.sample_probes`),
    one Jacobian-vector product each (``jax.linearize``); unbiased, since
    ``E |J v|^2 = tr(J^T J E[v v^T]) = |J|_F^2``.

    Args:
      f: ``R^D -> R^D``.
      x: one example, shape ``(D,)``.
      key: PRNG key of the probes, or None for the exact value.
      num_probes: probes of the estimate, ``>= 1``.
      probe: ``"rademacher"``, ``"gaussian"`` or ``"sphere"``.

    Returns:
      A scalar.
    """
    function = "jacobian_frobenius_squared"
    x, _ = _reconstruct(function, f, x)
    if key is None:
        return jnp.sum(jnp.square(jax.jacfwd(f)(x)))
    _checks.require_integer_at_least(function, "num_probes", num_probes, 1)
    probes = estimators.sample_probes(key, (num_probes,) + x.shape, probe, x.dtype)
    _, f_jvp = jax.linearize(f, x)
    return jnp.mean(jnp.sum(jnp.square(jax.vmap(f_jvp)(probes)), axis=-1))


def contractive_criterion(reconstruct: Reconstruction, x, sigma, key=None, *,
                          num_probes: int = 1, probe: str = "rademacher") -> Array:
    """``|r(x) - x|^2 + sigma^2 |dr/dx (x)|_F^2`` for one example (Alain & Bengio Eq. 3) [P029].

    The Jacobian term is exact with ``key=None`` and otherwise the unbiased Hutchinson
    estimate of :func:`jacobian_frobenius_squared` (so the criterion is unbiased too).
    Its minimizer over all ``r`` satisfies ``(r(x) - x) / sigma^2 -> grad log p(x)`` as
    ``sigma -> 0``.

    Args:
      reconstruct: ``r: R^D -> R^D``.
      x: one example, shape ``(D,)``.
      sigma: the contraction scale ``> 0`` (a scalar).
      key: PRNG key of the Hutchinson probes, or None for the exact Jacobian.
      num_probes: probes of the estimate.
      probe: probe distribution (see :func:`likelihood_jax.estimators.sample_probes`).

    Returns:
      A scalar.
    """
    function = "contractive_criterion"
    _check_sigma(function, sigma)
    x, y = _reconstruct(function, reconstruct, x)
    penalty = jacobian_frobenius_squared(reconstruct, x, key, num_probes=num_probes, probe=probe)
    return jnp.sum(jnp.square(y - x)) + jnp.square(sigma) * penalty


def denoising_criterion(reconstruct: Reconstruction, x, key, sigma) -> Array:
    """``|r(x + sigma eps) - x|^2`` with ``eps ~ N(0, I)`` for one example (Eq. 2) [P029].

    The denoising auto-encoder with small Gaussian corruption; ``2 sigma^4`` times denoising
    score matching of ``s(z) = (r(z) - z) / sigma^2`` with the same ``eps`` (Vincent 2011).

    Args:
      reconstruct: ``r: R^D -> R^D``.
      x: one clean example, shape ``(D,)``.
      key: PRNG key of ``eps``.
      sigma: corruption standard deviation ``> 0`` (a scalar).

    Returns:
      A scalar.
    """
    function = "denoising_criterion"
    if key is None:
        raise _checks.error(function, "key", "a PRNG key", "None")
    _check_sigma(function, sigma)
    x, _ = _reconstruct(function, reconstruct, x)
    eps = jax.random.normal(key, x.shape, x.dtype)
    return jnp.sum(jnp.square(reconstruct(x + sigma * eps) - x))


def reconstruction_score(reconstruct: Reconstruction, sigma) -> Callable[[Array], Array]:
    """The score estimate ``x -> (r(x) - x) / sigma^2`` of a trained auto-encoder [P029]."""
    _checks.require_callable("reconstruction_score", "reconstruct", reconstruct)
    _check_sigma("reconstruction_score", sigma)
    return lambda x: (reconstruct(x) - x) / jnp.square(sigma)


def _trapezoid_weights(num_points: int, dtype) -> tuple[Array, Array]:
    """Nodes ``t_k = k / (K - 1)`` on ``[0, 1]`` and the trapezoidal weights."""
    t = jnp.linspace(0.0, 1.0, num_points, dtype=dtype)
    w = jnp.full((num_points,), 1.0 / (num_points - 1), dtype).at[jnp.array([0, -1])].mul(0.5)
    return t, w


def energy_difference(score_fn: Callable[[Array], Array], x, x_new, *,
                      num_points: int = 2) -> Array:
    """``E(x_new) - E(x)`` from the score alone: the line integral along the segment [P029].

    ``-int_0^1 <s(x + t (x_new - x)), x_new - x> dt`` by the trapezoidal rule on
    ``num_points >= 2`` equally spaced nodes (``num_points`` score evaluations): exact for a
    linear score (a Gaussian) already with 2 nodes, with error ``O(|x_new - x|^3 / K^2)``
    otherwise. For a field that is not a gradient the value depends on the path (here the
    straight segment, as in Alain & Bengio Section 5).

    Args:
      score_fn: ``s: R^D -> R^D``, an estimate of ``grad log p = -grad E``.
      x: the current point, shape ``(D,)``.
      x_new: the proposal, same shape.
      num_points: quadrature nodes, ``>= 2``.

    Returns:
      A scalar.
    """
    function = "energy_difference"
    _checks.require_callable(function, "score_fn", score_fn)
    _checks.require_integer_at_least(function, "num_points", num_points, 2)
    x = _checks.one_example(function, x, 1)
    _checks.require_shape(function, "x_new", x_new, x.shape, "(D,) as x")
    t, w = _trapezoid_weights(num_points, x.dtype)
    step = x_new - x
    scores = jax.vmap(lambda ti: score_fn(x + ti * step))(t)
    _checks.require_field_output(function, "score_fn", scores[0], x)
    return -jnp.sum(w * (scores @ step))


def approximate_metropolis_hastings(score_fn: Callable[[Array], Array], x0, key, *, scale,
                                    num_steps: int, num_points: int = 2,
                                    return_trace: bool = False) -> MCMCResult:
    """Random-walk Metropolis-Hastings driven by an estimated score (Section 5) [P029].

    Proposes ``x* = x + scale * xi``, ``xi ~ N(0, I)`` (symmetric), and accepts with
    probability ``min(1, exp(-dE))``, ``dE`` the :func:`energy_difference` of ``score_fn``
    from ``x`` to ``x*``. With an exact gradient score and an exact quadrature it is
    :func:`likelihood_jax.energy.mcmc.random_walk_metropolis`, draw for draw (same keys);
    with an auto-encoder's score it is the paper's approximate MCMC. ``num_points`` score
    evaluations per step.

    Args:
      score_fn: ``s: R^D -> R^D``.
      x0: initial state, shape ``(D,)``, floating.
      key: PRNG key of the chain.
      scale: proposal standard deviation ``> 0``.
      num_steps: number of steps, ``>= 1`` (static).
      num_points: quadrature nodes of the energy difference, ``>= 2``.
      return_trace: also return the states after each step.

    Returns:
      :class:`likelihood_jax.energy.mcmc.MCMCResult` with the mean acceptance probability.
    """
    function = "approximate_metropolis_hastings"
    _checks.require_callable(function, "score_fn", score_fn)
    _checks.require_greater(function, "scale", scale)
    _checks.require_integer_at_least(function, "num_steps", num_steps, 1)
    _checks.require_integer_at_least(function, "num_points", num_points, 2)
    x0 = jnp.asarray(x0)
    _checks.require_rank(function, "x0", x0, 1, "(D,)")
    _checks.require_floating(function, "x0", x0)

    def step(carry, step_key):
        (x,) = carry
        accept_key, proposal_key = jax.random.split(step_key)
        proposal = x + scale * jax.random.normal(proposal_key, x.shape, x.dtype)
        log_ratio = -energy_difference(score_fn, x, proposal, num_points=num_points)
        return _metropolis_accept(accept_key, log_ratio, (proposal,), carry)

    return _run(step, (x0,), key, num_steps, lambda z: z, return_trace)
