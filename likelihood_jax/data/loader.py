"""``load_dataset``: offline datasets and tfds catalog datasets as in-memory numpy arrays."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib
import inspect
import logging
import operator
import os
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from likelihood_jax.data import toys

__all__ = [
    "DATASETS",
    "DATA_DIR_ENV",
    "Dataset",
    "DatasetInfo",
    "NAMES_END",
    "NAMES_PAD",
    "clear_cache",
    "list_datasets",
    "load_dataset",
    "resolve_data_dir",
]

_LOG = logging.getLogger("likelihood_jax.data")

#: Environment variable for the default ``data_dir``.
DATA_DIR_ENV = "LIKELIHOOD_JAX_DATA_DIR"

#: Token id of padding in ``names`` (after the end token).
NAMES_PAD = 0
#: Token id of the end token in ``names`` (right after the last letter).
NAMES_END = 1


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset.

    Attributes:
      kind: ``"continuous"``, ``"image"`` or ``"text"``.
      event_shape: Shape of one example ``x`` (``()`` for a token stream).
      num_levels: Images: number of integer levels (pixel values are
        ``0..num_levels-1``); ``None`` otherwise.
      num_classes: Number of classes of ``"label"``; ``None`` without labels.
      vocab: Text: the string of each token id; ``None`` otherwise.
      description: Where the data comes from and how it is split.
    """

    kind: str
    event_shape: tuple[int, ...]
    num_levels: int | None = None
    num_classes: int | None = None
    vocab: tuple[str, ...] | None = None
    description: str = ""


@dataclasses.dataclass(frozen=True)
class Dataset:
    """A dataset held in memory.

    Attributes:
      name: The name it was loaded by.
      train: Arrays of the train split; ``"x"`` is the data, ``"label"`` the
        class where there is one. All arrays share their leading dimension
        and are read-only (they are cached and shared within the process).
      test: Arrays of the test split, same keys.
      info: :class:`DatasetInfo`.
      validation: Arrays of a validation split held out of ``train`` (same keys), or
        ``None``; see :func:`likelihood_jax.data.hold_out_validation`.
    """

    name: str
    train: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    info: DatasetInfo
    validation: dict[str, np.ndarray] | None = None

    def __repr__(self) -> str:
        def shapes(split):
            return ", ".join(f"{k}: {v.dtype}{list(v.shape)}" for k, v in split.items())

        validation = ("" if self.validation is None
                      else f", validation={{{shapes(self.validation)}}}")
        return (
            f"Dataset(name={self.name!r}, kind={self.info.kind!r}, "
            f"train={{{shapes(self.train)}}}{validation}, test={{{shapes(self.test)}}})"
        )


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> str:
    """Where datasets are built.

    ``data_dir``, else ``$LIKELIHOOD_JAX_DATA_DIR``, else ``$TFDS_DATA_DIR``,
    else ``~/tensorflow_datasets``.

    Args:
      data_dir: Explicit folder or ``None``.

    Returns:
      The absolute, user-expanded folder.
    """
    if data_dir is None:
        data_dir = (
            os.environ.get(DATA_DIR_ENV)
            or os.environ.get("TFDS_DATA_DIR")
            or os.path.join("~", "tensorflow_datasets")
        )
    return os.path.abspath(os.path.expanduser(os.fspath(data_dir)))


@contextlib.contextmanager
def _quiet_tfds() -> Iterator[None]:
    """No tfds progress bars and only absl errors while building/reading."""
    import tensorflow_datasets as tfds
    from absl import logging as absl_logging

    tfds.disable_progress_bar()
    verbosity = absl_logging.get_verbosity()
    absl_logging.set_verbosity(absl_logging.ERROR)
    try:
        yield
    finally:
        absl_logging.set_verbosity(verbosity)


def _stack(examples: list[dict[str, Any]], key: str, dtype) -> np.ndarray:
    return np.stack([np.asarray(ex[key]) for ex in examples]).astype(dtype, copy=False)


def _check_count(value, what: str) -> int:
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{what} must be an integer, got {value!r}.") from None
    if value < 1:
        raise ValueError(f"{what} must be >= 1, got {value}.")
    return value


