r"""CDRL [P172] and its baseline DRL on a 2D toy: EBMs at every noise level, Langevin-refined.

Zhu et al. (2024), "Learning energy-based models by cooperative diffusion recovery
likelihood"; the baseline is Gao et al. (2021), "Learning energy-based models by diffusion
recovery likelihood". The math is :mod:`likelihood_jax.energy.recovery_likelihood`.

Data ``x_0`` (the toy scaled by ``cdrl.data_scale``) is noised through ``cdrl.num_levels``
variance-preserving transitions. One network ``f_theta(x, t)`` (an MLP on ``x`` and a one-hot
level) is the EBM of every level; CDRL adds an initializer ``g_phi(x_{t+1}, t) = x_{t+1} /
alpha_t + MLP`` (``cdrl.initializer = True``). A training step draws a level per example, a
data pair ``(x_t, x_{t+1})``, a starting point (the initializer's proposal plus its posterior
noise ``s_t``, or DRL's ``x_{t+1} / alpha_t``) and ``cdrl.langevin_steps`` Langevin steps of
size ``h_t = (cdrl.step_scale sigma_t)^2`` on the recovery likelihood. The two players are
optimizer groups updated simultaneously:

* ``ebm``: :func:`~likelihood_jax.energy.recovery_likelihood.recovery_contrastive_loss`
  ``f(x~_t) - f(x_t)`` (refined samples behind ``stop_gradient``);
* ``initializer``: :func:`~likelihood_jax.energy.recovery_likelihood.initializer_loss`
  ``|x~_t - g(x_{t+1})|^2 / (2 sigma_t^2)``.

Both groups see the same pairs and refined samples in a step (their key is a function of
``(seed, step)``), as in the paper's algorithm, where one sampling pass feeds both updates.
Sampling (``model_metrics``, the plot): ``x_T ~ N(0, I)``, then for ``t = T-1 .. 0`` propose
and refine; the Langevin steps per sample are ``T * langevin_steps``. Metrics against as many
held-out points: squared MMD (``mmd2``), exact 2-Wasserstein (``w2``) and the mode coverage of
``8gaussians``.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import metrics, transport
from likelihood_jax.data.toys import mixture_modes
from likelihood_jax.energy import recovery_likelihood as rl
from likelihood_jax.models.mlp import MLP
from likelihood_jax.train import Experiment


class CDRLExperiment(Experiment):
    """EBM ``f(x, t)`` and, for CDRL, the initializer ``g(x_{t+1}, t)``, both MLPs."""

    headline_metric = "mmd2"

    @functools.cached_property
    def levels(self):
        """``(alphas, sigmas, posterior stds)`` of ``cdrl.num_levels`` transitions."""
        c = self.config.cdrl
        with jax.ensure_compile_time_eval():  # constants, even when first read under jit
            alphas, sigmas = rl.vp_schedule(c.num_levels, c.sigma_min, c.sigma_max)
            return tuple(np.asarray(a) for a in (alphas, sigmas,
                                                  rl.posterior_std(alphas, sigmas)))

    def make_model(self, config, info):
        """``(ebm, initializer)`` MLPs on ``[x, one_hot(t)]``."""
        hidden = tuple(config.model.hidden_dims)
        return MLP(hidden, out_dim=1), MLP(hidden, out_dim=info.event_shape[-1],
                                           zero_init_last=True)

    def _inputs(self, x, t):
        return jnp.concatenate([x, jax.nn.one_hot(t, self.config.cdrl.num_levels)], -1)

    def log_f(self, params, x, t):
        """``f_theta(x, t)`` ``[B]``."""
        return self.model[0].apply({"params": params["ebm"]}, self._inputs(x, t))[..., 0]

    def proposal_mean(self, params, x_next, t):
        """CDRL: ``x_{t+1} / alpha_t + MLP``; DRL: ``x_{t+1} / alpha_t``."""
        start = x_next / jnp.asarray(self.levels[0])[t][:, None]
        if not self.config.cdrl.initializer:
            return start
        return start + self.model[1].apply({"params": params["initializer"]},
                                           self._inputs(x_next, t))

    def init_params(self, key, batch):
        """``{"ebm": ..., "initializer": ...}`` (DRL leaves the initializer unused)."""
        ke, ki = jax.random.split(key)
        x = self._inputs(batch["x"][:1], jnp.zeros((1,), jnp.int32))
        return {"ebm": self.model[0].init(ke, x)["params"],
                "initializer": self.model[1].init(ki, x)["params"]}

    def preprocess(self, batch, key):
        """Scales the toy by ``cdrl.data_scale``."""
        return dict(batch, x=batch["x"].astype(jnp.float32) * self.config.cdrl.data_scale)

    def recover(self, params, x_next, t, key):
        """``(initial, refined)`` samples of ``x_t | x_{t+1}``, ``t`` ``[B]`` levels."""
        alphas, sigmas, post = map(jnp.asarray, self.levels)
        c = self.config.cdrl
        k_init, k_chain = jax.random.split(key)
        mean = self.proposal_mean(params, x_next, t)
        noise = post[t][:, None] if c.initializer else 0.0
        initial = mean + noise * jax.random.normal(k_init, x_next.shape)

        def one(x0, xn, level, k):
            return rl.refine(lambda x: self.log_f(params, x[None], level[None])[0], x0, xn,
                             alphas[level], sigmas[level], k,
                             step_size=(c.step_scale * sigmas[level]) ** 2,
                             num_steps=c.langevin_steps)

        refined = jax.vmap(one)(initial, x_next, t, jax.random.split(k_chain, len(t)))
        return initial, jax.lax.stop_gradient(refined)

    def group_loss_fn(self, group, params, batch, key, step):
        """The EBM's contrastive recovery loss or the initializer's Gaussian NLL."""
        del key  # both players share the step's samples (a key of (seed, step))
        if group == "initializer" and not self.config.cdrl.initializer:  # DRL: unused
            return jnp.zeros(len(batch["x"])), {}
        key = jax.random.fold_in(jax.random.key(self.config.seed + 7919), step)
        k_t, k_pair, k_rec = jax.random.split(key, 3)
        x0 = batch["x"]
        alphas, sigmas, _ = map(jnp.asarray, self.levels)
        t = jax.random.randint(k_t, (len(x0),), 0, self.config.cdrl.num_levels)
        x_t, x_next = jax.vmap(lambda x, level, k: rl.noisy_pair(x, level, alphas, sigmas, k))(
            x0, t, jax.random.split(k_pair, len(x0)))
        params_sg = jax.lax.stop_gradient(params)
        _, refined = self.recover(params_sg, x_next, t, k_rec)
        if group == "ebm":
            f_data, f_fake = self.log_f(params, x_t, t), self.log_f(params, refined, t)
            return rl.recovery_contrastive_loss(f_data, f_fake), {"f_gap": f_data - f_fake}
        mean = self.proposal_mean(params, x_next, t)
        return jax.vmap(rl.initializer_loss)(mean, refined, sigmas[t]), {}

    @functools.partial(jax.jit, static_argnums=(0, 3))
    def generate(self, params, key, num: int):
        """``num`` samples by ancestral recovery from ``x_T ~ N(0, I)``, in data space."""
        key, k0 = jax.random.split(key)
        x = jax.random.normal(k0, (num,) + self.event_shape)
        for level in reversed(range(self.config.cdrl.num_levels)):
            key, k = jax.random.split(key)
            x = self.recover(params, x, jnp.full((num,), level), k)[1]
        return x / self.config.cdrl.data_scale

    def sample_fn(self, params, key, num_samples):
        """Samples for the plot."""
        return self.generate(params, key, num_samples)

    def model_metrics(self, params, key):
        """MMD, W2 and mode coverage of ``cdrl.num_eval_samples`` samples vs held-out data."""
        reference = np.asarray(self.dataset.test["x"][: int(self.config.cdrl.num_eval_samples)])
        samples = np.asarray(self.generate(params, key, len(reference)))
        out = {"mmd2": float(metrics.mmd_squared(samples, reference, bandwidth=0.5)),
               "w2": float(transport.empirical_wasserstein2(samples, reference)),
               "langevin_steps_per_sample": float(self.config.cdrl.num_levels
                                                  * self.config.cdrl.langevin_steps)}
        modes = mixture_modes(self.config.dataset.name)
        if modes is not None:
            out.update(metrics.mode_coverage_summary(samples, modes[0], std=modes[1]))
        return out


EXPERIMENT = CDRLExperiment
