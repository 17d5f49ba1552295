r"""Continuous normalizing flows: likelihoods and samples by solving ODEs with diffrax.

A continuous normalizing flow (CNF; Chen et al. 2018, "Neural ordinary differential
equations"; Grathwohl et al. 2019, FFJORD) moves points with a time-dependent vector
field ``dx/dt = v(t, x)``. Along a trajectory the log-density obeys the
*instantaneous change of variables*

    d log p_t(x_t) / dt = -div v(t, x_t),

so for a point ``x`` at the data time ``t_data`` and its trajectory's end ``z`` at the
base time ``t_base``

    log p_data(x) = log p_base(z) + integral_{t_base}^{t_data} (-div v(t, x_t)) dt
                  = log p_base(z) + integral_{t_data}^{t_base} div v(t, x_t) dt.

Time convention
---------------
Every function takes both ends explicitly: ``t_data`` (where the data lives) and
``t_base`` (where the base/source distribution lives). The defaults follow flow
matching (Lipman et al. 2023; Tong et al. 2023): **noise at t = 0, data at t = 1**,
``v`` moves noise to data. The diffusion convention (data at ``t = 0`` or
``t = eps``, noise at ``t = T``) is the same code with the ends swapped; see
:func:`probability_flow_log_prob`.

How the solve works
-------------------
:func:`cnf_log_prob` integrates the augmented state ``(x, delta)`` with
``d delta / dt = div v(t, x)`` from ``t_data`` (``x``, ``delta = 0``) to ``t_base``;
then ``log p_data(x) = log p_base(x(t_base)) + delta(t_base)``. The velocity and the
divergence come from one linearization of ``v(t, .)``
(:func:`likelihood_jax.estimators.divergence_and_value`): exact (``key=None``, ``D``
Jacobian-vector products per evaluation) or Hutchinson's estimator (a key:
``num_probes`` products per evaluation). As in FFJORD the probes are drawn **once per
solve** and held fixed along the trajectory, so the augmented ODE is an ordinary ODE
the adaptive solver can handle, and since the trajectory of ``x`` does not depend on
the probes, the Hutchinson log-density is an **unbiased** estimate of the ODE's
log-density (up to the solver's error).

Solvers and NFE
---------------
``solver`` is a diffrax solver name: adaptive ``"tsit5"``, ``"dopri5"``, ``"dopri8"``,
``"bosh3"`` (PID step-size control with ``rtol``/``atol``) or fixed-step ``"euler"``,
``"heun"``, ``"midpoint"`` (give ``num_steps``; an adaptive solver with ``num_steps``
also runs on the fixed grid). ``stats["nfe"]`` counts evaluations of the (augmented)
vector field: ``steps attempted x new stages per step`` (stages minus one for FSAL
tableaus such as Tsit5/Dopri5), plus the first FSAL stage and, when diffrax picks the
first step size itself, its two evaluations. That is the count torchdiffeq's
dopri5 reports and what Tong et al. (2023) compare across training objectives.

Single-example convention: ``x`` is one example (any event shape); ``jax.vmap`` over
a batch (each example then takes its own adaptive steps). Everything is pure and
works under ``jax.jit``; gradients flow through the solve (diffrax's
``RecursiveCheckpointAdjoint``), so :func:`cnf_log_prob` can also train a CNF by
maximum likelihood.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import diffrax
import jax
import jax.numpy as jnp

from likelihood_jax import estimators, metrics
from likelihood_jax.sde import time_grid
from likelihood_jax.types import LogProbFn, TimeField, TimeScoreFn

Array = jax.Array

SOLVERS: dict[str, Callable[[], Any]] = {
    "tsit5": diffrax.Tsit5,
    "dopri5": diffrax.Dopri5,
    "dopri8": diffrax.Dopri8,
    "bosh3": diffrax.Bosh3,
    "euler": diffrax.Euler,
    "heun": diffrax.Heun,
    "midpoint": diffrax.Midpoint,
}
ADAPTIVE_SOLVERS = ("tsit5", "dopri5", "dopri8", "bosh3")


def standard_normal_log_prob(z: Array) -> Array:
    """``log N(z; 0, I)`` summed over all axes of one example."""
    z = jnp.asarray(z)
    return -0.5 * jnp.sum(z * z) - 0.5 * z.size * math.log(2.0 * math.pi)


def _make_solver(name: str):
    if name not in SOLVERS:
        raise ValueError(f"Unknown ODE solver {name!r}; expected one of {tuple(SOLVERS)}.")
    return SOLVERS[name]()


def _evals_per_step(solver) -> tuple[int, int]:
    """(new vector-field evaluations per attempted step, evaluations once at the start)."""
    tableau = getattr(solver, "tableau", None)
    if tableau is None:  # Euler
        return 1, 0
    if tableau.fsal:
        return tableau.num_stages - 1, 1
    return tableau.num_stages, 0


def solve(vector_field: Callable[[Array, Any], Any], y0: Any, t0: float, t1: float, *,
          solver: str = "tsit5", rtol: float = 1e-5, atol: float = 1e-5,
          num_steps: int | None = None, dt0: float | None = None, max_steps: int = 4096,
          throw: bool = True) -> tuple[Any, dict[str, Array]]:
    """Solves ``dy/dt = f(t, y)`` from ``t0`` to ``t1`` (either direction) with diffrax.

    The shared solve behind every function of this module.

    Args:
      vector_field: ``f(t, y)`` for a pytree state ``y``.
      y0: initial state (pytree).
      t0: start time.
      t1: end time (may be smaller than ``t0``: the solve runs backwards).
      solver: a name in :data:`SOLVERS`.
      rtol: relative tolerance of the adaptive step-size controller.
      atol: absolute tolerance of the adaptive step-size controller.
      num_steps: if given, a fixed grid of this many equal steps (no adaptivity), the
        times of :func:`likelihood_jax.sde.time_grid` (last time exactly ``t1``);
        required for the fixed-step solvers.
      dt0: first step size of an adaptive solve (signed or unsigned); ``None`` lets
        diffrax choose it (two extra evaluations).
      max_steps: maximum number of steps; exceeding it raises at run time when
        ``throw`` (else the result is marked failed in ``stats["success"]``).
      throw: whether a failed solve raises.

    Returns:
      ``(y(t1), stats)`` with ``stats``: ``nfe`` (vector-field evaluations),
      ``num_steps`` (steps attempted), ``num_accepted_steps``,
      ``num_rejected_steps``, ``success`` (bool).

    Raises:
      ValueError: for an unknown solver, or a fixed-step solver without ``num_steps``.
    """
    stepper = _make_solver(solver)
    if num_steps is None and solver not in ADAPTIVE_SOLVERS:
        raise ValueError(f"Solver {solver!r} has a fixed step size; pass num_steps.")
    if num_steps is not None:
        if num_steps < 1:
            raise ValueError(f"num_steps must be >= 1, got {num_steps}.")
        controller = diffrax.StepTo(ts=time_grid(t0, t1, num_steps, jnp.result_type(float)))
        step0 = None
        max_steps = max(max_steps, num_steps)
        init_evals = 0
    else:
        controller = diffrax.PIDController(rtol=rtol, atol=atol)
        step0 = None if dt0 is None else math.copysign(abs(dt0), t1 - t0)
        init_evals = 2 if dt0 is None else 0
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(lambda t, y, args: vector_field(t, y)), stepper, t0=t0, t1=t1,
        dt0=step0, y0=y0, stepsize_controller=controller, max_steps=max_steps, throw=throw)
    y1 = jax.tree.map(lambda leaf: leaf[-1], sol.ys)
    per_step, at_start = _evals_per_step(stepper)
    steps = sol.stats["num_steps"]
    stats = {
        "nfe": steps * per_step + at_start + init_evals,
        "num_steps": steps,
        "num_accepted_steps": sol.stats["num_accepted_steps"],
        "num_rejected_steps": sol.stats["num_rejected_steps"],
        "success": sol.result == diffrax.RESULTS.successful,
    }
    return y1, stats


def cnf_log_prob(vector_field: TimeField, x: Array, *,
                 base_log_prob: LogProbFn = standard_normal_log_prob,
                 t_data: float = 1.0, t_base: float = 0.0, key: Array | None = None,
                 num_probes: int = 1, probe: str = "rademacher", mode: str = "jvp",
                 solver: str = "tsit5", rtol: float = 1e-5, atol: float = 1e-5,
                 num_steps: int | None = None, dt0: float | None = None,
                 max_steps: int = 4096, throw: bool = True) -> tuple[Array, dict[str, Array]]:
    """Log-density of one example under a CNF, by the instantaneous change of variables.

    Solves ``dx/dt = v(t, x)``, ``d delta/dt = div v(t, x)`` from ``(x, 0)`` at
    ``t_data`` to ``t_base`` and returns
    ``log p(x) = base_log_prob(x(t_base)) + delta(t_base)``
    (Chen et al. 2018; Grathwohl et al. 2019). Default times: data at 1, base at 0
    (flow matching). With ``key=None`` the divergence is exact (``D`` Jacobian-vector
    products per evaluation); with a key it is Hutchinson's estimate with probes fixed
    along the trajectory, an unbiased estimate of the same log-density (see the module
    docstring). Accuracy otherwise is that of the solver (``rtol``, ``atol``).

    Args:
      vector_field: ``v(t, x)`` for one example ``x`` (shape like ``x``).
      x: one example at time ``t_data``, any event shape.
      base_log_prob: log-density of the base distribution at ``t_base``, for one
        example (default: standard normal over all entries).
      t_data: time of the data.
      t_base: time of the base distribution.
      key: ``None`` for the exact divergence, else the Hutchinson probes' key.
      num_probes: Hutchinson probes per evaluation (ignored when ``key`` is None).
      probe: ``"rademacher"`` or ``"gaussian"``.
      mode: ``"jvp"`` or ``"vjp"`` products.
      solver: solver name (see :func:`solve`).
      rtol: relative tolerance (adaptive solvers).
      atol: absolute tolerance (adaptive solvers).
      num_steps: fixed number of steps instead of adaptive stepping.
      dt0: first step of an adaptive solve (``None``: chosen by diffrax).
      max_steps: step limit of the solve.
      throw: whether a failed solve raises.

    Returns:
      ``(log_prob, stats)``: a scalar and the solver statistics of :func:`solve`
      plus ``latent`` (the point ``x(t_base)``) and ``delta_log_prob``
      (``log p(x) - log p_base(latent)``).
    """
    x = jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)

    def augmented(t, state):
        y, _ = state
        velocity, divergence = estimators.divergence_and_value(
            lambda z: vector_field(t, z), y, key, num_probes=num_probes, probe=probe,
            mode=mode)
        return velocity, divergence.astype(y.dtype)

    (latent, delta), stats = solve(
        augmented, (x, jnp.zeros((), x.dtype)), t_data, t_base, solver=solver, rtol=rtol,
        atol=atol, num_steps=num_steps, dt0=dt0, max_steps=max_steps, throw=throw)
    stats = dict(stats, latent=latent, delta_log_prob=delta)
    return base_log_prob(latent) + delta, stats


def cnf_sample(vector_field: TimeField, z: Array, *, t_base: float = 0.0,
               t_data: float = 1.0, path_energy: bool = False, solver: str = "tsit5",
               rtol: float = 1e-5, atol: float = 1e-5, num_steps: int | None = None,
               dt0: float | None = None, max_steps: int = 4096, throw: bool = True
               ) -> tuple[Array, dict[str, Array]]:
    """Pushes one base point ``z`` at ``t_base`` through the flow to ``t_data``.

    Solves ``dx/dt = v(t, x)`` with ``x(t_base) = z``. With ``path_energy=True`` it
    also integrates the kinetic energy ``E = integral |v(t, x_t)|^2 dt`` over
    ``[t_base, t_data]`` along the same trajectory (the path energy of Tong et al.
    2023; for straight constant-speed paths it equals ``|x(t_data) - z|^2`` when the
    interval has length one). The energy rides in the solver state, so the adaptive
    steps then also control its error.

    Args:
      vector_field: ``v(t, x)`` for one example.
      z: one base point, any event shape.
      t_base: start time.
      t_data: end time.
      path_energy: also return ``stats["path_energy"]``.
      solver: solver name (see :func:`solve`).
      rtol: relative tolerance.
      atol: absolute tolerance.
      num_steps: fixed number of steps instead of adaptive stepping.
      dt0: first step of an adaptive solve.
      max_steps: step limit.
      throw: whether a failed solve raises.

    Returns:
      ``(x(t_data), stats)`` with the statistics of :func:`solve` (and
      ``path_energy``).
    """
    z = jnp.asarray(z)
    if not path_energy:
        return solve(vector_field, z, t_base, t_data, solver=solver, rtol=rtol, atol=atol,
                     num_steps=num_steps, dt0=dt0, max_steps=max_steps, throw=throw)
    sign = 1.0 if t_data >= t_base else -1.0

    def augmented(t, state):
        velocity = vector_field(t, state[0])
        return velocity, sign * jnp.sum(velocity * velocity).astype(z.dtype)

    (x, energy), stats = solve(augmented, (z, jnp.zeros((), z.dtype)), t_base, t_data,
                               solver=solver, rtol=rtol, atol=atol, num_steps=num_steps,
                               dt0=dt0, max_steps=max_steps, throw=throw)
    return x, dict(stats, path_energy=energy)


# -- Diffusion models: the probability-flow ODE ----------------------------------------------


def probability_flow_log_prob(sde, score_fn: TimeScoreFn, x: Array, *,
                              t_min: float = 1e-5, prior_log_prob=None, **kwargs
                              ) -> tuple[Array, dict[str, Array]]:
    """Log-density of one example under the probability-flow ODE of a diffusion model.

    Song et al. (2021, "Score-based generative modeling through stochastic
    differential equations"): the SDE ``dx = f(t, x) dt + g(t) dw`` has the
    same marginals ``p_t`` as the ODE ``dx/dt = f(t, x) - g(t)^2 / 2 * score(t, x)``
    when ``score = grad log p_t``; with a learned score this ODE is a CNF. Its
    log-density at ``t_min`` is computed by :func:`cnf_log_prob` with data at
    ``t_min`` and the SDE's prior at ``sde.T`` (the diffusion convention: data at
    time ~0, noise at ``T``). With the exact score and the exact ``p_T`` as the prior
    this is exactly ``log p_{t_min}(x)``; with ``sde.prior_log_prob`` it is off by
    ``log prior(z) - log p_T(z)`` at the latent (tiny for a VP SDE with
    ``beta_max = 20``). ``t_min > 0`` avoids the singular score at ``t = 0``.

    Args:
      sde: an SDE from :mod:`likelihood_jax.sde` (``drift``, ``diffusion``, ``T``,
        ``prior_log_prob``).
      score_fn: ``s(t, x) ~ grad_x log p_t(x)`` for one example.
      x: one example (the data, seen at time ``t_min``).
      t_min: the data time.
      prior_log_prob: log-density at ``sde.T``; default ``sde.prior_log_prob``.
      **kwargs: passed on to :func:`cnf_log_prob` (``key``, ``num_probes``,
        ``solver``, ``rtol``, ``atol``, ...).

    Returns:
      ``(log_prob, stats)`` as :func:`cnf_log_prob`.
    """
    return cnf_log_prob(probability_flow_vector_field(sde, score_fn), x,
                        base_log_prob=prior_log_prob or sde.prior_log_prob, t_data=t_min,
                        t_base=sde.T, **kwargs)


def probability_flow_vector_field(sde, score_fn: TimeScoreFn) -> TimeField:
    """The probability-flow ODE's velocity ``f(t, x) - g(t)^2 / 2 * s(t, x)`` (Song et al. 2021)."""

    def velocity(t, x):
        return sde.drift(t, x) - 0.5 * sde.diffusion(t) ** 2 * score_fn(t, x)

    return velocity


