r"""Diffusion-model likelihood bounds and denoising losses, per example.

Two continuous-time bounds on the negative log-likelihood of one example ``x`` (nats),
each a single-sample Monte Carlo estimate that is **unbiased for the bound** (the bound
itself is ``>= -log p_model(x)``):

* :func:`vdm_nll_bound`: the continuous-time ELBO of variational diffusion models
  (Kingma et al. 2021, "Variational diffusion models", the ``T -> infinity``
  limit) for continuous data with a Gaussian decoder::

      -log p(x) <= KL(q(z_1 | x) || N(0, I))                       (prior)
                   + E_{z_0 ~ q(z_0|x)}[-log p(x | z_0)]           (reconstruction)
                   + 1/2 E_{t ~ U(0,1), eps} [gamma'(t) |eps - eps_hat(t, z_t)|^2]
                                                                   (diffusion)

  with ``z_t = alpha_t x + sigma_t eps``, ``gamma = -log SNR``, ``alpha_t^2 =
  sigmoid(-gamma_t)``, ``sigma_t^2 = sigmoid(gamma_t)`` and the decoder ``p(x | z_0) =
  N(x; z_0 / alpha_0, e^{gamma_0} I)``. It is a bound because it is the negative
  evidence lower bound (Jensen's inequality) of the hierarchical latent-variable model
  ``z_1 -> z_t -> z_0 -> x`` whose reverse transitions use ``eps_hat``, in the limit of
  infinitely many steps. The reconstruction term is exact in closed form,
  ``D/2 (log 2 pi + gamma_0 + 1)``, and so is the prior KL.

* :func:`score_sde_nll_bound`: the bound of Song, Durkan, Murray & Ermon (2021,
  "Maximum likelihood training of score-based diffusion models", in denoising
  form) for the reverse SDE with score ``s``::

      -log p_SDE(x) <= E_{x_T | x}[-log pi(x_T)]
          + 1/2 int_0^T E_{x_t | x}[ g^2 |s(t, x_t) - c_t|^2 - g^2 |c_t|^2 - 2 div f ] dt

  with the conditional score ``c_t = grad log p_{0t}(x_t | x)``. It holds for the SDE
  model (the ODE model's likelihood is close but not bounded by it). Here the prior
  term and ``E|c_t|^2 = D / sigma_t^2`` are taken in closed form (unbiasedness is
  kept); the time integral starts at ``t_min`` (the standard numerical truncation, as
  in Song et al.), and ``t`` is drawn uniformly or by **importance sampling** with
  density proportional to ``g^2 / sigma^2 = d(-log SNR)/dt`` (true for every linear
  SDE), which makes the integrand's variance bounded (as their importance sampling does).

And the training loss :func:`weighted_denoising_score_matching`: ``lambda(t) |s(t,
x_t) - c_t|^2`` with the *likelihood weighting* ``lambda = g^2`` (the ``s``-dependent
part of the Song et al. bound, so minimizing it maximizes a likelihood bound) or
Song et al. (2021)'s default ``lambda = sigma_t^2``.

Bits/dim of discrete data: :func:`nll_bound_bits_per_dim` applies the dequantization
convention of :mod:`likelihood_jax.metrics` to a bound computed on dequantized data.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

from likelihood_jax import metrics
from likelihood_jax import sde as sde_lib

Array = jax.Array
ScoreFn = Callable[[Array, Array], Array]

T_SAMPLING = ("uniform", "importance")
WEIGHTINGS = ("likelihood", "variance")


def _check(name: str, value: str, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"Unknown {name} {value!r}; expected one of {tuple(allowed)}.")


def _gamma_and_derivative(gamma: Callable[[Array], Array], t: Array) -> tuple[Array, Array]:
    return jax.jvp(gamma, (t,), (jnp.ones_like(t),))


def vdm_nll_bound(noise_fn: ScoreFn, x: Array, key: Array, *,
                  gamma: Callable[[Array], Array] = sde_lib.linear_log_snr,
                  t: Array | None = None) -> tuple[Array, dict[str, Array]]:
    """Continuous-time VDM bound on ``-log p(x)`` (nats) for one continuous example.

    See the module docstring for the bound and why it is one. Cost: one evaluation of
    the noise-prediction network. The diffusion term is a single-sample estimate over
    ``t ~ U(0, 1)`` and ``eps``; the prior and reconstruction terms are exact.

    Args:
      noise_fn: ``eps_hat(t, z_t)``, the noise prediction for one example.
      x: one example (any event shape), continuous.
      key: PRNG key for ``t`` and ``eps``.
      gamma: the schedule ``gamma(t) = -log SNR(t)``, increasing on ``[0, 1]``
        (e.g. :func:`likelihood_jax.sde.linear_log_snr`, or a learned
        :func:`likelihood_jax.sde.monotone_log_snr` closed over its parameters:
        gradients reach the schedule's parameters through ``gamma'(t)`` and the
        endpoint terms).
      t: optional fixed time instead of a uniform draw.

    Returns:
      ``(nll_bound, terms)`` with ``terms`` = ``{"prior", "reconstruction",
      "diffusion"}`` (their sum is the bound).
    """
    x = jnp.asarray(x)
    t_key, eps_key = jax.random.split(key)
    if t is None:
        t = jax.random.uniform(t_key, (), x.dtype)
    t = jnp.asarray(t, x.dtype)
    d = x.size
    eps = jax.random.normal(eps_key, x.shape, x.dtype)
    gamma_t, dgamma_t = _gamma_and_derivative(gamma, t)
    z_t = jnp.sqrt(jax.nn.sigmoid(-gamma_t)) * x + jnp.sqrt(jax.nn.sigmoid(gamma_t)) * eps
    err = eps - noise_fn(t, z_t)
    diffusion = 0.5 * dgamma_t * jnp.sum(err * err)
    gamma_1 = gamma(jnp.ones((), x.dtype))
    var_1 = jax.nn.sigmoid(gamma_1)
    prior = 0.5 * jnp.sum(jax.nn.sigmoid(-gamma_1) * x * x + var_1 - 1.0
                          - jax.nn.log_sigmoid(gamma_1))
    gamma_0 = gamma(jnp.zeros((), x.dtype))
    reconstruction = 0.5 * d * (math.log(2.0 * math.pi) + gamma_0 + 1.0)
    terms = {"prior": prior, "reconstruction": reconstruction, "diffusion": diffusion}
    return prior + reconstruction + diffusion, terms


def _neg_log_snr(sde: sde_lib.SDE, t) -> Array:
    return -sde.log_snr(t)


def sample_time(key: Array, sde: sde_lib.SDE, *, t_min: float, sampling: str = "uniform",
                dtype=jnp.float32, num_bisections: int = 48) -> tuple[Array, Array]:
    """Draws ``t`` on ``[t_min, T]`` and returns ``(t, 1 / density(t))``.

    ``"uniform"``: density ``1 / (T - t_min)``. ``"importance"``: density
    ``lambda'(t) / (lambda(T) - lambda(t_min))`` with ``lambda = -log SNR``, i.e.
    ``lambda(t)`` is uniform; ``t`` is found by bisection (``lambda`` increases), and
    ``lambda'(t) = g(t)^2 / sigma(t)^2`` for the linear SDEs of
    :mod:`likelihood_jax.sde`.

    Args:
      key: PRNG key.
      sde: the SDE.
      t_min: lower end of the time interval.
      sampling: ``"uniform"`` or ``"importance"``.
      dtype: float dtype of ``t``.
      num_bisections: bisection iterations of the inverse (importance sampling).

    Returns:
      ``(t, inverse_density)``, scalars.

    Raises:
      ValueError: for an unknown ``sampling``.
    """
    _check("time sampling", sampling, T_SAMPLING)
    u = jax.random.uniform(key, (), dtype)
    lo, hi = jnp.asarray(t_min, dtype), jnp.asarray(sde.T, dtype)
    if sampling == "uniform":
        return lo + u * (hi - lo), hi - lo
    lam_lo, lam_hi = _neg_log_snr(sde, lo), _neg_log_snr(sde, hi)
    target = lam_lo + u * (lam_hi - lam_lo)

    def bisect(_, bounds):
        a, b = bounds
        mid = 0.5 * (a + b)
        below = _neg_log_snr(sde, mid) < target
        return jnp.where(below, mid, a), jnp.where(below, b, mid)

    a, b = jax.lax.fori_loop(0, num_bisections, bisect, (lo, hi))
    t = 0.5 * (a + b)
    _, dlam = jax.jvp(lambda s: _neg_log_snr(sde, s), (t,), (jnp.ones_like(t),))
    # The barrier keeps XLA from fusing this into the caller's arithmetic: on XLA:CPU
    # (jax 0.10) that fusion turned whole vmapped batches of the sub-VP bound into NaN
    # (reproduced at batch 10^4 in float32 and float64, not at 10^3).
    return jax.lax.optimization_barrier((t, (lam_hi - lam_lo) / dlam))


def score_sde_nll_bound(score_fn: ScoreFn, x: Array, key: Array, *, sde: sde_lib.SDE,
                        t_min: float = 1e-5, t_sampling: str = "importance"
                        ) -> tuple[Array, dict[str, Array]]:
    """Song et al. (2021) likelihood bound ``>= -log p_SDE(x)`` for one example (nats).

    See the module docstring. One-sample estimate of the time integral (``t`` from
    :func:`sample_time`) with one ``x_t ~ p_{0t}(. | x)``; the prior cross-entropy
    ``E[-log pi(x_T)]`` and ``E|c_t|^2 = D / sigma_t^2`` are exact. Cost: one score
    evaluation.

    Args:
      score_fn: ``s(t, x)`` for one example.
      x: one example (continuous; any event shape).
      key: PRNG key.
      sde: the diffusion's SDE (:mod:`likelihood_jax.sde`).
      t_min: truncation of the time integral.
      t_sampling: ``"importance"`` (default; bounded variance) or ``"uniform"``.

    Returns:
      ``(nll_bound, terms)`` with ``terms = {"prior", "diffusion"}``.
    """
    x = jnp.asarray(x)
    d = x.size
    t_key, x_key = jax.random.split(key)
    t, inv_density = sample_time(t_key, sde, t_min=t_min, sampling=t_sampling, dtype=x.dtype)
    alpha, sigma = sde.marginal(t)
    x_t, eps = sde.marginal_sample(x_key, x, t)
    g2 = sde.diffusion(t) ** 2
    # sigma^2 |s - c|^2 with c = -eps / sigma, kept in this form for small sigma.
    err = sigma * score_fn(t, x_t) + eps
    integrand = 0.5 * ((g2 / sigma**2) * (jnp.sum(err * err) - d)
                       - 2.0 * d * sde.drift_coefficient(t))
    alpha_T, sigma_T = sde.marginal(jnp.asarray(sde.T, x.dtype))
    s2 = sde.prior_std**2
    prior = (0.5 * d * math.log(2.0 * math.pi * s2)
             + (alpha_T**2 * jnp.sum(x * x) + d * sigma_T**2) / (2.0 * s2))
    diffusion = inv_density * integrand
    return prior + diffusion, {"prior": prior, "diffusion": diffusion}


def weighted_denoising_score_matching(score_fn: ScoreFn, x: Array, key: Array, *,
                                      sde: sde_lib.SDE, weighting: str = "likelihood",
                                      t_min: float = 1e-5, t_sampling: str = "uniform"
                                      ) -> Array:
    """Per-example denoising score matching over diffusion time, with a weighting.

    ``(T - t_min) E_t[lambda(t) |s(t, x_t) - grad log p_{0t}(x_t | x)|^2] / 2`` for
    ``t ~ U(t_min, T)`` (or importance-sampled, see :func:`sample_time`),
    ``x_t = alpha_t x + sigma_t eps``. ``weighting="likelihood"``: ``lambda = g^2``,
    which makes the loss the score-dependent part of :func:`score_sde_nll_bound`
    (Song et al. 2021, "Maximum likelihood training of score-based diffusion
    models"); ``"variance"``: ``lambda = sigma_t^2`` (Song et al. 2021, "Score-based
    generative modeling through SDEs", the usual choice). Unbiased single-sample
    estimate; one score evaluation.

    Args:
      score_fn: ``s(t, x)`` for one example.
      x: one example.
      key: PRNG key.
      sde: the SDE.
      weighting: ``"likelihood"`` or ``"variance"``.
      t_min: smallest time.
      t_sampling: ``"uniform"`` or ``"importance"``.

    Returns:
      A scalar.

    Raises:
      ValueError: unknown weighting or time sampling.
    """
    _check("weighting", weighting, WEIGHTINGS)
    x = jnp.asarray(x)
    t_key, x_key = jax.random.split(key)
    t, inv_density = sample_time(t_key, sde, t_min=t_min, sampling=t_sampling, dtype=x.dtype)
    _, sigma = sde.marginal(t)
    x_t, eps = sde.marginal_sample(x_key, x, t)
    err = sigma * score_fn(t, x_t) + eps  # = sigma^2 (s - c) / sigma
    weight = sde.diffusion(t) ** 2 / sigma**2 if weighting == "likelihood" else 1.0
    return 0.5 * inv_density * weight * jnp.sum(err * err)


def nll_bound_bits_per_dim(nll_bound, num_dims: int, *, num_levels: int,
                           scale: float | None = None) -> Array:
    """Bits/dim of discrete data from an NLL bound (nats) on its dequantized version.

    The bounds above are computed on ``y = a + scale * (k + u)`` (e.g.
    :func:`likelihood_jax.metrics.uniform_dequantize`, ``scale = 1/L``); then
    ``-log P(k) <= E_u[bound(y)] - D log(scale)`` (Jensen, see
    :mod:`likelihood_jax.metrics`), returned per dimension in bits via
    :func:`likelihood_jax.metrics.dequantized_bits_per_dim`.

    Args:
      nll_bound: the bound in nats for one example (or an array of them).
      num_dims: dimensions ``D`` of one example.
      num_levels: number of discrete levels ``L``.
      scale: slope per level of the map to model space (default ``1/L``).

    Returns:
      Bits per dimension, shaped like ``nll_bound``.
    """
    return metrics.dequantized_bits_per_dim(-jnp.asarray(nll_bound), num_dims,
                                            num_levels=num_levels, scale=scale)