def _load_toy(name: str, data_dir: str, num_train: int = 20000, num_test: int = 5000) -> Dataset:
    from likelihood_jax.data import builders

    num_train = _check_count(num_train, "num_train")
    num_test = _check_count(num_test, "num_test")
    config = builders.toy_config(name, num_train, num_test)
    if config.name == name:  # A predefined config: pass its name.
        config = name
    builder = builders.prepare(builders.LikelihoodJaxToy2d, data_dir, config)
    splits = {
        split: {"x": _stack(builders.read_split(builder, split), "x", np.float32)}
        for split in ("train", "test")
    }
    info = DatasetInfo(
        kind="continuous",
        event_shape=(2,),
        description=(
            f"2D toy {name!r} (see likelihood_jax.data.toys): {num_train} train points = "
            f"sample_toy({name!r}, {num_train}, seed={toys.TRAIN_SEED}), {num_test} test points "
            f"= sample_toy({name!r}, {num_test}, seed={toys.TEST_SEED})."
        ),
    )
    return Dataset(name, splits["train"], splits["test"], info)


def _load_labeled_images(name: str, data_dir: str, num_levels: int) -> Dataset:
    from likelihood_jax.data import builders

    builder = builders.prepare(builders.BUILDERS[name], data_dir)
    splits = {}
    for split in ("train", "test"):
        examples = builders.read_split(builder, split)
        splits[split] = {
            "x": _stack(examples, "x", np.uint8),
            "label": _stack(examples, "label", np.int32),
            "index": _stack(examples, "index", np.int32),
        }
    info = DatasetInfo(
        kind="image",
        event_shape=tuple(splits["train"]["x"].shape[1:]),
        num_levels=num_levels,
        num_classes=10,
        description=builder.info.description,
    )
    return Dataset(name, splits["train"], splits["test"], info)


def _load_digits(name: str, data_dir: str) -> Dataset:
    return _load_labeled_images(name, data_dir, num_levels=17)


def _load_mnist5k(name: str, data_dir: str) -> Dataset:
    return _load_labeled_images(name, data_dir, num_levels=256)


def _load_shakespeare_char(name: str, data_dir: str) -> Dataset:
    from likelihood_jax.data import builders

    builder = builders.prepare(builders.LikelihoodJaxShakespeareChar, data_dir)
    raw = {}
    for split in ("train", "test"):
        examples = sorted(builders.read_split(builder, split), key=lambda ex: int(ex["play"]))
        raw[split] = np.concatenate([np.asarray(ex["text"], np.uint8) for ex in examples])
    codes = np.unique(np.concatenate([raw["train"], raw["test"]]))
    lookup = np.full(256, -1, np.int32)
    lookup[codes] = np.arange(codes.size, dtype=np.int32)
    vocab = tuple(chr(c) for c in codes)
    info = DatasetInfo(
        kind="text",
        event_shape=(),
        vocab=vocab,
        description=(
            "Character-level Shakespeare: " + builder.info.description + " x is the int32 token "
            "stream of each split (plays concatenated in file-name order); token id i is the "
            "character info.vocab[i] (the sorted characters of both splits)."
        ),
    )
    return Dataset(name, {"x": lookup[raw["train"]]}, {"x": lookup[raw["test"]]}, info)


_NAMES_SUBSETS = {"all": (0, 1, 2), "first": (0, 1), "last": (2,)}


def _load_names(name: str, data_dir: str, subset: str = "all") -> Dataset:
    from likelihood_jax.data import builders

    if subset not in _NAMES_SUBSETS:
        raise ValueError(
            f"names: unknown subset {subset!r}; use one of {', '.join(_NAMES_SUBSETS)}."
        )
    if subset != "all":  # A view of the cached full dataset: no second read.
        full = _load_cached(name, data_dir, ())
        splits = {}
        for split, arrays in (("train", full.train), ("test", full.test)):
            keep = np.isin(arrays["label"], _NAMES_SUBSETS[subset])
            splits[split] = {k: v[keep] for k, v in arrays.items()}
        description = full.info.description.replace("subset='all'", f"subset={subset!r}")
        info = dataclasses.replace(full.info, description=description)
        return Dataset(name, splits["train"], splits["test"], info)
    builder = builders.prepare(builders.LikelihoodJaxNames, data_dir)
    examples = {split: builders.read_split(builder, split) for split in ("train", "test")}
    letters = {
        split: [np.asarray(ex["name"], np.uint8) for ex in exs] for split, exs in examples.items()
    }
    every = np.concatenate(letters["train"] + letters["test"])
    codes = np.unique(every)
    max_len = max(len(w) for split in letters.values() for w in split) + 1
    lookup = np.full(256, -1, np.int32)
    lookup[codes] = np.arange(codes.size, dtype=np.int32) + 2
    vocab = ("<pad>", "<end>") + tuple(chr(c) for c in codes)
    splits = {}
    for split, words in letters.items():
        lengths = np.array([w.size for w in words], np.int32)
        n = lengths.size
        x = np.full((n, max_len), NAMES_PAD, np.int32)
        rows = np.repeat(np.arange(n), lengths)
        starts = np.cumsum(lengths) - lengths
        cols = np.arange(rows.size) - np.repeat(starts, lengths)
        x[rows, cols] = lookup[np.concatenate(words)]
        x[np.arange(n), lengths] = NAMES_END
        splits[split] = {
            "x": x,
            "length": lengths,
            "label": _stack(examples[split], "label", np.int32),
            "freq": _stack(examples[split], "freq", np.float32),
            "index": _stack(examples[split], "index", np.int32),
        }
    info = DatasetInfo(
        kind="text",
        event_shape=(max_len,),
        num_classes=len(builders.NAME_LISTS),
        vocab=vocab,
        description=(
            builder.info.description + f" subset={subset!r}. x[i, :length[i]] are the letters "
            f"(ids 2.., see info.vocab), x[i, length[i]] = {NAMES_END} (<end>), the rest is "
            f"{NAMES_PAD} (<pad>); label 0 = female first name, 1 = male first name, 2 = last "
            "name; freq = percent of the census population."
        ),
    )
    return Dataset(name, splits["train"], splits["test"], info)


