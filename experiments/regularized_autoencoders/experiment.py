"""Regularized auto-encoders estimate the score [P029] on 1D/2D Gaussian mixtures.

Alain & Bengio (2014), "What regularized auto-encoders learn from the data-generating
distribution" (JMLR 15, arXiv:1211.4246). A reconstruction ``r(x) = x + f_theta(x)`` (an MLP
``f``; the paper's results do not depend on the parameterization) is trained on draws of
the registered ``grid_gaussian_mixture`` (modes on a grid, isotropic components: the score
``grad log p`` is analytic) with ``rae.criterion``:

* ``contractive``: ``|r(x) - x|^2 + sigma^2 |dr/dx|_F^2``
  (:func:`likelihood_jax.energy.regularized_autoencoder.contractive_criterion`), the
  Jacobian norm exact (``rae.jacobian = "exact"``, ``jax.jacfwd``) or by ``rae.num_probes``
  Hutchinson probes through ``jax.jvp`` (``"hutchinson"``);
* ``denoising``: ``|r(x + sigma eps) - x|^2``
  (:func:`~likelihood_jax.energy.regularized_autoencoder.denoising_criterion`).

The per-example loss is the criterion divided by ``sigma^4`` (a constant factor: the same
minimizer, gradients of order one at every ``sigma``). Evaluation (``eval_fn``): the squared
error of the score estimate ``(r(x) - x) / sigma^2`` against the analytic score on test
points (``score_error``, headline) and ``|grad log p|^2`` (``score_norm``);
``model_metrics``: ``relative_score_error`` (their ratio on ``sample.num_chains`` test
points) and the sampling check of the paper's Section 5: ``sample.num_chains`` approximate
Metropolis-Hastings chains
(:func:`~likelihood_jax.energy.regularized_autoencoder.approximate_metropolis_hastings`: energy
differences by the line integral of the estimated score) started from
``N(0, sample.init_std^2 I)``, scored by the unbiased MMD^2 to as many test points
(``mmd_ae``); beside it the same sampler with the analytic score (``mmd_exact_score``) and
a fresh draw of the mixture (``mmd_data``, the noise floor).
"""

from __future__ import annotations

import copy
import functools
import json
import os

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import metrics
from likelihood_jax.data.synthetic.targets import grid_gaussian_mixture
from likelihood_jax.energy import regularized_autoencoder as rae
from likelihood_jax.models.mlp import MLP
from likelihood_jax.train import Experiment, train_and_evaluate
from likelihood_jax.train.procedure import Procedure

CRITERIA = ("contractive", "denoising")
JACOBIANS = ("exact", "hutchinson")


