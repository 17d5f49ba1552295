"""``likelihood_jax_names``: the 1990 US census name lists of the pinned names sdist.

Features per record: ``name`` (lower-case ASCII bytes as uint8), ``label``
(female_first, male_first, last; see :data:`NAME_LISTS`), ``freq`` (census percent),
``index``. Split 90% train / 10% test by :func:`split_indices`.
"""

from __future__ import annotations

import pathlib
import tarfile

import numpy as np
import tensorflow_datasets as tfds

from likelihood_jax.data import artifacts
from likelihood_jax.data.builders.base import QuietBuilder, split_indices

__all__ = ["LikelihoodJaxNames", "NAMES_TEST_FRACTION", "NAME_LISTS", "read_census_names"]

#: Class names of the ``label`` of ``names``, with the file each comes from.
NAME_LISTS: tuple[tuple[str, str], ...] = (
    ("female_first", "names-0.3.0/names/dist.female.first"),
    ("male_first", "names-0.3.0/names/dist.male.first"),
    ("last", "names-0.3.0/names/dist.all.last"),
)
#: Fraction of all names (seeded permutation) that goes to test.
NAMES_TEST_FRACTION = 0.1


def read_census_names(sdist_path: str | pathlib.Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Reads the three 1990 US census name lists out of the names==0.3.0 sdist.

    Args:
      sdist_path: Path of ``names-0.3.0.tar.gz``.

    Returns:
      ``(names, labels, freqs)``: lower-case names in the order female first
      names, male first names, last names (each in file order, i.e. by
      decreasing frequency), the int32 list index (see :data:`NAME_LISTS`) and
      the float32 frequency in percent from the census file.

    Raises:
      ValueError: A list is not a regular file in the sdist.
    """
    names, labels, freqs = [], [], []
    with tarfile.open(sdist_path, "r:gz") as tar:
        for label, (_, member_name) in enumerate(NAME_LISTS):
            member = tar.extractfile(member_name)
            if member is None:
                raise ValueError(f"{member_name} is not a regular file in {sdist_path}.")
            for line in member.read().decode("ascii").splitlines():
                fields = line.split()
                if not fields:
                    continue
                names.append(fields[0].lower())
                labels.append(label)
                freqs.append(float(fields[1]))
    return names, np.asarray(labels, np.int32), np.asarray(freqs, np.float32)


class LikelihoodJaxNames(QuietBuilder):
    """1990 US census names from names==0.3.0; seeded split 90% train / 10% test."""

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "US census (1990) names: female first names, male first names and last names "
                f"from {artifacts.NAMES.filename} (sha256 {artifacts.NAMES.sha256}), lower-cased. "
                "index = position in the concatenation female, male, last (file order); test = "
                "sorted(perm[:N//10]), train = sorted(perm[N//10:]) with perm = "
                "np.random.default_rng(0).permutation(N)."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "name": tfds.features.Tensor(
                        shape=(None,), dtype=np.uint8, encoding=tfds.features.Encoding.BYTES
                    ),
                    "label": tfds.features.ClassLabel(names=[n for n, _ in NAME_LISTS]),
                    "freq": tfds.features.Scalar(dtype=np.float32),
                    "index": tfds.features.Scalar(dtype=np.int32),
                }
            ),
            homepage="https://pypi.org/project/names/0.3.0/",
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        path = artifacts.fetch_artifact(artifacts.NAMES, self._artifact_dir(dl_manager))
        names, labels, freqs = read_census_names(path)
        train, test = split_indices(len(names), int(len(names) * NAMES_TEST_FRACTION))
        return {
            "train": self._generate_examples(names, labels, freqs, train),
            "test": self._generate_examples(names, labels, freqs, test),
        }

    def _generate_examples(self, names, labels, freqs, indices):
        for i, index in enumerate(indices):
            yield (
                i,
                {
                    "name": np.frombuffer(names[index].encode("ascii"), dtype=np.uint8),
                    "label": labels[index],
                    "freq": freqs[index],
                    "index": index,
                },
            )
