"""Diff-VC's maximum-likelihood reverse-SDE solver [P017] against Euler–Maruyama and the ODE.

Popov, Vovk, Gogoryan, Sadekova, Kudinov & Wei (ICLR 2022), "Diffusion-Based Voice Conversion
with Fast Maximum Likelihood Sampling Scheme". Only the paper's sampler is reproduced: the
reverse-SDE step whose coefficients maximize the likelihood of forward-diffusion sample paths
(:func:`likelihood_jax.sde.reverse_ml_solver`), compared at equal numbers of score evaluations
with Euler–Maruyama (:func:`likelihood_jax.sde.reverse_euler_maruyama`) and the
probability-flow ODE solved with Euler steps (:func:`likelihood_jax.ode.solve`).

The model: a VP-SDE diffusion (``beta`` from 0.1 to 20, Song et al. 2021) on flattened 8x8
digits uniformly dequantized to ``[-1, 1)``, a time-conditioned MLP predicting the noise
(``score = -eps_hat / sigma_t``), trained by denoising score matching with the ``sigma_t^2``
weighting (:func:`likelihood_jax.continuous_time.diffusion.weighted_denoising_score_matching`).
Sample quality (``model_metrics``, every evaluation): the classifier-feature Fréchet distance
(:class:`likelihood_jax.metrics.sample_quality.ImageFeatures`) between ``config.eval.num_samples``
samples and the test digits, ``frechet_<solver>_<steps>`` for solver in ``em``, ``ml``,
``ode``; ``frechet_data`` is the same distance for as many held-out *training* digits (the
floor).

:func:`gaussian_table` is the solver-only demo of the catalog: 2D Gaussian data with its
analytic score, where every sampler's output is Gaussian and its KL to the data is computed
from the sample moments (``python -m experiments.ml_sde_solver.experiment``).
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import metrics, ode
from likelihood_jax import sde as sde_lib
from likelihood_jax.continuous_time import diffusion
from likelihood_jax.metrics import sample_quality
from likelihood_jax.models.time_mlp import TimeMLP
from likelihood_jax.train import Experiment

SOLVERS = ("em", "ml", "ode")


def sample_with(solver: str, sde: sde_lib.SDE, score_fn, z, key, *, num_steps: int,
                t_min: float):
    """Runs ``solver`` (``em``, ``ml`` or ``ode``) from ``z ~ prior`` with ``num_steps`` NFE.

    ``em`` and ``ode`` stop at ``t_min`` (the score is singular at 0); ``ml`` runs to
    ``t = 0``, its last step being the posterior-mean estimate of ``x_0`` (Popov et al.).
    ``z`` may be a batch: every solver is elementwise in it.
    """
    if solver == "em":
        return sde_lib.reverse_euler_maruyama(sde, score_fn, z, key, num_steps=num_steps,
                                              t_end=t_min)
    if solver == "ml":
        return sde_lib.reverse_ml_solver(sde, score_fn, z, key, num_steps=num_steps)
    if solver == "ode":
        field = ode.probability_flow_vector_field(sde, score_fn)
        x, _ = ode.solve(field, z, sde.T, t_min, solver="euler", num_steps=num_steps)
        return x
    raise ValueError(f"unknown solver {solver!r}; choose one of {SOLVERS}")


class MLSolverDiffusion(Experiment):
    """VP diffusion on flattened digits; model metrics compare the three samplers."""

    def __init__(self, config, dataset=None):
        for solver in config.sample.solvers:
            if solver not in SOLVERS:
                raise ValueError(f"unknown solver {solver!r} in config.sample.solvers; "
                                 f"choose from {SOLVERS}")
        super().__init__(config, dataset)
        self.headline_metric = f"frechet_ml_{min(config.sample.steps)}"
        self.num_eval_samples = int(config.eval.num_samples)
        self._samplers = {}

    def check_data(self, info):
        """The model is a diffusion on dequantized images: the data must be images."""
        if info.kind != "image":
            raise ValueError(f"ml_sde_solver needs an image dataset, got {info.kind!r}")
        super().check_data(info)

    def make_model(self, config, info):
        """The noise-prediction :class:`TimeMLP` on the flattened image."""
        m = config.model
        return TimeMLP(tuple(m.hidden_dims), out_dim=math.prod(info.event_shape),
                       activation=m.activation, time_embedding="fourier",
                       num_frequencies=m.num_frequencies, max_frequency=m.max_frequency)

    # -- derived from the config and the data (computed on first use) ----------------------

    @property
    def num_levels(self) -> int:
        """Pixel levels."""
        return self.dataset.info.num_levels

    @functools.cached_property
    def sde(self) -> sde_lib.VPSDE:
        """The VP SDE of ``config.sde``."""
        return sde_lib.VPSDE(beta_min=self.config.sde.beta_min,
                             beta_max=self.config.sde.beta_max)

    @functools.cached_property
    def features(self) -> sample_quality.ImageFeatures:
        """Features of a small classifier of the training digits (the Frechet distance).

        ``config.eval.feature_units`` hidden units (the feature dimension; 64 by default).
        """
        return sample_quality.ImageFeatures.of_split(
            self.dataset.train, self.num_levels,
            hidden_units=int(self.config.eval.get("feature_units", 64)), seed=self.config.seed)

    @functools.cached_property
    def reference(self) -> np.ndarray:
        """The test digits in ``[0, 1]``, the reference of the Frechet distances."""
        return sample_quality.to_unit_interval(self.dataset.test["x"], self.num_levels)

    @functools.cached_property
    def data_floor(self) -> float:
        """Frechet distance of as many held-out training digits as samples (the floor)."""
        train = self.dataset.train
        rng = np.random.default_rng(self.config.seed)
        held_out = rng.choice(len(train["x"]), min(self.num_eval_samples, len(train["x"])),
                              replace=False)
        return self.features.frechet_distance(
            sample_quality.to_unit_interval(train["x"][held_out], self.num_levels),
            self.reference)

    # -- model -----------------------------------------------------------------------------

    def score_fn(self, params):
        """``s(t, x) = -eps_hat(t, x) / sigma_t`` (batch or one example)."""
        def score(t, x):
            _, sigma = self.sde.marginal(t)
            return -self.model.apply(params, t, x) / sigma
        return score

    def preprocess(self, batch, key):
        """Uniform dequantization to ``[-1, 1)``, flattened."""
        x = 2.0 * metrics.uniform_dequantize(key, batch["x"], num_levels=self.num_levels) - 1.0
        return dict(batch, x=x.reshape(len(x), self.num_dims))

    def init_params(self, key, batch):
        """The noise network's parameters."""
        return self.model.init(key, jnp.zeros(()), jnp.zeros((self.num_dims,)))

    def loss_fn(self, params, batch, key, step):
        """Per-example denoising score matching (``sigma_t^2`` weighting = noise prediction)."""
        x = batch["x"]
        keys = jax.random.split(key, len(x))
        score = self.score_fn(params)
        loss = jax.vmap(lambda xi, ki: diffusion.weighted_denoising_score_matching(
            score, xi, ki, sde=self.sde, weighting="variance",
            t_min=self.config.sde.t_min))(x, keys)
        return loss, {}

    # -- sampling --------------------------------------------------------------------------

    def sample(self, params, key, num_samples, solver, num_steps):
        """``num_samples`` flattened samples in model space."""
        z_key, key = jax.random.split(key)
        z = self.sde.prior_sample(z_key, (num_samples, self.num_dims))
        return sample_with(solver, self.sde, self.score_fn(params), z, key,
                           num_steps=num_steps, t_min=self.config.sde.t_min)

    def to_data_space(self, samples):
        """Back to ``(n, H, W, C)`` in ``[0, 1]``."""
        return jnp.clip((samples + 1.0) / 2.0, 0.0, 1.0).reshape((-1,) + self.event_shape)

    def _ml_samples(self, params, key, num_samples):
        return self.to_data_space(self.sample(params, key, num_samples, "ml",
                                              max(self.config.sample.steps)))

    @functools.cached_property
    def sample_fn(self):
        """``sample_fn(params, key, n)``: ML-solver samples, as images in ``[0, 1]``.

        The ML solver with the most steps of ``config.sample.steps``. One function object
        per experiment, so that ``jax.jit`` of it compiles once for the plot and
        :meth:`model_metrics` when both draw as many samples.
        """
        return functools.partial(MLSolverDiffusion._ml_samples, self)

    def model_metrics(self, params, key):
        """Fréchet distance to the test digits for every (solver, steps), and the floor."""
        n = self.num_eval_samples
        out = {"frechet_data": self.data_floor}
        for solver in self.config.sample.solvers:
            for num_steps in self.config.sample.steps:
                name = f"{solver}_{num_steps}"
                if (solver, num_steps) == ("ml", max(self.config.sample.steps)):
                    samples = jax.jit(self.sample_fn, static_argnums=2)(params, key, n)
                else:
                    if name not in self._samplers:
                        self._samplers[name] = jax.jit(functools.partial(
                            self.sample, num_samples=n, solver=solver, num_steps=num_steps))
                    samples = self.to_data_space(self._samplers[name](params, key))
                samples = np.asarray(samples)
                samples = samples.reshape(n, -1)
                out[f"frechet_{name}"] = (
                    self.features.frechet_distance(samples, self.reference)
                    if np.all(np.isfinite(samples)) else float("nan"))
        return out


