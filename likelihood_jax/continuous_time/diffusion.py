r"""Diffusion-model likelihood bounds and denoising losses, per example [P013] [P156].

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

i-DODE [P013] (Zheng, Lu, Chen & Zhu 2023, "Improved techniques for maximum likelihood
estimation for diffusion ODEs"): the velocity parameterization
(:func:`velocity_target`, :func:`noise_from_velocity`, :func:`velocity_score_fn`), its
maximum-likelihood loss with importance-sampled time (:func:`velocity_sample_time`,
:func:`velocity_matching_loss`) and the error-bounded second-order objective for
fine-tuning (:func:`velocity_second_order_loss`, with :func:`value_and_probe_trace`).
See the comment block above them; truncated-normal dequantization for evaluation is in
:mod:`likelihood_jax.metrics`.

Bits/dim of discrete data: :func:`nll_bound_bits_per_dim` applies the dequantization
convention of :mod:`likelihood_jax.metrics` to a bound computed on dequantized data.
"""

from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp

from likelihood_jax import estimators, metrics
from likelihood_jax import sde as sde_lib
from likelihood_jax.types import TimeField, TimeScoreFn

Array = jax.Array

T_SAMPLING = ("uniform", "importance")
WEIGHTINGS = ("likelihood", "variance")


def _check(name: str, value: str, allowed) -> None:
    if value not in allowed:
        raise ValueError(f"Unknown {name} {value!r}; expected one of {tuple(allowed)}.")


def _gamma_and_derivative(gamma: Callable[[Array], Array], t: Array) -> tuple[Array, Array]:
    return jax.jvp(gamma, (t,), (jnp.ones_like(t),))