def probability_flow_bits_per_dim(sde, score_fn: TimeScoreFn, y: Array, *,
                                  num_levels: int, scale: float | None = None, **kwargs
                                  ) -> tuple[Array, dict[str, Array]]:
    """Bits/dim of discrete data from the probability-flow ODE density of its dequantization.

    ``y = a + scale * (k + u)`` is the dequantized example in model space (e.g.
    :func:`likelihood_jax.metrics.uniform_dequantize` gives ``scale = 1/L``). Returns
    ``metrics.dequantized_bits_per_dim(log p(y), D, num_levels, scale)``, an upper
    bound on the discrete bits/dim in expectation over ``u`` (see
    :mod:`likelihood_jax.metrics` for the convention).

    Args:
      sde: the diffusion's SDE.
      score_fn: the score model ``s(t, x)``.
      y: one dequantized example in model space.
      num_levels: number of discrete levels ``L``.
      scale: slope per level of the map from levels to model space (default ``1/L``).
      **kwargs: passed on to :func:`probability_flow_log_prob`.

    Returns:
      ``(bits_per_dim, stats)``.
    """
    log_prob, stats = probability_flow_log_prob(sde, score_fn, y, **kwargs)
    bpd = metrics.dequantized_bits_per_dim(log_prob, jnp.size(y), num_levels=num_levels,
                                           scale=scale)
    return bpd, dict(stats, log_prob=log_prob)
