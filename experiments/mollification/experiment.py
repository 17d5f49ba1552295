"""Data mollification [P162] on the maximum-likelihood RealNVP, with sample-quality metrics.

Tran, Franzese, Michiardi & Filippone (2023), "One-Line-of-Code Data Mollification
Improves Optimization of Likelihood-based Generative Models". The mollification
itself is not here: it is the shared loop's ``config.mollify`` switch
(:mod:`likelihood_jax.mollification`), usable by any likelihood experiment. This
experiment is :class:`experiments.mle_flow.experiment.MLEFlow` plus the
paper's other axis of evaluation, sample quality:

* 2D toys: the 2-Wasserstein distance between model samples and as many test
  points (``transport.empirical_wasserstein2``);
* images: a Fréchet distance in the feature space of a small digit classifier
  trained here (an MLP; "FID-like"), between model samples and the test set
  (``metrics.frechet_distance``).
"""

from __future__ import annotations

import jax
import numpy as np

from experiments.mle_flow.experiment import MLEFlow
from likelihood_jax import metrics, transport


class MollifiedFlow(MLEFlow):
    """RealNVP by maximum likelihood, with or without mollification, and sample metrics."""

    def __init__(self, config, dataset=None):
        super().__init__(config, dataset)
        self.num_eval_samples = int(config.get("num_eval_samples", 2000))
        self._sample = jax.jit(self.sample_fn, static_argnums=2)
        if self.num_levels:
            self._classifier = _train_feature_classifier(self.dataset, self.num_levels,
                                                         config.seed)
            self._test_features = _features(self._classifier,
                                            _to_unit(self.dataset.test["x"], self.num_levels))

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
        feats = _features(self._classifier, samples.reshape(n, -1))
        ref = self._test_features
        return {"frechet_distance": float(metrics.frechet_distance(
            feats.mean(0), np.cov(feats, rowvar=False), ref.mean(0), np.cov(ref, rowvar=False)))}


def _to_unit(x: np.ndarray, num_levels: int) -> np.ndarray:
    """Integer images to the centres of their dequantization cells in [0, 1), flattened."""
    return ((x.reshape(len(x), -1).astype(np.float32) + 0.5) / num_levels)


def _train_feature_classifier(dataset, num_levels: int, seed: int):
    """A one-hidden-layer MLP digit classifier (scikit-learn) on the training split."""
    from sklearn.neural_network import MLPClassifier

    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=300, random_state=seed)
    clf.fit(_to_unit(dataset.train["x"], num_levels), dataset.train["label"])
    return clf


def _features(clf, x_unit: np.ndarray) -> np.ndarray:
    """The classifier's hidden-layer activations (ReLU) of flattened images in [0, 1)."""
    return np.maximum(x_unit @ clf.coefs_[0] + clf.intercepts_[0], 0.0)


EXPERIMENT = MollifiedFlow
