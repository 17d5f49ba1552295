"""PixelCNN++ [P070]: exact discrete likelihood of images, bits/dim, samples.

The model is :class:`likelihood_jax.flows.DiscretizedPixelCNN` over the network
:class:`likelihood_jax.models.pixelcnn.PixelCNNPP` (two causal streams, gated resnets with
dropout, ``model.num_scales`` resolutions with shortcuts between the passes) and the
discretized logistic mixture with the dataset's number of levels (17 for ``digits``, 256 for
``mnist5k``). The loss is the per-image NLL in nats of the integer data (no dequantization:
the mixture's bins already sum to one over the levels); the headline metric is test
bits/dim, ``metrics.bits_per_dim(nll, H W C)``, an exact value, not a bound.
``samples.png`` shows images drawn pixel by pixel.
"""

from __future__ import annotations

import functools

import jax.numpy as jnp

from likelihood_jax import flows, metrics
from likelihood_jax.models.pixelcnn import PixelCNNPP
from likelihood_jax.models.transformer import num_params
from likelihood_jax.train import Experiment


class PixelCNNPPExperiment(Experiment):
    """PixelCNN++ by maximum likelihood (config: ``model.num_filters``, ``num_resnet``...)."""

    headline_metric = "bits_per_dim"

    @functools.cached_property
    def num_levels(self) -> int:
        """``L`` of the image data (the dataset's ``num_levels``)."""
        info = self.dataset.info
        if info.kind != "image":
            raise ValueError(f"pixelcnn_pp needs image data, got dataset "
                             f"{self.config.dataset.name!r} of kind {info.kind!r}.")
        return int(info.num_levels)

    def make_model(self, config, info) -> flows.DiscretizedPixelCNN:
        """The density over ``info.event_shape`` images of ``num_levels`` levels."""
        m = config.model
        network = PixelCNNPP(num_filters=m.num_filters, num_resnet=m.num_resnet,
                             num_scales=m.num_scales, num_mixtures=m.num_mixtures,
                             dropout=m.dropout)
        return flows.DiscretizedPixelCNN(network, tuple(info.event_shape), self.num_levels)

    def preprocess(self, batch, key):
        """Integer levels as float32 (no dequantization)."""
        del key
        return dict(batch, x=jnp.asarray(batch["x"], jnp.float32))

    def init_params(self, key, batch):  # noqa: D102
        return self.model.init(key, self.preprocess(batch, None)["x"])

    def loss_fn(self, params, batch, key, step):
        """Per-image NLL in nats, dropout on."""
        train = self.config.model.dropout > 0
        return -self.model.log_prob(params, batch["x"], train=train, key=key), {}

    def eval_fn(self, params, batch, key):
        """Test NLL (nats per image) and exact bits/dim."""
        nll = -self.model.log_prob(params, batch["x"])
        return {"nll": nll, "bits_per_dim": metrics.bits_per_dim(nll, self.num_dims)}

    def sample_fn(self, params, key, num_samples):
        """At most 64 images, as levels scaled to ``[0, 1]``."""
        levels = self.model.sample(params, key, min(num_samples, 64))
        return levels / (self.num_levels - 1)

    def model_metrics(self, params, key):
        """``num_params``: scalars in the network's parameters."""
        del key
        return {"num_params": float(num_params(params))}


EXPERIMENT = PixelCNNPPExperiment