def gaussian_table(steps=(1, 2, 4, 8, 16, 32, 100), *, mean=(1.0, -0.5), std=(0.3, 0.8),
                   num_samples=200_000, seed=0, t_min=1e-3):
    """KL(sampler output || data) on 2D Gaussian data with the analytic score, per solver.

    The data is ``N(mean, diag(std^2))`` under the VP SDE of the digits model; every step of
    every solver is affine in ``x`` and the noise, so each output is Gaussian and its KL to the
    data follows from its sample mean and variance (``num_samples`` draws per cell). Besides
    the three solvers of the experiment, ``ml_full`` is the ML solver with the paper's full
    optimal noise (``v_t = Var(x_0 | x_t)``, known here).

    Returns:
      ``{solver: [KL at each number of steps]}``.
    """
    sde = sde_lib.VPSDE()
    mean, std = jnp.asarray(mean), jnp.asarray(std)

    def score(t, x):
        alpha, sigma = sde.marginal(t)
        return -(x - alpha * mean) / (alpha**2 * std**2 + sigma**2)

    def post_var(t):
        alpha, sigma = sde.marginal(t)
        return std**2 * sigma**2 / (alpha**2 * std**2 + sigma**2)

    def run(solver, num_steps, key):
        z_key, key = jax.random.split(key)
        z = sde.prior_sample(z_key, (num_samples, len(mean)))
        if solver == "ml_full":
            return sde_lib.reverse_ml_solver(sde, score, z, key, num_steps=num_steps,
                                             posterior_variance=post_var)
        return sample_with(solver, sde, score, z, key, num_steps=num_steps, t_min=t_min)

    table = {}
    m2, v2 = np.asarray(mean, np.float64), np.asarray(std, np.float64) ** 2
    for solver in SOLVERS + ("ml_full",):
        row = []
        for i, num_steps in enumerate(steps):
            x = np.asarray(jax.jit(functools.partial(run, solver, num_steps))(
                jax.random.key(seed + i)), np.float64)
            m1, v1 = x.mean(0), x.var(0)
            row.append(float(np.sum(0.5 * (np.log(v2 / v1) + (v1 + (m1 - m2) ** 2) / v2 - 1))))
        table[solver] = row
    return table


EXPERIMENT = MLSolverDiffusion

if __name__ == "__main__":
    STEPS = (1, 2, 4, 8, 16, 32, 100)
    result = gaussian_table(STEPS)
    print("| solver | " + " | ".join(f"{n} steps" for n in STEPS) + " |")
    print("|---|" + "---|" * len(STEPS))
    for name, row in result.items():
        print(f"| {name} | " + " | ".join(f"{v:.4g}" for v in row) + " |")
