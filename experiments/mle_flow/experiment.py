"""Maximum-likelihood RealNVP: the baseline that EBFlow, mollification and others compare with.

Dinh, Sohl-Dickstein & Bengio (2017), "Density estimation using Real NVP", with
Glow's ActNorm (Kingma & Dhariwal 2018) in place of batch normalization.

The model is ``log p(x) = log N(f(x); 0, I) + log|det df/dx|`` with ``f`` a chain
of ActNorm and affine-coupling layers (:func:`likelihood_jax.flows.realnvp`),
trained by minimizing the per-example negative log-likelihood.

* Continuous data (2D toys): the loss and the headline metric are the NLL in nats.
* Images with ``L`` integer levels: uniform dequantization ``y = (x + u) / L``,
  ``u ~ U[0, 1)^D`` (``metrics.uniform_dequantize``), then RealNVP's logit
  preprocessing ``Logit(alpha)`` as the first bijector, so ``log p(y)`` is a
  density on ``[0, 1)^D`` and ``-log p(y) - D log(1/L)`` bounds the discrete NLL
  of ``x`` (Theis et al. 2016). The headline metric is bits/dim of the discrete
  data, ``metrics.dequantized_bits_per_dim(log p(y), D, num_levels=L, scale=1/L)``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from likelihood_jax import flows, metrics
from likelihood_jax.train import Experiment


class MLEFlow(Experiment):
    """RealNVP trained by maximum likelihood (config: ``model.num_layers``, ``hidden_dims``...)."""

    def __init__(self, config, dataset=None):
        super().__init__(config, dataset)
        info = self.dataset.info
        self.event_shape = tuple(info.event_shape)
        self.num_dims = math.prod(self.event_shape)
        self.num_levels = info.num_levels if info.kind == "image" else None
        self.headline_metric = "bits_per_dim" if self.num_levels else "nll"
        m = config.model
        layers = []
        if len(self.event_shape) > 1:
            layers.append(flows.Flatten(self.event_shape))
        if self.num_levels:
            layers.append(flows.Logit(alpha=m.get("logit_alpha", 0.05)))
        body = flows.realnvp(self.num_dims, num_layers=m.num_layers,
                             hidden_dims=tuple(m.hidden_dims), actnorm=m.get("actnorm", True),
                             scale_fn=m.get("scale_fn", "tanh"))
        self.flow = flows.Flow(flows.Chain(tuple(layers) + body.layers), self.event_shape)

    # -- data -> model space ----------------------------------------------------------

    def model_inputs(self, x: jax.Array, key: jax.Array) -> jax.Array:
        """Continuous inputs of the flow: the data itself, or dequantized images in [0, 1)."""
        if self.num_levels:
            return metrics.uniform_dequantize(key, x, num_levels=self.num_levels)
        return x.astype(jnp.float32)

    def per_example_log_prob(self, params, x: jax.Array) -> jax.Array:
        """``log p`` of a batch of model inputs ``[B, ...] -> [B]``."""
        return jax.vmap(self.flow.log_prob, in_axes=(None, 0))(params, x)

    def nll_and_metrics(self, params, batch, key) -> dict[str, jax.Array]:
        """Per-example NLL (nats of the continuous inputs) and, for images, bits/dim."""
        log_prob = self.per_example_log_prob(params, self.model_inputs(batch["x"], key))
        out = {"nll": -log_prob}
        if self.num_levels:
            out["bits_per_dim"] = metrics.dequantized_bits_per_dim(
                log_prob, self.num_dims, num_levels=self.num_levels,
                scale=1.0 / self.num_levels)
        return out

    # -- Experiment interface ---------------------------------------------------------------

    def init_params(self, key, batch):
        """Data-dependent init (ActNorm) on the first batch."""
        data_key, init_key = jax.random.split(key)
        return self.flow.init(init_key, self.model_inputs(jnp.asarray(batch["x"]), data_key))

    def loss_fn(self, params, batch, key):
        """Per-example negative log-likelihood."""
        out = self.nll_and_metrics(params, batch, key)
        return out["nll"], {k: v for k, v in out.items() if k != "nll"}

    def eval_fn(self, params, batch, key):
        """NLL (and bits/dim for images) on the test split."""
        return self.nll_and_metrics(params, batch, key)

    def sample_fn(self, params, key, num_samples):
        """Samples in data space (images in [0, 1))."""
        return self.flow.sample(params, key, min(num_samples, 64 if self.num_levels else
                                                 num_samples))

    def log_prob_fn(self, params, x):
        """Model log-density of continuous data, for the 2D density plot."""
        return self.per_example_log_prob(params, x)


EXPERIMENT = MLEFlow
