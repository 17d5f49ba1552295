"""Simulators with exact posteriors, for simulation-based inference (compositional SBI [P131]).

:class:`GaussianLinearSimulator`: prior ``theta ~ N(m0, S0)`` (``d`` dims), simulator
``x = A theta + b + N(0, s_x^2 I)`` (``dx >= d`` dims); the posterior given ``n``
observations is Gaussian,

    S^-1 = S0^-1 + n A^T A / s_x^2,    m = S (S0^-1 m0 + A^T sum_j (x_j - b) / s_x^2).

Registered as the dataset ``gaussian_linear`` (:func:`load_gaussian_linear`): a fixed
simulation budget split into sets of ``n_max`` observations of one ``theta`` and single
``(theta, x)`` pairs, one row per set.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from likelihood_jax import data as data_lib


class GaussianLinearSimulator:
    """``theta ~ N(m0, S0)``, ``x | theta ~ N(A theta + b, s_x^2 I)``, with exact posteriors.

    ``m0 = 0``, ``S0 = I``; ``A = Q diag(s)`` with orthonormal columns ``Q`` and singular
    values ``s`` evenly spaced in ``[0.7, 1]`` (every direction of ``theta`` is identified at
    a similar rate), ``b ~ N(0, 0.25 I)``, both drawn from ``seed``.

    Raises:
      ValueError: ``dim_x < dim_theta`` (``A`` would not have full column rank) or
        ``noise_std <= 0``.
    """

    def __init__(self, dim_theta: int, dim_x: int, noise_std: float, seed: int = 0):
        if dim_theta < 1 or dim_x < dim_theta:
            raise ValueError(f"need 1 <= dim_theta <= dim_x, got dim_theta={dim_theta}, "
                             f"dim_x={dim_x}")
        if noise_std <= 0:
            raise ValueError(f"noise_std must be positive, got {noise_std}")
        rng = np.random.default_rng(seed)
        self.m0 = np.zeros(dim_theta)
        self.S0 = np.eye(dim_theta)
        q, _ = np.linalg.qr(rng.normal(size=(max(dim_x, dim_theta), dim_theta)))
        self.A = q[:dim_x] * np.linspace(1.0, 0.7, dim_theta)
        self.b = 0.5 * rng.normal(size=dim_x)
        self.noise_std = float(noise_std)
        self.dim_theta, self.dim_x = dim_theta, dim_x

    def simulate(self, rng: np.random.Generator, theta: np.ndarray) -> np.ndarray:
        """One simulator call per row of ``theta`` (``(..., d)`` -> ``(..., dx)``)."""
        mean = theta @ self.A.T + self.b
        return mean + self.noise_std * rng.normal(size=mean.shape)

    def prior_sample(self, rng: np.random.Generator, shape) -> np.ndarray:
        """Draws of the prior, shape ``shape + (d,)``."""
        z = rng.normal(size=tuple(shape) + (self.dim_theta,))
        return self.m0 + z @ np.linalg.cholesky(self.S0).T

    def posterior(self, xs):
        """``(mean, cov)`` of ``theta | x_1..x_n`` for ``xs`` of shape ``(n, dx)`` (jax or numpy).

        ``S^-1 = S0^-1 + n A^T A / s_x^2``, ``m = S (S0^-1 m0 + A^T sum_j (x_j - b) / s_x^2)``.
        """
        xs = jnp.asarray(xs)
        n = xs.shape[0]
        prec0 = jnp.linalg.inv(jnp.asarray(self.S0, xs.dtype))
        a = jnp.asarray(self.A, xs.dtype)
        prec = prec0 + n * a.T @ a / self.noise_std**2
        cov = jnp.linalg.inv(prec)
        lin = prec0 @ jnp.asarray(self.m0, xs.dtype) + a.T @ jnp.sum(
            xs - jnp.asarray(self.b, xs.dtype), 0) / self.noise_std**2
        return cov @ lin, cov


def simulation_rows(n_max: int, single_simulations: int, set_simulations: int
                    ) -> tuple[int, int]:
    """``(rows, per_row)``: the number of sets and of single pairs stored beside each set.

    Raises:
      ValueError: ``set_simulations`` is not a multiple of ``n_max``, or
        ``single_simulations`` not a multiple of the number of sets.
    """
    if set_simulations % n_max:
        raise ValueError(f"set_simulations={set_simulations} must be a multiple of "
                         f"n_max={n_max}.")
    rows = set_simulations // n_max
    if single_simulations % rows:
        raise ValueError(f"single_simulations={single_simulations} must be a multiple of the "
                         f"number of sets {rows} (set_simulations / n_max).")
    return rows, single_simulations // rows


def load_gaussian_linear(name: str, data_dir: str | None = None, dim_theta: int = 2,
                         dim_x: int = 2, noise_std: float = 0.8, simulator_seed: int = 0,
                         n_max: int = 20, single_simulations: int = 2000,
                         set_simulations: int = 2000, num_test_rows: int = 50,
                         seed: int = 0) -> data_lib.Dataset:
    """Simulations of :class:`GaussianLinearSimulator` (``simulator_seed``) drawn with ``seed``.

    Train: ``rows = set_simulations / n_max`` rows, each a set ``theta_set (d,)``,
    ``x_set (n_max, dx)`` (``n_max`` simulator calls for one ``theta``) and ``per_row =
    single_simulations / rows`` single pairs ``theta_single (per_row, d)``, ``x_single
    (per_row, dx)``; test: ``num_test_rows`` such rows. ``data_dir`` is ignored.

    Raises:
      ValueError: budgets that do not split into whole rows (:func:`simulation_rows`).
    """
    del data_dir
    n_max = int(n_max)
    rows, per_row = simulation_rows(n_max, int(single_simulations), int(set_simulations))
    sim = GaussianLinearSimulator(int(dim_theta), int(dim_x), float(noise_std),
                                  seed=int(simulator_seed))
    rng = np.random.default_rng(int(seed))

    def split(r):
        theta_set = sim.prior_sample(rng, (r,))
        x_set = sim.simulate(rng, np.repeat(theta_set[:, None], n_max, 1))
        theta_single = sim.prior_sample(rng, (r, per_row))
        x_single = sim.simulate(rng, theta_single)
        return {k: v.astype(np.float32) for k, v in {
            "theta_set": theta_set, "x_set": x_set, "theta_single": theta_single,
            "x_single": x_single}.items()}

    train = split(rows)
    test = split(int(num_test_rows))
    return data_lib.Dataset(name, train, test, data_lib.DatasetInfo(
        kind="continuous", event_shape=(sim.dim_theta,),
        description="Gaussian-linear simulator"))
