"""Optimally-weighted MMD estimators vs the V-/U-statistic [P048], Gaussian-location simulator.

Bharti, Naslidnyk, Key, Kaski & Briol (ICML 2023), "Optimally-weighted estimators of the
maximum mean discrepancy for likelihood-free inference" (arXiv:2301.11674). The estimators
are in :mod:`likelihood_jax.energy.weighted_mmd`.

A :class:`~likelihood_jax.train.procedure.Procedure` (nothing is trained). The model is the
Gaussian-location simulator ``x = theta + study.scale * u``, ``u ~ N(0, I_D)``, whose
``MMD^2`` to a point set has a closed form
(:func:`~likelihood_jax.energy.weighted_mmd.gaussian_location_mmd_squared`); the observed
data ``y`` are ``study.num_data`` rows of the configured dataset (a seeded subset per seed),
``k``'s lengthscale the median heuristic of ``y``. For every seed and every number of
simulations ``m`` in ``study.sizes``, ``study.replications`` draws of the inputs ``u`` give
three estimates of ``MMD^2(P_theta, y)`` at each location ``theta = t * 1`` for ``t`` in
``study.thetas``:

* ``ow``: the optimally-weighted estimator (Bayesian-quadrature weights over ``u``, ``c``'s
  lengthscale the median heuristic of ``u``, ``cho_solve`` with ``study.jitter``);
* ``v``: the V-statistic (weights ``1/m``);
* ``u``: the U-statistic in the simulated points (the diagonal of ``K_xx`` left out).

Per seed, the root-mean-square error against the closed form (over replications and
locations); the table gives mean +- 95% interval over seeds. Minimum-distance estimation:
for the first draw of ``u`` at each ``m``, ``theta`` minimizing each estimator
(``study.mde_steps`` Adam steps of ``jax.grad`` through ``x = theta + scale * u``, from
``study.mde_init``), against the minimizer ``theta*`` of the closed form: ``|theta_hat -
theta*|``. Float64 throughout (``study.x64``), as the paper's code: the Gram matrix of ``c``
is badly conditioned. Writes ``table.md`` and ``results.json``.
"""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

from likelihood_jax import metrics
from likelihood_jax.energy import weighted_mmd as wm
from likelihood_jax.gaussian_process import squared_exponential_kernel
from likelihood_jax.train.procedure import Procedure

ESTIMATORS = ("ow", "v", "u")
# U and V differ by a term free of theta for a location model (k(x_i, x_j) = k(u_i, u_j)):
# the same minimum-distance estimate, fitted once.
MDE_ESTIMATORS = ("ow", "v")


def u_statistic(x, y, bandwidth):
    """``MMD^2`` with the U-statistic in ``x`` (no ``k(x_i, x_i)`` terms), V-form in ``y``."""
    m = x.shape[0]
    k_xx = squared_exponential_kernel(x, x, lengthscale=bandwidth, variance=1.0)
    v_form = wm.weighted_mmd_squared(x, y, jnp.full((m,), 1.0 / m), bandwidth=bandwidth)
    return v_form - jnp.sum(k_xx) / m ** 2 + (jnp.sum(k_xx) - m) / (m * (m - 1))


def minimize(losses: dict, init, steps: int, lr: float) -> dict:
    """``{name: argmin loss}`` by ``steps`` Adam steps from ``init``, all in one ``lax.scan``."""
    opt = optax.adam(lr)
    names = tuple(losses)

    def step(carry, _):
        thetas, states = carry
        out = [opt.update(jax.grad(losses[k])(t), s) for k, t, s in zip(names, thetas, states)]
        thetas = tuple(optax.apply_updates(t, u) for t, (u, _) in zip(thetas, out))
        return (thetas, tuple(s for _, s in out)), None

    start = (tuple(init for _ in names), tuple(opt.init(init) for _ in names))
    (thetas, _), _ = jax.lax.scan(step, start, None, length=steps)
    return dict(zip(names, thetas))


