r"""MCMC samplers as pure ``lax.scan`` functions: Langevin, SGLD, Metropolis-Hastings, Gibbs.

Shared by the family's samplers of energy-based models [P029, P039, P081, P139, P172]. Every
sampler runs **one chain** from ``x0`` for a static number of steps (``jax.vmap`` over keys and
starting points for several chains) and returns an :class:`MCMCResult`: the final state, the
trace of the states after each step (``return_trace=True``) and the acceptance rate.

The target is a log-density ``log_prob_fn(x)`` known up to a constant; an energy
``E(x) = -log p(x) + const`` becomes one with :func:`log_prob_from_energy`. The continuous
samplers accept any pytree of floating arrays as the state (flattened internally with
``jax.flatten_util.ravel_pytree``); :func:`gibbs` samples a vector of discrete sites.

Langevin steps use the step size ``h`` of Roberts & Tweedie (1996) and Welling & Teh (2011)::

    x' = x + (h / 2) grad log p(x) + sqrt(h) xi,    xi ~ N(0, I),

which for ``p = N(0, s^2)`` without correction (ULA) has the stationary variance
``s^2 / (1 - h / (4 s^2))`` (an O(h) bias; stable for ``h < 4 s^2``).

Randomness: step ``t`` uses ``jax.random.split(key, num_steps)[t]``, split again into a
gradient / acceptance key and a noise key, so that :func:`sgld` with the exact gradient and a
constant step reproduces :func:`ula` draw for draw.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp
from jax.flatten_util import ravel_pytree

from likelihood_jax import _checks

Array = jax.Array
PyTree = object


class MCMCResult(NamedTuple):
    """What a sampler returns for one chain.

    Attributes:
      state: the state after the last step (same structure as ``x0``).
      trace: the states after each step, stacked on a new leading axis of length
        ``num_steps`` (``num_sweeps`` for :func:`gibbs`); ``None`` unless ``return_trace``.
      acceptance_rate: the mean over steps of the Metropolis-Hastings acceptance probability
        ``min(1, r)`` (a scalar); ``1.0`` for the samplers without a correction (ULA, SGLD,
        Gibbs).
    """

    state: PyTree
    trace: PyTree | None
    acceptance_rate: Array


def log_prob_from_energy(energy_fn: Callable) -> Callable:
    """The log-density ``x -> -energy_fn(x)`` of the Gibbs distribution ``p(x) ∝ exp(-E(x))``."""
    _checks.require_callable("log_prob_from_energy", "energy_fn", energy_fn)
    return lambda x: -energy_fn(x)


def polynomial_decay(a: float, b: float, gamma: float) -> Callable[[Array], Array]:
    """SGLD's step-size schedule ``h_t = a (b + t)^(-gamma)`` (Welling & Teh 2011, Sec. 3).

    The Robbins-Monro conditions ``sum h_t = inf``, ``sum h_t^2 < inf`` hold for
    ``gamma in (0.5, 1]``.

    Args:
      a: scale, ``> 0``.
      b: offset, ``>= 0`` (``b > 0`` when ``t = 0`` is used with ``gamma > 0``).
      gamma: decay exponent, ``>= 0``.

    Returns:
      The schedule ``t -> h_t`` (``t`` an integer step, traced or not).
    """
    function = "polynomial_decay"
    _checks.require_greater(function, "a", a)
    _checks.require_at_least(function, "b", b, 0.0)
    _checks.require_at_least(function, "gamma", gamma, 0.0)
    return lambda t: a * (b + jnp.asarray(t, jnp.float32)) ** (-gamma)


# -- Shared pieces -------------------------------------------------------------------------


def _check_chain(function: str, x0, num_steps) -> None:
    """``num_steps`` is an integer >= 1 and ``x0`` a non-empty pytree of floating arrays."""
    _checks.require_integer_at_least(function, "num_steps", num_steps, 1)
    for leaf in jax.tree.leaves(x0):
        _checks.require_floating(function, "x0", leaf)
    if not jax.tree.leaves(x0):
        raise _checks.error(function, "x0", "a non-empty array or pytree of arrays", repr(x0))


def _prepare(function: str, log_prob_fn: Callable, x0, num_steps):
    """Checks a log-density sampler's arguments.

    Returns the flat ``x0``, the log-density on flat vectors and the map back to ``x0``'s
    structure.
    """
    _checks.require_callable(function, "log_prob_fn", log_prob_fn)
    _check_chain(function, x0, num_steps)
    flat0, unravel = ravel_pytree(x0)

    def log_prob(z):
        return log_prob_fn(unravel(z))

    out = jax.eval_shape(log_prob, flat0)
    if out.shape != ():
        raise _checks.error(function, "log_prob_fn", "a function returning a scalar",
                            f"an output of shape {out.shape}")
    return flat0, log_prob, unravel


def _run(step, init: tuple, key, num_steps: int, unravel, return_trace: bool) -> MCMCResult:
    """Scans ``step(carry, key) -> (carry, acceptance probability)`` over ``num_steps`` keys.

    ``carry`` is a tuple whose first entry is the flat state.
    """

    def body(carry, step_key):
        carry, accept = step(carry, step_key)
        return carry, (carry[0] if return_trace else None, accept)

    final, (trace, accept) = jax.lax.scan(body, init, jax.random.split(key, num_steps))
    trace = jax.vmap(unravel)(trace) if return_trace else None
    return MCMCResult(unravel(final[0]), trace, jnp.mean(accept))


def _langevin_mean(grad: Array, x: Array, h) -> Array:
    """The Langevin proposal's mean ``x + (h / 2) grad``."""
    return x + 0.5 * h * grad


