"""``likelihood_jax_digits``: scikit-learn's 8x8 digits (no download).

Features per record: ``x`` uint8 (8, 8, 1) in 0..16, ``label``, ``index`` (row in
sklearn's ``load_digits``). Split 1500 train / 297 test by :func:`split_indices`.
"""

from __future__ import annotations

import numpy as np
import tensorflow_datasets as tfds

from likelihood_jax.data.builders.base import QuietBuilder, split_indices

__all__ = ["LikelihoodJaxDigits"]


class LikelihoodJaxDigits(QuietBuilder):
    """scikit-learn's 8x8 digits (17 levels); seeded split 1500 train / 297 test."""

    NUM_TEST = 297

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "The 1797 8x8 handwritten digits of sklearn.datasets.load_digits (UCI optdigits "
                "test set), pixel values 0..16. test = sorted(perm[:297]), train = sorted("
                "perm[297:]) with perm = np.random.default_rng(0).permutation(1797)."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "x": tfds.features.Tensor(shape=(8, 8, 1), dtype=np.uint8),
                    "label": tfds.features.ClassLabel(num_classes=10),
                    "index": tfds.features.Scalar(dtype=np.int32),
                }
            ),
            homepage="https://scikit-learn.org/stable/datasets/toy_dataset.html",
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        from sklearn.datasets import load_digits

        digits = load_digits()
        images = digits.images.astype(np.uint8)[..., None]
        labels = digits.target.astype(np.int32)
        train, test = split_indices(len(labels), self.NUM_TEST)
        return {
            "train": self._generate_examples(images, labels, train),
            "test": self._generate_examples(images, labels, test),
        }

    def _generate_examples(self, images, labels, indices):
        for i, index in enumerate(indices):
            yield i, {"x": images[index], "label": labels[index], "index": index}
