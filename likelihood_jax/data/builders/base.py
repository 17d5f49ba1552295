"""What every offline tfds builder shares: the quiet base class, the seeded split, build and read.

The builders write ``train`` and ``test`` splits as array_record files under
``<data_dir>/<builder name>/<config>/<version>/`` and are read back with
``builder.as_data_source()``. Examples are written in generation order
(``disable_shuffling=True``), so record ``i`` of a split is its ``i``-th example.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import pathlib
from typing import Any, Iterator

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

__all__ = ["SPLIT_SEED", "QuietBuilder", "build_lock", "prepare", "read_split", "split_indices"]

_LOG = logging.getLogger("likelihood_jax.data")

#: Seed of the train/test permutation of digits, mnist5k and names.
SPLIT_SEED = 0


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


class QuietBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Base builder: logs through ``logging`` instead of printing to stdout."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls) -> epath.Path:
        """The file of the builder's module.

        tfds 4.9.10 computes it through ``importlib_resources``, which recent
        ``etils`` no longer installs; the answer is simply that file.
        """
        return epath.Path(inspect.getfile(cls))

    def _log_download_bytes(self) -> None:
        _LOG.info("Building %s into %s", self.name, self.data_dir)

    def _log_download_done(self) -> None:
        _LOG.info("Built %s in %s", self.name, self.data_dir)

    @staticmethod
    def _artifact_dir(dl_manager) -> pathlib.Path:
        return pathlib.Path(dl_manager.download_dir) / "manual"


@contextlib.contextmanager
def build_lock(data_dir: str, name: str) -> Iterator[None]:
    """Serializes the building of one dataset across processes sharing ``data_dir``.

    Parallel test workers or several training jobs on one host may ask for a dataset that
    is not built yet at the same moment; tfds' ``download_and_prepare`` is not safe against
    that. The lock is an exclusive ``flock`` on ``<data_dir>/.<name>.lock`` (POSIX; elsewhere
    no lock is taken).

    Args:
      data_dir: Where datasets are built (created if missing).
      name: The builder's tfds name.

    Yields:
      Nothing; the lock is held inside the ``with`` block.
    """
    os.makedirs(data_dir, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # pragma: no cover (Windows)
        yield
        return
    with open(os.path.join(data_dir, f".{name}.lock"), "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prepare(builder_cls: type[tfds.core.DatasetBuilder], data_dir: str, config=None):
    """The builder of ``builder_cls`` in ``data_dir``, built first if it is not on disk yet.

    Args:
      builder_cls: A tfds builder class.
      data_dir: Where datasets are built.
      config: A builder config or its name; ``None`` for the default.

    Returns:
      The prepared builder (array_record files).
    """
    kwargs = {} if config is None else {"config": config}
    with build_lock(data_dir, builder_cls.name):  # the builder reads what exists on creation
        builder = builder_cls(data_dir=data_dir, file_format="array_record", **kwargs)
        builder.download_and_prepare()
    return builder


def read_split(builder, split: str) -> list[dict[str, Any]]:
    """Every record of ``split`` of a prepared builder, in record order.

    Args:
      builder: A prepared tfds builder.
      split: Split name.

    Returns:
      One dict of numpy values per record.
    """
    source = builder.as_data_source(split=split)
    n = len(source)
    return list(source.__getitems__(list(range(n)))) if n else []