class RegularizedAutoencoder(Experiment):
    """An auto-encoder trained by the contractive or denoising criterion; its score and samples."""

    headline_metric = "score_error"

    def __init__(self, config, dataset=None):
        settings = config.rae
        if settings.criterion not in CRITERIA:
            raise ValueError(f"rae.criterion must be one of {CRITERIA}, got "
                             f"{settings.criterion!r}")
        if settings.jacobian not in JACOBIANS:
            raise ValueError(f"rae.jacobian must be one of {JACOBIANS}, got "
                             f"{settings.jacobian!r}")
        if not settings.sigma > 0:
            raise ValueError(f"rae.sigma must be > 0, got {settings.sigma}")
        if int(settings.num_probes) < 1:
            raise ValueError(f"rae.num_probes must be >= 1, got {settings.num_probes}")
        if config.dataset.name != "grid_gaussian_mixture":
            raise ValueError(f"dataset.name must be 'grid_gaussian_mixture' (its score is "
                             f"analytic), got {config.dataset.name!r}")
        if not (config.sample.scale > 0 and config.sample.init_std > 0
                and config.sample.mmd_bandwidth > 0):
            raise ValueError("sample.scale, sample.init_std and sample.mmd_bandwidth must be > 0")
        super().__init__(config, dataset)
        self.sigma = float(settings.sigma)

    @functools.cached_property
    def target(self):
        """The data's mixture (:func:`grid_gaussian_mixture` of ``config.dataset``)."""
        d = self.config.dataset
        return grid_gaussian_mixture(d.dim, d.modes_per_axis, d.loc, d.std)

    def true_score(self, x):
        """The analytic ``grad log p`` of the mixture at one point ``(D,)``."""
        return jax.grad(self.target.log_prob)(x)

    def make_model(self, config, info):
        """``f_theta``: an MLP ``R^D -> R^D``, zero at initialization (``r(x) = x + f(x)``)."""
        return MLP(hidden_dims=tuple(config.model.hidden_dims), out_dim=info.event_shape[0],
                   zero_init_last=True)

    def init_params(self, key, batch):
        """The MLP's parameters (its output layer zero: ``r`` starts as the identity)."""
        return self.model.init(key, jnp.asarray(batch["x"][:1]))["params"]

    def reconstruct(self, params):
        """``r(x) = x + f_theta(x)`` for one example."""
        return lambda x: x + self.model.apply({"params": params}, x)

    def score(self, params):
        """The score estimate ``(r(x) - x) / sigma^2``."""
        return rae.reconstruction_score(self.reconstruct(params), self.sigma)

    def loss_fn(self, params, batch, key, step):
        """The criterion / sigma^4 per example."""
        del step
        r, settings, x = self.reconstruct(params), self.config.rae, batch["x"]
        keys = jax.random.split(key, x.shape[0])
        if settings.criterion == "denoising":
            crit = jax.vmap(lambda xi, k: rae.denoising_criterion(r, xi, k, self.sigma))
        else:
            exact = settings.jacobian == "exact"
            crit = jax.vmap(lambda xi, k: rae.contractive_criterion(
                r, xi, self.sigma, None if exact else k, num_probes=int(settings.num_probes)))
        return crit(x, keys) / self.sigma ** 4, {}

    def eval_fn(self, params, batch, key):
        """Per test example: the squared score error, ``|grad log p|^2`` and the loss."""
        loss, _ = self.loss_fn(params, batch, key, jnp.int32(0))
        x = batch["x"]
        truth = jax.vmap(self.true_score)(x)
        error = jnp.sum(jnp.square(jax.vmap(self.score(params))(x) - truth), axis=-1)
        return {"score_error": error, "score_norm": jnp.sum(jnp.square(truth), -1), "loss": loss}

    def chains(self, score_fn, key, num):
        """Final states ``(num, D)`` and mean acceptance of the approximate MH chains."""
        s = self.config.sample
        init_key, chain_key = jax.random.split(key)
        x0 = s.init_std * jax.random.normal(init_key, (num,) + self.event_shape)
        out = jax.vmap(lambda x, k: rae.approximate_metropolis_hastings(
            score_fn, x, k, scale=s.scale, num_steps=int(s.num_steps),
            num_points=int(s.num_points)))(x0, jax.random.split(chain_key, num))
        return out.state, jnp.mean(out.acceptance_rate)

    def sample_fn(self, params, key, num_samples):
        """Approximate MH chains with the auto-encoder's score (final states)."""
        return self.chains(self.score(params), key, num_samples)[0]

    def model_metrics(self, params, key):
        """The relative score error and the MMD^2 of the chains' samples (module docstring)."""
        s, test = self.config.sample, jnp.asarray(self.dataset.test["x"])
        num = min(int(s.num_chains), test.shape[0] // 2)
        reference = test[:num]

        @jax.jit
        def compute(params, key):
            ae_key, exact_key, data_key = jax.random.split(key, 3)
            ae, ae_rate = self.chains(self.score(params), ae_key, num)
            exact, exact_rate = self.chains(self.true_score, exact_key, num)
            fresh = self.target.sample(data_key, num)
            truth = jax.vmap(self.true_score)(reference)
            error = jnp.square(jax.vmap(self.score(params))(reference) - truth)
            mmd = functools.partial(metrics.mmd_squared, bandwidth=s.mmd_bandwidth)
            return {"relative_score_error": jnp.sum(error) / jnp.sum(jnp.square(truth)),
                    "mmd_ae": mmd(ae, reference), "mmd_exact_score": mmd(exact, reference),
                    "mmd_data": mmd(fresh, reference), "acceptance_ae": ae_rate,
                    "acceptance_exact_score": exact_rate}

        return {k: float(v) for k, v in compute(params, key).items()}


EXPERIMENT = RegularizedAutoencoder


# -- The sigma sweep (configs/sweep.py): every variant, sigma and seed in one command --------

VARIANTS = {"cae": {"criterion": "contractive", "jacobian": "exact"},
            "cae_hutchinson": {"criterion": "contractive", "jacobian": "hutchinson"},
            "dae": {"criterion": "denoising", "jacobian": "exact"}}
SWEEP_METRICS = ("relative_score_error", "mmd_ae", "mmd_exact_score", "mmd_data")


class SigmaSweep(Procedure):
    """Trains ``sweep.variants`` x ``sweep.sigmas`` x ``sweep.seeds`` runs of the config.

    Each run is the config without ``sweep`` (``--config.<field>`` flags reach all of them),
    trained into ``WORKDIR/<variant>_sigma<s>/seed<k>`` (finished runs are read back, not
    retrained). Writes ``results.json`` and ``table.md`` (mean +- 95% interval over seeds).
    """

    headline_metric = "best_relative_score_error"

    def run(self, workdir):
        """Trains (or reads back) every run; writes results.json and table.md."""
        sweep = self.config.sweep
        unknown = [v for v in sweep.variants if v not in VARIANTS]
        if unknown or len(sweep.seeds) < 2:
            raise ValueError(f"sweep.variants must be among {tuple(VARIANTS)} (got {unknown}) "
                             f"and sweep.seeds hold >= 2 seeds (got {tuple(sweep.seeds)})")
        base = copy.deepcopy(self.config)
        base.experiment = "regularized_autoencoders"
        del base["sweep"]
        rows, lines = {}, ["| variant | sigma | relative score error | MMD^2 AE samples | "
                           "MMD^2 exact-score MH | MMD^2 fresh data |", "|---" * 6 + "|"]
        for variant in sweep.variants:
            for sigma in sweep.sigmas:
                runs = []
                for seed in sweep.seeds:
                    config = copy.deepcopy(base)
                    config.seed, config.rae.sigma = int(seed), float(sigma)
                    config.rae.update(VARIANTS[variant])
                    runs.append(train_and_evaluate(RegularizedAutoencoder(config), os.path.join(
                        workdir, f"{variant}_sigma{sigma:g}", f"seed{seed}")))
                rows[f"{variant}_sigma{sigma:g}"] = {k: [r[k] for r in runs]
                                                     for k in SWEEP_METRICS}
                lines.append(f"| {variant} | {sigma:g} | " + " | ".join(
                    metrics.format_interval(rows[f"{variant}_sigma{sigma:g}"][k], 4)
                    for k in SWEEP_METRICS) + " |")
        with open(os.path.join(workdir, "results.json"), "w") as f:
            json.dump(rows, f, indent=1)
        with open(os.path.join(workdir, "table.md"), "w") as f:
            f.write("\n".join(lines) + "\n")
        print("\n".join(lines), flush=True)
        means = {f"{name}_{k}": float(np.mean(v)) for name, row in rows.items()
                 for k, v in row.items()}
        means["best_relative_score_error"] = min(float(np.mean(r["relative_score_error"]))
                                                 for r in rows.values())
        return means
