"""Data mollification [P162] on the maximum-likelihood RealNVP, with sample-quality metrics.

Tran, Franzese, Michiardi & Filippone (2023), "One-Line-of-Code Data Mollification
Improves Optimization of Likelihood-based Generative Models". The experiment is
:class:`likelihood_jax.flows.experiment.MLEFlow` whose training inputs (model space, after
dequantization and the logit for images) are mollified by
:func:`likelihood_jax.flows.mollification.mollify_batch` as ``config.mollify`` says (the noise
anneals to zero over ``mollify.fraction`` of the run; evaluation is never mollified), plus
the paper's other axis of evaluation, sample quality:

* 2D toys: the 2-Wasserstein distance between model samples and as many test
  points (``transport.empirical_wasserstein2``);
* images: a Fréchet distance in the feature space of a small digit classifier
  trained here (an MLP; "FID-like"), between model samples and the test set
  (:class:`likelihood_jax.metrics.sample_quality.ImageFeatures`).
"""

from __future__ import annotations

import functools

import jax
import numpy as np

from likelihood_jax import transport
from likelihood_jax.flows import mollification
from likelihood_jax.flows.experiment import MLEFlow
from likelihood_jax.metrics import sample_quality


def loop_noise_key(seed: int, step: jax.Array) -> jax.Array:
    """The key of step ``step``'s mollification noise: the one the shared loop used to draw it.

    Mollification was a switch of the shared loop, which split each step's key
    ``fold_in(base_key, step)`` (``base_key = split(key(seed))[1]``, see
    ``likelihood_jax.train.loop``) into (preprocess, mollify, loss) keys. The loop still splits
    it so; drawing the noise from the middle key keeps this experiment's numbers what they were.
    """
    base_key = jax.random.split(jax.random.key(seed))[1]
    return jax.random.split(jax.random.fold_in(base_key, step), 3)[1]


class MollifiedFlow(MLEFlow):
    """RealNVP by maximum likelihood, with or without mollification, and sample metrics."""

    @functools.cached_property
    def num_eval_samples(self) -> int:
        """Samples drawn for the set-level metrics (``config.num_eval_samples``)."""
        return int(self.config.get("num_eval_samples", 2000))

    @functools.cached_property
    def _sample(self):
        return jax.jit(self.sample_fn, static_argnums=2)

    @functools.cached_property
    def _features(self) -> sample_quality.ImageFeatures:
        """The digit classifier's feature map (images only), trained when first needed."""
        return sample_quality.ImageFeatures.of_split(self.dataset.train, self.num_levels,
                                                     seed=self.config.seed)

    def loss_fn(self, params, batch, key, step):
        """NLL of the mollified model-space inputs; logs the noise level ``mollify_noise``."""
        m = self.config.mollify
        if not m.enabled:
            return super().loss_fn(params, batch, key, step)
        batch, level = mollification.mollify_batch(
            batch, loop_noise_key(self.config.seed, step), step, self.config.total_steps, m)
        loss, metrics = super().loss_fn(params, batch, key, step)
        return loss, dict(metrics, mollify_noise=level)

    def sample_fn(self, params, key, num_samples):
        """Samples in data space (images in [0, 1))."""
        return self.to_data_space(self.flow.sample(params, key, num_samples))

    def model_metrics(self, params, key):
        """W2 to the test set (2D) or the classifier-feature Fréchet distance (images)."""
        test = self.dataset.test["x"]
        n = min(self.num_eval_samples, len(test))
        samples = np.asarray(self._sample(params, key, n))
        if not self.num_levels:
            return {"w2": float(transport.empirical_wasserstein2(samples, test[:n]))}
        reference = sample_quality.to_unit_interval(test, self.num_levels)
        return {"frechet_distance": self._features.frechet_distance(samples, reference)}


EXPERIMENT = MollifiedFlow