def _metropolis_accept(key, log_ratio: Array, new: tuple, old: tuple):
    """``new`` with probability ``min(1, exp(log_ratio))``, else ``old`` (NaN ratios reject).

    Returns the kept tuple and the acceptance probability.
    """
    log_ratio = jnp.where(jnp.isnan(log_ratio), -jnp.inf, log_ratio)
    accepted = jnp.log(jax.random.uniform(key, dtype=log_ratio.dtype)) < log_ratio
    kept = jax.tree.map(lambda a, b: jnp.where(accepted, a, b), new, old)
    return kept, jnp.exp(jnp.minimum(log_ratio, 0.0))


# -- Langevin ------------------------------------------------------------------------------


def sgld(grad_fn: Callable, x0, key, *, step_size, num_steps: int,
         return_trace: bool = False) -> MCMCResult:
    """Stochastic gradient Langevin dynamics (Welling & Teh 2011).

    ``x_{t+1} = x_t + (h_t / 2) g(x_t, k_t) + sqrt(h_t) xi_t``, ``xi_t ~ N(0, I)``, where
    ``g`` is an unbiased estimate of ``grad log p`` (e.g. ``N / n`` times a minibatch's
    log-likelihood gradient plus the log-prior's) and ``h_t`` a schedule decreasing to 0
    (:func:`polynomial_decay`); no Metropolis correction. With the exact gradient and a
    constant step it is :func:`ula`, draw for draw.

    Args:
      grad_fn: ``(x, key) -> estimate of grad log p(x)``, a pytree shaped like ``x``; ``key``
        picks e.g. the minibatch.
      x0: initial state, a floating array or pytree of them.
      key: PRNG key of the chain.
      step_size: ``h``, a number ``> 0`` or a schedule ``step -> h_step`` (step from 0).
      num_steps: number of steps, an integer ``>= 1`` (static).
      return_trace: also return the states after each step.

    Returns:
      :class:`MCMCResult`, acceptance rate 1.
    """
    function = "sgld"
    _checks.require_callable(function, "grad_fn", grad_fn)
    _check_chain(function, x0, num_steps)
    schedule = step_size if callable(step_size) else None
    if schedule is None:
        _checks.require_greater(function, "step_size", step_size)
    flat0, unravel = ravel_pytree(x0)

    def flat_grad(x, k):
        g = grad_fn(unravel(x), k)
        flat_g = ravel_pytree(g)[0]
        _checks.require_field_output(function, "grad_fn", flat_g, x)
        return flat_g.astype(x.dtype)

    def step(carry, step_key):
        x, t = carry
        h = schedule(t) if schedule is not None else step_size
        grad_key, noise_key = jax.random.split(step_key)
        noise = jax.random.normal(noise_key, x.shape, x.dtype)
        x = _langevin_mean(flat_grad(x, grad_key), x, h) + jnp.sqrt(h) * noise
        return (x, t + 1), jnp.ones((), x.dtype)

    return _run(step, (flat0, jnp.zeros((), jnp.int32)), key, num_steps, unravel, return_trace)


def ula(log_prob_fn: Callable, x0, key, *, step_size, num_steps: int,
        return_trace: bool = False) -> MCMCResult:
    """The unadjusted Langevin algorithm (Roberts & Tweedie 1996; Parisi 1981).

    ``x_{t+1} = x_t + (h / 2) grad log p(x_t) + sqrt(h) xi_t``, ``xi_t ~ N(0, I)``: the
    Euler-Maruyama step of the Langevin diffusion ``dx = (1/2) grad log p dt + dW``. Without
    a correction its stationary law is biased by O(h): for ``p = N(0, s^2)`` the variance is
    ``s^2 / (1 - h / (4 s^2))``. One gradient of ``log_prob_fn`` per step.

    Args:
      log_prob_fn: ``x -> log p(x)`` up to a constant (a scalar).
      x0: initial state, a floating array or pytree of them.
      key: PRNG key of the chain.
      step_size: ``h > 0``.
      num_steps: number of steps, an integer ``>= 1`` (static).
      return_trace: also return the states after each step.

    Returns:
      :class:`MCMCResult`, acceptance rate 1.
    """
    _checks.require_greater("ula", "step_size", step_size)
    flat0, log_prob, unravel = _prepare("ula", log_prob_fn, x0, num_steps)
    grad = jax.grad(log_prob)

    def step(carry, step_key):
        (x,) = carry
        _, noise_key = jax.random.split(step_key)
        noise = jax.random.normal(noise_key, x.shape, x.dtype)
        x = _langevin_mean(grad(x), x, step_size) + jnp.sqrt(step_size) * noise
        return (x,), jnp.ones((), x.dtype)

    return _run(step, (flat0,), key, num_steps, unravel, return_trace)