def _tfds_splits(builder) -> list[str]:
    # Under ``tfds.testing.mock_data`` the split infos are not known in advance.
    return list(builder.info.splits) or ["train", "test"]


def _load_tfds_catalog(
    name: str, data_dir: str, train_split: str = "train", test_split: str | None = None
) -> Dataset:
    import tensorflow_datasets as tfds

    from likelihood_jax.data import builders

    try:
        builder = tfds.builder(name, data_dir=data_dir, file_format="array_record")
        builder.download_and_prepare()
    except ModuleNotFoundError as exc:
        if exc.name not in ("tensorflow", "importlib_resources"):
            raise
        raise ModuleNotFoundError(
            f"Preparing the tfds catalog dataset {name!r} needs the module {exc.name!r} "
            f"(pip install {exc.name.replace('_', '-')}); the offline datasets "
            f"({', '.join(DATASETS)}) do not.",
            name=exc.name,
        ) from exc
    available = _tfds_splits(builder)
    if test_split is None:
        test_split = next((s for s in ("test", "validation") if s in available), None)
    for split in (train_split, test_split):
        if split is None or split not in available:
            raise ValueError(
                f"{name}: split {split!r} not found; the splits are {available}. "
                "Pass train_split=... and test_split=..."
            )
    features = builder.info.features
    if "image" not in features:
        raise ValueError(
            f"{name}: only tfds datasets with an 'image' feature are supported by "
            f"load_dataset (features: {list(features)})."
        )
    keep = {}
    for key, feature in features.items():
        np_dtype = getattr(feature, "np_dtype", None)
        shape = getattr(feature, "shape", None)
        if np_dtype is None or shape is None or None in shape:
            continue
        if not (np.issubdtype(np_dtype, np.number) or np_dtype == np.bool_):
            continue
        keep[key] = {"image": "x"}.get(key, key)
    if None in features["image"].shape:
        raise ValueError(
            f"{name}: images of varying shape {features['image'].shape} are not supported."
        )
    splits = {}
    for out, split in (("train", train_split), ("test", test_split)):
        examples = builders.read_split(builder, split)
        splits[out] = {
            new: _stack(examples, key, features[key].np_dtype) for key, new in keep.items()
        }
        if "label" in splits[out]:
            splits[out]["label"] = splits[out]["label"].astype(np.int32)
    label = features["label"] if "label" in features else None
    x_dtype = np.dtype(features["image"].np_dtype)
    info = DatasetInfo(
        kind="image",
        event_shape=tuple(features["image"].shape),
        num_levels=256 if x_dtype == np.uint8 else None,
        num_classes=getattr(label, "num_classes", None),
        description=f"tfds catalog dataset {name} ({train_split}/{test_split}). "
        + (builder.info.description or "").strip(),
    )
    return Dataset(name, splits["train"], splits["test"], info)


