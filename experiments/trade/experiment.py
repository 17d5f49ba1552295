"""TraDE [P027]: a causal-transformer autoregressive density, NLL + lambda MMD^2.

Fakoor, Chaudhari, Mueller & Smola 2020, "TraDE: Transformers for Density Estimation".
The model and the objective are :mod:`likelihood_jax.flows.trade`; this module wires them
to a registered tabular dataset (:mod:`likelihood_jax.data.tabular`: ``wine``,
``breast_cancer``, ``diabetes``, ``digits_pca``, ``correlated_gaussian``).

* loss: :func:`~likelihood_jax.flows.trade.penalized_nll` with ``config.trade.mmd_weight``
  (``lambda``; 0 is plain maximum likelihood) and ``config.trade.num_samples`` model draws
  per step against the batch;
* evaluation: the per-example test NLL (``nll``, nats, the headline) and, as a model
  metric, ``mmd2``: the unbiased MMD^2 between ``config.trade.eval_samples`` model samples
  and the held-out rows, with the bandwidth fixed by the held-out rows alone (median
  pairwise distance), so runs with and without the penalty are measured alike. On
  ``correlated_gaussian`` also ``entropy_gap`` = test NLL - the analytic entropy.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from likelihood_jax import metrics
from likelihood_jax.data import tabular
from likelihood_jax.flows import trade
from likelihood_jax.train import Experiment


class TraDEExperiment(Experiment):
    """TraDE on one tabular dataset (config groups ``model`` and ``trade``)."""

    headline_metric = "nll"

    def make_model(self, config, info) -> trade.TraDE:
        """``TraDE`` with the dataset's discrete columns (``tabular_categories``)."""
        name, m = config.dataset.name, config.model
        if name in ("wine", "breast_cancer", "diabetes"):
            categories = tabular.tabular_categories(name)
        else:
            categories = (0,) * info.event_shape[0]
        return trade.TraDE(categories, num_components=m.num_components,
                           num_layers=m.num_layers, width=m.width, num_heads=m.num_heads)

    def init_params(self, key, batch):
        """The parameters of the transformer."""
        return self.model.init(key, jnp.asarray(batch["x"]))

    def loss_fn(self, params, batch, key, step):
        """``penalized_nll`` with ``config.trade``."""
        t = self.config.trade
        return trade.penalized_nll(self.model, params, batch["x"], key,
                                   mmd_weight=t.mmd_weight, num_samples=t.num_samples)

    def eval_fn(self, params, batch, key):
        """Per-example test NLL (nats)."""
        return {"nll": -self.model.log_prob(params, batch["x"])}

    def sample_fn(self, params, key, num_samples):
        """Model samples, column by column (the loop compiles it for the samples plot)."""
        return self.model.sample(params, key, num_samples)

    @functools.cached_property
    def _metrics(self):
        """One compiled ``(params, key) -> (mmd2, mean NLL)`` on the held-out rows.

        The rows and their median-heuristic bandwidth are constants of the function, so
        the sampler, the bandwidth and the MMD compile once together (no op-by-op work).
        """
        x = jnp.asarray(np.asarray(self.dataset.test["x"])[:self.config.trade.eval_samples])
        bandwidth = float(jax.jit(trade.median_bandwidth)(x[:1], x[1:]))

        def fn(params, key):
            samples = self.model.sample(params, key, x.shape[0])
            mmd2 = metrics.mmd_squared(samples, x, bandwidth=bandwidth)
            return mmd2, -jnp.mean(self.model.log_prob(params, x))
        return jax.jit(fn)

    def model_metrics(self, params, key):
        """``mmd2`` of model samples against the held-out rows (and the entropy gap)."""
        mmd2, nll = self._metrics(params, key)
        out = {"mmd2": float(mmd2)}
        ds = self.config.dataset
        if ds.name == "correlated_gaussian":
            out["entropy_gap"] = float(nll) - tabular.correlated_gaussian_entropy(ds.dim, ds.rho)
        return out

EXPERIMENT = TraDEExperiment
