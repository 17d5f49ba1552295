r"""Diffusion recovery likelihood and its cooperative initializer [P172].

Zhu et al. (2024), "Learning energy-based models by cooperative diffusion recovery
likelihood" (CDRL, ICLR 2024), building on Gao et al. (2021), "Learning energy-based models
by diffusion recovery likelihood" (DRL).

Noise levels ``t = 0 .. T`` with the variance-preserving transitions ::

    x_{t+1} = alpha_t x_t + sigma_t eps,    alpha_t = sqrt(1 - sigma_t^2),    eps ~ N(0, I),

so ``x_t = abar_t x_0 + sbar_t eps`` (:func:`marginal_coefficients`). At each level an
energy-based model ``p_theta(x_t) ∝ exp(f_theta(x_t, t))`` is learned through its *recovery
likelihood*, the conditional of ``x_t`` given the noisier ``x_{t+1}`` ::

    p_theta(x_t | x_{t+1}) ∝ exp(f_theta(x_t, t) - |x_{t+1} - alpha_t x_t|^2 / (2 sigma_t^2))

(:func:`recovery_log_prob`). For small ``sigma_t`` the quadratic term makes it close to a
Gaussian, which a few Langevin steps (:func:`refine`, ``energy.mcmc.ula``) sample well.
Maximizing ``E log p_theta(x_t | x_{t+1})`` over data pairs has the contrastive gradient
``E_data grad f(x_t) - E_{x~p_theta(.|x_{t+1})} grad f(x)``: :func:`recovery_contrastive_loss`
with the refined samples behind ``stop_gradient``.

CDRL adds an *initializer* ``q_phi(x_t | x_{t+1}) = N(g_phi(x_{t+1}, t), s_t^2 I)``: its
proposal starts the Langevin chains and it learns from the refined samples by maximum
likelihood (:func:`initializer_loss`, whose gradient moves ``g_phi`` along
``refined - initial``), so fewer Langevin steps are needed. DRL starts the chains at
``x_{t+1} / alpha_t`` instead. ``s_t`` is the diffusion posterior's std
(:func:`posterior_std`).

With Gaussian data every level's marginal is Gaussian and so is the recovery conditional
(:func:`gaussian_marginal`, :func:`gaussian_recovery`), the closed forms the tests use.
Per-example functions work on one example (``[D]``); callers ``jax.vmap`` them.
"""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from likelihood_jax import _checks
from likelihood_jax.energy import mcmc

Array = jax.Array


def vp_schedule(num_levels: int, sigma_min: float, sigma_max: float) -> tuple[Array, Array]:
    """``(alphas [T], sigmas [T])`` of ``T`` variance-preserving transitions [P172].

    ``sigma_t`` is geometric from ``sigma_min`` to ``sigma_max`` and
    ``alpha_t = sqrt(1 - sigma_t^2)``, so a unit-variance input keeps unit variance.

    Args:
      num_levels: ``T``, an integer ``>= 1``.
      sigma_min: the first transition's noise, ``> 0``.
      sigma_max: the last one's, in ``[sigma_min, 1)``.
    """
    function = "vp_schedule"
    _checks.require_integer_at_least(function, "num_levels", num_levels, 1)
    _checks.require_greater(function, "sigma_min", sigma_min)
    if not sigma_min <= sigma_max < 1.0:
        raise _checks.error(function, "sigma_max", f"in [sigma_min={sigma_min}, 1)",
                            repr(sigma_max))
    sigmas = jnp.geomspace(sigma_min, sigma_max, num_levels).astype(jnp.float32)
    return jnp.sqrt(1.0 - sigmas**2), sigmas


def marginal_coefficients(alphas: Array, sigmas: Array) -> tuple[Array, Array]:
    """``(abar [T+1], sbar [T+1])`` with ``x_t = abar_t x_0 + sbar_t eps``.

    ``abar_0 = 1``, ``sbar_0 = 0``, ``abar_{t+1} = alpha_t abar_t`` and
    ``sbar_{t+1}^2 = alpha_t^2 sbar_t^2 + sigma_t^2``.
    """
    alphas, sigmas = jnp.asarray(alphas), jnp.asarray(sigmas)
    _checks.require_shape("marginal_coefficients", "sigmas", sigmas, alphas.shape,
                          "the shape of alphas")

    def step(carry, coeffs):
        abar, var = carry
        alpha, sigma = coeffs
        nxt = (alpha * abar, alpha**2 * var + sigma**2)
        return nxt, nxt

    one, zero = jnp.ones((), alphas.dtype), jnp.zeros((), alphas.dtype)
    _, (abar, var) = jax.lax.scan(step, (one, zero), (alphas, sigmas))
    return jnp.concatenate([one[None], abar]), jnp.sqrt(jnp.concatenate([zero[None], var]))


def posterior_std(alphas: Array, sigmas: Array) -> Array:
    """``s_t`` ``[T]``: the std of ``q(x_t | x_{t+1}, x_0)``, ``sigma_t sbar_t / sbar_{t+1}``.

    The initializer's proposal noise [P172] (DDPM's posterior variance); ``0`` at ``t = 0``.
    """
    _, sbar = marginal_coefficients(alphas, sigmas)
    return jnp.asarray(sigmas) * sbar[:-1] / sbar[1:]


