"""Sample-quality measures for small image datasets: an FID-like distance and class accuracy.

FID (Heusel et al. 2017) compares Gaussians fitted to Inception features of samples and of
data. No Inception network is available offline, so :class:`ImageFeatures` fits a small
classifier (a one-hidden-layer MLP, scikit-learn) on the dataset's training split and uses
its hidden ReLU activations as features: :meth:`ImageFeatures.frechet_distance` is the
Fréchet distance between Gaussians fitted to those features
(:func:`likelihood_jax.metrics.frechet_distance`), and :meth:`ImageFeatures.predict`
classifies samples (e.g. the accuracy of class-conditional samples). The numbers are
comparable only between runs that use the same dataset, ``seed`` and sample count.

Images are given in ``[0, 1]`` (any shape ``(N, ...)``; they are flattened); integer images
with ``L`` levels map to the centres of their cells by :func:`to_unit_interval`.
"""

from __future__ import annotations

import numpy as np

from likelihood_jax import metrics


def to_unit_interval(x: np.ndarray, num_levels: int) -> np.ndarray:
    """Integer images ``(N, ...)`` in ``{0..L-1}`` to the centres of their cells, flattened."""
    return (np.asarray(x).reshape(len(x), -1).astype(np.float32) + 0.5) / num_levels


class ImageFeatures:
    """Classifier features of flattened images in ``[0, 1]``, fitted on labelled data.

    Args:
      images: training images in ``[0, 1]``, shape ``(N, ...)``.
      labels: their integer labels ``(N,)``.
      hidden_units: width of the classifier's hidden layer (the feature dimension).
      seed: the classifier's random state.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, *, hidden_units: int = 64,
                 seed: int = 0):
        from sklearn.neural_network import MLPClassifier

        images = self._flat(images)
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise ValueError(f"labels must have shape ({len(images)},), got {labels.shape}")
        self.classifier = MLPClassifier(hidden_layer_sizes=(hidden_units,), max_iter=300,
                                        random_state=seed)
        self.classifier.fit(images, labels)

    @staticmethod
    def _flat(images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, np.float32)
        if images.ndim < 2:
            raise ValueError(f"images must have shape (N, ...), got {images.shape}")
        if not np.all(np.isfinite(images)):
            raise ValueError("images contain NaN or infinite values")
        return images.reshape(len(images), -1)

    def features(self, images: np.ndarray) -> np.ndarray:
        """The hidden ReLU activations ``(N, hidden_units)``."""
        images = self._flat(images)
        return np.maximum(images @ self.classifier.coefs_[0] + self.classifier.intercepts_[0],
                          0.0)

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Predicted labels ``(N,)``."""
        return self.classifier.predict(self._flat(images))

    def frechet_distance(self, images: np.ndarray, reference: np.ndarray) -> float:
        """Fréchet distance between Gaussian fits of the features of two image sets."""
        a, b = self.features(images), self.features(reference)
        if len(a) < 2 or len(b) < 2:
            raise ValueError("need at least two images in each set")
        return float(metrics.frechet_distance(a.mean(0), np.cov(a, rowvar=False),
                                              b.mean(0), np.cov(b, rowvar=False)))
