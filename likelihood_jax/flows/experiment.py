"""The flows family's Experiment bases (the only module of ``flows`` that imports ``train``).

:class:`MLEFlow`: RealNVP trained by maximum likelihood, the baseline that EBFlow [P001],
data mollification [P162] and UNO [P246] compare with or start from.

Dinh, Sohl-Dickstein & Bengio (2017), "Density estimation using Real NVP", with
Glow's ActNorm (Kingma & Dhariwal 2018) in place of batch normalization.

The model is ``log p(v) = log N(f(v); 0, I) + log|det df/dv|`` with ``f`` a chain
of ActNorm and affine-coupling layers (:func:`likelihood_jax.flows.realnvp`) on
the model-space input ``v``, trained by minimizing the per-example negative
log-likelihood.

* Continuous data (2D toys): ``v = x``; the loss and the headline metric are the
  NLL in nats.
* Images with ``L`` integer levels (:meth:`MLEFlow.preprocess`): uniform
  dequantization ``y = (x + u) / L``, ``u ~ U[0, 1)^D``
  (``metrics.uniform_dequantize``), then RealNVP's logit map
  ``v = logit(alpha + (1 - 2 alpha) y)`` (``flows.Logit``), whose log-det is
  carried along as ``batch["log_det"]``. So ``log p(y) = log p(v) + log_det``
  is a density on ``[0, 1)^D`` and ``-log p(y) - D log(1/L)`` bounds the discrete
  NLL of ``x`` (Theis et al. 2016); the headline metric is bits/dim of the
  discrete data, ``metrics.dequantized_bits_per_dim(log p(y), D, scale=1/L)``.
  Data mollification (:mod:`likelihood_jax.flows.mollification`) acts
  on ``v`` in logit space, where it cannot leave the flow's domain.
"""


from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from likelihood_jax import flows, metrics
from likelihood_jax.train import Experiment


class MLEFlow(Experiment):
    """RealNVP trained by maximum likelihood (config: ``model.num_layers``, ``hidden_dims``...).

    Construction does no work: the flow is :meth:`make_model`'s (read it as ``self.flow``)
    and the shapes below are read from the dataset's info when first used.
    """

    @functools.cached_property
    def num_levels(self) -> int | None:
        """Integer levels of image data (``L``); None for continuous data."""
        info = self.dataset.info
        return info.num_levels if info.kind == "image" else None

    @property
    def headline_metric(self) -> str:
        """``bits_per_dim`` for images, ``nll`` (nats) for continuous data."""
        return "bits_per_dim" if self.num_levels else "nll"

    @functools.cached_property
    def logit(self) -> flows.Logit:
        """RealNVP's logit preprocessing of dequantized images (``model.logit_alpha``)."""
        return flows.Logit(alpha=self.config.model.get("logit_alpha", 0.05))

    def make_model(self, config, info) -> flows.Flow:
        """``Flow(realnvp(D))`` on the flattened model-space input."""
        m = config.model
        num_dims = math.prod(info.event_shape)
        body = flows.realnvp(num_dims, num_layers=m.num_layers,
                             hidden_dims=tuple(m.hidden_dims), actnorm=m.get("actnorm", True),
                             scale_fn=m.get("scale_fn", "tanh"))
        return flows.Flow(body, (num_dims,))

    @property
    def flow(self) -> flows.Flow:
        """The run's flow (:attr:`model`)."""
        return self.model

    # -- data <-> model space ------------------------------------------------------------

    def preprocess(self, batch, key):
        """Flattens; images are dequantized into [0, 1) and mapped to logit space."""
        x = batch["x"]
        flat = jnp.reshape(x, (x.shape[0], self.num_dims))
        if not self.num_levels:
            return dict(batch, x=flat.astype(jnp.float32))
        y = metrics.uniform_dequantize(key, flat, num_levels=self.num_levels)
        v, log_det = jax.vmap(self.logit.forward_and_log_det, in_axes=(None, 0))({}, y)
        return dict(batch, x=v, log_det=log_det)

    def to_data_space(self, v: jax.Array) -> jax.Array:
        """Model-space samples back to data space (images in [0, 1))."""
        if self.num_levels:
            v = jax.vmap(self.logit.inverse, in_axes=(None, 0))({}, v)
        return v.reshape((v.shape[0],) + self.event_shape)

    def per_example_log_prob(self, params, v: jax.Array) -> jax.Array:
        """Flow ``log p`` of a batch of model-space inputs ``[B, D] -> [B]``."""
        return jax.vmap(self.flow.log_prob, in_axes=(None, 0))(params, v)

    # -- Experiment interface ---------------------------------------------------------------

    def init_params(self, key, batch):
        """Data-dependent init (ActNorm) on the first (preprocessed) batch."""
        data_key, init_key = jax.random.split(key)
        return self.flow.init(init_key, self.preprocess(batch, data_key)["x"])

    def loss_fn(self, params, batch, key, step):
        """Per-example negative log-likelihood of the model-space inputs."""
        return -self.per_example_log_prob(params, batch["x"]), {}

    def eval_fn(self, params, batch, key):
        """Test NLL in nats (of the data in [0, 1)^D for images) and, for images, bits/dim."""
        log_prob = self.per_example_log_prob(params, batch["x"])
        if not self.num_levels:
            return {"nll": -log_prob}
        log_prob = log_prob + batch["log_det"]
        return {"nll": -log_prob,
                "bits_per_dim": metrics.dequantized_bits_per_dim(
                    log_prob, self.num_dims, num_levels=self.num_levels,
                    scale=1.0 / self.num_levels)}

    def sample_fn(self, params, key, num_samples):
        """Samples in data space (images in [0, 1), at most 64)."""
        num = min(num_samples, 64) if self.num_levels else num_samples
        return self.to_data_space(self.flow.sample(params, key, num))

    def log_prob_fn(self, params, x):
        """Model log-density of continuous data, for the 2D density plot."""
        return self.per_example_log_prob(params, x)

