"""GEDI: self-supervised clustering and an energy-based model in one network [P039].

Sansone & Manhaeve (TMLR 2025), "Unifying Self-Supervised Clustering and Energy-Based Models"
(arXiv:2401.00873). An MLP ``f: R^2 -> R^K`` gives cluster probabilities ``softmax(f)`` and
the energy ``E = -logsumexp f``; the loss is
:func:`likelihood_jax.energy.clustering_ebm.gedi_loss` with the weights of
``config.variant`` (``gedi``: all three terms; ``ebm_only``: the generative term, a JEM-style
EBM; ``ssl_only``: invariance + uniform prior). Negatives are persistent Langevin chains in
``TrainState.extra`` (:func:`~likelihood_jax.energy.clustering_ebm.langevin_negatives`:
``gedi.sgld_steps`` ULA steps after every update, a fraction ``gedi.reinit`` restarted
uniformly in the data's box, as JEM's replay buffer). Augmentation: Gaussian jitter of
standard deviation ``gedi.augment_std``.

Evaluation (``model_metrics``): the NMI (scikit-learn) of ``argmax f`` on the test split
against the generating component of each point (:func:`toy_labels`: the outer/inner circle, or
the nearest noise-free half moon), and the unbiased MMD^2 (``metrics.mmd_squared``) between
``eval.num_samples`` fresh Langevin samples (``eval.sgld_steps`` steps from the uniform box)
and as many test points; ``mmd_data`` (a second set of test points) is its noise floor.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from sklearn.metrics import normalized_mutual_info_score

from likelihood_jax import metrics
from likelihood_jax.energy import clustering_ebm as gedi
from likelihood_jax.models.mlp import MLP
from likelihood_jax.train import Experiment

VARIANTS = {"gedi": (1.0, 1.0, 1.0), "ebm_only": (1.0, 0.0, 0.0), "ssl_only": (0.0, 1.0, 1.0)}
BOX = 4.0  # chains start uniformly in [-BOX, BOX]^2, which holds both toys


def toy_labels(name: str, x: np.ndarray) -> np.ndarray:
    """The generating component of each point of the ``moons`` / ``circles`` toys.

    ``circles``: radius 3 (label 0) or 1.5 (label 1), split at radius 2.25 (noise std 0.24).
    ``moons``: undo the affine map, then the nearer of the two noise-free half circles
    (noise std 0.2 against a gap of about 1).
    """
    x = np.asarray(x, np.float64)
    if name == "circles":
        return (np.linalg.norm(x, axis=1) < 2.25).astype(np.int32)
    if name == "moons":
        p = (x - np.array([-1.0, -0.2])) / 2.0
        t = np.linspace(0.0, np.pi, 400)
        arcs = [np.stack([np.cos(t), np.sin(t)], 1), np.stack([1 - np.cos(t), 0.5 - np.sin(t)], 1)]
        dist = [np.min(np.linalg.norm(p[:, None] - a[None], axis=-1), axis=1) for a in arcs]
        return (dist[1] < dist[0]).astype(np.int32)
    raise ValueError(f"toy_labels: name must be 'moons' or 'circles', got {name!r}")


class GEDI(Experiment):
    """The GEDI objective (or an ablation) on a 2D toy with persistent Langevin negatives."""

    headline_metric = "nmi"

    def __init__(self, config, dataset=None):
        g = config.gedi
        if config.variant not in VARIANTS:
            raise ValueError(f"variant must be one of {tuple(VARIANTS)}, got {config.variant!r}")
        if config.dataset.name not in ("moons", "circles"):
            raise ValueError(f"dataset.name must be 'moons' or 'circles' (labels are known), got "
                             f"{config.dataset.name!r}")
        for name in ("sgld_step", "augment_std"):
            if not g[name] > 0:
                raise ValueError(f"gedi.{name} must be > 0, got {g[name]}")
        if not 0.0 <= g.reinit <= 1.0:
            raise ValueError(f"gedi.reinit must be in [0, 1], got {g.reinit}")
        if int(g.sgld_steps) < 1 or int(config.model.num_clusters) < 2:
            raise ValueError("gedi.sgld_steps must be >= 1 and model.num_clusters >= 2")
        super().__init__(config, dataset)

    def make_model(self, config, info):
        """An MLP ``R^2 -> R^K`` (the cluster logits)."""
        return MLP(tuple(config.model.hidden_dims), int(config.model.num_clusters))

    def logits(self, params, x):
        """``f(x)``, ``(..., K)``."""
        return self.model.apply({"params": params}, x)

    def energy(self, params):
        """``E(x) = -logsumexp f(x)``."""
        return lambda x: gedi.energy_from_logits(self.logits(params, x))

    def init_params(self, key, batch):
        """The MLP's parameters."""
        return self.model.init(key, jnp.asarray(batch["x"][:1]))["params"]

    def init_extra(self, key, batch, params):
        """``gedi.num_chains`` persistent chains, uniform in the box."""
        shape = (int(self.config.gedi.num_chains), batch["x"].shape[1])
        return {"chains": jax.random.uniform(key, shape, minval=-BOX, maxval=BOX)}

    def loss_fn(self, params, batch, key, step):
        """The GEDI terms (weighted by the variant) per example."""
        del step
        x, s = batch["x"], self.config.gedi.augment_std
        negatives = jax.lax.stop_gradient(batch["extra"]["chains"])
        ka, kb = jax.random.split(key)
        view = lambda k: x + s * jax.random.normal(k, x.shape)  # noqa: E731
        w_gen, w_inv, w_prior = VARIANTS[self.config.variant]
        terms = gedi.gedi_loss(self.logits(params, x), self.logits(params, view(ka)),
                               self.logits(params, view(kb)), self.logits(params, negatives),
                               generative_weight=w_gen, invariance_weight=w_inv,
                               prior_weight=w_prior)
        return terms.total, {"generative": terms.generative, "invariance": terms.invariance,
                             "prior": terms.prior}

    def update_extra(self, extra, params, batch, key, step):
        """Restarts a fraction ``gedi.reinit`` of the chains, then ``gedi.sgld_steps`` ULA steps."""
        del batch, step
        g = self.config.gedi
        reinit_key, uniform_key, chain_key = jax.random.split(key, 3)
        chains = extra["chains"]
        fresh = jax.random.uniform(uniform_key, chains.shape, minval=-BOX, maxval=BOX)
        restart = jax.random.uniform(reinit_key, chains.shape[:1]) < g.reinit
        chains = jnp.where(restart[:, None], fresh, chains)
        return {"chains": gedi.langevin_negatives(self.energy(params), chains, chain_key,
                                                  step_size=g.sgld_step,
                                                  num_steps=int(g.sgld_steps))}

    def samples(self, params, key, num, steps):
        """``num`` Langevin samples after ``steps`` steps from the uniform box."""
        init_key, chain_key = jax.random.split(key)
        x0 = jax.random.uniform(init_key, (num, 2), minval=-BOX, maxval=BOX)
        return gedi.langevin_negatives(self.energy(params), x0, chain_key,
                                       step_size=self.config.gedi.sgld_step, num_steps=steps)

    def sample_fn(self, params, key, num_samples):
        """Samples for the plot (``eval.sgld_steps`` steps)."""
        return self.samples(params, key, num_samples, int(self.config.eval.sgld_steps))

    def log_prob_fn(self, params, x):
        """``-E(x)``, the unnormalized log-density."""
        return -self.energy(params)(x)

    def model_metrics(self, params, key):
        """NMI of the test clusters, MMD^2 of Langevin samples and its data floor."""
        e, test = self.config.eval, np.asarray(self.dataset.test["x"])
        num = min(int(e.num_samples), test.shape[0] // 2)

        @functools.partial(jax.jit, static_argnums=(2,))
        def compute(params, key, num):
            samples = self.samples(params, key, num, int(e.sgld_steps))
            mmd = functools.partial(metrics.mmd_squared, bandwidth=e.mmd_bandwidth)
            return (jnp.argmax(self.logits(params, test), -1), mmd(samples, test[:num]),
                    mmd(test[num:2 * num], test[:num]))

        clusters, mmd_model, mmd_data = jax.device_get(compute(params, key, num))
        labels = toy_labels(self.config.dataset.name, test)
        return {"nmi": float(normalized_mutual_info_score(labels, clusters)),
                "mmd": float(mmd_model), "mmd_data": float(mmd_data),
                "cluster_fraction": float(np.mean(clusters == clusters[0]))}


EXPERIMENT = GEDI
