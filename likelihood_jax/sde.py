r"""Diffusion SDEs with closed-form marginals, noise schedules and Euler–Maruyama samplers.

Song et al. (2021, "Score-based generative modeling through stochastic differential
equations") write a diffusion as the Itô SDE ``dx = f(t, x) dt + g(t) dw`` on
``t in [0, T]``, data at ``t = 0`` and (approximately) a known prior at ``t = T``. The
three SDEs here have linear drift ``f(t, x) = a(t) x``, so the transition from the
data is Gaussian:

    x_t | x_0 ~ N(alpha(t) x_0, sigma(t)^2 I),   x_t = alpha(t) x_0 + sigma(t) eps.

===========  ==============================  ===================  ==========================
SDE          f(t, x), g(t)                   alpha(t)             sigma(t)^2
===========  ==============================  ===================  ==========================
VP (DDPM)    -beta(t) x / 2, sqrt(beta(t))   exp(-B(t) / 2)       1 - exp(-B(t))
sub-VP       -beta(t) x / 2,                 exp(-B(t) / 2)       (1 - exp(-B(t)))^2
             sqrt(beta(t) (1 - e^{-2B(t)}))
VE (SMLD)    0, s(t) sqrt(2 log(smax/smin))  1                    s(t)^2 - smin^2
===========  ==============================  ===================  ==========================

with ``beta(t) = beta_min + t (beta_max - beta_min)``, ``B(t) = integral_0^t beta``
and ``s(t) = smin (smax/smin)^t``. (Song et al.'s code uses ``sigma(t) = s(t)`` for VE,
treating the data as already blurred by ``smin``; here ``sigma(t)^2 = s(t)^2 - smin^2``
is the exact variance of the SDE started at the data.)

:class:`LogSNRSDE` is the variance-preserving diffusion written through its log
signal-to-noise schedule ``gamma(t) = -log SNR(t) = log(sigma^2 / alpha^2)``
(Kingma et al. 2021, "Variational diffusion models"): ``alpha^2 = sigmoid(-gamma)``,
``sigma^2 = sigmoid(gamma)``, ``beta(t) = gamma'(t) sigma^2(t)``. ``gamma`` may be a
fixed function (:func:`linear_log_snr`) or a learned monotone one
(:func:`monotone_log_snr` with parameters from :func:`init_monotone_log_snr`).

The SDE objects are frozen dataclasses (hashable, fine as static arguments); all
methods are pure and work on one example or a batch alike (elementwise in ``x``,
scalar ``t``). The samplers (:func:`euler_maruyama`, :func:`reverse_euler_maruyama` and
Popov et al. (2022)'s maximum-likelihood reverse solver :func:`reverse_ml_solver`) run a
``lax.scan`` over a fixed time grid.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax.types import TimeScoreFn

Array = jax.Array


def _gaussian_log_prob(z: Array, log_std) -> Array:
    z = jnp.asarray(z)
    return (-0.5 * jnp.sum(z * z) * jnp.exp(-2.0 * log_std)
            - z.size * (log_std + 0.5 * math.log(2.0 * math.pi)))


class SDE:
    """Interface of a linear-drift diffusion ``dx = a(t) x dt + g(t) dw``.

    Subclasses define :meth:`drift_coefficient` (``a(t)``), :meth:`diffusion`
    (``g(t)``), :meth:`marginal` (``alpha(t), sigma(t)``), :attr:`T` and
    :attr:`prior_std`; everything else follows.
    """

    T: float = 1.0
    prior_std: float = 1.0

    def drift_coefficient(self, t) -> Array:
        """``a(t)`` in ``f(t, x) = a(t) x``; ``div f = a(t) * D``."""
        raise NotImplementedError

    def diffusion(self, t) -> Array:
        """``g(t)``."""
        raise NotImplementedError

    def marginal(self, t) -> tuple[Array, Array]:
        """``(alpha(t), sigma(t))``: ``x_t | x_0 ~ N(alpha x_0, sigma^2 I)`` (closed form)."""
        raise NotImplementedError

    def drift(self, t, x: Array) -> Array:
        """``f(t, x) = a(t) x``."""
        return self.drift_coefficient(t) * x

    def log_snr(self, t) -> Array:
        """``log(alpha(t)^2 / sigma(t)^2)``."""
        alpha, sigma = self.marginal(t)
        return 2.0 * (jnp.log(alpha) - jnp.log(sigma))

    def marginal_sample(self, key: Array, x0: Array, t) -> tuple[Array, Array]:
        """``(x_t, eps)`` with ``x_t = alpha(t) x0 + sigma(t) eps``, ``eps ~ N(0, I)``."""
        eps = jax.random.normal(key, jnp.shape(x0), jnp.asarray(x0).dtype)
        alpha, sigma = self.marginal(t)
        return alpha * x0 + sigma * eps, eps

    def conditional_log_prob(self, x_t: Array, x0: Array, t) -> Array:
        """``log N(x_t; alpha(t) x0, sigma(t)^2 I)``, summed over the example."""
        alpha, sigma = self.marginal(t)
        return _gaussian_log_prob(x_t - alpha * x0, jnp.log(sigma))

    def conditional_score(self, x_t: Array, x0: Array, t) -> Array:
        """``grad_{x_t} log p_{0t}(x_t | x0) = -(x_t - alpha x0) / sigma^2``."""
        alpha, sigma = self.marginal(t)
        return -(x_t - alpha * x0) / sigma**2

    def prior_sample(self, key: Array, shape, dtype=jnp.float32) -> Array:
        """A draw from the prior ``N(0, prior_std^2 I)`` used at ``t = T``."""
        return self.prior_std * jax.random.normal(key, shape, dtype)

    def prior_log_prob(self, z: Array) -> Array:
        """``log N(z; 0, prior_std^2 I)`` summed over one example."""
        return _gaussian_log_prob(z, math.log(self.prior_std))

    def reverse_drift(self, score_fn: TimeScoreFn) -> TimeScoreFn:
        """Drift of the reverse-time SDE ``f(t, x) - g(t)^2 s(t, x)`` (Anderson 1982)."""

        def drift(t, x):
            return self.drift(t, x) - self.diffusion(t) ** 2 * score_fn(t, x)

        return drift


@dataclasses.dataclass(frozen=True)
class VPSDE(SDE):
    """Variance-preserving SDE (the continuous DDPM; Song et al. 2021).

    Attributes:
      beta_min: ``beta(0)``.
      beta_max: ``beta(1)``; ``beta(t)`` is linear in ``t``.
      T: end time.
    """

    beta_min: float = 0.1
    beta_max: float = 20.0
    T: float = 1.0
    prior_std: float = 1.0

    def beta(self, t) -> Array:
        """``beta(t) = beta_min + t (beta_max - beta_min)``."""
        return self.beta_min + t * (self.beta_max - self.beta_min)

    def integrated_beta(self, t) -> Array:
        """``B(t) = integral_0^t beta(s) ds``."""
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2

    def drift_coefficient(self, t) -> Array:  # noqa: D102
        return -0.5 * self.beta(t)

    def diffusion(self, t) -> Array:  # noqa: D102
        return jnp.sqrt(self.beta(t))

    def marginal(self, t) -> tuple[Array, Array]:  # noqa: D102
        b = self.integrated_beta(t)
        return jnp.exp(-0.5 * b), jnp.sqrt(-jnp.expm1(-b))


@dataclasses.dataclass(frozen=True)
class SubVPSDE(VPSDE):
    """Sub-VP SDE (Song et al. 2021): VP drift, smaller diffusion.

    ``g(t)^2 = beta(t) (1 - exp(-2 B(t)))``; the marginal variance
    ``(1 - exp(-B(t)))^2`` is below the VP one at every ``t``.
    """

    def diffusion(self, t) -> Array:  # noqa: D102
        return jnp.sqrt(self.beta(t) * -jnp.expm1(-2.0 * self.integrated_beta(t)))

    def marginal(self, t) -> tuple[Array, Array]:  # noqa: D102
        b = self.integrated_beta(t)
        return jnp.exp(-0.5 * b), -jnp.expm1(-b)


@dataclasses.dataclass(frozen=True)
class VESDE(SDE):
    """Variance-exploding SDE (continuous SMLD/NCSN; Song et al. 2021).

    ``s(t) = sigma_min (sigma_max / sigma_min)^t``, ``f = 0``,
    ``g(t) = s(t) sqrt(2 log(sigma_max / sigma_min))``; the marginal variance from the
    data is ``s(t)^2 - sigma_min^2`` (exact). The prior is ``N(0, sigma_max^2 I)``.

    Attributes:
      sigma_min: noise scale at ``t = 0``.
      sigma_max: noise scale at ``t = 1``.
      T: end time.
    """

    sigma_min: float = 0.01
    sigma_max: float = 50.0
    T: float = 1.0

    @property
    def prior_std(self) -> float:  # noqa: D102
        return self.sigma_max

    def noise_scale(self, t) -> Array:
        """``s(t) = sigma_min (sigma_max / sigma_min)^t``."""
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def drift_coefficient(self, t) -> Array:  # noqa: D102
        return jnp.zeros_like(jnp.asarray(t))

    def diffusion(self, t) -> Array:  # noqa: D102
        return self.noise_scale(t) * math.sqrt(2.0 * math.log(self.sigma_max / self.sigma_min))

    def marginal(self, t) -> tuple[Array, Array]:  # noqa: D102
        s = self.noise_scale(t)
        return jnp.ones_like(s), jnp.sqrt(s**2 - self.sigma_min**2)


# -- Log-SNR schedules (Kingma et al. 2021) ---------------------------------------------------


def linear_log_snr(t, gamma_min: float = -13.3, gamma_max: float = 5.0) -> Array:
    """Fixed schedule ``gamma(t) = gamma_min + t (gamma_max - gamma_min)``, ``gamma = -log SNR``.

    The defaults are VDM's endpoints (Kingma et al. 2021): ``SNR(0) = e^{13.3}``
    (almost clean) and ``SNR(1) = e^{-5}`` (almost pure noise).

    Args:
      t: time(s) in ``[0, 1]``.
      gamma_min: ``gamma(0)``.
      gamma_max: ``gamma(1)``.

    Returns:
      ``gamma(t)``.
    """
    return gamma_min + (gamma_max - gamma_min) * t


def init_monotone_log_snr(num_bins: int = 16, gamma_min: float = -13.3,
                          gamma_max: float = 5.0) -> dict[str, Array]:
    """Parameters of :func:`monotone_log_snr`, starting as the linear schedule."""
    return {"gamma_min": jnp.asarray(gamma_min, jnp.float32),
            "gamma_max": jnp.asarray(gamma_max, jnp.float32),
            "logits": jnp.zeros((num_bins,), jnp.float32)}


def monotone_log_snr(params: dict[str, Array], t) -> Array:
    """A learnable, monotone increasing ``gamma(t) = -log SNR(t)`` on ``[0, 1]``.

    ``gamma(t) = gamma_min + (gamma_max - gamma_min) F(t)`` where ``F`` is piecewise
    linear on ``K`` equal bins with increments ``softmax(logits)``: ``F(0) = 0``,
    ``F(1) = 1`` and ``F`` increases, so ``gamma`` is monotone for any parameters
    (a simpler stand-in for VDM's monotone network: Kingma et al. 2021 learn the
    schedule to minimize the variance of the continuous-time ELBO, whose
    value depends on the schedule only through its endpoints). The endpoints are
    parameters too (``gamma_max`` is kept above ``gamma_min`` by the caller's
    initialization; no constraint is imposed).

    Args:
      params: ``{"gamma_min", "gamma_max", "logits" (K,)}``.
      t: a scalar time in ``[0, 1]``.

    Returns:
      ``gamma(t)`` (differentiable in ``t`` almost everywhere and in ``params``).
    """
    logits = params["logits"]
    k = logits.shape[0]
    weights = jax.nn.softmax(logits)
    edges = jnp.concatenate([jnp.zeros((1,), weights.dtype), jnp.cumsum(weights)])
    pos = jnp.clip(t, 0.0, 1.0) * k
    idx = jnp.clip(jnp.floor(pos).astype(jnp.int32), 0, k - 1)
    frac = pos - idx
    f = edges[idx] + frac * weights[idx]
    return params["gamma_min"] + (params["gamma_max"] - params["gamma_min"]) * f


@dataclasses.dataclass(frozen=True)
class LogSNRSDE(SDE):
    """Variance-preserving SDE defined by a log-SNR schedule ``gamma(t) = -log SNR(t)``.

    ``alpha(t)^2 = sigmoid(-gamma(t))``, ``sigma(t)^2 = sigmoid(gamma(t))``,
    ``beta(t) = gamma'(t) sigma(t)^2`` (from ``d log alpha^2 / dt = -beta``), drift
    ``-beta x / 2`` and ``g = sqrt(beta)``; ``gamma'`` by forward-mode autodiff. The
    VP SDE is the special case ``gamma(t) = log(expm1(B(t)))``.

    Attributes:
      gamma: ``gamma(t)`` for a scalar ``t`` (e.g. :func:`linear_log_snr`, or
        ``functools.partial(monotone_log_snr, params)`` for a learned schedule).
      T: end time (1).
    """

    gamma: Callable[[Array], Array] = linear_log_snr
    T: float = 1.0
    prior_std: float = 1.0

    def gamma_and_derivative(self, t) -> tuple[Array, Array]:
        """``(gamma(t), gamma'(t))``."""
        t = jnp.asarray(t, jnp.float32) if not hasattr(t, "dtype") else t
        return jax.jvp(self.gamma, (t,), (jnp.ones_like(t),))

    def beta(self, t) -> Array:
        """``beta(t) = gamma'(t) sigmoid(gamma(t))``."""
        g, dg = self.gamma_and_derivative(t)
        return dg * jax.nn.sigmoid(g)

    def drift_coefficient(self, t) -> Array:  # noqa: D102
        return -0.5 * self.beta(t)

    def diffusion(self, t) -> Array:  # noqa: D102
        return jnp.sqrt(self.beta(t))

    def marginal(self, t) -> tuple[Array, Array]:  # noqa: D102
        g = self.gamma(t)
        return jnp.sqrt(jax.nn.sigmoid(-g)), jnp.sqrt(jax.nn.sigmoid(g))

    def log_snr(self, t) -> Array:  # noqa: D102
        return -self.gamma(t)


# -- The fixed-step time grid ---------------------------------------------------------------


def time_grid(t_start, t_end, num_steps: int, dtype=jnp.float32) -> Array:
    """The ``num_steps + 1`` times ``t_i = t_start + (t_end - t_start) i / num_steps``.

    The one time grid of every fixed-step sampler (forward or reverse: ``t_end < t_start`` is
    allowed). Computed in float64 (numpy) from the nearer end and then cast, so every entry
    is within a few ulp of the exact grid point; the first entry is ``t_start`` and the last
    is ``t_end`` exactly (as ``dtype`` holds them), with no accumulated round-off at the end.
    Traced endpoints (under ``jit``) are handled in ``dtype`` with both ends set exactly.
    The step sizes ``h_i = t_{i+1} - t_i`` of a sampler should be differences of this grid,
    so that they sum to ``t_end - t_start``.

    Args:
      t_start: the first time.
      t_end: the last time.
      num_steps: the number of steps (``>= 1``).
      dtype: the grid's floating dtype.

    Returns:
      Shape ``(num_steps + 1,)``.

    Raises:
      ValueError: for ``num_steps < 1``.
    """
    if int(num_steps) != num_steps or num_steps < 1:
        raise ValueError(f"num_steps must be an integer >= 1, got {num_steps}")
    n = int(num_steps)
    try:
        a, b = float(t_start), float(t_end)
    except (TypeError, jax.errors.ConcretizationTypeError):  # traced end points
        a, b = jnp.asarray(t_start, dtype), jnp.asarray(t_end, dtype)
        i = jnp.arange(n + 1, dtype=dtype)
        grid = jnp.where(i <= n / 2, a + (b - a) * (i / n), b - (b - a) * ((n - i) / n))
        return grid.at[0].set(a).at[-1].set(b)
    i = np.arange(n + 1, dtype=np.float64)
    # From the nearer end, so that points near either end lose no relative precision.
    grid = np.where(i <= n / 2, a + (b - a) * (i / n), b - (b - a) * ((n - i) / n))
    grid[0], grid[-1] = a, b
    return jnp.asarray(grid, dtype)


# -- Euler–Maruyama samplers -----------------------------------------------------------------


def euler_maruyama(sde: SDE, x: Array, key: Array, *, num_steps: int, t_start: float = 0.0,
                   t_end: float | None = None, return_path: bool = False):
    """Simulates the forward SDE ``dx = f dt + g dw`` from ``t_start`` to ``t_end``.

    Euler–Maruyama on the uniform grid :func:`time_grid` of ``num_steps`` steps:
    ``x <- x + f(t_i, x) h_i + g(t_i) sqrt(h_i) xi``, ``h_i = t_{i+1} - t_i``,
    ``xi ~ N(0, I)`` (weak order 1, so moments are off by ``O(h)``), in a ``lax.scan``.

    Args:
      sde: the SDE.
      x: the state at ``t_start`` (one example or a batch: the update is elementwise).
      key: PRNG key.
      num_steps: number of steps.
      t_start: start time.
      t_end: end time (default ``sde.T``).
      return_path: also return the states after every step, shape ``(num_steps,) +
        x.shape``.

    Returns:
      ``x(t_end)`` (and the path when ``return_path``).
    """
    t_end = sde.T if t_end is None else t_end
    x = jnp.asarray(x)
    grid = time_grid(t_start, t_end, num_steps, x.dtype)

    def step(x, inputs):
        t, t_next, k = inputs
        h = t_next - t
        noise = jax.random.normal(k, x.shape, x.dtype)
        x = x + sde.drift(t, x) * h + sde.diffusion(t) * jnp.sqrt(h) * noise
        return x, (x if return_path else None)

    keys = jax.random.split(key, num_steps)
    x, path = jax.lax.scan(step, x, (grid[:-1], grid[1:], keys))
    return (x, path) if return_path else x


def reverse_euler_maruyama(sde: SDE, score_fn: TimeScoreFn, x: Array, key: Array, *,
                           num_steps: int, t_end: float = 1e-3, t_start: float | None = None,
                           return_path: bool = False, denoise: bool = False):
    """Simulates the reverse-time SDE from ``t_start`` (default ``T``) down to ``t_end``.

    Anderson (1982) / Song et al. (2021): ``dx = [f(t, x) - g(t)^2 s(t, x)] dt +
    g(t) dw_bar`` with time running backwards. Euler–Maruyama on :func:`time_grid` from
    ``t_start`` down to ``t_end``, with steps ``h_i = t_i - t_{i+1} > 0``:
    ``x <- x - [f - g^2 s](t_i, x) h_i + g(t_i) sqrt(h_i) xi``, in a ``lax.scan``. Start from
    ``x = sde.prior_sample(...)`` to sample the model.

    Args:
      sde: the SDE.
      score_fn: ``s(t, x) ~ grad log p_t(x)``.
      x: the state at ``t_start``.
      key: PRNG key.
      num_steps: number of steps.
      t_end: final (small) time.
      t_start: initial time (default ``sde.T``).
      return_path: also return every intermediate state.
      denoise: leave the noise out of the last step (its mean, the "noise removal"
        of Song et al. 2021's samplers; no extra score evaluation). Default: every
        step adds noise.

    Returns:
      ``x(t_end)`` (and the path when ``return_path``).
    """
    t_start = sde.T if t_start is None else t_start
    drift = sde.reverse_drift(score_fn)
    x = jnp.asarray(x)
    grid = time_grid(t_start, t_end, num_steps, x.dtype)

    def step(x, inputs):
        i, t, t_next, k = inputs
        h = t - t_next
        noise = jax.random.normal(k, x.shape, x.dtype)
        if denoise:
            noise = jnp.where(i == num_steps - 1, jnp.zeros_like(noise), noise)
        x = x - drift(t, x) * h + sde.diffusion(t) * jnp.sqrt(h) * noise
        return x, (x if return_path else None)

    keys = jax.random.split(key, num_steps)
    x, path = jax.lax.scan(step, x, (jnp.arange(num_steps), grid[:-1], grid[1:], keys))
    return (x, path) if return_path else x


# -- The maximum-likelihood reverse-SDE solver (Popov et al. 2022) ----------------------------


def ml_solver_coefficients(sde: SDE, t, s, posterior_variance=0.0) -> tuple[Array, Array, Array]:
    r"""Coefficients of one maximum-likelihood reverse step from ``t`` down to ``s < t``.

    Popov et al. (2022, "Diffusion-based voice conversion with fast maximum likelihood
    sampling scheme", Theorem 1) look for the reverse step

        x_s = x_t + beta_t h [(1/2 + omega) x_t + (1 + kappa) score(t, x_t)] + sigma xi

    (``h = t - s``; Euler–Maruyama is ``omega = kappa = 0``, ``sigma^2 = beta_t h``) whose
    coefficients maximize the likelihood of the forward diffusion's sample paths, and
    find them in closed form. For a linear SDE with ``x_t = alpha_t x_0 + sigma_t eps``
    (transition ``x_t | x_s ~ N(alpha_{t|s} x_s, sigma_{t|s}^2)``, ``alpha_{t|s} =
    alpha_t / alpha_s``, ``sigma_{t|s}^2 = sigma_t^2 - alpha_{t|s}^2 sigma_s^2``) the
    solution is the forward posterior ``q(x_s | x_t, x_0) = N(mu x_t + nu x_0, sigma_{s,t}^2)``
    with ``mu = alpha_{t|s} sigma_s^2 / sigma_t^2``, ``nu = alpha_s sigma_{t|s}^2 /
    sigma_t^2``, ``sigma_{s,t}^2 = sigma_{t|s}^2 sigma_s^2 / sigma_t^2``, evaluated at the
    posterior mean ``E[x_0 | x_t] = (x_t + sigma_t^2 score) / alpha_t`` (Tweedie). So

        x_s = c_x x_t + c_score score(t, x_t) + noise_std xi,
        c_x = mu + nu / alpha_t,   c_score = alpha_s sigma_{t|s}^2 / alpha_t,
        noise_std^2 = sigma_{s,t}^2 + nu^2 v_t,

    i.e. ``1 + kappa = c_score / (beta_t h)`` and ``1/2 + omega = (c_x - 1) / (beta_t h)``
    in the paper's notation (its ``mu_{s,t}``, ``nu_{s,t}``, ``sigma_{s,t}`` and
    ``gamma_{s,t} = exp(-int_s^t beta)`` are the VP case of the quantities above).
    ``v_t = E[tr Var(x_0 | x_t)] / D`` is the paper's extra noise term; it depends on the
    data, and the authors' code drops it (``v_t = 0``, the default here), which makes the
    step DDPM's ancestral step on an arbitrary time grid. The paper derives the VP case
    (its mean-reverting variant with mean 0); nothing in the derivation uses more than the
    Gaussian transition kernel, so the same formulas hold for every SDE of this module.

    Args:
      sde: a linear-drift SDE (uses only ``sde.marginal``).
      t: the current time (``> 0``).
      s: the next, smaller time (``>= 0``; ``s = 0`` gives the posterior mean of ``x_0``).
      posterior_variance: ``v_t`` above (a scalar; 0 as in the authors' code).

    Returns:
      ``(c_x, c_score, noise_std)``.
    """
    alpha_t, sigma_t = sde.marginal(t)
    alpha_s, sigma_s = sde.marginal(s)
    var_t, var_s = sigma_t**2, sigma_s**2
    alpha_ts = alpha_t / alpha_s
    var_ts = jnp.maximum(var_t - alpha_ts**2 * var_s, 0.0)
    mu = alpha_ts * var_s / var_t
    nu = alpha_s * var_ts / var_t
    c_x = mu + nu / alpha_t
    c_score = alpha_s * var_ts / alpha_t
    noise_var = var_ts * var_s / var_t + nu**2 * posterior_variance
    return c_x, c_score, jnp.sqrt(noise_var)


def reverse_ml_solver(sde: SDE, score_fn: TimeScoreFn, x: Array, key: Array, *, num_steps: int,
                      t_end: float = 0.0, t_start: float | None = None,
                      posterior_variance: Callable[[Array], Array] | None = None,
                      return_path: bool = False):
    """Samples the reverse SDE with Popov et al. (2022)'s maximum-likelihood solver.

    ``num_steps`` equal steps (:func:`time_grid`) from ``t_start`` (default ``T``) down to
    ``t_end``, each
    ``x <- c_x x + c_score score(t, x) + noise_std xi`` with the coefficients of
    :func:`ml_solver_coefficients` (one score evaluation per step, as Euler–Maruyama), in
    a ``lax.scan``. Unlike Euler–Maruyama the step is exact for any step size when the
    data is a single point and the score is exact, and the default ``t_end = 0`` is
    allowed: the score is evaluated at ``t > 0`` only, and the last step returns the
    posterior-mean estimate of ``x_0`` (no noise), as in the authors' code (Diff-VC).

    Args:
      sde: the SDE.
      score_fn: ``s(t, x) ~ grad log p_t(x)`` (elementwise in the batch like ``x``).
      x: the state at ``t_start`` (one example or a batch).
      key: PRNG key.
      num_steps: number of steps (= score evaluations).
      t_end: final time (``>= 0``).
      t_start: initial time (default ``sde.T``).
      posterior_variance: optional ``v(t) = E[tr Var(x_0 | x_t)] / D`` for the paper's
        optimal noise (known e.g. for Gaussian data); default none (the authors' code).
      return_path: also return every intermediate state.

    Returns:
      ``x(t_end)`` (and the path when ``return_path``).

    Raises:
      ValueError: for ``num_steps < 1`` or ``t_end`` not in ``[0, t_start)``.
    """
    t_start = sde.T if t_start is None else t_start
    if num_steps < 1:
        raise ValueError(f"num_steps must be >= 1, got {num_steps}")
    if not 0.0 <= t_end < t_start:
        raise ValueError(f"need 0 <= t_end < t_start, got t_end={t_end}, t_start={t_start}")
    x = jnp.asarray(x)
    grid = time_grid(t_start, t_end, num_steps, x.dtype)

    def step(x, inputs):
        t, s, k = inputs
        v = 0.0 if posterior_variance is None else posterior_variance(t)
        c_x, c_score, noise_std = ml_solver_coefficients(sde, t, s, v)
        noise = jax.random.normal(k, x.shape, x.dtype)
        x = c_x * x + c_score * score_fn(t, x) + noise_std * noise
        return x, (x if return_path else None)

    keys = jax.random.split(key, num_steps)
    x, path = jax.lax.scan(step, x, (grid[:-1], grid[1:], keys))
    return (x, path) if return_path else x