def mala(log_prob_fn: Callable, x0, key, *, step_size, num_steps: int,
         return_trace: bool = False) -> MCMCResult:
    """The Metropolis-adjusted Langevin algorithm (Roberts & Tweedie 1996).

    Proposes ``x' ~ q(. | x) = N(x + (h / 2) grad log p(x), h I)`` and accepts it with
    probability ``min(1, p(x') q(x | x') / (p(x) q(x' | x)))``, so that ``p`` is exactly
    invariant for every ``h > 0`` (the O(h) bias of :func:`ula` is removed). One value and
    gradient of ``log_prob_fn`` per step.

    Args:
      log_prob_fn: ``x -> log p(x)`` up to a constant (a scalar).
      x0: initial state, a floating array or pytree of them.
      key: PRNG key of the chain.
      step_size: ``h > 0``.
      num_steps: number of steps, an integer ``>= 1`` (static).
      return_trace: also return the states after each step.

    Returns:
      :class:`MCMCResult` with the mean acceptance probability.
    """
    _checks.require_greater("mala", "step_size", step_size)
    flat0, log_prob, unravel = _prepare("mala", log_prob_fn, x0, num_steps)
    value_and_grad = jax.value_and_grad(log_prob)

    def log_q(to, mean):
        """``log N(to; mean, h I)`` without its constant (which cancels in the ratio)."""
        return -jnp.sum((to - mean) ** 2) / (2.0 * step_size)

    def step(carry, step_key):
        x, log_p, grad = carry
        accept_key, noise_key = jax.random.split(step_key)
        noise = jax.random.normal(noise_key, x.shape, x.dtype)
        mean = _langevin_mean(grad, x, step_size)
        proposal = mean + jnp.sqrt(step_size) * noise
        log_p_new, grad_new = value_and_grad(proposal)
        log_ratio = (log_p_new - log_p + log_q(x, _langevin_mean(grad_new, proposal, step_size))
                     - log_q(proposal, mean))
        return _metropolis_accept(accept_key, log_ratio, (proposal, log_p_new, grad_new), carry)

    init = (flat0, *value_and_grad(flat0))
    return _run(step, init, key, num_steps, unravel, return_trace)


# -- Metropolis-Hastings -------------------------------------------------------------------


def metropolis_hastings(log_prob_fn: Callable, x0, key, *, proposal_sample: Callable,
                        proposal_log_prob: Callable, num_steps: int,
                        return_trace: bool = False) -> MCMCResult:
    """Metropolis-Hastings with a user proposal (Metropolis et al. 1953; Hastings 1970).

    Draws ``x' ~ q(. | x)`` and accepts it with probability
    ``min(1, p(x') q(x | x') / (p(x) q(x' | x)))`` (the Hastings ratio), which makes ``p``
    invariant. With the target itself as an independent proposal (``q(x' | x) = p(x')``)
    the ratio is 1 and every proposal is accepted. Two evaluations of ``proposal_log_prob``
    and one of ``log_prob_fn`` per step.

    Args:
      log_prob_fn: ``x -> log p(x)`` up to a constant (a scalar).
      x0: initial state, a floating array or pytree of them.
      key: PRNG key of the chain.
      proposal_sample: ``(key, x) -> x'``, a draw from ``q(. | x)`` shaped like ``x``.
      proposal_log_prob: ``(x_to, x_from) -> log q(x_to | x_from)`` (a scalar; constants
        cancel).
      num_steps: number of steps, an integer ``>= 1`` (static).
      return_trace: also return the states after each step.

    Returns:
      :class:`MCMCResult` with the mean acceptance probability.
    """
    function = "metropolis_hastings"
    _checks.require_callable(function, "proposal_sample", proposal_sample)
    _checks.require_callable(function, "proposal_log_prob", proposal_log_prob)
    flat0, log_prob, unravel = _prepare(function, log_prob_fn, x0, num_steps)

    def flat_sample(k, x):
        proposal = ravel_pytree(proposal_sample(k, unravel(x)))[0]
        _checks.require_field_output(function, "proposal_sample", proposal, x)
        return proposal.astype(x.dtype)

    def flat_log_q(to, frm):
        return proposal_log_prob(unravel(to), unravel(frm))

    def step(carry, step_key):
        x, log_p = carry
        accept_key, proposal_key = jax.random.split(step_key)
        proposal = flat_sample(proposal_key, x)
        log_p_new = log_prob(proposal)
        log_ratio = (log_p_new - log_p + flat_log_q(x, proposal) - flat_log_q(proposal, x))
        return _metropolis_accept(accept_key, log_ratio, (proposal, log_p_new), carry)

    return _run(step, (flat0, log_prob(flat0)), key, num_steps, unravel, return_trace)


