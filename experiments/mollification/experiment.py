"""Data mollification [P162] on the maximum-likelihood RealNVP, with sample-quality metrics.

Tran, Franzese, Michiardi & Filippone (2023), "One-Line-of-Code Data Mollification
Improves Optimization of Likelihood-based Generative Models". The mollification
itself is not here: it is the shared loop's ``config.mollify`` switch
(:mod:`likelihood_jax.flows.mollification`), usable by any likelihood experiment. This
experiment is :class:`experiments.mle_flow.experiment.MLEFlow` plus the
paper's other axis of evaluation, sample quality:

* 2D toys: the 2-Wasserstein distance between model samples and as many test
  points (``transport.empirical_wasserstein2``);
* images: a Fréchet distance in the feature space of a small digit classifier
  trained here (an MLP; "FID-like"), between model samples and the test set
  (:class:`likelihood_jax.metrics.sample_quality.ImageFeatures`).
"""

from __future__ import annotations

import jax
import numpy as np

from likelihood_jax import transport
from likelihood_jax.flows.experiment import MLEFlow
from likelihood_jax.metrics import sample_quality


class MollifiedFlow(MLEFlow):
    """RealNVP by maximum likelihood, with or without mollification, and sample metrics."""

    def __init__(self, config, dataset=None):
        super().__init__(config, dataset)
        self.num_eval_samples = int(config.get("num_eval_samples", 2000))
        self._sample = jax.jit(self.sample_fn, static_argnums=2)
        if self.num_levels:
            self._features = sample_quality.ImageFeatures(
                sample_quality.to_unit_interval(self.dataset.train["x"], self.num_levels),
                self.dataset.train["label"], seed=config.seed)

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