_Loader = Callable[..., Dataset]
# name -> loader, or "module:function" imported on first use (keeps heavy or circular
# imports out of this module: speech imports the loader, not the other way round).
_OFFLINE: dict[str, _Loader | str] = {
    **{toy: _load_toy for toy in toys.TOY_NAMES},
    "digits": _load_digits,
    "mnist5k": _load_mnist5k,
    "shakespeare_char": _load_shakespeare_char,
    "shakespeare_bpe": "likelihood_jax.data.tokenizer:load_shakespeare_bpe",
    "names": _load_names,
    "speech": "likelihood_jax.data.speech:load_speech",
    "community_small": "likelihood_jax.data.synthetic.graphs:load_community_small",
    "grid": "likelihood_jax.data.synthetic.graphs:load_grid",
    "sbm": "likelihood_jax.data.synthetic.graphs:load_sbm",
    "ising": "likelihood_jax.data.synthetic.ising:load_sampler_rows",
    "gmm_circle": "likelihood_jax.data.synthetic.class_mixture:load_gmm_circle",
    "route_trajectories": "likelihood_jax.data.synthetic.trajectories:load_route_trajectories",
    "federated_gmm": "likelihood_jax.data.synthetic.federated_mixture:load_federated_gmm",
    "gaussian_classes": "likelihood_jax.data.synthetic.gaussian_classes:load_gaussian_classes",
    "digits_annotators": "likelihood_jax.data.synthetic.annotators:load_digits_annotators",
    "rectangles": "likelihood_jax.data.synthetic.rectangles:load_rectangles",
    "bars_and_stripes": "likelihood_jax.data.synthetic.binary_images:load_bars_and_stripes",
    "binarized_digits": "likelihood_jax.data.synthetic.binary_images:load_binarized_digits",
    "heterogeneous_gmm": "likelihood_jax.data.synthetic.heterogeneous_gmm:load_heterogeneous_gmm",
    "ring_clusters": "likelihood_jax.data.synthetic.ring_clusters:load_ring_clusters",
    "gaussian_linear": "likelihood_jax.data.synthetic.simulators:load_gaussian_linear",
    "digits_weak_signals": "likelihood_jax.data.synthetic.weak_signals:load_digits_weak_signals",
    "digits_label_proportions":
        "likelihood_jax.data.synthetic.label_proportions:load_digits_label_proportions",
    "conditional_ar1": "likelihood_jax.data.synthetic.conditional_audio:load_conditional_ar1",
    "speech_mel": "likelihood_jax.data.synthetic.conditional_audio:load_speech_mel",
    "grid_gaussian_mixture": "likelihood_jax.data.synthetic.targets:load_grid_gaussian_mixture",
    "markov": "likelihood_jax.data.synthetic.sources:load_markov",
    "hmm": "likelihood_jax.data.synthetic.sources:load_hmm",
    "markov_mixture": "likelihood_jax.data.synthetic.sources:load_markov_mixture",
    "attribute_captions": "likelihood_jax.data.synthetic.captions:load_captions",
    "shortcut_digits": "likelihood_jax.data.synthetic.shortcut_digits:load_shortcut_digits",
    "finite_domain": "likelihood_jax.data.synthetic.finite_domain:load_finite_domain",
    "instructions": "likelihood_jax.data.synthetic.instructions:load_instructions",
    "hmm_tagging": "likelihood_jax.data.synthetic.tagging:load_hmm_tagging",
    "word_tags": "likelihood_jax.data.synthetic.tagging:load_word_tags",
    "one_span": "likelihood_jax.data.synthetic.tagging:load_one_span",
    "text_tables": "likelihood_jax.data.synthetic.text_tables:load_text_tables",
    "wine": "likelihood_jax.data.tabular:load_tabular",
    "breast_cancer": "likelihood_jax.data.tabular:load_tabular",
    "diabetes": "likelihood_jax.data.tabular:load_tabular",
    "digits_pca": "likelihood_jax.data.tabular:load_digits_pca",
    "correlated_gaussian": "likelihood_jax.data.tabular:load_correlated_gaussian",
    "ppca": "likelihood_jax.data.synthetic.manifolds:load_ppca",
    "circle_manifold": "likelihood_jax.data.synthetic.manifolds:load_manifold",
    "sphere_manifold": "likelihood_jax.data.synthetic.manifolds:load_manifold",
    "swissroll_surface": "likelihood_jax.data.synthetic.manifolds:load_manifold",
}

#: Names of the datasets this project can always build (no TensorFlow needed).
DATASETS: tuple[str, ...] = tuple(_OFFLINE)


def _resolve_loader(name: str) -> _Loader:
    entry = _OFFLINE.get(name, _load_tfds_catalog)
    if isinstance(entry, str):
        module, _, function = entry.partition(":")
        entry = getattr(importlib.import_module(module), function)
        _OFFLINE[name] = entry
    return entry