def noisy_pair(x0: Array, t, alphas: Array, sigmas: Array, key) -> tuple[Array, Array]:
    """``(x_t, x_{t+1})`` of one clean example ``x0`` at level ``t`` (an int, may be traced)."""
    abar, sbar = marginal_coefficients(alphas, sigmas)
    k_t, k_next = jax.random.split(key)
    x_t = abar[t] * x0 + sbar[t] * jax.random.normal(k_t, x0.shape, x0.dtype)
    x_next = alphas[t] * x_t + sigmas[t] * jax.random.normal(k_next, x0.shape, x0.dtype)
    return x_t, x_next


def recovery_log_prob(log_f: Array, x_t: Array, x_next: Array, alpha, sigma) -> Array:
    """``f(x_t) - |x_{t+1} - alpha x_t|^2 / (2 sigma^2)``, the unnormalized recovery log-density.

    Args:
      log_f: ``f_theta(x_t, t)``, the EBM's log-density at level ``t`` up to a constant.
      x_t: the cleaner point ``[D]``.
      x_next: the noisier one ``[D]``.
      alpha: the transition's scale ``alpha_t``.
      sigma: its noise ``sigma_t``.
    """
    return log_f - jnp.sum((x_next - alpha * x_t) ** 2) / (2.0 * sigma**2)


def refine(log_f_fn: Callable[[Array], Array], x_init: Array, x_next: Array, alpha, sigma,
           key, *, step_size, num_steps: int) -> Array:
    """``num_steps`` Langevin steps on ``p(x_t | x_{t+1})`` from ``x_init`` (one example) [P172].

    :func:`likelihood_jax.energy.mcmc.ula` on :func:`recovery_log_prob`:
    ``x <- x + (h/2) grad log p(x | x_{t+1}) + sqrt(h) xi``. The quadratic term has curvature
    ``alpha^2 / sigma^2``, so ``h`` of order ``(sigma / alpha)^2`` times a small factor is
    stable; DRL and CDRL both use ``h ∝ sigma^2``.
    """
    def log_prob(x):
        return recovery_log_prob(log_f_fn(x), x, x_next, alpha, sigma)

    return mcmc.ula(log_prob, x_init, key, step_size=step_size, num_steps=num_steps).state


def recovery_contrastive_loss(f_data: Array, f_samples: Array) -> Array:
    """``f(x~) - f(x_t)`` per pair: its gradient is the negative recovery log-likelihood's.

    ``grad_theta [-log p_theta(x_t | x_{t+1})] = -grad f(x_t) + E_{x~p_theta(.|x_{t+1})}
    grad f(x)``, estimated with one refined sample ``x~`` per data pair (held fixed by
    ``stop_gradient`` in the caller) [P172; Gao et al. 2021, Eq. 9].
    """
    f_data, f_samples = jnp.asarray(f_data), jnp.asarray(f_samples)
    _checks.require_broadcast("recovery_contrastive_loss", f_data=f_data.shape,
                              f_samples=f_samples.shape)
    return f_samples - f_data


def initializer_loss(mean: Array, refined: Array, std) -> Array:
    """``|sg(refined) - mean|^2 / (2 std^2)``: the initializer's Gaussian NLL (one example).

    CDRL's initializer ``N(mean, std^2 I)`` learns by maximum likelihood on the Langevin-
    refined samples [P172]; the gradient with respect to ``mean`` is
    ``-(refined - mean) / std^2``, i.e. it moves the proposal along ``refined - initial``
    (up to the proposal noise). ``std`` only scales the loss.
    """
    _checks.require_greater("initializer_loss", "std", std)
    refined = jax.lax.stop_gradient(refined)
    return jnp.sum((refined - mean) ** 2) / (2.0 * std**2)


def gaussian_marginal(mean: Array, var: Array, abar, sbar) -> tuple[Array, Array]:
    """Mean and variance of ``x_t`` for data ``N(mean, diag(var))``.

    ``abar m`` and ``abar^2 v + sbar^2`` (:func:`marginal_coefficients`).
    """
    return abar * jnp.asarray(mean), abar**2 * jnp.asarray(var) + sbar**2


def gaussian_recovery(mean_t: Array, var_t: Array, x_next: Array, alpha, sigma
                      ) -> tuple[Array, Array]:
    """The recovery conditional ``p(x_t | x_{t+1})`` when ``p_t = N(mean_t, diag(var_t))``.

    ``N(x_t; m, v) N(x_{t+1}; alpha x_t, sigma^2)`` is Gaussian in ``x_t`` with precision
    ``1/v + alpha^2/sigma^2`` and mean ``(m/v + alpha x_{t+1}/sigma^2) / precision``.

    Returns:
      ``(mean, var)`` per coordinate.
    """
    precision = 1.0 / jnp.asarray(var_t) + alpha**2 / sigma**2
    return (jnp.asarray(mean_t) / var_t + alpha * x_next / sigma**2) / precision, 1.0 / precision
