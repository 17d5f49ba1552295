"""Compositional score SBI [P131] on a conjugate Gaussian-linear simulator.

Geffner, Papamakarios & Mnih (2023), "Compositional score modeling for simulation-based
inference" (ICML). Prior ``theta ~ N(m0, S0)`` (``d`` dims), simulator ``x = A theta + b +
N(0, s_x^2 I)``; the posterior given any ``n`` observations is Gaussian and analytic
(:class:`likelihood_jax.data.synthetic.simulators.GaussianLinearSimulator`; the simulations
are the registered dataset ``gaussian_linear``, whose options ``config.dataset`` takes from
``config.sbi``).

Two models trained side by side on separate parameter trees, each from its own fixed set of
simulations (the simulation budget, ``sbi.single_simulations`` and ``sbi.set_simulations``):

* ``single`` (the paper's method): a conditional score ``s(t, theta | x) = net(t, [theta,
  x]) / sigma_t`` of the VP-diffused single-observation posterior, trained by denoising
  score matching on pairs ``(theta_i, x_i)`` (one simulator call each). For ``n``
  observations its scores are composed with the bridge correction of the prior
  (:func:`likelihood_jax.continuous_time.conditional_score.composed_posterior_score`) and the
  bridge is sampled by annealed Langevin dynamics
  (:func:`likelihood_jax.continuous_time.conditional_score.annealed_langevin`) from the ``t = T``
  bridge ``N(0, I / n)``, over ``langevin.num_levels`` equally spaced times from ``T`` down
  to ``langevin.t_end``, with step sizes ``delta_l = langevin.eps (alpha_l^2
  langevin.data_var + sigma_l^2) / n``.
* ``set`` (the baseline, neural posterior score estimation on the whole set): a score
  ``net(t, [theta, mean_j phi(x_j), n / n_max]) / sigma_t`` with a DeepSets embedding
  ``phi``, trained by DSM on sets of ``n_max`` observations of one ``theta`` (``n_max``
  simulator calls per set), of which a random prefix of size ``n ~ U{1..n_max}`` is used
  each step; sampled by the reverse SDE
  (:func:`likelihood_jax.sde.reverse_euler_maruyama`).

``model_metrics``: for ``eval.num_problems`` held-out ``theta*`` with ``n_max``
observations each and every ``n`` in ``eval.ns``: the Mahalanobis error of the sample mean
``sqrt(dm^T S^-1 dm)`` and the relative Frobenius error of the sample covariance
``|S_hat - S|_F / |S|_F`` against the analytic posterior ``N(m, S)``, averaged over the
problems, for ``composed`` (learned single scores), ``oracle`` (the same sampler with the
analytic single-observation scores: the sampler's own error) and ``set`` (the baseline).
``eval_fn``: squared errors of both networks against the analytic diffused posterior
scores at ``eval.times`` (``single_score_err``, ``set_score_err``, sigma^2-weighted).
Headline: ``single_score_err``; ``composed_mean_err`` etc. are also averaged over ``n``.
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import sde as sde_lib
from likelihood_jax.continuous_time import conditional_score as cs
from likelihood_jax.continuous_time import diffusion
from likelihood_jax.data.synthetic import simulators
from likelihood_jax.data.synthetic.simulators import GaussianLinearSimulator
from likelihood_jax.models.mlp import MLP
from likelihood_jax.models.time_mlp import TimeMLP, activation_by_name
from likelihood_jax.train import Experiment


def diffused_gaussian_score(theta, mean, cov, alpha, sigma):
    """Score of ``N(alpha mean, alpha^2 cov + sigma^2 I)`` at ``theta``."""
    c = alpha**2 * cov + sigma**2 * jnp.eye(cov.shape[-1], dtype=cov.dtype)
    return -jnp.linalg.solve(c, theta - alpha * mean)


class SetScoreNet(nn.Module):
    """DeepSets posterior score network ``net(t, [theta, mean_j phi(x_j), n / n_max])``."""

    embed_hidden: tuple
    embed_dim: int
    hidden_dims: tuple
    activation: str
    time_embedding: str
    n_max: int

    @nn.compact
    def __call__(self, t, theta, xs, mask):
        """One example: ``theta (d,)``, ``xs (n_max, dx)``, ``mask (n_max,)`` -> ``(d,)``."""
        act = activation_by_name(self.activation)
        emb = MLP(tuple(self.embed_hidden), self.embed_dim, act, name="phi")(xs)
        n = jnp.sum(mask)
        pooled = jnp.sum(emb * mask[:, None], 0) / jnp.maximum(n, 1.0)
        h = jnp.concatenate([theta, pooled, (n / self.n_max)[None]])
        out = TimeMLP(tuple(self.hidden_dims), out_dim=theta.shape[-1],
                      activation=self.activation, time_embedding=self.time_embedding,
                      name="score")(t, h)
        return out


class CompositionalSBI(Experiment):
    """Single-observation score composed (the paper) vs a DeepSets set score (baseline)."""

    headline_metric = "single_score_err"

    def __init__(self, config, dataset=None):
        s = config.sbi
        self.n_max = int(s.n_max)
        n_single, n_set = int(s.single_simulations), int(s.set_simulations)
        _, self.per_row = simulators.simulation_rows(self.n_max, n_single, n_set)
        self.simulations = {"single": n_single, "set": n_set}
        self.prior_correction = s.get("prior_correction", "bridge")
        self.t_min = float(config.diffusion.t_min)
        super().__init__(config, dataset=dataset)

    def make_model(self, config, info):
        """``(single_net, set_net)``: the single-observation and the DeepSets score networks."""
        m = config.model
        dim_theta = int(info.event_shape[0])
        single_net = TimeMLP(tuple(m.hidden_dims), out_dim=dim_theta, activation=m.activation,
                             time_embedding=m.time_embedding)
        set_net = SetScoreNet(tuple(m.embed_hidden), int(m.embed_dim), tuple(m.hidden_dims),
                              m.activation, m.time_embedding, self.n_max)
        return single_net, set_net

    # -- derived from the config (computed on first use) -------------------------------------

    @property
    def single_net(self) -> TimeMLP:
        """The single-observation score network ``net(t, [theta, x])``."""
        return self.model[0]

    @property
    def set_net(self) -> SetScoreNet:
        """The baseline's DeepSets score network."""
        return self.model[1]

    @functools.cached_property
    def sim(self) -> GaussianLinearSimulator:
        """The simulator of ``config.sbi`` (the one the registered dataset draws from)."""
        s = self.config.sbi
        return GaussianLinearSimulator(int(s.dim_theta), int(s.dim_x), float(s.noise_std),
                                       seed=int(s.simulator_seed))

    @functools.cached_property
    def sde(self) -> sde_lib.VPSDE:
        """The VP SDE of ``config.diffusion``."""
        d = self.config.diffusion
        return sde_lib.VPSDE(beta_min=float(d.beta_min), beta_max=float(d.beta_max))

    @functools.cached_property
    def problems(self) -> np.ndarray:
        """``eval.num_problems`` held-out observation sets ``(P, n_max, dx)`` (fixed seed).

        Each is ``n_max`` simulations of one prior draw ``theta*``.
        """
        rng = np.random.default_rng(12345)
        theta = self.sim.prior_sample(rng, (int(self.config.eval.num_problems),))
        xs = self.sim.simulate(rng, np.repeat(theta[:, None], self.n_max, 1))
        return np.asarray(xs, np.float32)

    @functools.cached_property
    def _metrics_fn(self):
        return jax.jit(self._sample_metrics, static_argnames=("n",))

    # -- scores ------------------------------------------------------------------------------

    def single_score(self, params):
        """``s(t, theta, x)`` of the diffused single-observation posterior (learned)."""

        def score(t, theta, x):
            _, sigma = self.sde.marginal(t)
            return self.single_net.apply(params["single"], t, jnp.concatenate([theta, x])) / sigma

        return score

    def set_score(self, params, xs, mask):
        """``s(t, theta)`` of the diffused posterior given the masked set ``xs`` (learned)."""

        def score(t, theta):
            _, sigma = self.sde.marginal(t)
            return self.set_net.apply(params["set"], t, theta, xs, mask) / sigma

        return score

    def analytic_single_score(self, t, theta, x):
        """Exact diffused single-observation posterior score."""
        mean, cov = self.sim.posterior(x[None])
        alpha, sigma = self.sde.marginal(t)
        return diffused_gaussian_score(theta, mean, cov, alpha, sigma)

    def prior_score(self, t, theta):
        """Exact diffused prior score ``grad log p_t(theta)``."""
        alpha, sigma = self.sde.marginal(t)
        return diffused_gaussian_score(theta, jnp.asarray(self.sim.m0, theta.dtype),
                                       jnp.asarray(self.sim.S0, theta.dtype), alpha, sigma)

    # -- Experiment interface ----------------------------------------------------------------

    def init_params(self, key, batch):
        """``{single, set}``."""
        k1, k2 = jax.random.split(key)
        t = jnp.zeros((), jnp.float32)
        theta = jnp.asarray(batch["theta_set"][0])
        xs = jnp.asarray(batch["x_set"][0])
        return {"single": self.single_net.init(k1, t, jnp.concatenate([theta, xs[0]])),
                "set": self.set_net.init(k2, t, theta, xs, jnp.ones((self.n_max,)))}

    def loss_fn(self, params, batch, key, step):
        """DSM of the single score on every single pair + DSM of the set score on every set."""
        k_single, k_set, k_n = jax.random.split(key, 3)
        theta_s = batch["theta_single"].reshape(-1, self.sim.dim_theta)
        x_s = batch["x_single"].reshape(-1, self.sim.dim_x)
        d = self.config.diffusion
        kw = {"sde": self.sde, "t_min": self.t_min, "weighting": d.get("weighting", "variance"),
              "t_sampling": d.get("t_sampling", "uniform")}
        single = self.single_score(params)
        keys = jax.random.split(k_single, theta_s.shape[0])
        single_loss = jax.vmap(lambda th, x, k: diffusion.weighted_denoising_score_matching(
            lambda t, z: single(t, z, x), th, k, **kw))(theta_s, x_s, keys)
        rows = batch["theta_set"].shape[0]
        n = jax.random.randint(k_n, (rows,), 1, self.n_max + 1)
        masks = (jnp.arange(self.n_max)[None] < n[:, None]).astype(jnp.float32)
        keys = jax.random.split(k_set, rows)
        set_loss = jax.vmap(lambda th, xs, m, k: diffusion.weighted_denoising_score_matching(
            self.set_score(params, xs, m), th, k, **kw))(batch["theta_set"], batch["x_set"],
                                                        masks, keys)
        # Per row: the mean single loss over its per_row pairs plus the set loss.
        single_row = single_loss.reshape(rows, -1).mean(-1)
        return single_row + set_loss, {"single_dsm": single_row, "set_dsm": set_loss}

    def eval_fn(self, params, batch, key):
        """sigma^2-weighted score errors of both networks against the analytic ones."""
        times = tuple(float(t) for t in self.config.eval.times)
        single = self.single_score(params)
        rows = batch["theta_set"].shape[0]
        out = {"single_score_err": jnp.zeros((rows,)), "set_score_err": jnp.zeros((rows,))}
        for i, t in enumerate(times):
            alpha, sigma = self.sde.marginal(t)
            k1, k2 = jax.random.split(jax.random.fold_in(key, i))
            th = batch["theta_single"]
            th_t = alpha * th + sigma * jax.random.normal(k1, th.shape)
            err = jax.vmap(jax.vmap(lambda a, x: jnp.sum(
                (single(t, a, x) - self.analytic_single_score(t, a, x)) ** 2)))(
                th_t, batch["x_single"])
            out["single_score_err"] += sigma**2 * err.mean(-1) / len(times)
            ts = batch["theta_set"]
            ts_t = alpha * ts + sigma * jax.random.normal(k2, ts.shape)
            ones = jnp.ones((self.n_max,))

            def set_err(a, xs):
                mean, cov = self.sim.posterior(xs)
                true = diffused_gaussian_score(a, mean, cov, alpha, sigma)
                return jnp.sum((self.set_score(params, xs, ones)(t, a) - true) ** 2)

            out["set_score_err"] += sigma**2 * jax.vmap(set_err)(ts_t, batch["x_set"]) / len(times)
        return out

    def composed_sampler(self, single_score_fn, xs, mask, key, num: int):
        """Annealed Langevin on the bridge with the composed score (the paper's sampler)."""
        lg = self.config.langevin
        n = jnp.sum(mask)
        times = jnp.linspace(self.sde.T, float(lg.get("t_end", self.t_min)), int(lg.num_levels))
        alphas, sigmas = self.sde.marginal(times)
        steps = float(lg.eps) * (alphas**2 * float(lg.data_var) + sigmas**2) / n

        def score(t, theta):
            return cs.composed_posterior_score(single_score_fn, self.prior_score, t, theta, xs,
                                               mask=mask, T=self.sde.T,
                                               prior=self.prior_correction)

        k0, k1 = jax.random.split(key)
        x0 = jax.random.normal(k0, (num, self.sim.dim_theta)) / jnp.sqrt(n)
        return cs.annealed_langevin(jax.vmap(score, in_axes=(None, 0)), x0, k1, times=times,
                                    step_sizes=steps, num_steps=int(lg.steps_per_level))

    def set_sampler(self, params, xs, mask, key, num: int):
        """Reverse SDE with the set score (the baseline's sampler)."""
        k0, k1 = jax.random.split(key)
        x = self.sde.prior_sample(k0, (num, self.sim.dim_theta))
        score = jax.vmap(self.set_score(params, xs, mask), in_axes=(None, 0))
        return sde_lib.reverse_euler_maruyama(self.sde, score, x, k1,
                                              num_steps=int(self.config.eval.rsde_steps),
                                              t_end=self.t_min)

    def _sample_metrics(self, params, key, xs, *, n: int):
        mask = (jnp.arange(self.n_max) < n).astype(jnp.float32)
        mean, cov = self._posterior(xs, mask)
        num = int(self.config.eval.num_samples)
        k1, k2, k3 = jax.random.split(key, 3)
        ones = jnp.ones((n,), xs.dtype)  # the composed samplers score only the n used
        samples = {
            "composed": self.composed_sampler(self.single_score(params), xs[:n], ones, k1, num),
            "oracle": self.composed_sampler(self.analytic_single_score, xs[:n], ones, k2, num),
            "set": self.set_sampler(params, xs, mask, k3, num),
        }
        out = {}
        prec = jnp.linalg.inv(cov)
        for name, x in samples.items():
            dm = jnp.mean(x, 0) - mean
            out[f"{name}_mean_err"] = jnp.sqrt(dm @ prec @ dm)
            out[f"{name}_cov_err"] = (jnp.linalg.norm(jnp.cov(x.T) - cov)
                                      / jnp.linalg.norm(cov))
        return out

    def _posterior(self, xs, mask):
        """Analytic posterior given the masked observations."""
        n = jnp.sum(mask)
        a = jnp.asarray(self.sim.A, xs.dtype)
        prec0 = jnp.linalg.inv(jnp.asarray(self.sim.S0, xs.dtype))
        prec = prec0 + n * a.T @ a / self.sim.noise_std**2
        cov = jnp.linalg.inv(prec)
        resid = jnp.sum((xs - jnp.asarray(self.sim.b, xs.dtype)) * mask[:, None], 0)
        lin = prec0 @ jnp.asarray(self.sim.m0, xs.dtype) + a.T @ resid / self.sim.noise_std**2
        return cov @ lin, cov

    def model_metrics(self, params, key):
        """Posterior mean/covariance errors of the three samplers for every ``n``."""
        out = {}
        ns = tuple(int(n) for n in self.config.eval.ns)
        for n in ns:
            acc = {}
            for p in range(self.problems.shape[0]):
                m = self._metrics_fn(params, jax.random.fold_in(key, 1000 * n + p),
                                     self.problems[p], n=n)
                for k, v in m.items():
                    acc[k] = acc.get(k, 0.0) + float(v) / self.problems.shape[0]
            for k, v in acc.items():
                out[f"{k}_n{n}"] = v
        for stem in ("composed", "oracle", "set"):
            for kind in ("mean_err", "cov_err"):
                out[f"{stem}_{kind}"] = float(np.mean([out[f"{stem}_{kind}_n{n}"] for n in ns]))
        out["simulations_single"] = float(self.simulations["single"])
        out["simulations_set"] = float(self.simulations["set"])
        return out

    def sample_fn(self, params, key, num_samples):
        """Composed-score posterior samples for the first held-out problem, all ``n_max``."""
        return self.composed_sampler(self.single_score(params), jnp.asarray(self.problems[0]),
                                     jnp.ones((self.n_max,)), key, num_samples)


EXPERIMENT = CompositionalSBI