def make_study(y, bandwidth, study, m: int):
    """A jitted ``key -> (errors {est: (R, T)}, mde {est: |theta_hat - theta*|})`` at ``m``."""
    dim = y.shape[1]
    thetas = jnp.asarray(study.thetas, y.dtype)[:, None] * jnp.ones((dim,), y.dtype)
    scale, init = float(study.scale), jnp.full((dim,), float(study.mde_init), y.dtype)

    def exact(theta):
        return wm.gaussian_location_mmd_squared(theta, y, scale=scale, bandwidth=bandwidth)

    def estimators(u):
        weights = wm.optimal_weights(u, measure="gaussian", jitter=float(study.jitter))
        uniform = jnp.full((m,), 1.0 / m, y.dtype)
        return {"ow": lambda t: wm.weighted_mmd_squared(t + scale * u, y, weights,
                                                        bandwidth=bandwidth),
                "v": lambda t: wm.weighted_mmd_squared(t + scale * u, y, uniform,
                                                       bandwidth=bandwidth),
                "u": lambda t: u_statistic(t + scale * u, y, bandwidth)}

    def one_draw(key):
        u = jax.random.normal(key, (m, dim), y.dtype)
        truth = jax.vmap(exact)(thetas)
        return {k: jax.vmap(f)(thetas) - truth for k, f in estimators(u).items()}

    @jax.jit
    def run(key):
        keys = jax.random.split(key, int(study.replications))
        errors = jax.vmap(one_draw)(keys)
        fitted = estimators(jax.random.normal(keys[0], (m, dim), y.dtype))
        fits = minimize({"exact": exact, **{k: fitted[k] for k in MDE_ESTIMATORS}}, init,
                        int(study.mde_steps), float(study.mde_lr))
        return errors, {k: jnp.linalg.norm(fits[k] - fits["exact"]) for k in MDE_ESTIMATORS}

    return run


class WeightedMMDStudy(Procedure):
    """The estimators' error and minimum-distance estimates against ``m`` (module docstring)."""

    headline_metric = "ow_over_v_rmse"

    def run(self, workdir):
        """Runs every seed and ``m``; writes table.md and results.json."""
        study = self.config.study
        sizes = tuple(int(m) for m in study.sizes)
        if min(sizes) < 2 or len(study.seeds) < 2 or study.scale <= 0:
            raise ValueError(f"study.sizes must be >= 2 (got {sizes}), study.seeds hold >= 2 "
                             f"seeds (got {tuple(study.seeds)}) and study.scale be > 0")
        data = np.asarray(self.dataset.train["x"], np.float64)
        data = data.reshape(len(data), -1)
        if study.num_data > len(data):
            raise ValueError(f"study.num_data={study.num_data} exceeds the {len(data)} rows")
        rmse = {k: np.zeros((len(study.seeds), len(sizes))) for k in ESTIMATORS}
        mde = {k: np.zeros((len(study.seeds), len(sizes))) for k in MDE_ESTIMATORS}
        with jax.enable_x64(bool(study.x64)):
            dtype = jnp.float64 if study.x64 else jnp.float32
            for i, seed in enumerate(study.seeds):
                rows = np.random.default_rng(int(seed)).permutation(len(data))[:study.num_data]
                y = jnp.asarray(data[rows], dtype)
                bandwidth = wm.median_heuristic(y)
                for j, m in enumerate(sizes):
                    errors, fits = make_study(y, bandwidth, study, m)(
                        jax.random.fold_in(jax.random.key(int(seed)), m))
                    for k in ESTIMATORS:
                        rmse[k][i, j] = float(jnp.sqrt(jnp.mean(jnp.square(errors[k]))))
                    for k in MDE_ESTIMATORS:
                        mde[k][i, j] = float(fits[k])
        lines = ["| m | RMSE OW | RMSE V | RMSE U | MDE error OW | MDE error V (= U) |",
                 "|---" * 6 + "|"]
        for j, m in enumerate(sizes):
            cells = [metrics.format_interval(rmse[k][:, j], 5) for k in ESTIMATORS]
            cells += [metrics.format_interval(mde[k][:, j], 4) for k in MDE_ESTIMATORS]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        text = "\n".join(lines)
        with open(os.path.join(workdir, "table.md"), "w") as f:
            f.write(text + "\n")
        with open(os.path.join(workdir, "results.json"), "w") as f:
            json.dump({"sizes": sizes, "seeds": list(study.seeds),
                       "rmse": {k: v.tolist() for k, v in rmse.items()},
                       "mde_error": {k: v.tolist() for k, v in mde.items()}}, f, indent=1)
        print(text, flush=True)
        out = {"ow_over_v_rmse": float(np.mean(rmse["ow"][:, -1] / rmse["v"][:, -1]))}
        for k in ESTIMATORS:
            out.update({f"rmse_{k}_m{m}": float(rmse[k][:, j].mean())
                        for j, m in enumerate(sizes)})
        for k in MDE_ESTIMATORS:
            out.update({f"mde_error_{k}_m{m}": float(mde[k][:, j].mean())
                        for j, m in enumerate(sizes)})
        return out


EXPERIMENT = WeightedMMDStudy