def vdm_nll_bound(noise_fn: TimeField, x: Array, key: Array, *,
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


def _invert_increasing(fn: Callable[[Array], Array], target: Array, lo: Array, hi: Array,
                       num_bisections: int) -> Array:
    """The ``t`` in ``[lo, hi]`` with ``fn(t) = target`` for increasing ``fn``, by bisection."""

    def bisect(_, bounds):
        a, b = bounds
        mid = 0.5 * (a + b)
        below = fn(mid) < target
        return jnp.where(below, mid, a), jnp.where(below, b, mid)

    a, b = jax.lax.fori_loop(0, num_bisections, bisect, (lo, hi))
    return 0.5 * (a + b)


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
    t = _invert_increasing(lambda s: _neg_log_snr(sde, s), target, lo, hi, num_bisections)
    _, dlam = jax.jvp(lambda s: _neg_log_snr(sde, s), (t,), (jnp.ones_like(t),))
    # The barrier keeps XLA from fusing this into the caller's arithmetic: on XLA:CPU
    # (jax 0.10) that fusion turned whole vmapped batches of the sub-VP bound into NaN
    # (reproduced at batch 10^4 in float32 and float64, not at 10^3).
    return jax.lax.optimization_barrier((t, (lam_hi - lam_lo) / dlam))


def score_sde_nll_bound(score_fn: TimeScoreFn, x: Array, key: Array, *, sde: sde_lib.SDE,
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


def weighted_denoising_score_matching(score_fn: TimeScoreFn, x: Array, key: Array, *,
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


# -- i-DODE: velocity parameterization, importance-sampled time, second-order matching ----
#
# Zheng, Lu, Chen & Zhu (2023), "Improved techniques for maximum likelihood estimation
# for diffusion ODEs" (i-DODE, ICML). For a variance-preserving diffusion
# (``alpha^2 + sigma^2 = 1``) with ``gamma = -log SNR``, the network predicts the
# *velocity* ``F ~ alpha eps - sigma x`` (the conditional velocity of ``x_t = alpha x +
# sigma eps`` per unit of ``phi = arctan(sigma / alpha)``), which gives
# ``eps_hat = alpha F + sigma x_t`` and the probability-flow ODE
# ``dx/dt = gamma'(t) alpha sigma F / 2``. Since ``eps - eps_hat = alpha (F_target - F)``,
# the maximum-likelihood (VDM) weighting ``gamma'/2 |eps - eps_hat|^2`` becomes
# ``gamma' alpha^2 / 2 |F_target - F|^2``; i-DODE samples ``t`` with density
# proportional to ``gamma'(t) alpha(t)^2`` (``log sigma(t)^2`` uniform), which makes the
# weight the constant ``Z / 2``, ``Z = log(sigma^2(T) / sigma^2(t_min))``.

VELOCITY_T_SAMPLING = ("uniform", "importance")


def _check_variance_preserving(sde) -> None:
    if not isinstance(sde, (sde_lib.VPSDE, sde_lib.LogSNRSDE)) or isinstance(
            sde, sde_lib.SubVPSDE):
        raise ValueError(f"The velocity parameterization needs a variance-preserving SDE "
                         f"(VPSDE or LogSNRSDE), got {type(sde).__name__}.")


def velocity_target(x: Array, eps: Array, alpha, sigma) -> Array:
    """The velocity regression target ``alpha eps - sigma x`` of i-DODE (VP diffusions).

    For ``x_t = alpha x + sigma eps`` it is the derivative of ``x_t`` in the angle
    ``phi = arctan(sigma / alpha)`` (``alpha = cos phi``); the conditional velocity in
    ``t`` is ``dx_t/dt = gamma'(t) alpha sigma / 2 * (alpha eps - sigma x)``.

    Args:
      x: the clean example.
      eps: the noise.
      alpha: ``alpha(t)``.
      sigma: ``sigma(t)``.

    Returns:
      ``alpha eps - sigma x``, shaped like ``x``.
    """
    return alpha * eps - sigma * x


def noise_from_velocity(velocity: Array, x_t: Array, alpha, sigma) -> Array:
    """``eps_hat = alpha F + sigma x_t`` (exact inverse of :func:`velocity_target` for VP)."""
    return alpha * velocity + sigma * x_t


def velocity_score_fn(sde, velocity_fn: TimeField) -> TimeScoreFn:
    """The score ``s(t, x) = -eps_hat / sigma = -(alpha F + sigma x) / sigma`` of a velocity net.

    Feed it to :func:`likelihood_jax.ode.probability_flow_log_prob`: its probability-flow
    velocity is ``f - g^2 s / 2 = gamma'(t) alpha sigma F / 2`` (the i-DODE ODE).

    Args:
      sde: a variance-preserving SDE (:class:`likelihood_jax.sde.VPSDE` or
        :class:`likelihood_jax.sde.LogSNRSDE`).
      velocity_fn: ``F(t, x)`` for one example.

    Returns:
      ``score_fn(t, x)``.

    Raises:
      ValueError: for a non-variance-preserving SDE.
    """
    _check_variance_preserving(sde)

    def score(t, x):
        alpha, sigma = sde.marginal(t)
        return -noise_from_velocity(velocity_fn(t, x), x, alpha, sigma) / sigma

    return score


def _neg_log_snr_and_derivative(sde, t) -> tuple[Array, Array]:
    return jax.jvp(lambda s: -sde.log_snr(s), (t,), (jnp.ones_like(t),))


def _log_var(sde, t) -> Array:
    return 2.0 * jnp.log(sde.marginal(t)[1])


def velocity_sample_time(key: Array, sde, *, t_min: float = 0.0,
                         sampling: str = "importance", dtype=jnp.float32,
                         num_bisections: int = 48) -> tuple[Array, Array]:
    """Draws ``t`` on ``[t_min, T]`` and the ML weight of the velocity loss over its density.

    The per-``t`` maximum-likelihood weight of ``|F_target - F|^2`` is
    ``w(t) = gamma'(t) alpha(t)^2 / 2`` (module comment above). ``"uniform"``:
    ``t ~ U(t_min, T)``, returns ``(T - t_min) w(t)``. ``"importance"`` (i-DODE):
    density ``gamma' alpha^2 / Z`` with ``Z = log sigma^2(T) - log sigma^2(t_min)``
    (for VP, ``d log sigma^2 / dt = gamma' alpha^2``), i.e. ``log sigma^2(t)`` uniform,
    inverted by bisection; returns the constant ``Z / 2``. Both give the same
    expectation ``integral w(t) E|F_target - F|^2 dt``; the importance weight removes
    the factor ``gamma' alpha^2``, which is what made the uniform estimator's variance
    large.

    Args:
      key: PRNG key.
      sde: a variance-preserving SDE.
      t_min: lower end of the time interval (``sigma(t_min) > 0``).
      sampling: ``"uniform"`` or ``"importance"``.
      dtype: float dtype of ``t``.
      num_bisections: bisection iterations (importance sampling).

    Returns:
      ``(t, weight)``: scalars; ``weight`` multiplies ``|F_target - F|^2``.

    Raises:
      ValueError: unknown ``sampling`` or a non-variance-preserving SDE.
    """
    _check("time sampling", sampling, VELOCITY_T_SAMPLING)
    _check_variance_preserving(sde)
    u = jax.random.uniform(key, (), dtype)
    lo, hi = jnp.asarray(t_min, dtype), jnp.asarray(sde.T, dtype)
    if sampling == "uniform":
        t = lo + u * (hi - lo)
        _, dgamma = _neg_log_snr_and_derivative(sde, t)
        alpha, _ = sde.marginal(t)
        return t, (hi - lo) * 0.5 * dgamma * alpha**2
    lv_lo, lv_hi = _log_var(sde, lo), _log_var(sde, hi)
    target = lv_lo + u * (lv_hi - lv_lo)
    t = _invert_increasing(lambda s: _log_var(sde, s), target, lo, hi, num_bisections)
    return jax.lax.optimization_barrier((t, 0.5 * (lv_hi - lv_lo)))


def velocity_matching_loss(velocity_fn: TimeField, x: Array, key: Array, *, sde,
                           t_min: float = 0.0, t_sampling: str = "importance"
                           ) -> tuple[Array, dict[str, Array]]:
    """i-DODE's maximum-likelihood velocity (first-order flow-matching) loss, one example.

    ``weight(t) |alpha eps - sigma x - F(t, x_t)|^2`` with ``x_t = alpha x + sigma eps``
    and ``(t, weight)`` from :func:`velocity_sample_time`. Its expectation is
    ``integral_{t_min}^T gamma'/2 E|eps - eps_hat|^2 dt`` for ``eps_hat = alpha F +
    sigma x_t``: exactly the diffusion term of the VDM bound (:func:`vdm_nll_bound`),
    whatever the sampling. Unbiased single-sample estimate; one network evaluation.

    Args:
      velocity_fn: ``F(t, x)`` for one example.
      x: one clean example.
      key: PRNG key.
      sde: a variance-preserving SDE.
      t_min: smallest time.
      t_sampling: ``"importance"`` (i-DODE) or ``"uniform"``.

    Returns:
      ``(loss, terms)`` with ``terms = {"mse", "t", "weight"}``.
    """
    x = jnp.asarray(x)
    t_key, x_key = jax.random.split(key)
    t, weight = velocity_sample_time(t_key, sde, t_min=t_min, sampling=t_sampling,
                                     dtype=x.dtype)
    alpha, sigma = sde.marginal(t)
    x_t, eps = sde.marginal_sample(x_key, x, t)
    err = velocity_target(x, eps, alpha, sigma) - velocity_fn(t, x_t)
    mse = jnp.sum(err * err)
    return weight * mse, {"mse": mse, "t": t, "weight": weight}


def value_and_probe_trace(f: Callable[[Array], Array], x: Array, probe: Array
                          ) -> tuple[Array, Array]:
    """``(f(x), probe^T J_f(x) probe)`` from one ``jax.jvp`` (Hutchinson's one-probe term).

    For a probe with ``E[v v^T] = I`` (Rademacher or Gaussian) the second output is an
    unbiased estimate of ``tr J_f(x) = div f(x)``. Cost: one forward-mode pass.

    Args:
      f: ``R^D -> R^D`` (any event shape, same in and out).
      x: the point.
      probe: the direction ``v``, shaped like ``x``.

    Returns:
      ``(f(x), v . (J_f(x) v))``.
    """
    value, directional = jax.jvp(f, (x,), (probe,))
    return value, jnp.sum(probe * directional)


def velocity_second_order_loss(velocity_fn: TimeField, x: Array, key: Array, *, sde,
                               t_min: float = 0.0, t_sampling: str = "importance",
                               second_order_weight: float = 0.1, probe: str = "rademacher",
                               exact_divergence: bool = False
                               ) -> tuple[Array, dict[str, Array]]:
    """i-DODE's error-bounded second-order flow-matching objective (fine-tuning), one example.

    The ODE likelihood error is bounded by the first-order error (the velocity) and
    the error of the velocity's divergence (Zheng et al. 2023, after Lu et al. 2022's
    high-order score matching). For Gaussian ``q(x | x_t)`` algebra (Tweedie's second
    moment) the optimal velocity ``F*`` satisfies, for VP,

        sigma tr(dF*/dx_t) = alpha (D - E[|F_target - F*|^2 | x_t]),

    so the loss is ``first + second`` with ``first`` = :func:`velocity_matching_loss`
    and

        second = weight * lambda * (sigma div_hat - alpha (D - sg(|F_target - F|^2)))^2 / D

    where ``div_hat = v^T (dF/dx_t) v`` is one Hutchinson probe by ``jax.jvp``
    (:func:`value_and_probe_trace`), ``sg`` is stop-gradient, ``lambda`` is
    ``second_order_weight`` and ``weight`` is the same time weight as the first-order
    term (as in the i-DODE code; 0.1 is its default ``lambda``). The squared one-probe
    estimate is biased upward by the probe's variance (as in the paper's code);
    ``exact_divergence=True`` uses the exact trace (``D`` jvps, for tests). Cost: one
    jvp (network evaluation plus its tangent) per example.

    Args:
      velocity_fn: ``F(t, x)`` for one example.
      x: one clean example.
      key: PRNG key.
      sde: a variance-preserving SDE.
      t_min: smallest time.
      t_sampling: ``"importance"`` or ``"uniform"``.
      second_order_weight: ``lambda``.
      probe: ``"rademacher"`` or ``"gaussian"``.
      exact_divergence: use the exact trace instead of one probe.

    Returns:
      ``(loss, terms)`` with ``terms = {"first", "second", "mse", "divergence",
      "residual", "t"}`` (``residual`` is the bracket before squaring).
    """
    x = jnp.asarray(x)
    t_key, x_key, probe_key = jax.random.split(key, 3)
    t, weight = velocity_sample_time(t_key, sde, t_min=t_min, sampling=t_sampling,
                                     dtype=x.dtype)
    alpha, sigma = sde.marginal(t)
    x_t, eps = sde.marginal_sample(x_key, x, t)
    field = lambda z: velocity_fn(t, z)  # noqa: E731
    if exact_divergence:
        velocity, divergence = estimators.divergence_and_value(field, x_t, None)
    else:
        v = estimators.sample_probes(probe_key, x.shape, probe, x.dtype)
        velocity, divergence = value_and_probe_trace(field, x_t, v)
    err = velocity_target(x, eps, alpha, sigma) - velocity
    mse = jnp.sum(err * err)
    d = x.size
    residual = sigma * divergence - alpha * (d - jax.lax.stop_gradient(mse))
    first = weight * mse
    second = weight * second_order_weight * residual**2 / d
    return first + second, {"first": first, "second": second, "mse": mse,
                            "divergence": divergence, "residual": residual, "t": t}