def random_walk_metropolis(log_prob_fn: Callable, x0, key, *, scale, num_steps: int,
                           return_trace: bool = False) -> MCMCResult:
    """Random-walk Metropolis (Metropolis et al. 1953).

    :func:`metropolis_hastings` with the symmetric proposal ``x' = x + scale * xi``,
    ``xi ~ N(0, I)``, whose Hastings terms cancel: accept with probability
    ``min(1, p(x') / p(x))``. One evaluation of ``log_prob_fn`` per step.

    Args:
      log_prob_fn: ``x -> log p(x)`` up to a constant (a scalar).
      x0: initial state, a floating array or pytree of them.
      key: PRNG key of the chain.
      scale: proposal standard deviation, ``> 0`` (a number or an array broadcasting
        against the flattened state).
      num_steps: number of steps, an integer ``>= 1`` (static).
      return_trace: also return the states after each step.

    Returns:
      :class:`MCMCResult` with the mean acceptance probability.
    """
    function = "random_walk_metropolis"
    _checks.require_greater(function, "scale", scale)

    def proposal_sample(k, x):
        flat, unravel = ravel_pytree(x)
        return unravel(flat + scale * jax.random.normal(k, flat.shape, flat.dtype))

    return metropolis_hastings(log_prob_fn, x0, key, proposal_sample=proposal_sample,
                               proposal_log_prob=lambda to, frm: jnp.zeros(()),
                               num_steps=num_steps, return_trace=return_trace)


# -- Gibbs ---------------------------------------------------------------------------------


def gibbs(conditional_logits_fn: Callable, x0, key, *, num_sweeps: int,
          return_trace: bool = False) -> MCMCResult:
    """Systematic-scan Gibbs sampling of discrete variables (Geman & Geman 1984).

    One sweep visits the sites ``i = 0, ..., D - 1`` in order and redraws
    ``x_i ~ p(x_i | x_{-i}) = softmax(conditional_logits_fn(x, i))`` from the current state
    (already updated sites included). Each update leaves ``p`` invariant, so does the sweep;
    every draw is accepted. ``D`` calls of ``conditional_logits_fn`` per sweep. For an energy
    ``E(x)``, the logits of site ``i`` are ``-E(x with x_i = k)`` for ``k = 0, ..., K - 1``.

    Args:
      conditional_logits_fn: ``(x, i) -> logits (K,)`` of site ``i`` given the others (``x``
        the full current state, ``i`` a traced integer; ``x[i]`` is to be ignored).
      x0: initial state, integer array ``(D,)`` with values in ``[0, K)``.
      key: PRNG key of the chain.
      num_sweeps: number of sweeps, an integer ``>= 1`` (static).
      return_trace: also return the states after each sweep, ``(num_sweeps, D)``.

    Returns:
      :class:`MCMCResult`, acceptance rate 1.
    """
    function = "gibbs"
    _checks.require_callable(function, "conditional_logits_fn", conditional_logits_fn)
    _checks.require_integer_at_least(function, "num_sweeps", num_sweeps, 1)
    x0 = jnp.asarray(x0)
    _checks.require_rank(function, "x0", x0, 1, "(D,)")
    _checks.require_integer(function, "x0", x0)
    num_sites = x0.shape[0]
    logits_shape = jax.eval_shape(conditional_logits_fn, x0, jnp.zeros((), jnp.int32)).shape
    if len(logits_shape) != 1:
        raise _checks.error(function, "conditional_logits_fn", "a function returning logits (K,)",
                            f"an output of shape {logits_shape}")

    def update_site(x, site_and_key):
        site, site_key = site_and_key
        value = jax.random.categorical(site_key, conditional_logits_fn(x, site))
        return x.at[site].set(value.astype(x.dtype)), None

    def sweep(x, sweep_key):
        sites = jnp.arange(num_sites, dtype=jnp.int32)
        x, _ = jax.lax.scan(update_site, x, (sites, jax.random.split(sweep_key, num_sites)))
        return x, (x if return_trace else None)

    final, trace = jax.lax.scan(sweep, x0, jax.random.split(key, num_sweeps))
    return MCMCResult(final, trace, jnp.ones(()))