def _accepted_options(name: str) -> tuple[str, ...]:
    """The keyword options of a registered loader (its parameters after name, data_dir)."""
    parameters = list(inspect.signature(_resolve_loader(name)).parameters.values())[2:]
    return tuple(p.name for p in parameters
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def register_dataset(name: str, loader: _Loader | str, *, overwrite: bool = False) -> None:
    """Makes ``load_dataset(name, **options)`` call ``loader(name, data_dir, **options)``.

    ``loader`` returns a :class:`Dataset`; its keyword parameters after ``name`` and
    ``data_dir`` are the dataset's options (their values must be hashable: numbers,
    strings, tuples), and options left at their defaults share one cache entry. It may
    be given as ``"package.module:function"``, imported when the dataset is first
    loaded. Synthetic datasets (sources, simulators) that draw their examples from a
    seed ignore ``data_dir`` and write nothing.

    Raises:
      ValueError: ``name`` is registered already (unless ``overwrite``).
    """
    if name in _OFFLINE and not overwrite:
        raise ValueError(f"dataset {name!r} is registered already")
    _OFFLINE[name] = loader
    _load_cached.cache_clear()


def list_datasets() -> tuple[str, ...]:
    """The names of every registered dataset (the offline ones first)."""
    return tuple(_OFFLINE)


def _is_tfds_catalog_name(name: str) -> bool:
    import tensorflow_datasets as tfds

    base = name.split(":", 1)[0].split("/", 1)[0]
    return base in tfds.list_builders(with_community_datasets=False)


def _read_only(arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for key, value in arrays.items():
        value = np.ascontiguousarray(value)
        value.flags.writeable = False
        out[key] = value
    return out


@functools.lru_cache(maxsize=None)
def _load_cached(name: str, data_dir: str, options: tuple[tuple[str, Any], ...]) -> Dataset:
    loader = _resolve_loader(name)
    with _quiet_tfds():
        ds = loader(name, data_dir, **dict(options))
    return dataclasses.replace(ds, train=_read_only(ds.train), test=_read_only(ds.test))


def clear_cache() -> None:
    """Forgets the datasets loaded in this process (the built files stay on disk)."""
    _load_cached.cache_clear()


def load_dataset(name: str, *, data_dir: str | os.PathLike | None = None, **options) -> Dataset:
    """Loads a dataset into memory, building it first if needed.

    The offline datasets (:data:`DATASETS`) are built once into ``data_dir``
    with their tensorflow-datasets builder (array_record files, no TensorFlow)
    and reused afterwards; any other name is looked up in the tfds catalog
    (``mnist``, ``cifar10``, ...; building those needs TensorFlow and the
    network). Within a process the result is cached per
    ``(name, data_dir, options)`` and its arrays are read-only.

    Args:
      name: An offline dataset name or a tfds catalog name.
      data_dir: Where datasets are built; defaults to
        ``$LIKELIHOOD_JAX_DATA_DIR``, then ``$TFDS_DATA_DIR``, then
        ``~/tensorflow_datasets``.
      **options: Dataset options. Toys: ``num_train`` (20000), ``num_test``
        (5000); they are part of the builder config, so each choice is built
        and stored once. ``names``: ``subset`` (``"all"``, ``"first"`` or
        ``"last"``). ``shakespeare_bpe``: ``vocab_size`` (512; each size is
        built and stored once). tfds catalog: ``train_split`` (``"train"``),
        ``test_split`` (``"test"``, else ``"validation"``).

    Returns:
      The :class:`Dataset`.

    Raises:
      ValueError: If ``name`` is neither an offline nor a tfds catalog name,
        or an option has a bad value.
      TypeError: If an option is not accepted by the dataset.
      likelihood_jax.data.artifacts.ArtifactError: If a pinned source file
        cannot be fetched (the message says how to provide it by hand).
    """
    if name in _OFFLINE:
        allowed = _accepted_options(name)
    elif _is_tfds_catalog_name(name):
        allowed = ("train_split", "test_split")
    else:
        raise ValueError(
            f"Unknown dataset {name!r}: not an offline dataset and not a tensorflow-datasets "
            f"catalog name. Registered datasets: {', '.join(_OFFLINE)}."
        )
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise TypeError(
            f"Dataset {name!r} does not accept option(s) {unknown}; "
            f"accepted: {list(allowed) or 'none'}."
        )
    # Options left at their defaults do not make a separate cache entry.
    parameters = inspect.signature(_resolve_loader(name)).parameters
    options = {k: v for k, v in options.items() if v != parameters[k].default}
    resolved = resolve_data_dir(data_dir)
    return _load_cached(name, resolved, tuple(sorted(options.items())))
