"""Byte-level BPE tokenizers (HuggingFace ``tokenizers``) and the ``shakespeare_bpe`` dataset.

A byte-level BPE tokenizer (GPT-2's scheme, Sennrich et al. 2016 / Radford et al. 2019)
starts from the 256 bytes, so every text is encodable and ``decode(encode(t)) == t``; it
then learns ``vocab_size - 257`` merges of the most frequent adjacent pairs inside the
pre-tokenized words (GPT-2's split on letters, digits, punctuation and spaces). Token ids:
``0`` is the reserved ``<|endoftext|>`` (not in the streams below), ``1..256`` the bytes
(ordered by their byte-level characters), then the merges in the order they were learned.

``shakespeare_bpe`` (``load_dataset("shakespeare_bpe", vocab_size=512)``) is the text of
``shakespeare_char`` (the same plays, the same per-play train/test cut) as token streams
of a tokenizer trained on the train split only, once, when the dataset is built
(:mod:`likelihood_jax.data.builders.shakespeare_bpe`); the tokenizer is saved with the
build (the builder's ``metadata.json``) and read back by :func:`shakespeare_tokenizer`.
Training is deterministic (a rebuild gives the same vocabulary and ids; tested).
"""

from __future__ import annotations

import operator
from typing import Iterable

import numpy as np
import tokenizers
from tokenizers import decoders, models, pre_tokenizers, trainers

from likelihood_jax.data.loader import Dataset, DatasetInfo, resolve_data_dir

__all__ = [
    "END_OF_TEXT",
    "decode",
    "encode",
    "load_shakespeare_bpe",
    "shakespeare_tokenizer",
    "token_strings",
    "train_byte_level_bpe",
]

#: The reserved special token (id 0) of every tokenizer trained here.
END_OF_TEXT = "<|endoftext|>"
_NUM_BYTES = 256


def _check_vocab_size(vocab_size) -> int:
    try:
        vocab_size = operator.index(vocab_size)
    except TypeError:
        raise TypeError(f"vocab_size must be an integer, got {vocab_size!r}") from None
    if vocab_size <= _NUM_BYTES + 1:
        raise ValueError(f"vocab_size must exceed {_NUM_BYTES + 1} (the special token and the "
                         f"256 bytes), got {vocab_size}")
    return vocab_size


def train_byte_level_bpe(texts: Iterable[str], vocab_size: int) -> tokenizers.Tokenizer:
    """A byte-level BPE tokenizer of at most ``vocab_size`` tokens trained on ``texts``.

    Args:
      texts: The training texts (each one a document; merges never cross documents).
      vocab_size: Size of the vocabulary, ``> 257``: the special token, the 256 bytes
        and up to ``vocab_size - 257`` merges (fewer if the texts run out of pairs).

    Returns:
      The trained ``tokenizers.Tokenizer`` (no prefix space, byte-level decoder).

    Raises:
      ValueError: ``vocab_size <= 257``.
    """
    vocab_size = _check_vocab_size(vocab_size)
    tokenizer = tokenizers.Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[END_OF_TEXT],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def encode(tokenizer: tokenizers.Tokenizer, text: str) -> np.ndarray:
    """The int32 token ids of ``text``."""
    return np.asarray(tokenizer.encode(text).ids, np.int32)


def decode(tokenizer: tokenizers.Tokenizer, ids) -> str:
    """The text of the token ids ``ids`` (special tokens kept)."""
    return tokenizer.decode([int(i) for i in np.asarray(ids).reshape(-1)],
                            skip_special_tokens=False)


def token_strings(tokenizer: tokenizers.Tokenizer) -> tuple[str, ...]:
    """The decoded text of each token id (``DatasetInfo.vocab``).

    A byte token outside ASCII decodes to U+FFFD on its own (it is a part of a UTF-8
    character); every token of ASCII text decodes to as many characters as it has bytes.
    """
    return tuple(decode(tokenizer, [i]) for i in range(tokenizer.get_vocab_size()))


def _prepared_bpe(data_dir: str, vocab_size: int):
    from likelihood_jax.data import builders

    config = builders.shakespeare_bpe_config(vocab_size)
    if config.name == builders.LikelihoodJaxShakespeareBpe.BUILDER_CONFIGS[0].name:
        config = config.name  # a predefined config: pass its name
    return builders.prepare(builders.LikelihoodJaxShakespeareBpe, data_dir, config)


def shakespeare_tokenizer(vocab_size: int = 512, data_dir: str | None = None
                          ) -> tokenizers.Tokenizer:
    """The tokenizer of ``shakespeare_bpe`` with ``vocab_size``, built first if needed."""
    builder = _prepared_bpe(resolve_data_dir(data_dir), _check_vocab_size(vocab_size))
    return tokenizers.Tokenizer.from_str(builder.info.metadata["tokenizer"])


def load_shakespeare_bpe(name: str, data_dir: str, vocab_size: int = 512) -> Dataset:
    """The registered loader of ``shakespeare_bpe``: token streams of both splits.

    ``x`` of each split is the int32 ids of its plays' parts, concatenated in file-name
    order (each part encoded on its own); ``info.vocab`` is :func:`token_strings`.
    """
    from likelihood_jax.data import builders

    builder = _prepared_bpe(data_dir, _check_vocab_size(vocab_size))
    tokenizer = tokenizers.Tokenizer.from_str(builder.info.metadata["tokenizer"])
    streams = {}
    for split in ("train", "test"):
        examples = sorted(builders.read_split(builder, split), key=lambda ex: int(ex["play"]))
        streams[split] = np.concatenate([np.asarray(ex["ids"], np.int32) for ex in examples])
    info = DatasetInfo(
        kind="text",
        event_shape=(),
        vocab=token_strings(tokenizer),
        description=(
            f"Byte-level BPE Shakespeare ({tokenizer.get_vocab_size()} tokens): "
            + builder.info.description + " x is the int32 token stream of each split (plays "
            "concatenated in file-name order); token id i decodes to info.vocab[i]."
        ),
    )
    return Dataset(name, {"x": streams["train"]}, {"x": streams["test"]}, info)
