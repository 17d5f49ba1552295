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

Fitting the classifier takes seconds (digits) to tens of seconds (mnist5k), so fitted
classifiers are kept per process, keyed by a digest of the training images and labels
and the settings: experiments (and tests) built on the same data share one fit.
"""

from __future__ import annotations

import collections
import hashlib

import numpy as np

from likelihood_jax import _checks
from likelihood_jax.metrics import distances


def to_unit_interval(x: np.ndarray, num_levels: int) -> np.ndarray:
    """Integer images ``(N, ...)`` in ``{0..L-1}`` (``L >= 2``) to their cells' centres, flat."""
    _checks.require_integer_at_least("to_unit_interval", "num_levels", num_levels, 2)
    _checks.require_min_rank("to_unit_interval", "x", x, 1, "(N, ...)")
    return (np.asarray(x).reshape(len(x), -1).astype(np.float32) + 0.5) / num_levels


_CACHE_SIZE = 8
_FITTED: collections.OrderedDict = collections.OrderedDict()


def _fitted_classifier(images: np.ndarray, labels: np.ndarray, hidden_units: int, seed: int):
    """The MLP classifier fitted on ``(images, labels)``, from the process cache if there."""
    from sklearn.neural_network import MLPClassifier

    digest = hashlib.sha256(images.tobytes())
    digest.update(np.ascontiguousarray(labels).tobytes())
    key = (digest.hexdigest(), images.shape, str(labels.dtype), hidden_units, seed)
    if key in _FITTED:
        _FITTED.move_to_end(key)
        return _FITTED[key]
    classifier = MLPClassifier(hidden_layer_sizes=(hidden_units,), max_iter=300,
                               random_state=seed)
    classifier.fit(images, labels)
    _FITTED[key] = classifier
    if len(_FITTED) > _CACHE_SIZE:
        _FITTED.popitem(last=False)
    return classifier


class ImageFeatures:
    """Classifier features of flattened images in ``[0, 1]``, fitted on labelled data.

    Args:
      images: training images in ``[0, 1]``, shape ``(N, ...)``, finite.
      labels: their integer labels ``(N,)``.
      hidden_units: width of the classifier's hidden layer (the feature dimension),
        an integer ``>= 1``.
      seed: the classifier's random state.
    """

    def __init__(self, images: np.ndarray, labels: np.ndarray, *, hidden_units: int = 64,
                 seed: int = 0):
        _checks.require_integer_at_least("ImageFeatures", "hidden_units", hidden_units, 1)
        images = self._flat(images)
        labels = np.asarray(labels)
        if labels.shape != (len(images),):
            raise _checks.error("ImageFeatures", "labels", f"of shape ({len(images)},)",
                                f"shape {labels.shape}")
        self.classifier = _fitted_classifier(images, labels, int(hidden_units), int(seed))

    @classmethod
    def of_split(cls, split: dict, num_levels: int, *, hidden_units: int = 64,
                 seed: int = 0) -> "ImageFeatures":
        """Fitted on a dataset split: integer images ``split["x"]`` and ``split["label"]``.

        The images have ``num_levels`` levels and are mapped by :func:`to_unit_interval`; the
        usual construction is ``ImageFeatures.of_split(dataset.train, num_levels, seed=seed)``.
        """
        return cls(to_unit_interval(split["x"], num_levels), split["label"],
                   hidden_units=hidden_units, seed=seed)

    @staticmethod
    def _flat(images: np.ndarray) -> np.ndarray:
        images = np.asarray(images, np.float32)
        _checks.require_min_rank("ImageFeatures", "images", images, 2, "(N, ...)")
        if not np.all(np.isfinite(images)):
            raise _checks.error("ImageFeatures", "images", "finite", "NaN or infinite values")
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
            raise _checks.error("ImageFeatures.frechet_distance", "images and reference",
                                "sets of at least two images", f"sizes {len(a)} and {len(b)}")
        return float(distances.frechet_distance(a.mean(0), np.cov(a, rowvar=False),
                                              b.mean(0), np.cov(b, rowvar=False)))
