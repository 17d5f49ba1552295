"""Synthetic attribute captioning with concise references (the SMILE [P016] task).

An "image" is a set of present attributes among ``A`` (each present with probability
``p_present``, at least 2), given to an encoder as ``A`` tokens ``2 a + present_a``.
Its reference captions are *concise*: each mentions a random subset of the present
attributes (each with probability ``p_mention``, at least one), in increasing
attribute order, then ``<eos>``; several references per image (``refs_per_image``), as
in MSCOCO. Registered as the dataset ``"attribute_captions"`` (:func:`load_captions`).
"""

from __future__ import annotations

import numpy as np

from likelihood_jax.data.loader import Dataset, DatasetInfo

PAD, BOS, EOS, FIRST_ATTRIBUTE = 0, 1, 2, 3
"""Caption token ids: ``<pad>``, ``<bos>``, ``<eos>``; attribute ``a`` is ``a + 3``."""


def make_captions(num_images: int, num_attributes: int, p_present: float, p_mention: float,
                  refs_per_image: int, seed: int) -> dict[str, np.ndarray]:
    """Synthetic images with concise reference captions (one row per reference).

    Returns:
      ``source`` int32 ``[N, A]`` (token ``2 a + present``), ``present`` bool
      ``[N, A]``, ``caption`` int32 ``[N, A + 1]`` (attribute ``a`` is token
      ``a + 3``, then ``<eos>``=2, then ``<pad>``=0), ``image`` int32 ``[N]``;
      ``N = num_images * refs_per_image``.
    """
    rng = np.random.default_rng(seed)
    present = rng.random((num_images, num_attributes)) < p_present
    for row in present:  # at least two present attributes
        while row.sum() < 2:
            row[rng.integers(num_attributes)] = True
    present = np.repeat(present, refs_per_image, axis=0)
    mention = present & (rng.random(present.shape) < p_mention)
    for i, row in enumerate(mention):  # at least one mention
        if not row.any():
            row[rng.choice(np.flatnonzero(present[i]))] = True
    caption = np.zeros((len(present), num_attributes + 1), np.int32)
    for i, row in enumerate(mention):
        words = np.flatnonzero(row) + FIRST_ATTRIBUTE
        caption[i, :len(words)] = words
        caption[i, len(words)] = EOS
    source = (2 * np.arange(num_attributes) + present).astype(np.int32)
    return {"source": source, "present": present, "caption": caption,
            "image": np.repeat(np.arange(num_images), refs_per_image).astype(np.int32)}


def load_captions(name: str, data_dir: str | None = None, *, num_attributes: int = 12,
                  p_present: float = 0.5, p_mention: float = 0.35, refs_per_image: int = 5,
                  num_train_images: int = 2000, num_test_images: int = 500,
                  data_seed: int = 0) -> Dataset:
    """The ``"attribute_captions"`` dataset: captions ``x`` of the images in ``source``.

    Train: ``refs_per_image`` references of ``num_train_images`` images (numpy seed
    ``data_seed``); test: one reference of ``num_test_images`` other images (seed
    ``data_seed + 1``). Both splits hold ``x`` (the caption, :func:`make_captions`'s
    ``caption``), ``source``, ``present`` and ``image``. ``data_dir`` is ignored.
    """
    del data_dir
    if num_attributes < 2 or not 0.0 <= p_present <= 1.0 or not 0.0 <= p_mention <= 1.0:
        raise ValueError(f"need num_attributes >= 2 and p_present, p_mention in [0, 1]; got "
                         f"{num_attributes}, {p_present}, {p_mention}")
    args = (num_attributes, p_present, p_mention)
    train = make_captions(num_train_images, *args, refs_per_image, data_seed)
    test = make_captions(num_test_images, *args, 1, data_seed + 1)
    for split in (train, test):
        split["x"] = split.pop("caption")
    info = DatasetInfo(
        kind="text", event_shape=(num_attributes + 1,),
        vocab=("<pad>", "<bos>", "<eos>") + tuple(f"a{i}" for i in range(num_attributes)),
        description="synthetic attribute captioning with concise references (SMILE)")
    return Dataset(name, train, test, info)
